//! Benchmark: archiving and verifying a multi-GB store stream in flat memory.
//!
//! Run with `cargo bench --bench archive` (optionally `CPBUILD_BENCH_GB=4`). It builds a store
//! of shell targets that each write 256 MiB of pseudo-random bytes, then times `cpbuild
//! archive` and `cpbuild verify-archive` and reads each process's peak RSS (from `wait4`),
//! printing MB/s and the RSS side by side. Nothing is asserted.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Runs cpbuild and returns (seconds, peak RSS in MiB) of that process alone.
// The child is reaped with `wait4` (for its own rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn measure(root: &Path, args: &[&str]) -> (f64, f64) {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_cpbuild"))
        .args(args)
        .current_dir(root)
        .spawn()
        .expect("cpbuild runs");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for `wait4` to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; `usage` outlives the call.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "cpbuild {args:?} failed"
    );
    (
        started.elapsed().as_secs_f64(),
        usage.ru_maxrss as f64 / 1024.0,
    )
}

fn main() {
    let gigabytes: usize = std::env::var("CPBUILD_BENCH_GB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let targets = gigabytes * 4;
    let dir =
        tempfile::tempdir_in(std::env::var("CPBUILD_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .expect("temporary directory");
    std::fs::create_dir_all(dir.path().join("recipes")).unwrap();
    std::fs::write(
        dir.path().join("recipes/big.toml"),
        format!(
            r#"project = "bench"
[target.blob]
name = "blob_{{i}}"
foreach = {{ i = {{ from = 1, to = {targets} }} }}
kind = "shell"
command = "head -c 268435456 /dev/urandom > $CPBUILD_OUT/blob.bin"

[target.all]
kind = "shell"
deps = ["blob"]
command = "true"
"#
        ),
    )
    .unwrap();
    let total_mb = (targets * 256) as f64 * 1.048576;
    println!("store: {targets} bundles × 256 MiB = {gigabytes} GiB of incompressible data");
    let (build, build_rss) = measure(dir.path(), &["all", "-j2"]);
    let (archive, archive_rss) = measure(
        dir.path(),
        &["archive", "all", "--version", "1.0.0", "-o", "big.tar.zst"],
    );
    let (verify, verify_rss) = measure(dir.path(), &["verify-archive", "big.tar.zst"]);
    println!(
        "{:<16} {:>9} {:>10} {:>14}",
        "step", "seconds", "MB/s", "peak RSS MiB"
    );
    println!(
        "{:<16} {build:>9.1} {:>10.0} {build_rss:>14.1}",
        "build",
        total_mb / build
    );
    println!(
        "{:<16} {archive:>9.1} {:>10.0} {archive_rss:>14.1}",
        "archive",
        total_mb / archive
    );
    println!(
        "{:<16} {verify:>9.1} {:>10.0} {verify_rss:>14.1}",
        "verify-archive",
        total_mb / verify
    );
    println!(
        "peak RSS of verify-archive is {:.4} of the archive's size",
        verify_rss / (total_mb / 1.048576)
    );
}
