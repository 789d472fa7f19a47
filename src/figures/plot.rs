//! The drawing every figure shares, with plotters: the embedded font, PNG and SVG encoding,
//! titles, legends, value ranges and ticks, charts, bar meshes, zero lines and labels placed
//! at chart coordinates. Each figure's own painting lives in its module (`fig1` … `fig4`) and
//! is made of these pieces; [`run_curves`] draws one run beside its baseline for the report.
//!
//! Output is byte-deterministic: the only font is DejaVu Sans, embedded in the binary and
//! registered with plotters' `ab_glyph` support (no system font lookups, so a machine's fonts
//! cannot change the pixels); the bitmap is encoded with `png` at fixed settings; the SVG is
//! plotters' text output; nothing reads the clock or iterates a hash map. The same table gives
//! the same bytes.
//!
//! Titles name the method (CLIP-HBA, ViT); the line under the title names the model and data
//! the runs actually trained ([`RunSetup`], from the baseline bundle's `config.json`), so a ci
//! figure says `model: ViT-tiny · data: things-synth` rather than claiming the paper's ViT-B/16.
//!
//! Group labels under grouped bars are drawn by hand at the group centres, because plotters'
//! automatic ticks fall on "nice" numbers, not on groups.

use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::compute::Model;
use super::setup::RunSetup;

mod curves;
pub use curves::{RunCurves, run_curves};

/// DejaVu Sans (Bitstream Vera licence, `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family every text uses; registering the embedded font under plotters' default family
/// name also covers the texts plotters styles itself (tick labels).
pub(super) const FAMILY: &str = "sans-serif";

const TITLE_SIZE: f64 = 22.0;
pub(super) const CAPTION_SIZE: f64 = 18.0;
pub(super) const AXIS_SIZE: f64 = 16.0;
pub(super) const LABEL_SIZE: f64 = 14.0;

pub(super) const INK: RGBColor = RGBColor(30, 30, 30);
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);
pub(super) const LINE: RGBColor = RGBColor(31, 82, 155);

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

/// A drawing area of any plotters backend.
pub(super) type Area<DB> = DrawingArea<DB, Shift>;

/// A figure that can paint itself on any plotters backend.
pub(super) trait Painting {
    /// Pixel size (also the SVG's).
    const SIZE: (u32, u32);

    /// Its name in errors (`fig1a`, …).
    fn name(&self) -> &'static str;

    /// Whether there is nothing to draw (an error, never an empty picture).
    fn is_empty(&self) -> bool;

    /// The title, and what the runs trained for the line under it; `None`: no title.
    fn heading(&self) -> Option<(String, Option<&RunSetup>)>;

    /// Draws on `area`: white, of [`Painting::SIZE`], below the heading.
    fn paint<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), PlotError>;
}

/// The name of a figure panel drawn for either model (`fig1a` for CLIP-HBA, `fig1b` for the ViT).
pub(super) fn by_model(model: Model, clip_hba: &'static str, vit: &'static str) -> &'static str {
    match model {
        Model::ClipHba => clip_hba,
        Model::Vit => vit,
    }
}

/// Paints `painting` in `format`.
pub(super) fn render<P: Painting>(painting: &P, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    register_embedded_font()?;
    let figure = painting.name();
    let (width, height) = P::SIZE;
    if painting.is_empty() {
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
                headed(painting, &area, figure)?;
                drawn(area.present().map_err(|error| error.to_string()))?;
            }
            crate::data::images::encode_rgb_png(&pixels, width, height)
                .map_err(|message| PlotError::Encode { figure, message })
        }
        ImageFormat::Svg => {
            let mut svg = String::new();
            {
                let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                area.fill(&WHITE).drawn(figure)?;
                headed(painting, &area, figure)?;
                drawn(area.present().map_err(|error| error.to_string()))?;
            }
            Ok(svg.into_bytes())
        }
    }
}

/// Writes `painting`'s heading, if any, then paints it below.
fn headed<P: Painting, DB: DrawingBackend>(
    painting: &P,
    area: &Area<DB>,
    figure: &'static str,
) -> Result<(), PlotError> {
    match painting.heading() {
        Some((title, setup)) => painting.paint(&titled(area, &title, setup, figure)?),
        None => painting.paint(area),
    }
}

/// plotters' drawing errors as [`PlotError::Draw`].
pub(super) trait Drawn<T> {
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

pub(super) fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&INK)
}

/// Writes the title at the top and, under it, what the runs trained when their bundles say
/// (`model: ViT-tiny · data: things-synth`: the ci profile's runs are not the paper's models);
/// returns the area below.
fn titled<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    setup: Option<&RunSetup>,
    figure: &'static str,
) -> Result<Area<DB>, PlotError> {
    let body = area.titled(title, font(TITLE_SIZE)).drawn(figure)?;
    match setup {
        Some(setup) => body.titled(&setup.caption(), font(AXIS_SIZE)).drawn(figure),
        None => Ok(body),
    }
}

/// A centred row of legend entries (a swatch and a label each) across the top of `area`;
/// returns the area below it. Drawn outside the panels so it can never cover a bar.
pub(super) fn legend_row<DB: DrawingBackend>(
    area: &Area<DB>,
    entries: &[(String, RGBColor)],
    figure: &'static str,
) -> Result<Area<DB>, PlotError> {
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
pub(super) fn padded_range(values: impl IntoIterator<Item = f64>, with_zero: bool) -> (f64, f64) {
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
pub(super) fn tick_decimals(low: f64, high: f64) -> usize {
    let step = (high - low).abs() / 10.0;
    if step <= 0.0 || !step.is_finite() {
        return 2;
    }
    (-step.log10()).ceil().clamp(0.0, 6.0) as usize
}

/// An epoch axis' tick label: whole epochs only (plotters may put ticks between them on short
/// ranges, which are left blank).
pub(super) fn epoch_tick(x: &f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// Formats a tick value with `decimals`, without a minus sign on zero.
pub(super) fn tick(value: f64, decimals: usize) -> String {
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
pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// `chart`'s mesh in the figures' style: grid lines at the major ticks only, the embedded font,
/// the axes described by `x_desc` and `y_desc`. The caller adds its labels and draws it.
pub(super) fn mesh<'a, 'b, DB: DrawingBackend>(
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

/// A value axis: a range padded around its values (see [`padded_range`]) and the decimals
/// its tick labels need.
#[derive(Debug, Clone, Copy)]
pub(super) struct Axis {
    pub low: f64,
    pub high: f64,
    decimals: usize,
}

impl Axis {
    /// The axis of `values`, and 0 when `with_zero` (bars start at 0).
    pub fn of(values: impl IntoIterator<Item = f64>, with_zero: bool) -> Axis {
        let (low, high) = padded_range(values, with_zero);
        Axis {
            low,
            high,
            decimals: tick_decimals(low, high),
        }
    }

    /// The range it spans.
    pub fn range(&self) -> Range<f64> {
        self.low..self.high
    }

    /// A tick label of this axis.
    pub fn tick(&self, value: &f64) -> String {
        tick(*value, self.decimals)
    }
}

/// Where a chart sits in its area: the caption above it (if any), its margin (all sides, then
/// the right one) and the room for the x and y tick labels.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame<'c> {
    pub caption: Option<&'c str>,
    pub margin: (u32, u32),
    pub label_areas: (u32, u32),
}

impl Frame<'_> {
    /// A chart of `x` × `y` on `area`, framed so.
    pub fn chart<'a, DB: DrawingBackend>(
        &self,
        area: &'a Area<DB>,
        x: Range<f64>,
        y: Range<f64>,
        figure: &'static str,
    ) -> Result<Chart<'a, DB>, PlotError> {
        let mut builder = ChartBuilder::on(area);
        if let Some(caption) = self.caption {
            builder.caption(caption, font(CAPTION_SIZE));
        }
        builder
            .margin(self.margin.0)
            .margin_right(self.margin.1)
            .x_label_area_size(self.label_areas.0)
            .y_label_area_size(self.label_areas.1)
            .build_cartesian_2d(x, y)
            .drawn(figure)
    }
}

/// A bar chart's mesh: horizontal grid lines only, `x_ticks` epoch labels along x (0: the
/// caller labels the groups itself), y labels written by `y_format`.
pub(super) fn bar_mesh<'a, 'b, DB: DrawingBackend>(
    chart: &'b mut Chart<'a, DB>,
    (x_desc, y_desc): (&str, &str),
    x_ticks: usize,
    y_format: &'b dyn Fn(&f64) -> String,
    figure: &'static str,
) -> Result<(), PlotError> {
    let mut style = mesh(chart, x_desc, y_desc);
    style.disable_x_mesh().x_labels(x_ticks);
    if x_ticks > 0 {
        style.x_label_formatter(&epoch_tick);
    }
    style.y_label_formatter(y_format).draw().drawn(figure)
}

/// Writes `text` on `area` (the panel `chart` was built on) at chart coordinates `at`, moved
/// by `offset` pixels and anchored by `anchor`.
pub(super) fn text_at<DB: DrawingBackend>(
    area: &Area<DB>,
    chart: &Chart<'_, DB>,
    at: (f64, f64),
    (offset, anchor): ((i32, i32), Pos),
    text: String,
    figure: &'static str,
) -> Result<(), PlotError> {
    let (base_x, base_y) = area.get_base_pixel();
    let (pixel_x, pixel_y) = chart.backend_coord(&at);
    area.draw(&Text::new(
        text,
        (pixel_x - base_x + offset.0, pixel_y - base_y + offset.1),
        font(LABEL_SIZE).pos(anchor),
    ))
    .drawn(figure)
}

/// Labels under the x axis, the `index`-th at chart coordinate x = index + `shift` (a group
/// centre), drawn on `area` (the panel the chart was built on).
pub(super) fn group_labels<DB: DrawingBackend>(
    area: &Area<DB>,
    chart: &Chart<'_, DB>,
    labels: impl IntoIterator<Item = String>,
    (shift, y_bottom): (f64, f64),
    figure: &'static str,
) -> Result<(), PlotError> {
    for (index, label) in labels.into_iter().enumerate() {
        let below = ((0, 6), Pos::new(HPos::Center, VPos::Top));
        text_at(
            area,
            chart,
            (index as f64 + shift, y_bottom),
            below,
            label,
            figure,
        )?;
    }
    Ok(())
}

/// A horizontal line at y = 0 across the chart, so positive and negative bars read apart.
pub(super) fn zero_line<DB: DrawingBackend>(
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

/// A legend row over two panels, side by side (`split` `(1, 2)`) or stacked (`(2, 1)`):
/// `draw` paints each panel with its caption and the value it shows.
pub(super) fn two_panels<DB: DrawingBackend, V>(
    area: &Area<DB>,
    legend: &[(String, RGBColor)],
    split: (usize, usize),
    panels: [(&str, V); 2],
    figure: &'static str,
    draw: impl Fn(&Area<DB>, &str, V) -> Result<(), PlotError>,
) -> Result<(), PlotError> {
    let body = legend_row(area, legend, figure)?;
    let areas = body.split_evenly(split);
    for (area, (caption, value)) in areas.iter().zip(panels) {
        draw(area, caption, value)?;
    }
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
}
