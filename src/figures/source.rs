//! What a figure is drawn from and what it writes: the `figure` kind hands each figure its runs
//! through [`Source`] (a runs directory, or the training runs the target depends on) and writes
//! the [`Output`]s it returns. Nothing here knows the build engine; every error is the message
//! the kind reports.

use std::path::PathBuf;

use super::compute::Model;
use super::curve::Curve;
use super::perturbation::Perturbation;
use super::plot::{ImageFormat, Painting, render};
use super::runs::{self, LoadedRuns, RunsRequest};
use super::table::Table;

/// One output of a figure: a file stem and its table and drawings.
#[derive(Debug, Clone)]
pub struct Output {
    /// The file stem: `<stem>.csv`, `<stem>.png`, `<stem>.svg`.
    pub stem: &'static str,
    /// The numbers drawn.
    pub table: Table,
    /// The PNG bytes.
    pub png: Vec<u8>,
    /// The SVG bytes.
    pub svg: Vec<u8>,
}

impl Output {
    /// `figure`'s numbers, drawn in both formats.
    pub(super) fn of(stem: &'static str, figure: &impl Drawable) -> Result<Output, String> {
        let draw = |format| render(figure, format).map_err(|error| error.to_string());
        Ok(Output {
            stem,
            table: figure.numbers(),
            png: draw(ImageFormat::Png)?,
            svg: draw(ImageFormat::Svg)?,
        })
    }
}

/// A figure's numbers that draw themselves: the table written as its CSV, and its painting.
pub(super) trait Drawable: Painting {
    /// The table written as `<stem>.csv`.
    fn numbers(&self) -> Table;
}

/// A training run given as a dependency.
#[derive(Debug, Clone)]
pub struct DependencyRun {
    /// The dependency's target name.
    pub target: String,
    /// Its `results.csv`.
    pub results: PathBuf,
    /// (type, start, length) of its perturbation; `None` for the baseline.
    pub window: Option<(Perturbation, u32, u32)>,
    /// The run ended at its epoch limit (`stop_reason` in its manifest's `info`).
    pub epoch_limit: bool,
}

impl DependencyRun {
    /// Its curve, read as `model`'s results and named after its target.
    pub fn curve(&self, model: Model) -> Result<Curve, String> {
        let text = |error: runs::RunsError| error.to_string();
        let mut curve = match model {
            Model::ClipHba => runs::read_clip_run(&self.results).map_err(text)?.curve(),
            Model::Vit => runs::read_vit_run(&self.results).map_err(text)?.curve(),
        };
        curve.name = self.target.clone();
        Ok(curve)
    }
}

/// A figure's dependencies: the one unperturbed run and the perturbed ones.
#[derive(Debug, Clone)]
pub struct DependencyRuns {
    /// The baseline.
    pub baseline: DependencyRun,
    /// The perturbed runs, in dependency order.
    pub perturbed: Vec<DependencyRun>,
}

/// What the recipe selects among the runs (`epochs`, `starts`, `lengths`; `None`: the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// fig2, fig3: the perturbation epochs k.
    pub epochs: Option<Vec<u32>>,
    /// fig4: the window starts.
    pub starts: Option<Vec<u32>>,
    /// fig4: the window lengths.
    pub lengths: Option<Vec<u32>>,
}

/// A runs directory a figure reads instead of dependencies.
pub trait Directory {
    /// The runs of `request` (every file read must be a declared input).
    fn load(&self, request: &RunsRequest) -> Result<LoadedRuns, String>;
}

/// Where a figure's runs come from, and whom it tells what the build should know.
pub trait Source {
    /// The target drawing the figure (for messages).
    fn target(&self) -> &str;
    /// What the recipe selects.
    fn selection(&self) -> &Selection;
    /// The runs directory; `None` when the figure draws its dependencies.
    fn directory(&self) -> Option<&dyn Directory>;
    /// The dependencies, split into the baseline and the perturbed runs.
    fn dependencies(&self) -> Result<DependencyRuns, String>;
    /// Reports `text` with the build's progress.
    fn message(&self, text: &str);
}

/// `model`'s baseline curve from a load that requested it.
pub fn baseline(loaded: &LoadedRuns, model: Model) -> Result<Curve, String> {
    let curve = match model {
        Model::ClipHba => loaded.clip_baseline.as_ref().map(runs::ClipRun::curve),
        Model::Vit => loaded.vit_baseline.as_ref().map(|run| run.curve()),
    };
    curve.ok_or_else(|| "the runs directory gave no baseline".to_string())
}

/// A figure drawn by itself (not a target gathering panels), as [`super::DRAWN`] registers
/// it: its name (also its first output's file stem), the model whose runs it reads, and how
/// its outputs are made.
#[derive(Debug, Clone, Copy)]
pub struct Drawer {
    /// `fig1a`, …
    pub name: &'static str,
    /// The model whose runs it reads.
    pub model: Model,
    /// Its outputs from its runs.
    pub outputs: fn(&Drawer, &dyn Source) -> Result<Vec<Output>, String>,
}
