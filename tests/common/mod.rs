//! What the test binaries and benchmarks that drive the real `cpbuild` share: the repository
//! root, copying a tree into a temporary project, and running the binary (timed, for the
//! benchmarks). Each includes this file with `#[path = "../common/mod.rs"] mod common;`
//! (`"../tests/common/mod.rs"` from `benches/`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies the tree `from` into `to` (created); nothing when `from` does not exist.
pub fn copy_tree(from: &Path, to: &Path) {
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

/// Runs `cpbuild ARGS` in `root` (without `$CPBUILD_STORE`, stdin closed); returns the exit
/// code, stdout and stderr.
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

/// Runs `cpbuild ARGS` in `root`, which must succeed, and returns its wall-clock seconds (the
/// benchmarks print them; nothing asserts a time).
pub fn timed(root: &Path, args: &[&str]) -> f64 {
    let started = std::time::Instant::now();
    let (code, _, stderr) = cpbuild(root, args);
    assert_eq!(code, 0, "cpbuild {args:?} failed: {stderr}");
    started.elapsed().as_secs_f64()
}
