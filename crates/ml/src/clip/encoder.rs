//! A stack of CLIP blocks (Hugging Face `CLIPEncoder`).

use std::collections::BTreeMap;

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::encoder_layer::{ClipEncoderLayer, ClipEncoderLayerConfig};

/// Configuration of a [`ClipEncoder`].
#[derive(Config, Debug)]
pub struct ClipEncoderConfig {
    /// Number of blocks (`num_hidden_layers`).
    pub num_layers: usize,
    /// Configuration shared by every block.
    pub layer: ClipEncoderLayerConfig,
}

impl ClipEncoderConfig {
    /// Creates the module with burn's default (lazy) initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ClipEncoder<B> {
        ClipEncoder {
            layers: (0..self.num_layers)
                .map(|_| self.layer.init(device))
                .collect(),
        }
    }
}

/// The blocks of one tower, applied in order.
#[derive(Module, Debug)]
pub struct ClipEncoder<B: Backend> {
    /// The blocks, `layers.{i}` in the checkpoint.
    pub layers: Vec<ClipEncoderLayer<B>>,
}

impl<B: Backend> ClipEncoder<B> {
    /// Runs every block. `out_proj_weights` maps a block index to a replacement `out_proj`
    /// weight (burn layout `[in, out]`) for that block.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, tokens, d_model]`
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(
        &self,
        input: Tensor<B, 3>,
        causal: bool,
        out_proj_weights: &BTreeMap<usize, Tensor<B, 2>>,
    ) -> Tensor<B, 3> {
        self.layers
            .iter()
            .enumerate()
            .fold(input, |hidden, (index, layer)| {
                layer.forward(hidden, causal, out_proj_weights.get(&index).cloned())
            })
    }
}
