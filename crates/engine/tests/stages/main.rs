//! The engine's stages, each driven directly on small fake actions (no binary, no burn):
//! recipes, graph and grids, plans and fingerprints, execution, the store, archives.

mod archive;
mod execute;
mod graph;
mod plan;
mod recipe;
mod store;
mod support;
