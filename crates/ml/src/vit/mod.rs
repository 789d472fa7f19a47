//! The ViT baseline of the paper (figures 1b and 2b): a ViT classifier trained from scratch with
//! SGD, a cosine schedule with linear warm-up and cross-entropy, logging after every epoch the
//! validation loss and the RSA of its penultimate embeddings on the 48 THINGS images.
//!
//! The flow: [`VitConfig`] (the shape: [`VitConfig::vit_b_16`] for the paper, [`VitConfig::tiny`]
//! for ci) and [`VitTrainConfig`] (the run), [`VitData`] (labelled train/val [`ImageSet`]s, the
//! RSA images, the human RDM) → [`VitTrainer`] (fresh from a keyed initialisation, or
//! [`VitTrainer::resume`] from a saved [`state`] directory) → [`VitTrainer::run`], which saves
//! `e####/` after every epoch. As for CLIP-HBA, every random draw comes from
//! [`crate::streams`], so a state holds no generator state and resuming is exact.

mod config;
mod data;
mod init;
mod model;
mod results;
mod sgd;
pub mod state;
mod trainer;

pub use config::VitTrainConfig;
pub use data::{ImageSet, InMemoryImages, VitData};
pub use init::random_vit;
pub use model::{Vit, VitBlock, VitConfig, VitMlp};
pub use results::{VIT_HEADER, VitEpochResult, vit_csv};
pub use sgd::Sgd;
pub use trainer::{VitTrainer, cross_entropy};

/// Parameters by module path, as the ViT's state files store them.
pub use crate::named;
