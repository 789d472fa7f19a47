//! What the engine benchmarks share: running the `cpbuild` binary (as the integration tests
//! run it) and timing it.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Instant;

/// Seconds `cpbuild ARGS` takes in `root`; panics with its error output if it fails, since a
/// failed run has no meaningful time.
pub fn timed_cpbuild(root: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    let (code, _, stderr) = common::cpbuild(root, args);
    assert!(code == 0, "cpbuild {args:?} failed: {stderr}");
    started.elapsed().as_secs_f64()
}
