//! A ViT initialised from keyed ChaCha streams (not the backend's RNG), so that every device
//! starts from the same weights for the same (config, seed).

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::model::{Vit, VitConfig};
use crate::streams::{Purpose, normals, stream};

/// A ViT shaped as `config`, every parameter drawn from `seed`.
///
/// Per parameter, in module order (the `n`-th parameter uses stream `(seed, ModelInit, n, 1)`;
/// the last key field 1 keeps these draws apart from [`crate::train::random_clip`]'s):
/// layer-norm `gamma` = 1, `beta` and every `bias` = 0; the class token 0; the head's weight 0
/// (as torchvision does); positions N(0, 0.02²); other linear weights `[in, out]` N(0, 1/in);
/// the patch convolution `[out, in, k, k]` N(0, 1/(in·k²)).
pub fn random_vit<B: Backend>(
    config: &VitConfig,
    seed: u64,
    device: &B::Device,
) -> Result<Vit<B>, String> {
    config.validate()?;
    let mut mapper = KeyedInit {
        seed,
        path: Vec::new(),
        index: 0,
        device: device.clone(),
    };
    Ok(config.init::<B>(device).map(&mut mapper))
}

struct KeyedInit<B: Backend> {
    seed: u64,
    path: Vec<String>,
    index: u64,
    device: B::Device,
}

impl<B: Backend> KeyedInit<B> {
    fn values(&mut self, shape: &[usize]) -> Vec<f32> {
        let count: usize = shape.iter().product();
        let name = self.path.last().map(String::as_str).unwrap_or_default();
        let in_head = self.path.first().is_some_and(|part| part == "head");
        let index = self.index;
        self.index += 1;
        let std = match name {
            "gamma" => return vec![1.0; count],
            "beta" | "bias" | "class_token" => return vec![0.0; count],
            "weight" if in_head => return vec![0.0; count],
            "position_embedding" => 0.02,
            _ => match shape {
                [fan_in, _] => 1.0 / (*fan_in as f64).sqrt(),
                [_, channels, height, width] => 1.0 / ((channels * height * width) as f64).sqrt(),
                _ => 0.02,
            },
        };
        let mut rng = stream(self.seed, Purpose::ModelInit, index, 1);
        normals(&mut rng, count)
            .into_iter()
            .map(|z| (std * z) as f32)
            .collect()
    }
}

impl<B: Backend> ModuleMapper<B> for KeyedInit<B> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        // `lazy_shape` does not run burn's (backend-RNG) initialiser.
        let shape: [usize; D] = param.lazy_shape().dims();
        let values = self.values(&shape);
        let tensor = Tensor::from_data(TensorData::new(values, shape), &self.device);
        Param::initialized(param.id, tensor.require_grad())
    }
}
