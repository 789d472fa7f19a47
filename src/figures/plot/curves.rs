//! One training run's per-epoch curves, drawn beside its baseline's: the held-out loss (left)
//! and the alignment with humans (right), with the perturbed epochs shaded.
//!
//! The HTML report draws one of these per run (small multiples), so a reader sees where a
//! perturbed run left the baseline and whether it came back. It shares the figures' painting
//! code (embedded font, byte-deterministic output), so the same curves give the same bytes.

use plotters::prelude::*;

use super::{
    Area, Drawn, GRID, ImageFormat, LABEL_SIZE, LINE, Painting, PlotError, epoch_tick, font,
    padded_range, render, tick, tick_decimals, two_panels,
};
use crate::figures::compute::Model;
use crate::figures::curve::{Curve, CurvePoint};
use crate::figures::setup::RunSetup;

/// The baseline's line.
const BASELINE: RGBColor = RGBColor(150, 150, 150);
/// Behind the perturbed epochs.
const PERTURBED: RGBColor = RGBColor(250, 218, 218);
/// Lines with at most this many epochs also get a dot per epoch (a one-epoch run is a dot).
const DOTTED_UP_TO: usize = 40;
/// How many of the baseline's epochs past the run's last one are shown.
const CONTEXT_EPOCHS: u32 = 2;

/// What one run's curves show.
#[derive(Debug, Clone)]
pub struct RunCurves<'c> {
    /// Which losses and alignments these are (their axis labels).
    pub model: Model,
    /// The run's name in the legend.
    pub run_label: String,
    /// The run.
    pub run: &'c Curve,
    /// Its baseline and the baseline's name in the legend (none for a baseline itself).
    pub baseline: Option<(String, &'c Curve)>,
    /// The perturbed epochs, first and last, shaded.
    pub perturbed: Option<(u32, u32)>,
}

/// Draws `curves` (both panels side by side).
pub fn run_curves(curves: &RunCurves<'_>, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    render(&RunCurvesPlot(curves), format)
}

struct RunCurvesPlot<'p, 'c>(&'p RunCurves<'c>);

impl RunCurvesPlot<'_, '_> {
    /// The epochs shown: the run's, and the baseline's up to a few epochs past where the run
    /// ends (a run that stopped at its perturbed epoch is compared with the baseline around it,
    /// not with all of it).
    fn epoch_range(&self) -> (f64, f64) {
        let curves = self.0;
        let run_last = curves.run.last_epoch().unwrap_or(1);
        let baseline_last = curves
            .baseline
            .as_ref()
            .and_then(|(_, baseline)| baseline.last_epoch())
            .unwrap_or(run_last);
        let last = run_last.max(baseline_last.min(run_last + CONTEXT_EPOCHS));
        let first = curves
            .baseline
            .iter()
            .flat_map(|(_, baseline)| baseline.points.first())
            .chain(curves.run.points.first())
            .map(|point| point.epoch)
            .min()
            .unwrap_or(1);
        (f64::from(first) - 0.5, f64::from(last.max(first)) + 0.5)
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        caption: &str,
        value: impl Fn(&CurvePoint) -> f64,
        figure: &'static str,
    ) -> Result<(), PlotError> {
        let curves = self.0;
        let (x_low, x_high) = self.epoch_range();
        let shown = |epoch: u32| f64::from(epoch) >= x_low && f64::from(epoch) <= x_high;
        let baseline_points: Vec<(f64, f64)> = curves
            .baseline
            .iter()
            .flat_map(|(_, baseline)| baseline.points.iter())
            .filter(|point| shown(point.epoch))
            .map(|point| (f64::from(point.epoch), value(point)))
            .collect();
        let run_points: Vec<(f64, f64)> = curves
            .run
            .points
            .iter()
            .map(|point| (f64::from(point.epoch), value(point)))
            .collect();
        let (y_low, y_high) = padded_range(
            baseline_points.iter().chain(&run_points).map(|&(_, y)| y),
            false,
        );
        let y_decimals = tick_decimals(y_low, y_high);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, font(LABEL_SIZE))
            .margin(8)
            .margin_right(16)
            .x_label_area_size(34)
            .y_label_area_size(58)
            .build_cartesian_2d(x_low..x_high, y_low..y_high)
            .drawn(figure)?;
        let y_format = |y: &f64| tick(*y, y_decimals);
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels(8)
            .y_labels(5)
            .x_desc("epoch")
            .axis_desc_style(font(LABEL_SIZE - 2.0))
            .label_style(font(LABEL_SIZE - 2.0))
            .x_label_formatter(&epoch_tick)
            .y_label_formatter(&y_format)
            .draw()
            .drawn(figure)?;
        if let Some((first, last)) = curves.perturbed {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (f64::from(first) - 0.5, y_low),
                        (f64::from(last) + 0.5, y_high),
                    ],
                    PERTURBED.filled(),
                )))
                .drawn(figure)?;
        }
        if baseline_points.len() <= DOTTED_UP_TO {
            chart
                .draw_series(
                    baseline_points
                        .iter()
                        .map(|&point| Circle::new(point, 2, BASELINE.filled())),
                )
                .drawn(figure)?;
        }
        chart
            .draw_series(LineSeries::new(baseline_points, BASELINE.stroke_width(2)))
            .drawn(figure)?;
        chart
            .draw_series(LineSeries::new(
                run_points.iter().copied(),
                LINE.stroke_width(2),
            ))
            .drawn(figure)?;
        if run_points.len() <= DOTTED_UP_TO {
            chart
                .draw_series(
                    run_points
                        .iter()
                        .map(|&point| Circle::new(point, 3, LINE.filled())),
                )
                .drawn(figure)?;
        }
        Ok(())
    }
}

impl Painting for RunCurvesPlot<'_, '_> {
    const SIZE: (u32, u32) = (820, 300);

    fn name(&self) -> &'static str {
        "run curves"
    }

    fn is_empty(&self) -> bool {
        self.0.run.points.is_empty()
    }

    fn heading(&self) -> Option<(String, Option<&RunSetup>)> {
        None
    }

    fn paint<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), PlotError> {
        let figure = self.name();
        let curves = self.0;
        let mut legend = vec![(curves.run_label.clone(), LINE)];
        if let Some((label, _)) = &curves.baseline {
            legend.push((label.clone(), BASELINE));
        }
        if curves.perturbed.is_some() {
            legend.push(("perturbed epochs".to_string(), PERTURBED));
        }
        let loss: fn(&CurvePoint) -> f64 = |point| point.loss;
        let alignment: fn(&CurvePoint) -> f64 = |point| point.alignment;
        let panels = [
            (curves.model.loss_label(), loss),
            (curves.model.alignment_label(), alignment),
        ];
        two_panels(
            area,
            &legend,
            (1, 2),
            panels,
            figure,
            |panel, caption, value| self.panel(panel, caption, value, figure),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(first: u32, values: &[(f64, f64)]) -> Curve {
        crate::figures::curve::test_curve("test", first, values)
    }

    #[test]
    fn curves_are_deterministic_and_show_both_lines() {
        let baseline = curve(1, &[(5.0, 0.1), (4.0, 0.2), (3.5, 0.25), (3.4, 0.3)]);
        let run = curve(2, &[(4.5, 0.05), (3.9, 0.15)]);
        let curves = RunCurves {
            model: Model::ClipHba,
            run_label: "sweep_e2".into(),
            run: &run,
            baseline: Some(("hba_baseline".into(), &baseline)),
            perturbed: Some((2, 2)),
        };
        let svg = run_curves(&curves, ImageFormat::Svg).unwrap();
        assert_eq!(svg, run_curves(&curves, ImageFormat::Svg).unwrap());
        let text = String::from_utf8(svg).unwrap();
        assert!(text.contains("sweep_e2") && text.contains("hba_baseline"));
        assert!(text.contains("test loss") && text.contains("Spearman"));
        // Two panels, each with a baseline line and a run line.
        // (The axes are black polylines too.)
        let lines = |stroke: &str| {
            text.matches(&format!("stroke=\"{stroke}\" stroke-width=\"2\""))
                .count()
        };
        assert_eq!((lines("#969696"), lines("#1F529B")), (2, 2), "{text}");
        let empty = curve(1, &[]);
        let nothing = RunCurves {
            run: &empty,
            ..curves.clone()
        };
        assert!(run_curves(&nothing, ImageFormat::Svg).is_err());
    }
}
