//! A stack of CLIP blocks (Hugging Face `CLIPEncoder`).

use std::collections::BTreeMap;
use std::ops::Range;

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
        self.forward_range(input, causal, out_proj_weights, 0..self.layers.len())
    }

    /// Runs blocks `layers` only (clamped to the stack), in order: `forward` is
    /// `forward_range(.., 0..len)`, and `forward_range(forward_range(x, .., 0..k), .., k..len)`
    /// performs exactly the same operations as `forward(x)`. The frozen-prefix cache of
    /// training relies on that split.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, tokens, d_model]`, the hidden state entering block `layers.start`
    /// - output: `[batch, tokens, d_model]`, the hidden state leaving block `layers.end − 1`
    pub fn forward_range(
        &self,
        input: Tensor<B, 3>,
        causal: bool,
        out_proj_weights: &BTreeMap<usize, Tensor<B, 2>>,
        layers: Range<usize>,
    ) -> Tensor<B, 3> {
        let end = layers.end.min(self.layers.len());
        let start = layers.start.min(end);
        self.layers[start..end]
            .iter()
            .zip(start..end)
            .fold(input, |hidden, (layer, index)| {
                layer.forward(hidden, causal, out_proj_weights.get(&index).cloned())
            })
    }
}
