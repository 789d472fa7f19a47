//! The saved state of a run after an epoch, in a directory `e####/` (epoch 0 = the initial
//! state, before any training):
//!
//! | file | what |
//! |---|---|
//! | `params.safetensors` | every trainable parameter (DoRA `m`, `A`, `B`), f32, e.g. `vision.22.lora_a` |
//! | `optimizer.safetensors` | AdamW's first and second moments per parameter (`<name>.moment_1`, `<name>.moment_2`); empty before the first step |
//! | `state.json` | the epoch, the config, AdamW's step count per parameter, the early-stopping state, the results rows so far, the randomness keys, and the sha256 of both tensor files |
//!
//! Randomness: every stream is keyed by (seed, purpose, epoch, batch) ([`crate::streams`]), so
//! there is no generator state to save; `state.json` records the keys instead (run seed,
//! perturbation seed, next epoch). The loader position is the epoch: batches never stop mid-epoch.
//!
//! Saving is byte-deterministic: safetensors without metadata (tensors sorted by name, raw
//! little-endian f32: full precision), JSON from structs and `BTreeMap`s, and floats that JSON
//! cannot hold exactly (losses, ρ, p; NaN included) written as Rust's shortest round-trip text.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{TrainConfig, TrainError};
use crate::early_stopping::EarlyStopping;
use crate::epochs::files::{Hashes, Randomness, SavedState, corrupt, parse_exact, rows_of};
pub use crate::epochs::files::{OPTIMIZER_FILE, PARAMS_FILE, STATE_FILE};
pub use crate::epochs::{HostTensor, epoch_dir};
use crate::results::{EpochResult, StoredRow, exact};

/// The `format` field of `state.json`.
pub const STATE_FORMAT: &str = "cpbuild-train-state/v1";

/// AdamW's state for one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// Steps taken (AdamW's `t`, for bias correction).
    pub step: usize,
    /// First moment.
    pub moment_1: HostTensor,
    /// Second moment.
    pub moment_2: HostTensor,
}

/// The whole mutable state of a run after `epoch`, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochState {
    /// Epochs completed (0: the initial state).
    pub epoch: u32,
    /// The run's config.
    pub config: TrainConfig,
    /// Trainable parameters by name.
    pub params: BTreeMap<String, HostTensor>,
    /// Optimizer state by parameter name (absent before a parameter's first step).
    pub moments: BTreeMap<String, Moments>,
    /// Early stopping after `epoch`.
    pub early_stopping: EarlyStopping,
    /// Whether early stopping ended the run at `epoch`.
    pub stopped: bool,
    /// Results rows of epochs `1..=epoch`.
    pub results: Vec<EpochResult>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredEarlyStopping {
    patience: u32,
    best_loss: Option<String>,
    best_epoch: u32,
    epochs_without_improvement: u32,
    /// A perturbed run's window (absent for a baseline, whose files stay as they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<(u32, u32)>,
}

/// `state.json` of a CLIP-HBA run.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    format: String,
    epoch: u32,
    config: TrainConfig,
    randomness: Randomness,
    early_stopping: StoredEarlyStopping,
    stopped: bool,
    optimizer_steps: BTreeMap<String, usize>,
    results: Vec<StoredRow<EpochResult>>,
    sha256: Hashes,
}

impl EpochState {
    /// Writes the three files into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        self.save_files(dir)
    }

    /// Reads a state written by [`Self::save`], checking the tensor files' hashes.
    pub fn load(dir: &Path) -> Result<EpochState, TrainError> {
        Self::load_files(dir)
    }
}

impl SavedState for EpochState {
    type Config = TrainConfig;
    type File = StateFile;
    const FORMAT: &'static str = STATE_FORMAT;

    fn epoch(&self) -> u32 {
        self.epoch
    }

    fn config_mut(&mut self) -> &mut TrainConfig {
        &mut self.config
    }

    fn tensors(&self) -> [BTreeMap<String, &HostTensor>; 2] {
        let params = self
            .params
            .iter()
            .map(|(name, tensor)| (name.clone(), tensor))
            .collect();
        let mut moments = BTreeMap::new();
        for (name, state) in &self.moments {
            moments.insert(format!("{name}.moment_1"), &state.moment_1);
            moments.insert(format!("{name}.moment_2"), &state.moment_2);
        }
        [params, moments]
    }

    fn to_file(&self, sha256: Hashes) -> StateFile {
        StateFile {
            format: STATE_FORMAT.to_string(),
            epoch: self.epoch,
            config: self.config.clone(),
            randomness: Randomness::after(self.config.seed, &self.config, self.epoch),
            early_stopping: StoredEarlyStopping {
                patience: self.early_stopping.patience,
                best_loss: self.early_stopping.best_loss.map(exact),
                best_epoch: self.early_stopping.best_epoch,
                epochs_without_improvement: self.early_stopping.epochs_without_improvement,
                window: self.early_stopping.window,
            },
            stopped: self.stopped,
            optimizer_steps: self
                .moments
                .iter()
                .map(|(name, state)| (name.clone(), state.step))
                .collect(),
            results: self.results.iter().map(StoredRow::of).collect(),
            sha256,
        }
    }

    fn header(file: &StateFile) -> (&str, &Hashes) {
        (&file.format, &file.sha256)
    }

    fn from_file(
        file: StateFile,
        params: BTreeMap<String, HostTensor>,
        mut moment_tensors: BTreeMap<String, HostTensor>,
        dir: &Path,
    ) -> Result<EpochState, TrainError> {
        let state_path = dir.join(STATE_FILE);
        let optimizer_path = dir.join(OPTIMIZER_FILE);
        let mut moments = BTreeMap::new();
        for (name, step) in file.optimizer_steps {
            let mut take = |suffix: &str| {
                moment_tensors
                    .remove(&format!("{name}.{suffix}"))
                    .ok_or_else(|| {
                        corrupt(&optimizer_path, format!("`{name}.{suffix}` is missing"))
                    })
            };
            let moment_1 = take("moment_1")?;
            let moment_2 = take("moment_2")?;
            moments.insert(
                name,
                Moments {
                    step,
                    moment_1,
                    moment_2,
                },
            );
        }
        let best_loss = match &file.early_stopping.best_loss {
            Some(text) => Some(parse_exact(text, &state_path)?),
            None => None,
        };
        let results = rows_of(&file.results, file.epoch, &state_path)?;
        Ok(EpochState {
            epoch: file.epoch,
            config: file.config,
            params,
            moments,
            early_stopping: EarlyStopping {
                patience: file.early_stopping.patience,
                best_loss,
                best_epoch: file.early_stopping.best_epoch,
                epochs_without_improvement: file.early_stopping.epochs_without_improvement,
                window: file.early_stopping.window,
            },
            stopped: file.stopped,
            results,
        })
    }
}
