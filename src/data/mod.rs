//! Data: the real THINGS behavioural files and the embedded things-synth image world.

pub mod synth;
pub mod things;
