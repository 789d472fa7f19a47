//! The `figure` kind: one of the paper's figures (`docs/protocol.md`, "Figures"), computed from
//! training runs with [`crate::figures`] and written as CSV, PNG and SVG.
//!
//! # Params
//!
//! | param | type | meaning |
//! |---|---|---|
//! | `figure` | string | `fig1a`, `fig1b`, `fig2a`, `fig2b`, `fig3`, `fig4`; or `fig1`, `fig2`: the panels (figure dependencies) gathered under one target |
//! | `epochs` | integers | fig2: the perturbation epochs k to draw (dependencies at other epochs are ignored; default: every single-epoch run given) |
//! | `runs_dir` | string | take the runs from this directory of result CSVs in the paper's layout ([`crate::figures::runs`]) instead of from dependencies; it must be a declared input |
//! | `tolerances` | table | for `cpbuild verify` only: `{ column = { abs = 1e-9, rel = 1e-6 } }` per CSV column (exact when absent) |
//!
//! # Runs from dependencies
//!
//! Every dependency is a training run (`train-hba` for the CLIP-HBA panels, `train-vit` for
//! the ViT panels) and is classified by its resolved params, read from its manifest: the one
//! without a `perturbation` is the baseline; the others are perturbed runs keyed by
//! (`perturbation.kind`, `start`, `length`). Each run's `results.csv` is read with
//! [`crate::figures::runs`], so a run is read exactly as an external CSV would be.
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cpbuild_engine::action::{Action, ActionContext, ActionError, DepOutput, ParamError};
use cpbuild_engine::store::bundle::MANIFEST;
use cpbuild_engine::store::manifest::Manifest;
use serde_json::Value as Json;

use crate::figures::compute::{self, Fig4Table, Model, Window};
use crate::figures::runs::{self, RunsDirectory, RunsRequest};
use crate::figures::{Curve, ImageFormat, Perturbation, PlotError, Table, paper, plot};

/// The `figure` kind.
pub struct Figure;

/// Where figure outputs go, relative to the project root (and to the bundle's `files/`).
pub const FIGURES_DIR: &str = "artifacts/figures";

const PARAMS: [&str; 4] = ["figure", "epochs", "runs_dir", "tolerances"];

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
    runs_dir: Option<String>,
}

fn epoch_number(field: &str, value: &Json) -> Result<u32, ParamError> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            ParamError::at(
                field,
                format!("`{field}` must hold epochs (integers ≥ 1), not `{value}`"),
            )
        })
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
        let epochs = match params.get("epochs") {
            None => None,
            Some(Json::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| epoch_number("epochs", item))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => {
                return Err(ParamError::at(
                    "epochs",
                    format!("`epochs` must be a list of epochs, not `{other}`"),
                ));
            }
        };
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
        if epochs.is_some() && !figure.starts_with("fig2") {
            return Err(ParamError::at(
                "epochs",
                format!("`epochs` only applies to `fig2a` and `fig2b`, not `{figure}`"),
            ));
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

/// Classifies a dependency by the params its manifest records.
fn dep_run(target: &str, dep: &DepOutput) -> Result<DepRun, ActionError> {
    let bundle = dep.files.parent().unwrap_or(&dep.files);
    let manifest_path = bundle.join(MANIFEST);
    let manifest: Manifest = std::fs::read(&manifest_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            failed(format!(
                "cannot read the manifest of dependency `{target}` (`{}`)",
                manifest_path.display()
            ))
        })?;
    let results = dep.files.join("results.csv");
    if !results.is_file() {
        return Err(failed(format!(
            "dependency `{target}` (kind `{}`) has no `results.csv`; a figure's dependencies must be training runs",
            dep.kind
        )));
    }
    let window = match manifest.fingerprint.params.get("perturbation") {
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
    let epoch_limit = manifest
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

impl Figure {
    fn outputs(
        &self,
        ctx: &ActionContext<'_>,
        params: &Params,
    ) -> Result<Vec<Output>, ActionError> {
        let external = match &params.runs_dir {
            Some(dir) => {
                if !ctx.inputs.iter().any(|declared| {
                    declared.starts_with(dir) || Path::new(dir).starts_with(declared)
                }) {
                    return Err(failed(format!(
                        "`runs_dir` `{dir}` is read by `{}` but is not a declared input; add `{dir}` to `inputs`",
                        ctx.target
                    )));
                }
                Some(RunsDirectory::new(ctx.project_root.join(dir)))
            }
            None => None,
        };
        match params.figure.as_str() {
            "fig1a" | "fig1b" => {
                let model = if params.figure == "fig1a" {
                    Model::ClipHba
                } else {
                    Model::Vit
                };
                let curve = match (&external, model) {
                    (Some(dir), Model::ClipHba) => dir
                        .load(&RunsRequest::fig1a())
                        .map_err(text)?
                        .clip_baseline
                        .map(|run| run.curve()),
                    (Some(dir), Model::Vit) => dir
                        .load(&RunsRequest::fig1b())
                        .map_err(text)?
                        .vit_baseline
                        .map(|run| run.curve()),
                    (None, Model::ClipHba) => Some(clip_curve(&dep_runs(ctx)?.baseline)?),
                    (None, Model::Vit) => Some(vit_curve(&dep_runs(ctx)?.baseline)?),
                }
                .ok_or_else(|| failed("the runs directory gave no baseline"))?;
                let table = compute::fig1(model, &curve).map_err(text)?;
                let stem = if model == Model::ClipHba {
                    "fig1a"
                } else {
                    "fig1b"
                };
                Ok(vec![drawn(stem, table.to_table(), |format| {
                    plot::fig1(&table, format)
                })?])
            }
            "fig2a" | "fig2b" => {
                let model = if params.figure == "fig2a" {
                    Model::ClipHba
                } else {
                    Model::Vit
                };
                let table = match (&external, model) {
                    (Some(dir), Model::ClipHba) => {
                        let epochs = params
                            .epochs
                            .clone()
                            .unwrap_or_else(|| paper::FIG2_EPOCHS.to_vec());
                        let loaded = dir
                            .load(&RunsRequest::fig2a(&Perturbation::ALL, &epochs))
                            .map_err(text)?;
                        let baseline = loaded
                            .clip_baseline
                            .as_ref()
                            .map(runs::ClipRun::curve)
                            .ok_or_else(|| failed("the runs directory gave no baseline"))?;
                        let curves: Vec<_> = loaded
                            .single_epoch
                            .iter()
                            .map(|(&(kind, epoch), run)| (kind, epoch, run.curve()))
                            .collect();
                        compute::fig2(
                            model,
                            &baseline,
                            curves
                                .iter()
                                .map(|(kind, epoch, curve)| (*kind, *epoch, curve)),
                        )
                        .map_err(text)?
                    }
                    (Some(dir), Model::Vit) => {
                        let loaded = dir.load(&RunsRequest::fig2b()).map_err(text)?;
                        let mut rows = loaded.vit_effects.unwrap_or_default();
                        if let Some(epochs) = &params.epochs {
                            rows.retain(|row| epochs.contains(&row.epoch));
                        }
                        compute::Fig2Table::from_rows(model, rows)
                    }
                    (None, _) => {
                        let runs = dep_runs(ctx)?;
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
                            if params.epochs.as_ref().is_some_and(|e| !e.contains(&start)) {
                                continue;
                            }
                            curves.push((kind, start, read(run)?));
                        }
                        compute::fig2(
                            model,
                            &baseline,
                            curves
                                .iter()
                                .map(|(kind, epoch, curve)| (*kind, *epoch, curve)),
                        )
                        .map_err(text)?
                    }
                };
                let stem = if model == Model::ClipHba {
                    "fig2a"
                } else {
                    "fig2b"
                };
                Ok(vec![drawn(stem, table.to_table(), |format| {
                    plot::fig2(&table, format)
                })?])
            }
            "fig3" => {
                let (baseline, sweep) = match &external {
                    Some(dir) => {
                        let epochs = dir.sweep_epochs().map_err(text)?;
                        let loaded = dir.load(&RunsRequest::fig3(&epochs)).map_err(text)?;
                        let baseline = loaded
                            .clip_baseline
                            .as_ref()
                            .map(runs::ClipRun::curve)
                            .ok_or_else(|| failed("the runs directory gave no baseline"))?;
                        let sweep: Vec<(u32, Curve)> = loaded
                            .sweep
                            .iter()
                            .map(|(&epoch, run)| (epoch, run.curve()))
                            .collect();
                        (baseline, sweep)
                    }
                    None => {
                        let runs = dep_runs(ctx)?;
                        let mut sweep = Vec::new();
                        for run in &runs.perturbed {
                            if let Some((Perturbation::RandomTarget, start, 1)) = run.window {
                                sweep.push((start, clip_curve(run)?));
                            }
                        }
                        (clip_curve(&runs.baseline)?, sweep)
                    }
                };
                let table = compute::fig3(&baseline, sweep.iter().map(|(k, curve)| (*k, curve)))
                    .map_err(text)?;
                Ok(vec![drawn("fig3", table.to_table(), |format| {
                    plot::fig3(&table, format)
                })?])
            }
            "fig4" => {
                let (baseline, windows) = match &external {
                    Some(dir) => {
                        let windows = dir.grid_windows().map_err(text)?;
                        let mut request = RunsRequest::fig4(&[], &[]);
                        request.grid = windows.iter().copied().collect();
                        let loaded = dir.load(&request).map_err(text)?;
                        let baseline = loaded
                            .clip_baseline
                            .as_ref()
                            .map(runs::ClipRun::curve)
                            .ok_or_else(|| failed("the runs directory gave no baseline"))?;
                        // External runs are taken as complete: each ended by early stopping.
                        let windows: Vec<(Window, Curve, bool)> = loaded
                            .grid
                            .iter()
                            .map(|(&(start, length), run)| {
                                (Window { start, length }, run.curve(), false)
                            })
                            .collect();
                        (baseline, windows)
                    }
                    None => {
                        let runs = dep_runs(ctx)?;
                        let mut windows = Vec::new();
                        for run in &runs.perturbed {
                            if let Some((Perturbation::RandomTarget, start, length)) = run.window {
                                windows.push((
                                    Window { start, length },
                                    clip_curve(run)?,
                                    run.epoch_limit,
                                ));
                            }
                        }
                        (clip_curve(&runs.baseline)?, windows)
                    }
                };
                let table = fig4_table(&baseline, &windows, ctx.progress)?;
                Ok(vec![
                    drawn("fig4", table.to_table(), |format| {
                        plot::fig4(&table, format)
                    })?,
                    drawn("fig4_heatmap", table.heatmap_table(), |format| {
                        plot::fig4_heatmap(&table, format)
                    })?,
                ])
            }
            other => Err(failed(format!("`{other}` is not drawn by itself"))),
        }
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
