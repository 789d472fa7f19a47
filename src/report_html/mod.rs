//! `cpbuild report --html`: a static report a reader opens in a browser, from disk, with no
//! network: one self-contained `index.html` holding
//!
//! - every requested figure (its SVG inline), its tables (sortable), its golden status (each
//!   figure CSV against `golden/`, as `cpbuild verify` compares them) and its provenance (runs,
//!   seeds, split hashes, epochs, backends, machines, compute time, key);
//! - every training run below the requested targets: its test loss and alignment per epoch
//!   beside its baseline's, drawn with the figures' plotting code ([`crate::figures::plot`]),
//!   and its own provenance;
//! - the dependency graph, laid out by [`layout`] (layered, no Graphviz) and drawn as SVG;
//! - the reproducibility checklist items it answers.
//!
//! Data flows one way: the archive manifest and the bundles' files → [`model::gather`] (what is
//! shown) → [`graph_svg`] and [`html`] (how). The page is a pure function of the bundles: the
//! same store gives the same bytes, and wall-clock times appear only when the manifest carries
//! them (`--timings`). `cpbuild archive` puts the same page in every publication archive.

pub mod golden;
pub mod graph_svg;
pub mod html;
pub mod layout;
pub mod model;

pub use model::{Report, Source};

use cpbuild_engine::error::Result;

/// Where the page goes inside a report directory and inside an archive.
pub const INDEX: &str = "index.html";

/// The page's path inside a publication archive.
pub const ARCHIVE_PATH: &str = "report/index.html";

/// Gathers and writes the page.
pub fn render(source: &Source<'_>) -> Result<String> {
    let report = model::gather(source)?;
    Ok(render_report(&report))
}

/// Writes the page of a gathered report.
pub fn render_report(report: &Report) -> String {
    let graph = graph_svg::draw(&report.graph);
    html::page(report, &graph)
}
