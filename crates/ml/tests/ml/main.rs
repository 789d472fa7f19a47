//! cpbuild-ml's integration tests, in one test binary: burn's training code is generic and is
//! compiled (at `opt-level = 2`, see the workspace's `Cargo.toml`) in every crate that uses it,
//! so the tests share one crate, which compiles the trainer once.
//!
//! - [`parity`]: the CLIP forward pass against the reference implementation's fixture;
//! - [`pretrain`]: contrastive pretraining of a very small CLIP;
//! - [`train`]: CLIP-HBA training on NdArray (resume, determinism, perturbations, the cache);
//! - [`vit`]: the ViT baseline on NdArray;
//! - `wgpu` (with the `wgpu` feature): the CLIP-HBA run of [`train`] on wgpu against NdArray.

mod parity;
mod pretrain;
mod support;
mod train;
mod vit;
#[cfg(feature = "wgpu")]
mod wgpu;
