//! Training CLIP-HBA as the paper does (`docs/protocol.md`, "Training" and "Perturbations"),
//! with every epoch's state saved so that any epoch can be resumed bitwise exactly.
//!
//! The flow: [`TrainConfig`], [`TrainData`] (plain arrays, whatever world the pixels come from)
//! and a frozen [`crate::ClipModel`] → [`Trainer`] (fresh at epoch 0, or [`Trainer::resume`]
//! from a saved [`state`] directory) → [`Trainer::run`], which after every epoch appends an
//! [`crate::results::EpochResult`] and writes `e####/` (parameters, optimizer moments, early
//! stopping, results so far, the randomness keys).
//!
//! Randomness: every draw cpbuild controls comes from [`crate::streams`], keyed by (seed,
//! purpose, epoch, batch), so there is no generator state to save: a state records the keys
//! (the run seed, the perturbation seed and the next epoch) instead. Nothing is left to the
//! backend's RNG (there is no dropout and no augmentation).
//!
//! Inside an epoch nothing is read back from the device: each batch's loss stays there until
//! the epoch ends, then all of them come back at once and are summed in f64 in batch order.
//!
//! The frozen-prefix cache ([`prefix`]) computes the frozen blocks' outputs once and trains
//! only the adapted blocks; it performs the same floating-point operations on the same values
//! as the uncached path, so results are bitwise equal (tested in `tests/ml/train.rs`).

mod config;
mod data;
pub mod prefix;
mod random_clip;
pub mod state;
mod trainer;

pub use crate::epochs::{TrainError, TrainObserver};
pub use config::{PAPER_TARGET_MEAN, PAPER_TARGET_STD, TrainConfig};
pub use data::TrainData;
pub use random_clip::random_clip;
pub use trainer::{StopReason, Trainer};
