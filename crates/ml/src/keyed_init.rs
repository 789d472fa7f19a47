//! Initialising a burn module from keyed ChaCha streams instead of the backend's RNG, so that
//! every device starts from the same weights for the same (model, seed). A model says only how
//! each parameter is drawn ([`Draw`], from its module path and shape); walking the module and
//! keying the streams is done once here.
//!
//! The `n`-th float parameter in module order draws from stream `(seed, ModelInit, n, family)`;
//! `family` keeps the draws of different models apart.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::streams::{Purpose, normals, stream};

/// How one parameter is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Draw {
    /// Every value is this constant (no draw; the parameter still takes its key index).
    Constant(f64),
    /// Independent N(0, std²) values.
    Normal { std: f64 },
}

/// The standard deviation for a weight of `shape` by its fan-in: `[in, out]` linear weights
/// 1/√in, `[out, in, k, k]` convolutions 1/√(in·k²), anything else 0.02.
pub(crate) fn fan_in_std(shape: &[usize]) -> f64 {
    match shape {
        [fan_in, _] => 1.0 / (*fan_in as f64).sqrt(),
        [_, channels, height, width] => 1.0 / ((channels * height * width) as f64).sqrt(),
        _ => 0.02,
    }
}

/// `module` with every float parameter drawn as `rule(path, shape)` says, from `seed` and
/// `family`; `trainable` marks the new parameters as requiring gradients.
pub(crate) fn keyed_init<B: Backend, M: Module<B>>(
    module: M,
    seed: u64,
    family: u64,
    trainable: bool,
    rule: impl Fn(&[String], &[usize]) -> Draw,
    device: &B::Device,
) -> M {
    let mut mapper = KeyedInit {
        seed,
        family,
        trainable,
        rule,
        path: Vec::new(),
        index: 0,
        device: device.clone(),
    };
    module.map(&mut mapper)
}

struct KeyedInit<B: Backend, F> {
    seed: u64,
    family: u64,
    trainable: bool,
    rule: F,
    path: Vec<String>,
    index: u64,
    device: B::Device,
}

impl<B: Backend, F: Fn(&[String], &[usize]) -> Draw> KeyedInit<B, F> {
    fn values(&mut self, shape: &[usize]) -> Vec<f32> {
        let count: usize = shape.iter().product();
        let index = self.index;
        self.index += 1;
        match (self.rule)(&self.path, shape) {
            Draw::Constant(value) => vec![value as f32; count],
            Draw::Normal { std } => {
                let mut rng = stream(self.seed, Purpose::ModelInit, index, self.family);
                normals(&mut rng, count)
                    .into_iter()
                    .map(|z| (std * z) as f32)
                    .collect()
            }
        }
    }
}

impl<B: Backend, F: Fn(&[String], &[usize]) -> Draw> ModuleMapper<B> for KeyedInit<B, F> {
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
        let tensor = if self.trainable {
            tensor.require_grad()
        } else {
            tensor
        };
        Param::initialized(param.id, tensor)
    }
}
