//! [`TrainConfig`]: everything that determines a training run besides its data and frozen
//! weights. It is saved in every epoch's state, and a resumed run must agree with it
//! (see [`RunConfig::check_resumable`]).

use serde::{Deserialize, Serialize};

use super::TrainError;
use crate::epochs::RunConfig;
use crate::epochs::run_config::check_window;
use crate::perturbation::Perturbation;

/// The paper's training-set mean of the SPoSE targets (over all 1806 × 66 values).
pub const PAPER_TARGET_MEAN: f64 = 5.6906150491834;

/// The paper's training-set standard deviation of the SPoSE targets.
pub const PAPER_TARGET_STD: f64 = 10.17865285170066;

/// How one run trains (`docs/protocol.md`, "Training"; [`TrainConfig::paper`] gives its values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The run seed: keys the split, the loader order of every epoch and the DoRA init.
    pub seed: u64,
    /// Training images drawn from the pool (paper: 1444).
    pub train_size: usize,
    /// "Test" images drawn from the pool, for the test loss (paper: 362).
    pub test_size: usize,
    /// Images per batch, for training and evaluation (paper: 64).
    pub batch_size: usize,
    /// AdamW learning rate (paper: 3e-4; no schedule).
    pub learning_rate: f64,
    /// AdamW β₁ (paper: 0.9).
    pub beta_1: f32,
    /// AdamW β₂ (paper: 0.999).
    pub beta_2: f32,
    /// AdamW ε (paper: 1e-8).
    pub epsilon: f32,
    /// AdamW decoupled weight decay (paper: 0.01).
    pub weight_decay: f32,
    /// The most epochs to train (paper: 500).
    pub max_epochs: u32,
    /// Early stopping: epochs without a lower test loss before stopping (paper: 20, in every run).
    pub patience: u32,
    /// Stop after this epoch even if training would go on (demand-driven runs train only as
    /// far as needed); `None` trains until early stopping or `max_epochs`.
    pub stop_after_epoch: Option<u32>,
    /// The perturbation window, if this is a perturbed run.
    pub perturbation: Option<Perturbation>,
}

impl TrainConfig {
    /// The paper's baseline with `seed`.
    pub fn paper(seed: u64) -> TrainConfig {
        TrainConfig {
            seed,
            train_size: 1444,
            test_size: 362,
            batch_size: 64,
            learning_rate: 3e-4,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.01,
            max_epochs: 500,
            patience: 20,
            stop_after_epoch: None,
            perturbation: None,
        }
    }

    /// The last epoch this run may train: the smaller of `max_epochs` and `stop_after_epoch`.
    pub fn last_epoch(&self) -> u32 {
        self.stop_after_epoch
            .map_or(self.max_epochs, |stop| stop.min(self.max_epochs))
    }

    /// Checks that the values can describe a run.
    pub fn validate(&self) -> Result<(), TrainError> {
        let invalid = |message: String| Err(TrainError::Config { message });
        if self.batch_size == 0 {
            return invalid("`batch_size` is 0".into());
        }
        if self.train_size == 0 || self.test_size == 0 {
            return invalid("`train_size` and `test_size` must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid(format!(
                "`learning_rate` must be positive, not {}",
                self.learning_rate
            ));
        }
        if self.patience == 0 {
            return invalid("`patience` is 0".into());
        }
        check_window(self.perturbation.as_ref()).map_err(|message| TrainError::Config { message })
    }
}

impl RunConfig for TrainConfig {
    fn perturbation(&self) -> Option<&Perturbation> {
        self.perturbation.as_ref()
    }

    /// A continuing run may change `max_epochs`, `stop_after_epoch` and a perturbation that
    /// starts after the saved epoch (a perturbed run continuing a baseline).
    fn comparable(&self) -> TrainConfig {
        TrainConfig {
            max_epochs: 0,
            stop_after_epoch: None,
            perturbation: None,
            ..self.clone()
        }
    }
}
