//! The ViT baseline on NdArray with a very small ViT: byte-deterministic runs, exact resume
//! from epoch 0 and from a later epoch, perturbation windows that touch only their epochs, and
//! state files that refuse to load when corrupted.

use std::path::Path;
use std::sync::Arc;

use cpbuild_ml::CpuAutodiffBackend;
use cpbuild_ml::perturbation::{Perturbation, PerturbationKind};
use cpbuild_ml::train::state::{PARAMS_FILE, STATE_FILE, epoch_dir};
use cpbuild_ml::vit::state::VitState;
use cpbuild_ml::vit::{InMemoryImages, VitConfig, VitData, VitTrainConfig, VitTrainer, random_vit};

type B = CpuAutodiffBackend;

use super::support::{SIZE, patterned_image};

const CLASSES: usize = 4;

fn model() -> VitConfig {
    VitConfig::new(SIZE, 4, 16, 32, 2, 2, CLASSES)
}

/// An image whose pattern depends on its class, plus a per-image wobble.
fn image(class: usize, variant: usize) -> Vec<f32> {
    patterned_image(class, variant, 0.2)
}

fn set(count: usize, offset: usize) -> InMemoryImages {
    let labels: Vec<usize> = (0..count).map(|i| i % CLASSES).collect();
    let pixels = labels
        .iter()
        .enumerate()
        .flat_map(|(i, &class)| image(class, i + offset))
        .collect();
    InMemoryImages {
        image_len: 3 * SIZE * SIZE,
        pixels,
        labels,
    }
}

/// 40 training and 12 validation images in 4 classes; 6 RSA images; a symmetric human RDM.
fn data() -> Arc<VitData> {
    let rsa = 6;
    let human_rdm = super::support::human_rdm(rsa);
    Arc::new(VitData {
        image_size: SIZE,
        classes: CLASSES,
        train: Box::new(set(40, 0)),
        val: Box::new(set(12, 1000)),
        rsa_images: (0..rsa).flat_map(|i| image(i % CLASSES, 500 + i)).collect(),
        human_rdm,
    })
}

fn config(epochs: u32) -> VitTrainConfig {
    VitTrainConfig {
        seed: 5,
        batch_size: 16,
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 1e-4,
        warmup_epochs: 1,
        epochs,
        stop_after_epoch: None,
        perturbation: None,
    }
}

fn window(kind: PerturbationKind, start: u32, length: u32) -> Perturbation {
    Perturbation {
        kind,
        start,
        length,
        seed: 9,
        target_mean: 0.0,
        target_std: 0.0,
        noise: cpbuild_ml::perturbation::ImageNoise::Normal,
        noise_std: 0.1,
    }
}

fn train(config: VitTrainConfig, root: Option<&Path>) -> VitTrainer<B> {
    let device = Default::default();
    let mut trainer = VitTrainer::<B>::new(config, &model(), data(), &device).expect("trainer");
    trainer.run(root, &mut ()).expect("run");
    trainer
}

fn resume(config: VitTrainConfig, state: &Path) -> VitTrainer<B> {
    let device = Default::default();
    let mut trainer =
        VitTrainer::<B>::resume(config, &model(), data(), &device, state).expect("resume");
    trainer.run(None, &mut ()).expect("run");
    trainer
}

#[test]
fn initialisation_depends_only_on_the_seed() {
    let device = Default::default();
    let a =
        cpbuild_ml::vit::named::named_params(&random_vit::<B>(&model(), 1, &device).expect("init"));
    let b =
        cpbuild_ml::vit::named::named_params(&random_vit::<B>(&model(), 1, &device).expect("init"));
    let c =
        cpbuild_ml::vit::named::named_params(&random_vit::<B>(&model(), 2, &device).expect("init"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(
        a.contains_key("blocks.1.attention.q_proj.weight"),
        "{:?}",
        a.keys()
    );
    assert!(a["head.weight"].values.iter().all(|&v| v == 0.0));
}

#[test]
fn same_config_gives_the_same_bytes_and_loss_goes_down() {
    let one = tempfile::tempdir().expect("temp dir");
    let two = tempfile::tempdir().expect("temp dir");
    let first = train(config(4), Some(one.path()));
    let second = train(config(4), Some(two.path()));
    assert_eq!(first.results_csv(), second.results_csv());
    for epoch in [0, 2, 4] {
        for file in [PARAMS_FILE, "optimizer.safetensors", STATE_FILE] {
            let a = std::fs::read(epoch_dir(one.path(), epoch).join(file)).expect("read");
            let b = std::fs::read(epoch_dir(two.path(), epoch).join(file)).expect("read");
            assert!(
                a == b,
                "e{epoch:04}/{file} differs between two identical runs"
            );
        }
    }
    let rows = first.results();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[3].train_loss < rows[0].train_loss,
        "training loss should fall: {:?}",
        rows.iter().map(|r| r.train_loss).collect::<Vec<_>>()
    );
    assert!(rows.iter().all(|row| row.rsa_score.is_finite()));
    let csv = first.results_csv();
    assert!(csv.starts_with("epoch,val_loss,rsa_score\n1,"), "{csv}");
}

#[test]
fn resuming_from_epoch_0_or_a_later_epoch_is_bitwise_exact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let full = train(config(4), Some(dir.path()));
    for from in [0, 2] {
        let resumed = resume(config(4), &epoch_dir(dir.path(), from));
        assert_eq!(
            resumed.results(),
            full.results(),
            "resumed from epoch {from}"
        );
        assert_eq!(
            resumed.to_state(),
            full.to_state(),
            "state after resuming from epoch {from}"
        );
    }
    // A saved state reads back as what was saved.
    let saved = VitState::load(&epoch_dir(dir.path(), 4)).expect("load");
    assert_eq!(saved, full.to_state());
}

#[test]
fn a_stopped_run_is_a_prefix_of_the_full_one() {
    let full = train(config(4), None);
    let stopped = train(
        VitTrainConfig {
            stop_after_epoch: Some(2),
            ..config(4)
        },
        None,
    );
    assert_eq!(stopped.results(), &full.results()[..2]);
}

#[test]
fn perturbation_windows_touch_only_their_epochs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let baseline = train(config(4), Some(dir.path()));
    for kind in [
        PerturbationKind::RandomTarget,
        PerturbationKind::LabelShuffle,
        PerturbationKind::ImageNoise,
        PerturbationKind::UniformImages,
    ] {
        let perturbed_config = VitTrainConfig {
            perturbation: Some(window(kind, 2, 2)),
            ..config(4)
        };
        let perturbed = resume(perturbed_config.clone(), &epoch_dir(dir.path(), 1));
        let rows = perturbed.results();
        assert_eq!(
            rows[0],
            baseline.results()[0],
            "{kind:?}: epoch 1 is the baseline's"
        );
        assert_eq!(rows[1].perturbation, Some(kind));
        assert_eq!(rows[2].perturbation, Some(kind));
        assert_eq!(rows[3].perturbation, None);
        assert_ne!(
            rows[1].val_loss,
            baseline.results()[1].val_loss,
            "{kind:?} changed nothing"
        );
        // The same window from epoch 0 gives the same run (draws are keyed, not sequential).
        let from_start = resume(perturbed_config, &epoch_dir(dir.path(), 0));
        assert_eq!(from_start.results(), rows, "{kind:?}");
        let csv = perturbed.results_csv();
        assert!(
            csv.starts_with("epoch,val_loss,rsa_score,used_random_targets,"),
            "{csv}"
        );
    }
}

#[test]
fn resuming_refuses_another_config_and_corrupt_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    train(config(2), Some(dir.path()));
    let device = Default::default();
    let other = VitTrainConfig {
        learning_rate: 0.5,
        ..config(2)
    };
    let error =
        VitTrainer::<B>::resume(other, &model(), data(), &device, &epoch_dir(dir.path(), 1))
            .err()
            .expect("another learning rate is refused");
    assert!(error.to_string().contains("another config"), "{error}");

    let params = epoch_dir(dir.path(), 1).join(PARAMS_FILE);
    let mut bytes = std::fs::read(&params).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&params, bytes).expect("write");
    let error = VitState::load(&epoch_dir(dir.path(), 1)).expect_err("corrupt");
    assert!(error.to_string().contains("sha256"), "{error}");
}

/// Not a check: prints what one epoch of a ci-sized ViT run costs (`vit-tiny`, 20 classes,
/// 1,000 training and 100 validation 32 px images, 48 RSA images, batch 64). Run with
/// `--ignored --nocapture`.
#[test]
#[ignore]
fn ci_scale_vit_cost() {
    let model = VitConfig::tiny(20);
    let size = model.image_size;
    let images = |count: usize, offset: usize| InMemoryImages {
        image_len: 3 * size * size,
        pixels: (0..count * 3 * size * size)
            .map(|i| ((i * 7 + offset) as f32 * 0.013).sin())
            .collect(),
        labels: (0..count).map(|i| i % 20).collect(),
    };
    let rsa = 48;
    let data = Arc::new(VitData {
        image_size: size,
        classes: 20,
        train: Box::new(images(1000, 0)),
        val: Box::new(images(100, 3)),
        rsa_images: images(rsa, 9).pixels,
        human_rdm: (0..rsa * rsa)
            .map(|i| {
                if i / rsa == i % rsa {
                    0.0
                } else {
                    ((i / rsa + i % rsa) as f64 * 0.37).sin().abs()
                }
            })
            .collect(),
    });
    let device = Default::default();
    let mut trainer = VitTrainer::<B>::new(
        VitTrainConfig {
            batch_size: 64,
            ..config(2)
        },
        &model,
        data,
        &device,
    )
    .expect("trainer");
    let dir = tempfile::tempdir().expect("temp dir");
    let start = std::time::Instant::now();
    trainer.run(Some(dir.path()), &mut ()).expect("run");
    println!(
        "ci-scale vit: {:.2} s per epoch (with state saving)",
        start.elapsed().as_secs_f64() / 2.0
    );
}
