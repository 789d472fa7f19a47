//! Multi-head self-attention as in CLIP: separate `q`, `k`, `v` and `out` projections, all with
//! bias, queries scaled by `1/√head_dim`, optionally causal (the text tower).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor, TensorData};

/// Configuration of a [`ClipAttention`].
#[derive(Config, Debug)]
pub struct ClipAttentionConfig {
    /// Width of the token embeddings (`hidden_size`).
    pub d_model: usize,
    /// Number of attention heads; must divide `d_model`.
    pub num_heads: usize,
}

impl ClipAttentionConfig {
    /// Creates the module with burn's default (lazy) initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ClipAttention<B> {
        let projection = || LinearConfig::new(self.d_model, self.d_model).init(device);
        ClipAttention {
            q_proj: projection(),
            k_proj: projection(),
            v_proj: projection(),
            out_proj: projection(),
            num_heads: self.num_heads,
        }
    }
}

/// Multi-head self-attention (Hugging Face `CLIPAttention`).
#[derive(Module, Debug)]
pub struct ClipAttention<B: Backend> {
    /// Query projection, weight `[d_model, d_model]` (burn layout `[in, out]`).
    pub q_proj: Linear<B>,
    /// Key projection.
    pub k_proj: Linear<B>,
    /// Value projection.
    pub v_proj: Linear<B>,
    /// Output projection; the one DoRA adapts.
    pub out_proj: Linear<B>,
    /// Number of heads.
    pub num_heads: usize,
}

impl<B: Backend> ClipAttention<B> {
    /// Attends over the tokens of each sequence.
    ///
    /// `out_proj_weight`, when given, replaces the stored `out_proj` weight (burn layout
    /// `[in, out]`); the stored bias is kept. This is how DoRA plugs in without owning the
    /// frozen layer.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, tokens, d_model]`
    /// - out_proj_weight: `[d_model, d_model]`
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(
        &self,
        input: Tensor<B, 3>,
        causal: bool,
        out_proj_weight: Option<Tensor<B, 2>>,
    ) -> Tensor<B, 3> {
        let [batch, tokens, d_model] = input.dims();
        let heads = self.num_heads;
        let head_dim = d_model / heads;
        let scale = (head_dim as f64).powf(-0.5);

        let split_heads = |x: Tensor<B, 3>| {
            // [batch, tokens, d_model] -> [batch, heads, tokens, head_dim]
            x.reshape([batch, tokens, heads, head_dim]).swap_dims(1, 2)
        };
        let query = split_heads(self.q_proj.forward(input.clone())).mul_scalar(scale);
        let key = split_heads(self.k_proj.forward(input.clone()));
        let value = split_heads(self.v_proj.forward(input));

        // [batch, heads, tokens, tokens]
        let mut scores = query.matmul(key.swap_dims(2, 3));
        if causal {
            let mask = causal_mask::<B>(tokens, &scores.device())
                .reshape([1, 1, tokens, tokens])
                .expand([batch, heads, tokens, tokens]);
            scores = scores.mask_fill(mask, f32::NEG_INFINITY);
        }
        let weights = softmax(scores, 3);

        // [batch, heads, tokens, head_dim] -> [batch, tokens, d_model]
        let context = weights
            .matmul(value)
            .swap_dims(1, 2)
            .reshape([batch, tokens, d_model]);

        match out_proj_weight {
            None => self.out_proj.forward(context),
            Some(weight) => {
                let output = context.matmul(weight.unsqueeze::<3>()); // [batch, tokens, d_model]
                match &self.out_proj.bias {
                    Some(bias) => output + bias.val().reshape([1, 1, d_model]),
                    None => output,
                }
            }
        }
    }
}

/// `true` where a query (row) must not see a key (column): every key after the query.
///
/// # Shapes
///
/// - output: `[tokens, tokens]`
fn causal_mask<B: Backend>(tokens: usize, device: &B::Device) -> Tensor<B, 2, Bool> {
    let mask: Vec<bool> = (0..tokens)
        .flat_map(|query| (0..tokens).map(move |key| key > query))
        .collect();
    Tensor::from_data(TensorData::new(mask, [tokens, tokens]), device)
}
