//! Figures: the paper's figure tables and plots, computed from training results.
//!
//! One module per figure holds everything that figure is: its table and CSV, its computation
//! (exactly as `docs/protocol.md`, "Figures", defines it), its drawing, the runs it requests
//! from a runs directory and how its outputs are made from its runs — [`fig1`] (the S-curve),
//! [`fig2`] (Δ at each perturbed epoch, per type), [`fig3`] (the target-noise sweep) and
//! [`fig4`] (recovery after target-noise windows, and its heatmap). [`DRAWN`] registers them:
//! adding a figure is a module and a row there.
//!
//! What they share, one file per stage:
//! - [`runs`]: read result CSVs in the paper's format, one by one or as a runs directory (its
//!   layout is documented there);
//! - [`curve`]: a run reduced to (epoch, loss, alignment), the same for CLIP-HBA and the ViT,
//!   with what it trained ([`setup`], from its bundle's `config.json`) for the plot titles;
//! - [`compute`]: the model a figure shows, the errors and the Δ arithmetic;
//! - [`table`]: numbers as deterministic CSV;
//! - [`plot`]: byte-deterministic PNG and SVG with an embedded font, and the drawing pieces
//!   (titles, legends, axes, bars, labels);
//! - [`source`]: what a figure is drawn from (a runs directory or its dependencies) and what
//!   it writes.
//!
//! Nothing here knows about the build engine: the `figure` kind implements [`Source`] over its
//! dependencies or runs directory, calls a figure's `outputs`, and writes them.

pub mod compute;
pub mod curve;
pub mod fig1;
pub mod fig2;
pub mod fig3;
pub mod fig4;
pub mod perturbation;
pub mod plot;
pub mod runs;
pub mod setup;
pub mod source;
pub mod table;

pub use compute::{ComputeError, Fig2Row, Model};
pub use curve::{Curve, CurvePoint};
pub use fig1::{Fig1Point, Fig1Table};
pub use fig2::Fig2Table;
pub use fig3::{Fig3Row, Fig3Table};
pub use fig4::{Fig4Baseline, Fig4Row, Fig4Table, Recovery, Window, WindowRun};
pub use perturbation::Perturbation;
pub use plot::{ImageFormat, PlotError};
pub use runs::{RunsDirectory, RunsError, RunsRequest};
pub use setup::RunSetup;
pub use source::{DependencyRun, DependencyRuns, Directory, Drawer, Output, Selection, Source};
pub use table::Table;

/// Every figure drawn by itself, by name; the `figure` kind's `fig1` and `fig2` gather their
/// panels instead.
pub const DRAWN: [Drawer; 6] = [
    Drawer {
        name: "fig1a",
        model: Model::ClipHba,
        outputs: fig1::outputs,
    },
    Drawer {
        name: "fig1b",
        model: Model::Vit,
        outputs: fig1::outputs,
    },
    Drawer {
        name: "fig2a",
        model: Model::ClipHba,
        outputs: fig2::outputs,
    },
    Drawer {
        name: "fig2b",
        model: Model::Vit,
        outputs: fig2::outputs,
    },
    Drawer {
        name: "fig3",
        model: Model::ClipHba,
        outputs: fig3::outputs,
    },
    Drawer {
        name: "fig4",
        model: Model::ClipHba,
        outputs: fig4::outputs,
    },
];

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
