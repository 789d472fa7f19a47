//! The per-epoch results tables, with the paper's column names (the analysis code reads them):
//! CLIP-HBA's [`EpochResult`] here, and through [`ResultRow`] every trainer's row, written once
//! as a CSV ([`rows_csv`]) and as the rows of a saved `state.json` ([`StoredRow`]).
//!
//! Numbers are written in Rust's shortest round-trip form, so the CSV is deterministic and
//! parses back to the exact values.

use std::marker::PhantomData;

use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::perturbation::PerturbationKind;

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
    pub perturbation: Option<PerturbationKind>,
}

impl ResultRow for EpochResult {
    const STORED: [&'static str; 4] = [
        "train_loss",
        "test_loss",
        "behavioral_rsa_rho",
        "behavioral_rsa_p_value",
    ];
    const HEADER: &'static str = BASELINE_HEADER;
    const CSV_VALUES: &'static [usize] = &[0, 1, 2, 3];

    fn epoch(&self) -> u32 {
        self.epoch
    }

    fn values(&self) -> [f64; 4] {
        [
            self.train_loss,
            self.test_loss,
            self.behavioral_rsa_rho,
            self.behavioral_rsa_p_value,
        ]
    }

    fn perturbation(&self) -> Option<PerturbationKind> {
        self.perturbation
    }

    fn from_values(epoch: u32, values: [f64; 4], perturbation: Option<PerturbationKind>) -> Self {
        let [
            train_loss,
            test_loss,
            behavioral_rsa_rho,
            behavioral_rsa_p_value,
        ] = values;
        EpochResult {
            epoch,
            train_loss,
            test_loss,
            behavioral_rsa_rho,
            behavioral_rsa_p_value,
            perturbation,
        }
    }
}

/// One epoch's row of a trainer with perturbation windows: its epoch, four measured values and
/// the perturbation active that epoch.
pub trait ResultRow: Clone {
    /// The names of the four values in a saved `state.json`, in [`Self::values`] order.
    const STORED: [&'static str; 4];
    /// The CSV header of a baseline run.
    const HEADER: &'static str;
    /// Which of the four values the CSV writes after the epoch, in order.
    const CSV_VALUES: &'static [usize];

    /// 1-based epoch.
    fn epoch(&self) -> u32;

    /// The four measured values.
    fn values(&self) -> [f64; 4];

    /// Which perturbation was active this epoch (perturbed runs only).
    fn perturbation(&self) -> Option<PerturbationKind>;

    /// The row of `epoch` with `values` and `perturbation`.
    fn from_values(epoch: u32, values: [f64; 4], perturbation: Option<PerturbationKind>) -> Self;
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

/// Exact text of a float for `state.json` (`{:?}` is the shortest round-trip form; NaN and inf
/// included).
pub(crate) fn exact(value: f64) -> String {
    format!("{value:?}")
}

/// Appends `epoch,value,value,…` (no line end) to a CSV.
pub(crate) fn push_row(out: &mut String, epoch: u32, values: impl IntoIterator<Item = f64>) {
    out.push_str(&epoch.to_string());
    for value in values {
        out.push(',');
        out.push_str(&number(value));
    }
}

/// Writes CLIP-HBA's results CSV (`perturbed`: with the four `used_…` columns).
pub fn to_csv(rows: &[EpochResult], perturbed: bool) -> String {
    rows_csv(rows, perturbed)
}

/// Writes a results CSV: `R`'s header and columns (`perturbed`: with the four `used_…`
/// columns).
pub fn rows_csv<R: ResultRow>(rows: &[R], perturbed: bool) -> String {
    use PerturbationKind as Kind;
    let mut out = String::from(R::HEADER);
    if perturbed {
        out.push(',');
        out.push_str(PERTURBED_COLUMNS);
    }
    out.push('\n');
    for row in rows {
        let values = row.values();
        push_row(
            &mut out,
            row.epoch(),
            R::CSV_VALUES.iter().map(|&i| values[i]),
        );
        if perturbed {
            let flag = |kind: Kind| {
                if row.perturbation() == Some(kind) {
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

/// A results row as a saved `state.json` holds it: the values as [`exact`] text, under `R`'s
/// names.
#[derive(Debug)]
pub(crate) struct StoredRow<R> {
    epoch: u32,
    values: [String; 4],
    perturbation: Option<PerturbationKind>,
    row: PhantomData<R>,
}

impl<R: ResultRow> StoredRow<R> {
    /// `row`, stored.
    pub(crate) fn of(row: &R) -> Self {
        StoredRow {
            epoch: row.epoch(),
            values: row.values().map(exact),
            perturbation: row.perturbation(),
            row: PhantomData,
        }
    }

    /// The row back, each value read by `parse`.
    pub(crate) fn to_row<E>(&self, parse: impl Fn(&str) -> Result<f64, E>) -> Result<R, E> {
        let [a, b, c, d] = &self.values;
        let values = [parse(a)?, parse(b)?, parse(c)?, parse(d)?];
        Ok(R::from_values(self.epoch, values, self.perturbation))
    }
}

impl<R: ResultRow> Serialize for StoredRow<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields = serializer.serialize_struct("StoredResult", 6)?;
        fields.serialize_field("epoch", &self.epoch)?;
        for (name, value) in R::STORED.iter().zip(&self.values) {
            fields.serialize_field(name, value)?;
        }
        fields.serialize_field("perturbation", &self.perturbation)?;
        fields.end()
    }
}

impl<'de, R: ResultRow> Deserialize<'de> for StoredRow<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = serde_json::Map::deserialize(deserializer)?;
        let known =
            |name: &str| name == "epoch" || name == "perturbation" || R::STORED.contains(&name);
        if let Some(unknown) = fields.keys().find(|name| !known(name)) {
            return Err(D::Error::custom(format!(
                "unknown field `{unknown}`, expected `epoch`, {}, `perturbation`",
                R::STORED.map(|name| format!("`{name}`")).join(", ")
            )));
        }
        let mut take = |name: &'static str| {
            fields
                .remove(name)
                .ok_or_else(|| D::Error::missing_field(name))
        };
        let epoch = serde_json::from_value(take("epoch")?).map_err(D::Error::custom)?;
        let mut values: [String; 4] = Default::default();
        for (value, name) in values.iter_mut().zip(R::STORED) {
            *value = serde_json::from_value(take(name)?).map_err(D::Error::custom)?;
        }
        // An absent `perturbation` reads as none, as serde reads a missing `Option`.
        let perturbation = match fields.remove("perturbation") {
            None => None,
            Some(value) => serde_json::from_value(value).map_err(D::Error::custom)?,
        };
        Ok(StoredRow {
            epoch,
            values,
            perturbation,
            row: PhantomData,
        })
    }
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
