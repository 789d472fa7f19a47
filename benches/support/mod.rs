//! What the engine benchmarks share: running the `cpbuild` binary and timing it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Seconds `cpbuild ARGS` takes in `root` (the project's own store, no input); panics with its
/// error output if it fails, since a failed run has no meaningful time.
pub fn timed_cpbuild(root: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_cpbuild"))
        .args(args)
        .current_dir(root)
        .env_remove("CPBUILD_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("cpbuild runs");
    assert!(
        output.status.success(),
        "cpbuild {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed().as_secs_f64()
}
