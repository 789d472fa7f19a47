//! Figures: the paper's figure tables and plots, computed from training results.
//!
//! Data flows one way, one file per stage:
//! - [`runs`]: read result CSVs in the paper's format, one by one or as a runs directory (its
//!   layout is documented there);
//! - [`curve`]: a run reduced to (epoch, loss, alignment), the same for CLIP-HBA and the ViT,
//!   with what it trained ([`setup`], from its bundle's `config.json`) for the plot titles;
//! - [`compute`]: the numbers each figure plots (fig1–fig4), exactly as `docs/protocol.md`
//!   ("Figures") defines them, and the fig4 recovery decision a demand-driven scheduler needs;
//! - [`table`]: those numbers as deterministic CSV;
//! - [`plot`]: the same tables drawn as byte-deterministic PNG and SVG with an embedded font.
//!
//! Nothing here knows about the build engine: an action loads runs, calls a `compute`
//! function, and writes `to_table().to_csv()` and the `plot` bytes.

pub mod compute;
pub mod curve;
pub mod perturbation;
pub mod plot;
pub mod runs;
pub mod setup;
pub mod table;

pub use compute::{
    ComputeError, Fig1Table, Fig2Row, Fig2Table, Fig3Table, Fig4Baseline, Fig4Row, Fig4Table,
    Model, Recovery, Window, WindowRun,
};
pub use curve::{Curve, CurvePoint};
pub use perturbation::Perturbation;
pub use plot::{ImageFormat, PlotError};
pub use runs::{RunsDirectory, RunsError, RunsRequest};
pub use setup::RunSetup;
pub use table::Table;

/// The paper's design: which epochs, types and windows its figures use.
pub mod paper {
    use super::Perturbation;

    /// fig2: the perturbation epochs k.
    pub const FIG2_EPOCHS: [u32; 7] = [5, 15, 25, 35, 45, 70, 98];

    /// fig2: the types, in bar order.
    pub const FIG2_PERTURBATIONS: [Perturbation; 4] = Perturbation::ALL;

    /// fig3: the sweep epochs k = 1..=98 (the baseline's minimum-test-loss epoch).
    pub const FIG3_EPOCHS: std::ops::RangeInclusive<u32> = 1..=98;

    /// fig4: the window start epochs.
    pub const FIG4_STARTS: [u32; 11] = [1, 2, 3, 6, 7, 8, 10, 40, 70, 80, 90];

    /// fig4: the window lengths.
    pub const FIG4_LENGTHS: [u32; 7] = [2, 5, 10, 20, 30, 40, 50];
}
