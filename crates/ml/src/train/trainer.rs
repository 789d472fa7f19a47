//! [`Trainer`]: the training loop of `docs/protocol.md`, "Training", with perturbation windows,
//! per-epoch state, exact resume and the frozen-prefix cache.
//!
//! One epoch `k`: the batches of [`epoch_batches`]`(train, batch_size, seed, k)`; per batch the
//! targets (and for image perturbations the pixels) are replaced as the active perturbation
//! says, drawing from streams keyed by (perturbation seed, k, batch index); MSE (mean) →
//! backward → AdamW step on the DoRA parameters only. Then, on the non-autodiff backend: the
//! test loss over the test split in order, and behavioural RSA of the predictions for the RSA
//! images against the human RDM. Losses are Σ(batch loss × batch size) / N, summed in f64 in
//! batch order. Early stopping sees the test loss.

use std::path::Path;

use burn::module::{AutodiffModule, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::record::AdaptorRecord;
use burn::optim::{
    AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, GradientsParams, Optimizer,
};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};

use super::prefix::PrefixCache;
use super::state::{EpochState, Moments};
use super::{TrainConfig, TrainData, TrainError};
use crate::early_stopping::EarlyStopping;
use crate::epochs::{
    EpochLoop, HostTensor, TrainObserver, device_tensor, host, load_resumable, run_epochs,
    weighted_sum,
};
use crate::hba::ImageInput;
use crate::perturbation::{Perturbation, PerturbationKind};
use crate::results::{EpochResult, to_csv};
use crate::rsa::behavioral_rsa;
use crate::split::{Split, epoch_batches};
use crate::streams::{Purpose, stream};
use crate::{ClipHba, ClipHbaConfig, ClipModel, DoraAdapters, DoraLinear};

type AdamWOptimizer<B> = OptimizerAdaptor<AdamW, DoraAdapters<B>, B>;
type OptimizerRecord<B> = <AdamWOptimizer<B> as Optimizer<DoraAdapters<B>, B>>::Record;

/// A training run of CLIP-HBA on backend `B` (with autodiff).
pub struct Trainer<B: AutodiffBackend> {
    config: TrainConfig,
    model: ClipHba<B>,
    optimizer: AdamWOptimizer<B>,
    device: B::Device,
    split: Split,
    pool_images: Tensor<B::InnerBackend, 4>,
    pool_targets: Vec<f32>,
    labels: usize,
    image_size: usize,
    rsa_images: Tensor<B::InnerBackend, 4>,
    human_rdm: Vec<f64>,
    early_stopping: EarlyStopping,
    stopped: bool,
    results: Vec<EpochResult>,
    epoch: u32,
    use_prefix_cache: bool,
    cache: Option<PrefixCache<B::InnerBackend>>,
}

impl<B: AutodiffBackend> Trainer<B> {
    /// A fresh run at epoch 0: the split from `config.seed`, DoRA initialised from the frozen
    /// `clip` with stream (seed, DoraInit, 0, 0), no optimizer state. The prefix cache is on.
    pub fn new(
        config: TrainConfig,
        hba: &ClipHbaConfig,
        clip: ClipModel<B>,
        data: &TrainData,
        device: &B::Device,
    ) -> Result<Trainer<B>, TrainError> {
        config.validate()?;
        data.validate()?;
        if data.image_size != hba.clip.vision.image_size {
            return Err(TrainError::Data {
                message: format!(
                    "images are {0}×{0} but the model takes {1}×{1}",
                    data.image_size, hba.clip.vision.image_size
                ),
            });
        }
        let split = Split::draw(
            data.pool_len(),
            config.train_size,
            config.test_size,
            config.seed,
        )
        .map_err(|message| TrainError::Config { message })?;
        let labels = data.labels();
        let label_ids = Tensor::<B, 2, Int>::from_data(
            TensorData::new(data.label_ids.clone(), [labels, data.context]),
            device,
        );
        let mut rng = stream(config.seed, Purpose::DoraInit, 0, 0);
        let model = hba.init_from_pretrained(clip, label_ids, &mut rng)?;
        let size = data.image_size;
        let pool_images = Tensor::from_data(
            TensorData::new(data.pool_images.clone(), [data.pool_len(), 3, size, size]),
            device,
        );
        let rsa_images = Tensor::from_data(
            TensorData::new(data.rsa_images.clone(), [data.rsa_len(), 3, size, size]),
            device,
        );
        let optimizer = AdamWConfig::new()
            .with_beta_1(config.beta_1)
            .with_beta_2(config.beta_2)
            .with_epsilon(config.epsilon)
            .with_weight_decay(config.weight_decay)
            .init();
        Ok(Trainer {
            early_stopping: fresh_early_stopping(&config),
            config,
            model,
            optimizer,
            device: device.clone(),
            split,
            pool_images,
            pool_targets: data.pool_targets.clone(),
            labels,
            image_size: size,
            rsa_images,
            human_rdm: data.human_rdm.clone(),
            stopped: false,
            results: Vec::new(),
            epoch: 0,
            use_prefix_cache: true,
            cache: None,
        })
    }

    /// A run continuing from the state saved in `state_dir` (an `e####` directory). `config`
    /// may differ from the saved run's only where [`crate::epochs::RunConfig::check_resumable`] allows (a
    /// perturbed run continuing a baseline); `clip` and `data` must be the saved run's.
    pub fn resume(
        config: TrainConfig,
        hba: &ClipHbaConfig,
        clip: ClipModel<B>,
        data: &TrainData,
        device: &B::Device,
        state_dir: &Path,
    ) -> Result<Trainer<B>, TrainError> {
        let state = load_resumable::<EpochState>(state_dir, &config)?;
        let mut trainer = Trainer::new(config, hba, clip, data, device)?;
        trainer.load_state(state, state_dir)?;
        Ok(trainer)
    }

    /// Turns the frozen-prefix cache on or off (on by default). Results are bitwise the same.
    pub fn with_prefix_cache(mut self, on: bool) -> Self {
        self.use_prefix_cache = on;
        if !on {
            self.cache = None;
        }
        self
    }

    /// The run's config.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Epochs completed (0 before training).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The results rows so far.
    pub fn results(&self) -> &[EpochResult] {
        &self.results
    }

    /// The results CSV so far (with the four `used_…` columns for perturbed runs).
    pub fn results_csv(&self) -> String {
        to_csv(&self.results, self.config.perturbation.is_some())
    }

    /// The train/test split of the pool.
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// The early-stopping state.
    pub fn early_stopping(&self) -> &EarlyStopping {
        &self.early_stopping
    }

    /// The model (frozen CLIP and the current adapters).
    pub fn model(&self) -> &ClipHba<B> {
        &self.model
    }

    /// Whether the run is over: stopped early, or at its last epoch.
    pub fn is_finished(&self) -> bool {
        self.stop_reason().is_some()
    }

    /// Why the run is over, or `None` while it goes on.
    pub fn stop_reason(&self) -> Option<StopReason> {
        StopReason::of(&self.config, self.epoch, self.stopped)
    }

    /// Trains until [`Self::is_finished`]. With `epochs_root`, saves the starting state (if not
    /// there yet) and the state after every epoch as `epochs_root/e####/`.
    pub fn run(
        &mut self,
        epochs_root: Option<&Path>,
        observer: &mut dyn TrainObserver,
    ) -> Result<(), TrainError> {
        run_epochs(self, epochs_root, observer)
    }

    /// Trains, evaluates and records one epoch (`self.epoch() + 1`).
    pub fn train_epoch(
        &mut self,
        observer: &mut dyn TrainObserver,
    ) -> Result<EpochResult, TrainError> {
        let epoch = self.epoch + 1;
        let perturbation = self.config.perturbation.filter(|p| p.active(epoch));
        if self.use_prefix_cache && self.cache.is_none() {
            let model = self.model.valid();
            self.cache = Some(PrefixCache::compute(
                &model,
                &self.pool_images,
                &self.rsa_images,
                self.config.batch_size,
            ));
        }
        let batches = epoch_batches(
            self.split.train.len(),
            self.config.batch_size,
            self.config.seed,
            epoch,
        );
        // Each batch's loss stays on the device until the epoch ends: one read back per epoch,
        // summed on the host in f64 in batch order.
        let mut losses = Vec::with_capacity(batches.len());
        for (batch_index, batch) in batches.iter().enumerate() {
            if observer.cancelled() {
                return Err(TrainError::Cancelled);
            }
            let rows: Vec<usize> = batch.iter().map(|&i| self.split.train[i]).collect();
            let batch_key = batch_index as u64;
            let targets = self.batch_targets(&rows, perturbation.as_ref(), epoch, batch_key);
            let images = self.batch_images(&rows, perturbation.as_ref(), epoch, batch_key);
            let text = self
                .cache
                .as_ref()
                .map(|cache| Tensor::from_inner(cache.text.clone()));
            let predictions = self.model.forward_from(images, text); // [batch, labels]
            let loss = (predictions - targets).powi_scalar(2).mean(); // [1]
            losses.push(loss.clone().inner());
            let gradients = GradientsParams::from_grads(loss.backward(), &self.model.adapters);
            self.model.adapters = self.optimizer.step(
                self.config.learning_rate,
                self.model.adapters.clone(),
                gradients,
            );
            observer.batch_finished(batch_index, batches.len());
        }
        let sizes = batches.iter().map(Vec::len);
        let train_loss = weighted_sum(losses, sizes)? / self.split.train.len() as f64;
        let (test_loss, rho, p_value) = self.evaluate(observer)?;
        self.epoch = epoch;
        let row = EpochResult {
            epoch,
            train_loss,
            test_loss,
            behavioral_rsa_rho: rho,
            behavioral_rsa_p_value: p_value,
            perturbation: perturbation.map(|p| p.kind),
        };
        self.results.push(row.clone());
        self.stopped = self.early_stopping.update(epoch, test_loss);
        Ok(row)
    }

    /// The batch's targets, `[rows, labels]`, as the active perturbation leaves them.
    fn batch_targets(
        &self,
        rows: &[usize],
        perturbation: Option<&Perturbation>,
        epoch: u32,
        batch: u64,
    ) -> Tensor<B, 2> {
        let labels = self.labels;
        let row_of = |row: usize| &self.pool_targets[row * labels..(row + 1) * labels];
        let values: Vec<f32> = match perturbation.map(|p| (p, p.kind)) {
            Some((p, PerturbationKind::RandomTarget)) => {
                p.random_targets(epoch, batch, rows.len(), labels)
            }
            Some((p, PerturbationKind::LabelShuffle)) => p
                .label_permutation(epoch, batch, rows.len())
                .into_iter()
                .flat_map(|source| row_of(rows[source]).iter().copied())
                .collect(),
            _ => rows
                .iter()
                .flat_map(|&row| row_of(row).iter().copied())
                .collect(),
        };
        Tensor::from_data(TensorData::new(values, [rows.len(), labels]), &self.device)
    }

    /// What the vision tower starts from for the batch: the cached prefix, or pixels (always
    /// for perturbations that change images, which bypass the cache while active).
    fn batch_images(
        &self,
        rows: &[usize],
        perturbation: Option<&Perturbation>,
        epoch: u32,
        batch: u64,
    ) -> ImageInput<B> {
        let size = self.image_size;
        let shape = [rows.len(), 3, size, size];
        match perturbation.map(|p| (p, p.kind)) {
            Some((p, PerturbationKind::ImageNoise)) => {
                let noise = p.image_noise(epoch, batch, rows.len() * 3 * size * size);
                ImageInput::Pixels(Tensor::from_data(
                    TensorData::new(noise, shape),
                    &self.device,
                ))
            }
            Some((_, PerturbationKind::UniformImages)) => {
                ImageInput::Pixels(Tensor::full(shape, 0.5, &self.device))
            }
            _ => {
                let index = self.index(rows);
                match &self.cache {
                    Some(cache) => {
                        ImageInput::Prefix(Tensor::from_inner(cache.pool.clone().select(0, index)))
                    }
                    None => ImageInput::Pixels(Tensor::from_inner(
                        self.pool_images.clone().select(0, index),
                    )),
                }
            }
        }
    }

    fn index(&self, rows: &[usize]) -> Tensor<B::InnerBackend, 1, Int> {
        let values: Vec<i64> = rows.iter().map(|&row| row as i64).collect();
        Tensor::from_data(TensorData::new(values, [rows.len()]), &self.device)
    }

    /// Test loss, RSA ρ and its p-value, on the backend without autodiff.
    fn evaluate(&self, observer: &dyn TrainObserver) -> Result<(f64, f64, f64), TrainError> {
        let model = self.model.valid();
        let text = model.label_features(self.cache.as_ref().map(|cache| cache.text.clone()));
        let batch_size = self.config.batch_size;
        let mut losses = Vec::new();
        for rows in self.split.test.chunks(batch_size) {
            if observer.cancelled() {
                return Err(TrainError::Cancelled);
            }
            let index = self.index(rows);
            let images = match &self.cache {
                Some(cache) => ImageInput::Prefix(cache.pool.clone().select(0, index)),
                None => ImageInput::Pixels(self.pool_images.clone().select(0, index)),
            };
            let labels = self.labels;
            let targets: Vec<f32> = rows
                .iter()
                .flat_map(|&row| {
                    self.pool_targets[row * labels..(row + 1) * labels]
                        .iter()
                        .copied()
                })
                .collect();
            let targets =
                Tensor::from_data(TensorData::new(targets, [rows.len(), labels]), &self.device);
            let predictions = model.scores(model.image_features(images), text.clone()); // [batch, labels]
            let loss = (predictions - targets).powi_scalar(2).mean();
            losses.push(loss);
        }
        let sizes = self.split.test.chunks(batch_size).map(<[usize]>::len);
        let test_loss = weighted_sum(losses, sizes)? / self.split.test.len() as f64;

        let [rsa_count, ..] = self.rsa_images.dims();
        let mut predictions: Vec<Vec<f64>> = Vec::with_capacity(rsa_count);
        for start in (0..rsa_count).step_by(batch_size) {
            let length = batch_size.min(rsa_count - start);
            let images = match &self.cache {
                Some(cache) => ImageInput::Prefix(cache.rsa.clone().narrow(0, start, length)),
                None => ImageInput::Pixels(self.rsa_images.clone().narrow(0, start, length)),
            };
            let scores = model.scores(model.image_features(images), text.clone()); // [batch, labels]
            let values = host(scores)?.values;
            predictions.extend(
                values
                    .chunks(self.labels)
                    .map(|row| row.iter().map(|&value| f64::from(value)).collect()),
            );
        }
        let (rho, p_value) = behavioral_rsa(&predictions, &self.human_rdm)?;
        Ok((test_loss, rho, p_value))
    }

    /// The state after the current epoch, on the host.
    pub fn to_state(&self) -> Result<EpochState, TrainError> {
        let record = self.optimizer.to_record();
        let mut params = std::collections::BTreeMap::new();
        let mut moments = std::collections::BTreeMap::new();
        for (name, adapter) in named_adapters(&self.model.adapters) {
            let magnitude = format!("{name}.magnitude");
            let lora_a = format!("{name}.lora_a");
            let lora_b = format!("{name}.lora_b");
            if let Some(state) = moments_of::<B, 1>(&record, &adapter.magnitude.id)? {
                moments.insert(magnitude.clone(), state);
            }
            if let Some(state) = moments_of::<B, 2>(&record, &adapter.lora_a.id)? {
                moments.insert(lora_a.clone(), state);
            }
            if let Some(state) = moments_of::<B, 2>(&record, &adapter.lora_b.id)? {
                moments.insert(lora_b.clone(), state);
            }
            params.insert(magnitude, host(adapter.magnitude.val().inner())?);
            params.insert(lora_a, host(adapter.lora_a.val().inner())?);
            params.insert(lora_b, host(adapter.lora_b.val().inner())?);
        }
        Ok(EpochState {
            epoch: self.epoch,
            config: self.config.clone(),
            params,
            moments,
            early_stopping: self.early_stopping.clone(),
            stopped: self.stopped,
            results: self.results.clone(),
        })
    }

    /// Replaces the adapters, the optimizer state and the bookkeeping with `state`'s.
    fn load_state(&mut self, state: EpochState, dir: &Path) -> Result<(), TrainError> {
        let invalid = |message: String| TrainError::State {
            path: dir.to_path_buf(),
            message,
        };
        let mut params = state.params;
        let mut moments = state.moments;
        let mut record: OptimizerRecord<B> = Default::default();
        let names: Vec<String> = named_adapters(&self.model.adapters)
            .map(|(name, _)| name)
            .collect();
        let adapters = self
            .model
            .adapters
            .vision
            .iter_mut()
            .chain(self.model.adapters.text.iter_mut());
        for (name, adapter) in names.iter().zip(adapters) {
            let device = &self.device;
            let mut take = |field: &str, shape: Vec<usize>| {
                let key = format!("{name}.{field}");
                let tensor = params
                    .remove(&key)
                    .ok_or_else(|| invalid(format!("parameter `{key}` is missing")))?;
                if tensor.shape != shape {
                    return Err(invalid(format!(
                        "parameter `{key}` has shape {:?}, the model needs {shape:?}",
                        tensor.shape
                    )));
                }
                let state = moments.remove(&key);
                Ok::<_, TrainError>((tensor, state))
            };
            let (values, state) = take("magnitude", adapter.magnitude.dims().to_vec())?;
            adapter.magnitude = trainable::<B, 1>(values, device);
            insert_moments::<B, 1>(&mut record, &adapter.magnitude.id, state, device);
            let (values, state) = take("lora_a", adapter.lora_a.dims().to_vec())?;
            adapter.lora_a = trainable::<B, 2>(values, device);
            insert_moments::<B, 2>(&mut record, &adapter.lora_a.id, state, device);
            let (values, state) = take("lora_b", adapter.lora_b.dims().to_vec())?;
            adapter.lora_b = trainable::<B, 2>(values, device);
            insert_moments::<B, 2>(&mut record, &adapter.lora_b.id, state, device);
        }
        if let Some(extra) = params.keys().chain(moments.keys()).next() {
            return Err(invalid(format!(
                "`{extra}` is not a parameter of this model"
            )));
        }
        self.optimizer = self.optimizer.clone().load_record(record);
        // A perturbed run continuing a baseline's state starts its own early-stopping state at
        // its first perturbed epoch (docs/protocol.md, "Early stopping in a perturbed run");
        // a run resumed from its own state (a baseline, or a longer perturbed run continuing a
        // shorter one) keeps the saved state, so it stops where an uninterrupted run would.
        let starts_perturbed_run =
            state.config.perturbation.is_none() && self.config.perturbation.is_some();
        if starts_perturbed_run {
            self.early_stopping = fresh_early_stopping(&self.config);
            self.stopped = false;
        } else {
            self.early_stopping = state.early_stopping;
            self.stopped = state.stopped;
        }
        self.results = state.results;
        self.epoch = state.epoch;
        Ok(())
    }
}

impl<B: AutodiffBackend> EpochLoop for Trainer<B> {
    type Row = EpochResult;

    fn epochs_done(&self) -> u32 {
        self.epoch
    }

    fn finished(&self) -> bool {
        self.is_finished()
    }

    fn save_state(&self, dir: &Path) -> Result<(), TrainError> {
        self.to_state()?.save(dir)
    }

    fn next_epoch(&mut self, observer: &mut dyn TrainObserver) -> Result<EpochResult, TrainError> {
        self.train_epoch(observer)
    }
}

/// A fresh early-stopping state for `config`: a baseline's, or a perturbed run's that does not
/// count the epochs of its window.
fn fresh_early_stopping(config: &TrainConfig) -> EarlyStopping {
    match &config.perturbation {
        Some(window) => EarlyStopping::for_window(config.patience, window.start, window.end()),
        None => EarlyStopping::new(config.patience),
    }
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Early stopping: the patience ran out.
    EarlyStopping,
    /// The epoch limit `max_epochs` (a safety cap: the run had not plateaued).
    EpochLimit,
    /// `stop_after_epoch`: a demand-driven run trained as far as its figure needs.
    StopAfterEpoch,
}

impl StopReason {
    /// Why a run with `config`, `epoch` epochs trained and early stopping saying `stopped`,
    /// is over; `None` while it goes on.
    pub fn of(config: &TrainConfig, epoch: u32, stopped: bool) -> Option<StopReason> {
        if stopped {
            Some(StopReason::EarlyStopping)
        } else if epoch >= config.max_epochs {
            Some(StopReason::EpochLimit)
        } else if config.stop_after_epoch.is_some_and(|stop| epoch >= stop) {
            Some(StopReason::StopAfterEpoch)
        } else {
            None
        }
    }

    /// The name recorded in a run's bundle (`early_stopping`, `epoch_limit`,
    /// `stop_after_epoch`).
    pub fn name(self) -> &'static str {
        match self {
            StopReason::EarlyStopping => "early_stopping",
            StopReason::EpochLimit => "epoch_limit",
            StopReason::StopAfterEpoch => "stop_after_epoch",
        }
    }
}

/// `("vision.<block>", adapter)` then `("text.<block>", adapter)`.
fn named_adapters<B: Backend>(
    adapters: &DoraAdapters<B>,
) -> impl Iterator<Item = (String, &DoraLinear<B>)> {
    let vision = adapters
        .vision
        .iter()
        .zip(&adapters.vision_layers)
        .map(|(adapter, layer)| (format!("vision.{layer}"), adapter));
    let text = adapters
        .text
        .iter()
        .zip(&adapters.text_layers)
        .map(|(adapter, layer)| (format!("text.{layer}"), adapter));
    vision.chain(text)
}

fn trainable<B: AutodiffBackend, const D: usize>(
    tensor: HostTensor,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(device_tensor::<B, D>(tensor, device))
}

fn moments_of<B: AutodiffBackend, const D: usize>(
    record: &OptimizerRecord<B>,
    id: &ParamId,
) -> Result<Option<Moments>, TrainError> {
    let Some(entry) = record.get(id) else {
        return Ok(None);
    };
    let state: AdamWState<B::InnerBackend, D> = entry.clone().into_state::<D>();
    let momentum = state.momentum;
    Ok(Some(Moments {
        step: momentum.time,
        moment_1: host(momentum.moment_1)?,
        moment_2: host(momentum.moment_2)?,
    }))
}

fn insert_moments<B: AutodiffBackend, const D: usize>(
    record: &mut OptimizerRecord<B>,
    id: &ParamId,
    state: Option<Moments>,
    device: &B::Device,
) {
    if let Some(state) = state {
        let momentum = AdaptiveMomentumState::new(
            state.step,
            device_tensor::<B::InnerBackend, D>(state.moment_1, device),
            device_tensor::<B::InnerBackend, D>(state.moment_2, device),
        );
        record.insert(
            *id,
            AdaptorRecord::from_state::<D>(AdamWState::new(momentum)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perturbation::{ImageNoise, Perturbation, PerturbationKind};

    /// The epoch at which a run with `config` ends on the test losses `loss(epoch)`, and why:
    /// the trainer's own stop decision ([`StopReason::of`] over [`fresh_early_stopping`]),
    /// without training.
    fn run_on(config: &TrainConfig, first: u32, loss: impl Fn(u32) -> f64) -> (u32, StopReason) {
        let mut state = fresh_early_stopping(config);
        let mut epoch = first - 1;
        let mut stopped = false;
        loop {
            if let Some(reason) = StopReason::of(config, epoch, stopped) {
                return (epoch, reason);
            }
            epoch += 1;
            stopped = state.update(epoch, loss(epoch));
        }
    }

    fn window(start: u32, length: u32) -> Perturbation {
        Perturbation {
            kind: PerturbationKind::RandomTarget,
            start,
            length,
            seed: 0,
            target_mean: 0.0,
            target_std: 1.0,
            noise: ImageNoise::Target,
            noise_std: 1.0,
        }
    }

    #[test]
    fn the_epoch_limit_ends_a_run_that_never_plateaus() {
        let config = TrainConfig {
            perturbation: Some(window(10, 5)),
            ..TrainConfig::paper(0)
        };
        assert_eq!(
            run_on(&config, 10, |epoch| 1000.0 - f64::from(epoch)),
            (500, StopReason::EpochLimit)
        );
    }

    #[test]
    fn a_perturbed_run_stops_patience_epochs_after_its_window_at_the_earliest() {
        // A 40-epoch window from epoch 10 with the loss rising all the way: the paper's
        // patience (20) would stop a baseline at epoch 30, inside the window; the perturbed
        // rule counts from epoch 50 on and stops at 69.
        let config = TrainConfig {
            perturbation: Some(window(10, 40)),
            ..TrainConfig::paper(0)
        };
        assert_eq!(
            run_on(&config, 10, f64::from),
            (69, StopReason::EarlyStopping)
        );
        let baseline = TrainConfig::paper(0);
        assert_eq!(
            run_on(&baseline, 10, f64::from),
            (30, StopReason::EarlyStopping)
        );
    }

    #[test]
    fn a_demand_driven_run_stops_at_its_epoch() {
        let config = TrainConfig {
            perturbation: Some(window(5, 1)),
            stop_after_epoch: Some(5),
            ..TrainConfig::paper(0)
        };
        assert_eq!(
            run_on(&config, 5, f64::from),
            (5, StopReason::StopAfterEpoch)
        );
    }
}
