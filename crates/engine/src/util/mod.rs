//! Small helpers shared by the engine: hashing, canonical JSON, files, processes.

pub mod canonical;
pub mod fs;
pub mod hash;
pub mod process;
pub mod tarball;
pub mod walk;

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
