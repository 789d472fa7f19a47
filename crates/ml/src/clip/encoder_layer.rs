//! One pre-norm transformer block of CLIP:
//! `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::attention::{ClipAttention, ClipAttentionConfig};
use super::mlp::{ClipMlp, ClipMlpConfig};

/// Configuration of a [`ClipEncoderLayer`].
#[derive(Config, Debug)]
pub struct ClipEncoderLayerConfig {
    /// Width of the token embeddings (`hidden_size`).
    pub d_model: usize,
    /// Width of the MLP's hidden layer (`intermediate_size`).
    pub d_hidden: usize,
    /// Number of attention heads.
    pub num_heads: usize,
    /// Epsilon of both layer norms.
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
}

impl ClipEncoderLayerConfig {
    /// Creates the module with burn's default (lazy) initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ClipEncoderLayer<B> {
        let layer_norm = || {
            LayerNormConfig::new(self.d_model)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        ClipEncoderLayer {
            layer_norm1: layer_norm(),
            self_attn: ClipAttentionConfig::new(self.d_model, self.num_heads).init(device),
            layer_norm2: layer_norm(),
            mlp: ClipMlpConfig::new(self.d_model, self.d_hidden).init(device),
        }
    }
}

/// A residual attention block (Hugging Face `CLIPEncoderLayer`).
#[derive(Module, Debug)]
pub struct ClipEncoderLayer<B: Backend> {
    /// Norm before attention.
    pub layer_norm1: LayerNorm<B>,
    /// Multi-head self-attention.
    pub self_attn: ClipAttention<B>,
    /// Norm before the MLP.
    pub layer_norm2: LayerNorm<B>,
    /// Feed-forward network.
    pub mlp: ClipMlp<B>,
}

impl<B: Backend> ClipEncoderLayer<B> {
    /// See [`ClipAttention::forward`] for `causal` and `out_proj_weight`.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, tokens, d_model]`
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(
        &self,
        input: Tensor<B, 3>,
        causal: bool,
        out_proj_weight: Option<Tensor<B, 2>>,
    ) -> Tensor<B, 3> {
        let attended = self.self_attn.forward(
            self.layer_norm1.forward(input.clone()),
            causal,
            out_proj_weight,
        );
        let hidden = input + attended; // [batch, tokens, d_model]
        let fed = self.mlp.forward(self.layer_norm2.forward(hidden.clone()));
        hidden + fed
    }
}
