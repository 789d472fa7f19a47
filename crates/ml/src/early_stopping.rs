//! Early stopping on the test loss, with its whole state serialisable so that a resumed run
//! stops exactly where the uninterrupted one would (`docs/protocol.md`, "Unsaved early-stopping
//! state": the original did not save this state, so a resumed baseline diverged).
//!
//! Two rules share this state:
//! - **a baseline** counts every epoch whose test loss is not below the best so far and stops
//!   when the count reaches the patience;
//! - **a perturbed run** ([`EarlyStopping::for_window`]) starts a fresh state at its first
//!   perturbed epoch k (no best loss, counter 0; it does not inherit the baseline's), lets an
//!   improvement reset the counter at any epoch, but counts a non-improving epoch only when it
//!   lies outside its window k ..= k + L − 1. This is the rule under which every one of the
//!   original's fig4 runs ends where its results files end (docs/protocol.md, "Early stopping
//!   in a perturbed run").
//!
//! The epoch limit (`max_epochs`) is the trainer's, not this state's.

use serde::{Deserialize, Serialize};

/// The early-stopping state after some epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: u32,
    /// The lowest test loss so far (`None` before the first epoch).
    pub best_loss: Option<f64>,
    /// The epoch of `best_loss` (0 before the first epoch).
    pub best_epoch: u32,
    /// Epochs since the last improvement that count toward the patience.
    pub epochs_without_improvement: u32,
    /// A perturbed run's window (first and last perturbed epoch): epochs inside it never add
    /// to the counter. `None` for a baseline (and then absent from the saved state, which
    /// keeps a baseline's state files as they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<(u32, u32)>,
}

impl EarlyStopping {
    /// A fresh state for a baseline.
    pub fn new(patience: u32) -> EarlyStopping {
        EarlyStopping {
            patience,
            best_loss: None,
            best_epoch: 0,
            epochs_without_improvement: 0,
            window: None,
        }
    }

    /// A fresh state for a perturbed run whose window is epochs `start ..= end`.
    pub fn for_window(patience: u32, start: u32, end: u32) -> EarlyStopping {
        EarlyStopping {
            window: Some((start, end)),
            ..EarlyStopping::new(patience)
        }
    }

    /// Whether `epoch` lies inside the window (never for a baseline).
    pub fn in_window(&self, epoch: u32) -> bool {
        self.window
            .is_some_and(|(start, end)| (start..=end).contains(&epoch))
    }

    /// Records `epoch`'s test loss; returns whether training should stop now.
    pub fn update(&mut self, epoch: u32, test_loss: f64) -> bool {
        match self.best_loss {
            Some(best) if test_loss >= best => {
                if !self.in_window(epoch) {
                    self.epochs_without_improvement += 1;
                }
            }
            _ => {
                self.best_loss = Some(test_loss);
                self.best_epoch = epoch;
                self.epochs_without_improvement = 0;
            }
        }
        self.epochs_without_improvement >= self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `losses` for epochs `first..`; returns the epoch at which the state says stop,
    /// or `None` if it never does (a trainer would then stop at its epoch limit).
    fn stop_epoch(state: &mut EarlyStopping, first: u32, losses: &[f64]) -> Option<u32> {
        losses
            .iter()
            .zip(first..)
            .find_map(|(&loss, epoch)| state.update(epoch, loss).then_some(epoch))
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let mut state = EarlyStopping::new(2);
        assert!(!state.update(1, 5.0));
        assert!(!state.update(2, 4.0));
        assert!(!state.update(3, 4.5));
        assert!(state.update(4, 4.0), "equal is not an improvement");
        assert_eq!(state.best_epoch, 2);
        let resumed: EarlyStopping =
            serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        assert_eq!(resumed, state);
    }

    #[test]
    fn a_baseline_state_serialises_without_a_window() {
        let text = serde_json::to_string(&EarlyStopping::new(20)).unwrap();
        assert!(!text.contains("window"), "{text}");
        let windowed = EarlyStopping::for_window(20, 5, 9);
        let text = serde_json::to_string(&windowed).unwrap();
        let back: EarlyStopping = serde_json::from_str(&text).unwrap();
        assert_eq!(back, windowed);
    }

    #[test]
    fn an_improvement_inside_the_window_resets_the_counter() {
        // Window 3..=5, patience 2; epoch 3 sets the best (fresh state), 4 and 5 do not
        // improve (not counted), 6 does not improve (1), 7 improves (reset), 8 and 9 do not.
        let mut state = EarlyStopping::for_window(2, 3, 5);
        assert_eq!(
            stop_epoch(&mut state, 3, &[10.0, 11.0, 12.0, 10.5, 9.0, 9.5, 9.5]),
            Some(9)
        );
        assert_eq!(state.best_epoch, 7);
        // The same with an improvement inside the window after non-improving window epochs:
        // the count (which stays 0 inside the window) restarts from that epoch's best.
        let mut state = EarlyStopping::for_window(2, 3, 6);
        state.update(3, 10.0);
        state.update(4, 12.0);
        state.update(5, 8.0);
        assert_eq!((state.best_epoch, state.epochs_without_improvement), (5, 0));
    }

    #[test]
    fn a_long_window_with_rising_loss_never_stops_inside_it() {
        // Patience 3, window 1..=40 with a test loss rising every epoch: a baseline's rule
        // would stop at epoch 4; the perturbed rule waits until 3 epochs past the window.
        let rising: Vec<f64> = (0..60).map(|i| 10.0 + f64::from(i)).collect();
        let mut baseline = EarlyStopping::new(3);
        assert_eq!(stop_epoch(&mut baseline, 1, &rising), Some(4));
        let mut perturbed = EarlyStopping::for_window(3, 1, 40);
        assert_eq!(stop_epoch(&mut perturbed, 1, &rising), Some(43));
    }

    #[test]
    fn the_counter_starts_after_the_windows_end() {
        // Window 10..=14 of a run resumed at epoch 10: epochs 10..=14 never count, so with
        // patience 2 and no improvement after epoch 10 the run stops at 16 = end + patience.
        let mut state = EarlyStopping::for_window(2, 10, 14);
        let flat = [5.0; 10];
        assert_eq!(stop_epoch(&mut state, 10, &flat), Some(16));
        assert_eq!(state.best_epoch, 10);
    }

    #[test]
    fn a_run_that_never_plateaus_is_left_to_the_epoch_limit() {
        // A test loss that falls every epoch never stops the run: 500 epochs (the paper's
        // limit), and the state still says go on; the trainer's `max_epochs` ends it.
        let falling: Vec<f64> = (0..500).map(|i| 1000.0 - f64::from(i)).collect();
        let mut state = EarlyStopping::for_window(20, 1, 50);
        assert_eq!(stop_epoch(&mut state, 1, &falling), None);
        assert_eq!(state.best_epoch, 500);
    }
}
