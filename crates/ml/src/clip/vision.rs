//! The CLIP vision tower (Hugging Face `CLIPVisionTransformer`): non-overlapping patches embedded
//! by a bias-free convolution, a learned class token, learned positions, `pre_layrnorm`, the
//! blocks, and `post_layernorm` on the class token.

use std::collections::BTreeMap;

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::encoder::{ClipEncoder, ClipEncoderConfig};
use super::encoder_layer::ClipEncoderLayerConfig;

/// Configuration of a [`ClipVisionTransformer`] (the `vision_config` of a Hugging Face config).
#[derive(Config, Debug)]
pub struct ClipVisionConfig {
    /// Width of the token embeddings (`hidden_size`).
    pub hidden_size: usize,
    /// Width of each block's MLP (`intermediate_size`).
    pub intermediate_size: usize,
    /// Number of blocks (`num_hidden_layers`).
    pub num_layers: usize,
    /// Number of attention heads (`num_attention_heads`).
    pub num_heads: usize,
    /// Side of a square patch in pixels; also the stride of the patch convolution.
    pub patch_size: usize,
    /// Side of the square input image in pixels.
    pub image_size: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub num_channels: usize,
    /// Epsilon of every layer norm of the tower.
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
}

impl ClipVisionConfig {
    /// Patches per image side.
    pub fn grid_size(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens per image: one per patch plus the class token (257 for ViT-L/14 at 224 px).
    pub fn num_positions(&self) -> usize {
        self.grid_size() * self.grid_size() + 1
    }

    /// The configuration of the block stack.
    pub fn encoder(&self) -> ClipEncoderConfig {
        ClipEncoderConfig::new(
            self.num_layers,
            ClipEncoderLayerConfig::new(self.hidden_size, self.intermediate_size, self.num_heads)
                .with_layer_norm_eps(self.layer_norm_eps),
        )
    }

    /// Creates the module with random (lazy) initialisation: embeddings `N(0, 0.02²)`, layers
    /// with burn's defaults. Load real weights with [`crate::load_clip`].
    pub fn init<B: Backend>(&self, device: &B::Device) -> ClipVisionTransformer<B> {
        let normal = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        let layer_norm = || {
            LayerNormConfig::new(self.hidden_size)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        ClipVisionTransformer {
            patch_embedding: Conv2dConfig::new(
                [self.num_channels, self.hidden_size],
                [self.patch_size, self.patch_size],
            )
            .with_stride([self.patch_size, self.patch_size])
            .with_bias(false)
            .init(device),
            class_embedding: normal.init([self.hidden_size], device),
            position_embedding: normal.init([self.num_positions(), self.hidden_size], device),
            pre_layrnorm: layer_norm(),
            encoder: self.encoder().init(device),
            post_layernorm: layer_norm(),
        }
    }
}

/// The vision tower of CLIP.
#[derive(Module, Debug)]
pub struct ClipVisionTransformer<B: Backend> {
    /// Patch embedding, weight `[hidden, channels, patch, patch]`, no bias.
    pub patch_embedding: Conv2d<B>,
    /// The class token, `[hidden]`.
    pub class_embedding: Param<Tensor<B, 1>>,
    /// Learned positions, `[num_positions, hidden]`.
    pub position_embedding: Param<Tensor<B, 2>>,
    /// `ln_pre` of OpenAI CLIP (the Hugging Face name keeps its typo).
    pub pre_layrnorm: LayerNorm<B>,
    /// The blocks.
    pub encoder: ClipEncoder<B>,
    /// `ln_post`, applied to the class token only.
    pub post_layernorm: LayerNorm<B>,
}

impl<B: Backend> ClipVisionTransformer<B> {
    /// The tokens entering the first block: patch embeddings after the class token, plus
    /// positions, through `pre_layrnorm`.
    ///
    /// # Shapes
    ///
    /// - images: `[batch, channels, image_size, image_size]`, normalised pixels
    /// - output: `[batch, num_positions, hidden]`
    pub fn embed(&self, images: Tensor<B, 4>) -> Tensor<B, 3> {
        let tokens = patch_tokens(
            &self.patch_embedding,
            &self.class_embedding,
            &self.position_embedding,
            images,
        );
        self.pre_layrnorm.forward(tokens)
    }

    /// The hidden state of every token entering block `layer` (after blocks `0..layer`, with
    /// their stored weights): what the frozen-prefix cache of training stores.
    ///
    /// # Shapes
    ///
    /// - images: `[batch, channels, image_size, image_size]`
    /// - output: `[batch, num_positions, hidden]`
    pub fn hidden_before(&self, images: Tensor<B, 4>, layer: usize) -> Tensor<B, 3> {
        self.encoder
            .forward_range(self.embed(images), false, &BTreeMap::new(), 0..layer)
    }

    /// The hidden state of every token after the last block, before `post_layernorm`
    /// (Hugging Face's `last_hidden_state`).
    ///
    /// # Shapes
    ///
    /// - images: `[batch, channels, image_size, image_size]`, normalised pixels
    /// - output: `[batch, num_positions, hidden]`
    pub fn last_hidden_state(
        &self,
        images: Tensor<B, 4>,
        out_proj_weights: &BTreeMap<usize, Tensor<B, 2>>,
    ) -> Tensor<B, 3> {
        self.encoder
            .forward(self.embed(images), false, out_proj_weights)
    }

    /// The pooled image feature: `post_layernorm` of the class token after the last block.
    ///
    /// # Shapes
    ///
    /// - images: `[batch, channels, image_size, image_size]`
    /// - output: `[batch, hidden]`
    pub fn forward(
        &self,
        images: Tensor<B, 4>,
        out_proj_weights: &BTreeMap<usize, Tensor<B, 2>>,
    ) -> Tensor<B, 2> {
        self.pool(self.last_hidden_state(images, out_proj_weights))
    }

    /// [`Self::forward`] from the hidden state entering block `layer` (as
    /// [`Self::hidden_before`] returns it): runs blocks `layer..` and pools. Bitwise the same
    /// as `forward` on the images, since the operations are the same.
    ///
    /// # Shapes
    ///
    /// - hidden: `[batch, num_positions, hidden]`
    /// - output: `[batch, hidden]`
    pub fn forward_from(
        &self,
        hidden: Tensor<B, 3>,
        layer: usize,
        out_proj_weights: &BTreeMap<usize, Tensor<B, 2>>,
    ) -> Tensor<B, 2> {
        let last = self.encoder.layers.len();
        self.pool(
            self.encoder
                .forward_range(hidden, false, out_proj_weights, layer..last),
        )
    }

    /// `post_layernorm` of the class token.
    ///
    /// # Shapes
    ///
    /// - hidden: `[batch, num_positions, hidden]`
    /// - output: `[batch, hidden]`
    fn pool(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let [batch, _, width] = hidden.dims();
        let class = hidden.narrow(1, 0, 1).reshape([batch, width]); // [batch, hidden]
        self.post_layernorm.forward(class)
    }
}

/// A vision transformer's input tokens: the patch embeddings after the class token, plus the
/// learned positions (CLIP's vision tower and the ViT baseline embed images alike).
///
/// # Shapes
///
/// - patch_embedding: weight `[hidden, channels, patch, patch]`
/// - class: `[hidden]`
/// - positions: `[num_positions, hidden]`
/// - images: `[batch, channels, image_size, image_size]`, normalised pixels
/// - output: `[batch, num_positions, hidden]`
pub fn patch_tokens<B: Backend>(
    patch_embedding: &Conv2d<B>,
    class: &Param<Tensor<B, 1>>,
    positions: &Param<Tensor<B, 2>>,
    images: Tensor<B, 4>,
) -> Tensor<B, 3> {
    let patches = patch_embedding.forward(images); // [batch, hidden, grid, grid]
    let [batch, hidden, grid_h, grid_w] = patches.dims();
    let patches = patches
        .reshape([batch, hidden, grid_h * grid_w])
        .swap_dims(1, 2); // [batch, grid², hidden]
    let class = class
        .val()
        .reshape([1, 1, hidden])
        .expand([batch, 1, hidden]); // [batch, 1, hidden]
    let tokens = Tensor::cat(vec![class, patches], 1); // [batch, num_positions, hidden]
    tokens + positions.val().unsqueeze::<3>()
}
