//! Data: the real THINGS behavioural files and the embedded things-synth image world.

pub mod imagenet;
pub mod images;
pub mod paper_files;
pub mod synth;
pub mod things;
