//! Golden comparison: a figure CSV against its golden copy in `golden/`, as `cpbuild verify`
//! checks it and `cpbuild report --html` shows it.
//!
//! The golden copies are the insta snapshots `cargo test` checks (`golden/<file>.snap`: a
//! metadata header between `---` lines, then the CSV). Cells are compared column by column:
//! text exactly, numbers within the column's tolerance from the figure target's
//! `tolerances` param (`{ column = { abs = …, rel = … } }`; exact when absent). A cell passes
//! when `|built − golden| ≤ abs` or `|built − golden| ≤ rel × |golden|`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::kinds::figure::Tolerance;

/// The directory of golden snapshots, relative to the project root.
pub const GOLDEN_DIR: &str = "golden";

/// At most this many failing cells are shown per file (printed by `cpbuild verify`, kept by
/// the HTML report).
pub const SHOWN_FAILURES: usize = 20;

/// The CSV inside an insta snapshot file: everything after the second `---` line.
pub fn snapshot_contents(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + "\n---\n".len()..])
}

/// Why a figure CSV has no golden copy to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoGolden {
    /// `golden/<file>.snap` cannot be read.
    Missing,
    /// It exists but is not an insta snapshot.
    NotSnapshot,
}

/// The golden CSV of figure file `file` in `golden_dir` (the contents of `<file>.snap`).
pub fn read(golden_dir: &Path, file: &str) -> Result<String, NoGolden> {
    let text = std::fs::read_to_string(golden_dir.join(format!("{file}.snap")))
        .map_err(|_| NoGolden::Missing)?;
    snapshot_contents(&text)
        .map(str::to_string)
        .ok_or(NoGolden::NotSnapshot)
}

/// One CSV compared with its golden copy.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Largest |built − golden| over numeric cells.
    pub max_abs: f64,
    /// Largest |built − golden| / |golden| over numeric cells (golden ≠ 0).
    pub max_rel: f64,
    /// Rows compared.
    pub rows: usize,
    /// Problems: a line each (structure, or a failing cell).
    pub failures: Vec<String>,
}

fn split(text: &str) -> Vec<Vec<&str>> {
    text.trim_end_matches('\n')
        .lines()
        .map(|line| line.split(',').collect())
        .collect()
}

/// Compares `built` with `golden` (both CSV text) under per-column `tolerances`.
pub fn compare(golden: &str, built: &str, tolerances: &BTreeMap<String, Tolerance>) -> Comparison {
    let mut comparison = Comparison::default();
    let golden = split(golden);
    let built = split(built);
    let (Some(golden_header), Some(built_header)) = (golden.first(), built.first()) else {
        comparison.failures.push("empty CSV".into());
        return comparison;
    };
    if golden_header != built_header {
        comparison.failures.push(format!(
            "columns differ: golden `{}`, built `{}`",
            golden_header.join(","),
            built_header.join(",")
        ));
        return comparison;
    }
    if golden.len() != built.len() {
        comparison.failures.push(format!(
            "{} rows built, {} in the golden copy",
            built.len() - 1,
            golden.len() - 1
        ));
    }
    comparison.rows = built.len().min(golden.len()) - 1;
    for (row, (want, got)) in golden.iter().zip(&built).enumerate().skip(1) {
        for (column, name) in golden_header.iter().enumerate() {
            let want = want.get(column).copied().unwrap_or("");
            let got = got.get(column).copied().unwrap_or("");
            if want == got {
                continue;
            }
            let tolerance = tolerances.get(*name).copied().unwrap_or_default();
            let failure = match (want.parse::<f64>(), got.parse::<f64>()) {
                (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() => {
                    let abs = (b - a).abs();
                    let rel = if a == 0.0 {
                        f64::INFINITY
                    } else {
                        abs / a.abs()
                    };
                    comparison.max_abs = comparison.max_abs.max(abs);
                    if a != 0.0 {
                        comparison.max_rel = comparison.max_rel.max(rel);
                    }
                    let passes = abs <= tolerance.abs || rel <= tolerance.rel;
                    (!passes).then(|| {
                        format!(
                            "row {row} `{name}`: golden {want}, built {got} (abs error {abs:e}, rel error {rel:e}; tolerance abs {:e}, rel {:e})",
                            tolerance.abs, tolerance.rel
                        )
                    })
                }
                (Ok(a), Ok(b)) if a.is_nan() && b.is_nan() => None,
                _ => Some(format!(
                    "row {row} `{name}`: golden `{want}`, built `{got}`"
                )),
            };
            comparison.failures.extend(failure);
        }
    }
    comparison
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_contents_skips_the_header() {
        let text = "---\nsource: tests/paper/main.rs\nexpression: csv\n---\na,b\n1,2\n";
        assert_eq!(snapshot_contents(text), Some("a,b\n1,2\n"));
        assert_eq!(snapshot_contents("a,b\n"), None);
    }

    #[test]
    fn numbers_compare_within_the_column_tolerance() {
        let golden = "epoch,delta_loss,sign\n1,0.5,positive\n2,-0.25,negative\n";
        let built = "epoch,delta_loss,sign\n1,0.5000001,positive\n2,-0.25,negative\n";
        let exact = compare(golden, built, &BTreeMap::new());
        assert_eq!(exact.failures.len(), 1, "{:?}", exact.failures);
        assert!(exact.failures[0].contains("row 1 `delta_loss`"));
        assert!((exact.max_abs - 1e-7).abs() < 1e-12);
        let loose = BTreeMap::from([(
            "delta_loss".to_string(),
            Tolerance {
                abs: 0.0,
                rel: 1e-6,
            },
        )]);
        assert!(compare(golden, built, &loose).failures.is_empty());
        let text = compare(golden, &built.replace("negative", "positive"), &loose);
        assert_eq!(text.failures.len(), 1, "{:?}", text.failures);
        let short = compare(golden, "epoch,delta_loss,sign\n1,0.5,positive\n", &loose);
        assert!(short.failures[0].contains("1 rows built, 2 in the golden copy"));
    }
}
