//! A randomly initialised CLIP whose weights depend only on (config, seed): drawn on the host
//! from keyed ChaCha streams, not from the backend's RNG, so every device gets the same model.
//! Used by the `ci` profile (`weights = random`) and by tests.

use burn::tensor::backend::Backend;

use crate::keyed_init::{Draw, fan_in_std, keyed_init};
use crate::{ClipConfig, ClipModel, Result};

/// A CLIP shaped as `config`, every parameter drawn from `seed`.
///
/// Per parameter, in module order (the `n`-th parameter uses stream `(seed, ModelInit, n, 0)`):
/// layer-norm `gamma` = 1; layer-norm `beta` and every `bias` = 0; `logit_scale` = the config's
/// value; embeddings (class, position, token) N(0, 0.02²); linear weights `[in, out]`
/// N(0, 1/in); the patch convolution `[out, in, k, k]` N(0, 1/(in·k²)).
pub fn random_clip<B: Backend>(
    config: &ClipConfig,
    seed: u64,
    device: &B::Device,
) -> Result<ClipModel<B>> {
    config.validate()?;
    let logit_scale = config.logit_scale_init;
    let rule = |path: &[String], shape: &[usize]| {
        let name = path.last().map(String::as_str).unwrap_or_default();
        let in_embedding = path.iter().any(|part| part.contains("embedding"));
        match name {
            "gamma" => Draw::Constant(1.0),
            "beta" | "bias" => Draw::Constant(0.0),
            "logit_scale" => Draw::Constant(logit_scale),
            _ if in_embedding && shape.len() != 4 => Draw::Normal { std: 0.02 },
            _ => Draw::Normal {
                std: fan_in_std(shape),
            },
        }
    };
    Ok(keyed_init(
        config.init::<B>(device),
        seed,
        0,
        false,
        rule,
        device,
    ))
}
