//! The ViT's per-epoch results table: the paper's `epoch,val_loss,rsa_score`, and for perturbed
//! runs the same four `used_…` columns as CLIP-HBA's ([`crate::results::PERTURBED_COLUMNS`]).

use serde::{Deserialize, Serialize};

use crate::perturbation::PerturbationKind;
use crate::results::{PERTURBED_COLUMNS, number};

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

/// Writes the results CSV (`perturbed`: with the four `used_…` columns).
pub fn vit_csv(rows: &[VitEpochResult], perturbed: bool) -> String {
    use PerturbationKind as Kind;
    let mut out = String::from(VIT_HEADER);
    if perturbed {
        out.push(',');
        out.push_str(PERTURBED_COLUMNS);
    }
    out.push('\n');
    for row in rows {
        out.push_str(&format!(
            "{},{},{}",
            row.epoch,
            number(row.val_loss),
            number(row.rsa_score)
        ));
        if perturbed {
            let flag = |kind: Kind| {
                if row.perturbation == Some(kind) {
                    "True"
                } else {
                    "False"
                }
            };
            out.push_str(&format!(
                ",{},{},{},{}",
                flag(Kind::RandomTarget),
                flag(Kind::LabelShuffle),
                flag(Kind::UniformImages),
                flag(Kind::ImageNoise)
            ));
        }
        out.push('\n');
    }
    out
}
