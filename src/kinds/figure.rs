//! The `figure` kind: one of the paper's figures (`docs/protocol.md`, "Figures"), computed from
//! training runs with [`crate::figures`] and written as CSV, PNG and SVG.
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

use crate::figures::compute::{self, Fig4Table, Model, Window};
use crate::figures::runs::{self, LoadedRuns, RunsDirectory, RunsRequest};
use crate::figures::{Curve, ImageFormat, Perturbation, PlotError, Table, paper, plot};

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
    epochs: Option<Vec<u32>>,
    starts: Option<Vec<u32>>,
    lengths: Option<Vec<u32>>,
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
            epochs,
            starts,
            lengths,
            runs_dir,
        })
    }
}

fn failed(message: impl Into<String>) -> ActionError {
    ActionError::failed(message)
}

/// A training run given as a dependency.
struct DepRun {
    /// The dependency's target name.
    target: String,
    /// Its `results.csv`.
    results: PathBuf,
    /// (type, start, length) of its perturbation; `None` for the baseline.
    window: Option<(Perturbation, u32, u32)>,
    /// The run ended at its epoch limit (`stop_reason` in its manifest's `info`).
    epoch_limit: bool,
}

/// Classifies a dependency by its params.
fn dep_run(target: &str, dep: &DepOutput) -> Result<DepRun, ActionError> {
    let results = dep.files.join("results.csv");
    if !results.is_file() {
        return Err(failed(format!(
            "dependency `{target}` (kind `{}`) has no `results.csv`; a figure's dependencies must be training runs",
            dep.kind
        )));
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
                    return Err(failed(format!(
                        "dependency `{target}` has a `perturbation` param the figure cannot read: {table}"
                    )));
                }
            }
        }
    };
    let epoch_limit = dep
        .info
        .get("stop_reason")
        .and_then(Json::as_str)
        .is_some_and(|reason| reason == "epoch_limit");
    Ok(DepRun {
        target: target.to_string(),
        results,
        window,
        epoch_limit,
    })
}

/// The runs of a figure, split into the baseline and the perturbed runs.
struct DepRuns {
    baseline: DepRun,
    perturbed: Vec<DepRun>,
}

fn dep_runs(ctx: &ActionContext<'_>) -> Result<DepRuns, ActionError> {
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
        return Err(failed(format!(
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
        )));
    }
    Ok(DepRuns {
        baseline: baselines.remove(0),
        perturbed,
    })
}

fn text<E: std::fmt::Display>(error: E) -> ActionError {
    failed(error.to_string())
}

fn clip_curve(run: &DepRun) -> Result<Curve, ActionError> {
    let mut curve = runs::read_clip_run(&run.results).map_err(text)?.curve();
    curve.name = run.target.clone();
    Ok(curve)
}

fn vit_curve(run: &DepRun) -> Result<Curve, ActionError> {
    let mut curve = runs::read_vit_run(&run.results).map_err(text)?.curve();
    curve.name = run.target.clone();
    Ok(curve)
}

/// One output of a figure: a file stem and its table and drawings.
struct Output {
    stem: &'static str,
    table: Table,
    png: Vec<u8>,
    svg: Vec<u8>,
}

fn drawn(
    stem: &'static str,
    table: Table,
    draw: impl Fn(ImageFormat) -> Result<Vec<u8>, PlotError>,
) -> Result<Output, ActionError> {
    Ok(Output {
        stem,
        table,
        png: draw(ImageFormat::Png).map_err(text)?,
        svg: draw(ImageFormat::Svg).map_err(text)?,
    })
}

/// fig4 over window runs (window, curve, cut by the epoch limit); each run that its epoch
/// limit cut before it recovered is reported through `progress`.
fn fig4_table(
    baseline: &Curve,
    windows: &[(Window, Curve, bool)],
    progress: &dyn cpbuild_engine::action::Progress,
) -> Result<Fig4Table, ActionError> {
    let table = compute::fig4(
        baseline,
        windows
            .iter()
            .map(|(window, curve, epoch_limit)| compute::WindowRun {
                window: *window,
                curve,
                epoch_limit: *epoch_limit,
            }),
    )
    .map_err(text)?;
    for (row, (_, curve, _)) in table.rows.iter().zip(windows) {
        if row.epoch_limit {
            progress.message(&format!(
                "window of length {} from epoch {} (`{}`) reached its epoch limit at epoch {} \
                 without recovering: drawn as undecided (`epoch_limit`), not NR; raise the \
                 run's `max_epochs` to decide it",
                row.window.length, row.window.start, curve.name, row.decided_at
            ));
        }
    }
    Ok(table)
}

/// A figure's runs directory: where it is, and as the recipe names it.
struct External {
    /// `runs_dir` as written.
    dir: String,
    directory: RunsDirectory,
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
        }))
    }

    /// Loads `request`, then checks that every file read is a declared input, so the target's
    /// key covers everything it drew.
    fn load(
        &self,
        ctx: &ActionContext<'_>,
        request: &RunsRequest,
    ) -> Result<LoadedRuns, ActionError> {
        let loaded = self.directory.load(request).map_err(text)?;
        let declared: BTreeSet<PathBuf> = ctx.inputs.iter().map(|path| normal(path)).collect();
        let undeclared: Vec<String> = loaded
            .files
            .iter()
            .map(|file| normal(&Path::new(&self.dir).join(file)))
            .filter(|path| !declared.contains(path))
            .map(|path| format!("\n  `{}`", path.display()))
            .collect();
        if !undeclared.is_empty() {
            return Err(failed(format!(
                "`{}` reads {} file{} of `runs_dir` `{}` that {} not among its declared inputs, \
                 so its key would not cover {}:{}\nhelp: add {} to `inputs`: the directory, or \
                 globs matching the CSVs (see \"Drawing the original's results\" in the README)",
                ctx.target,
                undeclared.len(),
                if undeclared.len() == 1 { "" } else { "s" },
                self.dir,
                if undeclared.len() == 1 { "is" } else { "are" },
                if undeclared.len() == 1 { "it" } else { "them" },
                undeclared.concat(),
                if undeclared.len() == 1 { "it" } else { "them" },
            )));
        }
        Ok(loaded)
    }

    /// The CLIP-HBA baseline's curve from a load that requested it.
    fn clip_baseline(loaded: &LoadedRuns) -> Result<Curve, ActionError> {
        loaded
            .clip_baseline
            .as_ref()
            .map(runs::ClipRun::curve)
            .ok_or_else(|| failed("the runs directory gave no baseline"))
    }
}

/// A relative path without `.` components, for comparing a runs file with declared inputs.
fn normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|component| !matches!(component, std::path::Component::CurDir))
        .collect()
}

/// How a figure's outputs are made from its runs (dependencies, or a runs directory).
type MakeOutputs = fn(&Inputs<'_, '_>) -> Result<Vec<Output>, ActionError>;

/// What a figure's outputs are made from: the action, its params, its runs directory (if it
/// reads one instead of dependencies) and which figure it is.
struct Inputs<'a, 'c> {
    ctx: &'a ActionContext<'c>,
    params: &'a Params,
    external: Option<&'a External>,
    figure: &'a Drawer,
}

impl Inputs<'_, '_> {
    /// The figure's one output: `table`, drawn by `draw`, under the figure's name.
    fn drawn(
        &self,
        table: Table,
        draw: impl Fn(ImageFormat) -> Result<Vec<u8>, PlotError>,
    ) -> Result<Vec<Output>, ActionError> {
        Ok(vec![drawn(self.figure.name, table, draw)?])
    }
}

/// A figure this kind draws by itself (not a target gathering panels): its name (also its
/// outputs' file stem), the model whose runs it reads, and how it is made.
struct Drawer {
    name: &'static str,
    model: Model,
    outputs: MakeOutputs,
}

/// Every figure drawn by itself; `fig1` and `fig2` gather their panels instead.
const DRAWN: [Drawer; 6] = [
    Drawer {
        name: "fig1a",
        model: Model::ClipHba,
        outputs: fig1_outputs,
    },
    Drawer {
        name: "fig1b",
        model: Model::Vit,
        outputs: fig1_outputs,
    },
    Drawer {
        name: "fig2a",
        model: Model::ClipHba,
        outputs: fig2_outputs,
    },
    Drawer {
        name: "fig2b",
        model: Model::Vit,
        outputs: fig2_outputs,
    },
    Drawer {
        name: "fig3",
        model: Model::ClipHba,
        outputs: fig3_outputs,
    },
    Drawer {
        name: "fig4",
        model: Model::ClipHba,
        outputs: fig4_outputs,
    },
];

impl Figure {
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
        (figure.outputs)(&Inputs {
            ctx,
            params,
            external: external.as_ref(),
            figure,
        })
    }
}

/// fig1a, fig1b: the baseline's alignment against its loss.
fn fig1_outputs(input: &Inputs<'_, '_>) -> Result<Vec<Output>, ActionError> {
    let model = input.figure.model;
    let curve = match (input.external, model) {
        (Some(dir), Model::ClipHba) => {
            External::clip_baseline(&dir.load(input.ctx, &RunsRequest::fig1a())?)?
        }
        (Some(dir), Model::Vit) => dir
            .load(input.ctx, &RunsRequest::fig1b())?
            .vit_baseline
            .map(|run| run.curve())
            .ok_or_else(|| failed("the runs directory gave no baseline"))?,
        (None, Model::ClipHba) => clip_curve(&dep_runs(input.ctx)?.baseline)?,
        (None, Model::Vit) => vit_curve(&dep_runs(input.ctx)?.baseline)?,
    };
    let table = compute::fig1(model, &curve).map_err(text)?;
    input.drawn(table.to_table(), |format| plot::fig1(&table, format))
}

/// fig2a, fig2b: every single-epoch perturbation against the baseline.
fn fig2_outputs(input: &Inputs<'_, '_>) -> Result<Vec<Output>, ActionError> {
    let model = input.figure.model;
    let epochs = || {
        input
            .params
            .epochs
            .clone()
            .unwrap_or_else(|| paper::FIG2_EPOCHS.to_vec())
    };
    let table = if let (Some(dir), Model::Vit) = (input.external, model) {
        // The original project's ViT effects table holds the deltas themselves.
        let loaded = dir.load(input.ctx, &RunsRequest::fig2b(&epochs()))?;
        compute::Fig2Table::from_rows(model, loaded.vit_effects.unwrap_or_default())
    } else {
        let (baseline, curves) = match input.external {
            Some(dir) => {
                let request = RunsRequest::fig2a(&Perturbation::ALL, &epochs());
                let loaded = dir.load(input.ctx, &request)?;
                let baseline = External::clip_baseline(&loaded)?;
                let curves: Vec<_> = loaded
                    .single_epoch
                    .iter()
                    .map(|(&(kind, epoch), run)| (kind, epoch, run.curve()))
                    .collect();
                (baseline, curves)
            }
            None => {
                let runs = dep_runs(input.ctx)?;
                let read = |run: &DepRun| match model {
                    Model::ClipHba => clip_curve(run),
                    Model::Vit => vit_curve(run),
                };
                let baseline = read(&runs.baseline)?;
                let mut curves = Vec::new();
                for run in &runs.perturbed {
                    let Some((kind, start, 1)) = run.window else {
                        continue;
                    };
                    if input
                        .params
                        .epochs
                        .as_ref()
                        .is_some_and(|e| !e.contains(&start))
                    {
                        continue;
                    }
                    curves.push((kind, start, read(run)?));
                }
                (baseline, curves)
            }
        };
        compute::fig2(
            model,
            &baseline,
            curves
                .iter()
                .map(|(kind, epoch, curve)| (*kind, *epoch, curve)),
        )
        .map_err(text)?
    };
    input.drawn(table.to_table(), |format| plot::fig2(&table, format))
}

/// fig3: the single-epoch target-noise sweep.
fn fig3_outputs(input: &Inputs<'_, '_>) -> Result<Vec<Output>, ActionError> {
    let (baseline, sweep) = match input.external {
        Some(dir) => {
            let epochs = match &input.params.epochs {
                Some(epochs) => epochs.clone(),
                None => {
                    // The paper's sweep: every epoch up to the baseline's minimum.
                    let baseline =
                        External::clip_baseline(&dir.load(input.ctx, &RunsRequest::fig1a())?)?;
                    let cut = baseline.min_loss_point().map_or(0, |point| point.epoch);
                    (1..=cut).collect()
                }
            };
            let loaded = dir.load(input.ctx, &RunsRequest::fig3(&epochs))?;
            let sweep: Vec<(u32, Curve)> = loaded
                .sweep
                .iter()
                .map(|(&epoch, run)| (epoch, run.curve()))
                .collect();
            (External::clip_baseline(&loaded)?, sweep)
        }
        None => {
            let runs = dep_runs(input.ctx)?;
            let mut sweep = Vec::new();
            for run in &runs.perturbed {
                if let Some((Perturbation::RandomTarget, start, 1)) = run.window
                    && input
                        .params
                        .epochs
                        .as_ref()
                        .is_none_or(|e| e.contains(&start))
                {
                    sweep.push((start, clip_curve(run)?));
                }
            }
            (clip_curve(&runs.baseline)?, sweep)
        }
    };
    let table =
        compute::fig3(&baseline, sweep.iter().map(|(k, curve)| (*k, curve))).map_err(text)?;
    input.drawn(table.to_table(), |format| plot::fig3(&table, format))
}

/// fig4 and its heatmap: recovery after target noise in every window.
fn fig4_outputs(input: &Inputs<'_, '_>) -> Result<Vec<Output>, ActionError> {
    let (baseline, windows) = match input.external {
        Some(dir) => {
            let starts = input
                .params
                .starts
                .clone()
                .unwrap_or_else(|| paper::FIG4_STARTS.to_vec());
            let lengths = input
                .params
                .lengths
                .clone()
                .unwrap_or_else(|| paper::FIG4_LENGTHS.to_vec());
            let loaded = dir.load(input.ctx, &RunsRequest::fig4(&starts, &lengths))?;
            // External runs are taken as complete: each ended by early stopping.
            let windows: Vec<(Window, Curve, bool)> = loaded
                .grid
                .iter()
                .map(|(&(start, length), run)| (Window { start, length }, run.curve(), false))
                .collect();
            (External::clip_baseline(&loaded)?, windows)
        }
        None => {
            let runs = dep_runs(input.ctx)?;
            let selected = |values: &Option<Vec<u32>>, value: u32| {
                values.as_ref().is_none_or(|values| values.contains(&value))
            };
            let mut windows = Vec::new();
            for run in &runs.perturbed {
                if let Some((Perturbation::RandomTarget, start, length)) = run.window
                    && selected(&input.params.starts, start)
                    && selected(&input.params.lengths, length)
                {
                    windows.push((Window { start, length }, clip_curve(run)?, run.epoch_limit));
                }
            }
            requested_windows_present(input.ctx.target, input.params, &windows)?;
            (clip_curve(&runs.baseline)?, windows)
        }
    };
    let table = fig4_table(&baseline, &windows, input.ctx.progress)?;
    Ok(vec![
        drawn(input.figure.name, table.to_table(), |format| {
            plot::fig4(&table, format)
        })?,
        drawn("fig4_heatmap", table.heatmap_table(), |format| {
            plot::fig4_heatmap(&table, format)
        })?,
    ])
}

/// With dependencies, every window that `starts` × `lengths` names must have a run (when
/// only one of them is given, the other takes what the dependencies have).
fn requested_windows_present(
    target: &str,
    params: &Params,
    windows: &[(Window, Curve, bool)],
) -> Result<(), ActionError> {
    if params.starts.is_none() && params.lengths.is_none() {
        return Ok(());
    }
    let have: BTreeSet<(u32, u32)> = windows
        .iter()
        .map(|(window, _, _)| (window.start, window.length))
        .collect();
    let from_runs = |pick: fn(&(u32, u32)) -> u32| -> Vec<u32> {
        let set: BTreeSet<u32> = have.iter().map(pick).collect();
        set.into_iter().collect()
    };
    let starts = params
        .starts
        .clone()
        .unwrap_or_else(|| from_runs(|window| window.0));
    let lengths = params
        .lengths
        .clone()
        .unwrap_or_else(|| from_runs(|window| window.1));
    let lacking: Vec<String> = starts
        .iter()
        .flat_map(|&start| lengths.iter().map(move |&length| (start, length)))
        .filter(|window| !have.contains(window))
        .map(|(start, length)| format!("length {length} from epoch {start}"))
        .collect();
    if lacking.is_empty() {
        return Ok(());
    }
    Err(failed(format!(
        "`{target}` draws fig4 windows that no dependency trained: {}\nhelp: add the \
         `random_target` runs to `deps`, or narrow `starts`/`lengths`",
        lacking.join(", ")
    )))
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
        let entry = entry.map_err(text)?;
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
