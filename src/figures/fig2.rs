//! fig2a and fig2b: per perturbation type and epoch k, Δ loss and Δ alignment = perturbed run
//! − baseline, both at epoch k, for a single-epoch perturbation at k; drawn as grouped bars,
//! Δ loss (panel A) beside Δ alignment (panel B). Its table and CSV, its computation, its
//! drawing, the runs it requests and its outputs.

use plotters::prelude::*;

use super::ImageFormat;
use super::compute::{ComputeError, Fig2Row, Model, deltas};
use super::curve::Curve;
use super::paper;
use super::perturbation::Perturbation;
use super::plot::{
    Area, Axis, Drawn, Frame, Painting, PlotError, bar_mesh, by_model, group_labels, render,
    two_panels, zero_line,
};
use super::runs::RunsRequest;
use super::setup::RunSetup;
use super::source::{self, Drawable, Drawer, Output, Source};
use super::table::Table;

/// fig2a or fig2b.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig2Table {
    /// Whose runs.
    pub model: Model,
    /// What the baseline trained, when its bundle says (the plot's caption line).
    pub setup: Option<RunSetup>,
    /// Rows by epoch, then type in bar order.
    pub rows: Vec<Fig2Row>,
}

impl Fig2Table {
    /// A table from rows computed elsewhere (the ViT's effects CSV); sorts them.
    pub fn from_rows(model: Model, mut rows: Vec<Fig2Row>) -> Fig2Table {
        rows.sort_by_key(|row| (row.epoch, row.perturbation));
        Fig2Table {
            model,
            setup: None,
            rows,
        }
    }

    /// The distinct epochs, ascending (the bar groups).
    pub fn epochs(&self) -> Vec<u32> {
        let mut epochs: Vec<u32> = self.rows.iter().map(|row| row.epoch).collect();
        epochs.dedup();
        epochs
    }

    /// The types present, in bar order.
    pub fn perturbations(&self) -> Vec<Perturbation> {
        Perturbation::ALL
            .into_iter()
            .filter(|kind| self.rows.iter().any(|row| row.perturbation == *kind))
            .collect()
    }

    /// Columns `model,perturbation,epoch,delta_loss,delta_rsa`.
    pub fn to_table(&self) -> Table {
        let mut table = Table::new(&["model", "perturbation", "epoch", "delta_loss", "delta_rsa"]);
        for row in &self.rows {
            table.push(vec![
                self.model.name().into(),
                row.perturbation.name().into(),
                row.epoch.into(),
                row.delta_loss.into(),
                row.delta_rsa.into(),
            ]);
        }
        table
    }
}

/// fig2: for each (type, k, single-epoch run at k), Δ = run − baseline at epoch k.
pub fn compute<'c>(
    model: Model,
    baseline: &Curve,
    runs: impl IntoIterator<Item = (Perturbation, u32, &'c Curve)>,
) -> Result<Fig2Table, ComputeError> {
    let runs = runs.into_iter().map(|(perturbation, epoch, run)| {
        let needed_for = format!("fig2 `{perturbation}` at epoch {epoch}");
        ((epoch, perturbation), epoch, run, needed_for)
    });
    let rows = deltas(baseline, runs)?
        .into_iter()
        .map(|((epoch, perturbation), (delta_loss, delta_rsa))| Fig2Row {
            perturbation,
            epoch,
            delta_loss,
            delta_rsa,
        })
        .collect();
    Ok(Fig2Table {
        model,
        setup: baseline.setup.clone(),
        rows,
    })
}

/// The runs fig2 reads from a runs directory at `epochs`: for CLIP-HBA the baseline and every
/// type at every epoch; for the ViT its effects table, every type at every epoch.
pub fn request(model: Model, epochs: &[u32]) -> RunsRequest {
    match model {
        Model::ClipHba => RunsRequest {
            clip_baseline: true,
            single_epoch: Perturbation::ALL
                .iter()
                .flat_map(|&kind| epochs.iter().map(move |&epoch| (kind, epoch)))
                .collect(),
            ..RunsRequest::default()
        },
        Model::Vit => RunsRequest {
            vit_effects: Some(epochs.iter().copied().collect()),
            ..RunsRequest::default()
        },
    }
}

/// fig2a, fig2b from their source: every single-epoch perturbation against the baseline.
pub fn outputs(drawer: &Drawer, runs: &dyn Source) -> Result<Vec<Output>, String> {
    let model = drawer.model;
    let selected = &runs.selection().epochs;
    let epochs = || {
        selected
            .clone()
            .unwrap_or_else(|| paper::FIG2_EPOCHS.to_vec())
    };
    let table = if let (Some(directory), Model::Vit) = (runs.directory(), model) {
        // The original project's ViT effects table holds the deltas themselves.
        let loaded = directory.load(&request(model, &epochs()))?;
        Fig2Table::from_rows(model, loaded.vit_effects.unwrap_or_default())
    } else {
        let (baseline, curves) = match runs.directory() {
            Some(directory) => {
                let loaded = directory.load(&request(model, &epochs()))?;
                let baseline = source::baseline(&loaded, Model::ClipHba)?;
                let curves: Vec<_> = loaded
                    .single_epoch
                    .iter()
                    .map(|(&(kind, epoch), run)| (kind, epoch, run.curve()))
                    .collect();
                (baseline, curves)
            }
            None => {
                let dependencies = runs.dependencies()?;
                let baseline = dependencies.baseline.curve(model)?;
                let mut curves = Vec::new();
                for run in &dependencies.perturbed {
                    let Some((kind, start, 1)) = run.window else {
                        continue;
                    };
                    if selected.as_ref().is_some_and(|e| !e.contains(&start)) {
                        continue;
                    }
                    curves.push((kind, start, run.curve(model)?));
                }
                (baseline, curves)
            }
        };
        compute(
            model,
            &baseline,
            curves
                .iter()
                .map(|(kind, epoch, curve)| (*kind, *epoch, curve)),
        )
        .map_err(|error| error.to_string())?
    };
    Ok(vec![Output::of(drawer.name, &table)?])
}

/// fig2a or fig2b: grouped bars of Δ loss (panel A) and Δ alignment (panel B).
pub fn draw(table: &Fig2Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    render(table, format)
}

/// One colour per type (Okabe–Ito).
fn perturbation_colour(kind: Perturbation) -> RGBColor {
    match kind {
        Perturbation::ImageNoise => RGBColor(230, 159, 0),
        Perturbation::UniformImages => RGBColor(86, 180, 233),
        Perturbation::LabelShuffle => RGBColor(0, 158, 115),
        Perturbation::RandomTarget => RGBColor(213, 94, 0),
    }
}

impl Drawable for Fig2Table {
    fn numbers(&self) -> Table {
        self.to_table()
    }
}

impl Painting for Fig2Table {
    const SIZE: (u32, u32) = (1400, 560);

    fn name(&self) -> &'static str {
        by_model(self.model, "fig2a", "fig2b")
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn heading(&self) -> Option<(String, Option<&RunSetup>)> {
        let title = format!(
            "{} · {}: perturbed − baseline at epoch k, single-epoch perturbation at k",
            self.name(),
            self.model.label()
        );
        Some((title, self.setup.as_ref()))
    }

    fn paint<DB: DrawingBackend>(&self, body: &Area<DB>) -> Result<(), PlotError> {
        let (table, figure) = (self, self.name());
        let model = table.model;
        let kinds = table.perturbations();
        let legend: Vec<(String, RGBColor)> = kinds
            .iter()
            .map(|&kind| (kind.label().to_string(), perturbation_colour(kind)))
            .collect();
        let loss_caption = format!("A · Δ {}", model.loss_label());
        let rsa_caption = format!("B · Δ {}", model.alignment_label());
        let delta_loss: fn(&Fig2Row) -> f64 = |row| row.delta_loss;
        let delta_rsa: fn(&Fig2Row) -> f64 = |row| row.delta_rsa;
        let panels = [(&*loss_caption, delta_loss), (&*rsa_caption, delta_rsa)];
        two_panels(
            body,
            &legend,
            (1, 2),
            panels,
            figure,
            |panel, caption, value| grouped_deltas(panel, table, &kinds, caption, value, figure),
        )
    }
}

/// One fig2 panel: a group per epoch, a bar per type.
fn grouped_deltas<DB: DrawingBackend>(
    area: &Area<DB>,
    table: &Fig2Table,
    kinds: &[Perturbation],
    caption: &str,
    value: fn(&Fig2Row) -> f64,
    figure: &'static str,
) -> Result<(), PlotError> {
    let epochs = table.epochs();
    let groups = epochs.len() as f64;
    let y = Axis::of(table.rows.iter().map(value), true);
    let frame = Frame {
        caption: Some(caption),
        margin: (15, 15),
        label_areas: (50, 75),
    };
    let mut chart = frame.chart(area, -0.5..groups - 0.5, y.range(), figure)?;
    let y_format = |value: &f64| y.tick(value);
    let descriptions = ("perturbation epoch k", "perturbed − baseline");
    bar_mesh(&mut chart, descriptions, 0, &y_format, figure)?;
    let width = 0.8 / kinds.len().max(1) as f64;
    for (index, &kind) in kinds.iter().enumerate() {
        let colour = perturbation_colour(kind);
        let bars = table
            .rows
            .iter()
            .filter(|row| row.perturbation == kind)
            .filter_map(|row| {
                let group = epochs.iter().position(|&epoch| epoch == row.epoch)? as f64;
                let left = group - 0.4 + index as f64 * width;
                Some(Rectangle::new(
                    [(left, 0.0), (left + width * 0.92, value(row))],
                    colour.filled(),
                ))
            });
        chart.draw_series(bars).drawn(figure)?;
    }
    zero_line(&mut chart, (-0.5, groups - 0.5), figure)?;
    let labels = epochs.iter().map(u32::to_string);
    group_labels(area, &chart, labels, (0.0, y.low), figure)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::figures::curve::test_baseline as baseline;
    use crate::figures::curve::test_curve as curve;

    #[test]
    fn fig2_is_perturbed_minus_baseline_at_k() {
        let noise = curve("noise", 2, &[(9.0, 0.15), (7.0, 0.25)]);
        let shuffle = curve("shuffle", 3, &[(6.5, 0.2)]);
        let table = compute(
            Model::ClipHba,
            &baseline(),
            [
                (Perturbation::LabelShuffle, 3, &shuffle),
                (Perturbation::ImageNoise, 3, &noise),
                (Perturbation::ImageNoise, 2, &noise),
            ],
        )
        .unwrap();
        assert_eq!(
            table.to_table().to_csv(),
            "model,perturbation,epoch,delta_loss,delta_rsa\n\
             clip_hba,image_noise,2,1,-0.05000000000000002\n\
             clip_hba,image_noise,3,1,-0.04999999999999999\n\
             clip_hba,label_shuffle,3,0.5,-0.09999999999999998\n"
        );
        assert_eq!(table.epochs(), [2, 3]);
        let error = compute(
            Model::ClipHba,
            &baseline(),
            [(Perturbation::LabelShuffle, 5, &shuffle)],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "run `shuffle` has no epoch 5, needed for fig2 `label_shuffle` at epoch 5"
        );
    }
}
