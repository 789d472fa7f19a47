//! SGD with momentum and L2 weight decay, as PyTorch's `torch.optim.SGD` computes it
//! (no dampening, not Nesterov): `g = ∇ + wd·p`; `v = g` at a parameter's first step, then
//! `v = μ·v + g`; `p = p − lr·v`.
//!
//! Written here rather than taken from burn so that its whole state is plain, named tensors
//! (one momentum buffer per parameter path) that [`super::state`] saves and restores exactly.

use std::collections::BTreeMap;

use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

/// The optimizer and its momentum buffers (flattened to 1-d, by parameter path).
#[derive(Debug, Clone)]
pub struct Sgd<B: Backend> {
    /// Momentum μ.
    pub momentum: f64,
    /// Weight decay (L2, added to the gradient).
    pub weight_decay: f64,
    /// Momentum buffers by parameter path, flattened.
    pub velocity: BTreeMap<String, Tensor<B, 1>>,
}

impl<B: Backend> Sgd<B> {
    /// A fresh optimizer without buffers.
    pub fn new(momentum: f64, weight_decay: f64) -> Sgd<B> {
        Sgd {
            momentum,
            weight_decay,
            velocity: BTreeMap::new(),
        }
    }

    /// One step with learning rate `lr` on every parameter of `module` that has a gradient.
    pub fn step<A, M>(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M
    where
        A: AutodiffBackend<InnerBackend = B>,
        M: AutodiffModule<A>,
    {
        let mut mapper = Step::<A> {
            path: Vec::new(),
            sgd: self,
            grads: &mut grads,
            lr,
        };
        module.map(&mut mapper)
    }
}

struct Step<'a, A: AutodiffBackend> {
    path: Vec<String>,
    sgd: &'a mut Sgd<A::InnerBackend>,
    grads: &'a mut GradientsParams,
    lr: f64,
}

impl<A: AutodiffBackend> ModuleMapper<A> for Step<'_, A> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<A, D>>) -> Param<Tensor<A, D>> {
        let Some(grad) = self.grads.remove::<A::InnerBackend, D>(param.id) else {
            return param;
        };
        let name = self.path.join(".");
        let id = param.id;
        let value = param.val().inner(); // [param shape]
        let shape = value.dims();
        let count: usize = shape.iter().product();
        let mut update = grad;
        if self.sgd.weight_decay != 0.0 {
            update = update + value.clone().mul_scalar(self.sgd.weight_decay);
        }
        if self.sgd.momentum != 0.0 {
            update = match self.sgd.velocity.remove(&name) {
                Some(velocity) => velocity.reshape(shape).mul_scalar(self.sgd.momentum) + update,
                None => update,
            };
            self.sgd
                .velocity
                .insert(name, update.clone().reshape([count]));
        }
        let next = value - update.mul_scalar(self.lr);
        Param::initialized(id, Tensor::from_inner(next).require_grad())
    }
}
