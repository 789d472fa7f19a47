//! A ViT initialised from keyed ChaCha streams (not the backend's RNG), so that every device
//! starts from the same weights for the same (config, seed).

use burn::tensor::backend::Backend;

use super::model::{Vit, VitConfig};
use crate::keyed_init::{Draw, fan_in_std, keyed_init};

/// A ViT shaped as `config`, every parameter drawn from `seed`.
///
/// Per parameter, in module order (the `n`-th parameter uses stream `(seed, ModelInit, n, 1)`;
/// the last key field 1 keeps these draws apart from [`crate::train::random_clip`]'s):
/// layer-norm `gamma` = 1, `beta` and every `bias` = 0; the class token 0; the head's weight 0
/// (as torchvision does); positions N(0, 0.02²); other linear weights `[in, out]` N(0, 1/in);
/// the patch convolution `[out, in, k, k]` N(0, 1/(in·k²)). Every parameter is trainable.
pub fn random_vit<B: Backend>(
    config: &VitConfig,
    seed: u64,
    device: &B::Device,
) -> Result<Vit<B>, String> {
    config.validate()?;
    let rule = |path: &[String], shape: &[usize]| {
        let name = path.last().map(String::as_str).unwrap_or_default();
        let in_head = path.first().is_some_and(|part| part == "head");
        match name {
            "gamma" => Draw::Constant(1.0),
            "beta" | "bias" | "class_token" => Draw::Constant(0.0),
            "weight" if in_head => Draw::Constant(0.0),
            "position_embedding" => Draw::Normal { std: 0.02 },
            _ => Draw::Normal {
                std: fan_in_std(shape),
            },
        }
    };
    Ok(keyed_init(
        config.init::<B>(device),
        seed,
        1,
        true,
        rule,
        device,
    ))
}
