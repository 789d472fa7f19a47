//! Benchmark: how long cpbuild takes to plan and to check a 10,000-target graph.
//!
//! Run with `cargo bench --bench fresh_check`. It generates a 100 × 100 grid of shell targets
//! in a temporary project, then times, side by side in one run: a dry run on an empty store,
//! the cold build, and a fully fresh build (nothing to do). Times are printed, never asserted.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir_all(dir.path().join("recipes")).unwrap();
    std::fs::write(
        dir.path().join("recipes/grid.toml"),
        common::recipe::ten_thousand_targets(),
    )
    .unwrap();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "machine: {} ({cores} cores)",
        cpbuild::engine::store::Machine::current().cpu
    );
    let dry = common::timed(dir.path(), &["-n", "grid"]);
    let cold = common::timed(dir.path(), &["grid"]);
    let fresh_median = common::timed_median(dir.path(), &["grid"], 5);
    println!("10,000 targets:");
    println!("  dry run (plan, empty store) {dry:>8.3} s");
    println!("  cold build (10,000 actions) {cold:>8.3} s");
    println!(
        "  fresh check (median of 5)   {fresh_median:>8.3} s   ({:.1} µs per target)",
        fresh_median * 1e6 / 10_000.0
    );
    println!(
        "  ratios: fresh / dry run = {:.2}, fresh / cold build = {:.4}",
        fresh_median / dry,
        fresh_median / cold
    );
}
