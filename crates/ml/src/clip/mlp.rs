//! The feed-forward half of a CLIP block: `fc1 → QuickGELU → fc2`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;

/// Configuration of a [`ClipMlp`].
#[derive(Config, Debug)]
pub struct ClipMlpConfig {
    /// Width of the token embeddings (`hidden_size`).
    pub d_model: usize,
    /// Width of the hidden layer (`intermediate_size`, 4 × `d_model` in OpenAI CLIP).
    pub d_hidden: usize,
}

impl ClipMlpConfig {
    /// Creates the module with burn's default (lazy) initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ClipMlp<B> {
        ClipMlp {
            fc1: LinearConfig::new(self.d_model, self.d_hidden).init(device),
            fc2: LinearConfig::new(self.d_hidden, self.d_model).init(device),
        }
    }
}

/// Two linear layers with QuickGELU between them (Hugging Face `CLIPMLP`).
#[derive(Module, Debug)]
pub struct ClipMlp<B: Backend> {
    /// `[d_model, d_hidden]`, with bias.
    pub fc1: Linear<B>,
    /// `[d_hidden, d_model]`, with bias.
    pub fc2: Linear<B>,
}

impl<B: Backend> ClipMlp<B> {
    /// # Shapes
    ///
    /// - input: `[batch, tokens, d_model]`
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(&self, input: Tensor<B, 3>) -> Tensor<B, 3> {
        let hidden = quick_gelu(self.fc1.forward(input)); // [batch, tokens, d_hidden]
        self.fc2.forward(hidden)
    }
}

/// QuickGELU, the activation OpenAI trained CLIP with: `x · sigmoid(1.702 · x)`.
pub fn quick_gelu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone() * sigmoid(x.mul_scalar(1.702))
}
