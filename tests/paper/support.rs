//! A temporary project holding copies of the repository's `recipes/`, `data/` and `golden/`,
//! and the real `cpbuild` binary to run in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory");
    let Ok(listing) = std::fs::read_dir(from) else {
        return;
    };
    for entry in listing {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// A temporary project with the repository's recipes, data and golden copies.
pub fn paper_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for folder in ["recipes", "data", "golden"] {
        copy_tree(&repo().join(folder), &dir.path().join(folder));
    }
    dir
}

/// Runs `cpbuild ARGS` in `root`; returns the exit code, stdout and stderr.
pub fn cpbuild(root: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_cpbuild"))
        .args(args)
        .current_dir(root)
        .env_remove("CPBUILD_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("cpbuild runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A file's text, or a panic naming it.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The sha256 of `bytes`, in hex (via the engine's hasher).
pub fn sha256(bytes: &[u8]) -> String {
    cpbuild::engine::util::hash::bytes(bytes)
}
