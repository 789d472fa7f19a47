//! The ViT classifier of the paper's baseline (Dosovitskiy et al.; torchvision's `vit_b_16`):
//! a patch convolution with bias, a learned class token and positions, pre-norm blocks
//! (`x + attn(ln1(x))`, then `x + mlp(ln2(x))` with GELU), a final layer norm and a linear head
//! on the class token. No dropout anywhere (torchvision's default is 0 too).
//!
//! The *penultimate embedding* (what RSA compares) is the class token after the final layer
//! norm, the head's input: [`Vit::embed`].
//!
//! Attention reuses [`ClipAttention`] (separate `q`, `k`, `v`, `out` projections with bias,
//! `1/√head_dim` scaling), which is the same function as PyTorch's `nn.MultiheadAttention`.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::gelu;
use burn::tensor::backend::Backend;

use crate::clip::{ClipAttention, ClipAttentionConfig, patch_tokens};

/// Configuration of a [`Vit`].
#[derive(Config, Debug, PartialEq)]
pub struct VitConfig {
    /// Side of the square input image in pixels.
    pub image_size: usize,
    /// Side of a square patch in pixels; also the stride of the patch convolution.
    pub patch_size: usize,
    /// Width of the token embeddings.
    pub hidden_size: usize,
    /// Width of each block's MLP.
    pub mlp_size: usize,
    /// Number of blocks.
    pub num_layers: usize,
    /// Number of attention heads; must divide `hidden_size`.
    pub num_heads: usize,
    /// Number of classes (outputs of the head).
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub num_channels: usize,
    /// Epsilon of every layer norm (torchvision: 1e-6).
    #[config(default = 1e-6)]
    pub layer_norm_eps: f64,
}

impl VitConfig {
    /// ViT-B/16 at 224 px (torchvision `vit_b_16`): 12 blocks, width 768, 12 heads, MLP 3072.
    pub fn vit_b_16(num_classes: usize) -> VitConfig {
        VitConfig::new(224, 16, 768, 3072, 12, 12, num_classes)
    }

    /// A small ViT for CPU tests and the `ci` profile: 32 px images in 8 px patches (17 tokens),
    /// width 64, 2 blocks of 4 heads, MLP 256.
    pub fn tiny(num_classes: usize) -> VitConfig {
        VitConfig::new(32, 8, 64, 256, 2, 4, num_classes)
    }

    /// Patches per image side.
    pub fn grid_size(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens per image: one per patch plus the class token.
    pub fn num_positions(&self) -> usize {
        self.grid_size() * self.grid_size() + 1
    }

    /// Checks that the shapes describe a model that can run.
    pub fn validate(&self) -> Result<(), String> {
        let sizes = [
            ("image_size", self.image_size),
            ("patch_size", self.patch_size),
            ("hidden_size", self.hidden_size),
            ("mlp_size", self.mlp_size),
            ("num_heads", self.num_heads),
            ("num_classes", self.num_classes),
            ("num_channels", self.num_channels),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, size)| *size == 0) {
            return Err(format!("`{name}` is 0"));
        }
        if !self.hidden_size.is_multiple_of(self.num_heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_heads {}",
                self.hidden_size, self.num_heads
            ));
        }
        if !self.image_size.is_multiple_of(self.patch_size) {
            return Err(format!(
                "image_size {} is not a multiple of patch_size {}",
                self.image_size, self.patch_size
            ));
        }
        Ok(())
    }

    /// Creates the module with burn's lazy initialisation (backend randomness, never read when
    /// followed by [`super::random_vit`]'s keyed initialisation or a state load).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Vit<B> {
        let layer_norm = || {
            LayerNormConfig::new(self.hidden_size)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        let zeros = Initializer::Zeros;
        Vit {
            patch_embedding: Conv2dConfig::new(
                [self.num_channels, self.hidden_size],
                [self.patch_size, self.patch_size],
            )
            .with_stride([self.patch_size, self.patch_size])
            .init(device),
            class_token: zeros.init([self.hidden_size], device),
            position_embedding: zeros.init([self.num_positions(), self.hidden_size], device),
            blocks: (0..self.num_layers)
                .map(|_| VitBlock {
                    layer_norm1: layer_norm(),
                    attention: ClipAttentionConfig::new(self.hidden_size, self.num_heads)
                        .init(device),
                    layer_norm2: layer_norm(),
                    mlp: VitMlp {
                        fc1: LinearConfig::new(self.hidden_size, self.mlp_size).init(device),
                        fc2: LinearConfig::new(self.mlp_size, self.hidden_size).init(device),
                    },
                })
                .collect(),
            layer_norm: layer_norm(),
            head: LinearConfig::new(self.hidden_size, self.num_classes).init(device),
        }
    }
}

/// A ViT classifier.
#[derive(Module, Debug)]
pub struct Vit<B: Backend> {
    /// Patch embedding, weight `[hidden, channels, patch, patch]`, with bias.
    pub patch_embedding: Conv2d<B>,
    /// The class token, `[hidden]`.
    pub class_token: Param<Tensor<B, 1>>,
    /// Learned positions, `[num_positions, hidden]`.
    pub position_embedding: Param<Tensor<B, 2>>,
    /// The blocks.
    pub blocks: Vec<VitBlock<B>>,
    /// The final layer norm (torchvision `encoder.ln`).
    pub layer_norm: LayerNorm<B>,
    /// The classifier, `[hidden, num_classes]`.
    pub head: Linear<B>,
}

/// One pre-norm block.
#[derive(Module, Debug)]
pub struct VitBlock<B: Backend> {
    /// Norm before attention.
    pub layer_norm1: LayerNorm<B>,
    /// Multi-head self-attention.
    pub attention: ClipAttention<B>,
    /// Norm before the MLP.
    pub layer_norm2: LayerNorm<B>,
    /// Feed-forward network.
    pub mlp: VitMlp<B>,
}

/// `fc1 → GELU → fc2`.
#[derive(Module, Debug)]
pub struct VitMlp<B: Backend> {
    /// `[hidden, mlp]`, with bias.
    pub fc1: Linear<B>,
    /// `[mlp, hidden]`, with bias.
    pub fc2: Linear<B>,
}

impl<B: Backend> VitBlock<B> {
    /// # Shapes
    ///
    /// - input: `[batch, tokens, hidden]`
    /// - output: `[batch, tokens, hidden]`
    pub fn forward(&self, input: Tensor<B, 3>) -> Tensor<B, 3> {
        let attended = self
            .attention
            .forward(self.layer_norm1.forward(input.clone()), false, None);
        let hidden = input + attended; // [batch, tokens, hidden]
        let fed = self.mlp.fc2.forward(gelu(
            self.mlp
                .fc1
                .forward(self.layer_norm2.forward(hidden.clone())),
        ));
        hidden + fed
    }
}

impl<B: Backend> Vit<B> {
    /// The penultimate embedding: the class token after the last block and the final norm.
    ///
    /// # Shapes
    ///
    /// - images: `[batch, channels, image_size, image_size]`, normalised pixels
    /// - output: `[batch, hidden]`
    pub fn embed(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut tokens = patch_tokens(
            &self.patch_embedding,
            &self.class_token,
            &self.position_embedding,
            images,
        ); // [batch, num_positions, hidden]
        let [batch, _, hidden] = tokens.dims();
        for block in &self.blocks {
            tokens = block.forward(tokens);
        }
        let class = tokens.narrow(1, 0, 1).reshape([batch, hidden]); // [batch, hidden]
        self.layer_norm.forward(class)
    }

    /// Class logits.
    ///
    /// # Shapes
    ///
    /// - images: `[batch, channels, image_size, image_size]`
    /// - output: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.head.forward(self.embed(images))
    }

    /// Class logits from penultimate embeddings (as [`Self::embed`] returns them).
    ///
    /// # Shapes
    ///
    /// - embeddings: `[batch, hidden]`
    /// - output: `[batch, num_classes]`
    pub fn classify(&self, embeddings: Tensor<B, 2>) -> Tensor<B, 2> {
        self.head.forward(embeddings)
    }
}
