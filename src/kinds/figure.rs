//! The `figure` kind: one of the paper's figures (`docs/protocol.md`, "Figures"), computed from
//! training runs with [`crate::figures`] and written as CSV, PNG and SVG.
//!
//! The kind reads its params, hands the figure's module (found in [`crate::figures::DRAWN`])
//! its runs — its dependencies, or its runs directory checked against its declared inputs —
//! and writes what the module returns; `fig1` and `fig2` gather their panels' files.
//!
//! # Params
//!
//! | param | type | meaning |
//! |---|---|---|
//! | `figure` | string | `fig1a`, `fig1b`, `fig2a`, `fig2b`, `fig3`, `fig4`; or `fig1`, `fig2`: the panels (figure dependencies) gathered under one target |
//! | `epochs` | integers | fig2a, fig2b, fig3: the perturbation epochs k to draw (dependencies at other epochs are ignored; default: every single-epoch run given, or from a runs directory fig2's seven epochs and, for fig3, every epoch up to the baseline's minimum-test-loss epoch) |
//! | `starts`, `lengths` | integers | fig4: the windows to draw, every start with every length (dependencies outside them are ignored; default: every window run given, or from a runs directory the paper's 11 starts × 7 lengths) |
//! | `runs_dir` | string | take the runs from this directory of result CSVs, in cpbuild's runs layout or the original project's `Data/` folder ([`crate::figures::runs`]), instead of from dependencies; every file read must be a declared input |
//! | `tolerances` | table | for `cpbuild verify` only: `{ column = { abs = 1e-9, rel = 1e-6 } }` per CSV column (exact when absent) |
//!
//! # Runs from dependencies
//!
//! Every dependency is a training run (`train-hba` for the CLIP-HBA panels, `train-vit` for
//! the ViT panels) and is classified by its resolved params (the engine hands them over): the one
//! without a `perturbation` is the baseline; the others are perturbed runs keyed by
//! (`perturbation.kind`, `start`, `length`). Each run's `results.csv` is read with
//! [`crate::figures::runs`], so a run is read exactly as an external CSV would be.
//!
//! From a runs directory, every requested run must be there: a requested epoch or window with
//! no run is an error (never a missing bar or an "NR"), reported together with every other
//! problem of the directory. With dependencies, `epochs`, `starts` and `lengths` select among
//! them; a requested window without a dependency is an error too.
//!
//! fig4 reads every window run as it ended: early stopping of a perturbed run (a fresh state
//! from its first perturbed epoch that does not count the window's epochs; docs/protocol.md,
//! "Early stopping in a perturbed run") or its epoch limit. A window is "NR" when the run
//! stopped without any epoch after its window coming back within 1.01 × the baseline; a run
//! cut by its epoch limit (`max_epochs`, the safety cap; the manifest's `stop_reason` says
//! so) without recovering is undecided: its row says `epoch_limit`, it is drawn in grey, and
//! the build reports it.
//!
//! # Bundle
//!
//! `artifacts/figures/<target>/<figure>.csv|png|svg` (fig4 adds `fig4_heatmap.*`), the same
//! paths in the project: they are materialised into the working tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cpbuild_engine::action::{Action, ActionContext, ActionError, DepOutput, ParamError};
use serde_json::Value as Json;

use crate::figures::runs::{LoadedRuns, RunsDirectory, RunsRequest};
use crate::figures::{
    DRAWN, DependencyRun, DependencyRuns, Directory, Output, Perturbation, Selection, Source,
};

/// The `figure` kind.
pub struct Figure;

/// Where figure outputs go, relative to the project root (and to the bundle's `files/`).
pub const FIGURES_DIR: &str = "artifacts/figures";

const PARAMS: [&str; 6] = [
    "figure",
    "epochs",
    "starts",
    "lengths",
    "runs_dir",
    "tolerances",
];

/// The figures this kind draws.
pub const FIGURES: [&str; 8] = [
    "fig1", "fig1a", "fig1b", "fig2", "fig2a", "fig2b", "fig3", "fig4",
];

/// One column's tolerance for `cpbuild verify`: a cell passes when
/// `|new − golden| ≤ abs` or `|new − golden| ≤ rel × |golden|`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tolerance {
    /// Absolute tolerance.
    pub abs: f64,
    /// Relative tolerance.
    pub rel: f64,
}

/// Reads `params.tolerances` (checked by [`Figure::check_params`]).
pub fn tolerances(params: &Json) -> Result<BTreeMap<String, Tolerance>, ParamError> {
    let mut out = BTreeMap::new();
    let Some(table) = params.get("tolerances") else {
        return Ok(out);
    };
    let invalid = |message: String| ParamError::at("tolerances", message);
    let table = table.as_object().ok_or_else(|| {
        invalid("`tolerances` must be a table of `column = { abs = …, rel = … }`".into())
    })?;
    for (column, value) in table {
        let entry = value
            .as_object()
            .ok_or_else(|| invalid(format!("`tolerances.{column}` must be a table")))?;
        let mut tolerance = Tolerance::default();
        for (name, number) in entry {
            let number = number
                .as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| {
                    invalid(format!(
                        "`tolerances.{column}.{name}` must be a non-negative number"
                    ))
                })?;
            match name.as_str() {
                "abs" => tolerance.abs = number,
                "rel" => tolerance.rel = number,
                other => {
                    return Err(invalid(format!(
                        "unknown field `tolerances.{column}.{other}`; use `abs` or `rel`"
                    )));
                }
            }
        }
        out.insert(column.clone(), tolerance);
    }
    Ok(out)
}

/// The parsed params.
#[derive(Debug, Clone)]
struct Params {
    figure: String,
    selection: Selection,
    runs_dir: Option<String>,
}

fn epoch_number(field: &str, value: &Json) -> Result<u32, ParamError> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            let what = if field == "lengths" {
                "window lengths"
            } else {
                "epochs"
            };
            ParamError::at(
                field,
                format!("`{field}` must hold {what} (integers ≥ 1), not `{value}`"),
            )
        })
}

/// A non-empty list of integers ≥ 1 (`epochs`, `starts`, `lengths`), if given.
fn number_list(params: &Json, field: &str) -> Result<Option<Vec<u32>>, ParamError> {
    match params.get(field) {
        None => Ok(None),
        Some(Json::Array(items)) if items.is_empty() => Err(ParamError::at(
            field,
            format!("`{field}` is empty; leave it out for the default, or list at least one"),
        )),
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| epoch_number(field, item))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(ParamError::at(
            field,
            format!("`{field}` must be a list of integers, not `{other}`"),
        )),
    }
}

impl Params {
    fn parse(params: &Json) -> Result<Params, ParamError> {
        let object = params
            .as_object()
            .ok_or_else(|| ParamError::whole("`params` must be a table"))?;
        if object.contains_key("horizon") {
            return Err(ParamError::at(
                "horizon",
                "`horizon` is retired: fig4's window runs train until early stopping ends them \
                 (or their `max_epochs`, the safety cap), and NR is decided where each run \
                 stopped; remove `horizon` (and the runs' `stop_after_epoch`)",
            ));
        }
        if let Some(unknown) = object.keys().find(|key| !PARAMS.contains(&key.as_str())) {
            return Err(ParamError::at(
                unknown,
                format!(
                    "unknown param `{unknown}`; `figure` takes {}",
                    PARAMS.map(|p| format!("`{p}`")).join(", ")
                ),
            ));
        }
        let figure = match params.get("figure") {
            Some(Json::String(figure)) if FIGURES.contains(&figure.as_str()) => figure.clone(),
            Some(other) => {
                return Err(ParamError::at(
                    "figure",
                    format!(
                        "unknown figure `{}`; use one of {}",
                        other.as_str().map_or(other.to_string(), str::to_string),
                        FIGURES.map(|f| format!("`{f}`")).join(", ")
                    ),
                ));
            }
            None => {
                return Err(ParamError::at(
                    "figure",
                    "`figure` is missing; e.g. `figure = \"fig4\"`",
                ));
            }
        };
        let epochs = number_list(params, "epochs")?;
        let starts = number_list(params, "starts")?;
        let lengths = number_list(params, "lengths")?;
        let runs_dir = match params.get("runs_dir") {
            None => None,
            Some(Json::String(dir)) => Some(dir.clone()),
            Some(other) => {
                return Err(ParamError::at(
                    "runs_dir",
                    format!("`runs_dir` must be a directory path, not `{other}`"),
                ));
            }
        };
        if epochs.is_some() && !(figure.starts_with("fig2") || figure == "fig3") {
            return Err(ParamError::at(
                "epochs",
                format!("`epochs` only applies to `fig2a`, `fig2b` and `fig3`, not `{figure}`"),
            ));
        }
        for (field, given) in [("starts", &starts), ("lengths", &lengths)] {
            if given.is_some() && figure != "fig4" {
                return Err(ParamError::at(
                    field,
                    format!("`{field}` only applies to `fig4`, not `{figure}`"),
                ));
            }
        }
        if runs_dir.is_some() && matches!(figure.as_str(), "fig1" | "fig2") {
            return Err(ParamError::at(
                "runs_dir",
                format!("`{figure}` gathers its panels; give `runs_dir` to the panels instead"),
            ));
        }
        tolerances(params)?;
        Ok(Params {
            figure,
            selection: Selection {
                epochs,
                starts,
                lengths,
            },
            runs_dir,
        })
    }
}

fn failed(message: impl Into<String>) -> ActionError {
    ActionError::failed(message)
}

/// Classifies a dependency by its params.
fn dep_run(target: &str, dep: &DepOutput) -> Result<DependencyRun, String> {
    let results = dep.files.join("results.csv");
    if !results.is_file() {
        return Err(format!(
            "dependency `{target}` (kind `{}`) has no `results.csv`; a figure's dependencies must be training runs",
            dep.kind
        ));
    }
    let window = match dep.params.get("perturbation") {
        None | Some(Json::Null) => None,
        Some(table) => {
            let kind = table
                .get("kind")
                .and_then(Json::as_str)
                .and_then(Perturbation::parse);
            let start = table
                .get("start")
                .and_then(Json::as_u64)
                .and_then(|n| u32::try_from(n).ok());
            let length = table
                .get("length")
                .map_or(Some(1), Json::as_u64)
                .and_then(|n| u32::try_from(n).ok());
            match (kind, start, length) {
                (Some(kind), Some(start), Some(length)) => Some((kind, start, length)),
                _ => {
                    return Err(format!(
                        "dependency `{target}` has a `perturbation` param the figure cannot read: {table}"
                    ));
                }
            }
        }
    };
    let epoch_limit = dep
        .info
        .get("stop_reason")
        .and_then(Json::as_str)
        .is_some_and(|reason| reason == "epoch_limit");
    Ok(DependencyRun {
        target: target.to_string(),
        results,
        window,
        epoch_limit,
    })
}

/// The runs of a figure, split into the baseline and the perturbed runs.
fn dep_runs(ctx: &ActionContext<'_>) -> Result<DependencyRuns, String> {
    let mut baselines = Vec::new();
    let mut perturbed = Vec::new();
    for (target, dep) in ctx.deps {
        let run = dep_run(target, dep)?;
        if run.window.is_some() {
            perturbed.push(run);
        } else {
            baselines.push(run);
        }
    }
    if baselines.len() != 1 {
        return Err(format!(
            "`{}` needs exactly one unperturbed run (the baseline) among its dependencies, found {}",
            ctx.target,
            if baselines.is_empty() {
                "none".to_string()
            } else {
                baselines
                    .iter()
                    .map(|run| format!("`{}`", run.target))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    Ok(DependencyRuns {
        baseline: baselines.remove(0),
        perturbed,
    })
}

/// A figure's runs directory: where it is, and as the recipe names it.
struct External {
    /// `runs_dir` as written.
    dir: String,
    directory: RunsDirectory,
    /// The target reading it.
    target: String,
    /// The target's declared inputs, without `.` components.
    declared: BTreeSet<PathBuf>,
}

impl External {
    /// The runs directory of `params`, if any; it must lie under a declared input.
    fn of(ctx: &ActionContext<'_>, params: &Params) -> Result<Option<External>, ActionError> {
        let Some(dir) = &params.runs_dir else {
            return Ok(None);
        };
        let under = normal(Path::new(dir));
        if !ctx
            .inputs
            .iter()
            .any(|declared| normal(declared).starts_with(&under))
        {
            return Err(failed(format!(
                "`runs_dir` `{dir}` is read by `{}` but is not a declared input; add `{dir}` \
                 to `inputs` (or globs of the CSVs the figure reads)",
                ctx.target
            )));
        }
        Ok(Some(External {
            dir: dir.clone(),
            directory: RunsDirectory::new(ctx.project_root.join(dir)).shown_as(dir),
            target: ctx.target.to_string(),
            declared: ctx.inputs.iter().map(|path| normal(path)).collect(),
        }))
    }
}

impl Directory for External {
    /// Loads `request`, then checks that every file read is a declared input, so the target's
    /// key covers everything it drew.
    fn load(&self, request: &RunsRequest) -> Result<LoadedRuns, String> {
        let loaded = self
            .directory
            .load(request)
            .map_err(|error| error.to_string())?;
        let undeclared: Vec<String> = loaded
            .files
            .iter()
            .map(|file| normal(&Path::new(&self.dir).join(file)))
            .filter(|path| !self.declared.contains(path))
            .map(|path| format!("\n  `{}`", path.display()))
            .collect();
        if !undeclared.is_empty() {
            return Err(format!(
                "`{}` reads {} file{} of `runs_dir` `{}` that {} not among its declared inputs, \
                 so its key would not cover {}:{}\nhelp: add {} to `inputs`: the directory, or \
                 globs matching the CSVs (see \"Drawing the original's results\" in the README)",
                self.target,
                undeclared.len(),
                if undeclared.len() == 1 { "" } else { "s" },
                self.dir,
                if undeclared.len() == 1 { "is" } else { "are" },
                if undeclared.len() == 1 { "it" } else { "them" },
                undeclared.concat(),
                if undeclared.len() == 1 { "it" } else { "them" },
            ));
        }
        Ok(loaded)
    }
}

/// A relative path without `.` components, for comparing a runs file with declared inputs.
fn normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|component| !matches!(component, std::path::Component::CurDir))
        .collect()
}

/// A figure's runs as the figure modules ask for them: the action's dependencies, or its
/// runs directory.
struct Runs<'a, 'c> {
    ctx: &'a ActionContext<'c>,
    selection: &'a Selection,
    external: Option<External>,
}

impl Source for Runs<'_, '_> {
    fn target(&self) -> &str {
        self.ctx.target
    }

    fn selection(&self) -> &Selection {
        self.selection
    }

    fn directory(&self) -> Option<&dyn Directory> {
        self.external
            .as_ref()
            .map(|external| external as &dyn Directory)
    }

    fn dependencies(&self) -> Result<DependencyRuns, String> {
        dep_runs(self.ctx)
    }

    fn message(&self, text: &str) {
        self.ctx.progress.message(text);
    }
}

impl Figure {
    /// The outputs of the figure `params` names, drawn by its module from its runs.
    fn outputs(
        &self,
        ctx: &ActionContext<'_>,
        params: &Params,
    ) -> Result<Vec<Output>, ActionError> {
        let external = External::of(ctx, params)?;
        let figure = DRAWN
            .iter()
            .find(|figure| figure.name == params.figure)
            .ok_or_else(|| failed(format!("`{}` is not drawn by itself", params.figure)))?;
        let runs = Runs {
            ctx,
            selection: &params.selection,
            external,
        };
        (figure.outputs)(figure, &runs).map_err(failed)
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ActionError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| failed(format!("cannot create `{}`: {error}", parent.display())))?;
    }
    std::fs::write(path, bytes)
        .map_err(|error| failed(format!("cannot write `{}`: {error}", path.display())))
}

/// The files of a figure dependency (a panel) under its `artifacts/figures/<panel>/`.
fn panel_files(target: &str, dep: &DepOutput) -> Result<Vec<(String, PathBuf)>, ActionError> {
    let dir = dep.files.join(FIGURES_DIR).join(target);
    let listing = std::fs::read_dir(&dir).map_err(|error| {
        failed(format!(
            "dependency `{target}` is not a figure (no `{FIGURES_DIR}/{target}/`): {error}"
        ))
    })?;
    let mut files = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|error| failed(error.to_string()))?;
        if let Some(name) = entry.file_name().to_str() {
            files.push((name.to_string(), entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

impl Action for Figure {
    fn kind(&self) -> &'static str {
        "figure"
    }

    fn version(&self) -> &'static str {
        "2"
    }

    fn description(&self) -> &'static str {
        "draws a paper figure (fig1a … fig4) from training runs or a runs directory: CSV, PNG, SVG"
    }

    fn check_params(&self, params: &Json) -> Result<(), ParamError> {
        Params::parse(params).map(|_| ())
    }

    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let params = Params::parse(ctx.params).map_err(|error| failed(error.message))?;
        let target_dir = format!("{FIGURES_DIR}/{}", ctx.target);
        let mut written = Vec::new();
        if matches!(params.figure.as_str(), "fig1" | "fig2") {
            for (panel, dep) in ctx.deps {
                for (name, path) in panel_files(panel, dep)? {
                    let bytes = std::fs::read(&path).map_err(|error| {
                        failed(format!("cannot read `{}`: {error}", path.display()))
                    })?;
                    written.push((format!("{target_dir}/{name}"), bytes));
                }
            }
            if written.is_empty() {
                return Err(failed(format!(
                    "`{}` gathers `{}` panels but has no figure dependencies; add them to `deps`",
                    ctx.target, params.figure
                )));
            }
        } else {
            for output in self.outputs(ctx, &params)? {
                let stem = output.stem;
                written.push((
                    format!("{target_dir}/{stem}.csv"),
                    output.table.to_csv().into_bytes(),
                ));
                written.push((format!("{target_dir}/{stem}.png"), output.png));
                written.push((format!("{target_dir}/{stem}.svg"), output.svg));
            }
        }
        written.sort();
        for (relative, bytes) in written {
            write(&ctx.out_dir.join(&relative), &bytes)?;
            ctx.progress.message(&format!("wrote {relative}"));
            ctx.worktree_outputs.push(relative);
        }
        Ok(())
    }
}
