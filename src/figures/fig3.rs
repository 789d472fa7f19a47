//! fig3: the single-epoch `random_target` sweep: per perturbed epoch k, Δ test loss and Δ
//! behavioural ρ = perturbed run − baseline at k, with a sign per Δ; drawn as a bar per epoch,
//! positive green and negative blue, Δ loss (panel a) over Δ ρ (panel b). Its table and CSV,
//! its computation, its drawing, the runs it requests and its outputs.

use plotters::prelude::*;

use super::compute::{ComputeError, Model, deltas};
use super::curve::Curve;
use super::perturbation::Perturbation;
use super::plot::{
    Area, Axis, Drawn, Frame, Painting, PlotError, bar_mesh, render, two_panels, zero_line,
};
use super::runs::RunsRequest;
use super::setup::RunSetup;
use super::source::{self, Drawable, Drawer, Output, Source};
use super::table::Table;
use super::{ImageFormat, fig1};

/// Positive Δ.
const POSITIVE: RGBColor = RGBColor(26, 150, 65);
/// Negative Δ.
const NEGATIVE: RGBColor = RGBColor(44, 102, 196);

/// The sign of a Δ, which picks its bar colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// > 0 (green).
    Positive,
    /// < 0 (blue).
    Negative,
    /// Exactly 0 (no bar).
    Zero,
}

impl Sign {
    /// The sign of `value` (`-0.0` is zero).
    pub fn of(value: f64) -> Sign {
        if value > 0.0 {
            Sign::Positive
        } else if value < 0.0 {
            Sign::Negative
        } else {
            Sign::Zero
        }
    }

    /// `positive`, `negative` or `zero`.
    pub fn name(self) -> &'static str {
        match self {
            Sign::Positive => "positive",
            Sign::Negative => "negative",
            Sign::Zero => "zero",
        }
    }
}

/// One sweep epoch of fig3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fig3Row {
    /// The perturbed epoch k.
    pub epoch: u32,
    /// Perturbed − baseline test loss at k.
    pub delta_loss: f64,
    /// Perturbed − baseline behavioural ρ at k.
    pub delta_rsa: f64,
}

/// fig3: one row per sweep epoch, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig3Table {
    /// What the baseline trained, when its bundle says (the plot's caption line).
    pub setup: Option<RunSetup>,
    /// The rows.
    pub rows: Vec<Fig3Row>,
}

impl Fig3Table {
    /// Columns `epoch,delta_loss,delta_rsa,delta_loss_sign,delta_rsa_sign`.
    pub fn to_table(&self) -> Table {
        let mut table = Table::new(&[
            "epoch",
            "delta_loss",
            "delta_rsa",
            "delta_loss_sign",
            "delta_rsa_sign",
        ]);
        for row in &self.rows {
            table.push(vec![
                row.epoch.into(),
                row.delta_loss.into(),
                row.delta_rsa.into(),
                Sign::of(row.delta_loss).name().into(),
                Sign::of(row.delta_rsa).name().into(),
            ]);
        }
        table
    }
}

/// fig3: for each (k, single-epoch `random_target` run at k), Δ at epoch k.
pub fn compute<'c>(
    baseline: &Curve,
    sweep: impl IntoIterator<Item = (u32, &'c Curve)>,
) -> Result<Fig3Table, ComputeError> {
    let runs = sweep
        .into_iter()
        .map(|(epoch, run)| (epoch, epoch, run, format!("fig3 at epoch {epoch}")));
    let rows = deltas(baseline, runs)?
        .into_iter()
        .map(|(epoch, (delta_loss, delta_rsa))| Fig3Row {
            epoch,
            delta_loss,
            delta_rsa,
        })
        .collect();
    Ok(Fig3Table {
        setup: baseline.setup.clone(),
        rows,
    })
}

/// The runs fig3 reads from a runs directory: the baseline and the sweep at `epochs`.
pub fn request(epochs: &[u32]) -> RunsRequest {
    RunsRequest {
        clip_baseline: true,
        sweep: epochs.iter().copied().collect(),
        ..RunsRequest::default()
    }
}

/// fig3 from its source: the single-epoch target-noise sweep.
pub fn outputs(drawer: &Drawer, runs: &dyn Source) -> Result<Vec<Output>, String> {
    let selected = &runs.selection().epochs;
    let (baseline, sweep) = match runs.directory() {
        Some(directory) => {
            let epochs = match selected {
                Some(epochs) => epochs.clone(),
                None => {
                    // The paper's sweep: every epoch up to the baseline's minimum.
                    let loaded = directory.load(&fig1::request(Model::ClipHba))?;
                    let baseline = source::baseline(&loaded, Model::ClipHba)?;
                    let cut = baseline.min_loss_point().map_or(0, |point| point.epoch);
                    (1..=cut).collect()
                }
            };
            let loaded = directory.load(&request(&epochs))?;
            let sweep: Vec<(u32, Curve)> = loaded
                .sweep
                .iter()
                .map(|(&epoch, run)| (epoch, run.curve()))
                .collect();
            (source::baseline(&loaded, Model::ClipHba)?, sweep)
        }
        None => {
            let dependencies = runs.dependencies()?;
            let mut sweep = Vec::new();
            for run in &dependencies.perturbed {
                if let Some((Perturbation::RandomTarget, start, 1)) = run.window
                    && selected.as_ref().is_none_or(|e| e.contains(&start))
                {
                    sweep.push((start, run.curve(Model::ClipHba)?));
                }
            }
            (dependencies.baseline.curve(Model::ClipHba)?, sweep)
        }
    };
    let table = compute(&baseline, sweep.iter().map(|(k, curve)| (*k, curve)))
        .map_err(|error| error.to_string())?;
    Ok(vec![Output::of(drawer.name, &table)?])
}

/// fig3: Δ test loss (panel a) and Δ behavioural ρ (panel b) for every sweep epoch.
pub fn draw(table: &Fig3Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    render(table, format)
}

impl Drawable for Fig3Table {
    fn numbers(&self) -> Table {
        self.to_table()
    }
}

impl Painting for Fig3Table {
    const SIZE: (u32, u32) = (1400, 820);

    fn name(&self) -> &'static str {
        "fig3"
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn heading(&self) -> Option<(String, Option<&RunSetup>)> {
        let title =
            "fig3 · CLIP-HBA: single-epoch target noise at epoch k, perturbed − baseline at k";
        Some((title.to_string(), self.setup.as_ref()))
    }

    fn paint<DB: DrawingBackend>(&self, body: &Area<DB>) -> Result<(), PlotError> {
        let figure = self.name();
        let legend = [
            ("positive (perturbed > baseline)".to_string(), POSITIVE),
            ("negative (perturbed < baseline)".to_string(), NEGATIVE),
        ];
        let delta_loss: fn(&Fig3Row) -> f64 = |row| row.delta_loss;
        let delta_rsa: fn(&Fig3Row) -> f64 = |row| row.delta_rsa;
        let panels = [
            ("a · Δ test loss", delta_loss),
            ("b · Δ behavioural alignment (Spearman ρ)", delta_rsa),
        ];
        two_panels(
            body,
            &legend,
            (2, 1),
            panels,
            figure,
            |panel, caption, value| sweep_panel(panel, self, caption, value, figure),
        )
    }
}

/// One fig3 panel: a bar per sweep epoch, coloured by sign.
fn sweep_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    table: &Fig3Table,
    caption: &str,
    value: fn(&Fig3Row) -> f64,
    figure: &'static str,
) -> Result<(), PlotError> {
    let first = table.rows.first().map_or(1, |row| row.epoch) as f64;
    let last = table.rows.last().map_or(1, |row| row.epoch) as f64;
    let y = Axis::of(table.rows.iter().map(value), true);
    let frame = Frame {
        caption: Some(caption),
        margin: (15, 15),
        label_areas: (50, 80),
    };
    let mut chart = frame.chart(area, first - 0.7..last + 0.7, y.range(), figure)?;
    let y_format = |value: &f64| y.tick(value);
    let descriptions = ("perturbed epoch k", "perturbed − baseline");
    bar_mesh(&mut chart, descriptions, 12, &y_format, figure)?;
    let bars = table.rows.iter().map(|row| {
        let delta = value(row);
        let colour = if Sign::of(delta) == Sign::Negative {
            NEGATIVE
        } else {
            POSITIVE
        };
        let epoch = f64::from(row.epoch);
        Rectangle::new([(epoch - 0.4, 0.0), (epoch + 0.4, delta)], colour.filled())
    });
    chart.draw_series(bars).drawn(figure)?;
    zero_line(&mut chart, (first - 0.7, last + 0.7), figure)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::figures::curve::test_baseline as baseline;
    use crate::figures::curve::test_curve as curve;

    #[test]
    fn fig3_has_one_row_per_sweep_epoch_with_signs() {
        let at1 = curve("k1", 1, &[(11.0, 0.1)]);
        let at2 = curve("k2", 1, &[(10.0, 0.1), (7.0, 0.25)]);
        let table = compute(&baseline(), [(2, &at2), (1, &at1)]).unwrap();
        assert_eq!(
            table.to_table().to_csv(),
            "epoch,delta_loss,delta_rsa,delta_loss_sign,delta_rsa_sign\n\
             1,1,0,positive,zero\n2,-1,0.04999999999999999,negative,positive\n"
        );
        assert!(matches!(
            compute(&baseline(), [(1, &at1), (1, &at1)]),
            Err(ComputeError::DuplicateRun { .. })
        ));
    }
}
