//! [`PretrainConfig`]: everything that determines a contrastive pretraining run besides its data.

use serde::{Deserialize, Serialize};

/// How one CLIP pretraining run trains.
///
/// AdamW with CLIP's β (0.9, 0.98) and ε 1e-6, constant learning rate, decoupled weight decay
/// on every parameter (burn's AdamW does not exempt gains, biases or the temperature as OpenAI
/// did; at these run lengths the difference is negligible and it is the same on every device).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    /// Keys the initial weights ([`crate::train::random_clip`]) and every epoch's batch order.
    pub seed: u64,
    /// Passes over the training pairs.
    pub epochs: u32,
    /// Pairs per batch: each image's caption is the positive, the batch's other captions the
    /// negatives (and vice versa).
    pub batch_size: usize,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Whether the temperature is learned: the stored `logit_scale` starts at ln(1/0.07) as in
    /// CLIP and is clamped to ≤ ln(100) in the loss; `false` keeps it fixed at its initial value.
    pub learn_temperature: bool,
}

impl PretrainConfig {
    /// A small default: 20 epochs of batch 64, lr 1e-3, weight decay 0.1, learned temperature.
    pub fn ci(seed: u64) -> PretrainConfig {
        PretrainConfig {
            seed,
            epochs: 20,
            batch_size: 64,
            learning_rate: 1e-3,
            weight_decay: 0.1,
            learn_temperature: true,
        }
    }

    /// Checks that the values can describe a run; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size < 2 {
            return Err(format!(
                "`batch_size` must be at least 2 (a contrastive batch needs negatives), not {}",
                self.batch_size
            ));
        }
        if self.epochs == 0 {
            return Err("`epochs` is 0".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!(
                "`learning_rate` must be positive, not {}",
                self.learning_rate
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(format!(
                "`weight_decay` must be non-negative, not {}",
                self.weight_decay
            ));
        }
        Ok(())
    }
}
