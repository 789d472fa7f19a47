//! CLIP-HBA-Behavior: predicts the 66 SPoSE dimensions of an image as
//! `100 × cos(image_features, text_features[j])` for each dimension label `j`, with a frozen
//! CLIP adapted by DoRA. There is no new head: the "weights" of each output are the CLIP text
//! features of the raw label prompt, recomputed every forward pass because the text tower is
//! adapted too.
//!
//! The fixed factor 100 replaces CLIP's stored `logit_scale`, as the paper does.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use rand_chacha::ChaCha8Rng;

use crate::clip::l2_normalize;
use crate::{ClipConfig, ClipModel, DoraAdapters, DoraConfig, Error, Result};

/// Configuration of a [`ClipHba`].
#[derive(Config, Debug)]
pub struct ClipHbaConfig {
    /// The CLIP backbone (paper: [`ClipConfig::vit_l_14`]).
    pub clip: ClipConfig,
    /// Which blocks get DoRA, rank and alpha (paper: [`DoraConfig::paper`]).
    pub dora: DoraConfig,
    /// The fixed factor on the cosine similarities (paper: 100).
    #[config(default = 100.0)]
    pub logit_scale: f64,
}

impl ClipHbaConfig {
    /// The paper's model: ViT-L/14 with DoRA on vision blocks 22, 23 and text block 11.
    pub fn paper() -> Self {
        ClipHbaConfig::new(ClipConfig::vit_l_14(), DoraConfig::paper())
    }

    /// A lazily initialised model with placeholder adapters, the target for loading a
    /// checkpoint; `label_ids` are the tokenised dimension labels.
    ///
    /// # Shapes
    ///
    /// - label_ids: `[labels, context]`
    pub fn init<B: Backend>(
        &self,
        label_ids: Tensor<B, 2, Int>,
        device: &B::Device,
    ) -> Result<ClipHba<B>> {
        let adapters = self.dora.init(&self.clip, device)?;
        self.assemble(self.clip.init(device), adapters, label_ids)
    }

    /// The paper's starting point: the pretrained `clip` (frozen here), adapters initialised
    /// from its weights with `rng` (see [`crate::dora`]).
    ///
    /// # Shapes
    ///
    /// - label_ids: `[labels, context]`
    pub fn init_from_pretrained<B: Backend>(
        &self,
        clip: ClipModel<B>,
        label_ids: Tensor<B, 2, Int>,
        rng: &mut ChaCha8Rng,
    ) -> Result<ClipHba<B>> {
        let adapters = self.dora.init_from_base(&self.clip, &clip, rng)?;
        self.assemble(clip, adapters, label_ids)
    }

    fn assemble<B: Backend>(
        &self,
        clip: ClipModel<B>,
        adapters: DoraAdapters<B>,
        label_ids: Tensor<B, 2, Int>,
    ) -> Result<ClipHba<B>> {
        let [labels, context] = label_ids.dims();
        if labels == 0 || context == 0 || context > self.clip.text.max_position_embeddings {
            return Err(Error::InvalidConfig {
                message: format!(
                    "label ids are {labels}×{context}; need at least one label and 1..={} tokens",
                    self.clip.text.max_position_embeddings
                ),
            });
        }
        Ok(ClipHba {
            clip: clip.no_grad(),
            adapters,
            label_ids,
            logit_scale: self.logit_scale,
        })
    }
}

/// CLIP-HBA: a frozen CLIP, its trainable DoRA adapters, and the tokenised labels.
///
/// Train by stepping the optimizer on `adapters` alone (or on the whole model: the frozen
/// parameters get no gradients, so the optimizer skips them and keeps no state for them);
/// checkpoint `adapters.into_record()`.
#[derive(Module, Debug)]
pub struct ClipHba<B: Backend> {
    /// The frozen backbone (every parameter `require_grad = false`).
    pub clip: ClipModel<B>,
    /// The only trainable parameters.
    pub adapters: DoraAdapters<B>,
    /// The tokenised dimension labels, `[labels, context]`.
    pub label_ids: Tensor<B, 2, Int>,
    /// The fixed factor on the cosines.
    pub logit_scale: f64,
}

impl<B: Backend> ClipHba<B> {
    /// Predicted embedding of each image: `logit_scale × cos(image, label_j)`.
    ///
    /// # Shapes
    ///
    /// - images: `[batch, 3, image_size, image_size]`, normalised pixels
    /// - output: `[batch, labels]`
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let weights = self.adapters.out_proj_weights(&self.clip);
        let image = l2_normalize(self.clip.encode_image_with(images, &weights)); // [batch, projection]
        let text = l2_normalize(self.clip.encode_text_with(self.label_ids.clone(), &weights)); // [labels, projection]
        image.matmul(text.transpose()).mul_scalar(self.logit_scale)
    }

    /// The vision blocks before the first adapted one, `0..k`: frozen, so their output for an
    /// image never changes while training. `k` is the tower's depth when no block is adapted.
    pub fn vision_prefix_layers(&self) -> usize {
        let depth = self.clip.vision_model.encoder.layers.len();
        self.adapters
            .vision_layers
            .iter()
            .copied()
            .min()
            .unwrap_or(depth)
            .min(depth)
    }

    /// The text blocks before the first adapted one (see [`Self::vision_prefix_layers`]).
    pub fn text_prefix_layers(&self) -> usize {
        let depth = self.clip.text_model.encoder.layers.len();
        self.adapters
            .text_layers
            .iter()
            .copied()
            .min()
            .unwrap_or(depth)
            .min(depth)
    }

    /// The frozen vision prefix: hidden states entering block [`Self::vision_prefix_layers`].
    ///
    /// # Shapes
    ///
    /// - images: `[batch, 3, image_size, image_size]`
    /// - output: `[batch, num_positions, vision hidden]`
    pub fn vision_prefix(&self, images: Tensor<B, 4>) -> Tensor<B, 3> {
        self.clip
            .vision_model
            .hidden_before(images, self.vision_prefix_layers())
    }

    /// The frozen text prefix of the labels: hidden states entering block
    /// [`Self::text_prefix_layers`].
    ///
    /// # Shapes
    ///
    /// - output: `[labels, context, text hidden]`
    pub fn text_prefix(&self) -> Tensor<B, 3> {
        self.clip
            .text_model
            .hidden_before(self.label_ids.clone(), self.text_prefix_layers())
    }

    /// [`Self::forward`] with either tower optionally starting from its cached frozen prefix.
    /// The operations are those of `forward`, split at the first adapted block, so the result
    /// is bitwise the same as `forward` on the images the prefixes were computed from.
    ///
    /// # Shapes
    ///
    /// - images: pixels `[batch, 3, image_size, image_size]` or prefix
    ///   `[batch, num_positions, vision hidden]`
    /// - text_prefix: `[labels, context, text hidden]` (from [`Self::text_prefix`])
    /// - output: `[batch, labels]`
    pub fn forward_from(
        &self,
        images: ImageInput<B>,
        text_prefix: Option<Tensor<B, 3>>,
    ) -> Tensor<B, 2> {
        let labels = self.label_features(text_prefix);
        self.scores(self.image_features(images), labels)
    }

    /// L2-normalised image features, from pixels or the cached vision prefix.
    ///
    /// # Shapes
    ///
    /// - images: see [`Self::forward_from`]
    /// - output: `[batch, projection]`
    pub fn image_features(&self, images: ImageInput<B>) -> Tensor<B, 2> {
        let weights = self.adapters.out_proj_weights(&self.clip);
        let image = match images {
            ImageInput::Pixels(pixels) => self.clip.encode_image_with(pixels, &weights),
            ImageInput::Prefix(hidden) => {
                self.clip
                    .encode_image_from(hidden, self.vision_prefix_layers(), &weights)
            }
        };
        l2_normalize(image)
    }

    /// L2-normalised label features, from the token ids or the cached text prefix. They do
    /// not depend on the images, so evaluation computes them once per pass.
    ///
    /// # Shapes
    ///
    /// - text_prefix: `[labels, context, text hidden]`
    /// - output: `[labels, projection]`
    pub fn label_features(&self, text_prefix: Option<Tensor<B, 3>>) -> Tensor<B, 2> {
        let weights = self.adapters.out_proj_weights(&self.clip);
        let text = match text_prefix {
            None => self.clip.encode_text_with(self.label_ids.clone(), &weights),
            Some(hidden) => self.clip.encode_text_from(
                hidden,
                self.label_ids.clone(),
                self.text_prefix_layers(),
                &weights,
            ),
        };
        l2_normalize(text)
    }

    /// `logit_scale × cos`: the predictions from normalised features.
    ///
    /// # Shapes
    ///
    /// - image_features: `[batch, projection]`
    /// - label_features: `[labels, projection]`
    /// - output: `[batch, labels]`
    pub fn scores(
        &self,
        image_features: Tensor<B, 2>,
        label_features: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        image_features
            .matmul(label_features.transpose())
            .mul_scalar(self.logit_scale)
    }
}

/// What the vision tower of [`ClipHba::forward_from`] starts from.
#[derive(Debug, Clone)]
pub enum ImageInput<B: Backend> {
    /// Normalised pixels, `[batch, 3, image_size, image_size]`: the whole tower runs.
    Pixels(Tensor<B, 4>),
    /// The cached frozen prefix, `[batch, num_positions, vision hidden]` (from
    /// [`ClipHba::vision_prefix`]): only the adapted blocks and the head run.
    Prefix(Tensor<B, 3>),
}

#[cfg(test)]
mod tests {
    use burn::module::{Module, Param};
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
    use burn::tensor::backend::Backend;
    use burn::tensor::{Int, Tensor, TensorData};
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    use super::{ClipHba, ClipHbaConfig};
    use crate::{
        ClipConfig, ClipTextConfig, ClipVisionConfig, CpuAutodiffBackend, CpuBackend, DoraConfig,
    };

    /// A CLIP small enough for unit tests (vocabulary 500, context 8).
    fn small_clip() -> ClipConfig {
        ClipConfig::new(
            ClipVisionConfig::new(16, 32, 2, 2, 4, 8),
            ClipTextConfig::new(16, 32, 2, 2)
                .with_vocab_size(500)
                .with_max_position_embeddings(8),
            12,
        )
    }

    fn labels<B: Backend>(device: &B::Device) -> Tensor<B, 2, Int> {
        // Three "prompts": start 498, a word or two, end-of-text 499 (the largest id), padding.
        let ids: Vec<i64> = vec![
            498, 10, 499, 0, 0, 0, 0, 0, //
            498, 20, 30, 499, 0, 0, 0, 0, //
            498, 40, 41, 42, 499, 0, 0, 0,
        ];
        Tensor::from_data(TensorData::new(ids, [3, 8]), device)
    }

    fn images<B: Backend>(device: &B::Device) -> Tensor<B, 4> {
        let pixels: Vec<f32> = (0..2 * 3 * 8 * 8)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        Tensor::from_data(TensorData::new(pixels, [2, 3, 8, 8]), device)
    }

    fn model<B: Backend>(device: &B::Device) -> ClipHba<B> {
        let clip = small_clip();
        let config = ClipHbaConfig::new(clip.clone(), DoraConfig::last_layers(&clip, 1, 1));
        config
            .init_from_pretrained(
                clip.init(device),
                labels(device),
                &mut ChaCha8Rng::seed_from_u64(3),
            )
            .expect("valid config")
    }

    #[test]
    fn output_is_100_times_the_cosine_with_each_label() {
        let device = Default::default();
        let mut model = model::<CpuBackend>(&device);
        // With B·A = 0 the adapted weights equal the frozen ones, so the output must be CLIP's
        // own logits with the temperature replaced by 100.
        for adapter in model
            .adapters
            .vision
            .iter_mut()
            .chain(model.adapters.text.iter_mut())
        {
            let shape = adapter.lora_a.val().dims();
            adapter.lora_a = Param::from_tensor(Tensor::zeros(shape, &device));
        }
        let output = model.forward(images(&device)); // [2, 3]
        assert_eq!(output.dims(), [2, 3]);
        let clip_logits = model
            .clip
            .logits_per_image(images(&device), labels(&device));
        let temperature = model.clip.logit_scale.val().exp().into_scalar();
        let expected = clip_logits.div_scalar(temperature).mul_scalar(100.0);
        let output = output.into_data().to_vec::<f32>().expect("f32");
        let expected = expected.into_data().to_vec::<f32>().expect("f32");
        for (a, b) in output.iter().zip(&expected) {
            assert!(a.abs() <= 100.0 + 1e-3);
            assert!((a - b).abs() <= 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn only_the_adapters_are_trained() {
        let device = Default::default();
        let model = model::<CpuAutodiffBackend>(&device);
        let loss = model.forward(images(&device)).powi_scalar(2).mean();
        let grads = loss.backward();

        for adapter in model.adapters.vision.iter().chain(&model.adapters.text) {
            assert!(adapter.magnitude.val().grad(&grads).is_some());
            assert!(adapter.lora_a.val().grad(&grads).is_some());
            assert!(adapter.lora_b.val().grad(&grads).is_some());
        }
        let block = &model.clip.vision_model.encoder.layers[1];
        assert!(block.self_attn.out_proj.weight.val().grad(&grads).is_none());
        assert!(
            block
                .self_attn
                .out_proj
                .bias
                .as_ref()
                .is_some_and(|bias| bias.val().grad(&grads).is_none())
        );
        assert!(block.self_attn.q_proj.weight.val().grad(&grads).is_none());
        assert!(
            model
                .clip
                .visual_projection
                .weight
                .val()
                .grad(&grads)
                .is_none()
        );
        assert!(model.clip.logit_scale.val().grad(&grads).is_none());

        // An optimizer over the adapters alone: 3 tensors per adapted block.
        let params = GradientsParams::from_grads(grads, &model.adapters);
        assert_eq!(params.len(), 3 * 2);
        let before = model.adapters.lora_b_values();
        let mut optimizer = AdamWConfig::new().init();
        let adapters = optimizer.step(3e-4, model.adapters.clone(), params);
        assert_ne!(before, adapters.lora_b_values());
    }

    impl<B: Backend> crate::DoraAdapters<B> {
        fn lora_b_values(&self) -> Vec<f32> {
            self.vision
                .iter()
                .chain(&self.text)
                .flat_map(|adapter| {
                    adapter
                        .lora_b
                        .val()
                        .into_data()
                        .to_vec::<f32>()
                        .expect("f32")
                })
                .collect()
        }
    }

    #[test]
    fn label_ids_longer_than_the_context_are_refused() {
        let device = Default::default();
        let clip = small_clip();
        let config = ClipHbaConfig::new(clip.clone(), DoraConfig::last_layers(&clip, 1, 1));
        let ids = Tensor::<CpuBackend, 2, Int>::zeros([3, 9], &device);
        assert!(config.init(ids, &device).is_err());
        assert!(config.init(labels::<CpuBackend>(&device), &device).is_ok());
        assert_eq!(
            config
                .init(labels::<CpuBackend>(&device), &device)
                .map(|m| m.adapters.num_params())
                .ok(),
            DoraConfig::last_layers(&clip, 1, 1)
                .trainable_param_count(&clip)
                .ok()
        );
    }
}
