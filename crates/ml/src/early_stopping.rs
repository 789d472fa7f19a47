//! Early stopping on the test loss, with its whole state serialisable so that a resumed run
//! stops exactly where the uninterrupted one would (`docs/protocol.md`, "Unsaved early-stopping
//! state").

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
    /// Epochs since the last improvement.
    pub epochs_without_improvement: u32,
}

impl EarlyStopping {
    /// A fresh state.
    pub fn new(patience: u32) -> EarlyStopping {
        EarlyStopping {
            patience,
            best_loss: None,
            best_epoch: 0,
            epochs_without_improvement: 0,
        }
    }

    /// Records `epoch`'s test loss; returns whether training should stop now.
    pub fn update(&mut self, epoch: u32, test_loss: f64) -> bool {
        match self.best_loss {
            Some(best) if test_loss >= best => self.epochs_without_improvement += 1,
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
}
