//! What the test binaries and benchmarks that drive the real `cpbuild` share: the repository
//! root, copying a tree into a temporary project, running the binary (timed, for the
//! benchmarks), asserting on what it printed, and the recipe text they write ([`recipe`]).
//! Each includes this file with `#[path = "../common/mod.rs"] mod common;`
//! (`"../tests/common/mod.rs"` from `benches/`).

#![allow(dead_code)]

pub mod recipe;

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

/// The files a `train-hba` target reads, relative to the repository root.
pub const TRAIN_HBA_DATA: [&str; 5] = [
    "data/things/spose_embedding66d_rescaled_1806train.csv",
    "data/things/spose_embedding66d_rescaled_48val_reordered.csv",
    "data/things/RDM48_triplet.mat",
    "data/things/spose_dimensions66.txt",
    "data/clip/bpe_simple_vocab_16e6.txt.gz",
];

/// Copies the repository's `files` into `root` under the same relative paths.
pub fn copy_repo_files(root: &Path, files: &[&str]) {
    for file in files {
        let target = root.join(file);
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("data dir");
        std::fs::copy(repo().join(file), &target).expect("copy a data file");
    }
}

/// A temporary project holding copies of [`TRAIN_HBA_DATA`] and `recipe` (where `INPUTS` stands
/// for the list of those files) as its only recipe file.
pub fn training_project(recipe: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    copy_repo_files(dir.path(), &TRAIN_HBA_DATA);
    let recipe = recipe.replace("INPUTS", &format!("{TRAIN_HBA_DATA:?}"));
    std::fs::create_dir_all(dir.path().join("recipes")).expect("recipes dir");
    std::fs::write(dir.path().join("recipes/main.toml"), recipe).expect("recipe");
    dir
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

/// Asserts that `text` (what a command printed) contains `needle`, showing the whole text when
/// it does not.
#[track_caller]
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

/// Asserts that `text` does not contain `needle`, showing the whole text when it does.
#[track_caller]
pub fn assert_lacks(text: &str, needle: &str) {
    assert!(
        !text.contains(needle),
        "did not expect {needle:?} in:\n{text}"
    );
}

/// Runs `cpbuild ARGS` in `root`, which must succeed, and returns its wall-clock seconds (the
/// benchmarks print them; nothing asserts a time).
pub fn timed(root: &Path, args: &[&str]) -> f64 {
    let started = std::time::Instant::now();
    let (code, _, stderr) = cpbuild(root, args);
    assert_eq!(code, 0, "cpbuild {args:?} failed: {stderr}");
    started.elapsed().as_secs_f64()
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

/// The median wall-clock seconds of `runs` runs of `cpbuild args` in `root` (each must
/// succeed).
pub fn timed_median(root: &Path, args: &[&str], runs: usize) -> f64 {
    let times: Vec<f64> = (0..runs).map(|_| timed(root, args)).collect();
    median(&times)
}
