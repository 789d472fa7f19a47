//! Demand-driven runs: a `train-hba` run that must later go further continues the shorter run
//! of its family from its last saved epoch, and its bundle is byte-identical to the run that
//! went that far in one go.

use super::common::recipe::{profiles, tiny_hba};
use super::common::training_project;
use super::support::{cpbuild, read};

/// `grow`: a baseline trained to `stop`; `window`: a `random_target` window continuing a fixed
/// baseline, trained to `stop`. Profile `ci` stops at epoch 2, `long` at epoch 4.
fn recipe() -> String {
    let profiles = profiles(&[("ci", &["stop = 2"]), ("long", &["stop = 4"])]);
    let run = "max_epochs = 5, train_size = 16, test_size = 8, batch_size = 8";
    let base = tiny_hba("base", &[], &format!("seed = 1, {run}"));
    let grow = tiny_hba(
        "grow",
        &[],
        &format!(r#"seed = 2, {run}, stop_after_epoch = "${{stop}}""#),
    );
    let window = tiny_hba(
        "window",
        &["base"],
        &format!(
            r#"seed = 1, {run}, perturbation = {{ kind = "random_target", start = 2, length = 2, seed = 3 }}, resume_from = "base", stop_after_epoch = "${{stop}}""#
        ),
    );
    format!("\n{profiles}\n{base}\n{grow}\n{window}")
}

fn project() -> tempfile::TempDir {
    training_project(&recipe())
}

/// The bytes of `target`'s bundle in `store` (profile `long`).
fn bundle(root: &std::path::Path, store: &str, target: &str) -> Vec<u8> {
    let (code, shown, stderr) = cpbuild(
        root,
        &["--profile", "long", "--store", store, "show", target],
    );
    assert_eq!(code, 0, "{stderr}");
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("json");
    let path = shown["bundle"].as_str().expect("a bundle path");
    std::fs::read(path).expect("the bundle")
}

#[test]
fn an_extended_run_equals_the_one_go_run_bitwise() {
    let dir = project();
    let root = dir.path();
    let (code, _, stderr) = cpbuild(root, &["--store", "extended", "grow", "window"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cpbuild(
        root,
        &["--profile", "long", "--store", "extended", "grow", "window"],
    );
    assert_eq!(code, 0, "{stderr}");
    for target in ["grow", "window"] {
        let log = read(&root.join(format!("extended/logs/{target}.log")));
        assert!(
            log.contains("continuing the shorter run")
                && log.contains("from its state after epoch 2"),
            "`{target}` must continue its shorter run:\n{log}"
        );
        assert!(
            !log.contains("epoch 1/4:") && !log.contains("epoch 2/4:"),
            "{log}"
        );
    }

    let (code, _, stderr) = cpbuild(
        root,
        &["--profile", "long", "--store", "one-go", "grow", "window"],
    );
    assert_eq!(code, 0, "{stderr}");
    for target in ["grow", "window"] {
        assert!(
            bundle(root, "extended", target) == bundle(root, "one-go", target),
            "`{target}` extended from epoch 2 differs from the one-go run"
        );
    }
}
