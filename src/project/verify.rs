//! `cpbuild verify`'s library half: every figure CSV the requested targets' closure built,
//! compared with its golden copy (see [`crate::golden`]) under the tolerances of the figure
//! target that computed it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cpbuild_engine::error::{Error, Result};
use cpbuild_engine::plan::ItemState;
use cpbuild_engine::store::Store;

use super::Project;
use crate::golden::{self, Comparison, GOLDEN_DIR, NoGolden};
use crate::kinds::figure::{FIGURES_DIR, Tolerance, tolerances};

/// One figure CSV checked against its golden copy.
#[derive(Debug)]
pub struct FigureCheck {
    /// The figure target that built it.
    pub target: String,
    /// The CSV's file name.
    pub file: String,
    /// The golden copy, relative to the project (`golden/fig4.csv.snap`).
    pub golden: String,
    /// What the comparison found (a missing golden copy is a failure).
    pub comparison: Comparison,
}

/// A figure CSV to check: which target built it, where it is, and the target's tolerances.
struct Checked {
    target: String,
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

impl Project {
    /// Compares every figure CSV of the figure targets in the roots' closure (each file once,
    /// from the first target that computed it; the targets gathering panels, `fig1` and
    /// `fig2`, only copy them) with its golden copy, in file name order. Every target of the
    /// closure must be built.
    pub fn check_figures(&self, store: &Store, roots: &[usize]) -> Result<Vec<FigureCheck>> {
        let closure = self.graph.closure(roots);
        let plan = self.planner(store, false).plan(&closure)?;
        let mut checked: BTreeMap<String, Checked> = BTreeMap::new();
        for &id in &closure {
            let spec = &self.graph.target(id).spec;
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
            let tolerances =
                tolerances(&spec.params).map_err(|error| Error::usage(error.message))?;
            for (file, path) in figure_csvs(&directory.join("files"), &spec.name) {
                checked.entry(file).or_insert(Checked {
                    target: spec.name.clone(),
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
        let golden_dir = self.root.join(GOLDEN_DIR);
        let mut checks = Vec::new();
        for (file, checked) in checked {
            let relative = format!("{GOLDEN_DIR}/{file}.snap");
            let built = std::fs::read_to_string(&checked.path)
                .map_err(|error| Error::io(&checked.path, error))?;
            let comparison = match golden::read(&golden_dir, &file) {
                Ok(golden) => golden::compare(&golden, &built, &checked.tolerances),
                Err(NoGolden::NotSnapshot) => Comparison {
                    failures: vec![format!("`{relative}` is not an insta snapshot")],
                    ..Comparison::default()
                },
                Err(NoGolden::Missing) => Comparison {
                    failures: vec![format!(
                        "no golden copy `{relative}`; `cargo test --test paper` writes it (accept with `cargo insta accept`)"
                    )],
                    ..Comparison::default()
                },
            };
            checks.push(FigureCheck {
                target: checked.target,
                file,
                golden: relative,
                comparison,
            });
        }
        Ok(checks)
    }
}
