//! DoRA (weight-decomposed low-rank adaptation) on the attention output projections of chosen
//! CLIP blocks, exactly as the paper's CLIP-HBA uses it.
//!
//! With `W0` the frozen PyTorch-layout `[out, in]` weight of `attn.out_proj`:
//! - `m = ‖row of W0‖`, shape `[out]`, **trainable**;
//! - `D = W0ᵀ / ‖col‖`, `[in, out]`, **frozen** (recomputed from the frozen `W0`, never stored);
//! - `D' = D + (B[in, r] @ A[r, out]) · scale`, with `A`, `B` **trainable** and
//!   `scale = alpha / r`;
//! - `W = ((D' / (‖col of D'‖ + 1e-8)) · m)ᵀ`; the `out_proj` bias stays frozen.
//!
//! burn's `Linear` stores `[in, out] = W0ᵀ`, so [`DoraLinear::weight`] returns `W` already in
//! burn's layout (the final transpose of the formula is the layout change).
//!
//! # Frozen and trainable parts
//!
//! The trainable parameters (every `m`, `A`, `B`) live in their own module, [`DoraAdapters`];
//! the CLIP model holds only frozen weights. So an optimizer stepping `DoraAdapters` sees only
//! trainable parameters, its state covers only them, and a checkpoint of the adapters' record
//! is the whole trainable state (183,040 floats for ViT-L/14 with the paper's DoRA).
//!
//! # Initialisation
//!
//! `A` and `B` are drawn from a caller-seeded [`ChaCha8Rng`] on the host (not from burn's
//! backend RNG), so they are the same on every device. Both use PyTorch's
//! `kaiming_uniform_(a = √5)`: `U(−1/√fan_in, 1/√fan_in)`, where PyTorch's `fan_in` of a 2-d
//! tensor is its **second** dimension (`tensor.size(1)`). Hence for `A [r, out]` the bound is
//! `1/√out`, and for `B [in, r]` it is `1/√r`. `ΔD = B·A·scale` is therefore not zero at init
//! (unlike LoRA's usual zero-initialised `B`), as the paper states.
//! Draw order: for each adapted block (vision blocks in ascending order, then text blocks),
//! all of `A` row-major, then all of `B` row-major; each value is
//! `bound · (2u − 1)` with `u = (next_u32 >> 8) / 2²⁴`.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::RngCore;

use crate::{ClipConfig, ClipModel, Error, OutProjWeights, Result};

/// Added to the column norms of `D'` before dividing, as in the paper.
pub const NORM_EPSILON: f64 = 1e-8;

/// Configuration of one [`DoraLinear`].
#[derive(Config, Debug)]
pub struct DoraLinearConfig {
    /// Input width of the adapted linear layer.
    pub d_input: usize,
    /// Output width of the adapted linear layer.
    pub d_output: usize,
    /// Rank `r` of the update `B @ A`.
    #[config(default = 32)]
    pub rank: usize,
    /// `alpha`; the update is scaled by `alpha / rank`.
    #[config(default = 16.0)]
    pub alpha: f64,
}

impl DoraLinearConfig {
    /// `alpha / rank`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    /// Trainable parameters: `out` (m) + `r·out` (A) + `in·r` (B).
    pub fn num_params(&self) -> usize {
        self.d_output + self.rank * self.d_output + self.d_input * self.rank
    }

    /// Creates the adapter with placeholder values (`m = 1`, `A = B = 0`), lazily; use it as
    /// the target for loading a checkpoint record. For training from scratch use
    /// [`Self::init_from_base`].
    pub fn init<B: Backend>(&self, device: &B::Device) -> DoraLinear<B> {
        DoraLinear {
            magnitude: Initializer::Ones.init([self.d_output], device),
            lora_a: Initializer::Zeros.init([self.rank, self.d_output], device),
            lora_b: Initializer::Zeros.init([self.d_input, self.rank], device),
            scale: self.scale(),
        }
    }

    /// The paper's initialisation for adapting `base`: `m` = the row norms of `W0`, `A` and `B`
    /// kaiming-uniform from `rng` (see the module doc for bounds and draw order).
    pub fn init_from_base<B: Backend>(
        &self,
        base: &Linear<B>,
        rng: &mut ChaCha8Rng,
    ) -> Result<DoraLinear<B>> {
        let weight = base.weight.val(); // [in, out] = W0ᵀ
        let [d_input, d_output] = weight.dims();
        if [d_input, d_output] != [self.d_input, self.d_output] {
            return Err(Error::InvalidConfig {
                message: format!(
                    "DoRA adapter is {}×{} but the adapted layer is {d_input}×{d_output}",
                    self.d_input, self.d_output
                ),
            });
        }
        let device = weight.device();
        // ‖row of W0‖ = ‖column of W0ᵀ‖, summed in f64 on the host so that it does not
        // depend on the device's reduction order.
        let values = weight
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|error| Error::InvalidConfig {
                message: format!("cannot read the adapted layer's weight: {error:?}"),
            })?;
        let mut squares = vec![0.0f64; d_output];
        for row in values.chunks_exact(d_output) {
            for (sum, value) in squares.iter_mut().zip(row) {
                *sum += f64::from(*value) * f64::from(*value);
            }
        }
        let magnitude: Vec<f32> = squares.iter().map(|sum| sum.sqrt() as f32).collect();

        let lora_a = kaiming_uniform(rng, self.rank, d_output);
        let lora_b = kaiming_uniform(rng, d_input, self.rank);
        Ok(DoraLinear {
            magnitude: trainable(magnitude, [d_output], &device),
            lora_a: trainable(lora_a, [self.rank, d_output], &device),
            lora_b: trainable(lora_b, [d_input, self.rank], &device),
            scale: self.scale(),
        })
    }
}

/// A trainable parameter holding `values` in `shape`.
fn trainable<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// `rows × cols` values from PyTorch's `kaiming_uniform_(a = √5)` for a `[rows, cols]` tensor:
/// `U(−1/√cols, 1/√cols)` (PyTorch's `fan_in` is `size(1)`), row-major.
fn kaiming_uniform(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Vec<f32> {
    let bound = 1.0 / (cols as f64).sqrt();
    (0..rows * cols)
        .map(|_| {
            let unit = f64::from(rng.next_u32() >> 8) / f64::from(1u32 << 24); // [0, 1)
            (bound * (2.0 * unit - 1.0)) as f32
        })
        .collect()
}

/// The trainable part of one DoRA-adapted linear layer.
#[derive(Module, Debug)]
pub struct DoraLinear<B: Backend> {
    /// `m`, `[out]`.
    pub magnitude: Param<Tensor<B, 1>>,
    /// `A`, `[r, out]`.
    pub lora_a: Param<Tensor<B, 2>>,
    /// `B`, `[in, r]`.
    pub lora_b: Param<Tensor<B, 2>>,
    /// `alpha / r`.
    pub scale: f64,
}

impl<B: Backend> DoraLinear<B> {
    /// The adapted weight in burn's layout, from the frozen base weight in burn's layout.
    /// The base is detached: no gradient reaches it whatever its `require_grad`.
    ///
    /// # Shapes
    ///
    /// - base_weight: `[in, out]` (= `W0ᵀ`)
    /// - output: `[in, out]` (= `Wᵀ`)
    pub fn weight(&self, base_weight: Tensor<B, 2>) -> Tensor<B, 2> {
        let base = base_weight.detach(); // [in, out]
        let [_, d_output] = base.dims();
        let base_norm = (base.clone() * base.clone()).sum_dim(0).sqrt(); // [1, out]
        let direction = base / base_norm; // D, [in, out]
        let delta = self
            .lora_b
            .val()
            .matmul(self.lora_a.val())
            .mul_scalar(self.scale); // [in, out]
        let adapted = direction + delta; // D', [in, out]
        let adapted_norm = (adapted.clone() * adapted.clone())
            .sum_dim(0)
            .sqrt()
            .add_scalar(NORM_EPSILON); // [1, out]
        adapted / adapted_norm * self.magnitude.val().reshape([1, d_output])
    }
}

/// Which blocks get DoRA, and its rank and alpha.
#[derive(Config, Debug)]
pub struct DoraConfig {
    /// Rank `r`.
    #[config(default = 32)]
    pub rank: usize,
    /// `alpha`; updates are scaled by `alpha / rank`.
    #[config(default = 16.0)]
    pub alpha: f64,
    /// Vision blocks whose `attn.out_proj` is adapted (paper: 22 and 23 of 24).
    #[config(default = "vec![22, 23]")]
    pub vision_layers: Vec<usize>,
    /// Text blocks whose `attn.out_proj` is adapted (paper: 11 of 12).
    #[config(default = "vec![11]")]
    pub text_layers: Vec<usize>,
}

impl DoraConfig {
    /// The paper's DoRA: r = 32, alpha = 16, vision blocks 22 and 23, text block 11.
    pub fn paper() -> Self {
        DoraConfig::new()
    }

    /// The last `vision` vision blocks and last `text` text blocks of `clip`, with the paper's
    /// rank and alpha (`paper()` is `last_layers(&ClipConfig::vit_l_14(), 2, 1)`).
    pub fn last_layers(clip: &ClipConfig, vision: usize, text: usize) -> Self {
        let last = |layers: usize, count: usize| (layers.saturating_sub(count)..layers).collect();
        DoraConfig::new()
            .with_vision_layers(last(clip.vision.num_layers, vision))
            .with_text_layers(last(clip.text.num_layers, text))
    }

    /// Checks the layer indices against `clip` (in range, no repeats) and that `rank` > 0.
    pub fn validate(&self, clip: &ClipConfig) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidConfig { message });
        if self.rank == 0 {
            return invalid("DoRA rank is 0".to_string());
        }
        for (tower, layers, count) in [
            ("vision", &self.vision_layers, clip.vision.num_layers),
            ("text", &self.text_layers, clip.text.num_layers),
        ] {
            for (position, layer) in layers.iter().enumerate() {
                if *layer >= count {
                    return invalid(format!(
                        "DoRA {tower} layer {layer} does not exist: the tower has {count} blocks"
                    ));
                }
                if layers[..position].contains(layer) {
                    return invalid(format!("DoRA {tower} layer {layer} is listed twice"));
                }
            }
        }
        Ok(())
    }

    fn linear(&self, width: usize) -> DoraLinearConfig {
        DoraLinearConfig::new(width, width)
            .with_rank(self.rank)
            .with_alpha(self.alpha)
    }

    /// The number of trainable parameters with `clip`, from the configs alone (nothing is
    /// allocated): 183,040 for ViT-L/14 with the paper's DoRA.
    pub fn trainable_param_count(&self, clip: &ClipConfig) -> Result<usize> {
        self.validate(clip)?;
        let vision = self.linear(clip.vision.hidden_size).num_params();
        let text = self.linear(clip.text.hidden_size).num_params();
        Ok(self.vision_layers.len() * vision + self.text_layers.len() * text)
    }

    /// Placeholder adapters (see [`DoraLinearConfig::init`]) shaped for `clip`: the target for
    /// loading a checkpoint record.
    pub fn init<B: Backend>(
        &self,
        clip: &ClipConfig,
        device: &B::Device,
    ) -> Result<DoraAdapters<B>> {
        self.validate(clip)?;
        let vision = self.linear(clip.vision.hidden_size);
        let text = self.linear(clip.text.hidden_size);
        Ok(DoraAdapters {
            vision: self
                .vision_layers
                .iter()
                .map(|_| vision.init(device))
                .collect(),
            text: self.text_layers.iter().map(|_| text.init(device)).collect(),
            vision_layers: self.vision_layers.clone(),
            text_layers: self.text_layers.clone(),
        })
    }

    /// The paper's initialisation for the frozen `clip` (shaped as `clip_config`), drawing `A`
    /// and `B` from `rng` (see the module doc for the order).
    pub fn init_from_base<B: Backend>(
        &self,
        clip_config: &ClipConfig,
        clip: &ClipModel<B>,
        rng: &mut ChaCha8Rng,
    ) -> Result<DoraAdapters<B>> {
        self.validate(clip_config)?;
        let vision_blocks = &clip.vision_model.encoder.layers;
        let text_blocks = &clip.text_model.encoder.layers;
        if vision_blocks.len() != clip_config.vision.num_layers
            || text_blocks.len() != clip_config.text.num_layers
        {
            return Err(Error::InvalidConfig {
                message: "the CLIP model does not match its config".to_string(),
            });
        }
        let vision_config = self.linear(clip_config.vision.hidden_size);
        let text_config = self.linear(clip_config.text.hidden_size);
        let mut vision = Vec::with_capacity(self.vision_layers.len());
        for layer in &self.vision_layers {
            let base = &vision_blocks[*layer].self_attn.out_proj;
            vision.push(vision_config.init_from_base(base, rng)?);
        }
        let mut text = Vec::with_capacity(self.text_layers.len());
        for layer in &self.text_layers {
            let base = &text_blocks[*layer].self_attn.out_proj;
            text.push(text_config.init_from_base(base, rng)?);
        }
        Ok(DoraAdapters {
            vision,
            text,
            vision_layers: self.vision_layers.clone(),
            text_layers: self.text_layers.clone(),
        })
    }
}

/// Every trainable parameter of CLIP-HBA: one [`DoraLinear`] per adapted block.
#[derive(Module, Debug)]
pub struct DoraAdapters<B: Backend> {
    /// Adapters of the vision blocks, in the order of `vision_layers`.
    pub vision: Vec<DoraLinear<B>>,
    /// Adapters of the text blocks, in the order of `text_layers`.
    pub text: Vec<DoraLinear<B>>,
    /// The vision block each adapter belongs to.
    pub vision_layers: Vec<usize>,
    /// The text block each adapter belongs to.
    pub text_layers: Vec<usize>,
}

impl<B: Backend> DoraAdapters<B> {
    /// The adapted `out_proj` weights for `clip`, to pass to
    /// [`ClipModel::encode_image_with`] / [`ClipModel::encode_text_with`].
    /// Blocks outside `clip` are skipped ([`DoraConfig::validate`] rules them out).
    pub fn out_proj_weights(&self, clip: &ClipModel<B>) -> OutProjWeights<B> {
        let adapt = |adapters: &[DoraLinear<B>], layers: &[usize], blocks: &[_]| {
            adapters
                .iter()
                .zip(layers)
                .filter_map(|(adapter, layer)| {
                    let block: &crate::clip::ClipEncoderLayer<B> = blocks.get(*layer)?;
                    Some((
                        *layer,
                        adapter.weight(block.self_attn.out_proj.weight.val()),
                    ))
                })
                .collect()
        };
        OutProjWeights {
            vision: adapt(
                &self.vision,
                &self.vision_layers,
                &clip.vision_model.encoder.layers,
            ),
            text: adapt(
                &self.text,
                &self.text_layers,
                &clip.text_model.encoder.layers,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::module::{Module, Param};
    use burn::nn::LinearConfig;
    use burn::tensor::Tensor;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    use super::{DoraConfig, DoraLinearConfig};
    use crate::{ClipConfig, CpuBackend as B, Error};

    fn values<const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
        tensor.into_data().to_vec::<f32>().expect("f32 tensor")
    }

    #[test]
    fn paper_dora_on_vit_l_14_trains_183_040_parameters() {
        // 2 × (1024 + 32·1024 + 1024·32) + (768 + 32·768 + 768·32), from the configs alone.
        let count = DoraConfig::paper()
            .trainable_param_count(&ClipConfig::vit_l_14())
            .expect("valid config");
        assert_eq!(count, 183_040);
    }

    #[test]
    fn paper_layers_are_the_last_blocks_of_vit_l_14() {
        let last = DoraConfig::last_layers(&ClipConfig::vit_l_14(), 2, 1);
        assert_eq!(last.vision_layers, DoraConfig::paper().vision_layers);
        assert_eq!(last.text_layers, DoraConfig::paper().text_layers);
        assert_eq!(DoraConfig::paper().vision_layers, vec![22, 23]);
        assert_eq!(DoraConfig::paper().text_layers, vec![11]);
        assert_eq!(DoraLinearConfig::new(8, 8).scale(), 0.5);
    }

    #[test]
    fn count_from_config_matches_allocated_adapters() {
        let clip = ClipConfig::tiny();
        let dora = DoraConfig::last_layers(&clip, 2, 1);
        let adapters = dora.init::<B>(&clip, &Default::default()).expect("valid");
        assert_eq!(
            adapters.num_params(),
            dora.trainable_param_count(&clip).expect("valid")
        );
    }

    #[test]
    fn out_of_range_layers_are_refused() {
        let dora = DoraConfig::paper();
        let error = dora
            .trainable_param_count(&ClipConfig::tiny())
            .expect_err("tiny CLIP has 2 blocks");
        assert!(matches!(error, Error::InvalidConfig { .. }));
        assert!(error.to_string().contains("vision layer 22"), "{error}");
        let twice = DoraConfig::new()
            .with_vision_layers(vec![1, 1])
            .with_text_layers(vec![]);
        assert!(twice.validate(&ClipConfig::tiny()).is_err());
    }

    #[test]
    fn zero_update_gives_back_the_base_weight() {
        let device = Default::default();
        let base = LinearConfig::new(48, 40).init::<B>(&device);
        let config = DoraLinearConfig::new(48, 40).with_rank(4);
        let mut adapter = config
            .init_from_base(&base, &mut ChaCha8Rng::seed_from_u64(7))
            .expect("shapes match");
        // Force B·A = 0.
        adapter.lora_a = Param::from_tensor(Tensor::zeros([4, 40], &device));
        let weight = values(adapter.weight(base.weight.val()));
        let expected = values(base.weight.val());
        let error = weight
            .iter()
            .zip(&expected)
            .fold(0.0f32, |max, (a, b)| max.max((a - b).abs()));
        assert!(error <= 1e-6, "max error {error}");
    }

    #[test]
    fn initialisation_follows_the_paper_and_the_seed() {
        let device = Default::default();
        let base = LinearConfig::new(64, 48).init::<B>(&device);
        let config = DoraLinearConfig::new(64, 48).with_rank(8).with_alpha(4.0);
        let init = |seed| {
            config
                .init_from_base(&base, &mut ChaCha8Rng::seed_from_u64(seed))
                .expect("shapes match")
        };
        let (first, again, other) = (init(1), init(1), init(2));

        let a = values(first.lora_a.val());
        let b = values(first.lora_b.val());
        assert_eq!(a, values(again.lora_a.val()));
        assert_eq!(b, values(again.lora_b.val()));
        assert_ne!(a, values(other.lora_a.val()));

        // A [r, out]: fan_in = out = 48; B [in, r]: fan_in = r = 8.
        let bound_a = 1.0 / 48f32.sqrt();
        let bound_b = 1.0 / 8f32.sqrt();
        assert!(a.iter().all(|value| value.abs() <= bound_a));
        assert!(b.iter().all(|value| value.abs() <= bound_b));
        // The draws fill their range (not, say, a tenth of it).
        assert!(a.iter().any(|value| value.abs() > 0.9 * bound_a));
        assert!(b.iter().any(|value| value.abs() > 0.9 * bound_b));
        assert!((first.scale - 0.5).abs() < 1e-12);

        // m = ‖row of W0‖ = ‖column of burn's [in, out] weight‖.
        let weight = values(base.weight.val()); // [64, 48]
        let magnitude = values(first.magnitude.val());
        for (column, m) in magnitude.iter().enumerate() {
            let norm = (0..64)
                .map(|row| weight[row * 48 + column].powi(2))
                .sum::<f32>()
                .sqrt();
            assert!((norm - m).abs() <= 1e-5, "column {column}: {norm} vs {m}");
        }

        // ΔD ≠ 0 at init, so W ≠ W0, but the column norms of W are m.
        let adapted = values(first.weight(base.weight.val()));
        assert!(
            adapted
                .iter()
                .zip(&weight)
                .any(|(a, w)| (a - w).abs() > 1e-3)
        );
        for (column, m) in magnitude.iter().enumerate() {
            let norm = (0..64)
                .map(|row| adapted[row * 48 + column].powi(2))
                .sum::<f32>()
                .sqrt();
            assert!((norm - m).abs() <= 1e-5);
        }
    }
}
