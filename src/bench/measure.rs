//! Timing the real [`Trainer`] on one backend: [`Measure`] is the generic code that
//! [`cpbuild_ml::backend::with_backend`] runs, and [`Measurements`] what it found.
//!
//! Every number comes from the trainer `train-hba` uses, not from a copy of its loop. A
//! [`Clock`] observer timestamps an epoch: the first batch (what came before it is the
//! frozen-prefix cache, when the epoch builds it), the end of the last optimizer step, and
//! the first poll of the evaluation (before it: the label features). The device is synchronised
//! at each timestamp and nowhere else, so the steps in between run as they do in training.
//!
//! Each path trains one warm-up epoch (kernel compilation and autotuning on a GPU; the cache)
//! and then one timed epoch of the same shapes. The full path's evaluation is cancelled at its
//! first poll: only its training steps are reported.

use std::cell::Cell;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use cpbuild_ml::backend::BackendFn;
use cpbuild_ml::train::{TrainConfig, TrainData, TrainError, TrainObserver, Trainer, random_clip};
use cpbuild_ml::{ClipHba, ClipHbaConfig};

/// What one timed epoch took, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochTiming {
    /// From the call to the first training batch: building the frozen-prefix cache, when the
    /// epoch builds it (else next to nothing).
    pub setup: f64,
    /// The training steps.
    pub train: f64,
    /// Images trained on.
    pub train_images: usize,
    /// The label features before evaluating (`None` if the epoch ended before).
    pub label_features: Option<f64>,
    /// The test loss and RSA images after that (`None` when evaluation was skipped).
    pub evaluation: Option<f64>,
    /// Images evaluated (test and RSA).
    pub evaluated_images: usize,
    /// The whole epoch, call to return.
    pub total: f64,
}

impl EpochTiming {
    /// Training images per second.
    pub fn train_rate(&self) -> f64 {
        self.train_images as f64 / self.train.max(f64::MIN_POSITIVE)
    }
}

/// The frozen prefixes computed on their own, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrefixTiming {
    /// The text tower below its adapted block, over the label prompts.
    pub text: f64,
    /// The vision tower below its adapted blocks, per image (timed on one batch).
    pub vision_per_image: f64,
}

/// A real paper-scale epoch (`--full-epoch`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperEpoch {
    /// The first epoch; its setup is the frozen-prefix cache of the whole pool and the RSA
    /// images, which every run computes once.
    pub first: EpochTiming,
    /// The second epoch: one epoch of training.
    pub timed: EpochTiming,
}

/// Everything [`Measure`] timed.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurements {
    /// Drawing the random CLIP and putting it on the device.
    pub weights: f64,
    /// The full (uncached) path's timed epoch (evaluation skipped).
    pub full: EpochTiming,
    /// The cached path's warm-up epoch (its setup builds the cache of the small pool).
    pub cached_warmup: EpochTiming,
    /// The cached path's timed epoch.
    pub cached: EpochTiming,
    /// The frozen prefixes on their own.
    pub prefix: PrefixTiming,
    /// A real paper-scale epoch, when asked for.
    pub paper_epoch: Option<PaperEpoch>,
}

/// The generic measurement, run on the resolved backend by `with_backend`.
pub struct Measure<'a> {
    /// The model as `train-hba` trains it.
    pub hba: &'a ClipHbaConfig,
    /// Timed steps per epoch of the throughput runs.
    pub steps: usize,
    /// Images per batch.
    pub batch: usize,
    /// The throughput runs' data: `steps × batch` training and `batch` test images, and a few
    /// RSA images.
    pub small: &'a TrainData,
    /// The paper-scale data (1,806 pool and 48 RSA images), for a real epoch.
    pub paper: Option<&'a TrainData>,
    /// Where to say what is being timed.
    pub progress: &'a dyn Fn(&str),
}

impl BackendFn<Result<Measurements, String>> for Measure<'_> {
    fn call<B: AutodiffBackend>(self, device: B::Device) -> Result<Measurements, String> {
        let progress = self.progress;
        progress("drawing the random CLIP's weights");
        let started = Instant::now();
        let clip = random_clip::<B>(&self.hba.clip, 0, &device).map_err(|e| e.to_string())?;
        sync::<B>(&device)?;
        let weights = started.elapsed().as_secs_f64();

        let small_rsa = self.small.rsa_len();
        let small_config = TrainConfig {
            train_size: self.steps * self.batch,
            test_size: self.batch,
            batch_size: self.batch,
            ..TrainConfig::paper(0)
        };
        let trainer = |cached: bool, config: &TrainConfig, data: &TrainData| {
            Trainer::new(config.clone(), self.hba, clip.clone(), data, &device)
                .map(|trainer| trainer.with_prefix_cache(cached))
                .map_err(|e| e.to_string())
        };

        progress("full path: warm-up epoch");
        let mut full = trainer(false, &small_config, self.small)?;
        timed_epoch(&mut full, &device, true, small_rsa)?;
        progress("full path: timed epoch");
        let full_timing = timed_epoch(&mut full, &device, true, small_rsa)?;
        drop(full);

        progress("cached path: warm-up epoch (builds the cache)");
        let mut cached = trainer(true, &small_config, self.small)?;
        let cached_warmup = timed_epoch(&mut cached, &device, false, small_rsa)?;
        progress("cached path: timed epoch");
        let cached_timing = timed_epoch(&mut cached, &device, false, small_rsa)?;
        progress("frozen prefixes");
        let prefix = prefix_timing(&cached.model().valid(), self.small, self.batch, &device)?;
        drop(cached);

        let paper_epoch = match self.paper {
            None => None,
            Some(data) => {
                let config = TrainConfig {
                    batch_size: self.batch,
                    ..TrainConfig::paper(0)
                };
                progress("paper-scale epoch 1 (builds the cache)");
                let mut run = trainer(true, &config, data)?;
                let first = timed_epoch(&mut run, &device, false, data.rsa_len())?;
                progress("paper-scale epoch 2");
                let timed = timed_epoch(&mut run, &device, false, data.rsa_len())?;
                Some(PaperEpoch { first, timed })
            }
        };
        Ok(Measurements {
            weights,
            full: full_timing,
            cached_warmup,
            cached: cached_timing,
            prefix,
            paper_epoch,
        })
    }
}

fn sync<B: Backend>(device: &B::Device) -> Result<(), String> {
    B::sync(device).map_err(|error| format!("cannot synchronise the device: {error:?}"))
}

/// Trains one epoch of `trainer` (whose data has `rsa_images` RSA images) and times it with a
/// [`Clock`]; with `skip_evaluation`, the evaluation is cancelled at its first poll.
fn timed_epoch<B: AutodiffBackend>(
    trainer: &mut Trainer<B>,
    device: &B::Device,
    skip_evaluation: bool,
    rsa_images: usize,
) -> Result<EpochTiming, String> {
    sync::<B>(device)?;
    let mut clock = Clock::<B> {
        device: device.clone(),
        skip_evaluation,
        started: Instant::now(),
        first_batch: Cell::new(None),
        train_end: None,
        evaluation_start: Cell::new(None),
        error: Cell::new(None),
    };
    let outcome = trainer.train_epoch(&mut clock);
    sync::<B>(device)?;
    let end = Instant::now();
    if let Some(error) = clock.error.take() {
        return Err(error);
    }
    match outcome {
        Ok(_) => {}
        Err(TrainError::Cancelled) if skip_evaluation && clock.train_end.is_some() => {}
        Err(error) => return Err(error.to_string()),
    }
    let (Some(first_batch), Some(train_end)) = (clock.first_batch.get(), clock.train_end) else {
        return Err("the epoch trained no batch".to_string());
    };
    let seconds = |from: Instant, to: Instant| to.duration_since(from).as_secs_f64();
    let evaluation_start = clock.evaluation_start.get();
    let config = trainer.config();
    Ok(EpochTiming {
        setup: seconds(clock.started, first_batch),
        train: seconds(first_batch, train_end),
        train_images: config.train_size,
        label_features: evaluation_start.map(|start| seconds(train_end, start)),
        evaluation: evaluation_start
            .filter(|_| !skip_evaluation)
            .map(|start| seconds(start, end)),
        evaluated_images: config.test_size + rsa_images,
        total: seconds(clock.started, end),
    })
}

/// Timestamps an epoch through the trainer's observer hooks (see the module doc).
struct Clock<B: Backend> {
    device: B::Device,
    skip_evaluation: bool,
    started: Instant,
    first_batch: Cell<Option<Instant>>,
    train_end: Option<Instant>,
    evaluation_start: Cell<Option<Instant>>,
    error: Cell<Option<String>>,
}

impl<B: Backend> Clock<B> {
    /// Now, after the device finished what was queued.
    fn synchronised_now(&self) -> Instant {
        if let Err(error) = sync::<B>(&self.device) {
            self.error.set(Some(error));
        }
        Instant::now()
    }
}

impl<B: Backend> TrainObserver for Clock<B> {
    fn cancelled(&self) -> bool {
        if self.train_end.is_none() {
            // Polled before every training batch; the first poll ends the setup.
            if self.first_batch.get().is_none() {
                self.first_batch.set(Some(self.synchronised_now()));
            }
            return false;
        }
        // Polled before every test batch.
        if self.evaluation_start.get().is_none() {
            self.evaluation_start.set(Some(self.synchronised_now()));
        }
        self.skip_evaluation
    }

    fn batch_finished(&mut self, batch: usize, batches: usize) {
        if batch + 1 == batches {
            self.train_end = Some(self.synchronised_now());
        }
    }
}

/// Times the frozen prefixes on their own: the text tower's over the labels, and the vision
/// tower's over one batch of pool images (the chunk size the cache uses, so the kernels are
/// the warmed-up ones).
fn prefix_timing<B: Backend>(
    model: &ClipHba<B>,
    data: &TrainData,
    batch: usize,
    device: &B::Device,
) -> Result<PrefixTiming, String> {
    let count = batch.min(data.pool_len()).max(1);
    let size = data.image_size;
    let images = Tensor::<B, 4>::from_data(
        TensorData::new(
            data.pool_images[..count * data.image_len()].to_vec(),
            [count, 3, size, size],
        ),
        device,
    );
    sync::<B>(device)?;
    let started = Instant::now();
    force(model.text_prefix());
    sync::<B>(device)?;
    let text = started.elapsed().as_secs_f64();
    let started = Instant::now();
    force(model.vision_prefix(images));
    sync::<B>(device)?;
    let vision = started.elapsed().as_secs_f64();
    Ok(PrefixTiming {
        text,
        vision_per_image: vision / count as f64,
    })
}

/// Makes sure a lazily executed tensor is computed (one scalar read back).
fn force<B: Backend>(tensor: Tensor<B, 3>) {
    let _: f32 = tensor.sum().into_scalar().elem();
}
