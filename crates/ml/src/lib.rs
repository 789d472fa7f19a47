//! Machine-learning models for cpbuild: CLIP (ViT-L/14 and small test variants) as burn modules,
//! a loader for Hugging Face `CLIPModel` safetensors, DoRA adapters on the attention output
//! projections, and the CLIP-HBA head of the paper.
//!
//! The flow is: [`ClipConfig`] → [`ClipModel`] (random init, or [`load_clip`] from
//! `model.safetensors`) → [`ClipHba`] (frozen CLIP + trainable [`DoraAdapters`]) → predictions
//! `[batch, 66]`. Everything runs on any burn backend; tests use [`CpuBackend`] (NdArray).

pub mod backend;
pub mod clip;
pub mod dora;
pub mod early_stopping;
pub mod epochs;
mod error;
pub mod hba;
mod keyed_init;
pub mod named;
pub mod perturbation;
pub mod precision;
pub mod pretrain;
pub mod results;
pub mod rsa;
pub mod split;
pub mod streams;
pub mod tokenizer;
pub mod train;
pub mod vit;
pub mod weights;

/// The burn this crate is built with, for code generic over its backends.
pub use burn;
pub use clip::{ClipConfig, ClipModel, ClipTextConfig, ClipVisionConfig, OutProjWeights};
pub use dora::{DoraAdapters, DoraConfig, DoraLinear, DoraLinearConfig};
pub use error::{Error, LISTED_PROBLEMS, WeightProblem};
pub use hba::{ClipHba, ClipHbaConfig};
pub use weights::load_clip;

/// The CPU backend used by tests and CPU runs: burn's NdArray backend in float32.
pub type CpuBackend = burn::backend::NdArray<f32>;

/// [`CpuBackend`] with automatic differentiation, for training on the CPU.
pub type CpuAutodiffBackend = burn::backend::Autodiff<CpuBackend>;

/// burn's WebGPU backend (Vulkan, Metal, DX12 or WebGPU), in float32; cargo feature `wgpu`.
#[cfg(feature = "wgpu")]
pub type WgpuBackend = burn::backend::Wgpu;

/// burn's CUDA backend, in float32; cargo feature `cuda`.
#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Cuda;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
