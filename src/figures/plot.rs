//! Drawing the figure tables as PNG and SVG with plotters.
//!
//! Output is byte-deterministic: the only font is DejaVu Sans, embedded in the binary and
//! registered with plotters' `ab_glyph` support (no system font lookups, so a machine's fonts
//! cannot change the pixels); the bitmap is encoded with `png` at fixed settings; the SVG is
//! plotters' text output; nothing reads the clock or iterates a hash map. The same table gives
//! the same bytes.
//!
//! Each figure is one function from its table to the encoded bytes:
//! [`fig1`] (the S-curve), [`fig2`] (grouped Δ bars, two panels), [`fig3`] (Δ bars over every
//! epoch, two panels), [`fig4`] (recovery bars per start epoch, NR in red) and
//! [`fig4_heatmap`] (max-RSA deviation per window).
//!
//! Titles name the method (CLIP-HBA, ViT); the line under the title names the model and data
//! the runs actually trained ([`RunSetup`], from the baseline bundle's `config.json`), so a ci
//! figure says `model: ViT-tiny · data: things-synth` rather than claiming the paper's ViT-B/16.
//!
//! Group labels under grouped bars are drawn by hand at the group centres, because plotters'
//! automatic ticks fall on "nice" numbers, not on groups.

use std::fmt;
use std::sync::OnceLock;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform, register_font};

use super::compute::{Fig1Table, Fig2Table, Fig3Table, Fig4Table, Model, Sign};
use super::perturbation::Perturbation;
use super::setup::RunSetup;

mod curves;
pub use curves::{RunCurves, run_curves};

/// DejaVu Sans (Bitstream Vera licence, `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family every text uses; registering the embedded font under plotters' default family
/// name also covers the texts plotters styles itself (tick labels).
const FAMILY: &str = "sans-serif";

const TITLE_SIZE: f64 = 22.0;
const CAPTION_SIZE: f64 = 18.0;
const AXIS_SIZE: f64 = 16.0;
const LABEL_SIZE: f64 = 14.0;

const INK: RGBColor = RGBColor(30, 30, 30);
const GRID: RGBColor = RGBColor(225, 225, 225);
const LINE: RGBColor = RGBColor(31, 82, 155);
/// fig1: the labelled epochs.
const LABELLED: RGBColor = RGBColor(200, 60, 30);
/// fig1: how far apart (x, y pixels) two epoch labels must be to both be drawn.
const LABEL_CLEARANCE: (i32, i32) = (30, 18);
/// fig3: positive Δ.
const POSITIVE: RGBColor = RGBColor(26, 150, 65);
/// fig3: negative Δ.
const NEGATIVE: RGBColor = RGBColor(44, 102, 196);
/// fig4: "NR".
const NOT_RECOVERED: RGBColor = RGBColor(214, 39, 40);
/// fig4: the column behind "NR" (opaque, so grid lines do not cross it).
const NOT_RECOVERED_FILL: RGBColor = RGBColor(250, 218, 218);
/// fig4: a run cut by its epoch limit before it recovered (undecided).
const EPOCH_LIMIT: RGBColor = RGBColor(110, 110, 110);
/// fig4: the column behind "limit".
const EPOCH_LIMIT_FILL: RGBColor = RGBColor(228, 228, 228);
/// fig4: the size of the "NR" letters.
const NR_SIZE: f64 = 15.0;
/// fig4 heatmap: a window without a run.
const ABSENT: RGBColor = RGBColor(200, 200, 200);

/// fig4: one colour per length, a viridis ramp (ordered, colour-blind safe).
const LENGTH_COLOURS: [RGBColor; 7] = [
    RGBColor(68, 1, 84),
    RGBColor(68, 57, 131),
    RGBColor(49, 104, 142),
    RGBColor(33, 145, 140),
    RGBColor(53, 183, 121),
    RGBColor(144, 215, 67),
    RGBColor(223, 200, 30),
];

/// fig2: one colour per type (Okabe–Ito).
fn perturbation_colour(kind: Perturbation) -> RGBColor {
    match kind {
        Perturbation::ImageNoise => RGBColor(230, 159, 0),
        Perturbation::UniformImages => RGBColor(86, 180, 233),
        Perturbation::LabelShuffle => RGBColor(0, 158, 115),
        Perturbation::RandomTarget => RGBColor(213, 94, 0),
    }
}

/// The encoded image formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// A PNG bitmap.
    Png,
    /// An SVG document.
    Svg,
}

impl ImageFormat {
    /// Both, PNG first.
    pub const ALL: [ImageFormat; 2] = [ImageFormat::Png, ImageFormat::Svg];

    /// The file extension: `png` or `svg`.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Svg => "svg",
        }
    }
}

/// Why a figure could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlotError {
    /// The embedded font was refused by the font library.
    Font,
    /// The table has nothing to draw.
    EmptyTable { figure: &'static str },
    /// plotters failed while drawing.
    Draw {
        figure: &'static str,
        message: String,
    },
    /// The PNG encoder failed.
    Encode {
        figure: &'static str,
        message: String,
    },
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::Font => write!(f, "the embedded font `DejaVuSans.ttf` cannot be loaded"),
            PlotError::EmptyTable { figure } => {
                write!(f, "cannot draw `{figure}`: its table has no rows")
            }
            PlotError::Draw { figure, message } => {
                write!(f, "cannot draw `{figure}`: {message}")
            }
            PlotError::Encode { figure, message } => {
                write!(f, "cannot encode `{figure}` as png: {message}")
            }
        }
    }
}

impl std::error::Error for PlotError {}

/// fig1a or fig1b: the S-curve, alignment against loss (loss axis inverted).
pub fn fig1(table: &Fig1Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    let figure = by_model(table.model, "fig1a", "fig1b");
    let empty = table.points.is_empty();
    render(&Fig1Plot(table), figure, empty, format)
}

/// fig2a or fig2b: grouped bars of Δ loss (panel A) and Δ alignment (panel B).
pub fn fig2(table: &Fig2Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    let figure = by_model(table.model, "fig2a", "fig2b");
    let empty = table.rows.is_empty();
    render(&Fig2Plot(table), figure, empty, format)
}

/// fig3: Δ test loss (panel a) and Δ behavioural ρ (panel b) for every sweep epoch.
pub fn fig3(table: &Fig3Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    let empty = table.rows.is_empty();
    render(&Fig3Plot(table), "fig3", empty, format)
}

/// fig4: epochs to recovery, grouped by start epoch, one bar per length, NR in red.
pub fn fig4(table: &Fig4Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    let empty = table.rows.is_empty();
    render(&Fig4Plot(table), "fig4", empty, format)
}

/// fig4's companion: each run's max RSA minus the baseline's, per (start, length).
pub fn fig4_heatmap(table: &Fig4Table, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    let empty = table.rows.is_empty();
    render(&Fig4HeatmapPlot(table), "fig4_heatmap", empty, format)
}

/// Registers the embedded font once per process.
fn register_embedded_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered =
        *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if registered {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// A figure that can paint itself on any plotters backend.
trait Painting {
    /// Pixel size (also the SVG's).
    const SIZE: (u32, u32);
    /// Draws on a white area of [`Painting::SIZE`]; `figure` names it in errors.
    fn paint<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        figure: &'static str,
    ) -> Result<(), PlotError>;
}

/// The name of a figure panel drawn for either model (`fig1a` for CLIP-HBA, `fig1b` for the ViT).
fn by_model(model: Model, clip_hba: &'static str, vit: &'static str) -> &'static str {
    match model {
        Model::ClipHba => clip_hba,
        Model::Vit => vit,
    }
}

/// Paints figure `figure` (its name in errors: `fig1a`, …); `empty` says there is nothing to
/// draw.
fn render<P: Painting>(
    painting: &P,
    figure: &'static str,
    empty: bool,
    format: ImageFormat,
) -> Result<Vec<u8>, PlotError> {
    register_embedded_font()?;
    let (width, height) = P::SIZE;
    if empty {
        return Err(PlotError::EmptyTable { figure });
    }
    let drawn =
        |result: Result<(), String>| result.map_err(|message| PlotError::Draw { figure, message });
    match format {
        ImageFormat::Png => {
            let mut pixels = vec![255u8; width as usize * height as usize * 3];
            {
                let area =
                    BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
                area.fill(&WHITE).drawn(figure)?;
                painting.paint(&area, figure)?;
                drawn(area.present().map_err(|error| error.to_string()))?;
            }
            encode_png(&pixels, (width, height))
                .map_err(|message| PlotError::Encode { figure, message })
        }
        ImageFormat::Svg => {
            let mut svg = String::new();
            {
                let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                area.fill(&WHITE).drawn(figure)?;
                painting.paint(&area, figure)?;
                drawn(area.present().map_err(|error| error.to_string()))?;
            }
            Ok(svg.into_bytes())
        }
    }
}

/// Encodes RGB pixels with fixed settings, so the bytes depend on the pixels only.
fn encode_png(pixels: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    encoder.set_filter(png::Filter::Adaptive);
    let mut writer = encoder.write_header().map_err(|error| error.to_string())?;
    writer
        .write_image_data(pixels)
        .map_err(|error| error.to_string())?;
    writer.finish().map_err(|error| error.to_string())?;
    Ok(out)
}

/// plotters' drawing errors as [`PlotError::Draw`].
trait Drawn<T> {
    fn drawn(self, figure: &'static str) -> Result<T, PlotError>;
}

impl<T, E: std::error::Error + Send + Sync> Drawn<T> for Result<T, DrawingAreaErrorKind<E>> {
    fn drawn(self, figure: &'static str) -> Result<T, PlotError> {
        self.map_err(|error| PlotError::Draw {
            figure,
            message: error.to_string(),
        })
    }
}

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&INK)
}

/// Writes the title at the top and, under it, what the runs trained when their bundles say
/// (`model: ViT-tiny · data: things-synth`: the ci profile's runs are not the paper's models);
/// returns the area below.
fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    setup: Option<&RunSetup>,
    figure: &'static str,
) -> Result<DrawingArea<DB, Shift>, PlotError> {
    let body = area.titled(title, font(TITLE_SIZE)).drawn(figure)?;
    match setup {
        Some(setup) => body.titled(&setup.caption(), font(AXIS_SIZE)).drawn(figure),
        None => Ok(body),
    }
}

/// A centred row of legend entries (a swatch and a label each) across the top of `area`;
/// returns the area below it. Drawn outside the panels so it can never cover a bar.
fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor)],
    figure: &'static str,
) -> Result<DrawingArea<DB, Shift>, PlotError> {
    const HEIGHT: u32 = 30;
    const SWATCH: i32 = 14;
    const GAP: i32 = 8;
    const SPACING: i32 = 28;
    let (strip, rest) = area.split_vertically(HEIGHT);
    let style = font(LABEL_SIZE);
    let widths: Vec<i32> = entries
        .iter()
        .map(|(label, _)| {
            let (width, _) = style.font.box_size(label).unwrap_or((0, 0));
            SWATCH + GAP + width as i32
        })
        .collect();
    let total: i32 = widths.iter().sum::<i32>() + SPACING * (widths.len() as i32 - 1).max(0);
    let (strip_width, _) = strip.dim_in_pixel();
    let mut x = (strip_width as i32 - total) / 2;
    let middle = HEIGHT as i32 / 2;
    for ((label, colour), width) in entries.iter().zip(&widths) {
        strip
            .draw(&Rectangle::new(
                [(x, middle - SWATCH / 2), (x + SWATCH, middle + SWATCH / 2)],
                colour.filled(),
            ))
            .drawn(figure)?;
        strip
            .draw(&Text::new(
                label.clone(),
                (x + SWATCH + GAP, middle),
                style.pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .drawn(figure)?;
        x += width + SPACING;
    }
    Ok(rest)
}

/// A range around `values` (and 0 when `with_zero`), padded so bars and points clear the
/// frame; never empty.
fn padded_range(values: impl IntoIterator<Item = f64>, with_zero: bool) -> (f64, f64) {
    let (mut low, mut high) = if with_zero {
        (0.0, 0.0)
    } else {
        (f64::INFINITY, f64::NEG_INFINITY)
    };
    for value in values {
        low = low.min(value);
        high = high.max(value);
    }
    if !low.is_finite() || !high.is_finite() {
        return (0.0, 1.0);
    }
    let span = high - low;
    let pad = if span > 0.0 {
        span * 0.08
    } else {
        high.abs().max(1.0) * 0.1
    };
    // Bars start at 0, so the axis ends at 0 on a side with no bars (unless all are 0).
    let low_end = if with_zero && low == 0.0 && high > 0.0 {
        0.0
    } else {
        low - pad
    };
    let high_end = if with_zero && high == 0.0 && low < 0.0 {
        0.0
    } else {
        high + pad
    };
    (low_end, high_end)
}

/// Decimals for tick labels of a range: enough to tell ticks a tenth of the span apart.
fn tick_decimals(low: f64, high: f64) -> usize {
    let step = (high - low).abs() / 10.0;
    if step <= 0.0 || !step.is_finite() {
        return 2;
    }
    (-step.log10()).ceil().clamp(0.0, 6.0) as usize
}

/// An epoch axis' tick label: whole epochs only (plotters may put ticks between them on short
/// ranges, which are left blank).
fn epoch_tick(x: &f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// Formats a tick value with `decimals`, without a minus sign on zero.
fn tick(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

/// Every chart of the figures: f64 on both axes.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// `chart`'s mesh in the figures' style: grid lines at the major ticks only, the embedded font,
/// the axes described by `x_desc` and `y_desc`. The caller adds its labels and draws it.
fn mesh<'a, 'b, DB: DrawingBackend>(
    chart: &'b mut Chart<'a, DB>,
    x_desc: impl Into<String>,
    y_desc: impl Into<String>,
) -> MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB> {
    let mut style = chart.configure_mesh();
    style
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(font(AXIS_SIZE))
        .label_style(font(LABEL_SIZE));
    style
}

/// Labels under the x axis at chart coordinates `x` (group centres), drawn on `area` (the
/// panel the chart was built on).
fn group_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart<'_, DB>,
    labels: &[(f64, String)],
    y_bottom: f64,
    figure: &'static str,
) -> Result<(), PlotError> {
    let (base_x, base_y) = area.get_base_pixel();
    for (x, label) in labels {
        let (pixel_x, pixel_y) = chart.backend_coord(&(*x, y_bottom));
        area.draw(&Text::new(
            label.clone(),
            (pixel_x - base_x, pixel_y - base_y + 6),
            font(LABEL_SIZE).pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .drawn(figure)?;
    }
    Ok(())
}

/// A horizontal line at y = 0 across the chart, so positive and negative bars read apart.
fn zero_line<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    (left, right): (f64, f64),
    figure: &'static str,
) -> Result<(), PlotError> {
    chart
        .draw_series(LineSeries::new(
            [(left, 0.0), (right, 0.0)],
            INK.stroke_width(1),
        ))
        .drawn(figure)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// fig1

struct Fig1Plot<'t>(&'t Fig1Table);

impl Painting for Fig1Plot<'_> {
    const SIZE: (u32, u32) = (1000, 650);

    fn paint<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        figure: &'static str,
    ) -> Result<(), PlotError> {
        let table = self.0;
        let model = table.model;
        let title = format!(
            "{figure} · {} baseline: {} against {} (epochs {}–{})",
            model.label(),
            model.alignment_label(),
            model.loss_label(),
            table.points[0].epoch,
            table.cut_epoch
        );
        let body = titled(area, &title, table.setup.as_ref(), figure)?;
        // x is −loss, so the axis reads high loss on the left and training moves right.
        let (x_low, x_high) = padded_range(table.points.iter().map(|point| -point.loss), false);
        let (y_low, y_high) = padded_range(table.points.iter().map(|point| point.alignment), false);
        let x_decimals = tick_decimals(x_low, x_high);
        let y_decimals = tick_decimals(y_low, y_high);
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(x_low..x_high, y_low..y_high)
            .drawn(figure)?;
        let x_format = |x: &f64| tick(-*x, x_decimals);
        let y_format = |y: &f64| tick(*y, y_decimals);
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

// ---------------------------------------------------------------------------------------------
// fig2

struct Fig2Plot<'t>(&'t Fig2Table);

impl Painting for Fig2Plot<'_> {
    const SIZE: (u32, u32) = (1400, 560);

    fn paint<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        figure: &'static str,
    ) -> Result<(), PlotError> {
        let table = self.0;
        let model = table.model;
        let title = format!(
            "{figure} · {}: perturbed − baseline at epoch k, single-epoch perturbation at k",
            model.label()
        );
        let body = titled(area, &title, table.setup.as_ref(), figure)?;
        let kinds = table.perturbations();
        let legend: Vec<(String, RGBColor)> = kinds
            .iter()
            .map(|&kind| (kind.label().to_string(), perturbation_colour(kind)))
            .collect();
        let body = legend_row(&body, &legend, figure)?;
        let panels = body.split_evenly((1, 2));
        let loss_caption = format!("A · Δ {}", model.loss_label());
        let rsa_caption = format!("B · Δ {}", model.alignment_label());
        grouped_deltas(
            &panels[0],
            table,
            &kinds,
            &loss_caption,
            |row| row.delta_loss,
            figure,
        )?;
        grouped_deltas(
            &panels[1],
            table,
            &kinds,
            &rsa_caption,
            |row| row.delta_rsa,
            figure,
        )?;
        Ok(())
    }
}

/// One fig2 panel: a group per epoch, a bar per type.
fn grouped_deltas<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    table: &Fig2Table,
    kinds: &[Perturbation],
    caption: &str,
    value: impl Fn(&super::compute::Fig2Row) -> f64,
    figure: &'static str,
) -> Result<(), PlotError> {
    let epochs = table.epochs();
    let groups = epochs.len() as f64;
    let (y_low, y_high) = padded_range(table.rows.iter().map(&value), true);
    let y_decimals = tick_decimals(y_low, y_high);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(CAPTION_SIZE))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(75)
        .build_cartesian_2d(-0.5..groups - 0.5, y_low..y_high)
        .drawn(figure)?;
    let y_format = |y: &f64| tick(*y, y_decimals);
    mesh(&mut chart, "perturbation epoch k", "perturbed − baseline")
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&y_format)
        .draw()
        .drawn(figure)?;
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
    let labels: Vec<(f64, String)> = epochs
        .iter()
        .enumerate()
        .map(|(group, epoch)| (group as f64, epoch.to_string()))
        .collect();
    group_labels(area, &chart, &labels, y_low, figure)
}

// ---------------------------------------------------------------------------------------------
// fig3

struct Fig3Plot<'t>(&'t Fig3Table);

impl Painting for Fig3Plot<'_> {
    const SIZE: (u32, u32) = (1400, 820);

    fn paint<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        figure: &'static str,
    ) -> Result<(), PlotError> {
        let table = self.0;
        let body = titled(
            area,
            "fig3 · CLIP-HBA: single-epoch target noise at epoch k, perturbed − baseline at k",
            table.setup.as_ref(),
            figure,
        )?;
        let legend = [
            ("positive (perturbed > baseline)".to_string(), POSITIVE),
            ("negative (perturbed < baseline)".to_string(), NEGATIVE),
        ];
        let body = legend_row(&body, &legend, figure)?;
        let panels = body.split_evenly((2, 1));
        sweep_panel(
            &panels[0],
            table,
            "a · Δ test loss",
            |row| row.delta_loss,
            figure,
        )?;
        sweep_panel(
            &panels[1],
            table,
            "b · Δ behavioural alignment (Spearman ρ)",
            |row| row.delta_rsa,
            figure,
        )
    }
}

/// One fig3 panel: a bar per sweep epoch, coloured by sign.
fn sweep_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    table: &Fig3Table,
    caption: &str,
    value: impl Fn(&super::compute::Fig3Row) -> f64,
    figure: &'static str,
) -> Result<(), PlotError> {
    let first = table.rows.first().map_or(1, |row| row.epoch) as f64;
    let last = table.rows.last().map_or(1, |row| row.epoch) as f64;
    let (y_low, y_high) = padded_range(table.rows.iter().map(&value), true);
    let y_decimals = tick_decimals(y_low, y_high);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(CAPTION_SIZE))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(first - 0.7..last + 0.7, y_low..y_high)
        .drawn(figure)?;
    let y_format = |y: &f64| tick(*y, y_decimals);
    mesh(&mut chart, "perturbed epoch k", "perturbed − baseline")
        .disable_x_mesh()
        .x_labels(12)
        .x_label_formatter(&epoch_tick)
        .y_label_formatter(&y_format)
        .draw()
        .drawn(figure)?;
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

// ---------------------------------------------------------------------------------------------
// fig4

struct Fig4Plot<'t>(&'t Fig4Table);

impl Painting for Fig4Plot<'_> {
    const SIZE: (u32, u32) = (1400, 620);

    fn paint<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        figure: &'static str,
    ) -> Result<(), PlotError> {
        let table = self.0;
        let body = titled(
            area,
            &format!(
                "fig4 · CLIP-HBA: epochs to recover after target noise for L epochs \
                 (baseline cut at epoch {})",
                table.baseline_cut_epoch
            ),
            table.setup.as_ref(),
            figure,
        )?;
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
        let body = legend_row(&body, &legend, figure)?;

        let groups = starts.len() as f64;
        let highest = table
            .rows
            .iter()
            .filter_map(|row| row.epochs_to_recovery())
            .max()
            .unwrap_or(1)
            .max(1);
        let y_high = f64::from(highest) * 1.12;
        let mut chart = ChartBuilder::on(&body)
            .margin(15)
            .x_label_area_size(55)
            .y_label_area_size(75)
            .build_cartesian_2d(-0.5..groups - 0.5, 0.0..y_high)
            .drawn(figure)?;
        let y_format = |y: &f64| {
            if y.fract() == 0.0 {
                format!("{y:.0}")
            } else {
                String::new()
            }
        };
        mesh(
            &mut chart,
            "start epoch E (one bar per length L)",
            "epochs to recovery (recovery − end)",
        )
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&y_format)
        .draw()
        .drawn(figure)?;

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
        let labels: Vec<(f64, String)> = starts
            .iter()
            .enumerate()
            .map(|(group, start)| (group as f64, format!("E = {start}")))
            .collect();
        group_labels(&body, &chart, &labels, 0.0, figure)
    }
}

/// The colour of the `index`-th length; cycles if a design has more than seven lengths.
fn length_colour(index: usize) -> RGBColor {
    LENGTH_COLOURS[index % LENGTH_COLOURS.len()]
}

struct Fig4HeatmapPlot<'t>(&'t Fig4Table);

impl Painting for Fig4HeatmapPlot<'_> {
    const SIZE: (u32, u32) = (1100, 720);

    fn paint<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        figure: &'static str,
    ) -> Result<(), PlotError> {
        let table = self.0;
        let body = titled(
            area,
            &format!(
                "fig4 · max behavioural ρ of each run − baseline max ({:.3})",
                table.baseline_max_rsa
            ),
            table.setup.as_ref(),
            figure,
        )?;
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
        let mut chart = ChartBuilder::on(&cells)
            .margin(15)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..columns, 0.0..rows)
            .drawn(figure)?;
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
                let (base_x, base_y) = cells.get_base_pixel();
                let (pixel_x, pixel_y) = chart.backend_coord(&(x + 0.5, y + 0.5));
                cells
                    .draw(&Text::new(
                        text,
                        (pixel_x - base_x, pixel_y - base_y),
                        font(LABEL_SIZE).pos(Pos::new(HPos::Center, VPos::Center)),
                    ))
                    .drawn(figure)?;
            }
        }
        let column_labels: Vec<(f64, String)> = lengths
            .iter()
            .enumerate()
            .map(|(index, length)| (index as f64 + 0.5, length.to_string()))
            .collect();
        group_labels(&cells, &chart, &column_labels, 0.0, figure)?;
        let (base_x, base_y) = cells.get_base_pixel();
        for (index, start) in starts.iter().enumerate() {
            let (pixel_x, pixel_y) = chart.backend_coord(&(0.0, rows - index as f64 - 0.5));
            cells
                .draw(&Text::new(
                    start.to_string(),
                    (pixel_x - base_x - 8, pixel_y - base_y),
                    font(LABEL_SIZE).pos(Pos::new(HPos::Right, VPos::Center)),
                ))
                .drawn(figure)?;
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
    area: &DrawingArea<DB, Shift>,
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

    #[test]
    fn ranges_and_ticks() {
        let close = |(low, high): (f64, f64), expected: (f64, f64)| {
            assert!((low - expected.0).abs() < 1e-12, "{low} vs {}", expected.0);
            assert!(
                (high - expected.1).abs() < 1e-12,
                "{high} vs {}",
                expected.1
            );
        };
        close(padded_range([1.0, 2.0], false), (0.92, 2.08));
        close(padded_range([], false), (0.0, 1.0));
        close(padded_range([0.0], true), (-0.1, 0.1));
        close(padded_range([0.5, 1.5], true), (0.0, 1.62));
        close(padded_range([-0.5, -1.5], true), (-1.62, 0.0));
        assert_eq!(tick_decimals(0.0, 1.0), 1);
        assert_eq!(tick(-0.0001, 2), "0.00");
        assert_eq!(tick(-0.25, 2), "-0.25");
    }

    #[test]
    fn diverging_colours() {
        assert_eq!(diverging(0.0, 1.0), WHITE);
        assert_eq!(diverging(1.0, 1.0), RGBColor(178, 24, 43));
        assert_eq!(diverging(-5.0, 1.0), RGBColor(33, 102, 172));
        assert_eq!(diverging(0.3, 0.0), WHITE);
    }
}
