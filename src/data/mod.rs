//! Data loaders: the real THINGS behavioural files.

pub mod things;
