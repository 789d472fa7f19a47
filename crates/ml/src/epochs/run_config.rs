//! [`RunConfig`]: what a trainer's config must say for a saved run to be continued, and the one
//! rule for whether it may be: the configs agree except where a continuing run may differ (how
//! far it trains, and a perturbation that starts after the saved epoch).

use serde::Serialize;

use crate::perturbation::Perturbation;

/// A trainer's config, as saved in every epoch's state.
pub trait RunConfig: Clone + PartialEq + Serialize {
    /// The perturbation window, if this is a perturbed run.
    fn perturbation(&self) -> Option<&Perturbation>;

    /// The config with every field a continuing run may change (how far it trains, its
    /// perturbation) set to a fixed value, for comparing the rest.
    fn comparable(&self) -> Self;

    /// Whether a state saved after `epoch` by a run with config `self` can be continued by a
    /// run with config `next`: everything must agree except what [`Self::comparable`] clears,
    /// and a perturbation must start after `epoch` (a perturbed run continuing a baseline).
    fn check_resumable(&self, next: &Self, epoch: u32) -> Result<(), String> {
        let started = |p: Option<&Perturbation>| p.is_some_and(|p| p.start <= epoch);
        if (started(self.perturbation()) || started(next.perturbation()))
            && self.perturbation() != next.perturbation()
        {
            return Err(format!(
                "the saved run's perturbation ({:?}) differs from this run's ({:?}) in epochs up to {epoch}",
                self.perturbation(),
                next.perturbation()
            ));
        }
        if self.comparable() != next.comparable() {
            return Err(format!(
                "the saved run was trained with another config: saved {}, this run {}",
                serde_json::to_string(&self.comparable()).unwrap_or_default(),
                serde_json::to_string(&next.comparable()).unwrap_or_default()
            ));
        }
        Ok(())
    }
}

/// Checks a perturbation window: it starts at epoch 1 or later and lasts at least one epoch.
pub(crate) fn check_window(perturbation: Option<&Perturbation>) -> Result<(), String> {
    match perturbation {
        Some(perturbation) if perturbation.start == 0 || perturbation.length == 0 => Err(format!(
            "perturbation `start` ({}) and `length` ({}) must be at least 1",
            perturbation.start, perturbation.length
        )),
        _ => Ok(()),
    }
}
