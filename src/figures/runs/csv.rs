//! Reading one result CSV: a CLIP-HBA run, the ViT baseline, or the ViT's perturbation effects.
//!
//! Columns are found by name, in any order; other columns (a pandas index, a checkpoint path,
//! extra metrics) are ignored. Epochs strictly increase and may start late (a run resumed from
//! the baseline at epoch k may hold only epochs k..). Losses and alignments must be finite
//! numbers. Fields may be quoted the way pandas quotes them (`"a,b"`, `""` for a quote). Every
//! error names the file, the line and the column, and says what is wrong, because a silently
//! misread results file would quietly change a figure.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::RunsError;
use crate::figures::compute::Fig2Row;
use crate::figures::curve::{Curve, CurvePoint};
use crate::figures::perturbation::Perturbation;
use crate::figures::setup::RunSetup;

/// The CLIP-HBA columns every run has, in the paper's order.
pub const CLIP_COLUMNS: [&str; 5] = [
    "epoch",
    "train_loss",
    "test_loss",
    "behavioral_rsa_rho",
    "behavioral_rsa_p_value",
];

/// The flag columns of perturbed CLIP-HBA runs, in the paper's order. A file may hold any of
/// them (the original's files hold the first two, three or all four).
pub const FLAG_COLUMNS: [&str; 4] = [
    "used_random_targets",
    "used_shuffled_targets",
    "used_uniform_images",
    "used_image_noise",
];

/// The ViT baseline columns.
pub const VIT_COLUMNS: [&str; 3] = ["epoch", "val_loss", "rsa_score"];

/// The ViT effects columns of cpbuild's runs layout (the first may also be called `type`).
pub const VIT_EFFECTS_COLUMNS: [&str; 4] = ["perturbation", "epoch", "delta_loss", "delta_rsa"];

/// How a file numbers its epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// The first epoch is 1 (every CLIP-HBA file, cpbuild's ViT files).
    FromOne,
    /// The first epoch is 0 (the original's ViT log); read as epoch + 1, so every figure
    /// numbers epochs from 1.
    FromZero,
}

/// The columns and type names of a ViT perturbation effects table.
#[derive(Debug, Clone, Copy)]
pub struct EffectsFormat {
    /// The type column; the first name present is used (errors name the first).
    pub type_columns: &'static [&'static str],
    /// The epoch column.
    pub epoch_column: &'static str,
    /// A type name to its perturbation.
    pub parse_type: fn(&str) -> Option<Perturbation>,
    /// The type names, for errors.
    pub type_names: &'static str,
}

/// cpbuild's effects table: `perturbation,epoch,delta_loss,delta_rsa` (the first column may
/// also be called `type`), types by recipe name or the paper's label.
pub const CPBUILD_EFFECTS: EffectsFormat = EffectsFormat {
    type_columns: &["perturbation", "type"],
    epoch_column: "epoch",
    parse_type: Perturbation::parse,
    type_names: "`image_noise`, `uniform_images`, `label_shuffle` or `random_target`",
};

/// The four flags of a perturbed run's epoch: which perturbation was active; `None` where the
/// file has no such column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerturbationFlags {
    /// `used_random_targets`.
    pub random_targets: Option<bool>,
    /// `used_shuffled_targets`.
    pub shuffled_targets: Option<bool>,
    /// `used_uniform_images`.
    pub uniform_images: Option<bool>,
    /// `used_image_noise`.
    pub image_noise: Option<bool>,
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
    /// The flags, when the file has any `used_…` column.
    pub flags: Option<PerturbationFlags>,
}

impl RunEpoch for ClipEpoch {
    /// (test loss, behavioural ρ).
    fn point(&self) -> CurvePoint {
        CurvePoint {
            epoch: self.epoch,
            loss: self.test_loss,
            alignment: self.behavioral_rsa_rho,
        }
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

impl RunEpoch for VitEpoch {
    /// (validation loss, RSA score).
    fn point(&self) -> CurvePoint {
        CurvePoint {
            epoch: self.epoch,
            loss: self.val_loss,
            alignment: self.rsa_score,
        }
    }
}

/// One epoch of a results CSV, as a point of the run's curve.
pub trait RunEpoch {
    /// The epoch's (loss, alignment).
    fn point(&self) -> CurvePoint;
}

/// A results CSV: where it was read from, what it trained, its epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct Run<E> {
    /// Where it was read from (for messages).
    pub source: PathBuf,
    /// What it trained, from the `config.json` beside a bundle's `results.csv` (for titles).
    pub setup: Option<RunSetup>,
    /// Its epochs, strictly increasing.
    pub epochs: Vec<E>,
}

/// A CLIP-HBA results CSV.
pub type ClipRun = Run<ClipEpoch>;

/// The ViT baseline CSV.
pub type VitRun = Run<VitEpoch>;

impl<E: RunEpoch> Run<E> {
    /// (loss, alignment) per epoch: for CLIP-HBA (test loss, behavioural ρ), for the ViT
    /// (validation loss, RSA score).
    pub fn curve(&self) -> Curve {
        let points = self.epochs.iter().map(RunEpoch::point).collect();
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
    let flag_columns: Vec<Option<usize>> =
        FLAG_COLUMNS.iter().map(|name| csv.position(name)).collect();
    let has_flags = flag_columns.iter().any(Option::is_some);
    let mut epochs = Vec::with_capacity(csv.records.len());
    let mut order = EpochOrder::default();
    for record in &csv.records {
        let epoch = csv.epoch(record, columns[0], Numbering::FromOne)?;
        order.check(source, record.line, epoch)?;
        let flag = |index: usize| -> Result<Option<bool>, RunsError> {
            flag_columns[index]
                .map(|column| csv.flag(record, column))
                .transpose()
        };
        let flags = if has_flags {
            Some(PerturbationFlags {
                random_targets: flag(0)?,
                shuffled_targets: flag(1)?,
                uniform_images: flag(2)?,
                image_noise: flag(3)?,
            })
        } else {
            None
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

/// Parses the ViT baseline CSV (epochs from 1); `source` names it in errors.
pub fn parse_vit_run(text: &str, source: &Path) -> Result<VitRun, RunsError> {
    parse_vit_run_numbered(text, source, Numbering::FromOne)
}

/// Parses a ViT baseline CSV whose epochs are numbered as `numbering` says; the run's epochs
/// are 1-based either way.
pub fn parse_vit_run_numbered(
    text: &str,
    source: &Path,
    numbering: Numbering,
) -> Result<VitRun, RunsError> {
    let csv = Csv::split(text, source)?;
    let columns = csv.columns(&VIT_COLUMNS)?;
    let mut epochs = Vec::with_capacity(csv.records.len());
    let mut order = EpochOrder::default();
    for record in &csv.records {
        let epoch = csv.epoch(record, columns[0], numbering)?;
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

/// Reads the ViT's perturbation effects table in cpbuild's format.
pub fn read_vit_effects(path: &Path) -> Result<Vec<Fig2Row>, RunsError> {
    parse_vit_effects(&read_text(path)?, path)
}

/// Parses the ViT's perturbation effects table in cpbuild's format into fig2 rows, sorted like
/// fig2's `compute` sorts them; `source` names it in errors.
pub fn parse_vit_effects(text: &str, source: &Path) -> Result<Vec<Fig2Row>, RunsError> {
    parse_effects(text, source, &CPBUILD_EFFECTS)
}

/// Parses a ViT perturbation effects table in `format` (the deltas are computed by the ViT
/// code, not here), sorted by epoch, then type in bar order.
pub fn parse_effects(
    text: &str,
    source: &Path,
    format: &EffectsFormat,
) -> Result<Vec<Fig2Row>, RunsError> {
    let csv = Csv::split(text, source)?;
    let type_column = format
        .type_columns
        .iter()
        .copied()
        .find(|name| csv.position(name).is_some())
        .unwrap_or(format.type_columns[0]);
    let columns = csv.columns(&[type_column, format.epoch_column, "delta_loss", "delta_rsa"])?;
    let mut rows = BTreeMap::new();
    for record in &csv.records {
        let perturbation = (format.parse_type)(&record.fields[columns[0]])
            .ok_or_else(|| csv.value_error(record, columns[0], format.type_names))?;
        let epoch = csv.epoch(record, columns[1], Numbering::FromOne)?;
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

/// The text of a file.
pub fn read_text(path: &Path) -> Result<String, RunsError> {
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
    fields: Vec<Cow<'t, str>>,
}

/// Splits one line into trimmed fields; a field in double quotes may hold commas, and `""`
/// inside it is a quote. A quote that is never closed runs to the end of the line.
fn split_fields(line: &str) -> Vec<Cow<'_, str>> {
    if !line.contains('"') {
        return line
            .split(',')
            .map(|field| Cow::Borrowed(field.trim()))
            .collect();
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(Cow::Owned(std::mem::take(&mut field).trim().into())),
            c => field.push(c),
        }
    }
    fields.push(Cow::Owned(field.trim().to_string()));
    fields
}

/// A CSV split into a header and records, with typed field access that reports positions.
///
/// No field spans lines (none of the results files has one), so a line is a record.
struct Csv<'t> {
    path: &'t Path,
    header_line: &'t str,
    header: Vec<Cow<'t, str>>,
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
        let header = split_fields(header_line);
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
            let fields = split_fields(text);
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
        Ok(Csv {
            path,
            header_line,
            header,
            records,
        })
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|column| column == name)
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
            return Err(RunsError::MissingColumns {
                path: self.path.to_path_buf(),
                missing,
                header: self.header_line.to_string(),
            });
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

    /// A 1-based epoch, from a field numbered as `numbering` says; `3.0` is accepted because
    /// pandas writes integer columns that held a NaN as floats.
    fn epoch(
        &self,
        record: &Record<'_>,
        column: usize,
        numbering: Numbering,
    ) -> Result<u32, RunsError> {
        let text = &record.fields[column];
        let whole = text.parse::<u32>().ok().or_else(|| {
            let value = text.parse::<f64>().ok()?;
            (value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value))
                .then_some(value as u32)
        });
        match (numbering, whole) {
            (Numbering::FromOne, Some(epoch)) if epoch >= 1 => Ok(epoch),
            (Numbering::FromZero, Some(epoch)) if epoch < u32::MAX => Ok(epoch + 1),
            (Numbering::FromOne, _) => {
                Err(self.value_error(record, column, "an epoch (an integer ≥ 1)"))
            }
            (Numbering::FromZero, _) => Err(self.value_error(
                record,
                column,
                "an epoch (an integer ≥ 0: this file numbers epochs from 0)",
            )),
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
        assert_eq!(run.epochs[0].flags.unwrap().random_targets, Some(true));
        assert!(run.epochs[0].behavioral_rsa_p_value.is_nan());
        assert_eq!(run.epochs[1].flags.unwrap().image_noise, Some(true));
        assert_eq!(run.curve().points[0].epoch, 3);
    }

    #[test]
    fn reads_two_three_or_four_flag_columns() {
        for count in 2..=4 {
            let flags = FLAG_COLUMNS[..count].join(",");
            let values = vec!["False"; count].join(",");
            let run = clip(&format!(
                "{},{flags}\n5,0.5,0.4,0.1,0.01,{values}\n",
                CLIP_COLUMNS.join(",")
            ))
            .unwrap();
            let read = run.epochs[0].flags.unwrap();
            assert_eq!(read.random_targets, Some(false));
            assert_eq!(read.uniform_images.is_some(), count >= 3, "{count} flags");
            assert_eq!(read.image_noise.is_some(), count == 4, "{count} flags");
        }
    }

    #[test]
    fn columns_are_found_by_name_and_quotes_are_understood() {
        let run = clip(
            ",behavioral_rsa_p_value,behavioral_rsa_rho,test_loss,train_loss,epoch,note\n\
             0,0.01,0.25,0.5,0.6,1,\"a, quoted \"\"note\"\"\"\n",
        )
        .unwrap();
        assert_eq!(run.epochs[0].test_loss, 0.5);
        assert_eq!(run.epochs[0].behavioral_rsa_rho, 0.25);
        assert_eq!(split_fields("1,\"x,\"\"y\"\"\", z "), ["1", "x,\"y\"", "z"]);
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
        let zero = parse_vit_run_numbered(
            "checkpoint,epoch,val_loss,rsa_score\nc0,0,6.9,0.01\nc1,1,5.5,0.03\n",
            Path::new("vit.csv"),
            Numbering::FromZero,
        )
        .unwrap();
        assert_eq!(zero.epochs[0].epoch, 1);
        assert_eq!(zero.epochs[1].epoch, 2);
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
