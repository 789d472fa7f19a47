//! cpbuild: make for reproducible ML artifacts.
//!
//! This crate is the command line and the kinds that plug machine learning into the engine:
//! - [`cpbuild_engine`]: recipe → graph → plan → execute → store → report, no ML;
//! - [`cpbuild_ml`]: CLIP, DoRA, CLIP-HBA, training bookkeeping, RSA, tokenizer (burn);
//! - [`data`]: the THINGS loaders and the embedded things-synth world;
//! - [`project`]: a loaded project (recipes, graph, store) and what the commands compute on it:
//!   garbage collection, the archive manifest, the golden check of figures;
//! - [`golden`]: a figure CSV against its golden copy, under per-column tolerances;
//! - [`cli`]: `cpbuild [TARGET]...` and its subcommands, one file each, thin over [`project`];
//! - [`report_html`]: `cpbuild report --html`, the report a reader opens in a browser;
//! - [`bench`]: `cpbuild bench`, the paper-scale cost of training.

pub mod bench;
pub mod cli;
pub mod data;
pub mod figures;
pub mod golden;
pub mod kinds;
pub mod project;
pub mod report_html;

#[cfg(test)]
mod architecture_tests;

pub use cpbuild_engine as engine;
pub use cpbuild_ml as ml;

/// Every kind this build of cpbuild knows: the built-in `shell` plus the ML kinds.
pub fn registry() -> engine::action::Registry {
    let mut registry = engine::action::Registry::builtin();
    registry.register(std::sync::Arc::new(kinds::training::Training(
        kinds::train_hba::TrainHba,
    )));
    registry.register(std::sync::Arc::new(kinds::training::Training(
        kinds::pretrain_clip::PretrainClip,
    )));
    registry.register(std::sync::Arc::new(kinds::training::Training(
        kinds::train_vit::TrainVit,
    )));
    registry.register(std::sync::Arc::new(kinds::figure::Figure));
    registry.register(std::sync::Arc::new(kinds::paper_files::CheckPaperFiles));
    registry.register(std::sync::Arc::new(kinds::random_clip::RandomClip));
    registry
}

/// The closing section of every reproducibility report (`REPORT.md`, `cpbuild report`): the
/// NeurIPS checklist items the archive answers, and where.
pub const REPORT_CHECKLIST: &str = "\n## NeurIPS reproducibility checklist: what this archive answers\n\n\
| checklist item | answered by |\n|---|---|\n\
| code and instructions to reproduce the main results | `recipes/`, `README.md` (how to rebuild), the cpbuild version above |\n\
| training details: hyperparameters, how they were chosen | every run's `params` in `MANIFEST.json` (`targets.*.fingerprint.params`) |\n\
| data splits | the split hashes above; the indices are in each run's bundle (`split.json`) |\n\
| random seeds / variability | the seeds above; every run is deterministic given them |\n\
| compute resources (type of compute, time) | machines and backends above; times with `--timings` |\n\
| exact figures and their numbers | `figures/<target>/` (tables as CSV, plots as PNG and SVG) |\n\
| integrity of the released artifacts | `MANIFEST.json` sha256 of every member and a root hash; `cpbuild verify-archive` |\n";

/// What cpbuild tells an archive about its kinds and the checklist its report answers.
pub fn archive_context(registry: &engine::action::Registry) -> engine::archive::Context<'_> {
    engine::archive::Context {
        registry,
        checklist: REPORT_CHECKLIST,
    }
}
