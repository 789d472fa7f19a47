//! The CLIP text tower (Hugging Face `CLIPTextTransformer`): token and position embeddings,
//! causal blocks, `final_layer_norm`, and the feature at the end-of-text token.

use std::collections::BTreeMap;

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::encoder::{ClipEncoder, ClipEncoderConfig};
use super::encoder_layer::ClipEncoderLayerConfig;

/// Configuration of a [`ClipTextTransformer`] (the `text_config` of a Hugging Face config).
#[derive(Config, Debug)]
pub struct ClipTextConfig {
    /// Width of the token embeddings (`hidden_size`).
    pub hidden_size: usize,
    /// Width of each block's MLP (`intermediate_size`).
    pub intermediate_size: usize,
    /// Number of blocks (`num_hidden_layers`).
    pub num_layers: usize,
    /// Number of attention heads (`num_attention_heads`).
    pub num_heads: usize,
    /// Context length: the most tokens a sequence may have (`max_position_embeddings`).
    #[config(default = 77)]
    pub max_position_embeddings: usize,
    /// Size of the BPE vocabulary.
    #[config(default = 49408)]
    pub vocab_size: usize,
    /// Epsilon of every layer norm of the tower.
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
}

impl ClipTextConfig {
    /// The configuration of the block stack.
    pub fn encoder(&self) -> ClipEncoderConfig {
        ClipEncoderConfig::new(
            self.num_layers,
            ClipEncoderLayerConfig::new(self.hidden_size, self.intermediate_size, self.num_heads)
                .with_layer_norm_eps(self.layer_norm_eps),
        )
    }

    /// Creates the module with random (lazy) initialisation: embeddings `N(0, 0.02²)` and
    /// `N(0, 0.01²)` as in OpenAI CLIP, layers with burn's defaults.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ClipTextTransformer<B> {
        ClipTextTransformer {
            token_embedding: EmbeddingConfig::new(self.vocab_size, self.hidden_size)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device),
            position_embedding: Initializer::Normal {
                mean: 0.0,
                std: 0.01,
            }
            .init([self.max_position_embeddings, self.hidden_size], device),
            encoder: self.encoder().init(device),
            final_layer_norm: LayerNormConfig::new(self.hidden_size)
                .with_epsilon(self.layer_norm_eps)
                .init(device),
        }
    }
}

/// The text tower of CLIP.
#[derive(Module, Debug)]
pub struct ClipTextTransformer<B: Backend> {
    /// Token embedding, weight `[vocab_size, hidden]`.
    pub token_embedding: Embedding<B>,
    /// Learned positions, `[max_position_embeddings, hidden]`.
    pub position_embedding: Param<Tensor<B, 2>>,
    /// The causal blocks.
    pub encoder: ClipEncoder<B>,
    /// `ln_final` of OpenAI CLIP.
    pub final_layer_norm: LayerNorm<B>,
}

impl<B: Backend> ClipTextTransformer<B> {
    /// The tokens entering the first block: token embeddings plus positions.
    ///
    /// # Shapes
    ///
    /// - ids: `[texts, tokens]` with `tokens ≤ max_position_embeddings`
    /// - output: `[texts, tokens, hidden]`
    pub fn embed(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [_, tokens] = ids.dims();
        let embedded = self.token_embedding.forward(ids); // [texts, tokens, hidden]
        let positions = self
            .position_embedding
            .val()
            .narrow(0, 0, tokens)
            .unsqueeze::<3>(); // [1, tokens, hidden]
        embedded + positions
    }

    /// The hidden state of every token entering block `layer` (after blocks `0..layer`, with
    /// their stored weights): what the frozen-prefix cache of training stores.
    ///
    /// # Shapes
    ///
    /// - ids: `[texts, tokens]`
    /// - output: `[texts, tokens, hidden]`
    pub fn hidden_before(&self, ids: Tensor<B, 2, Int>, layer: usize) -> Tensor<B, 3> {
        self.encoder
            .forward_range(self.embed(ids), true, &BTreeMap::new(), 0..layer)
    }

    /// The hidden state of every token after `final_layer_norm`.
    ///
    /// # Shapes
    ///
    /// - ids: `[texts, tokens]` with `tokens ≤ max_position_embeddings`
    /// - output: `[texts, tokens, hidden]`
    pub fn last_hidden_state(
        &self,
        ids: Tensor<B, 2, Int>,
        out_proj_weights: &BTreeMap<usize, Tensor<B, 2>>,
    ) -> Tensor<B, 3> {
        let hidden = self
            .encoder
            .forward(self.embed(ids), true, out_proj_weights);
        self.final_layer_norm.forward(hidden)
    }

    /// The pooled text feature: the hidden state at the end-of-text token, found as the argmax
    /// of the ids (as Hugging Face does for the original vocabulary, where end-of-text, 49407,
    /// is the largest id).
    ///
    /// # Shapes
    ///
    /// - ids: `[texts, tokens]`
    /// - output: `[texts, hidden]`
    pub fn forward(
        &self,
        ids: Tensor<B, 2, Int>,
        out_proj_weights: &BTreeMap<usize, Tensor<B, 2>>,
    ) -> Tensor<B, 2> {
        let end_of_text = ids.clone().argmax(1); // [texts, 1]
        let hidden = self.last_hidden_state(ids, out_proj_weights);
        Self::pool(hidden, end_of_text)
    }

    /// [`Self::forward`] from the hidden state entering block `layer` (as
    /// [`Self::hidden_before`] returns it for the same `ids`): runs blocks `layer..`,
    /// `final_layer_norm`, and pools at end-of-text. Bitwise the same as `forward`.
    ///
    /// # Shapes
    ///
    /// - hidden: `[texts, tokens, hidden]`
    /// - ids: `[texts, tokens]` (only used to find end-of-text)
    /// - output: `[texts, hidden]`
    pub fn forward_from(
        &self,
        hidden: Tensor<B, 3>,
        ids: Tensor<B, 2, Int>,
        layer: usize,
        out_proj_weights: &BTreeMap<usize, Tensor<B, 2>>,
    ) -> Tensor<B, 2> {
        let end_of_text = ids.argmax(1); // [texts, 1]
        let last = self.encoder.layers.len();
        let hidden = self
            .encoder
            .forward_range(hidden, true, out_proj_weights, layer..last);
        Self::pool(self.final_layer_norm.forward(hidden), end_of_text)
    }

    /// The hidden state at each text's end-of-text position.
    ///
    /// # Shapes
    ///
    /// - hidden: `[texts, tokens, hidden]`
    /// - end_of_text: `[texts, 1]`
    /// - output: `[texts, hidden]`
    fn pool(hidden: Tensor<B, 3>, end_of_text: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        let [texts, _, width] = hidden.dims();
        let index = end_of_text.reshape([texts, 1, 1]).expand([texts, 1, width]); // [texts, 1, hidden]
        hidden.gather(1, index).reshape([texts, width])
    }
}
