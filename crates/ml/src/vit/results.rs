//! The ViT's per-epoch results table: the paper's `epoch,val_loss,rsa_score`, and for perturbed
//! runs the same four `used_…` columns as CLIP-HBA's ([`crate::results::rows_csv`] writes both).

use serde::{Deserialize, Serialize};

use crate::perturbation::PerturbationKind;
use crate::results::{ResultRow, rows_csv};

/// One epoch's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VitEpochResult {
    /// 1-based epoch.
    pub epoch: u32,
    /// Σ(batch loss × batch size) / N over the training batches (not in the CSV).
    pub train_loss: f64,
    /// Cross-entropy over the validation set, Σ(batch loss × batch size) / N.
    pub val_loss: f64,
    /// Spearman ρ between the RDM of the penultimate embeddings of the RSA images and the
    /// human RDM.
    pub rsa_score: f64,
    /// Its two-sided p-value (not in the CSV).
    pub rsa_p_value: f64,
    /// Which perturbation was active this epoch (perturbed runs only).
    pub perturbation: Option<PerturbationKind>,
}

/// The baseline header (`docs/protocol.md`, "The ViT baseline").
pub const VIT_HEADER: &str = "epoch,val_loss,rsa_score";

impl ResultRow for VitEpochResult {
    const STORED: [&'static str; 4] = ["train_loss", "val_loss", "rsa_score", "rsa_p_value"];
    const HEADER: &'static str = VIT_HEADER;
    // The paper's table has the validation loss and the RSA score only.
    const CSV_VALUES: &'static [usize] = &[1, 2];

    fn epoch(&self) -> u32 {
        self.epoch
    }

    fn values(&self) -> [f64; 4] {
        [
            self.train_loss,
            self.val_loss,
            self.rsa_score,
            self.rsa_p_value,
        ]
    }

    fn perturbation(&self) -> Option<PerturbationKind> {
        self.perturbation
    }

    fn from_values(epoch: u32, values: [f64; 4], perturbation: Option<PerturbationKind>) -> Self {
        let [train_loss, val_loss, rsa_score, rsa_p_value] = values;
        VitEpochResult {
            epoch,
            train_loss,
            val_loss,
            rsa_score,
            rsa_p_value,
            perturbation,
        }
    }
}

/// Writes the results CSV (`perturbed`: with the four `used_…` columns).
pub fn vit_csv(rows: &[VitEpochResult], perturbed: bool) -> String {
    rows_csv(rows, perturbed)
}
