//! Integration tests of the build engine, each through the real `cpbuild` binary.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod archive;
mod build;
mod concurrency;
mod data_grids;
mod faults;
mod recipe_errors;
mod regression;
mod scale;
mod slurm;
mod store;
