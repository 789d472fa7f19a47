//! Reading result CSVs in the paper's format, one at a time or as a runs directory.
//!
//! # The CSVs
//! - CLIP-HBA runs (baseline and perturbed):
//!   `epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value`, perturbed runs may
//!   add `used_random_targets,used_shuffled_targets,used_uniform_images,used_image_noise`
//!   (`True`/`False` as pandas writes them, or `1`/`0`; any letter case).
//! - ViT baseline: `epoch,val_loss,rsa_score`.
//! - ViT perturbation effects (the deltas are computed by the ViT code, not here):
//!   `perturbation,epoch,delta_loss,delta_rsa` (the first column may also be called `type`;
//!   values `image_noise`, `uniform_images`, `label_shuffle`, `random_target`, or the paper's
//!   labels `blank_image`, `target_noise`).
//!
//! Columns are found by name, in any order; other columns (a pandas index, extra metrics) are
//! ignored. Epochs are 1-based, strictly increasing, and may start late (a run resumed from the
//! baseline at epoch k may hold only epochs k..). Losses and alignments must be finite numbers.
//! Every error names the file, the line and the column, and says what is wrong, because a
//! silently misread results file would quietly change a figure.
//!
//! # The runs directory
//! A figure target can take its runs from a directory of existing (e.g. PyTorch) results. The
//! file names, relative to the directory, are exactly:
//!
//! | file | what it is | used by |
//! |------|------------|---------|
//! | `baseline.csv` | the CLIP-HBA baseline | fig1a, fig2a, fig3, fig4 |
//! | `vit_baseline.csv` | the ViT baseline | fig1b |
//! | `vit_perturbation_effects.csv` | the ViT's Δ loss and Δ RSA per (type, epoch) | fig2b |
//! | `training_res_run{k}.csv` | single-epoch `random_target` at epoch k | fig3 (and fig2a) |
//! | `{type}_e{k}_l1/training_res.csv` | single-epoch `{type}` at epoch k | fig2a |
//! | `random_target_e{E}_l{L}/training_res.csv` | `random_target` for L epochs from epoch E | fig4 |
//!
//! `{type}` is `image_noise`, `uniform_images`, `label_shuffle` or `random_target`; for
//! `random_target` fig2a falls back to the sweep's `training_res_run{k}.csv` when
//! `random_target_e{k}_l1/training_res.csv` is absent (they are the same experiment). Numbers
//! are plain decimals without padding (`e5`, not `e05`). Before reading anything, the loader
//! checks that every file the request needs exists and reports all missing files at once,
//! each with what it is for.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::compute::{Fig2Row, Model};
use super::curve::{Curve, CurvePoint};
use super::perturbation::Perturbation;
use super::setup::RunSetup;

/// The CLIP-HBA baseline, relative to the runs directory.
pub const CLIP_BASELINE_FILE: &str = "baseline.csv";

/// The ViT baseline, relative to the runs directory.
pub const VIT_BASELINE_FILE: &str = "vit_baseline.csv";

/// The ViT's perturbation effects table, relative to the runs directory.
pub const VIT_EFFECTS_FILE: &str = "vit_perturbation_effects.csv";

/// The CLIP-HBA columns every run has, in the paper's order.
pub const CLIP_COLUMNS: [&str; 5] = [
    "epoch",
    "train_loss",
    "test_loss",
    "behavioral_rsa_rho",
    "behavioral_rsa_p_value",
];

/// The flag columns of perturbed CLIP-HBA runs, in the paper's order.
pub const FLAG_COLUMNS: [&str; 4] = [
    "used_random_targets",
    "used_shuffled_targets",
    "used_uniform_images",
    "used_image_noise",
];

/// The ViT baseline columns.
pub const VIT_COLUMNS: [&str; 3] = ["epoch", "val_loss", "rsa_score"];

/// The ViT effects columns (the first may also be called `type`).
pub const VIT_EFFECTS_COLUMNS: [&str; 4] = ["perturbation", "epoch", "delta_loss", "delta_rsa"];

/// The file of the single-epoch `random_target` sweep run at epoch `k`.
pub fn sweep_file(k: u32) -> String {
    format!("training_res_run{k}.csv")
}

/// The file of a `kind` run perturbed for `length` epochs from epoch `start`.
pub fn window_file(kind: Perturbation, start: u32, length: u32) -> String {
    format!("{}_e{start}_l{length}/training_res.csv", kind.name())
}

/// Why a results CSV or a runs directory could not be read.
#[derive(Debug)]
pub enum RunsError {
    /// The file could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    NotUtf8 { path: PathBuf },
    /// The file has no header line.
    Empty { path: PathBuf },
    /// The header lacks columns this kind of file needs.
    MissingColumns {
        path: PathBuf,
        missing: Vec<String>,
        header: String,
    },
    /// The header names a column twice.
    DuplicateColumn { path: PathBuf, column: String },
    /// The file has a header and no rows.
    NoRows { path: PathBuf },
    /// A line has a different number of fields than the header.
    FieldCount {
        path: PathBuf,
        line: usize,
        expected: usize,
        found: usize,
    },
    /// A field does not hold what its column needs.
    Value {
        path: PathBuf,
        line: usize,
        /// 1-based position of the field in the line.
        column: usize,
        name: String,
        value: String,
        expected: &'static str,
    },
    /// Epochs do not strictly increase.
    EpochOrder {
        path: PathBuf,
        line: usize,
        epoch: u32,
        previous: u32,
    },
    /// The effects table names a (type, epoch) twice.
    DuplicateEffect {
        path: PathBuf,
        line: usize,
        perturbation: Perturbation,
        epoch: u32,
    },
    /// The runs directory is not a directory.
    NotADirectory { path: PathBuf },
    /// Files the request needs are not in the runs directory.
    MissingFiles {
        root: PathBuf,
        missing: Vec<ExpectedFile>,
    },
}

impl fmt::Display for RunsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunsError::Read { path, source } => {
                write!(f, "cannot read `{}`: {source}", path.display())
            }
            RunsError::NotUtf8 { path } => write!(f, "`{}` is not utf-8 text", path.display()),
            RunsError::Empty { path } => {
                write!(f, "`{}` is empty; expected a csv header", path.display())
            }
            RunsError::MissingColumns {
                path,
                missing,
                header,
            } => {
                let missing: Vec<String> = missing.iter().map(|name| format!("`{name}`")).collect();
                write!(
                    f,
                    "`{}` line 1: the header lacks column{} {}; found `{header}`",
                    path.display(),
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", ")
                )
            }
            RunsError::DuplicateColumn { path, column } => write!(
                f,
                "`{}` line 1: the header names column `{column}` twice",
                path.display()
            ),
            RunsError::NoRows { path } => {
                write!(f, "`{}` has a header but no rows", path.display())
            }
            RunsError::FieldCount {
                path,
                line,
                expected,
                found,
            } => write!(
                f,
                "`{}` line {line}: expected {expected} fields like the header, found {found}",
                path.display()
            ),
            RunsError::Value {
                path,
                line,
                column,
                name,
                value,
                expected,
            } => write!(
                f,
                "`{}` line {line}, column {column} (`{name}`): expected {expected}, found `{value}`",
                path.display()
            ),
            RunsError::EpochOrder {
                path,
                line,
                epoch,
                previous,
            } => write!(
                f,
                "`{}` line {line}: epoch {epoch} does not follow epoch {previous}; \
                 epochs must strictly increase",
                path.display()
            ),
            RunsError::DuplicateEffect {
                path,
                line,
                perturbation,
                epoch,
            } => write!(
                f,
                "`{}` line {line}: `{perturbation}` at epoch {epoch} appears twice",
                path.display()
            ),
            RunsError::NotADirectory { path } => {
                write!(f, "runs directory `{}` is not a directory", path.display())
            }
            RunsError::MissingFiles { root, missing } => {
                write!(
                    f,
                    "runs directory `{}` lacks {} file{}:",
                    root.display(),
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" }
                )?;
                for file in missing {
                    write!(f, "\n  `{}`: {}", file.path, file.purpose)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RunsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunsError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The four flags of a perturbed run's epoch: which perturbation was active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerturbationFlags {
    /// `used_random_targets`.
    pub random_targets: bool,
    /// `used_shuffled_targets`.
    pub shuffled_targets: bool,
    /// `used_uniform_images`.
    pub uniform_images: bool,
    /// `used_image_noise`.
    pub image_noise: bool,
}

/// One epoch of a CLIP-HBA results CSV.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipEpoch {
    /// 1-based epoch.
    pub epoch: u32,
    /// Training loss.
    pub train_loss: f64,
    /// Test loss (the 362 held-out training-pool images).
    pub test_loss: f64,
    /// Behavioural RSA Spearman ρ on the 48.
    pub behavioral_rsa_rho: f64,
    /// Its p-value (may be NaN, e.g. for a constant RDM).
    pub behavioral_rsa_p_value: f64,
    /// The flags, when the file has the four `used_…` columns.
    pub flags: Option<PerturbationFlags>,
}

/// A CLIP-HBA results CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipRun {
    /// Where it was read from (for messages).
    pub source: PathBuf,
    /// What it trained, from the `config.json` beside a bundle's `results.csv` (for titles).
    pub setup: Option<RunSetup>,
    /// Its epochs, strictly increasing.
    pub epochs: Vec<ClipEpoch>,
}

impl ClipRun {
    /// (test loss, behavioural ρ) per epoch.
    pub fn curve(&self) -> Curve {
        let points = self
            .epochs
            .iter()
            .map(|row| CurvePoint {
                epoch: row.epoch,
                loss: row.test_loss,
                alignment: row.behavioral_rsa_rho,
            })
            .collect();
        Curve::new(self.source.display().to_string(), points).with_setup(self.setup.clone())
    }
}

/// One epoch of the ViT baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VitEpoch {
    /// 1-based epoch.
    pub epoch: u32,
    /// ImageNet validation loss.
    pub val_loss: f64,
    /// RSA of its embeddings on the 48 THINGS images.
    pub rsa_score: f64,
}

/// The ViT baseline CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct VitRun {
    /// Where it was read from (for messages).
    pub source: PathBuf,
    /// What it trained, from the `config.json` beside a bundle's `results.csv` (for titles).
    pub setup: Option<RunSetup>,
    /// Its epochs, strictly increasing.
    pub epochs: Vec<VitEpoch>,
}

impl VitRun {
    /// (validation loss, RSA score) per epoch.
    pub fn curve(&self) -> Curve {
        let points = self
            .epochs
            .iter()
            .map(|row| CurvePoint {
                epoch: row.epoch,
                loss: row.val_loss,
                alignment: row.rsa_score,
            })
            .collect();
        Curve::new(self.source.display().to_string(), points).with_setup(self.setup.clone())
    }
}

/// Reads a CLIP-HBA results CSV, with what the run trained when it is a bundle's `results.csv`
/// ([`RunSetup::beside`]).
pub fn read_clip_run(path: &Path) -> Result<ClipRun, RunsError> {
    let mut run = parse_clip_run(&read_text(path)?, path)?;
    run.setup = RunSetup::beside(path);
    Ok(run)
}

/// Parses a CLIP-HBA results CSV; `source` names it in errors.
pub fn parse_clip_run(text: &str, source: &Path) -> Result<ClipRun, RunsError> {
    let csv = Csv::split(text, source)?;
    let columns = csv.columns(&CLIP_COLUMNS)?;
    let flag_columns = csv.optional_group(&FLAG_COLUMNS)?;
    let mut epochs = Vec::with_capacity(csv.records.len());
    let mut order = EpochOrder::default();
    for record in &csv.records {
        let epoch = csv.epoch(record, columns[0])?;
        order.check(source, record.line, epoch)?;
        let flags = match &flag_columns {
            Some(flags) => Some(PerturbationFlags {
                random_targets: csv.flag(record, flags[0])?,
                shuffled_targets: csv.flag(record, flags[1])?,
                uniform_images: csv.flag(record, flags[2])?,
                image_noise: csv.flag(record, flags[3])?,
            }),
            None => None,
        };
        epochs.push(ClipEpoch {
            epoch,
            train_loss: csv.finite(record, columns[1])?,
            test_loss: csv.finite(record, columns[2])?,
            behavioral_rsa_rho: csv.finite(record, columns[3])?,
            behavioral_rsa_p_value: csv.number(record, columns[4])?,
            flags,
        });
    }
    Ok(ClipRun {
        source: source.to_path_buf(),
        setup: None,
        epochs,
    })
}

/// Reads the ViT baseline CSV, with what the run trained when it is a bundle's `results.csv`
/// ([`RunSetup::beside`]).
pub fn read_vit_run(path: &Path) -> Result<VitRun, RunsError> {
    let mut run = parse_vit_run(&read_text(path)?, path)?;
    run.setup = RunSetup::beside(path);
    Ok(run)
}

/// Parses the ViT baseline CSV; `source` names it in errors.
pub fn parse_vit_run(text: &str, source: &Path) -> Result<VitRun, RunsError> {
    let csv = Csv::split(text, source)?;
    let columns = csv.columns(&VIT_COLUMNS)?;
    let mut epochs = Vec::with_capacity(csv.records.len());
    let mut order = EpochOrder::default();
    for record in &csv.records {
        let epoch = csv.epoch(record, columns[0])?;
        order.check(source, record.line, epoch)?;
        epochs.push(VitEpoch {
            epoch,
            val_loss: csv.finite(record, columns[1])?,
            rsa_score: csv.finite(record, columns[2])?,
        });
    }
    Ok(VitRun {
        source: source.to_path_buf(),
        setup: None,
        epochs,
    })
}

/// Reads the ViT's perturbation effects table.
pub fn read_vit_effects(path: &Path) -> Result<Vec<Fig2Row>, RunsError> {
    parse_vit_effects(&read_text(path)?, path)
}

/// Parses the ViT's perturbation effects table into fig2 rows, sorted like
/// [`super::compute::fig2`] sorts them; `source` names it in errors.
pub fn parse_vit_effects(text: &str, source: &Path) -> Result<Vec<Fig2Row>, RunsError> {
    let csv = Csv::split(text, source)?;
    // The type column has two accepted names; look for `type` only when `perturbation` is absent.
    let type_name = if csv.position("perturbation").is_none() && csv.position("type").is_some() {
        "type"
    } else {
        "perturbation"
    };
    let columns = csv.columns(&[type_name, "epoch", "delta_loss", "delta_rsa"])?;
    let mut rows = BTreeMap::new();
    for record in &csv.records {
        let text = record.fields[columns[0]];
        let perturbation = Perturbation::parse(text).ok_or_else(|| {
            csv.value_error(
                record,
                columns[0],
                "`image_noise`, `uniform_images`, `label_shuffle` or `random_target`",
            )
        })?;
        let epoch = csv.epoch(record, columns[1])?;
        let row = Fig2Row {
            perturbation,
            epoch,
            delta_loss: csv.finite(record, columns[2])?,
            delta_rsa: csv.finite(record, columns[3])?,
        };
        if rows.insert((epoch, perturbation), row).is_some() {
            return Err(RunsError::DuplicateEffect {
                path: source.to_path_buf(),
                line: record.line,
                perturbation,
                epoch,
            });
        }
    }
    Ok(rows.into_values().collect())
}

fn read_text(path: &Path) -> Result<String, RunsError> {
    let bytes = fs::read(path).map_err(|source| RunsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| RunsError::NotUtf8 {
        path: path.to_path_buf(),
    })
}

/// Checks that epochs strictly increase.
#[derive(Default)]
struct EpochOrder {
    previous: Option<u32>,
}

impl EpochOrder {
    fn check(&mut self, path: &Path, line: usize, epoch: u32) -> Result<(), RunsError> {
        if let Some(previous) = self.previous
            && epoch <= previous
        {
            return Err(RunsError::EpochOrder {
                path: path.to_path_buf(),
                line,
                epoch,
                previous,
            });
        }
        self.previous = Some(epoch);
        Ok(())
    }
}

/// One data line of a CSV.
struct Record<'t> {
    /// 1-based line number in the file.
    line: usize,
    fields: Vec<&'t str>,
}

/// A CSV split into a header and records, with typed field access that reports positions.
///
/// The paper's files are plain: no quoting, no embedded commas, so a split on `,` suffices and
/// anything quoted fails loudly as a bad value rather than being half-understood.
struct Csv<'t> {
    path: &'t Path,
    header_line: &'t str,
    header: Vec<&'t str>,
    records: Vec<Record<'t>>,
}

impl<'t> Csv<'t> {
    fn split(text: &'t str, path: &'t Path) -> Result<Csv<'t>, RunsError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)))
            .filter(|(_, line)| !line.trim().is_empty());
        let Some((_, header_line)) = lines.next() else {
            return Err(RunsError::Empty {
                path: path.to_path_buf(),
            });
        };
        let header: Vec<&str> = header_line.split(',').map(str::trim).collect();
        for (index, name) in header.iter().enumerate() {
            if !name.is_empty() && header[..index].contains(name) {
                return Err(RunsError::DuplicateColumn {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                });
            }
        }
        let mut records = Vec::new();
        for (line, text) in lines {
            let fields: Vec<&str> = text.split(',').map(str::trim).collect();
            if fields.len() != header.len() {
                return Err(RunsError::FieldCount {
                    path: path.to_path_buf(),
                    line,
                    expected: header.len(),
                    found: fields.len(),
                });
            }
            records.push(Record { line, fields });
        }
        let csv = Csv {
            path,
            header_line,
            header,
            records,
        };
        Ok(csv)
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|column| *column == name)
    }

    /// The positions of these columns; all missing ones are reported together. A file with no
    /// rows is refused here, after the header is known to be the right kind.
    fn columns(&self, names: &[&str]) -> Result<Vec<usize>, RunsError> {
        let missing: Vec<String> = names
            .iter()
            .filter(|name| self.position(name).is_none())
            .map(|name| name.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(self.missing_columns(missing));
        }
        if self.records.is_empty() {
            return Err(RunsError::NoRows {
                path: self.path.to_path_buf(),
            });
        }
        Ok(names
            .iter()
            .filter_map(|name| self.position(name))
            .collect())
    }

    /// The positions of a group of columns that come all together or not at all.
    fn optional_group(&self, names: &[&str]) -> Result<Option<Vec<usize>>, RunsError> {
        let positions: Vec<Option<usize>> = names.iter().map(|name| self.position(name)).collect();
        if positions.iter().all(Option::is_none) {
            return Ok(None);
        }
        let missing: Vec<String> = names
            .iter()
            .zip(&positions)
            .filter(|(_, position)| position.is_none())
            .map(|(name, _)| name.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(self.missing_columns(missing));
        }
        Ok(Some(positions.into_iter().flatten().collect()))
    }

    fn missing_columns(&self, missing: Vec<String>) -> RunsError {
        RunsError::MissingColumns {
            path: self.path.to_path_buf(),
            missing,
            header: self.header_line.to_string(),
        }
    }

    fn value_error(&self, record: &Record<'_>, column: usize, expected: &'static str) -> RunsError {
        RunsError::Value {
            path: self.path.to_path_buf(),
            line: record.line,
            column: column + 1,
            name: self.header[column].to_string(),
            value: record.fields[column].to_string(),
            expected,
        }
    }

    /// A 1-based epoch; `3.0` is accepted because pandas writes integer columns that held a
    /// NaN as floats.
    fn epoch(&self, record: &Record<'_>, column: usize) -> Result<u32, RunsError> {
        let text = record.fields[column];
        let whole = text.parse::<u32>().ok().or_else(|| {
            let value = text.parse::<f64>().ok()?;
            (value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value))
                .then_some(value as u32)
        });
        match whole {
            Some(epoch) if epoch >= 1 => Ok(epoch),
            _ => Err(self.value_error(record, column, "an epoch (an integer ≥ 1)")),
        }
    }

    fn number(&self, record: &Record<'_>, column: usize) -> Result<f64, RunsError> {
        record.fields[column]
            .parse::<f64>()
            .map_err(|_| self.value_error(record, column, "a number"))
    }

    fn finite(&self, record: &Record<'_>, column: usize) -> Result<f64, RunsError> {
        match record.fields[column].parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(value),
            _ => Err(self.value_error(record, column, "a finite number")),
        }
    }

    fn flag(&self, record: &Record<'_>, column: usize) -> Result<bool, RunsError> {
        match record.fields[column].to_ascii_lowercase().as_str() {
            "true" | "1" | "1.0" => Ok(true),
            "false" | "0" | "0.0" => Ok(false),
            _ => Err(self.value_error(record, column, "`True`, `False`, `1` or `0`")),
        }
    }
}

/// A file the runs directory must hold, and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFile {
    /// Path relative to the runs directory, `/`-separated.
    pub path: String,
    /// What it is, and which figure reads it.
    pub purpose: String,
}

/// Which runs a figure needs from a runs directory. Build with the `fig…` constructors and
/// combine with [`RunsRequest::and`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunsRequest {
    /// The CLIP-HBA baseline.
    pub clip_baseline: bool,
    /// The ViT baseline.
    pub vit_baseline: bool,
    /// The ViT perturbation effects table.
    pub vit_effects: bool,
    /// Single-epoch runs of each type at each epoch (fig2a).
    pub single_epoch: BTreeSet<(Perturbation, u32)>,
    /// Single-epoch `random_target` sweep epochs (fig3).
    pub sweep: BTreeSet<u32>,
    /// `random_target` windows as (start epoch, length) (fig4).
    pub grid: BTreeSet<(u32, u32)>,
}

impl RunsRequest {
    /// fig1a: the CLIP-HBA baseline.
    pub fn fig1a() -> RunsRequest {
        RunsRequest {
            clip_baseline: true,
            ..RunsRequest::default()
        }
    }

    /// fig1b: the ViT baseline.
    pub fn fig1b() -> RunsRequest {
        RunsRequest {
            vit_baseline: true,
            ..RunsRequest::default()
        }
    }

    /// fig2a: the baseline and every type at every epoch.
    pub fn fig2a(kinds: &[Perturbation], epochs: &[u32]) -> RunsRequest {
        RunsRequest {
            clip_baseline: true,
            single_epoch: kinds
                .iter()
                .flat_map(|&kind| epochs.iter().map(move |&epoch| (kind, epoch)))
                .collect(),
            ..RunsRequest::default()
        }
    }

    /// fig2b: the ViT effects table.
    pub fn fig2b() -> RunsRequest {
        RunsRequest {
            vit_effects: true,
            ..RunsRequest::default()
        }
    }

    /// fig3: the baseline and the sweep at these epochs.
    pub fn fig3(epochs: &[u32]) -> RunsRequest {
        RunsRequest {
            clip_baseline: true,
            sweep: epochs.iter().copied().collect(),
            ..RunsRequest::default()
        }
    }

    /// fig4: the baseline and every (start, length) window.
    pub fn fig4(starts: &[u32], lengths: &[u32]) -> RunsRequest {
        RunsRequest {
            clip_baseline: true,
            grid: starts
                .iter()
                .flat_map(|&start| lengths.iter().map(move |&length| (start, length)))
                .collect(),
            ..RunsRequest::default()
        }
    }

    /// Both requests together.
    pub fn and(mut self, other: RunsRequest) -> RunsRequest {
        self.clip_baseline |= other.clip_baseline;
        self.vit_baseline |= other.vit_baseline;
        self.vit_effects |= other.vit_effects;
        self.single_epoch.extend(other.single_epoch);
        self.sweep.extend(other.sweep);
        self.grid.extend(other.grid);
        self
    }
}

/// The runs read from a runs directory, keyed like the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedRuns {
    /// The CLIP-HBA baseline, if requested.
    pub clip_baseline: Option<ClipRun>,
    /// The ViT baseline, if requested.
    pub vit_baseline: Option<VitRun>,
    /// The ViT effects, if requested.
    pub vit_effects: Option<Vec<Fig2Row>>,
    /// Single-epoch runs by (type, epoch).
    pub single_epoch: BTreeMap<(Perturbation, u32), ClipRun>,
    /// Sweep runs by perturbed epoch.
    pub sweep: BTreeMap<u32, ClipRun>,
    /// Window runs by (start epoch, length).
    pub grid: BTreeMap<(u32, u32), ClipRun>,
}

/// A directory of result CSVs in the layout of this module's doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunsDirectory {
    root: PathBuf,
}

/// Where one requested run is read from: the first candidate that exists.
struct Wanted {
    candidates: Vec<String>,
    purpose: String,
}

impl RunsDirectory {
    /// The directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> RunsDirectory {
        RunsDirectory { root: root.into() }
    }

    /// Its root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every file the request needs (for a fallback, the preferred name), with its purpose.
    pub fn expected_files(&self, request: &RunsRequest) -> Vec<ExpectedFile> {
        plan(request)
            .into_iter()
            .map(|(_, wanted)| ExpectedFile {
                path: wanted.candidates[0].clone(),
                purpose: wanted.purpose,
            })
            .collect()
    }

    /// Reads what the request needs, after checking that all of it exists (all missing files
    /// are reported in one error).
    pub fn load(&self, request: &RunsRequest) -> Result<LoadedRuns, RunsError> {
        if !self.root.is_dir() {
            return Err(RunsError::NotADirectory {
                path: self.root.clone(),
            });
        }
        let plan = plan(request);
        let mut found = Vec::with_capacity(plan.len());
        let mut missing = Vec::new();
        for (slot, wanted) in plan {
            let existing = wanted
                .candidates
                .iter()
                .map(|candidate| self.root.join(candidate))
                .find(|path| path.is_file());
            match existing {
                Some(path) => found.push((slot, path)),
                None => missing.push(ExpectedFile {
                    path: wanted.candidates[0].clone(),
                    purpose: match wanted.candidates.get(1) {
                        Some(other) => format!("{} (or `{other}`)", wanted.purpose),
                        None => wanted.purpose,
                    },
                }),
            }
        }
        if !missing.is_empty() {
            return Err(RunsError::MissingFiles {
                root: self.root.clone(),
                missing,
            });
        }
        let mut runs = LoadedRuns::default();
        for (slot, path) in found {
            match slot {
                Slot::ClipBaseline => runs.clip_baseline = Some(read_clip_run(&path)?),
                Slot::VitBaseline => runs.vit_baseline = Some(read_vit_run(&path)?),
                Slot::VitEffects => runs.vit_effects = Some(read_vit_effects(&path)?),
                Slot::SingleEpoch(kind, epoch) => {
                    runs.single_epoch
                        .insert((kind, epoch), read_clip_run(&path)?);
                }
                Slot::Sweep(epoch) => {
                    runs.sweep.insert(epoch, read_clip_run(&path)?);
                }
                Slot::Grid(start, length) => {
                    runs.grid.insert((start, length), read_clip_run(&path)?);
                }
            }
        }
        Ok(runs)
    }

    /// The sweep epochs present (`training_res_run{k}.csv`), ascending, for a figure that takes
    /// whatever sweep the directory holds.
    pub fn sweep_epochs(&self) -> Result<Vec<u32>, RunsError> {
        let mut epochs: Vec<u32> = self
            .entry_names()?
            .iter()
            .filter_map(|name| {
                name.strip_prefix("training_res_run")?
                    .strip_suffix(".csv")?
                    .parse()
                    .ok()
            })
            .filter(|&epoch| epoch >= 1)
            .collect();
        epochs.sort_unstable();
        Ok(epochs)
    }

    /// The `random_target` windows present (`random_target_e{E}_l{L}/training_res.csv`) as
    /// (start, length), ascending.
    pub fn grid_windows(&self) -> Result<Vec<(u32, u32)>, RunsError> {
        let mut windows: Vec<(u32, u32)> = self
            .entry_names()?
            .iter()
            .filter_map(|name| {
                let (start, length) = name.strip_prefix("random_target_e")?.split_once("_l")?;
                Some((start.parse().ok()?, length.parse().ok()?))
            })
            .filter(|&(start, length): &(u32, u32)| {
                start >= 1
                    && length >= 1
                    && self
                        .root
                        .join(window_file(Perturbation::RandomTarget, start, length))
                        .is_file()
            })
            .collect();
        windows.sort_unstable();
        Ok(windows)
    }

    fn entry_names(&self) -> Result<Vec<String>, RunsError> {
        let entries = fs::read_dir(&self.root).map_err(|source| RunsError::Read {
            path: self.root.clone(),
            source,
        })?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| RunsError::Read {
                path: self.root.clone(),
                source,
            })?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }
}

/// Where a loaded run goes in [`LoadedRuns`].
#[derive(Debug, Clone, Copy)]
enum Slot {
    ClipBaseline,
    VitBaseline,
    VitEffects,
    SingleEpoch(Perturbation, u32),
    Sweep(u32),
    Grid(u32, u32),
}

/// The request as files to look for, in a fixed order (so errors list them stably).
fn plan(request: &RunsRequest) -> Vec<(Slot, Wanted)> {
    let one = |path: String, purpose: String| Wanted {
        candidates: vec![path],
        purpose,
    };
    let mut plan = Vec::new();
    if request.clip_baseline {
        let purpose = format!("the {} baseline", Model::ClipHba.label());
        plan.push((
            Slot::ClipBaseline,
            one(CLIP_BASELINE_FILE.to_string(), purpose),
        ));
    }
    if request.vit_baseline {
        let purpose = format!("the {} baseline (fig1b)", Model::Vit.label());
        plan.push((
            Slot::VitBaseline,
            one(VIT_BASELINE_FILE.to_string(), purpose),
        ));
    }
    if request.vit_effects {
        let purpose = format!(
            "the {} perturbation effects, columns `{}` (fig2b)",
            Model::Vit.label(),
            VIT_EFFECTS_COLUMNS.join(",")
        );
        plan.push((Slot::VitEffects, one(VIT_EFFECTS_FILE.to_string(), purpose)));
    }
    for &(kind, epoch) in &request.single_epoch {
        let mut candidates = vec![window_file(kind, epoch, 1)];
        if kind == Perturbation::RandomTarget {
            candidates.push(sweep_file(epoch));
        }
        let purpose = format!("single-epoch `{kind}` perturbation at epoch {epoch} (fig2a)");
        plan.push((
            Slot::SingleEpoch(kind, epoch),
            Wanted {
                candidates,
                purpose,
            },
        ));
    }
    for &epoch in &request.sweep {
        let purpose = format!("single-epoch `random_target` sweep run at epoch {epoch} (fig3)");
        plan.push((Slot::Sweep(epoch), one(sweep_file(epoch), purpose)));
    }
    for &(start, length) in &request.grid {
        let purpose = format!(
            "`random_target` for {length} epoch{} from epoch {start} (fig4)",
            if length == 1 { "" } else { "s" }
        );
        let path = window_file(Perturbation::RandomTarget, start, length);
        plan.push((Slot::Grid(start, length), one(path, purpose)));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(text: &str) -> Result<ClipRun, String> {
        parse_clip_run(text, Path::new("runs/baseline.csv")).map_err(|error| error.to_string())
    }

    #[test]
    fn reads_a_baseline_and_a_perturbed_run() {
        let run = clip(
            "epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value\n\
             1,0.5,0.4,0.1,0.01\r\n2,0.3,0.35,0.2,1e-300\n\n",
        )
        .unwrap();
        assert_eq!(run.epochs.len(), 2);
        assert_eq!(run.epochs[1].behavioral_rsa_p_value, 1e-300);
        assert_eq!(run.epochs[0].flags, None);
        let run = clip(&format!(
            "{},{}\n3,0.5,0.4,0.1,nan,True,false,0,0\n4,0.5,0.4,0.1,0.2,False,False,False,1\n",
            CLIP_COLUMNS.join(","),
            FLAG_COLUMNS.join(",")
        ))
        .unwrap();
        assert!(run.epochs[0].flags.unwrap().random_targets);
        assert!(run.epochs[0].behavioral_rsa_p_value.is_nan());
        assert!(run.epochs[1].flags.unwrap().image_noise);
        assert_eq!(run.curve().points[0].epoch, 3);
    }

    #[test]
    fn columns_are_found_by_name() {
        let run = clip(
            ",behavioral_rsa_p_value,behavioral_rsa_rho,test_loss,train_loss,epoch\n\
             0,0.01,0.25,0.5,0.6,1\n",
        )
        .unwrap();
        assert_eq!(run.epochs[0].test_loss, 0.5);
        assert_eq!(run.epochs[0].behavioral_rsa_rho, 0.25);
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let header = CLIP_COLUMNS.join(",");
        assert_eq!(
            clip(&format!(
                "{header}\n1,0.5,0.4,0.1,0.01\n2,0.5,abc,0.1,0.01\n"
            ))
            .unwrap_err(),
            "`runs/baseline.csv` line 3, column 3 (`test_loss`): expected a finite number, \
             found `abc`"
        );
        assert_eq!(
            clip(&format!("{header}\n1,0.5,inf,0.1,0.01\n")).unwrap_err(),
            "`runs/baseline.csv` line 2, column 3 (`test_loss`): expected a finite number, \
             found `inf`"
        );
        assert_eq!(
            clip(&format!("{header}\n0,0.5,0.4,0.1,0.01\n")).unwrap_err(),
            "`runs/baseline.csv` line 2, column 1 (`epoch`): expected an epoch (an integer ≥ 1), \
             found `0`"
        );
        assert_eq!(
            clip(&format!("{header}\n1,0.5,0.4\n")).unwrap_err(),
            "`runs/baseline.csv` line 2: expected 5 fields like the header, found 3"
        );
        assert_eq!(
            clip(&format!(
                "{header}\n2,0.5,0.4,0.1,0.01\n2,0.5,0.4,0.1,0.01\n"
            ))
            .unwrap_err(),
            "`runs/baseline.csv` line 3: epoch 2 does not follow epoch 2; \
             epochs must strictly increase"
        );
        assert_eq!(
            clip("epoch,val_loss,rsa_score\n1,0.5,0.1\n").unwrap_err(),
            "`runs/baseline.csv` line 1: the header lacks columns `train_loss`, `test_loss`, \
             `behavioral_rsa_rho`, `behavioral_rsa_p_value`; found `epoch,val_loss,rsa_score`"
        );
        assert_eq!(
            clip(&format!(
                "{header},used_random_targets\n1,0.5,0.4,0.1,0.01,True\n"
            ))
            .unwrap_err(),
            format!(
                "`runs/baseline.csv` line 1: the header lacks columns `used_shuffled_targets`, \
                 `used_uniform_images`, `used_image_noise`; found `{header},used_random_targets`"
            )
        );
        assert_eq!(
            clip(&format!(
                "{header},{}\n1,0.5,0.4,0.1,0.01,yes,0,0,0\n",
                FLAG_COLUMNS.join(",")
            ))
            .unwrap_err(),
            "`runs/baseline.csv` line 2, column 6 (`used_random_targets`): expected `True`, \
             `False`, `1` or `0`, found `yes`"
        );
        assert_eq!(
            clip(&format!("{header}\n")).unwrap_err(),
            "`runs/baseline.csv` has a header but no rows"
        );
        assert_eq!(
            clip("").unwrap_err(),
            "`runs/baseline.csv` is empty; expected a csv header"
        );
    }

    #[test]
    fn reads_the_vit_files() {
        let run = parse_vit_run(
            "epoch,val_loss,rsa_score\n1,6.9,0.01\n2.0,5.5,0.03\n",
            Path::new("vit.csv"),
        )
        .unwrap();
        assert_eq!(run.curve().points[1].loss, 5.5);
        let effects = parse_vit_effects(
            "type,epoch,delta_loss,delta_rsa\ntarget noise,5,0.5,-0.1\nimage_noise,5,0.2,0.01\n",
            Path::new("effects.csv"),
        )
        .unwrap();
        assert_eq!(effects[0].perturbation, Perturbation::ImageNoise);
        assert_eq!(effects[1].perturbation, Perturbation::RandomTarget);
        let error = parse_vit_effects(
            "perturbation,epoch,delta_loss,delta_rsa\nblur,5,0.5,-0.1\n",
            Path::new("effects.csv"),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("`effects.csv` line 2, column 1 (`perturbation`): expected"),
            "{error}"
        );
    }
}
