//! The build engine of cpbuild: make for reproducible ML artifacts, with no ML in it.
//!
//! Data flows one way, and the modules are laid out in that order:
//! **recipe → graph → fingerprint → plan → execute → store → archive**, with [`events`] for
//! what a build tells its user.
//!
//! # The public API
//!
//! An application (the `cpbuild` binary) plugs its kinds in and drives the stages:
//!
//! - [`action`]: the [`Action`] trait a kind implements, what it is given
//!   ([`ActionContext`], [`DepOutput`] with each dependency's files, params and `info`), what it
//!   declares ([`ArchiveFacts`], [`Extension`]), and the [`Registry`] of kinds.
//! - [`recipe`]: [`Recipes`] read from the TOML files in `recipes/`, with spans for every value.
//! - [`graph`]: the [`Graph`] of concrete targets, `foreach` grids expanded (data-dependent
//!   ones once the values they need are [`recipe::Published`]).
//! - [`fingerprint`]: the [`Fingerprint`] that makes a key, and the [`DirtyReason`]s for a
//!   rebuild.
//! - [`plan`]: the [`Planner`] decides what is fresh; [`plan::Build`] is what a build reads.
//! - [`execute`]: the [`Executor`] runs dirty targets in parallel, most downstream work first
//!   (or submits them to Slurm).
//! - [`store`]: the content-addressed [`Store`] of byte-reproducible bundles, its locks and fsck.
//! - [`archive`]: publication archives: written, verified, imported, and their reports.
//! - [`events`]: the [`Event`]s of a build and the reporters that print them.
//! - [`error`]: the one [`Error`] type, with an exit code per kind.
//! - [`util`]: canonical JSON, hashing and file helpers the application shares.
//!
//! Everything else (the scheduler's queue, materialising outputs, working-tree snapshots,
//! template substitution, tarballs, process handling) is private to the engine. Every test of
//! this crate runs on the built-in `shell` kind or small fake actions.

pub mod action;
pub mod archive;
pub mod error;
pub mod events;
pub mod execute;
pub mod fingerprint;
pub mod graph;
pub mod plan;
pub mod recipe;
pub mod store;
pub mod util;

pub use action::{
    Action, ActionContext, ActionError, ArchiveFacts, DepOutput, Extension, ParamError, Registry,
};
pub use error::Error;
pub use events::{Event, Reporter};
pub use execute::Executor;
pub use fingerprint::{DirtyReason, Fingerprint};
pub use graph::Graph;
pub use plan::Planner;
pub use recipe::Recipes;
pub use store::Store;

/// The version of cpbuild, hashed into every key.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
