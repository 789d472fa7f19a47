//! The machine-learning kinds this crate plugs into the engine's [`crate::engine::action`]
//! registry.

pub mod hba_data;
pub mod train_hba;
