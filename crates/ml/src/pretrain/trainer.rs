//! [`Pretrainer`]: contrastive (CLIP) training of a whole [`ClipModel`] from a keyed random
//! initialisation.
//!
//! The loss (Radford et al. 2021): for a batch of `n` pairs, image and text features are
//! projected and L2-normalised, `logits = exp(s)·I·Tᵀ` (`[n, n]`, `s` the stored
//! `logit_scale`, clamped to ≤ ln 100), and the loss is the mean of the cross-entropy of each
//! row against its own column (image → text) and of each column against its own row
//! (text → image). Pairs whose captions happen to be equal are still negatives of each other,
//! as in CLIP.
//!
//! Epoch `k` visits the training pairs in the order [`epoch_batches`]`(n, batch_size, seed, k)`
//! (a last batch of one pair is skipped: it has no negatives). After each epoch the held-out
//! pairs are scored by zero-shot retrieval: each held-out image picks the most similar of the
//! distinct held-out captions, and the accuracy is the fraction that pick their own caption
//! (chance: 1 / the number of distinct captions).
//!
//! There is no per-epoch state and no resume: a pretraining run is short and is rebuilt whole.

use burn::module::{AutodiffModule, Module, ModuleMapper, Param};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};

use super::{PretrainConfig, PretrainData};
use crate::clip::l2_normalize;
use crate::epochs::{TrainError, TrainObserver, weighted_sum};
use crate::split::epoch_batches;
use crate::train::random_clip;
use crate::vit::cross_entropy;
use crate::{ClipConfig, ClipModel};

/// The largest `logit_scale` the loss uses: ln 100, as CLIP clamps it.
pub const MAX_LOGIT_SCALE: f64 = 4.605170185988092;

/// One epoch's row of `pretrain_log.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainEpoch {
    /// 1-based epoch.
    pub epoch: u32,
    /// Σ(batch loss × batch size) / N over the epoch's batches.
    pub loss: f64,
    /// Zero-shot image → caption retrieval accuracy on the held-out pairs after the epoch.
    pub retrieval_accuracy: f64,
    /// The temperature's scale `exp(min(logit_scale, ln 100))` after the epoch.
    pub logit_scale: f64,
}

/// The header of `pretrain_log.csv`.
pub const PRETRAIN_HEADER: &str = "epoch,loss,retrieval_accuracy,logit_scale";

/// Writes `pretrain_log.csv` (numbers in shortest round-trip form).
pub fn pretrain_csv(rows: &[PretrainEpoch]) -> String {
    let mut out = format!("{PRETRAIN_HEADER}\n");
    for row in rows {
        let values = [row.loss, row.retrieval_accuracy, row.logit_scale];
        crate::results::push_row(&mut out, row.epoch, values);
        out.push('\n');
    }
    out
}

type AdamWOptimizer<B> =
    burn::optim::adaptor::OptimizerAdaptor<burn::optim::AdamW, ClipModel<B>, B>;

/// A pretraining run on backend `B` (with autodiff).
pub struct Pretrainer<B: AutodiffBackend> {
    config: PretrainConfig,
    model: ClipModel<B>,
    optimizer: AdamWOptimizer<B>,
    device: B::Device,
    data: PretrainData,
    rows: Vec<PretrainEpoch>,
    epoch: u32,
}

impl<B: AutodiffBackend> Pretrainer<B> {
    /// A fresh run: CLIP shaped as `clip`, initialised by [`random_clip`] from `config.seed`,
    /// every parameter trainable (the temperature only with `learn_temperature`).
    pub fn new(
        config: PretrainConfig,
        clip: &ClipConfig,
        data: PretrainData,
        device: &B::Device,
    ) -> Result<Pretrainer<B>, TrainError> {
        config
            .validate()
            .map_err(|message| TrainError::Config { message })?;
        data.validate()
            .map_err(|message| TrainError::Data { message })?;
        if data.image_size != clip.vision.image_size {
            return Err(TrainError::Data {
                message: format!(
                    "images are {0}×{0} but the model takes {1}×{1}",
                    data.image_size, clip.vision.image_size
                ),
            });
        }
        if data.context > clip.text.max_position_embeddings {
            return Err(TrainError::Data {
                message: format!(
                    "captions of {} tokens exceed the model's context of {}",
                    data.context, clip.text.max_position_embeddings
                ),
            });
        }
        let model = random_clip::<B>(clip, config.seed, device)?.map(&mut Trainable {
            learn_temperature: config.learn_temperature,
        });
        // CLIP's AdamW settings: β (0.9, 0.98), ε 1e-6.
        let optimizer = AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.98)
            .with_epsilon(1e-6)
            .with_weight_decay(config.weight_decay)
            .init();
        Ok(Pretrainer {
            config,
            model,
            optimizer,
            device: device.clone(),
            data,
            rows: Vec::new(),
            epoch: 0,
        })
    }

    /// The model as trained so far.
    pub fn model(&self) -> &ClipModel<B> {
        &self.model
    }

    /// The rows so far.
    pub fn rows(&self) -> &[PretrainEpoch] {
        &self.rows
    }

    /// `pretrain_log.csv` so far.
    pub fn csv(&self) -> String {
        pretrain_csv(&self.rows)
    }

    /// Epochs completed.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Trains all epochs.
    pub fn run(
        &mut self,
        observer: &mut dyn TrainObserver<PretrainEpoch>,
    ) -> Result<(), TrainError> {
        while self.epoch < self.config.epochs {
            let row = self.train_epoch(observer)?;
            observer.epoch_finished(&row);
        }
        Ok(())
    }

    /// Trains and evaluates one epoch.
    pub fn train_epoch(
        &mut self,
        observer: &mut dyn TrainObserver<PretrainEpoch>,
    ) -> Result<PretrainEpoch, TrainError> {
        let epoch = self.epoch + 1;
        let pairs = self.data.train_len();
        let batches = epoch_batches(pairs, self.config.batch_size, self.config.seed, epoch);
        let mut losses = Vec::with_capacity(batches.len());
        let mut seen = 0usize;
        for batch in batches.iter().filter(|batch| batch.len() >= 2) {
            if observer.cancelled() {
                return Err(TrainError::Cancelled);
            }
            let images = self.images::<B>(&self.data.train_images, batch);
            let ids = self.captions::<B>(&self.data.train_captions, batch);
            let loss = self.loss(images, ids); // [1]
            losses.push(loss.clone().inner());
            seen += batch.len();
            let gradients = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model =
                self.optimizer
                    .step(self.config.learning_rate, self.model.clone(), gradients);
        }
        let sizes = batches.iter().map(Vec::len).filter(|&size| size >= 2);
        let loss_sum = weighted_sum(losses, sizes)?;
        self.epoch = epoch;
        let row = PretrainEpoch {
            epoch,
            loss: loss_sum / seen.max(1) as f64,
            retrieval_accuracy: self.retrieval_accuracy(),
            logit_scale: self.logit_scale(),
        };
        self.rows.push(row.clone());
        Ok(row)
    }

    /// Zero-shot retrieval accuracy on the held-out pairs with the current weights.
    pub fn retrieval_accuracy(&self) -> f64 {
        retrieval_accuracy(&self.model.valid(), &self.data, &self.device)
    }

    /// `exp(min(logit_scale, ln 100))` now.
    pub fn logit_scale(&self) -> f64 {
        let stored = scalar(self.model.logit_scale.val().inner());
        stored.min(MAX_LOGIT_SCALE).exp()
    }

    /// The symmetric contrastive loss of a batch.
    ///
    /// # Shapes
    ///
    /// - images: `[n, 3, image_size, image_size]`
    /// - ids: `[n, context]`
    /// - output: `[1]`
    fn loss(&self, images: Tensor<B, 4>, ids: Tensor<B, 2, Int>) -> Tensor<B, 1> {
        let [n, ..] = images.dims();
        let image = l2_normalize(self.model.encode_image(images)); // [n, projection]
        let text = l2_normalize(self.model.encode_text(ids)); // [n, projection]
        let scale = self
            .model
            .logit_scale
            .val()
            .clamp_max(MAX_LOGIT_SCALE)
            .exp()
            .reshape([1, 1]);
        let logits = image.matmul(text.transpose()) * scale; // [n, n]
        let targets: Vec<i64> = (0..n as i64).collect();
        let targets = Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [n]), &self.device);
        let image_to_text = cross_entropy(logits.clone(), targets.clone());
        let text_to_image = cross_entropy(logits.transpose(), targets);
        (image_to_text + text_to_image).div_scalar(2.0)
    }

    fn images<K: Backend<Device = B::Device>>(
        &self,
        pixels: &[f32],
        rows: &[usize],
    ) -> Tensor<K, 4> {
        gather_images(pixels, rows, self.data.image_size, &self.device)
    }

    fn captions<K: Backend<Device = B::Device>>(
        &self,
        ids: &[i64],
        rows: &[usize],
    ) -> Tensor<K, 2, Int> {
        gather_captions(ids, rows, self.data.context, &self.device)
    }
}

/// Marks every parameter trainable; the temperature only if it is learned.
struct Trainable {
    learn_temperature: bool,
}

impl<B: Backend> ModuleMapper<B> for Trainable {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        // The temperature is the only 1-element parameter of CLIP.
        let is_temperature = param.lazy_shape().num_elements() == 1;
        param.set_require_grad(self.learn_temperature || !is_temperature)
    }
}

/// Zero-shot image → caption retrieval accuracy of `model` on `data`'s held-out pairs.
pub fn retrieval_accuracy<B: Backend>(
    model: &ClipModel<B>,
    data: &PretrainData,
    device: &B::Device,
) -> f64 {
    let (candidates, answers) = data.eval_candidates();
    let rows: Vec<usize> = (0..data.eval_len()).collect();
    let images = gather_images::<B>(&data.eval_images, &rows, data.image_size, device);
    let flat: Vec<i64> = candidates.concat();
    let ids = Tensor::<B, 2, Int>::from_data(
        TensorData::new(flat, [candidates.len(), data.context]),
        device,
    );
    let image = l2_normalize(model.encode_image(images)); // [eval, projection]
    let text = l2_normalize(model.encode_text(ids)); // [candidates, projection]
    let similarity = image.matmul(text.transpose()); // [eval, candidates]
    let picks = similarity
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .into_vec::<i64>()
        .unwrap_or_default();
    let correct = picks
        .iter()
        .zip(&answers)
        .filter(|(pick, answer)| **pick as usize == **answer)
        .count();
    correct as f64 / answers.len().max(1) as f64
}

/// Chance level of [`retrieval_accuracy`]: 1 / the number of distinct held-out captions.
pub fn retrieval_chance(data: &PretrainData) -> f64 {
    1.0 / data.eval_candidates().0.len().max(1) as f64
}

fn gather_images<K: Backend>(
    pixels: &[f32],
    rows: &[usize],
    size: usize,
    device: &K::Device,
) -> Tensor<K, 4> {
    let len = 3 * size * size;
    let mut values = Vec::with_capacity(rows.len() * len);
    for &row in rows {
        values.extend_from_slice(&pixels[row * len..(row + 1) * len]);
    }
    Tensor::from_data(TensorData::new(values, [rows.len(), 3, size, size]), device)
}

fn gather_captions<K: Backend>(
    ids: &[i64],
    rows: &[usize],
    context: usize,
    device: &K::Device,
) -> Tensor<K, 2, Int> {
    let mut values = Vec::with_capacity(rows.len() * context);
    for &row in rows {
        values.extend_from_slice(&ids[row * context..(row + 1) * context]);
    }
    Tensor::from_data(TensorData::new(values, [rows.len(), context]), device)
}

fn scalar<B: Backend>(tensor: Tensor<B, 1>) -> f64 {
    tensor.into_scalar().elem::<f64>()
}
