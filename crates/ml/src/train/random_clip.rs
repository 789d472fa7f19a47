//! A randomly initialised CLIP whose weights depend only on (config, seed): drawn on the host
//! from keyed ChaCha streams, not from the backend's RNG, so every device gets the same model.
//! Used by the `ci` profile (`weights = random`) and by tests.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::streams::{Purpose, normals, stream};
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
    let mut mapper = RandomInit {
        seed,
        path: Vec::new(),
        index: 0,
        logit_scale: config.logit_scale_init,
        device: device.clone(),
    };
    Ok(config.init::<B>(device).map(&mut mapper))
}

struct RandomInit<B: Backend> {
    seed: u64,
    path: Vec<String>,
    index: u64,
    logit_scale: f64,
    device: B::Device,
}

impl<B: Backend> RandomInit<B> {
    fn values(&mut self, shape: &[usize]) -> Vec<f32> {
        let count: usize = shape.iter().product();
        let name = self.path.last().map(String::as_str).unwrap_or_default();
        let in_embedding = self.path.iter().any(|part| part.contains("embedding"));
        let index = self.index;
        self.index += 1;
        let std = match name {
            "gamma" => return vec![1.0; count],
            "beta" | "bias" => return vec![0.0; count],
            "logit_scale" => return vec![self.logit_scale as f32; count],
            _ if in_embedding && shape.len() != 4 => 0.02,
            _ => match shape {
                [fan_in, _] => 1.0 / (*fan_in as f64).sqrt(),
                [_, channels, height, width] => 1.0 / ((channels * height * width) as f64).sqrt(),
                _ => 0.02,
            },
        };
        let mut rng = stream(self.seed, Purpose::ModelInit, index, 0);
        normals(&mut rng, count)
            .into_iter()
            .map(|z| (std * z) as f32)
            .collect()
    }
}

impl<B: Backend> ModuleMapper<B> for RandomInit<B> {
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
        Param::initialized(param.id, tensor)
    }
}
