//! The saved state of a ViT run after an epoch, in a directory `e####/` (epoch 0 = the initial
//! state), laid out like CLIP-HBA's ([`crate::train::state`]):
//!
//! | file | what |
//! |---|---|
//! | `params.safetensors` | every parameter by its module path (e.g. `blocks.0.attention.q_proj.weight`), f32 |
//! | `optimizer.safetensors` | SGD's momentum buffer per parameter (`<name>.velocity`); empty before the first step |
//! | `state.json` | the epoch, the config, the results rows so far, the randomness keys, and the sha256 of both tensor files |
//!
//! There is no generator state: every stream is keyed by (seed, purpose, epoch, batch)
//! ([`crate::streams`]). Saving is byte-deterministic (safetensors without metadata, tensors
//! sorted by name; JSON from structs and `BTreeMap`s; floats as shortest round-trip text).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::VitTrainConfig;
use super::results::VitEpochResult;
use crate::perturbation::PerturbationKind;
use crate::train::TrainError;
use crate::train::state::{
    HostTensor, OPTIMIZER_FILE, PARAMS_FILE, STATE_FILE, exact, from_safetensors, sha256_hex,
    to_safetensors,
};

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

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredResult {
    epoch: u32,
    train_loss: String,
    val_loss: String,
    rsa_score: String,
    rsa_p_value: String,
    perturbation: Option<PerturbationKind>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Randomness {
    note: String,
    run_seed: u64,
    perturbation_seed: Option<u64>,
    next_epoch: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    epoch: u32,
    config: VitTrainConfig,
    randomness: Randomness,
    results: Vec<StoredResult>,
    sha256: BTreeMap<String, String>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl VitState {
    /// Writes the three files into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let velocity: BTreeMap<String, HostTensor> = self
            .velocity
            .iter()
            .map(|(name, tensor)| (format!("{name}.velocity"), tensor.clone()))
            .collect();
        let params_bytes = to_safetensors(&self.params, &dir.join(PARAMS_FILE))?;
        let optimizer_bytes = to_safetensors(&velocity, &dir.join(OPTIMIZER_FILE))?;
        let file = StateFile {
            format: VIT_STATE_FORMAT.to_string(),
            epoch: self.epoch,
            config: self.config.clone(),
            randomness: Randomness {
                note: "every stream is keyed by (seed, purpose, epoch, batch); there is no generator state".into(),
                run_seed: self.config.seed,
                perturbation_seed: self.config.perturbation.as_ref().map(|p| p.seed),
                next_epoch: self.epoch + 1,
            },
            results: self
                .results
                .iter()
                .map(|row| StoredResult {
                    epoch: row.epoch,
                    train_loss: exact(row.train_loss),
                    val_loss: exact(row.val_loss),
                    rsa_score: exact(row.rsa_score),
                    rsa_p_value: exact(row.rsa_p_value),
                    perturbation: row.perturbation,
                })
                .collect(),
            sha256: BTreeMap::from([
                (PARAMS_FILE.to_string(), sha256_hex(&params_bytes)),
                (OPTIMIZER_FILE.to_string(), sha256_hex(&optimizer_bytes)),
            ]),
        };
        let state_path = dir.join(STATE_FILE);
        let mut json = serde_json::to_string_pretty(&file).map_err(|error| TrainError::State {
            path: state_path.clone(),
            message: error.to_string(),
        })?;
        json.push('\n');
        let params_path = dir.join(PARAMS_FILE);
        std::fs::write(&params_path, &params_bytes).map_err(io_error(&params_path))?;
        let optimizer_path = dir.join(OPTIMIZER_FILE);
        std::fs::write(&optimizer_path, &optimizer_bytes).map_err(io_error(&optimizer_path))?;
        std::fs::write(&state_path, json.as_bytes()).map_err(io_error(&state_path))
    }

    /// Reads a state written by [`Self::save`], checking the tensor files' hashes.
    pub fn load(dir: &Path) -> Result<VitState, TrainError> {
        let state_path = dir.join(STATE_FILE);
        let corrupt = |path: &Path, message: String| TrainError::State {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read(&state_path).map_err(io_error(&state_path))?;
        let file: StateFile = serde_json::from_slice(&text)
            .map_err(|error| corrupt(&state_path, error.to_string()))?;
        if file.format != VIT_STATE_FORMAT {
            return Err(corrupt(
                &state_path,
                format!("format `{}`, expected `{VIT_STATE_FORMAT}`", file.format),
            ));
        }
        let mut tensors = BTreeMap::new();
        for name in [PARAMS_FILE, OPTIMIZER_FILE] {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(io_error(&path))?;
            if file.sha256.get(name) != Some(&sha256_hex(&bytes)) {
                return Err(corrupt(
                    &path,
                    "its sha256 differs from the one in `state.json`".into(),
                ));
            }
            tensors.insert(name, from_safetensors(&bytes, &path)?);
        }
        let params = tensors.remove(PARAMS_FILE).unwrap_or_default();
        let mut velocity = BTreeMap::new();
        for (name, tensor) in tensors.remove(OPTIMIZER_FILE).unwrap_or_default() {
            let Some(param) = name.strip_suffix(".velocity") else {
                return Err(corrupt(
                    &dir.join(OPTIMIZER_FILE),
                    format!("`{name}` is not a momentum buffer"),
                ));
            };
            velocity.insert(param.to_string(), tensor);
        }
        let parse = |text: &str| {
            text.parse::<f64>()
                .map_err(|_| corrupt(&state_path, format!("`{text}` is not a number")))
        };
        let mut results = Vec::with_capacity(file.results.len());
        for row in &file.results {
            results.push(VitEpochResult {
                epoch: row.epoch,
                train_loss: parse(&row.train_loss)?,
                val_loss: parse(&row.val_loss)?,
                rsa_score: parse(&row.rsa_score)?,
                rsa_p_value: parse(&row.rsa_p_value)?,
                perturbation: row.perturbation,
            });
        }
        if results.len() != file.epoch as usize {
            return Err(corrupt(
                &state_path,
                format!("{} results rows after epoch {}", results.len(), file.epoch),
            ));
        }
        Ok(VitState {
            epoch: file.epoch,
            config: file.config,
            params,
            velocity,
            results,
        })
    }
}
