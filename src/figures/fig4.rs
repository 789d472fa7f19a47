//! fig4 and its heatmap: recovery after `random_target` noise in windows (start, length).
//!
//! end = start + length − 1; the recovery epoch is the first epoch after end whose test loss ≤
//! 1.01 × the baseline's test loss at that epoch, where the baseline is cut at its
//! minimum-test-loss epoch and, past the cut, the bar is 1.01 × the baseline minimum; plotted:
//! recovery − end, or "NR" when the run stopped (early stopping of a perturbed run,
//! docs/protocol.md) before any epoch met the bar. Every epoch the run trained is searched. A
//! run that ended at its epoch limit (`max_epochs`, a safety cap) without recovering is
//! neither: its row says `epoch_limit`, it is drawn in grey, and the figure reports it.
//!
//! The companion heatmap: each run's maximum ρ over its own epochs (from its start to where it
//! stopped) minus the baseline's maximum ρ up to its cut.
//!
//! Its table and CSVs, its computation, its two drawings, the runs it requests and its outputs.

use std::collections::{BTreeMap, BTreeSet};

use plotters::prelude::*;
use plotters::style::FontTransform;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ImageFormat;
use super::compute::{ComputeError, Model, point};
use super::curve::{Curve, CurvePoint};
use super::paper;
use super::perturbation::Perturbation;
use super::plot::{
    AXIS_SIZE, Area, Drawn, FAMILY, Frame, INK, LABEL_SIZE, Painting, PlotError, bar_mesh,
    epoch_tick, font, group_labels, legend_row, render, text_at,
};
use super::runs::RunsRequest;
use super::setup::RunSetup;
use super::source::{self, Drawable, Drawer, Output, Selection, Source};
use super::table::{Cell, Table};

/// "NR".
const NOT_RECOVERED: RGBColor = RGBColor(214, 39, 40);
/// The column behind "NR" (opaque, so grid lines do not cross it).
const NOT_RECOVERED_FILL: RGBColor = RGBColor(250, 218, 218);
/// A run cut by its epoch limit before it recovered (undecided).
const EPOCH_LIMIT: RGBColor = RGBColor(110, 110, 110);
/// The column behind "limit".
const EPOCH_LIMIT_FILL: RGBColor = RGBColor(228, 228, 228);
/// The size of the "NR" letters.
const NR_SIZE: f64 = 15.0;
/// Heatmap: a window without a run.
const ABSENT: RGBColor = RGBColor(200, 200, 200);

/// One colour per length, a viridis ramp (ordered, colour-blind safe).
const LENGTH_COLOURS: [RGBColor; 7] = [
    RGBColor(68, 1, 84),
    RGBColor(68, 57, 131),
    RGBColor(49, 104, 142),
    RGBColor(33, 145, 140),
    RGBColor(53, 183, 121),
    RGBColor(144, 215, 67),
    RGBColor(223, 200, 30),
];

/// A test loss within this factor of the baseline's counts as recovered (`docs/protocol.md`,
/// "fig4": 1.01 ×).
pub const RECOVERY_TOLERANCE: f64 = 1.01;

/// A perturbation window: `length` epochs from `start` (both ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// First perturbed epoch.
    pub start: u32,
    /// Number of perturbed epochs.
    pub length: u32,
}

impl Window {
    /// A window; refuses start 0, length 0, and ends past `u32::MAX`.
    pub fn new(start: u32, length: u32) -> Result<Window, ComputeError> {
        let valid = start >= 1 && length >= 1 && start.checked_add(length - 1).is_some();
        if valid {
            Ok(Window { start, length })
        } else {
            Err(ComputeError::InvalidWindow { start, length })
        }
    }

    /// The last perturbed epoch: start + length − 1.
    pub fn end(self) -> u32 {
        self.start + self.length - 1
    }
}

/// The baseline as fig4 uses it: cut at its minimum-test-loss epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig4Baseline {
    curve: Curve,
    /// The minimum-test-loss epoch (ties: the first); the curve stops here.
    pub cut_epoch: u32,
    /// The minimum test loss.
    pub min_loss: f64,
    /// The maximum behavioural ρ over epochs up to the cut.
    pub max_rsa: f64,
}

impl Fig4Baseline {
    /// Cuts the baseline at its minimum-test-loss epoch.
    pub fn new(baseline: &Curve) -> Result<Fig4Baseline, ComputeError> {
        let cut = *baseline
            .min_loss_point()
            .ok_or_else(|| ComputeError::EmptyBaseline {
                curve: baseline.name.clone(),
            })?;
        let points: Vec<CurvePoint> = baseline
            .points
            .iter()
            .take_while(|point| point.epoch <= cut.epoch)
            .copied()
            .collect();
        let max_rsa = points
            .iter()
            .map(|point| point.alignment)
            .fold(f64::NEG_INFINITY, f64::max);
        Ok(Fig4Baseline {
            curve: Curve::new(baseline.name.clone(), points),
            cut_epoch: cut.epoch,
            min_loss: cut.loss,
            max_rsa,
        })
    }

    /// The test loss a run must reach at `epoch` to count as recovered: 1.01 × the baseline's
    /// test loss at `epoch`, or past the cut 1.01 × the baseline minimum.
    pub fn threshold(&self, epoch: u32) -> Result<f64, ComputeError> {
        let reference = if epoch > self.cut_epoch {
            self.min_loss
        } else {
            point(&self.curve, epoch, "the fig4 recovery threshold")?.loss
        };
        Ok(RECOVERY_TOLERANCE * reference)
    }
}

/// What a window run's epochs say about its recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The first epoch after the window whose test loss is within the threshold.
    Recovered { epoch: u32 },
    /// No epoch after the window, up to the run's last (`decided_at`), met the threshold.
    NotRecovered { decided_at: u32 },
}

/// Decides a window run's recovery from every epoch it trained after its window. Those epochs
/// must all be present, because a gap could hide the first recovering epoch, and there must be
/// at least one.
pub fn recovery(
    baseline: &Fig4Baseline,
    window: Window,
    run: &Curve,
) -> Result<Recovery, ComputeError> {
    let end = window.end();
    let last = run.last_epoch();
    let seen = match last {
        Some(last) if last > end => last,
        _ => {
            return Err(ComputeError::WindowNotFinished {
                curve: run.name.clone(),
                end,
                last,
            });
        }
    };
    for epoch in end + 1..=seen {
        let needed_for = format!(
            "fig4 recovery of the window of length {} from epoch {}",
            window.length, window.start
        );
        let loss = point(run, epoch, &needed_for)?.loss;
        if loss <= baseline.threshold(epoch)? {
            return Ok(Recovery::Recovered { epoch });
        }
    }
    Ok(Recovery::NotRecovered { decided_at: seen })
}

/// One window of fig4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fig4Row {
    /// The window.
    pub window: Window,
    /// The recovery epoch; `None` for "NR" (or an epoch-limit row).
    pub recovery_epoch: Option<u32>,
    /// The epoch that decided the row: the recovery epoch, or the run's last epoch.
    pub decided_at: u32,
    /// The run's maximum behavioural ρ over its own epochs, from the window's start to where
    /// it stopped.
    pub max_rsa: f64,
    /// The run ended at its epoch limit (`max_epochs`, a safety cap) without recovering:
    /// undecided, not "NR".
    pub epoch_limit: bool,
}

impl Fig4Row {
    /// The last perturbed epoch.
    pub fn end_epoch(&self) -> u32 {
        self.window.end()
    }

    /// Recovery epoch − end epoch; `None` for "NR".
    pub fn epochs_to_recovery(&self) -> Option<u32> {
        self.recovery_epoch.map(|epoch| epoch - self.end_epoch())
    }

    /// `recovered`, `NR` (stopped without recovering) or `epoch_limit` (cut by the safety
    /// cap without recovering: undecided).
    pub fn status(&self) -> &'static str {
        match (self.recovery_epoch, self.epoch_limit) {
            (Some(_), _) => "recovered",
            (None, false) => "NR",
            (None, true) => "epoch_limit",
        }
    }
}

/// fig4: the recovery bars and the RSA heatmap of every window.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig4Table {
    /// What the baseline trained, when its bundle says (the plot's caption line).
    pub setup: Option<RunSetup>,
    /// The baseline's minimum-test-loss epoch.
    pub baseline_cut_epoch: u32,
    /// The baseline's minimum test loss.
    pub baseline_min_loss: f64,
    /// The baseline's maximum behavioural ρ up to the cut.
    pub baseline_max_rsa: f64,
    /// Rows by (start, length).
    pub rows: Vec<Fig4Row>,
}

impl Fig4Table {
    /// The distinct start epochs, ascending (the bar groups and heatmap rows).
    pub fn starts(&self) -> Vec<u32> {
        let mut starts: Vec<u32> = self.rows.iter().map(|row| row.window.start).collect();
        starts.dedup();
        starts
    }

    /// The distinct lengths, ascending (the bars in a group and heatmap columns).
    pub fn lengths(&self) -> Vec<u32> {
        let mut lengths: Vec<u32> = self.rows.iter().map(|row| row.window.length).collect();
        lengths.sort_unstable();
        lengths.dedup();
        lengths
    }

    /// The row of a window, if computed.
    pub fn row(&self, start: u32, length: u32) -> Option<&Fig4Row> {
        self.rows
            .iter()
            .find(|row| row.window.start == start && row.window.length == length)
    }

    /// Columns
    /// `start_epoch,length,end_epoch,decided_at_epoch,recovery_epoch,epochs_to_recovery,status`
    /// (`status`: see [`Fig4Row::status`]; `decided_at_epoch`: the recovery epoch, or the
    /// run's last epoch); rows without recovery leave the two recovery fields empty.
    pub fn to_table(&self) -> Table {
        let mut table = Table::new(&[
            "start_epoch",
            "length",
            "end_epoch",
            "decided_at_epoch",
            "recovery_epoch",
            "epochs_to_recovery",
            "status",
        ]);
        for row in &self.rows {
            table.push(vec![
                row.window.start.into(),
                row.window.length.into(),
                row.end_epoch().into(),
                row.decided_at.into(),
                row.recovery_epoch.into(),
                row.epochs_to_recovery().into(),
                Cell::Text(row.status().into()),
            ]);
        }
        table
    }

    /// Δ max RSA of a row: its max minus the baseline's.
    pub fn delta_max_rsa(&self, row: &Fig4Row) -> f64 {
        row.max_rsa - self.baseline_max_rsa
    }

    /// The heatmap: columns
    /// `start_epoch,length,run_max_rsa_start_to_stop,baseline_max_rsa_to_cut,delta_max_rsa`:
    /// the run's maximum ρ over its own epochs (its start to where it stopped), the baseline's
    /// maximum over its curve up to the cut, and the difference.
    pub fn heatmap_table(&self) -> Table {
        let mut table = Table::new(&[
            "start_epoch",
            "length",
            "run_max_rsa_start_to_stop",
            "baseline_max_rsa_to_cut",
            "delta_max_rsa",
        ]);
        for row in &self.rows {
            table.push(vec![
                row.window.start.into(),
                row.window.length.into(),
                Cell::Number(row.max_rsa),
                Cell::Number(self.baseline_max_rsa),
                Cell::Number(self.delta_max_rsa(row)),
            ]);
        }
        table
    }
}

/// One window run as fig4 reads it: its window, its curve, and whether it ended at its
/// epoch limit (`max_epochs`) rather than by early stopping.
#[derive(Debug, Clone, Copy)]
pub struct WindowRun<'c> {
    /// The window.
    pub window: Window,
    /// Every epoch the run trained (the baseline's epochs before the window may be included).
    pub curve: &'c Curve,
    /// The run was cut by its epoch limit.
    pub epoch_limit: bool,
}

/// fig4 over the given window runs (see the module doc). A run that ends inside its window is
/// an error, unless its epoch limit cut it there (an `epoch_limit` row).
pub fn compute<'c>(
    baseline: &Curve,
    runs: impl IntoIterator<Item = WindowRun<'c>>,
) -> Result<Fig4Table, ComputeError> {
    let cut = Fig4Baseline::new(baseline)?;
    let mut rows = BTreeMap::new();
    for run in runs {
        let window = Window::new(run.window.start, run.window.length)?;
        let curve = run.curve;
        let last = curve.last_epoch().unwrap_or(0);
        let (recovery_epoch, decided_at) = if run.epoch_limit && last <= window.end() {
            (None, last)
        } else {
            match recovery(&cut, window, curve)? {
                Recovery::Recovered { epoch } => (Some(epoch), epoch),
                Recovery::NotRecovered { decided_at } => (None, decided_at),
            }
        };
        let max_rsa = curve
            .points
            .iter()
            .filter(|point| point.epoch >= window.start)
            .map(|point| point.alignment)
            .fold(f64::NEG_INFINITY, f64::max);
        let row = Fig4Row {
            window,
            recovery_epoch,
            decided_at,
            max_rsa,
            epoch_limit: run.epoch_limit && recovery_epoch.is_none(),
        };
        if rows.insert(window, row).is_some() {
            return Err(ComputeError::DuplicateRun {
                what: format!(
                    "fig4 window of length {} from epoch {}",
                    window.length, window.start
                ),
            });
        }
    }
    Ok(Fig4Table {
        setup: baseline.setup.clone(),
        baseline_cut_epoch: cut.cut_epoch,
        baseline_min_loss: cut.min_loss,
        baseline_max_rsa: cut.max_rsa,
        rows: rows.into_values().collect(),
    })
}

/// The runs fig4 reads from a runs directory: the baseline and every (start, length) window.
pub fn request(starts: &[u32], lengths: &[u32]) -> RunsRequest {
    RunsRequest {
        clip_baseline: true,
        grid: starts
            .iter()
            .flat_map(|&start| lengths.iter().map(move |&length| (start, length)))
            .collect(),
        ..RunsRequest::default()
    }
}

/// fig4 and its heatmap from their source: recovery after target noise in every window.
pub fn outputs(drawer: &Drawer, runs: &dyn Source) -> Result<Vec<Output>, String> {
    let selection = runs.selection();
    let (baseline, windows) = match runs.directory() {
        Some(directory) => {
            let starts = selection
                .starts
                .clone()
                .unwrap_or_else(|| paper::FIG4_STARTS.to_vec());
            let lengths = selection
                .lengths
                .clone()
                .unwrap_or_else(|| paper::FIG4_LENGTHS.to_vec());
            let loaded = directory.load(&request(&starts, &lengths))?;
            // External runs are taken as complete: each ended by early stopping.
            let windows: Vec<(Window, Curve, bool)> = loaded
                .grid
                .iter()
                .map(|(&(start, length), run)| (Window { start, length }, run.curve(), false))
                .collect();
            (source::baseline(&loaded, Model::ClipHba)?, windows)
        }
        None => {
            let dependencies = runs.dependencies()?;
            let selected = |values: &Option<Vec<u32>>, value: u32| {
                values.as_ref().is_none_or(|values| values.contains(&value))
            };
            let mut windows = Vec::new();
            for run in &dependencies.perturbed {
                if let Some((Perturbation::RandomTarget, start, length)) = run.window
                    && selected(&selection.starts, start)
                    && selected(&selection.lengths, length)
                {
                    let curve = run.curve(Model::ClipHba)?;
                    windows.push((Window { start, length }, curve, run.epoch_limit));
                }
            }
            requested_windows_present(runs.target(), selection, &windows)?;
            (dependencies.baseline.curve(Model::ClipHba)?, windows)
        }
    };
    let table = reported_table(&baseline, &windows, runs)?;
    Ok(vec![
        Output::of(drawer.name, &table)?,
        Output::of("fig4_heatmap", &Heatmap(&table))?,
    ])
}

/// fig4 over window runs (window, curve, cut by the epoch limit); each run that its epoch
/// limit cut before it recovered is reported to `runs`.
fn reported_table(
    baseline: &Curve,
    windows: &[(Window, Curve, bool)],
    runs: &dyn Source,
) -> Result<Fig4Table, String> {
    let table = compute(
        baseline,
        windows
            .iter()
            .map(|(window, curve, epoch_limit)| WindowRun {
                window: *window,
                curve,
                epoch_limit: *epoch_limit,
            }),
    )
    .map_err(|error| error.to_string())?;
    for (row, (_, curve, _)) in table.rows.iter().zip(windows) {
        if row.epoch_limit {
            runs.message(&format!(
                "window of length {} from epoch {} (`{}`) reached its epoch limit at epoch {} \
                 without recovering: drawn as undecided (`epoch_limit`), not NR; raise the \
                 run's `max_epochs` to decide it",
                row.window.length, row.window.start, curve.name, row.decided_at
            ));
        }
    }
    Ok(table)
}

/// With dependencies, every window that `starts` × `lengths` names must have a run (when
/// only one of them is given, the other takes what the dependencies have).
fn requested_windows_present(
    target: &str,
    selection: &Selection,
    windows: &[(Window, Curve, bool)],
) -> Result<(), String> {
    if selection.starts.is_none() && selection.lengths.is_none() {
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
    let starts = selection
        .starts
        .clone()
        .unwrap_or_else(|| from_runs(|window| window.0));
    let lengths = selection
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
    Err(format!(
        "`{target}` draws fig4 windows that no dependency trained: {}\nhelp: add the \
         `random_target` runs to `deps`, or narrow `starts`/`lengths`",
        lacking.join(", ")
    ))
}

/// fig4: epochs to recovery, grouped by start epoch, one bar per length, NR in red.
pub fn draw(table: &Fig4Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    render(table, format)
}

/// fig4's companion: each run's max RSA minus the baseline's, per (start, length).
pub fn draw_heatmap(table: &Fig4Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    render(&Heatmap(table), format)
}

impl Drawable for Fig4Table {
    fn numbers(&self) -> Table {
        self.to_table()
    }
}

impl Painting for Fig4Table {
    const SIZE: (u32, u32) = (1400, 620);

    fn name(&self) -> &'static str {
        "fig4"
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn heading(&self) -> Option<(String, Option<&RunSetup>)> {
        let table = self;
        let title = format!(
            "fig4 · CLIP-HBA: epochs to recover after target noise for L epochs \
             (baseline cut at epoch {})",
            table.baseline_cut_epoch
        );
        Some((title, table.setup.as_ref()))
    }

    fn paint<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), PlotError> {
        let (table, figure) = (self, self.name());
        let starts = table.starts();
        let lengths = table.lengths();
        let mut legend: Vec<(String, RGBColor)> = lengths
            .iter()
            .enumerate()
            .map(|(index, length)| (format!("L = {length}"), length_colour(index)))
            .collect();
        legend.push(("NR: stopped, not recovered".to_string(), NOT_RECOVERED));
        if table.rows.iter().any(|row| row.epoch_limit) {
            legend.push((
                "limit: cut by max_epochs, undecided".to_string(),
                EPOCH_LIMIT,
            ));
        }
        let body = legend_row(area, &legend, figure)?;

        let groups = starts.len() as f64;
        let highest = table
            .rows
            .iter()
            .filter_map(|row| row.epochs_to_recovery())
            .max()
            .unwrap_or(1)
            .max(1);
        let y_high = f64::from(highest) * 1.12;
        let frame = Frame {
            caption: None,
            margin: (15, 15),
            label_areas: (55, 75),
        };
        let mut chart = frame.chart(&body, -0.5..groups - 0.5, 0.0..y_high, figure)?;
        let descriptions = (
            "start epoch E (one bar per length L)",
            "epochs to recovery (recovery − end)",
        );
        // Whole epochs only, as on an epoch axis.
        bar_mesh(&mut chart, descriptions, 0, &epoch_tick, figure)?;

        let width = 0.84 / lengths.len().max(1) as f64;
        let slot = |start: u32, length: u32| {
            let group = starts.iter().position(|&s| s == start).unwrap_or(0) as f64;
            let index = lengths.iter().position(|&l| l == length).unwrap_or(0) as f64;
            let left = group - 0.42 + index * width;
            (left, left + width * 0.9)
        };
        for row in &table.rows {
            let (left, right) = slot(row.window.start, row.window.length);
            let index = lengths
                .iter()
                .position(|&length| length == row.window.length)
                .unwrap_or(0);
            match row.epochs_to_recovery() {
                Some(epochs) => {
                    let top = f64::from(epochs);
                    chart
                        .draw_series([Rectangle::new(
                            [(left, 0.0), (right, top)],
                            length_colour(index).filled(),
                        )])
                        .drawn(figure)?;
                }
                None => {
                    // NR: a pale red column the full height, outlined, with "NR" written
                    // upwards at its top, so it cannot be mistaken for a short bar or a missing
                    // run and stays one word in a slot narrower than "NR" written across. A run
                    // cut by its epoch limit before it recovered is undecided: grey, "limit".
                    let (ink, fill, mark) = if row.epoch_limit {
                        (EPOCH_LIMIT, EPOCH_LIMIT_FILL, "limit")
                    } else {
                        (NOT_RECOVERED, NOT_RECOVERED_FILL, "NR")
                    };
                    let top = y_high * 0.97;
                    chart
                        .draw_series([
                            Rectangle::new([(left, 0.0), (right, top)], fill.filled()),
                            Rectangle::new([(left, 0.0), (right, top)], ink.stroke_width(1)),
                        ])
                        .drawn(figure)?;
                    let (base_x, base_y) = body.get_base_pixel();
                    let (x, y) = chart.backend_coord(&((left + right) / 2.0, top));
                    let style = TextStyle::from((FAMILY, NR_SIZE).into_font())
                        .transform(FontTransform::Rotate270)
                        .color(&ink);
                    // Rotated a quarter turn, the text runs upwards from its anchor; centre
                    // it on the column and start it below the column's top.
                    let (text_width, text_height) =
                        style.font.box_size(mark).unwrap_or((0, NR_SIZE as u32));
                    let anchor = (
                        x - base_x - text_height as i32 / 2,
                        y - base_y + 6 + text_width as i32,
                    );
                    body.draw(&Text::new(mark, anchor, style)).drawn(figure)?;
                }
            }
        }
        let labels = starts.iter().map(|start| format!("E = {start}"));
        group_labels(&body, &chart, labels, (0.0, 0.0), figure)
    }
}

/// The colour of the `index`-th length; cycles if a design has more than seven lengths.
fn length_colour(index: usize) -> RGBColor {
    LENGTH_COLOURS[index % LENGTH_COLOURS.len()]
}

/// fig4's heatmap of the same table.
struct Heatmap<'t>(&'t Fig4Table);

impl Drawable for Heatmap<'_> {
    fn numbers(&self) -> Table {
        self.0.heatmap_table()
    }
}

impl Painting for Heatmap<'_> {
    const SIZE: (u32, u32) = (1100, 720);

    fn name(&self) -> &'static str {
        "fig4_heatmap"
    }

    fn is_empty(&self) -> bool {
        self.0.rows.is_empty()
    }

    fn heading(&self) -> Option<(String, Option<&RunSetup>)> {
        let title = format!(
            "fig4 · max behavioural ρ of each run − baseline max ({:.3})",
            self.0.baseline_max_rsa
        );
        Some((title, self.0.setup.as_ref()))
    }

    fn paint<DB: DrawingBackend>(&self, body: &Area<DB>) -> Result<(), PlotError> {
        let (table, figure) = (self.0, self.name());
        let (cells, scale_area) = body.split_horizontally(body.dim_in_pixel().0 - 130);
        let starts = table.starts();
        let lengths = table.lengths();
        let columns = lengths.len() as f64;
        let rows = starts.len() as f64;
        let extent = table
            .rows
            .iter()
            .map(|row| table.delta_max_rsa(row).abs())
            .fold(0.0, f64::max);
        let frame = Frame {
            caption: None,
            margin: (15, 15),
            label_areas: (55, 80),
        };
        let mut chart = frame.chart(&cells, 0.0..columns, 0.0..rows, figure)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .x_desc("length L (epochs)")
            .y_desc("start epoch E")
            .axis_desc_style(font(AXIS_SIZE))
            .draw()
            .drawn(figure)?;
        // The first start epoch is the top row, as in a table.
        let cell = |start: u32, length: u32| {
            let column = lengths.iter().position(|&l| l == length).unwrap_or(0) as f64;
            let row = starts.iter().position(|&s| s == start).unwrap_or(0) as f64;
            (column, rows - 1.0 - row)
        };
        for &start in &starts {
            for &length in &lengths {
                let (x, y) = cell(start, length);
                let (colour, text) = match table.row(start, length) {
                    Some(row) => {
                        let delta = table.delta_max_rsa(row);
                        (diverging(delta, extent), format!("{delta:+.3}"))
                    }
                    None => (ABSENT, "–".to_string()),
                };
                chart
                    .draw_series([
                        Rectangle::new([(x, y), (x + 1.0, y + 1.0)], colour.filled()),
                        Rectangle::new([(x, y), (x + 1.0, y + 1.0)], WHITE.stroke_width(1)),
                    ])
                    .drawn(figure)?;
                let centred = ((0, 0), Pos::new(HPos::Center, VPos::Center));
                text_at(&cells, &chart, (x + 0.5, y + 0.5), centred, text, figure)?;
            }
        }
        let column_labels = lengths.iter().map(u32::to_string);
        group_labels(&cells, &chart, column_labels, (0.5, 0.0), figure)?;
        for (index, start) in starts.iter().enumerate() {
            let at = (0.0, rows - index as f64 - 0.5);
            let left_of = ((-8, 0), Pos::new(HPos::Right, VPos::Center));
            text_at(&cells, &chart, at, left_of, start.to_string(), figure)?;
        }
        colour_scale(&scale_area, extent, figure)
    }
}

/// Blue (below the baseline) through white (equal) to red (above), saturating at ±`extent`.
fn diverging(value: f64, extent: f64) -> RGBColor {
    let t = if extent > 0.0 {
        (value / extent).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (end, t) = if t < 0.0 {
        ((33.0, 102.0, 172.0), -t)
    } else {
        ((178.0, 24.0, 43.0), t)
    };
    let mix = |to: f64| (255.0 + (to - 255.0) * t).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

/// The heatmap's colour bar, −extent at the bottom to +extent at the top.
fn colour_scale<DB: DrawingBackend>(
    area: &Area<DB>,
    extent: f64,
    figure: &'static str,
) -> Result<(), PlotError> {
    const STEPS: i32 = 60;
    let (_, height) = area.dim_in_pixel();
    let top = 40;
    let bottom = height as i32 - 90;
    let left = 20;
    let right = 42;
    let step_height = (bottom - top) as f64 / f64::from(STEPS);
    for step in 0..STEPS {
        let fraction = 1.0 - (f64::from(step) + 0.5) / f64::from(STEPS);
        let y0 = top + (f64::from(step) * step_height).round() as i32;
        let y1 = top + (f64::from(step + 1) * step_height).round() as i32;
        area.draw(&Rectangle::new(
            [(left, y0), (right, y1)],
            diverging((2.0 * fraction - 1.0) * extent, extent).filled(),
        ))
        .drawn(figure)?;
    }
    area.draw(&Rectangle::new(
        [(left, top), (right, bottom)],
        INK.stroke_width(1),
    ))
    .drawn(figure)?;
    let label_style = font(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
    for (y, value) in [(top, extent), ((top + bottom) / 2, 0.0), (bottom, -extent)] {
        area.draw(&Text::new(
            format!("{value:+.3}"),
            (right + 6, y),
            label_style.clone(),
        ))
        .drawn(figure)?;
    }
    area.draw(&Text::new(
        "Δ max ρ",
        (left, top - 14),
        font(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .drawn(figure)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::figures::curve::test_baseline as baseline;
    use crate::figures::curve::test_curve as curve;

    #[test]
    fn fig4_thresholds_follow_the_cut_baseline() {
        let cut = Fig4Baseline::new(&baseline()).unwrap();
        assert_eq!((cut.cut_epoch, cut.min_loss, cut.max_rsa), (4, 5.0, 0.4));
        assert_eq!(cut.threshold(2).unwrap(), 1.01 * 8.0);
        assert_eq!(cut.threshold(4).unwrap(), 1.01 * 5.0);
        // Past the cut the bar is the minimum, not the baseline's later (higher) losses.
        assert_eq!(cut.threshold(7).unwrap(), 1.01 * 5.0);
        assert_eq!(cut.threshold(50).unwrap(), 1.01 * 5.0);
    }

    #[test]
    fn fig4_recovery_and_nr() {
        let base = baseline();
        // Window (1, 2): end 2. Epoch 3: 6.1 > 1.01 × 6; epoch 4: exactly 1.01 × 5, and
        // equal counts: recovered at 4.
        let recovers = curve(
            "e1_l2",
            1,
            &[
                (12.0, 0.0),
                (11.0, 0.05),
                (6.1, 0.2),
                (RECOVERY_TOLERANCE * 5.0, 0.35),
                (4.0, 0.9),
            ],
        );
        // Window (2, 3): end 4. Epoch 5: 5.1 > 1.01 × 5; epoch 6 is past the cut (epoch 4), so
        // the bar is 1.01 × the minimum 5, and 5.5 misses it though it is within 1.01 × the
        // baseline's own 5.5 there: NR.
        let never = curve(
            "e2_l3",
            2,
            &[(9.0, 0.2), (9.0, 0.2), (8.0, 0.3), (5.1, 0.45), (5.5, 0.3)],
        );
        let run = |window: Window, curve| WindowRun {
            window,
            curve,
            epoch_limit: false,
        };
        let table = compute(
            &base,
            [
                run(Window::new(2, 3).unwrap(), &never),
                run(Window::new(1, 2).unwrap(), &recovers),
            ],
        )
        .unwrap();
        assert_eq!(
            table.to_table().to_csv(),
            "start_epoch,length,end_epoch,decided_at_epoch,recovery_epoch,epochs_to_recovery,status\n\
             1,2,2,4,4,2,recovered\n2,3,4,6,,,NR\n"
        );
        // Max ρ over each run's own epochs, from its start to where it stopped: 0.9 at epoch 5
        // (after recovery, which does not cut it), and 0.45 for the NR run.
        assert_eq!(
            table.heatmap_table().to_csv(),
            "start_epoch,length,run_max_rsa_start_to_stop,baseline_max_rsa_to_cut,delta_max_rsa\n\
             1,2,0.9,0.4,0.5\n\
             2,3,0.45,0.4,0.04999999999999999\n"
        );
        assert_eq!(table.rows[0].decided_at, 4);
        assert_eq!(table.rows[1].decided_at, 6);
        for row in &table.rows {
            assert!(
                row.recovery_epoch
                    .is_none_or(|epoch| epoch > row.end_epoch())
            );
        }
    }

    #[test]
    fn fig4_searches_every_epoch_and_tells_the_epoch_limit_from_nr() {
        let base = baseline();
        let window = Window::new(1, 2).unwrap();
        // Recovery late in the run (epoch 5) is found: every epoch the run trained is read.
        let late = curve(
            "late",
            1,
            &[(12.0, 0.0), (11.0, 0.0), (7.0, 0.0), (6.0, 0.0), (5.0, 0.0)],
        );
        let capped = curve("capped", 1, &[(12.0, 0.0), (11.0, 0.0), (7.0, 0.0)]);
        let inside = curve("inside", 1, &[(12.0, 0.0)]);
        let table = compute(
            &base,
            [WindowRun {
                window,
                curve: &late,
                epoch_limit: true,
            }],
        )
        .unwrap();
        assert_eq!(
            table.rows[0].status(),
            "recovered",
            "a recovery counts even at the limit"
        );
        assert_eq!(table.rows[0].recovery_epoch, Some(5));
        for (curve, expected) in [(&capped, "epoch_limit"), (&inside, "epoch_limit")] {
            let table = compute(
                &base,
                [WindowRun {
                    window,
                    curve,
                    epoch_limit: true,
                }],
            )
            .unwrap();
            assert_eq!(table.rows[0].status(), expected, "{}", curve.name);
            assert_eq!(table.rows[0].recovery_epoch, None);
        }
        let stopped = compute(
            &base,
            [WindowRun {
                window,
                curve: &capped,
                epoch_limit: false,
            }],
        )
        .unwrap();
        assert_eq!(stopped.rows[0].status(), "NR");
        assert_eq!(stopped.rows[0].decided_at, 3);
        // Stopped inside its window without an epoch limit: the run is incomplete.
        assert!(matches!(
            compute(
                &base,
                [WindowRun {
                    window,
                    curve: &inside,
                    epoch_limit: false,
                }],
            ),
            Err(ComputeError::WindowNotFinished { .. })
        ));
    }

    #[test]
    fn fig4_refuses_unfinished_and_gapped_runs() {
        let cut = Fig4Baseline::new(&baseline()).unwrap();
        let window = Window::new(2, 2).unwrap();
        let short = curve("short", 2, &[(9.0, 0.0), (9.0, 0.0)]);
        assert_eq!(
            recovery(&cut, window, &short).unwrap_err().to_string(),
            "run `short` ends at epoch 3 but its perturbation window ends at epoch 3; \
             recovery needs epochs after the window"
        );
        let gapped = Curve::new(
            "gapped",
            vec![
                CurvePoint {
                    epoch: 3,
                    loss: 9.0,
                    alignment: 0.0,
                },
                CurvePoint {
                    epoch: 5,
                    loss: 5.0,
                    alignment: 0.0,
                },
            ],
        );
        assert!(matches!(
            recovery(&cut, window, &gapped),
            Err(ComputeError::MissingEpoch { epoch: 4, .. })
        ));
        assert_eq!(
            Window::new(0, 3).unwrap_err(),
            ComputeError::InvalidWindow {
                start: 0,
                length: 3
            }
        );
    }
    #[test]
    fn diverging_colours() {
        assert_eq!(diverging(0.0, 1.0), WHITE);
        assert_eq!(diverging(1.0, 1.0), RGBColor(178, 24, 43));
        assert_eq!(diverging(-5.0, 1.0), RGBColor(33, 102, 172));
        assert_eq!(diverging(0.3, 0.0), WHITE);
    }
}
