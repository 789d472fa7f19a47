//! `cpbuild verify [TARGET]...`: builds (or reuses) figure targets and compares every figure
//! CSV with its golden copy in `golden/`.
//!
//! The golden copies are the insta snapshots `cargo test` checks (`golden/<file>.snap`: a
//! metadata header between `---` lines, then the CSV). Cells are compared column by column:
//! text exactly, numbers within the column's tolerance from the figure target's
//! `tolerances` param (`{ column = { abs = …, rel = … } }`; exact when absent). A cell passes
//! when `|built − golden| ≤ abs` or `|built − golden| ≤ rel × |golden|`. Every figure CSV gets a
//! line with its maximum absolute and relative error; failing cells are listed; any failure
//! gives exit code 1.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_engine::plan::ItemState;

use super::GlobalOptions;
use super::commands::{Project, build};
use crate::kinds::figure::{FIGURES_DIR, Tolerance, tolerances};

/// The directory of golden snapshots, relative to the project root.
pub const GOLDEN_DIR: &str = "golden";

/// At most this many failing cells are printed per file.
const SHOWN_CELLS: usize = 20;

/// The CSV inside an insta snapshot file: everything after the second `---` line.
pub fn snapshot_contents(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + "\n---\n".len()..])
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

/// A figure CSV to check: which target built it, where it is, and the target's tolerances.
struct Checked {
    target: String,
    file: String,
    path: PathBuf,
    tolerances: BTreeMap<String, Tolerance>,
}

fn figure_csvs(files: &Path, target: &str) -> Vec<(String, PathBuf)> {
    let dir = files.join(FIGURES_DIR).join(target);
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            name.ends_with(".csv").then(|| (name, entry.path()))
        })
        .collect();
    found.sort();
    found
}

/// Runs `cpbuild verify`.
pub fn verify(global: &GlobalOptions, targets: &[String]) -> Result<i32> {
    let code = build(global, targets, false)?;
    if code != exit_code::SUCCESS {
        return Ok(code);
    }
    let project = Project::load(global)?;
    let roots = project.graph.resolve_all(targets)?;
    let store = project.store()?;
    let closure = project.graph.closure(&roots);
    let plan = project.planner(&store, false).plan(&closure)?;
    let mut checked: BTreeMap<String, Checked> = BTreeMap::new();
    for &id in &closure {
        let spec = &project.graph.target(id).spec;
        let gathers = matches!(
            spec.params.get("figure").and_then(|f| f.as_str()),
            Some("fig1" | "fig2")
        );
        if spec.kind != "figure" || gathers {
            continue;
        }
        let item = plan.item(id).expect("planned");
        if let ItemState::Dirty(_) = &item.state {
            return Err(Error::usage(format!(
                "target `{}` is not built after building it",
                spec.name
            )));
        }
        let (directory, _) = store.unpacked(&item.key)?;
        let tolerances = tolerances(&spec.params).map_err(|error| Error::usage(error.message))?;
        for (file, path) in figure_csvs(&directory.join("files"), &spec.name) {
            checked.entry(file.clone()).or_insert(Checked {
                target: spec.name.clone(),
                file,
                path,
                tolerances: tolerances.clone(),
            });
        }
    }
    if checked.is_empty() {
        return Err(Error::usage(
            "no figure targets among the requested targets and their dependencies; name `fig1` … `fig4`",
        ));
    }
    let mut out = String::new();
    let mut failed = 0;
    for checked in checked.values() {
        let golden_path = project
            .root
            .join(GOLDEN_DIR)
            .join(format!("{}.snap", checked.file));
        let relative = format!("{GOLDEN_DIR}/{}.snap", checked.file);
        let built = std::fs::read_to_string(&checked.path)
            .map_err(|error| Error::io(&checked.path, error))?;
        let comparison = match std::fs::read_to_string(&golden_path) {
            Ok(text) => match snapshot_contents(&text) {
                Some(golden) => compare(golden, &built, &checked.tolerances),
                None => Comparison {
                    failures: vec![format!("`{relative}` is not an insta snapshot")],
                    ..Comparison::default()
                },
            },
            Err(_) => Comparison {
                failures: vec![format!(
                    "no golden copy `{relative}`; `cargo test --test paper` writes it (accept with `cargo insta accept`)"
                )],
                ..Comparison::default()
            },
        };
        let status = if comparison.failures.is_empty() {
            "ok"
        } else {
            failed += 1;
            "FAILED"
        };
        let _ = writeln!(
            out,
            "verify {} `{}` against `{relative}`: {status} ({} rows, max abs error {:e}, max rel error {:e})",
            checked.target, checked.file, comparison.rows, comparison.max_abs, comparison.max_rel
        );
        for failure in comparison.failures.iter().take(SHOWN_CELLS) {
            let _ = writeln!(out, "  {failure}");
        }
        if comparison.failures.len() > SHOWN_CELLS {
            let _ = writeln!(
                out,
                "  … and {} more",
                comparison.failures.len() - SHOWN_CELLS
            );
        }
    }
    print!("{out}");
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} figure tables differ from `{GOLDEN_DIR}/`",
            checked.len()
        );
        return Ok(exit_code::BUILD_FAILED);
    }
    Ok(exit_code::SUCCESS)
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
