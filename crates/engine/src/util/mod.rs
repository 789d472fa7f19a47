//! Small helpers shared by the engine: hashing, canonical JSON, files, processes.

use std::path::{Component, Path};

pub mod canonical;
pub mod fs;
pub mod hash;
pub(crate) mod process;
pub(crate) mod tarball;
pub(crate) mod walk;

/// `text` with control characters (newlines, tabs, escapes) written as Rust escapes (`\n`),
/// so a file name cannot break the line format of human output.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Checks that `path` is a plain relative path inside the project.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("an empty path".into());
    }
    let p = Path::new(path);
    if p.is_absolute() {
        return Err(format!(
            "`{path}` is absolute; paths are relative to the project root so that keys never depend on where the project lives"
        ));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("`{path}` leaves the project (`..`)"));
    }
    Ok(())
}
