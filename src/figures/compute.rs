//! What every figure's computation shares: the [`Model`] a figure shows, why a figure cannot
//! be computed ([`ComputeError`]), a run's point at an epoch and the Δ of a perturbed run
//! against its baseline. Each figure computes its own table in its module (`fig1` … `fig4`),
//! exactly as `docs/protocol.md` ("Figures") says.
//!
//! [`Fig2Row`] lives here rather than in `fig2`, because the runs reader makes them too (the
//! original project's ViT effects table holds the deltas themselves).
//!
//! # How far each run trains
//! - fig1: the baseline up to its minimum-loss epoch (so, in practice, until early stopping).
//! - fig2, fig3: a single-epoch run at k needs epoch k only; the baseline needs epoch k.
//! - fig4: a window run trains until early stopping ends it (the rule of perturbed runs), or
//!   its epoch limit; the figure reads it as it ended. The baseline needs every epoch up to
//!   its cut.

use std::collections::BTreeMap;
use std::fmt;

use super::curve::{Curve, CurvePoint};
use super::perturbation::Perturbation;

/// The model a figure shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Model {
    /// CLIP-HBA-Behavior (loss: test loss; alignment: behavioural RSA ρ).
    ClipHba,
    /// The ViT baseline, trained from scratch as a classifier (the paper's ViT-B/16 on ImageNet;
    /// loss: validation loss; alignment: RSA score).
    Vit,
}

impl Model {
    /// The name in figure CSVs: `clip_hba` or `vit`.
    pub fn name(self) -> &'static str {
        match self {
            Model::ClipHba => "clip_hba",
            Model::Vit => "vit",
        }
    }

    /// The name in plot titles (the model and data trained are the caption under it:
    /// [`RunSetup::caption`]).
    pub fn label(self) -> &'static str {
        match self {
            Model::ClipHba => "CLIP-HBA",
            Model::Vit => "ViT",
        }
    }

    /// The results-CSV column of its loss.
    pub fn loss_column(self) -> &'static str {
        match self {
            Model::ClipHba => "test_loss",
            Model::Vit => "val_loss",
        }
    }

    /// The results-CSV column of its alignment.
    pub fn alignment_column(self) -> &'static str {
        match self {
            Model::ClipHba => "behavioral_rsa_rho",
            Model::Vit => "rsa_score",
        }
    }

    /// Axis label of its loss.
    pub fn loss_label(self) -> &'static str {
        match self {
            Model::ClipHba => "test loss",
            Model::Vit => "validation loss",
        }
    }

    /// Axis label of its alignment.
    pub fn alignment_label(self) -> &'static str {
        match self {
            Model::ClipHba => "behavioural RSA (Spearman ρ)",
            Model::Vit => "RSA score",
        }
    }
}

/// Why a figure could not be computed from its runs.
#[derive(Debug, Clone, PartialEq)]
pub enum ComputeError {
    /// The baseline has no epochs.
    EmptyBaseline { curve: String },
    /// A run lacks an epoch the figure needs.
    MissingEpoch {
        curve: String,
        epoch: u32,
        needed_for: String,
    },
    /// Two runs were given for the same slot.
    DuplicateRun { what: String },
    /// A window with start or length 0, or one whose end overflows.
    InvalidWindow { start: u32, length: u32 },
    /// A fig4 run has no epoch after its window (and did not end at its epoch limit).
    WindowNotFinished {
        curve: String,
        end: u32,
        last: Option<u32>,
    },
}

impl fmt::Display for ComputeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last_text = |last: &Option<u32>| match last {
            Some(last) => format!("ends at epoch {last}"),
            None => "has no epochs".to_string(),
        };
        match self {
            ComputeError::EmptyBaseline { curve } => {
                write!(f, "baseline `{curve}` has no epochs")
            }
            ComputeError::MissingEpoch {
                curve,
                epoch,
                needed_for,
            } => write!(
                f,
                "run `{curve}` has no epoch {epoch}, needed for {needed_for}"
            ),
            ComputeError::DuplicateRun { what } => write!(f, "two runs given for {what}"),
            ComputeError::InvalidWindow { start, length } => write!(
                f,
                "perturbation window of length {length} from epoch {start} is invalid; \
                 start and length must be at least 1"
            ),
            ComputeError::WindowNotFinished { curve, end, last } => write!(
                f,
                "run `{curve}` {} but its perturbation window ends at epoch {end}; \
                 recovery needs epochs after the window",
                last_text(last)
            ),
        }
    }
}

impl std::error::Error for ComputeError {}

/// `curve`'s point at `epoch`; its absence names what needed it.
pub(super) fn point<'c>(
    curve: &'c Curve,
    epoch: u32,
    needed_for: &str,
) -> Result<&'c CurvePoint, ComputeError> {
    curve.at(epoch).ok_or_else(|| ComputeError::MissingEpoch {
        curve: curve.name.clone(),
        epoch,
        needed_for: needed_for.to_string(),
    })
}

/// (Δ loss, Δ alignment) = run − baseline, both at `epoch`.
fn delta_at(
    baseline: &Curve,
    run: &Curve,
    epoch: u32,
    needed_for: &str,
) -> Result<(f64, f64), ComputeError> {
    let base = point(baseline, epoch, needed_for)?;
    let perturbed = point(run, epoch, needed_for)?;
    Ok((
        perturbed.loss - base.loss,
        perturbed.alignment - base.alignment,
    ))
}

/// (Δ loss, Δ alignment) of each perturbed run against `baseline` at the run's epoch, keyed
/// by `key` (the order of the figure's rows); each run comes with its epoch and with what it
/// is for (`fig3 at epoch 7`, for errors). Two runs for the same key are an error.
pub(super) fn deltas<'c, K: Ord>(
    baseline: &Curve,
    runs: impl IntoIterator<Item = (K, u32, &'c Curve, String)>,
) -> Result<BTreeMap<K, (f64, f64)>, ComputeError> {
    let mut deltas = BTreeMap::new();
    for (key, epoch, run, needed_for) in runs {
        let delta = delta_at(baseline, run, epoch, &needed_for)?;
        if deltas.insert(key, delta).is_some() {
            return Err(ComputeError::DuplicateRun { what: needed_for });
        }
    }
    Ok(deltas)
}

/// One bar pair of fig2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fig2Row {
    /// Perturbation type.
    pub perturbation: Perturbation,
    /// The perturbed epoch k (and the epoch both runs are compared at).
    pub epoch: u32,
    /// Perturbed − baseline loss at k.
    pub delta_loss: f64,
    /// Perturbed − baseline alignment at k.
    pub delta_rsa: f64,
}
