//! The per-epoch results table, with the paper's column names (the analysis code reads them).
//!
//! Numbers are written in Rust's shortest round-trip form, so the CSV is deterministic and
//! parses back to the exact values.

use serde::{Deserialize, Serialize};

/// One epoch's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochResult {
    /// 1-based epoch.
    pub epoch: u32,
    /// Σ(batch loss × batch size) / N over the training set.
    pub train_loss: f64,
    /// The same over the test set.
    pub test_loss: f64,
    /// Spearman ρ between the model RDM and the human RDM on the 48 concepts.
    pub behavioral_rsa_rho: f64,
    /// Its two-sided p-value.
    pub behavioral_rsa_p_value: f64,
    /// Which perturbation was active this epoch (perturbed runs only).
    pub perturbation: Option<super::perturbation::PerturbationKind>,
}

/// The baseline header.
pub const BASELINE_HEADER: &str =
    "epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value";

/// The extra columns of perturbed runs.
pub const PERTURBED_COLUMNS: &str =
    "used_random_targets,used_shuffled_targets,used_uniform_images,used_image_noise";

/// A number in its shortest round-trip form; very small or large magnitudes in exponent form
/// (`1e-300`, not 300 zeros).
pub fn number(x: f64) -> String {
    let magnitude = x.abs();
    if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Writes the results CSV (`perturbed`: with the four `used_…` columns).
pub fn to_csv(rows: &[EpochResult], perturbed: bool) -> String {
    use super::perturbation::PerturbationKind as Kind;
    let mut out = String::from(BASELINE_HEADER);
    if perturbed {
        out.push(',');
        out.push_str(PERTURBED_COLUMNS);
    }
    out.push('\n');
    for row in rows {
        out.push_str(&format!(
            "{},{},{},{},{}",
            row.epoch,
            number(row.train_loss),
            number(row.test_loss),
            number(row.behavioral_rsa_rho),
            number(row.behavioral_rsa_p_value)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perturbation::PerturbationKind;

    #[test]
    fn columns_are_the_papers() {
        let rows = [EpochResult {
            epoch: 1,
            train_loss: 0.5,
            test_loss: 0.25,
            behavioral_rsa_rho: 0.1,
            behavioral_rsa_p_value: 1e-300,
            perturbation: Some(PerturbationKind::LabelShuffle),
        }];
        assert_eq!(
            to_csv(&rows, true),
            "epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value,used_random_targets,used_shuffled_targets,used_uniform_images,used_image_noise\n1,0.5,0.25,0.1,1e-300,False,True,False,False\n"
        );
        assert_eq!(
            to_csv(&rows, false).lines().nth(1),
            Some("1,0.5,0.25,0.1,1e-300")
        );
    }
}
