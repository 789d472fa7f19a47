//! Every float parameter of a burn module by its dotted path (`blocks.0.attention.q_proj.weight`),
//! copied to the host and back: what per-epoch state files store and what exports rename.
//!
//! Paths are the module's field names joined with `.` (a `Vec` contributes the index), exactly as
//! burn's [`ModuleVisitor`] walks them, so the same model type always yields the same names in
//! the same (module) order. Maps are `BTreeMap`s, so files written from them are sorted.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::epochs::HostTensor;

/// Copies every float parameter of `module` to the host, by dotted path.
pub fn named_params<B: Backend, M: Module<B>>(module: &M) -> BTreeMap<String, HostTensor> {
    let mut visitor = Collect {
        path: Vec::new(),
        out: BTreeMap::new(),
    };
    module.visit(&mut visitor);
    visitor.out
}

/// Replaces every float parameter of `module` by the host tensor of the same path in `values`
/// (parameter ids are kept). Every parameter must be present with its shape, and every entry of
/// `values` must name a parameter; the error lists the first problem.
pub fn load_named_params<B: Backend, M: Module<B>>(
    module: M,
    values: &BTreeMap<String, HostTensor>,
    device: &B::Device,
) -> Result<M, String> {
    let mut mapper = Load {
        path: Vec::new(),
        values,
        used: 0,
        device: device.clone(),
        problem: None,
    };
    let module = module.map(&mut mapper);
    if let Some(problem) = mapper.problem {
        return Err(problem);
    }
    if mapper.used != values.len() {
        let known = named_params::<B, M>(&module);
        if let Some(extra) = values.keys().find(|name| !known.contains_key(*name)) {
            return Err(format!("`{extra}` is not a parameter of this model"));
        }
    }
    Ok(module)
}

/// Reads a tensor back to the host as f32.
pub fn host<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> HostTensor {
    let shape = tensor.dims().to_vec();
    let values = tensor
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .unwrap_or_default();
    HostTensor { shape, values }
}

struct Collect {
    path: Vec<String>,
    out: BTreeMap<String, HostTensor>,
}

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.out.insert(self.path.join("."), host(param.val()));
    }
}

struct Load<'a, B: Backend> {
    path: Vec<String>,
    values: &'a BTreeMap<String, HostTensor>,
    used: usize,
    device: B::Device,
    problem: Option<String>,
}

impl<B: Backend> ModuleMapper<B> for Load<'_, B> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let name = self.path.join(".");
        let shape: [usize; D] = param.lazy_shape().dims();
        let Some(tensor) = self.values.get(&name) else {
            self.problem
                .get_or_insert_with(|| format!("parameter `{name}` is missing"));
            return param;
        };
        if tensor.shape != shape {
            self.problem.get_or_insert_with(|| {
                format!(
                    "parameter `{name}` has shape {:?}, the model needs {shape:?}",
                    tensor.shape
                )
            });
            return param;
        }
        self.used += 1;
        // Every parameter is trainable here (a no-op on a backend without autodiff).
        let value = Tensor::from_data(TensorData::new(tensor.values.clone(), shape), &self.device);
        Param::initialized(param.id, value.require_grad())
    }
}
