//! Each figure CSV's golden status, as `cpbuild verify` computes it: the CSV compared cell by
//! cell with `golden/<file>.snap` under the per-column tolerances of the figure target that
//! computed it (a target gathering panels, `fig1` or `fig2`, copies its panels' files, so the
//! panel's tolerances apply).

use std::path::Path;

use cpbuild_engine::archive::ArchiveManifest;
use serde_json::Value as Json;

use crate::golden::{self, Comparison, NoGolden, SHOWN_FAILURES};
use crate::kinds::figure::{FIGURES_DIR, tolerances};

/// One figure CSV against its golden copy.
#[derive(Debug)]
pub struct GoldenStatus {
    /// The CSV's file name.
    pub file: String,
    /// The golden copy, as the reader finds it (`golden/fig4.csv.snap`).
    pub golden: String,
    /// What the comparison found.
    pub outcome: Outcome,
}

/// The result of one comparison.
#[derive(Debug)]
pub enum Outcome {
    /// Every cell within tolerance.
    Passed(Comparison),
    /// Some cells (or the structure) differ: the comparison, its failures cut to
    /// [`SHOWN_FAILURES`], and how many there were.
    Failed(Comparison, usize),
    /// Nothing to compare with: why.
    NoGolden(String),
}

impl GoldenStatus {
    /// `ok`, `FAILED` or `no golden copy`.
    pub fn word(&self) -> &'static str {
        match self.outcome {
            Outcome::Passed(_) => "ok",
            Outcome::Failed(..) => "FAILED",
            Outcome::NoGolden(_) => "no golden copy",
        }
    }
}

/// The figure target below `requested` whose own bundle computed `file` (itself, or a panel).
fn computed_by<'a>(manifest: &'a ArchiveManifest, requested: &'a str, file: &str) -> &'a Json {
    let own = |name: &str| {
        manifest.targets.get(name).is_some_and(|target| {
            target.fingerprint.kind == "figure"
                && target
                    .fingerprint
                    .params
                    .get("figure")
                    .and_then(Json::as_str)
                    .is_some_and(|figure| !matches!(figure, "fig1" | "fig2"))
                && target
                    .files
                    .contains_key(&format!("{FIGURES_DIR}/{name}/{file}"))
        })
    };
    let panel = cpbuild_engine::archive::closure(manifest, requested)
        .into_iter()
        .find(|name| own(name))
        .unwrap_or(requested);
    &manifest.targets[panel].fingerprint.params
}

/// Compares figure CSV `file` of `requested` (its text `built`) with its golden copy in
/// `golden_dir` (named `golden_display` to the reader).
pub fn status(
    manifest: &ArchiveManifest,
    golden_dir: &Path,
    golden_display: &str,
    requested: &str,
    file: &str,
    built: &str,
) -> GoldenStatus {
    let golden = format!("{golden_display}/{file}.snap");
    let outcome = match tolerances(computed_by(manifest, requested, file)) {
        Err(error) => Outcome::NoGolden(format!(
            "the tolerances of `{requested}` cannot be read: {}",
            error.message
        )),
        Ok(tolerances) => match golden::read(golden_dir, file) {
            Err(NoGolden::Missing) => Outcome::NoGolden(format!("`{golden}` does not exist")),
            Err(NoGolden::NotSnapshot) => {
                Outcome::NoGolden(format!("`{golden}` is not an insta snapshot"))
            }
            Ok(expected) => {
                let mut comparison = golden::compare(&expected, built, &tolerances);
                if comparison.failures.is_empty() {
                    Outcome::Passed(comparison)
                } else {
                    let count = comparison.failures.len();
                    comparison.failures.truncate(SHOWN_FAILURES);
                    Outcome::Failed(comparison, count)
                }
            }
        },
    };
    GoldenStatus {
        file: file.to_string(),
        golden,
        outcome,
    }
}
