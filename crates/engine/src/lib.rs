//! The build engine of cpbuild: make for reproducible ML artifacts, with no ML in it.
//!
//! Data flows one way, and the modules are laid out in that order:
//! **recipe → graph → plan → execute → store → report**.
//!
//! - [`recipe`] reads the TOML files in `recipes/`, with spans for every value, and expands
//!   profiles and `foreach` grids into concrete target specifications.
//! - [`graph`] resolves dependencies between targets, checks kinds and cycles.
//! - [`plan`] computes each target's fingerprint (its key) and decides what is fresh.
//! - [`execute`] runs the dirty targets' [`action::Action`]s in parallel, most downstream work first.
//! - [`store`] holds one byte-reproducible bundle per key, with atomic commits and locking.
//! - [`report`] turns engine events into human lines, progress bars or JSON.
//!
//! Training and figures are actions plugged into the [`action::Registry`] by the `cpbuild`
//! binary; every test of this crate runs on the built-in `shell` kind or small fakes.

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

pub use error::Error;
pub use fingerprint::{DirtyReason, Fingerprint};

/// The version of cpbuild, hashed into every key.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
