//! The feed-forward half of a CLIP block: `fc1 → QuickGELU → fc2`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
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
///
/// The sigmoid is written as `1 / (1 + exp(−1.702 · x))`: one `exp` per element, where burn's
/// generic sigmoid (which NdArray uses) computes `exp(−log(1 + exp(−z)))`, two `exp` and a `log`
/// (a fifth of a `ci` training step's time). The exponent is capped at [`MAX_EXPONENT`] so that
/// `exp` stays finite: an infinite one would make the backward pass `0 · ∞ = NaN` for
/// `x < −52`. Where the cap applies (`x < −47`) the output is below `10⁻³³` in magnitude
/// either way.
pub fn quick_gelu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let denominator = x
        .clone()
        .mul_scalar(-1.702)
        .clamp_max(MAX_EXPONENT)
        .exp()
        .add_scalar(1.0);
    x / denominator
}

/// The largest exponent [`quick_gelu`] passes to `exp` (`e⁸⁰ ≈ 5.5 · 10³⁴`, finite in `f32`).
pub const MAX_EXPONENT: f32 = 80.0;

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::quick_gelu;
    use crate::CpuAutodiffBackend as B;

    /// `x · sigmoid(1.702 x)` and its derivative, in f64.
    fn reference(x: f64) -> (f64, f64) {
        let s = 1.0 / (1.0 + (-1.702 * x).exp());
        (x * s, s + 1.702 * x * s * (1.0 - s))
    }

    #[test]
    fn values_and_gradients_match_the_formula_and_stay_finite_at_the_extremes() {
        let xs = [
            -1.0e4f32, -100.0, -60.0, -50.0, -10.0, -1.0, 0.0, 0.5, 3.0, 100.0, 1.0e4,
        ];
        let device = Default::default();
        let x = Tensor::<B, 1>::from_data(TensorData::new(xs.to_vec(), [xs.len()]), &device)
            .require_grad();
        let y = quick_gelu(x.clone());
        let gradients = y.clone().sum().backward();
        let values = y.into_data().to_vec::<f32>().unwrap();
        let slopes = x
            .grad(&gradients)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        for ((&x, &value), &slope) in xs.iter().zip(&values).zip(&slopes) {
            let (want, want_slope) = reference(f64::from(x));
            assert!(
                value.is_finite() && slope.is_finite(),
                "x {x}: {value}, {slope}"
            );
            let close =
                |got: f32, want: f64| (f64::from(got) - want).abs() <= 1e-6 * want.abs().max(1.0);
            assert!(close(value, want), "x {x}: {value} vs {want}");
            assert!(
                close(slope, want_slope),
                "x {x}: slope {slope} vs {want_slope}"
            );
        }
    }
}
