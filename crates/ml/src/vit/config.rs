//! [`VitTrainConfig`]: everything that determines a ViT training run besides its data, and the
//! learning-rate schedule (cosine with linear warm-up).

use serde::{Deserialize, Serialize};

use crate::epochs::RunConfig;
use crate::epochs::run_config::check_window;
use crate::perturbation::Perturbation;

/// How one ViT run trains (`docs/protocol.md`, "The ViT baseline": SGD lr 0.1, momentum 0.9,
/// weight decay 1e-4, cosine schedule with linear warm-up, cross-entropy, 100 epochs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitTrainConfig {
    /// The run seed: keys the initial weights and the loader order of every epoch.
    pub seed: u64,
    /// Images per training batch (evaluation uses the same size).
    pub batch_size: usize,
    /// The peak SGD learning rate (paper: 0.1).
    pub learning_rate: f64,
    /// SGD momentum (paper: 0.9; PyTorch's form, no dampening, not Nesterov).
    pub momentum: f64,
    /// L2 weight decay added to every gradient, as PyTorch's SGD does (paper: 1e-4).
    pub weight_decay: f64,
    /// Epochs of linear warm-up at the start of the schedule.
    pub warmup_epochs: u32,
    /// The schedule's length in epochs (paper: 100); the run trains at most this far.
    pub epochs: u32,
    /// Stop after this epoch (demand-driven runs); `None` trains all `epochs`. The schedule is
    /// still that of `epochs`, so a run stopped early is a prefix of the full one.
    pub stop_after_epoch: Option<u32>,
    /// The perturbation window, if this is a perturbed run.
    pub perturbation: Option<Perturbation>,
}

impl VitTrainConfig {
    /// The paper's baseline with `seed`. The paper states neither the batch size nor the
    /// warm-up length: 256 and 5 epochs here (torchvision's reference recipe uses warm-up too).
    pub fn paper(seed: u64) -> VitTrainConfig {
        VitTrainConfig {
            seed,
            batch_size: 256,
            learning_rate: 0.1,
            momentum: 0.9,
            weight_decay: 1e-4,
            warmup_epochs: 5,
            epochs: 100,
            stop_after_epoch: None,
            perturbation: None,
        }
    }

    /// The last epoch this run trains.
    pub fn last_epoch(&self) -> u32 {
        self.stop_after_epoch
            .map_or(self.epochs, |stop| stop.min(self.epochs))
    }

    /// The learning rate of epoch `epoch` (1-based), constant within the epoch:
    /// - warm-up, `epoch ≤ W`: `lr · epoch / (W + 1)` (rising linearly towards `lr`);
    /// - then, with `k = epoch − W − 1` and `T = epochs − W`: `lr · ½ (1 + cos(π k / T))`, as
    ///   PyTorch's `CosineAnnealingLR(T_max = T)` after a `LinearLR` warm-up: the first epoch
    ///   after warm-up runs at `lr`, and the last one above 0.
    pub fn learning_rate_at(&self, epoch: u32) -> f64 {
        let warmup = self.warmup_epochs;
        if epoch <= warmup {
            return self.learning_rate * f64::from(epoch) / f64::from(warmup + 1);
        }
        let k = f64::from(epoch - warmup - 1);
        let length = f64::from(self.epochs.saturating_sub(warmup).max(1));
        self.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * k / length).cos())
    }

    /// Checks that the values can describe a run; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("`batch_size` is 0".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!(
                "`learning_rate` must be positive, not {}",
                self.learning_rate
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(format!(
                "`momentum` must be in [0, 1), not {}",
                self.momentum
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(format!(
                "`weight_decay` must be non-negative, not {}",
                self.weight_decay
            ));
        }
        if self.epochs == 0 {
            return Err("`epochs` is 0".into());
        }
        if self.warmup_epochs >= self.epochs {
            return Err(format!(
                "`warmup_epochs` ({}) must be less than `epochs` ({})",
                self.warmup_epochs, self.epochs
            ));
        }
        check_window(self.perturbation.as_ref())
    }
}

impl RunConfig for VitTrainConfig {
    fn perturbation(&self) -> Option<&Perturbation> {
        self.perturbation.as_ref()
    }

    /// A continuing run may change `stop_after_epoch` and a perturbation that starts after the
    /// saved epoch (a perturbed run continuing a baseline).
    fn comparable(&self) -> VitTrainConfig {
        VitTrainConfig {
            stop_after_epoch: None,
            perturbation: None,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::VitTrainConfig;

    #[test]
    fn schedule_warms_up_then_follows_a_cosine() {
        let config = VitTrainConfig {
            learning_rate: 0.1,
            warmup_epochs: 3,
            epochs: 7,
            ..VitTrainConfig::paper(0)
        };
        let lr: Vec<f64> = (1..=7).map(|e| config.learning_rate_at(e)).collect();
        assert_eq!(lr[0], 0.025);
        assert_eq!(lr[2], 0.07500000000000001);
        assert_eq!(lr[3], 0.1, "the first epoch after warm-up runs at the peak");
        assert!(lr[4] < lr[3] && lr[5] < lr[4] && lr[6] < lr[5] && lr[6] > 0.0);
        // Without warm-up the first epoch is at the peak.
        let plain = VitTrainConfig {
            warmup_epochs: 0,
            ..config
        };
        assert_eq!(plain.learning_rate_at(1), 0.1);
    }
}
