//! Integration tests of the ML kinds, each through the real `cpbuild` binary on a temporary
//! project that holds copies of the repository's `data/` files.

use std::path::Path;

#[path = "../common/mod.rs"]
mod common;

use common::recipe::tiny_hba;
use common::{TRAIN_HBA_DATA as DATA, cpbuild, training_project as project_with};

mod backend;
mod imagenet;
mod paper_files;
mod vit_pretrain;

/// A tiny baseline (clip-tiny, 24 synthetic pool images, 3 epochs of one step), a `random_target` run
/// perturbing epoch 2 that continues it, and a shell target collecting both results.
fn recipe() -> String {
    let run = "seed = 1, max_epochs = 3, train_size = 16, test_size = 8, batch_size = 16";
    let baseline = tiny_hba("baseline", &[], run);
    let perturbed = tiny_hba(
        "target_noise_e2",
        &["baseline"],
        &format!(
            r#"{run}, perturbation = {{ kind = "random_target", start = 2, length = 1, seed = 3 }}, resume_from = "baseline""#
        ),
    );
    let collect = r#"[target.collect]
kind = "shell"
deps = ["baseline", "target_noise_e2"]
command = "cp $CPBUILD_DEP_BASELINE/results.csv baseline.csv; cp $CPBUILD_DEP_TARGET_NOISE_E2/results.csv perturbed.csv; ls $CPBUILD_DEP_BASELINE/epochs $CPBUILD_DEP_TARGET_NOISE_E2/epochs > epochs.txt; cat $CPBUILD_DEP_BASELINE/split.json > split.json"
outputs = ["baseline.csv", "perturbed.csv", "epochs.txt", "split.json"]
"#;
    format!("\n{baseline}\n{perturbed}\n{collect}")
}

fn project() -> tempfile::TempDir {
    project_with(&recipe())
}

/// Checks `perturbed.csv` in `root`, a run perturbing epoch 2 that continued the baseline whose
/// `baseline.csv` lines are `baseline`: its header is the baseline's `header` plus the four
/// perturbation flags; epoch 1 is the baseline's own row with no flag set (the run continued
/// from the baseline's state after epoch 1); epoch 2 ends with `flags` and its loss (column
/// `loss_column`) differs from the baseline's. Returns the file.
fn assert_perturbed_epoch_2(
    root: &Path,
    baseline: &[&str],
    header: &str,
    flags: &str,
    loss_column: usize,
) -> String {
    let perturbed = read(root, "perturbed.csv");
    let rows: Vec<&str> = perturbed.lines().collect();
    assert_eq!(
        rows[0],
        format!(
            "{header},used_random_targets,used_shuffled_targets,used_uniform_images,used_image_noise"
        )
    );
    assert_eq!(rows[1], format!("{},False,False,False,False", baseline[1]));
    assert!(rows[2].ends_with(flags), "{perturbed}");
    assert_ne!(
        rows[2].split(',').nth(loss_column),
        baseline[2].split(',').nth(loss_column)
    );
    perturbed
}

/// Builds `collect` in `root`, which must succeed.
fn build_collect(root: &Path) {
    let (code, stdout, stderr) = cpbuild(root, &["--json", "collect"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
}

/// Asserts that a build of `targets` runs nothing: every bundle is still there.
pub(crate) fn assert_nothing_to_do(root: &Path, targets: &[&str], after: &str) {
    let mut args = vec!["--json"];
    args.extend(targets);
    let (code, stdout, stderr) = cpbuild(root, &args);
    assert_eq!(code, 0, "after {after}:\n{stderr}");
    assert!(
        !stdout.contains("\"start\""),
        "after {after}, a build of {targets:?} must find everything fresh:\n{stdout}"
    );
}

fn read(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("cannot read {file}: {e}"))
}

#[test]
fn train_hba_baseline_and_perturbed_run_then_nothing_to_do() {
    let dir = project();
    let root = dir.path();
    build_collect(root);

    let baseline = read(root, "baseline.csv");
    let lines: Vec<&str> = baseline.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value"
    );
    assert_eq!(lines.len(), 4, "{baseline}");
    let perturbed = assert_perturbed_epoch_2(
        root,
        &lines,
        "epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value",
        ",True,False,False,False",
        2,
    );
    let rows: Vec<&str> = perturbed.lines().collect();
    assert!(rows[3].ends_with(",False,False,False,False"), "{perturbed}");

    let epochs = read(root, "epochs.txt");
    for state in ["e0000", "e0001", "e0002", "e0003"] {
        assert!(epochs.contains(state), "{epochs}");
    }
    let split: serde_json::Value = serde_json::from_str(&read(root, "split.json")).expect("json");
    assert_eq!(split["train"].as_array().map(Vec::len), Some(16));
    assert_eq!(split["test"].as_array().map(Vec::len), Some(8));

    assert_nothing_to_do(root, &["collect"], "a first build");
    let (code, shown, _) = cpbuild(root, &["show", "baseline"]);
    assert_eq!(code, 0);
    assert!(shown.contains("\"backend\": \"ndarray\""), "{shown}");
    assert!(shown.contains("\"epochs_trained\": 3"), "{shown}");
}

/// A perturbed run that starts past the last epoch its baseline saved fails, saying how far the
/// baseline trained, what ended it and what to change; the baseline's bundle stays.
#[test]
fn a_perturbation_past_the_baselines_last_epoch_says_how_far_it_trained() {
    let sizes = "seed = 1, train_size = 16, test_size = 8, batch_size = 16";
    let baseline = tiny_hba("baseline", &[], &format!("{sizes}, max_epochs = 2"));
    let late = tiny_hba(
        "late",
        &["baseline"],
        &format!(
            r#"{sizes}, max_epochs = 8, perturbation = {{ kind = "random_target", start = 5, length = 1, seed = 3 }}, resume_from = "baseline""#
        ),
    );
    let dir = project_with(&format!("\n{baseline}\n{late}"));
    let root = dir.path();
    let (code, _, stderr) = cpbuild(root, &["late"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "`baseline` has no saved state after epoch 4 to resume from: it trained 2 epochs and \
             was ended by its epoch limit; start the perturbation at epoch 3 or earlier, or let \
             `baseline` train further (its `patience`, `max_epochs` or `stop_after_epoch`)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("late"), "{stderr}");
    assert_nothing_to_do(root, &["baseline"], "the failed perturbed run");
}

#[test]
fn train_hba_params_are_checked_when_recipes_load() {
    let dir = project();
    let root = dir.path();
    let recipe = r#"
[target.bad]
kind = "train-hba"
params = { model = "clip-huge", data = { world = "things-synth" }, weights = "random", max_epochs = 1, train_size = 1, test_size = 1 }
"#;
    std::fs::write(root.join("recipes/main.toml"), recipe).expect("recipe");
    let (code, _, stderr) = cpbuild(root, &["bad"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown model `clip-huge`"), "{stderr}");

    // Reading a file that is not a declared input is refused: nothing is hidden from the key.
    let recipe = r#"
[target.hidden]
kind = "train-hba"
params = { model = "clip-tiny", data = { world = "things-synth", train_pool_size = 8 }, weights = "random", max_epochs = 1, train_size = 4, test_size = 4 }
"#;
    std::fs::write(root.join("recipes/main.toml"), recipe).expect("recipe");
    let (code, _, stderr) = cpbuild(root, &["hidden"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is not a declared input"), "{stderr}");
}

/// What `cpbuild show` says about `target` in `store`.
pub(crate) fn show(root: &Path, store: &str, backend: &str, target: &str) -> serde_json::Value {
    let (code, shown, stderr) = cpbuild(
        root,
        &["--backend", backend, "--store", store, "show", target],
    );
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&shown).expect("json")
}

/// The bundle bytes of `target` in `store`.
pub(crate) fn bundle(root: &Path, store: &str, backend: &str, target: &str) -> Vec<u8> {
    let shown = show(root, store, backend, target);
    std::fs::read(shown["bundle"].as_str().expect("a bundle path")).expect("the bundle")
}
