//! A temporary project holding copies of the repository's `recipes/`, `data/` and `golden/`,
//! and the real `cpbuild` binary to run in it.

use std::path::Path;

use crate::common::copy_tree;
pub use crate::common::{cpbuild, repo};

/// A temporary project with the repository's recipes, data and golden copies.
pub fn paper_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for folder in ["recipes", "data", "golden"] {
        copy_tree(&repo().join(folder), &dir.path().join(folder));
    }
    dir
}

/// A file's text, or a panic naming it.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The sha256 of `bytes`, in hex (via the engine's hasher).
pub fn sha256(bytes: &[u8]) -> String {
    cpbuild::engine::util::hash::bytes(bytes)
}
