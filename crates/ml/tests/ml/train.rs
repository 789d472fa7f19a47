//! Training on NdArray with a very small CLIP: exact resume from any epoch (0 included),
//! byte-deterministic state files, perturbation windows, and the frozen-prefix cache giving
//! bitwise the same run as the uncached path.

use std::path::Path;

use cpbuild_ml::CpuAutodiffBackend;
use cpbuild_ml::perturbation::{Perturbation, PerturbationKind};
use cpbuild_ml::results::EpochResult;
use cpbuild_ml::train::state::{EpochState, epoch_dir};
use cpbuild_ml::train::{StopReason, TrainConfig, Trainer, random_clip};

type B = CpuAutodiffBackend;

use super::support::{data, hba};

fn config(max_epochs: u32) -> TrainConfig {
    TrainConfig {
        train_size: 24,
        test_size: 12,
        batch_size: 8,
        learning_rate: 1e-2,
        max_epochs,
        patience: 50,
        ..TrainConfig::paper(7)
    }
}

fn trainer(config: TrainConfig) -> Trainer<B> {
    let hba = hba();
    let clip = random_clip::<B>(&hba.clip, 3, &Default::default()).expect("valid config");
    Trainer::new(config, &hba, clip, &data(), &Default::default()).expect("valid run")
}

fn resumed(config: TrainConfig, state: &Path) -> Trainer<B> {
    let hba = hba();
    let clip = random_clip::<B>(&hba.clip, 3, &Default::default()).expect("valid config");
    Trainer::resume(config, &hba, clip, &data(), &Default::default(), state).expect("resumable")
}

/// Every float as bits, so NaN compares and -0.0 ≠ 0.0.
fn bits(rows: &[EpochResult]) -> Vec<(u32, [u64; 4], bool)> {
    rows.iter()
        .map(|r| {
            (
                r.epoch,
                [
                    r.train_loss.to_bits(),
                    r.test_loss.to_bits(),
                    r.behavioral_rsa_rho.to_bits(),
                    r.behavioral_rsa_p_value.to_bits(),
                ],
                r.perturbation.is_some(),
            )
        })
        .collect()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("state dir")
        .map(|entry| {
            let path = entry.expect("entry").path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).expect("file"),
            )
        })
        .collect();
    out.sort();
    out
}

fn params_bits(state: &EpochState) -> Vec<(String, Vec<u32>)> {
    state
        .params
        .iter()
        .map(|(name, t)| (name.clone(), t.values.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

#[test]
fn resuming_from_any_epoch_continues_bitwise_identically() {
    let root = tempfile::tempdir().expect("temp dir");
    let epochs = 4;
    let mut full = trainer(config(epochs));
    full.run(Some(root.path()), &mut ()).expect("trains");
    assert_eq!(full.results().len(), epochs as usize);
    assert!(
        full.results()[0].test_loss > full.results()[3].test_loss,
        "it learns"
    );
    let reference = full.to_state().expect("state");

    // A second uninterrupted run writes the same bytes: saving is deterministic.
    let again = tempfile::tempdir().expect("temp dir");
    trainer(config(epochs))
        .run(Some(again.path()), &mut ())
        .expect("trains");
    for epoch in 0..=epochs {
        assert_eq!(
            files(&epoch_dir(root.path(), epoch)),
            files(&epoch_dir(again.path(), epoch)),
            "epoch {epoch} state bytes differ between two identical runs"
        );
    }

    // Epoch 0 is the initial state (the original got it wrong): no rows, no optimizer state.
    let initial = EpochState::load(&epoch_dir(root.path(), 0)).expect("epoch 0");
    assert_eq!((initial.epoch, initial.results.len()), (0, 0));
    assert!(initial.moments.is_empty());

    for from in [0, 1, 3] {
        let out = tempfile::tempdir().expect("temp dir");
        let mut run = resumed(config(epochs), &epoch_dir(root.path(), from));
        assert_eq!(run.epoch(), from);
        run.run(Some(out.path()), &mut ()).expect("trains");
        assert_eq!(
            bits(run.results()),
            bits(full.results()),
            "resumed from {from}"
        );
        let state = run.to_state().expect("state");
        assert_eq!(params_bits(&state), params_bits(&reference), "from {from}");
        assert_eq!(
            state, reference,
            "resumed from {from}: optimizer or early stopping differ"
        );
        for epoch in from..=epochs {
            assert_eq!(
                files(&epoch_dir(out.path(), epoch)),
                files(&epoch_dir(root.path(), epoch)),
                "resumed from {from}: epoch {epoch} state bytes differ"
            );
        }
    }
}

#[test]
fn stop_after_epoch_then_resume_equals_a_longer_run() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut short = trainer(TrainConfig {
        stop_after_epoch: Some(2),
        ..config(4)
    });
    short.run(Some(root.path()), &mut ()).expect("trains");
    assert_eq!(short.epoch(), 2);
    assert!(!epoch_dir(root.path(), 3).exists());
    let mut longer = resumed(config(4), &epoch_dir(root.path(), 2));
    longer.run(None, &mut ()).expect("trains");
    let mut full = trainer(config(4));
    full.run(None, &mut ()).expect("trains");
    assert_eq!(bits(longer.results()), bits(full.results()));
}

#[test]
fn prefix_cache_gives_bitwise_the_uncached_run() {
    // Epoch 2 perturbs the images, so it bypasses the cache; epochs 1 and 3 use it.
    let noisy = TrainConfig {
        perturbation: Some(perturbation(PerturbationKind::ImageNoise, 2, 1, 5)),
        ..config(3)
    };
    for config in [config(3), noisy] {
        let mut cached = trainer(config.clone());
        cached.run(None, &mut ()).expect("trains");
        let mut uncached = trainer(config).with_prefix_cache(false);
        uncached.run(None, &mut ()).expect("trains");
        assert_eq!(bits(cached.results()), bits(uncached.results()));
        assert_eq!(
            cached.to_state().expect("state"),
            uncached.to_state().expect("state")
        );
    }
}

fn perturbation(kind: PerturbationKind, start: u32, length: u32, seed: u64) -> Perturbation {
    Perturbation {
        kind,
        start,
        length,
        seed,
        target_mean: 5.0,
        target_std: 4.0,
        noise: cpbuild_ml::perturbation::ImageNoise::Target,
        noise_std: 1.0,
    }
}

#[test]
fn perturbed_runs_continue_the_baseline_and_differ_only_from_their_window() {
    let root = tempfile::tempdir().expect("temp dir");
    let epochs = 4;
    let mut baseline = trainer(config(epochs));
    baseline.run(Some(root.path()), &mut ()).expect("trains");
    let kinds = [
        PerturbationKind::RandomTarget,
        PerturbationKind::LabelShuffle,
        PerturbationKind::ImageNoise,
        PerturbationKind::UniformImages,
    ];
    for (kind, start) in kinds.into_iter().zip([1, 2, 3, 2]) {
        let window = perturbation(kind, start, 2, 11);
        let perturbed_config = TrainConfig {
            perturbation: Some(window),
            ..config(epochs)
        };
        // Resume from the baseline's state after epoch start − 1 (epoch 0 for start 1).
        let state = epoch_dir(root.path(), start - 1);
        let mut perturbed = resumed(perturbed_config.clone(), &state);
        perturbed.run(None, &mut ()).expect("trains");
        let rows = perturbed.results();
        let before = (start - 1) as usize;
        assert_eq!(
            bits(&rows[..before]),
            bits(&baseline.results()[..before]),
            "{kind:?}"
        );
        assert_ne!(
            rows[before].test_loss.to_bits(),
            baseline.results()[before].test_loss.to_bits(),
            "{kind:?} changes training from epoch {start}"
        );
        for row in rows {
            let active = row.epoch >= start && row.epoch <= start + 1;
            assert_eq!(
                row.perturbation,
                active.then_some(kind),
                "{kind:?} epoch {}",
                row.epoch
            );
        }
        // The same perturbation seed gives bitwise the same run.
        let mut twin = resumed(perturbed_config, &state);
        twin.run(None, &mut ()).expect("trains");
        assert_eq!(bits(twin.results()), bits(rows));
        let csv = perturbed.results_csv();
        assert!(csv.starts_with("epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value,used_random_targets,used_shuffled_targets,used_uniform_images,used_image_noise\n"));
        assert_eq!(csv.lines().count(), epochs as usize + 1);
    }
    // Another perturbation seed draws other targets.
    let other = |seed| {
        let mut run = resumed(
            TrainConfig {
                perturbation: Some(perturbation(PerturbationKind::RandomTarget, 2, 1, seed)),
                ..config(2)
            },
            &epoch_dir(root.path(), 1),
        );
        run.run(None, &mut ()).expect("trains");
        run.results()[1].train_loss
    };
    assert_ne!(other(1).to_bits(), other(2).to_bits());
}

#[test]
fn a_state_from_another_run_is_refused() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut baseline = trainer(config(2));
    baseline.run(Some(root.path()), &mut ()).expect("trains");
    let hba = hba();
    let clip = random_clip::<B>(&hba.clip, 3, &Default::default()).expect("valid config");
    let other_seed = TrainConfig {
        seed: 8,
        ..config(2)
    };
    let error = Trainer::<B>::resume(
        other_seed,
        &hba,
        clip,
        &data(),
        &Default::default(),
        &epoch_dir(root.path(), 1),
    )
    .err()
    .expect("refused");
    assert!(error.to_string().contains("another config"), "{error}");
    // A perturbation that already started by the saved epoch cannot continue a baseline.
    let clip = random_clip::<B>(&hba.clip, 3, &Default::default()).expect("valid config");
    let late = TrainConfig {
        perturbation: Some(perturbation(PerturbationKind::RandomTarget, 1, 1, 1)),
        ..config(2)
    };
    assert!(
        Trainer::<B>::resume(
            late,
            &hba,
            clip,
            &data(),
            &Default::default(),
            &epoch_dir(root.path(), 1)
        )
        .is_err()
    );
}

#[test]
fn random_clip_depends_only_on_its_seed() {
    let hba = hba();
    let values = |seed| {
        let clip = random_clip::<cpbuild_ml::CpuBackend>(&hba.clip, seed, &Default::default())
            .expect("valid");
        clip.vision_model.encoder.layers[0]
            .self_attn
            .q_proj
            .weight
            .val()
            .into_data()
            .to_vec::<f32>()
            .expect("f32")
    };
    assert_eq!(values(1), values(1));
    assert_ne!(values(1), values(2));
}

/// A baseline that early stopping ends, resumed from an epoch before its stop, stops at the
/// same epoch with the same state; a perturbed run started from it gets a fresh state that does
/// not count its window, and continuing a shorter perturbed run keeps the perturbed run's own
/// state (bitwise the one-go run).
#[test]
fn early_stopping_state_resumes_exactly_and_perturbed_runs_start_their_own() {
    let patient = |max_epochs| TrainConfig {
        learning_rate: 0.3,
        patience: 2,
        ..config(max_epochs)
    };
    let max_epochs = 30;
    let root = tempfile::tempdir().expect("temp dir");
    let mut full = trainer(patient(max_epochs));
    full.run(Some(root.path()), &mut ()).expect("trains");
    let stop = full.epoch();
    assert!(
        stop < max_epochs,
        "early stopping must end this baseline before its limit (it trained {stop} epochs)"
    );
    assert_eq!(full.stop_reason(), Some(StopReason::EarlyStopping));
    assert!(full.early_stopping().epochs_without_improvement >= 2);
    let reference = full.to_state().expect("state");
    // Resume after an epoch where the counter is already running (the last improvement + 1),
    // and from one before it: both must stop at `stop`, with the same state.
    let best = full.early_stopping().best_epoch;
    for from in [best.saturating_sub(1), best + 1] {
        let mut run = resumed(patient(max_epochs), &epoch_dir(root.path(), from));
        run.run(None, &mut ()).expect("trains");
        assert_eq!(run.epoch(), stop, "resumed after epoch {from}");
        assert_eq!(run.to_state().expect("state"), reference, "from {from}");
    }

    // A perturbed run from the baseline's state after epoch 1, with a window as long as the
    // baseline's patience and more: a fresh state (best from its first epoch on), window
    // epochs never counted, so it cannot stop before the window's end + patience.
    let window = perturbation(PerturbationKind::RandomTarget, 2, 4, 5);
    let perturbed_config = |stop_after_epoch| TrainConfig {
        perturbation: Some(window),
        stop_after_epoch,
        ..patient(max_epochs)
    };
    let mut perturbed = resumed(perturbed_config(None), &epoch_dir(root.path(), 1));
    assert_eq!(perturbed.early_stopping().best_loss, None, "a fresh state");
    assert_eq!(perturbed.early_stopping().window, Some((2, 5)));
    let out = tempfile::tempdir().expect("temp dir");
    perturbed.run(Some(out.path()), &mut ()).expect("trains");
    assert!(
        perturbed.epoch() >= window.end() + 2,
        "{}",
        perturbed.epoch()
    );
    assert!(perturbed.early_stopping().best_epoch >= 2);

    // Its shorter demand-driven twin, continued from its own saved state, ends identically.
    let short = tempfile::tempdir().expect("temp dir");
    let mut first = resumed(perturbed_config(Some(4)), &epoch_dir(root.path(), 1));
    first.run(Some(short.path()), &mut ()).expect("trains");
    assert_eq!(first.stop_reason(), Some(StopReason::StopAfterEpoch));
    let mut continued = resumed(perturbed_config(None), &epoch_dir(short.path(), 4));
    continued.run(None, &mut ()).expect("trains");
    assert_eq!(continued.epoch(), perturbed.epoch());
    assert_eq!(
        continued.to_state().expect("state"),
        perturbed.to_state().expect("state")
    );
}
