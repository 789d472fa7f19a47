//! [`VitTrainer`]: the ViT baseline's training loop (`docs/protocol.md`, "The ViT baseline") with
//! the perturbation windows of CLIP-HBA, per-epoch state and exact resume.
//!
//! One epoch `k`: the batches of [`epoch_batches`]`(train, batch_size, seed, k)`; per batch the
//! labels (and for image perturbations the pixels) are replaced as the active perturbation says,
//! with draws keyed by (perturbation seed, k, batch index); cross-entropy (mean) → backward →
//! SGD step at [`VitTrainConfig::learning_rate_at`]`(k)`. Then, without autodiff: the
//! validation loss over the validation set in order, and RSA of the penultimate embeddings of
//! the RSA images against the human RDM. Losses are Σ(batch loss × batch size) / N in f64.
//!
//! Perturbations, read for a classifier:
//! - `random_target`: each label replaced by a uniform draw over the classes, one per image,
//!   from stream (perturbation seed, `RandomTarget`, k, batch) (the classification analogue of
//!   drawing targets from the training distribution's N(mean, std));
//! - `label_shuffle`: labels permuted within the batch ([`Perturbation::label_permutation`]);
//! - `image_noise`: each image replaced by N(0, ε²) noise in normalised pixel space, ε =
//!   `noise_std` (0.1 for the ViT) — replaced, as for CLIP-HBA, not added;
//! - `uniform_images`: every normalised pixel set to 0.5.

use std::path::Path;
use std::sync::Arc;

use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};

use super::config::VitTrainConfig;
use super::data::VitData;
use super::init::random_vit;
use super::model::{Vit, VitConfig};
use super::results::{VitEpochResult, vit_csv};
use super::sgd::Sgd;
use super::state::VitState;
use crate::epochs::{
    EpochLoop, HostTensor, TrainError, TrainObserver, load_resumable, run_epochs, weighted_sum,
};
use crate::named::{host, load_named_params, named_params};
use crate::perturbation::{Perturbation, PerturbationKind};
use crate::rsa::behavioral_rsa;
use crate::split::epoch_batches;
use crate::streams::{Purpose, below, stream};

/// A ViT training run on backend `B` (with autodiff).
pub struct VitTrainer<B: AutodiffBackend> {
    config: VitTrainConfig,
    model: Vit<B>,
    sgd: Sgd<B::InnerBackend>,
    device: B::Device,
    data: Arc<VitData>,
    rsa_images: Tensor<B::InnerBackend, 4>,
    results: Vec<VitEpochResult>,
    epoch: u32,
}

fn data_error(message: String) -> TrainError {
    TrainError::Data { message }
}

impl<B: AutodiffBackend> VitTrainer<B> {
    /// A fresh run at epoch 0: the model initialised from `config.seed` ([`random_vit`]), no
    /// momentum buffers.
    pub fn new(
        config: VitTrainConfig,
        model: &VitConfig,
        data: Arc<VitData>,
        device: &B::Device,
    ) -> Result<VitTrainer<B>, TrainError> {
        config
            .validate()
            .map_err(|message| TrainError::Config { message })?;
        data.validate().map_err(data_error)?;
        if data.image_size != model.image_size {
            return Err(data_error(format!(
                "images are {0}×{0} but the model takes {1}×{1}",
                data.image_size, model.image_size
            )));
        }
        if data.classes != model.num_classes {
            return Err(data_error(format!(
                "the data has {} classes but the model's head has {}",
                data.classes, model.num_classes
            )));
        }
        let vit = random_vit::<B>(model, config.seed, device)
            .map_err(|message| TrainError::Model(crate::Error::InvalidConfig { message }))?;
        let size = data.image_size;
        let rsa_images = Tensor::from_data(
            TensorData::new(data.rsa_images.clone(), [data.rsa_len(), 3, size, size]),
            device,
        );
        Ok(VitTrainer {
            sgd: Sgd::new(config.momentum, config.weight_decay),
            config,
            model: vit,
            device: device.clone(),
            data,
            rsa_images,
            results: Vec::new(),
            epoch: 0,
        })
    }

    /// A run continuing from the state saved in `state_dir` (an `e####` directory). `config`
    /// may differ from the saved run's only where [`crate::epochs::RunConfig::check_resumable`] allows.
    pub fn resume(
        config: VitTrainConfig,
        model: &VitConfig,
        data: Arc<VitData>,
        device: &B::Device,
        state_dir: &Path,
    ) -> Result<VitTrainer<B>, TrainError> {
        let state = load_resumable::<VitState>(state_dir, &config)?;
        let mut trainer = VitTrainer::new(config, model, data, device)?;
        let invalid = |message: String| TrainError::State {
            path: state_dir.to_path_buf(),
            message,
        };
        trainer.model = load_named_params(trainer.model, &state.params, device).map_err(invalid)?;
        let known = named_params(&trainer.model);
        let mut velocity = std::collections::BTreeMap::new();
        for (name, tensor) in state.velocity {
            let Some(param) = known.get(&name) else {
                return Err(invalid(format!(
                    "momentum buffer `{name}` belongs to no parameter"
                )));
            };
            if param.values.len() != tensor.values.len() {
                return Err(invalid(format!(
                    "momentum buffer `{name}` has {} values, the parameter {}",
                    tensor.values.len(),
                    param.values.len()
                )));
            }
            let count = tensor.values.len();
            velocity.insert(
                name,
                Tensor::from_data(TensorData::new(tensor.values, [count]), device),
            );
        }
        trainer.sgd.velocity = velocity;
        trainer.results = state.results;
        trainer.epoch = state.epoch;
        Ok(trainer)
    }

    /// The run's config.
    pub fn config(&self) -> &VitTrainConfig {
        &self.config
    }

    /// Epochs completed (0 before training).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The results rows so far.
    pub fn results(&self) -> &[VitEpochResult] {
        &self.results
    }

    /// The results CSV so far (with the four `used_…` columns for perturbed runs).
    pub fn results_csv(&self) -> String {
        vit_csv(&self.results, self.config.perturbation.is_some())
    }

    /// The model.
    pub fn model(&self) -> &Vit<B> {
        &self.model
    }

    /// Whether the run has reached its last epoch.
    pub fn is_finished(&self) -> bool {
        self.epoch >= self.config.last_epoch()
    }

    /// Trains until [`Self::is_finished`]. With `epochs_root`, saves the starting state (if not
    /// there yet) and the state after every epoch as `epochs_root/e####/`.
    pub fn run(
        &mut self,
        epochs_root: Option<&Path>,
        observer: &mut dyn TrainObserver<VitEpochResult>,
    ) -> Result<(), TrainError> {
        run_epochs(self, epochs_root, observer)
    }

    /// Trains, evaluates and records one epoch (`self.epoch() + 1`).
    pub fn train_epoch(
        &mut self,
        observer: &mut dyn TrainObserver<VitEpochResult>,
    ) -> Result<VitEpochResult, TrainError> {
        let epoch = self.epoch + 1;
        let perturbation = self.config.perturbation.filter(|p| p.active(epoch));
        let learning_rate = self.config.learning_rate_at(epoch);
        let data = Arc::clone(&self.data);
        let batches = epoch_batches(
            data.train.len(),
            self.config.batch_size,
            self.config.seed,
            epoch,
        );
        let mut losses = Vec::with_capacity(batches.len());
        for (batch_index, batch) in batches.iter().enumerate() {
            if observer.cancelled() {
                return Err(TrainError::Cancelled);
            }
            let key = batch_index as u64;
            let labels = self.batch_labels(batch, perturbation.as_ref(), epoch, key)?;
            let images = self.batch_images(batch, perturbation.as_ref(), epoch, key)?;
            let logits = self.model.forward(images); // [batch, classes]
            let loss = cross_entropy(logits, labels); // [1]
            losses.push(loss.clone().inner());
            let gradients = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self
                .sgd
                .step::<B, _>(learning_rate, self.model.clone(), gradients);
        }
        let train_loss =
            weighted_sum(losses, batches.iter().map(Vec::len))? / data.train.len() as f64;
        let (val_loss, rsa_score, rsa_p_value) = self.evaluate(observer)?;
        self.epoch = epoch;
        let row = VitEpochResult {
            epoch,
            train_loss,
            val_loss,
            rsa_score,
            rsa_p_value,
            perturbation: perturbation.map(|p| p.kind),
        };
        self.results.push(row.clone());
        Ok(row)
    }

    /// The penultimate embeddings of the RSA images, `[rsa][hidden]`, in f64.
    pub fn rsa_embeddings(&self) -> Result<Vec<Vec<f64>>, TrainError> {
        let model = self.model.valid();
        let [count, ..] = self.rsa_images.dims();
        let chunk = self.config.batch_size.max(1);
        let mut rows = Vec::with_capacity(count);
        for start in (0..count).step_by(chunk) {
            let length = chunk.min(count - start);
            let embedded = model.embed(self.rsa_images.clone().narrow(0, start, length)); // [length, hidden]
            let [_, width] = embedded.dims();
            let values = host(embedded).values;
            rows.extend(
                values
                    .chunks(width)
                    .map(|row| row.iter().map(|&v| f64::from(v)).collect()),
            );
        }
        Ok(rows)
    }

    /// The batch's labels as the active perturbation leaves them.
    fn batch_labels(
        &self,
        rows: &[usize],
        perturbation: Option<&Perturbation>,
        epoch: u32,
        batch: u64,
    ) -> Result<Tensor<B, 1, Int>, TrainError> {
        let classes = self.data.classes;
        let mut labels = Vec::with_capacity(rows.len());
        for &row in rows {
            let label = self.data.train.label(row);
            if label >= classes {
                return Err(data_error(format!(
                    "training image {row} has label {label}, but there are {classes} classes"
                )));
            }
            labels.push(label);
        }
        let labels: Vec<usize> = match perturbation.map(|p| (p, p.kind)) {
            Some((p, PerturbationKind::RandomTarget)) => {
                let mut rng = stream(p.seed, Purpose::RandomTarget, u64::from(epoch), batch);
                (0..rows.len()).map(|_| below(&mut rng, classes)).collect()
            }
            Some((p, PerturbationKind::LabelShuffle)) => p
                .label_permutation(epoch, batch, rows.len())
                .into_iter()
                .map(|source| labels[source])
                .collect(),
            _ => labels,
        };
        Ok(label_tensor(&labels, &self.device))
    }

    /// The batch's pixels as the active perturbation leaves them.
    fn batch_images(
        &self,
        rows: &[usize],
        perturbation: Option<&Perturbation>,
        epoch: u32,
        batch: u64,
    ) -> Result<Tensor<B, 4>, TrainError> {
        let size = self.data.image_size;
        let shape = [rows.len(), 3, size, size];
        let values = match perturbation.map(|p| (p, p.kind)) {
            Some((p, PerturbationKind::ImageNoise)) => {
                p.image_noise(epoch, batch, rows.len() * 3 * size * size)
            }
            Some((_, PerturbationKind::UniformImages)) => {
                return Ok(Tensor::full(shape, 0.5, &self.device));
            }
            _ => self.data.train.pixels(rows).map_err(data_error)?,
        };
        Ok(Tensor::from_data(
            TensorData::new(values, shape),
            &self.device,
        ))
    }

    /// Validation loss, RSA ρ and its p-value, on the backend without autodiff.
    fn evaluate(
        &self,
        observer: &dyn TrainObserver<VitEpochResult>,
    ) -> Result<(f64, f64, f64), TrainError> {
        let model = self.model.valid();
        let val = &self.data.val;
        let size = self.data.image_size;
        let classes = self.data.classes;
        let indices: Vec<usize> = (0..val.len()).collect();
        let mut losses = Vec::new();
        for rows in indices.chunks(self.config.batch_size.max(1)) {
            if observer.cancelled() {
                return Err(TrainError::Cancelled);
            }
            let labels: Vec<usize> = rows.iter().map(|&row| val.label(row)).collect();
            if let Some(bad) = labels.iter().find(|&&label| label >= classes) {
                return Err(data_error(format!(
                    "a validation image has label {bad}, but there are {classes} classes"
                )));
            }
            let pixels = val.pixels(rows).map_err(data_error)?;
            let images = Tensor::<B::InnerBackend, 4>::from_data(
                TensorData::new(pixels, [rows.len(), 3, size, size]),
                &self.device,
            );
            let loss = cross_entropy(model.forward(images), label_tensor(&labels, &self.device));
            losses.push(loss);
        }
        let sizes = indices
            .chunks(self.config.batch_size.max(1))
            .map(<[usize]>::len);
        let val_loss = weighted_sum(losses, sizes)? / val.len() as f64;
        let embeddings = self.rsa_embeddings()?;
        let (rho, p_value) = behavioral_rsa(&embeddings, &self.data.human_rdm)?;
        Ok((val_loss, rho, p_value))
    }

    /// The run's state after the current epoch, on the host.
    pub fn to_state(&self) -> VitState {
        let params = named_params(&self.model.valid());
        let velocity = self
            .sgd
            .velocity
            .iter()
            .map(|(name, tensor)| (name.clone(), host(tensor.clone())))
            .collect::<std::collections::BTreeMap<String, HostTensor>>();
        VitState {
            epoch: self.epoch,
            config: self.config.clone(),
            params,
            velocity,
            results: self.results.clone(),
        }
    }
}

impl<B: AutodiffBackend> EpochLoop for VitTrainer<B> {
    type Row = VitEpochResult;

    fn epochs_done(&self) -> u32 {
        self.epoch
    }

    fn finished(&self) -> bool {
        self.is_finished()
    }

    fn save_state(&self, dir: &Path) -> Result<(), TrainError> {
        self.to_state().save(dir)
    }

    fn next_epoch(
        &mut self,
        observer: &mut dyn TrainObserver<VitEpochResult>,
    ) -> Result<VitEpochResult, TrainError> {
        self.train_epoch(observer)
    }
}

/// Mean cross-entropy of `logits` against class indices.
///
/// # Shapes
///
/// - logits: `[batch, classes]`
/// - labels: `[batch]`
/// - output: `[1]`
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let [batch, _] = logits.dims();
    let log_probs = log_softmax(logits, 1); // [batch, classes]
    let picked = log_probs.gather(1, labels.reshape([batch, 1])); // [batch, 1]
    picked.mean().neg()
}

fn label_tensor<K: Backend>(labels: &[usize], device: &K::Device) -> Tensor<K, 1, Int> {
    let values: Vec<i64> = labels.iter().map(|&label| label as i64).collect();
    Tensor::from_data(TensorData::new(values, [labels.len()]), device)
}
