//! fig1a and fig1b: the baseline's S-curve, alignment against loss, from its first epoch to
//! its minimum-loss epoch (ties: the first; the ViT's: every epoch), epochs 1, 5, 10, 15, …
//! labelled. Its table and CSV, its computation, its drawing (loss axis inverted, so training
//! moves right), the runs it requests and its outputs.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ImageFormat;
use super::compute::{ComputeError, Model};
use super::curve::Curve;
use super::plot::{
    Area, Axis, Drawn, Frame, INK, LABEL_SIZE, LINE, Painting, PlotError, by_model, font, mesh,
    render,
};
use super::runs::RunsRequest;
use super::setup::RunSetup;
use super::source::{self, Drawable, Drawer, Output, Source};
use super::table::Table;

/// fig1: the labelled epochs.
const LABELLED: RGBColor = RGBColor(200, 60, 30);
/// fig1: how far apart (x, y pixels) two epoch labels must be to both be drawn.
const LABEL_CLEARANCE: (i32, i32) = (30, 18);

/// fig1a (CLIP-HBA): the epochs labelled on the curve, besides the cut epoch.
pub const CLIP_LABELLED_EPOCHS: [u32; 4] = [1, 5, 10, 15];

/// fig1b (ViT): the epochs labelled on the curve, as the original notebook labels them.
pub const VIT_LABELLED_EPOCHS: [u32; 5] = [1, 5, 11, 17, 40];

/// Whether fig1 labels `epoch` on `model`'s curve cut at `cut_epoch`: CLIP-HBA's 1, 5, 10, 15
/// and the cut epoch; the ViT's 1, 5, 11, 17, 40.
pub fn is_labelled_epoch(model: Model, epoch: u32, cut_epoch: u32) -> bool {
    match model {
        Model::ClipHba => CLIP_LABELLED_EPOCHS.contains(&epoch) || epoch == cut_epoch,
        Model::Vit => VIT_LABELLED_EPOCHS.contains(&epoch),
    }
}

/// One point of the S-curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fig1Point {
    /// Epoch.
    pub epoch: u32,
    /// Loss at that epoch.
    pub loss: f64,
    /// Alignment at that epoch.
    pub alignment: f64,
    /// Whether the plot writes the epoch next to the point.
    pub labelled: bool,
}

/// fig1a or fig1b: the baseline's S-curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Fig1Table {
    /// Whose baseline.
    pub model: Model,
    /// What the baseline trained, when its bundle says (the plot's caption line).
    pub setup: Option<RunSetup>,
    /// The minimum-loss epoch the curve stops at.
    pub cut_epoch: u32,
    /// The points, by epoch.
    pub points: Vec<Fig1Point>,
}

impl Fig1Table {
    /// Columns `epoch,<loss column>,<alignment column>,labelled`, with the results CSV's names
    /// (`test_loss,behavioral_rsa_rho` or `val_loss,rsa_score`).
    pub fn to_table(&self) -> Table {
        let mut table = Table::new(&[
            "epoch",
            self.model.loss_column(),
            self.model.alignment_column(),
            "labelled",
        ]);
        for point in &self.points {
            table.push(vec![
                point.epoch.into(),
                point.loss.into(),
                point.alignment.into(),
                point.labelled.into(),
            ]);
        }
        table
    }
}

/// fig1: CLIP-HBA's baseline up to its minimum-loss epoch (ties: the first); the ViT's
/// whole run, as the original notebook draws it (its `cut_epoch` is then the last epoch).
pub fn compute(model: Model, baseline: &Curve) -> Result<Fig1Table, ComputeError> {
    let empty = || ComputeError::EmptyBaseline {
        curve: baseline.name.clone(),
    };
    let cut_epoch = match model {
        Model::ClipHba => baseline.min_loss_point().ok_or_else(empty)?.epoch,
        Model::Vit => baseline.last_epoch().ok_or_else(empty)?,
    };
    let points = baseline
        .points
        .iter()
        .take_while(|point| point.epoch <= cut_epoch)
        .map(|point| Fig1Point {
            epoch: point.epoch,
            loss: point.loss,
            alignment: point.alignment,
            labelled: is_labelled_epoch(model, point.epoch, cut_epoch),
        })
        .collect();
    Ok(Fig1Table {
        model,
        setup: baseline.setup.clone(),
        cut_epoch,
        points,
    })
}

/// The runs fig1 reads from a runs directory: `model`'s baseline.
pub fn request(model: Model) -> RunsRequest {
    RunsRequest {
        clip_baseline: model == Model::ClipHba,
        vit_baseline: model == Model::Vit,
        ..RunsRequest::default()
    }
}

/// fig1a, fig1b from their source: the baseline's alignment against its loss.
pub fn outputs(drawer: &Drawer, runs: &dyn Source) -> Result<Vec<Output>, String> {
    let model = drawer.model;
    let curve = match runs.directory() {
        Some(directory) => source::baseline(&directory.load(&request(model))?, model)?,
        None => runs.dependencies()?.baseline.curve(model)?,
    };
    let table = compute(model, &curve).map_err(|error| error.to_string())?;
    Ok(vec![Output::of(drawer.name, &table)?])
}

/// fig1a or fig1b: the S-curve, alignment against loss (loss axis inverted).
pub fn draw(table: &Fig1Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    render(table, format)
}

impl Drawable for Fig1Table {
    fn numbers(&self) -> Table {
        self.to_table()
    }
}

impl Painting for Fig1Table {
    const SIZE: (u32, u32) = (1000, 650);

    fn name(&self) -> &'static str {
        by_model(self.model, "fig1a", "fig1b")
    }

    fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    fn heading(&self) -> Option<(String, Option<&RunSetup>)> {
        let table = self;
        let model = table.model;
        let title = format!(
            "{} · {} baseline: {} against {} (epochs {}–{})",
            self.name(),
            model.label(),
            model.alignment_label(),
            model.loss_label(),
            table.points[0].epoch,
            table.cut_epoch
        );
        Some((title, table.setup.as_ref()))
    }

    fn paint<DB: DrawingBackend>(&self, body: &Area<DB>) -> Result<(), PlotError> {
        let (table, figure) = (self, self.name());
        let model = table.model;
        // x is −loss, so the axis reads high loss on the left and training moves right.
        let x = Axis::of(table.points.iter().map(|point| -point.loss), false);
        let y = Axis::of(table.points.iter().map(|point| point.alignment), false);
        let frame = Frame {
            caption: None,
            margin: (20, 40),
            label_areas: (55, 80),
        };
        let mut chart = frame.chart(body, x.range(), y.range(), figure)?;
        let x_format = |value: &f64| x.tick(&-*value);
        let y_format = |value: &f64| y.tick(value);
        mesh(
            &mut chart,
            format!(
                "{} (axis inverted: training moves right →)",
                model.loss_label()
            ),
            model.alignment_label(),
        )
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .draw()
        .drawn(figure)?;
        let line: Vec<(f64, f64)> = table
            .points
            .iter()
            .map(|point| (-point.loss, point.alignment))
            .collect();
        chart
            .draw_series(LineSeries::new(line.iter().copied(), LINE.stroke_width(2)))
            .drawn(figure)?;
        chart
            .draw_series(
                line.iter()
                    .map(|&point| Circle::new(point, 3, LINE.filled())),
            )
            .drawn(figure)?;
        // Late epochs bunch up where the curve flattens; a label that would overprint one
        // already placed is left out, so every label stays readable. The last labelled epoch
        // (fig1a's cut) is placed first, so it is never the one left out.
        let mut placed: Vec<(i32, i32)> = Vec::new();
        let mut shown = Vec::new();
        let mut labelled: Vec<_> = table.points.iter().filter(|point| point.labelled).collect();
        if !labelled.is_empty() {
            labelled.rotate_right(1);
        }
        for point in labelled {
            let (x, y) = chart.backend_coord(&(-point.loss, point.alignment));
            let clear = placed.iter().all(|&(px, py)| {
                (px - x).abs() >= LABEL_CLEARANCE.0 || (py - y).abs() >= LABEL_CLEARANCE.1
            });
            if clear {
                placed.push((x, y));
                shown.push(point);
            }
        }
        chart
            .draw_series(shown.into_iter().map(|point| {
                // A short leader line from the point up-left to its epoch.
                EmptyElement::at((-point.loss, point.alignment))
                    + Circle::new((0, 0), 5, LABELLED.filled())
                    + PathElement::new(vec![(-3, -3), (-11, -11)], INK.stroke_width(1))
                    + Text::new(
                        point.epoch.to_string(),
                        (-12, -12),
                        font(LABEL_SIZE).pos(Pos::new(HPos::Right, VPos::Bottom)),
                    )
            }))
            .drawn(figure)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::figures::curve::test_baseline as baseline;
    use crate::figures::curve::test_curve as curve;

    #[test]
    fn fig1_stops_at_the_first_minimum() {
        let table = compute(Model::ClipHba, &baseline()).unwrap();
        assert_eq!(table.cut_epoch, 4);
        let epochs: Vec<u32> = table.points.iter().map(|point| point.epoch).collect();
        assert_eq!(epochs, [1, 2, 3, 4]);
        assert!(table.points[0].labelled && !table.points[1].labelled);
        assert!(table.points[3].labelled, "the cut epoch is labelled");
        let clip = |epoch| is_labelled_epoch(Model::ClipHba, epoch, 98);
        assert!(clip(5) && clip(10) && clip(15) && clip(98));
        assert!(
            !clip(20) && !clip(16) && !clip(95),
            "no label past 15 but the cut"
        );
        let vit = |epoch| is_labelled_epoch(Model::Vit, epoch, 100);
        assert!([1, 5, 11, 17, 40].into_iter().all(vit));
        assert!(!vit(10) && !vit(15) && !vit(100));
        assert_eq!(
            table.to_table().to_csv(),
            "epoch,test_loss,behavioral_rsa_rho,labelled\n\
             1,10,0.1,true\n2,8,0.2,false\n3,6,0.3,false\n4,5,0.4,true\n"
        );
        // The ViT's curve is drawn whole, not cut at its minimum (epoch 4 here).
        let vit_table = compute(Model::Vit, &baseline()).unwrap();
        assert_eq!(vit_table.points.len(), 7);
        assert_eq!(vit_table.cut_epoch, 7);
        let vit = vit_table.to_table();
        assert_eq!(vit.columns, ["epoch", "val_loss", "rsa_score", "labelled"]);
        assert_eq!(
            compute(Model::Vit, &curve("empty", 1, &[])).unwrap_err(),
            ComputeError::EmptyBaseline {
                curve: "empty".into()
            }
        );
    }
}
