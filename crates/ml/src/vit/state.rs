//! The saved state of a ViT run after an epoch, in a directory `e####/` (epoch 0 = the initial
//! state), in the files every trainer saves ([`crate::epochs::files`]):
//!
//! | file | what |
//! |---|---|
//! | `params.safetensors` | every parameter by its module path (e.g. `blocks.0.attention.q_proj.weight`), f32 |
//! | `optimizer.safetensors` | SGD's momentum buffer per parameter (`<name>.velocity`); empty before the first step |
//! | `state.json` | the epoch, the config, the results rows so far, the randomness keys, and the sha256 of both tensor files |
//!
//! There is no generator state: every stream is keyed by (seed, purpose, epoch, batch)
//! ([`crate::streams`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::VitTrainConfig;
use super::results::VitEpochResult;
use crate::epochs::files::{
    Hashes, OPTIMIZER_FILE, Randomness, STATE_FILE, SavedState, corrupt, rows_of,
};
use crate::epochs::{HostTensor, TrainError};
use crate::results::StoredRow;

/// The `format` field of a ViT `state.json`.
pub const VIT_STATE_FORMAT: &str = "cpbuild-vit-state/v1";

/// The whole mutable state of a ViT run after `epoch`, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct VitState {
    /// Epochs completed (0: the initial state).
    pub epoch: u32,
    /// The run's config.
    pub config: VitTrainConfig,
    /// Every parameter by module path.
    pub params: BTreeMap<String, HostTensor>,
    /// SGD momentum buffers by parameter name (absent before a parameter's first step).
    pub velocity: BTreeMap<String, HostTensor>,
    /// Results rows of epochs `1..=epoch`.
    pub results: Vec<VitEpochResult>,
}

/// `state.json` of a ViT run.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitStateFile {
    format: String,
    epoch: u32,
    config: VitTrainConfig,
    randomness: Randomness,
    results: Vec<StoredRow<VitEpochResult>>,
    sha256: Hashes,
}

impl VitState {
    /// Writes the three files into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        self.save_files(dir)
    }

    /// Reads a state written by [`Self::save`], checking the tensor files' hashes.
    pub fn load(dir: &Path) -> Result<VitState, TrainError> {
        Self::load_files(dir)
    }
}

impl SavedState for VitState {
    type Config = VitTrainConfig;
    type File = VitStateFile;
    const FORMAT: &'static str = VIT_STATE_FORMAT;

    fn epoch(&self) -> u32 {
        self.epoch
    }

    fn config_mut(&mut self) -> &mut VitTrainConfig {
        &mut self.config
    }

    fn tensors(&self) -> [BTreeMap<String, &HostTensor>; 2] {
        let params = self
            .params
            .iter()
            .map(|(name, tensor)| (name.clone(), tensor))
            .collect();
        let velocity = self
            .velocity
            .iter()
            .map(|(name, tensor)| (format!("{name}.velocity"), tensor))
            .collect();
        [params, velocity]
    }

    fn to_file(&self, sha256: Hashes) -> VitStateFile {
        VitStateFile {
            format: VIT_STATE_FORMAT.to_string(),
            epoch: self.epoch,
            config: self.config.clone(),
            randomness: Randomness::after(self.config.seed, &self.config, self.epoch),
            results: self.results.iter().map(StoredRow::of).collect(),
            sha256,
        }
    }

    fn header(file: &VitStateFile) -> (&str, &Hashes) {
        (&file.format, &file.sha256)
    }

    fn from_file(
        file: VitStateFile,
        params: BTreeMap<String, HostTensor>,
        optimizer: BTreeMap<String, HostTensor>,
        dir: &Path,
    ) -> Result<VitState, TrainError> {
        let mut velocity = BTreeMap::new();
        for (name, tensor) in optimizer {
            let Some(param) = name.strip_suffix(".velocity") else {
                return Err(corrupt(
                    &dir.join(OPTIMIZER_FILE),
                    format!("`{name}` is not a momentum buffer"),
                ));
            };
            velocity.insert(param.to_string(), tensor);
        }
        let results = rows_of(&file.results, file.epoch, &dir.join(STATE_FILE))?;
        Ok(VitState {
            epoch: file.epoch,
            config: file.config,
            params,
            velocity,
            results,
        })
    }
}
