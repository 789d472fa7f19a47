//! `pretrain-clip` and `train-vit` through the real binary: a tiny pretraining whose weights a
//! `train-hba` run fine-tunes (`weights_from`), and a tiny ViT baseline with a perturbed run
//! continuing it. A second build must do nothing.

use super::common::recipe::{profiles, tiny_vit, training};
use super::{
    assert_nothing_to_do, assert_perturbed_epoch_2, build_collect, bundle, cpbuild, project,
    project_with, read,
};

/// Pretraining on 40 synthetic concepts (8 held out), then CLIP-HBA fine-tuned from it.
fn pretrain_recipe() -> String {
    let pretrain = training(
        "pretrain",
        "pretrain-clip",
        &[],
        r#"model = "clip-tiny", data = { world = "things-synth", train_pool_size = 40, eval_size = 8 }, seed = 1, epochs = 2, batch_size = 16"#,
    );
    let hba = training(
        "hba",
        "train-hba",
        &["pretrain"],
        r#"model = "clip-tiny", data = { world = "things-synth", train_pool_size = 24 }, weights_from = "pretrain", seed = 1, max_epochs = 1, train_size = 16, test_size = 8, batch_size = 16"#,
    );
    let collect = r#"[target.collect]
kind = "shell"
deps = ["pretrain", "hba"]
command = "cp $CPBUILD_DEP_PRETRAIN/pretrain_log.csv log.csv; cp $CPBUILD_DEP_PRETRAIN/summary.json summary.json; cp $CPBUILD_DEP_HBA/results.csv hba.csv; ls $CPBUILD_DEP_PRETRAIN > files.txt"
outputs = ["log.csv", "summary.json", "hba.csv", "files.txt"]
"#;
    format!("\n{pretrain}\n{hba}\n{collect}")
}

/// A ViT baseline on 160 synthetic concepts and a `label_shuffle` run perturbing its epoch 2.
fn vit_recipe() -> String {
    let run = "seed = 2, epochs = 3, warmup_epochs = 1, batch_size = 32, learning_rate = 0.05";
    let baseline = tiny_vit("vit", &[], run);
    let perturbed = tiny_vit(
        "vit_shuffle_e2",
        &["vit"],
        &format!(
            r#"{run}, perturbation = {{ kind = "label_shuffle", start = 2, length = 1, seed = 4 }}, resume_from = "vit""#
        ),
    );
    let collect = r#"[target.collect]
kind = "shell"
deps = ["vit", "vit_shuffle_e2"]
command = "cp $CPBUILD_DEP_VIT/results.csv baseline.csv; cp $CPBUILD_DEP_VIT_SHUFFLE_E2/results.csv perturbed.csv; cp $CPBUILD_DEP_VIT/classes.json classes.json; ls $CPBUILD_DEP_VIT/epochs > epochs.txt"
outputs = ["baseline.csv", "perturbed.csv", "classes.json", "epochs.txt"]
"#;
    format!("\n{baseline}\n{perturbed}\n{collect}")
}

#[test]
fn pretrain_clip_then_train_hba_from_its_weights() {
    let dir = project_with(&pretrain_recipe());
    let root = dir.path();
    build_collect(root);

    let log = read(root, "log.csv");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], "epoch,loss,retrieval_accuracy,logit_scale");
    assert_eq!(lines.len(), 3, "{log}");
    let files = read(root, "files.txt");
    for file in ["clip.safetensors", "clip_config.json", "captions.json"] {
        assert!(files.contains(file), "{files}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&read(root, "summary.json")).expect("json");
    assert_eq!(summary["held_out_pairs"], 8);
    assert_eq!(summary["train_pairs"], 32);
    let hba = read(root, "hba.csv");
    assert_eq!(hba.lines().count(), 2, "{hba}");

    assert_nothing_to_do(root, &["collect"], "a first build");
    let (code, shown, _) = cpbuild(root, &["show", "pretrain"]);
    assert_eq!(code, 0);
    assert!(shown.contains("\"backend\": \"ndarray\""), "{shown}");
    assert!(shown.contains("\"epochs_trained\": 2"), "{shown}");
}

#[test]
fn train_vit_baseline_and_perturbed_run() {
    let dir = project_with(&vit_recipe());
    let root = dir.path();
    build_collect(root);

    let baseline = read(root, "baseline.csv");
    let lines: Vec<&str> = baseline.lines().collect();
    assert_eq!(lines[0], "epoch,val_loss,rsa_score");
    assert_eq!(lines.len(), 4, "{baseline}");
    assert_perturbed_epoch_2(
        root,
        &lines,
        "epoch,val_loss,rsa_score",
        ",False,True,False,False",
        1,
    );
    let epochs = read(root, "epochs.txt");
    for state in ["e0000", "e0001", "e0002", "e0003"] {
        assert!(epochs.contains(state), "{epochs}");
    }
    let classes: serde_json::Value =
        serde_json::from_str(&read(root, "classes.json")).expect("json");
    assert!(classes["classes"].as_array().is_some_and(|c| c.len() >= 2));

    assert_nothing_to_do(root, &["collect"], "a first build");
    let (code, shown, _) = cpbuild(root, &["show", "vit"]);
    assert_eq!(code, 0);
    assert!(shown.contains("\"epochs_trained\": 3"), "{shown}");
}

#[test]
fn train_vit_and_pretrain_clip_params_are_checked_when_recipes_load() {
    let dir = project();
    let root = dir.path();
    let recipe = r#"
[target.bad]
kind = "train-vit"
params = { model = "vit-huge", data = { world = "things-synth" }, epochs = 1 }
"#;
    std::fs::write(root.join("recipes/main.toml"), recipe).expect("recipe");
    let (code, _, stderr) = cpbuild(root, &["bad"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown model `vit-huge`"), "{stderr}");

    let recipe = r#"
[target.bad]
kind = "pretrain-clip"
params = { model = "clip-tiny", data = { world = "things-synth" }, epochs = 1, batch_size = 1 }
"#;
    std::fs::write(root.join("recipes/main.toml"), recipe).expect("recipe");
    let (code, _, stderr) = cpbuild(root, &["bad"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`batch_size` must be at least 2"),
        "{stderr}"
    );
}

/// A ViT baseline trained to `${stop}`: epoch 1 in profile `short`, 3 in `ci`.
fn vit_grow_recipe() -> String {
    let profiles = profiles(&[("ci", &["stop = 3"]), ("short", &["stop = 1"])]);
    let vit = tiny_vit(
        "vit",
        &[],
        r#"seed = 2, epochs = 4, warmup_epochs = 1, batch_size = 32, learning_rate = 0.05, stop_after_epoch = "${stop}""#,
    );
    format!("\n{profiles}\n{vit}")
}

#[test]
fn an_extended_vit_run_equals_the_one_go_run_bitwise() {
    let dir = project_with(&vit_grow_recipe());
    let root = dir.path();
    let (code, _, stderr) = cpbuild(root, &["--profile", "short", "--store", "extended", "vit"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cpbuild(root, &["--store", "extended", "vit"]);
    assert_eq!(code, 0, "{stderr}");
    let log = read(root, "extended/logs/vit.log");
    assert!(
        log.contains("continuing the shorter run") && log.contains("after epoch 1"),
        "{log}"
    );
    assert!(
        !log.contains("epoch 1/3"),
        "epoch 1 must not be trained again:\n{log}"
    );

    let (code, _, stderr) = cpbuild(root, &["--store", "one-go", "vit"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        bundle(root, "extended", "ndarray", "vit") == bundle(root, "one-go", "ndarray", "vit"),
        "the ViT run extended from epoch 1 differs from the one-go run"
    );
}
