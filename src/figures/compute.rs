//! The numbers each figure plots, computed from curves exactly as `docs/protocol.md` ("Figures")
//! says.
//!
//! - fig1 ([`fig1`]): the baseline's (loss, alignment) per epoch up to its minimum-loss epoch
//!   (ties: the first; the ViT's: every epoch), epochs 1, 5, 10, 15, … labelled.
//! - fig2 ([`fig2`]): per perturbation type and epoch k, Δ loss and Δ alignment = perturbed run −
//!   baseline, both at epoch k, for a single-epoch perturbation at k.
//! - fig3 ([`fig3`]): the same for the single-epoch `random_target` sweep, one row per k, with a
//!   sign per Δ (the plot colours positive green, negative blue).
//! - fig4 ([`fig4`]): for `random_target` windows (start, length): end = start + length − 1;
//!   the recovery epoch is the first epoch after end whose test loss ≤ 1.01 × the baseline's
//!   test loss at that epoch, where the baseline is cut at its minimum-test-loss epoch and,
//!   past the cut, the bar is 1.01 × the baseline minimum; plotted: recovery − end, or "NR"
//!   when the run stopped (early stopping of a perturbed run, docs/protocol.md) before any
//!   epoch met the bar. Every epoch the run trained is searched. A run that ended at its epoch
//!   limit (`max_epochs`, a safety cap) without recovering is neither: its row says
//!   `epoch_limit`, and the figure reports it.
//!   The companion heatmap: each run's maximum ρ over its own epochs (from its start to where
//!   it stopped) minus the baseline's maximum ρ up to its cut.
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
use super::setup::RunSetup;
use super::table::{Cell, Table};

/// A test loss within this factor of the baseline's counts as recovered (`docs/protocol.md`,
/// "fig4": 1.01 ×).
pub const RECOVERY_TOLERANCE: f64 = 1.01;

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

fn point<'c>(
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

// ---------------------------------------------------------------------------------------------
// fig1

/// fig1a (CLIP-HBA): the epochs labelled on the curve, besides the cut epoch.
pub const CLIP_LABELLED_EPOCHS: [u32; 4] = [1, 5, 10, 15];

/// fig1b (ViT): the epochs labelled on the curve, as the original notebook labels them.
pub const VIT_LABELLED_EPOCHS: [u32; 5] = [1, 5, 11, 17, 40];

/// Whether fig1 labels `epoch` on `model`'s curve cut at `cut_epoch`: CLIP-HBA's 1, 5, 10, 15
/// and the cut epoch; the ViT's 1, 5, 11, 17, 40.
pub fn is_labelled_epoch(model: Model, epoch: u32, cut_epoch: u32) -> bool {
    match model {
        Model::ClipHba => CLIP_LABELLED_EPOCHS.contains(&epoch) || epoch == cut_epoch,
        Model::Vit => VIT_LABELLED_EPOCHS.contains(&epoch),
    }
}

/// One point of the S-curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fig1Point {
    /// Epoch.
    pub epoch: u32,
    /// Loss at that epoch.
    pub loss: f64,
    /// Alignment at that epoch.
    pub alignment: f64,
    /// Whether the plot writes the epoch next to the point.
    pub labelled: bool,
}

/// fig1a or fig1b: the baseline's S-curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig1Table {
    /// Whose baseline.
    pub model: Model,
    /// What the baseline trained, when its bundle says (the plot's caption line).
    pub setup: Option<RunSetup>,
    /// The minimum-loss epoch the curve stops at.
    pub cut_epoch: u32,
    /// The points, by epoch.
    pub points: Vec<Fig1Point>,
}

impl Fig1Table {
    /// Columns `epoch,<loss column>,<alignment column>,labelled`, with the results CSV's names
    /// (`test_loss,behavioral_rsa_rho` or `val_loss,rsa_score`).
    pub fn to_table(&self) -> Table {
        let mut table = Table::new(&[
            "epoch",
            self.model.loss_column(),
            self.model.alignment_column(),
            "labelled",
        ]);
        for point in &self.points {
            table.push(vec![
                point.epoch.into(),
                point.loss.into(),
                point.alignment.into(),
                point.labelled.into(),
            ]);
        }
        table
    }
}

/// fig1: CLIP-HBA's baseline up to its minimum-loss epoch (ties: the first); the ViT's
/// whole run, as the original notebook draws it (its `cut_epoch` is then the last epoch).
pub fn fig1(model: Model, baseline: &Curve) -> Result<Fig1Table, ComputeError> {
    let empty = || ComputeError::EmptyBaseline {
        curve: baseline.name.clone(),
    };
    let cut_epoch = match model {
        Model::ClipHba => baseline.min_loss_point().ok_or_else(empty)?.epoch,
        Model::Vit => baseline.last_epoch().ok_or_else(empty)?,
    };
    let points = baseline
        .points
        .iter()
        .take_while(|point| point.epoch <= cut_epoch)
        .map(|point| Fig1Point {
            epoch: point.epoch,
            loss: point.loss,
            alignment: point.alignment,
            labelled: is_labelled_epoch(model, point.epoch, cut_epoch),
        })
        .collect();
    Ok(Fig1Table {
        model,
        setup: baseline.setup.clone(),
        cut_epoch,
        points,
    })
}

// ---------------------------------------------------------------------------------------------
// fig2

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

/// fig2a or fig2b.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig2Table {
    /// Whose runs.
    pub model: Model,
    /// What the baseline trained, when its bundle says (the plot's caption line).
    pub setup: Option<RunSetup>,
    /// Rows by epoch, then type in bar order.
    pub rows: Vec<Fig2Row>,
}

impl Fig2Table {
    /// A table from rows computed elsewhere (the ViT's effects CSV); sorts them.
    pub fn from_rows(model: Model, mut rows: Vec<Fig2Row>) -> Fig2Table {
        rows.sort_by_key(|row| (row.epoch, row.perturbation));
        Fig2Table {
            model,
            setup: None,
            rows,
        }
    }

    /// The distinct epochs, ascending (the bar groups).
    pub fn epochs(&self) -> Vec<u32> {
        let mut epochs: Vec<u32> = self.rows.iter().map(|row| row.epoch).collect();
        epochs.dedup();
        epochs
    }

    /// The types present, in bar order.
    pub fn perturbations(&self) -> Vec<Perturbation> {
        Perturbation::ALL
            .into_iter()
            .filter(|kind| self.rows.iter().any(|row| row.perturbation == *kind))
            .collect()
    }

    /// Columns `model,perturbation,epoch,delta_loss,delta_rsa`.
    pub fn to_table(&self) -> Table {
        let mut table = Table::new(&["model", "perturbation", "epoch", "delta_loss", "delta_rsa"]);
        for row in &self.rows {
            table.push(vec![
                self.model.name().into(),
                row.perturbation.name().into(),
                row.epoch.into(),
                row.delta_loss.into(),
                row.delta_rsa.into(),
            ]);
        }
        table
    }
}

/// fig2: for each (type, k, single-epoch run at k), Δ = run − baseline at epoch k.
pub fn fig2<'c>(
    model: Model,
    baseline: &Curve,
    runs: impl IntoIterator<Item = (Perturbation, u32, &'c Curve)>,
) -> Result<Fig2Table, ComputeError> {
    let mut rows = BTreeMap::new();
    for (perturbation, epoch, run) in runs {
        let needed_for = format!("fig2 `{perturbation}` at epoch {epoch}");
        let (delta_loss, delta_rsa) = delta_at(baseline, run, epoch, &needed_for)?;
        let row = Fig2Row {
            perturbation,
            epoch,
            delta_loss,
            delta_rsa,
        };
        if rows.insert((epoch, perturbation), row).is_some() {
            return Err(ComputeError::DuplicateRun { what: needed_for });
        }
    }
    Ok(Fig2Table {
        model,
        setup: baseline.setup.clone(),
        rows: rows.into_values().collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// fig3

/// The sign of a Δ, which picks its bar colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// > 0 (green).
    Positive,
    /// < 0 (blue).
    Negative,
    /// Exactly 0 (no bar).
    Zero,
}

impl Sign {
    /// The sign of `value` (`-0.0` is zero).
    pub fn of(value: f64) -> Sign {
        if value > 0.0 {
            Sign::Positive
        } else if value < 0.0 {
            Sign::Negative
        } else {
            Sign::Zero
        }
    }

    /// `positive`, `negative` or `zero`.
    pub fn name(self) -> &'static str {
        match self {
            Sign::Positive => "positive",
            Sign::Negative => "negative",
            Sign::Zero => "zero",
        }
    }
}

/// One sweep epoch of fig3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fig3Row {
    /// The perturbed epoch k.
    pub epoch: u32,
    /// Perturbed − baseline test loss at k.
    pub delta_loss: f64,
    /// Perturbed − baseline behavioural ρ at k.
    pub delta_rsa: f64,
}

/// fig3: one row per sweep epoch, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig3Table {
    /// What the baseline trained, when its bundle says (the plot's caption line).
    pub setup: Option<RunSetup>,
    /// The rows.
    pub rows: Vec<Fig3Row>,
}

impl Fig3Table {
    /// Columns `epoch,delta_loss,delta_rsa,delta_loss_sign,delta_rsa_sign`.
    pub fn to_table(&self) -> Table {
        let mut table = Table::new(&[
            "epoch",
            "delta_loss",
            "delta_rsa",
            "delta_loss_sign",
            "delta_rsa_sign",
        ]);
        for row in &self.rows {
            table.push(vec![
                row.epoch.into(),
                row.delta_loss.into(),
                row.delta_rsa.into(),
                Sign::of(row.delta_loss).name().into(),
                Sign::of(row.delta_rsa).name().into(),
            ]);
        }
        table
    }
}

/// fig3: for each (k, single-epoch `random_target` run at k), Δ at epoch k.
pub fn fig3<'c>(
    baseline: &Curve,
    sweep: impl IntoIterator<Item = (u32, &'c Curve)>,
) -> Result<Fig3Table, ComputeError> {
    let mut rows = BTreeMap::new();
    for (epoch, run) in sweep {
        let needed_for = format!("fig3 at epoch {epoch}");
        let (delta_loss, delta_rsa) = delta_at(baseline, run, epoch, &needed_for)?;
        let row = Fig3Row {
            epoch,
            delta_loss,
            delta_rsa,
        };
        if rows.insert(epoch, row).is_some() {
            return Err(ComputeError::DuplicateRun { what: needed_for });
        }
    }
    Ok(Fig3Table {
        setup: baseline.setup.clone(),
        rows: rows.into_values().collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// fig4

/// A perturbation window: `length` epochs from `start` (both ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// First perturbed epoch.
    pub start: u32,
    /// Number of perturbed epochs.
    pub length: u32,
}

impl Window {
    /// A window; refuses start 0, length 0, and ends past `u32::MAX`.
    pub fn new(start: u32, length: u32) -> Result<Window, ComputeError> {
        let valid = start >= 1 && length >= 1 && start.checked_add(length - 1).is_some();
        if valid {
            Ok(Window { start, length })
        } else {
            Err(ComputeError::InvalidWindow { start, length })
        }
    }

    /// The last perturbed epoch: start + length − 1.
    pub fn end(self) -> u32 {
        self.start + self.length - 1
    }
}

/// The baseline as fig4 uses it: cut at its minimum-test-loss epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig4Baseline {
    curve: Curve,
    /// The minimum-test-loss epoch (ties: the first); the curve stops here.
    pub cut_epoch: u32,
    /// The minimum test loss.
    pub min_loss: f64,
    /// The maximum behavioural ρ over epochs up to the cut.
    pub max_rsa: f64,
}

impl Fig4Baseline {
    /// Cuts the baseline at its minimum-test-loss epoch.
    pub fn new(baseline: &Curve) -> Result<Fig4Baseline, ComputeError> {
        let cut = *baseline
            .min_loss_point()
            .ok_or_else(|| ComputeError::EmptyBaseline {
                curve: baseline.name.clone(),
            })?;
        let points: Vec<CurvePoint> = baseline
            .points
            .iter()
            .take_while(|point| point.epoch <= cut.epoch)
            .copied()
            .collect();
        let max_rsa = points
            .iter()
            .map(|point| point.alignment)
            .fold(f64::NEG_INFINITY, f64::max);
        Ok(Fig4Baseline {
            curve: Curve::new(baseline.name.clone(), points),
            cut_epoch: cut.epoch,
            min_loss: cut.loss,
            max_rsa,
        })
    }

    /// The test loss a run must reach at `epoch` to count as recovered: 1.01 × the baseline's
    /// test loss at `epoch`, or past the cut 1.01 × the baseline minimum.
    pub fn threshold(&self, epoch: u32) -> Result<f64, ComputeError> {
        let reference = if epoch > self.cut_epoch {
            self.min_loss
        } else {
            point(&self.curve, epoch, "the fig4 recovery threshold")?.loss
        };
        Ok(RECOVERY_TOLERANCE * reference)
    }
}

/// What a window run's epochs say about its recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The first epoch after the window whose test loss is within the threshold.
    Recovered { epoch: u32 },
    /// No epoch after the window, up to the run's last (`decided_at`), met the threshold.
    NotRecovered { decided_at: u32 },
}

/// Decides a window run's recovery from every epoch it trained after its window. Those epochs
/// must all be present, because a gap could hide the first recovering epoch, and there must be
/// at least one.
pub fn fig4_recovery(
    baseline: &Fig4Baseline,
    window: Window,
    run: &Curve,
) -> Result<Recovery, ComputeError> {
    let end = window.end();
    let last = run.last_epoch();
    let seen = match last {
        Some(last) if last > end => last,
        _ => {
            return Err(ComputeError::WindowNotFinished {
                curve: run.name.clone(),
                end,
                last,
            });
        }
    };
    for epoch in end + 1..=seen {
        let needed_for = format!(
            "fig4 recovery of the window of length {} from epoch {}",
            window.length, window.start
        );
        let loss = point(run, epoch, &needed_for)?.loss;
        if loss <= baseline.threshold(epoch)? {
            return Ok(Recovery::Recovered { epoch });
        }
    }
    Ok(Recovery::NotRecovered { decided_at: seen })
}

/// One window of fig4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fig4Row {
    /// The window.
    pub window: Window,
    /// The recovery epoch; `None` for "NR" (or an epoch-limit row).
    pub recovery_epoch: Option<u32>,
    /// The epoch that decided the row: the recovery epoch, or the run's last epoch.
    pub decided_at: u32,
    /// The run's maximum behavioural ρ over its own epochs, from the window's start to where
    /// it stopped.
    pub max_rsa: f64,
    /// The run ended at its epoch limit (`max_epochs`, a safety cap) without recovering:
    /// undecided, not "NR".
    pub epoch_limit: bool,
}

impl Fig4Row {
    /// The last perturbed epoch.
    pub fn end_epoch(&self) -> u32 {
        self.window.end()
    }

    /// Recovery epoch − end epoch; `None` for "NR".
    pub fn epochs_to_recovery(&self) -> Option<u32> {
        self.recovery_epoch.map(|epoch| epoch - self.end_epoch())
    }

    /// `recovered`, `NR` (stopped without recovering) or `epoch_limit` (cut by the safety
    /// cap without recovering: undecided).
    pub fn status(&self) -> &'static str {
        match (self.recovery_epoch, self.epoch_limit) {
            (Some(_), _) => "recovered",
            (None, false) => "NR",
            (None, true) => "epoch_limit",
        }
    }
}

/// fig4: the recovery bars and the RSA heatmap of every window.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig4Table {
    /// What the baseline trained, when its bundle says (the plot's caption line).
    pub setup: Option<RunSetup>,
    /// The baseline's minimum-test-loss epoch.
    pub baseline_cut_epoch: u32,
    /// The baseline's minimum test loss.
    pub baseline_min_loss: f64,
    /// The baseline's maximum behavioural ρ up to the cut.
    pub baseline_max_rsa: f64,
    /// Rows by (start, length).
    pub rows: Vec<Fig4Row>,
}

impl Fig4Table {
    /// The distinct start epochs, ascending (the bar groups and heatmap rows).
    pub fn starts(&self) -> Vec<u32> {
        let mut starts: Vec<u32> = self.rows.iter().map(|row| row.window.start).collect();
        starts.dedup();
        starts
    }

    /// The distinct lengths, ascending (the bars in a group and heatmap columns).
    pub fn lengths(&self) -> Vec<u32> {
        let mut lengths: Vec<u32> = self.rows.iter().map(|row| row.window.length).collect();
        lengths.sort_unstable();
        lengths.dedup();
        lengths
    }

    /// The row of a window, if computed.
    pub fn row(&self, start: u32, length: u32) -> Option<&Fig4Row> {
        self.rows
            .iter()
            .find(|row| row.window.start == start && row.window.length == length)
    }

    /// Columns
    /// `start_epoch,length,end_epoch,decided_at_epoch,recovery_epoch,epochs_to_recovery,status`
    /// (`status`: see [`Fig4Row::status`]; `decided_at_epoch`: the recovery epoch, or the
    /// run's last epoch); rows without recovery leave the two recovery fields empty.
    pub fn to_table(&self) -> Table {
        let mut table = Table::new(&[
            "start_epoch",
            "length",
            "end_epoch",
            "decided_at_epoch",
            "recovery_epoch",
            "epochs_to_recovery",
            "status",
        ]);
        for row in &self.rows {
            table.push(vec![
                row.window.start.into(),
                row.window.length.into(),
                row.end_epoch().into(),
                row.decided_at.into(),
                row.recovery_epoch.into(),
                row.epochs_to_recovery().into(),
                Cell::Text(row.status().into()),
            ]);
        }
        table
    }

    /// Δ max RSA of a row: its max minus the baseline's.
    pub fn delta_max_rsa(&self, row: &Fig4Row) -> f64 {
        row.max_rsa - self.baseline_max_rsa
    }

    /// The heatmap: columns
    /// `start_epoch,length,run_max_rsa_start_to_stop,baseline_max_rsa_to_cut,delta_max_rsa`:
    /// the run's maximum ρ over its own epochs (its start to where it stopped), the baseline's
    /// maximum over its curve up to the cut, and the difference.
    pub fn heatmap_table(&self) -> Table {
        let mut table = Table::new(&[
            "start_epoch",
            "length",
            "run_max_rsa_start_to_stop",
            "baseline_max_rsa_to_cut",
            "delta_max_rsa",
        ]);
        for row in &self.rows {
            table.push(vec![
                row.window.start.into(),
                row.window.length.into(),
                Cell::Number(row.max_rsa),
                Cell::Number(self.baseline_max_rsa),
                Cell::Number(self.delta_max_rsa(row)),
            ]);
        }
        table
    }
}

/// One window run as fig4 reads it: its window, its curve, and whether it ended at its
/// epoch limit (`max_epochs`) rather than by early stopping.
#[derive(Debug, Clone, Copy)]
pub struct WindowRun<'c> {
    /// The window.
    pub window: Window,
    /// Every epoch the run trained (the baseline's epochs before the window may be included).
    pub curve: &'c Curve,
    /// The run was cut by its epoch limit.
    pub epoch_limit: bool,
}

/// fig4 over the given window runs (see the module doc). A run that ends inside its window is
/// an error, unless its epoch limit cut it there (an `epoch_limit` row).
pub fn fig4<'c>(
    baseline: &Curve,
    runs: impl IntoIterator<Item = WindowRun<'c>>,
) -> Result<Fig4Table, ComputeError> {
    let cut = Fig4Baseline::new(baseline)?;
    let mut rows = BTreeMap::new();
    for run in runs {
        let window = Window::new(run.window.start, run.window.length)?;
        let curve = run.curve;
        let last = curve.last_epoch().unwrap_or(0);
        let (recovery_epoch, decided_at) = if run.epoch_limit && last <= window.end() {
            (None, last)
        } else {
            match fig4_recovery(&cut, window, curve)? {
                Recovery::Recovered { epoch } => (Some(epoch), epoch),
                Recovery::NotRecovered { decided_at } => (None, decided_at),
            }
        };
        let max_rsa = curve
            .points
            .iter()
            .filter(|point| point.epoch >= window.start)
            .map(|point| point.alignment)
            .fold(f64::NEG_INFINITY, f64::max);
        let row = Fig4Row {
            window,
            recovery_epoch,
            decided_at,
            max_rsa,
            epoch_limit: run.epoch_limit && recovery_epoch.is_none(),
        };
        if rows.insert(window, row).is_some() {
            return Err(ComputeError::DuplicateRun {
                what: format!(
                    "fig4 window of length {} from epoch {}",
                    window.length, window.start
                ),
            });
        }
    }
    Ok(Fig4Table {
        setup: baseline.setup.clone(),
        baseline_cut_epoch: cut.cut_epoch,
        baseline_min_loss: cut.min_loss,
        baseline_max_rsa: cut.max_rsa,
        rows: rows.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::figures::curve::test_curve as curve;

    /// Baseline: losses 10, 8, 6, 5, 5, 5.5, 6 (minimum 5 first at epoch 4, tied at 5).
    fn baseline() -> Curve {
        curve(
            "baseline",
            1,
            &[
                (10.0, 0.1),
                (8.0, 0.2),
                (6.0, 0.3),
                (5.0, 0.4),
                (5.0, 0.5),
                (5.5, 0.6),
                (6.0, 0.7),
            ],
        )
    }

    #[test]
    fn fig1_stops_at_the_first_minimum() {
        let table = fig1(Model::ClipHba, &baseline()).unwrap();
        assert_eq!(table.cut_epoch, 4);
        let epochs: Vec<u32> = table.points.iter().map(|point| point.epoch).collect();
        assert_eq!(epochs, [1, 2, 3, 4]);
        assert!(table.points[0].labelled && !table.points[1].labelled);
        assert!(table.points[3].labelled, "the cut epoch is labelled");
        let clip = |epoch| is_labelled_epoch(Model::ClipHba, epoch, 98);
        assert!(clip(5) && clip(10) && clip(15) && clip(98));
        assert!(
            !clip(20) && !clip(16) && !clip(95),
            "no label past 15 but the cut"
        );
        let vit = |epoch| is_labelled_epoch(Model::Vit, epoch, 100);
        assert!([1, 5, 11, 17, 40].into_iter().all(vit));
        assert!(!vit(10) && !vit(15) && !vit(100));
        assert_eq!(
            table.to_table().to_csv(),
            "epoch,test_loss,behavioral_rsa_rho,labelled\n\
             1,10,0.1,true\n2,8,0.2,false\n3,6,0.3,false\n4,5,0.4,true\n"
        );
        // The ViT's curve is drawn whole, not cut at its minimum (epoch 4 here).
        let vit_table = fig1(Model::Vit, &baseline()).unwrap();
        assert_eq!(vit_table.points.len(), 7);
        assert_eq!(vit_table.cut_epoch, 7);
        let vit = vit_table.to_table();
        assert_eq!(vit.columns, ["epoch", "val_loss", "rsa_score", "labelled"]);
        assert_eq!(
            fig1(Model::Vit, &curve("empty", 1, &[])).unwrap_err(),
            ComputeError::EmptyBaseline {
                curve: "empty".into()
            }
        );
    }

    #[test]
    fn fig2_is_perturbed_minus_baseline_at_k() {
        let noise = curve("noise", 2, &[(9.0, 0.15), (7.0, 0.25)]);
        let shuffle = curve("shuffle", 3, &[(6.5, 0.2)]);
        let table = fig2(
            Model::ClipHba,
            &baseline(),
            [
                (Perturbation::LabelShuffle, 3, &shuffle),
                (Perturbation::ImageNoise, 3, &noise),
                (Perturbation::ImageNoise, 2, &noise),
            ],
        )
        .unwrap();
        assert_eq!(
            table.to_table().to_csv(),
            "model,perturbation,epoch,delta_loss,delta_rsa\n\
             clip_hba,image_noise,2,1,-0.05000000000000002\n\
             clip_hba,image_noise,3,1,-0.04999999999999999\n\
             clip_hba,label_shuffle,3,0.5,-0.09999999999999998\n"
        );
        assert_eq!(table.epochs(), [2, 3]);
        let error = fig2(
            Model::ClipHba,
            &baseline(),
            [(Perturbation::LabelShuffle, 5, &shuffle)],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "run `shuffle` has no epoch 5, needed for fig2 `label_shuffle` at epoch 5"
        );
    }

    #[test]
    fn fig3_has_one_row_per_sweep_epoch_with_signs() {
        let at1 = curve("k1", 1, &[(11.0, 0.1)]);
        let at2 = curve("k2", 1, &[(10.0, 0.1), (7.0, 0.25)]);
        let table = fig3(&baseline(), [(2, &at2), (1, &at1)]).unwrap();
        assert_eq!(
            table.to_table().to_csv(),
            "epoch,delta_loss,delta_rsa,delta_loss_sign,delta_rsa_sign\n\
             1,1,0,positive,zero\n2,-1,0.04999999999999999,negative,positive\n"
        );
        assert!(matches!(
            fig3(&baseline(), [(1, &at1), (1, &at1)]),
            Err(ComputeError::DuplicateRun { .. })
        ));
    }

    #[test]
    fn fig4_thresholds_follow_the_cut_baseline() {
        let cut = Fig4Baseline::new(&baseline()).unwrap();
        assert_eq!((cut.cut_epoch, cut.min_loss, cut.max_rsa), (4, 5.0, 0.4));
        assert_eq!(cut.threshold(2).unwrap(), 1.01 * 8.0);
        assert_eq!(cut.threshold(4).unwrap(), 1.01 * 5.0);
        // Past the cut the bar is the minimum, not the baseline's later (higher) losses.
        assert_eq!(cut.threshold(7).unwrap(), 1.01 * 5.0);
        assert_eq!(cut.threshold(50).unwrap(), 1.01 * 5.0);
    }

    #[test]
    fn fig4_recovery_and_nr() {
        let base = baseline();
        // Window (1, 2): end 2. Epoch 3: 6.1 > 1.01 × 6; epoch 4: exactly 1.01 × 5, and
        // equal counts: recovered at 4.
        let recovers = curve(
            "e1_l2",
            1,
            &[
                (12.0, 0.0),
                (11.0, 0.05),
                (6.1, 0.2),
                (RECOVERY_TOLERANCE * 5.0, 0.35),
                (4.0, 0.9),
            ],
        );
        // Window (2, 3): end 4. Epoch 5: 5.1 > 1.01 × 5; epoch 6 is past the cut (epoch 4), so
        // the bar is 1.01 × the minimum 5, and 5.5 misses it though it is within 1.01 × the
        // baseline's own 5.5 there: NR.
        let never = curve(
            "e2_l3",
            2,
            &[(9.0, 0.2), (9.0, 0.2), (8.0, 0.3), (5.1, 0.45), (5.5, 0.3)],
        );
        let run = |window: Window, curve| WindowRun {
            window,
            curve,
            epoch_limit: false,
        };
        let table = fig4(
            &base,
            [
                run(Window::new(2, 3).unwrap(), &never),
                run(Window::new(1, 2).unwrap(), &recovers),
            ],
        )
        .unwrap();
        assert_eq!(
            table.to_table().to_csv(),
            "start_epoch,length,end_epoch,decided_at_epoch,recovery_epoch,epochs_to_recovery,status\n\
             1,2,2,4,4,2,recovered\n2,3,4,6,,,NR\n"
        );
        // Max ρ over each run's own epochs, from its start to where it stopped: 0.9 at epoch 5
        // (after recovery, which does not cut it), and 0.45 for the NR run.
        assert_eq!(
            table.heatmap_table().to_csv(),
            "start_epoch,length,run_max_rsa_start_to_stop,baseline_max_rsa_to_cut,delta_max_rsa\n\
             1,2,0.9,0.4,0.5\n\
             2,3,0.45,0.4,0.04999999999999999\n"
        );
        assert_eq!(table.rows[0].decided_at, 4);
        assert_eq!(table.rows[1].decided_at, 6);
        for row in &table.rows {
            assert!(
                row.recovery_epoch
                    .is_none_or(|epoch| epoch > row.end_epoch())
            );
        }
    }

    #[test]
    fn fig4_searches_every_epoch_and_tells_the_epoch_limit_from_nr() {
        let base = baseline();
        let window = Window::new(1, 2).unwrap();
        // Recovery late in the run (epoch 5) is found: every epoch the run trained is read.
        let late = curve(
            "late",
            1,
            &[(12.0, 0.0), (11.0, 0.0), (7.0, 0.0), (6.0, 0.0), (5.0, 0.0)],
        );
        let capped = curve("capped", 1, &[(12.0, 0.0), (11.0, 0.0), (7.0, 0.0)]);
        let inside = curve("inside", 1, &[(12.0, 0.0)]);
        let table = fig4(
            &base,
            [WindowRun {
                window,
                curve: &late,
                epoch_limit: true,
            }],
        )
        .unwrap();
        assert_eq!(
            table.rows[0].status(),
            "recovered",
            "a recovery counts even at the limit"
        );
        assert_eq!(table.rows[0].recovery_epoch, Some(5));
        for (curve, expected) in [(&capped, "epoch_limit"), (&inside, "epoch_limit")] {
            let table = fig4(
                &base,
                [WindowRun {
                    window,
                    curve,
                    epoch_limit: true,
                }],
            )
            .unwrap();
            assert_eq!(table.rows[0].status(), expected, "{}", curve.name);
            assert_eq!(table.rows[0].recovery_epoch, None);
        }
        let stopped = fig4(
            &base,
            [WindowRun {
                window,
                curve: &capped,
                epoch_limit: false,
            }],
        )
        .unwrap();
        assert_eq!(stopped.rows[0].status(), "NR");
        assert_eq!(stopped.rows[0].decided_at, 3);
        // Stopped inside its window without an epoch limit: the run is incomplete.
        assert!(matches!(
            fig4(
                &base,
                [WindowRun {
                    window,
                    curve: &inside,
                    epoch_limit: false,
                }],
            ),
            Err(ComputeError::WindowNotFinished { .. })
        ));
    }

    #[test]
    fn fig4_refuses_unfinished_and_gapped_runs() {
        let cut = Fig4Baseline::new(&baseline()).unwrap();
        let window = Window::new(2, 2).unwrap();
        let short = curve("short", 2, &[(9.0, 0.0), (9.0, 0.0)]);
        assert_eq!(
            fig4_recovery(&cut, window, &short).unwrap_err().to_string(),
            "run `short` ends at epoch 3 but its perturbation window ends at epoch 3; \
             recovery needs epochs after the window"
        );
        let gapped = Curve::new(
            "gapped",
            vec![
                CurvePoint {
                    epoch: 3,
                    loss: 9.0,
                    alignment: 0.0,
                },
                CurvePoint {
                    epoch: 5,
                    loss: 5.0,
                    alignment: 0.0,
                },
            ],
        );
        assert!(matches!(
            fig4_recovery(&cut, window, &gapped),
            Err(ComputeError::MissingEpoch { epoch: 4, .. })
        ));
        assert_eq!(
            Window::new(0, 3).unwrap_err(),
            ComputeError::InvalidWindow {
                start: 0,
                length: 3
            }
        );
    }
}
