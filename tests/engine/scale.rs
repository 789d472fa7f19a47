//! Large grids stay cheap to plan and to check.

use std::time::Instant;

use crate::common::recipe::ten_thousand_targets;
use crate::support::{Project, assert_contains};

#[test]
fn ten_thousand_targets_dry_run_and_fresh_check() {
    let project = Project::new();
    project.recipe(&ten_thousand_targets());
    let started = Instant::now();
    let dry = project.run(&["-n", "grid"]).success();
    let dry_seconds = started.elapsed().as_secs_f64();
    assert_contains(&dry.stderr, "10000 of 10000 targets to build");
    assert_eq!(dry.stderr.matches("would run cell_").count(), 10_000);
    project.run(&["grid"]).success();
    let started = Instant::now();
    let fresh = project.run(&["grid"]).success();
    let fresh_seconds = started.elapsed().as_secs_f64();
    assert_contains(&fresh.stderr, "nothing to do, 10000 targets fresh");
    // Times are printed, not asserted: machines are shared and noisy (see `benches/`).
    eprintln!("10,000 targets: dry run {dry_seconds:.2}s, fresh check {fresh_seconds:.2}s");
}
