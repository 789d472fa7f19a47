//! The machine-learning kinds this crate plugs into the engine's [`crate::engine::action`]
//! registry.

pub mod figure;
pub mod hba_data;
pub mod paper_files;
pub(crate) mod params;
pub mod pretrain_clip;
pub mod random_clip;
pub(crate) mod run;
pub mod train_hba;
pub mod train_vit;
pub mod training;
