//! `--backend`: the training kinds run on whichever backend the command line resolved, the
//! backend is part of every training key, and a backend this build or machine lacks is refused
//! with what to do.
//!
//! With the `wgpu` feature (CI runs it on Mesa's lavapipe) a tiny `train-hba` run trains on
//! wgpu through the binary, matches NdArray within 1e-4 relative, and the test reports (and
//! asserts, as measured on lavapipe) whether wgpu is bitwise repeatable between fresh stores
//! and whether a run extended from a saved epoch equals the one-go run bitwise.

use super::common::recipe::{profiles, tiny_hba};
use super::{cpbuild, project_with, read};

/// A tiny baseline, trained to `${stop}`: 1 epoch in profile `short`, 3 in `ci` (the default).
fn recipe() -> String {
    let profiles = profiles(&[("ci", &["stop = 3"]), ("short", &["stop = 1"])]);
    let baseline = tiny_hba(
        "baseline",
        &[],
        r#"seed = 1, max_epochs = 3, train_size = 16, test_size = 8, batch_size = 8, stop_after_epoch = "${stop}""#,
    );
    format!("\n{profiles}\n{baseline}")
}

fn project() -> tempfile::TempDir {
    project_with(&recipe())
}

/// The `results.csv` of `target` in `store`.
#[cfg(feature = "wgpu")]
fn results(root: &std::path::Path, store: &str, backend: &str, target: &str) -> String {
    let shown = super::show(root, store, backend, target);
    let unpacked = std::path::Path::new(shown["unpacked"].as_str().expect("an unpacked path"));
    std::fs::read_to_string(unpacked.join("files/results.csv")).expect("results.csv")
}

/// The numeric columns of a results CSV, row by row.
#[cfg(feature = "wgpu")]
fn numbers(csv: &str) -> Vec<Vec<f64>> {
    csv.lines()
        .skip(1)
        .map(|line| {
            line.split(',')
                .map(|cell| cell.parse().expect("a number"))
                .collect()
        })
        .collect()
}

#[test]
fn the_backend_is_part_of_the_key_and_an_unknown_one_is_refused() {
    let dir = project();
    let root = dir.path();
    let (code, _, stderr) = cpbuild(root, &["--backend", "ndarray", "baseline"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        read(root, "artifacts/logs/baseline.log").contains("backend `ndarray` (cpu)"),
        "the log names the backend"
    );

    let (code, _, stderr) = cpbuild(root, &["--backend", "tpu", "baseline"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("unknown backend `tpu`") && stderr.contains("`ndarray`"),
        "{stderr}"
    );

    if !cfg!(feature = "cuda") {
        let (code, _, stderr) = cpbuild(root, &["--backend", "cuda", "baseline"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("backend `cuda` is not compiled into this build")
                && stderr.contains("--features cuda"),
            "{stderr}"
        );
    }
    // Nothing already built is lost by a refused backend.
    let (code, stdout, stderr) = cpbuild(root, &["--backend", "ndarray", "-n", "baseline"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("nothing to do"),
        "{stdout}{stderr}"
    );
}

#[cfg(feature = "wgpu")]
#[test]
fn train_hba_on_wgpu_matches_ndarray_repeats_and_resumes() {
    use super::bundle;
    use cpbuild_ml::backend::{BackendChoice, BackendError, resolve};

    match resolve(BackendChoice::Wgpu) {
        Ok(_) => {}
        Err(error @ BackendError::Unavailable { .. }) => {
            if std::env::var("CPBUILD_REQUIRE_WGPU").as_deref() == Ok("1") {
                panic!("CPBUILD_REQUIRE_WGPU=1 but {error}");
            }
            eprintln!("skipped: {error} (set CPBUILD_REQUIRE_WGPU=1 to make this a failure)");
            return;
        }
        Err(error) => panic!("{error}"),
    }
    let dir = project();
    let root = dir.path();

    let (code, _, stderr) = cpbuild(root, &["--backend", "ndarray", "--store", "nd", "baseline"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cpbuild(
        root,
        &["--backend", "wgpu", "--store", "one-go", "baseline"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("backend `wgpu` on"), "{stderr}");
    let log = read(root, "one-go/logs/baseline.log");
    assert!(log.contains("train-hba: backend `wgpu` on"), "{log}");

    // The same store under the other backend: a different key, so it trains again.
    let (code, stdout, stderr) = cpbuild(
        root,
        &[
            "--backend",
            "ndarray",
            "--store",
            "one-go",
            "-n",
            "baseline",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !format!("{stdout}{stderr}").contains("nothing to do"),
        "an ndarray build must not reuse the wgpu bundle:\n{stdout}{stderr}"
    );

    let ours = numbers(&results(root, "one-go", "wgpu", "baseline"));
    let theirs = numbers(&results(root, "nd", "ndarray", "baseline"));
    assert_eq!(ours.len(), 3);
    assert_eq!(theirs.len(), 3);
    let mut worst = 0.0f64;
    for (row, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        for (column, (x, y)) in a.iter().zip(b).enumerate() {
            let relative = (x - y).abs() / x.abs().max(y.abs()).max(1e-12);
            worst = worst.max(relative);
            assert!(
                relative <= 1e-4,
                "row {row} column {column}: wgpu {x} vs ndarray {y} ({relative:.2e})"
            );
        }
    }
    eprintln!("train-hba wgpu vs ndarray: worst relative difference {worst:.2e}");

    // Run to run, in a fresh store.
    let (code, _, stderr) = cpbuild(root, &["--backend", "wgpu", "--store", "again", "baseline"]);
    assert_eq!(code, 0, "{stderr}");
    let repeatable =
        bundle(root, "one-go", "wgpu", "baseline") == bundle(root, "again", "wgpu", "baseline");
    eprintln!("wgpu bundles bitwise identical between fresh stores: {repeatable}");

    // Exact resume: 1 epoch, then extended to 3, against the one-go run.
    let (code, _, stderr) = cpbuild(
        root,
        &[
            "--backend",
            "wgpu",
            "--profile",
            "short",
            "--store",
            "extended",
            "baseline",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cpbuild(
        root,
        &["--backend", "wgpu", "--store", "extended", "baseline"],
    );
    assert_eq!(code, 0, "{stderr}");
    let log = read(root, "extended/logs/baseline.log");
    assert!(
        log.contains("continuing the shorter run") && log.contains("after epoch 1"),
        "{log}"
    );
    let resumes =
        bundle(root, "one-go", "wgpu", "baseline") == bundle(root, "extended", "wgpu", "baseline");
    eprintln!("wgpu run extended from epoch 1 bitwise identical to the one-go run: {resumes}");

    assert!(
        repeatable,
        "wgpu (lavapipe) was measured bitwise repeatable"
    );
    assert!(
        resumes,
        "wgpu (lavapipe) was measured to resume bitwise exactly"
    );
}
