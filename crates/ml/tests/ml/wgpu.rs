//! Training on wgpu matches training on NdArray: the same tiny CLIP-HBA (the model and data of
//! `train`), from the same initial weights, trained a few steps on both backends; the
//! losses must agree within [`RELATIVE_TOLERANCE`], and two wgpu runs are compared bit for bit
//! (reported, not required).
//!
//! Identical initial weights: `random_clip` draws every parameter on the host from keyed ChaCha
//! streams and `Trainer::new` draws the DoRA factors the same way (column norms summed in f64
//! on the host), so neither depends on the backend's RNG; the test checks that the initial
//! trainable parameters are bitwise equal before comparing any loss.
//!
//! Without a GPU this runs on Mesa's lavapipe (Debian `mesa-vulkan-drivers`), at about 2 s per
//! step, hence one step per epoch and few epochs. Without any wgpu adapter the test prints that
//! it was skipped and passes, unless `CPBUILD_REQUIRE_WGPU=1` (set by CI) makes that a failure.
//! `auto` skips a software adapter like lavapipe; what it picked is printed with `--nocapture`.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use cpbuild_ml::backend::{
    BackendChoice, BackendError, BackendFn, Resolved, resolve, with_backend,
};
use cpbuild_ml::results::EpochResult;
use cpbuild_ml::train::state::HostTensor;
use cpbuild_ml::train::{TrainConfig, Trainer, random_clip};

use super::support::{data, hba};

/// Training steps per run: one per epoch (the batch is the whole training set), so that every
/// step's loss is a row of the results.
const EPOCHS: u32 = 4;

/// Largest accepted |wgpu − ndarray| / |ndarray| for every train loss, test loss and RSA ρ.
///
/// Why not bitwise: both backends compute in f32, but wgpu's kernels sum the matmuls, layer
/// norms, softmaxes and the MSE in another order (tiled, in parallel) than NdArray does, so
/// results differ in the last bits (f32 rounding is ~6e-8 relative per operation, and a loss
/// chains a few dozen reductions), and training feeds these differences back through AdamW.
/// Measured on lavapipe (Mesa 22.3.6, LLVM 15): at most 9.1e-7 relative over the 4 steps, the
/// trained DoRA parameters within 1.3e-6 absolute (largest 1.4), ρ identical. 1e-4 leaves a
/// 100× margin for other drivers and GPUs while still catching a real difference in the
/// computation (a wrong kernel, another initialisation, a skipped step: ≥ 1e-2).
const RELATIVE_TOLERANCE: f64 = 1e-4;

fn config() -> TrainConfig {
    TrainConfig {
        train_size: 24,
        test_size: 12,
        batch_size: 24,
        learning_rate: 1e-2,
        max_epochs: EPOCHS,
        patience: 50,
        ..TrainConfig::paper(7)
    }
}

/// What one run produced.
struct Outcome {
    initial: BTreeMap<String, HostTensor>,
    last: BTreeMap<String, HostTensor>,
    results: Vec<EpochResult>,
    seconds: f64,
}

/// Trains [`config`] on whichever backend [`with_backend`] picks (the path `train-hba` takes).
struct TrainRun;

impl BackendFn<Result<Outcome, String>> for TrainRun {
    fn call<B: AutodiffBackend>(self, device: B::Device) -> Result<Outcome, String> {
        let start = Instant::now();
        let hba = hba();
        let clip = random_clip::<B>(&hba.clip, 3, &device).map_err(text)?;
        let mut trainer =
            Trainer::<B>::new(config(), &hba, clip, &data(), &device).map_err(text)?;
        let initial = trainer.to_state().map_err(text)?.params;
        trainer.run(None, &mut ()).map_err(text)?;
        let last = trainer.to_state().map_err(text)?.params;
        Ok(Outcome {
            initial,
            last,
            results: trainer.results().to_vec(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

fn text(error: impl std::fmt::Display) -> String {
    error.to_string()
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

/// The largest |a − b| over all parameters, and the largest |b|.
fn max_parameter_difference(
    a: &BTreeMap<String, HostTensor>,
    b: &BTreeMap<String, HostTensor>,
) -> (f64, f64) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let mut difference = 0.0f64;
    let mut scale = 0.0f64;
    for (name, tensor) in a {
        assert_eq!(tensor.shape, b[name].shape, "{name}");
        for (x, y) in tensor.values.iter().zip(&b[name].values) {
            difference = difference.max(f64::from((x - y).abs()));
            scale = scale.max(f64::from(y.abs()));
        }
    }
    (difference, scale)
}

fn bits(rows: &[EpochResult]) -> Vec<[u64; 3]> {
    rows.iter()
        .map(|row| {
            [
                row.train_loss.to_bits(),
                row.test_loss.to_bits(),
                row.behavioral_rsa_rho.to_bits(),
            ]
        })
        .collect()
}

/// The wgpu backend, or `None` (after saying why) when the test should be skipped.
fn wgpu_or_skip() -> Option<Resolved> {
    match resolve(BackendChoice::Wgpu) {
        Ok(resolved) => Some(resolved),
        Err(error @ BackendError::Unavailable { .. }) => {
            if std::env::var("CPBUILD_REQUIRE_WGPU").as_deref() == Ok("1") {
                panic!("CPBUILD_REQUIRE_WGPU=1 but {error}");
            }
            eprintln!("skipped: {error} (set CPBUILD_REQUIRE_WGPU=1 to make this a failure)");
            None
        }
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn wgpu_training_matches_ndarray_from_the_same_initial_weights() {
    let Some(wgpu) = wgpu_or_skip() else {
        return;
    };
    eprintln!("backend: {wgpu}");
    let ndarray = resolve(BackendChoice::NdArray).expect("always compiled in");
    let reference = with_backend(&ndarray, TrainRun).expect("trains on ndarray");
    let first = with_backend(&wgpu, TrainRun).expect("trains on wgpu");
    let second = with_backend(&wgpu, TrainRun).expect("trains on wgpu again");
    eprintln!(
        "seconds: ndarray {:.2}, wgpu {:.2} and {:.2} ({EPOCHS} steps and evaluations each)",
        reference.seconds, first.seconds, second.seconds
    );

    let (initial_difference, _) = max_parameter_difference(&first.initial, &reference.initial);
    assert_eq!(
        initial_difference, 0.0,
        "the initial trainable parameters differ between wgpu and ndarray"
    );

    assert_eq!(first.results.len(), EPOCHS as usize);
    assert_eq!(reference.results.len(), EPOCHS as usize);
    let mut worst = 0.0f64;
    for (ours, theirs) in first.results.iter().zip(&reference.results) {
        let columns = [
            ("train loss", ours.train_loss, theirs.train_loss),
            ("test loss", ours.test_loss, theirs.test_loss),
            ("rho", ours.behavioral_rsa_rho, theirs.behavioral_rsa_rho),
        ];
        for (name, wgpu_value, ndarray_value) in columns {
            let error = relative(wgpu_value, ndarray_value);
            eprintln!(
                "epoch {} {name}: wgpu {wgpu_value:.9} ndarray {ndarray_value:.9} relative \
                 difference {error:.2e}",
                ours.epoch
            );
            worst = worst.max(error);
            assert!(
                error <= RELATIVE_TOLERANCE,
                "epoch {} {name}: wgpu {wgpu_value} vs ndarray {ndarray_value}: relative \
                 difference {error:.2e} > {RELATIVE_TOLERANCE:e}",
                ours.epoch
            );
        }
    }
    let (parameter_difference, parameter_scale) =
        max_parameter_difference(&first.last, &reference.last);
    eprintln!(
        "worst relative loss/rho difference {worst:.2e}; trained parameters: max |wgpu − ndarray| \
         {parameter_difference:.2e} (max |ndarray| {parameter_scale:.2e})"
    );
    assert!(
        reference.results[0].train_loss > reference.results[EPOCHS as usize - 1].train_loss,
        "training should lower the loss"
    );

    let repeatable = bits(&first.results) == bits(&second.results)
        && max_parameter_difference(&first.last, &second.last).0 == 0.0;
    eprintln!("wgpu run-to-run bitwise identical: {repeatable}");
    // For comparing runs across processes.
    eprintln!("wgpu result bits: {:x?}", bits(&first.results));
}

#[test]
fn auto_says_what_it_picked_and_why() {
    let resolved = resolve(BackendChoice::Auto).expect("auto never fails");
    eprintln!("{resolved}");
    let reason = resolved.reason();
    assert!(reason.starts_with("auto: "), "{reason}");
    assert!(
        reason.contains(&format!("using `{}`", resolved.kind())),
        "{reason}"
    );
}
