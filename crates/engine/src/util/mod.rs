//! Small helpers shared by the engine: hashing, canonical JSON, files, processes.

pub mod canonical;
pub mod fs;
pub mod hash;
pub mod process;
pub mod tarball;
