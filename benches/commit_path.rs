//! Benchmark: the cost of cpbuild's commit path (hashing, bundling, fsync, atomic renames,
//! checking inputs again after each command), side by side with running the same commands
//! bare.
//!
//! Run with `cargo bench --bench commit_path`. It generates 1,000 trivial `cp` targets, then
//! times in one run: a cold build with `-j 2`, the same 1,000 commands run by
//! `xargs -P 2 sh -c`, a no-op build (everything fresh) and a build after one input changed.
//! Times are printed, never asserted.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[path = "../tests/common/mod.rs"]
mod common;

const TARGETS: usize = 1000;

const RECIPE: &str = r#"
[target.copy]
name = "copy_{i}"
foreach = { i = { from = 1, to = 1000 } }
kind = "shell"
inputs = ["inputs/{i}.txt"]
command = "cp inputs/{i}.txt out/{i}.txt"
outputs = ["out/{i}.txt"]
"#;

fn xargs(root: &Path) -> f64 {
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "seq 1 {TARGETS} | xargs -P 2 -I N sh -c 'cp inputs/N.txt bare/N.txt'"
        ))
        .current_dir(root)
        .status()
        .expect("sh runs");
    assert!(status.success(), "xargs failed");
    started.elapsed().as_secs_f64()
}

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();
    for sub in ["recipes", "inputs", "out", "bare"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(root.join("recipes/copy.toml"), RECIPE).unwrap();
    for i in 1..=TARGETS {
        std::fs::write(root.join(format!("inputs/{i}.txt")), format!("line {i}\n")).unwrap();
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("{TARGETS} `cp` targets, {cores} cores");
    let bare = xargs(root);
    let cold = common::timed(root, &["-j", "2", "copy"]);
    let mut fresh = Vec::new();
    for _ in 0..5 {
        fresh.push(common::timed(root, &["-j", "2", "copy"]));
    }
    fresh.sort_by(f64::total_cmp);
    std::fs::write(root.join("inputs/500.txt"), "changed\n").unwrap();
    let one = common::timed(root, &["-j", "2", "copy"]);
    println!("| step | seconds |");
    println!("|---|---|");
    println!("| `xargs -P 2 sh -c 'cp …'` (bare commands) | {bare:.2} |");
    println!(
        "| `cpbuild -j 2` cold build | {cold:.2} ({:.2}× the bare commands) |",
        cold / bare
    );
    println!(
        "| no-op (everything fresh; median of 5) | {:.3} |",
        fresh[2]
    );
    println!("| one input changed | {one:.3} |");
}
