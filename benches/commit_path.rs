//! Benchmark: the cost of cpbuild's commit path (hashing, bundling, fsync, atomic renames,
//! checking inputs again after each command), side by side with running the same commands
//! bare.
//!
//! Run with `cargo bench --bench commit_path` (optionally `CPBUILD_BENCH_ROUNDS=5`, default 3).
//! It generates 1,000 trivial `cp` targets in one project per round, all made before anything
//! is timed, then times each round's cold build with `-j 2` and the same 1,000 commands run by
//! `xargs -P 2 sh -c`, alternating which goes first (odd rounds the bare commands, even rounds
//! cpbuild) and deleting nothing until the end, so that both meet the same conditions. It
//! prints every round and the median of the rounds' ratios, then a no-op build (everything
//! fresh) and a build after one input changed. Times are printed, never asserted.

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

/// A project of 1,000 `cp` targets with their inputs, and an empty `bare/` for `xargs`.
fn project(root: &Path) {
    for sub in ["recipes", "inputs", "out", "bare"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(root.join("recipes/copy.toml"), RECIPE).unwrap();
    for i in 1..=TARGETS {
        std::fs::write(root.join(format!("inputs/{i}.txt")), format!("line {i}\n")).unwrap();
    }
}

fn main() {
    let rounds: usize = match std::env::var("CPBUILD_BENCH_ROUNDS") {
        Err(_) => 3,
        Ok(text) => match text.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!(
                    "error: CPBUILD_BENCH_ROUNDS is `{text}`: give a whole number of rounds, at least 1 (default 3)"
                );
                std::process::exit(2);
            }
        },
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let roots: Vec<_> = (1..=rounds)
        .map(|round| dir.path().join(format!("round-{round}")))
        .collect();
    for root in &roots {
        project(root);
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "machine: {} ({cores} cores); {TARGETS} `cp` targets, {rounds} rounds",
        cpbuild::engine::store::Machine::current().cpu
    );
    println!(
        "| round | first | `xargs -P 2 sh -c 'cp …'` (bare), s | `cpbuild -j 2` cold, s | ratio |"
    );
    println!("|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for (index, root) in roots.iter().enumerate() {
        let bare_first = index % 2 == 0;
        let (bare, cold) = if bare_first {
            let bare = xargs(root);
            (bare, common::timed(root, &["-j", "2", "copy"]))
        } else {
            let cold = common::timed(root, &["-j", "2", "copy"]);
            (xargs(root), cold)
        };
        ratios.push(cold / bare);
        println!(
            "| {} | {} | {bare:.2} | {cold:.2} | {:.2}× |",
            index + 1,
            if bare_first { "bare" } else { "cpbuild" },
            cold / bare
        );
    }
    println!(
        "median of the rounds' ratios: {:.2}×",
        common::median(&ratios)
    );
    let root = roots.last().expect("at least one round");
    let fresh = common::timed_median(root, &["-j", "2", "copy"], 5);
    std::fs::write(root.join("inputs/500.txt"), "changed\n").unwrap();
    let one = common::timed(root, &["-j", "2", "copy"]);
    println!("no-op (everything fresh; median of 5): {fresh:.3} s");
    println!("one input changed: {one:.3} s");
}
