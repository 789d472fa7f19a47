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

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{TrainConfig, TrainError};
use crate::early_stopping::EarlyStopping;
use crate::perturbation::PerturbationKind;
use crate::results::EpochResult;

/// The `format` field of `state.json`.
pub const STATE_FORMAT: &str = "cpbuild-train-state/v1";
/// The trainable parameters.
pub const PARAMS_FILE: &str = "params.safetensors";
/// The optimizer moments.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// Everything else.
pub const STATE_FILE: &str = "state.json";

/// The directory of epoch `epoch`'s state under `root`: `root/e0003`.
pub fn epoch_dir(root: &Path, epoch: u32) -> PathBuf {
    root.join(format!("e{epoch:04}"))
}

/// A tensor copied to the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Its shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

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

/// The randomness keys (there is no generator state; see the module doc).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Randomness {
    /// Why nothing else is saved.
    note: String,
    /// Seed of the split, loader and DoRA-init streams.
    run_seed: u64,
    /// Seed of the perturbation streams, if any.
    perturbation_seed: Option<u64>,
    /// The loader's next epoch: its order is stream (run_seed, loader, next_epoch, 0).
    next_epoch: u32,
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

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredResult {
    epoch: u32,
    train_loss: String,
    test_loss: String,
    behavioral_rsa_rho: String,
    behavioral_rsa_p_value: String,
    perturbation: Option<PerturbationKind>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    epoch: u32,
    config: TrainConfig,
    randomness: Randomness,
    early_stopping: StoredEarlyStopping,
    stopped: bool,
    optimizer_steps: BTreeMap<String, usize>,
    results: Vec<StoredResult>,
    sha256: BTreeMap<String, String>,
}

/// Exact text of a float (`{:?}` is the shortest round-trip form; NaN and inf included).
pub(crate) fn exact(value: f64) -> String {
    format!("{value:?}")
}

/// Lower-case hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    std::fs::write(path, bytes).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TrainError> {
    std::fs::read(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Serialises `tensors` (sorted by name, f32, no metadata); `path` names the file in errors.
pub(crate) fn to_safetensors<T: Borrow<HostTensor>>(
    tensors: &BTreeMap<String, T>,
    path: &Path,
) -> Result<Vec<u8>, TrainError> {
    let bytes: BTreeMap<&String, Vec<u8>> = tensors
        .iter()
        .map(|(name, tensor)| {
            let raw = tensor
                .borrow()
                .values
                .iter()
                .flat_map(|value| value.to_le_bytes())
                .collect();
            (name, raw)
        })
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let view = TensorView::new(Dtype::F32, tensor.borrow().shape.clone(), &bytes[name])
            .map_err(|error| TrainError::State {
                path: path.to_path_buf(),
                message: format!("cannot store `{name}`: {error}"),
            })?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, None).map_err(|error| TrainError::State {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

/// Reads an all-f32 safetensors file written by [`to_safetensors`].
pub(crate) fn from_safetensors(
    bytes: &[u8],
    path: &Path,
) -> Result<BTreeMap<String, HostTensor>, TrainError> {
    let corrupt = |message: String| TrainError::State {
        path: path.to_path_buf(),
        message,
    };
    let tensors = SafeTensors::deserialize(bytes).map_err(|error| corrupt(error.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, view) in tensors.iter() {
        if view.dtype() != Dtype::F32 {
            return Err(corrupt(format!("`{name}` is {:?}, not F32", view.dtype())));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        out.insert(
            name.to_string(),
            HostTensor {
                shape: view.shape().to_vec(),
                values,
            },
        );
    }
    Ok(out)
}

impl EpochState {
    /// Writes the three files into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let params: BTreeMap<String, &HostTensor> = self
            .params
            .iter()
            .map(|(name, tensor)| (name.clone(), tensor))
            .collect();
        let mut moments = BTreeMap::new();
        for (name, state) in &self.moments {
            moments.insert(format!("{name}.moment_1"), &state.moment_1);
            moments.insert(format!("{name}.moment_2"), &state.moment_2);
        }
        let params_bytes = to_safetensors(&params, &dir.join(PARAMS_FILE))?;
        let optimizer_bytes = to_safetensors(&moments, &dir.join(OPTIMIZER_FILE))?;
        let file = StateFile {
            format: STATE_FORMAT.to_string(),
            epoch: self.epoch,
            config: self.config.clone(),
            randomness: Randomness {
                note: "every stream is keyed by (seed, purpose, epoch, batch); there is no generator state".into(),
                run_seed: self.config.seed,
                perturbation_seed: self.config.perturbation.as_ref().map(|p| p.seed),
                next_epoch: self.epoch + 1,
            },
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
            results: self
                .results
                .iter()
                .map(|row| StoredResult {
                    epoch: row.epoch,
                    train_loss: exact(row.train_loss),
                    test_loss: exact(row.test_loss),
                    behavioral_rsa_rho: exact(row.behavioral_rsa_rho),
                    behavioral_rsa_p_value: exact(row.behavioral_rsa_p_value),
                    perturbation: row.perturbation,
                })
                .collect(),
            sha256: BTreeMap::from([
                (PARAMS_FILE.to_string(), sha256_hex(&params_bytes)),
                (OPTIMIZER_FILE.to_string(), sha256_hex(&optimizer_bytes)),
            ]),
        };
        let mut json = serde_json::to_string_pretty(&file).map_err(|error| TrainError::State {
            path: dir.join(STATE_FILE),
            message: error.to_string(),
        })?;
        json.push('\n');
        write(&dir.join(PARAMS_FILE), &params_bytes)?;
        write(&dir.join(OPTIMIZER_FILE), &optimizer_bytes)?;
        write(&dir.join(STATE_FILE), json.as_bytes())
    }

    /// Reads a state written by [`Self::save`], checking the tensor files' hashes.
    pub fn load(dir: &Path) -> Result<EpochState, TrainError> {
        let state_path = dir.join(STATE_FILE);
        let corrupt = |path: &Path, message: String| TrainError::State {
            path: path.to_path_buf(),
            message,
        };
        let text = read(&state_path)?;
        let file: StateFile = serde_json::from_slice(&text)
            .map_err(|error| corrupt(&state_path, error.to_string()))?;
        if file.format != STATE_FORMAT {
            return Err(corrupt(
                &state_path,
                format!("format `{}`, expected `{STATE_FORMAT}`", file.format),
            ));
        }
        let mut tensors = BTreeMap::new();
        for name in [PARAMS_FILE, OPTIMIZER_FILE] {
            let path = dir.join(name);
            let bytes = read(&path)?;
            if file.sha256.get(name) != Some(&sha256_hex(&bytes)) {
                return Err(corrupt(
                    &path,
                    "its sha256 differs from the one in `state.json`".into(),
                ));
            }
            tensors.insert(name, from_safetensors(&bytes, &path)?);
        }
        let params = tensors.remove(PARAMS_FILE).unwrap_or_default();
        let mut moment_tensors = tensors.remove(OPTIMIZER_FILE).unwrap_or_default();
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
        let parse = |text: &str| {
            text.parse::<f64>()
                .map_err(|_| corrupt(&state_path, format!("`{text}` is not a number")))
        };
        let best_loss = match &file.early_stopping.best_loss {
            Some(text) => Some(parse(text)?),
            None => None,
        };
        let mut results = Vec::with_capacity(file.results.len());
        for row in &file.results {
            results.push(EpochResult {
                epoch: row.epoch,
                train_loss: parse(&row.train_loss)?,
                test_loss: parse(&row.test_loss)?,
                behavioral_rsa_rho: parse(&row.behavioral_rsa_rho)?,
                behavioral_rsa_p_value: parse(&row.behavioral_rsa_p_value)?,
                perturbation: row.perturbation,
            });
        }
        if results.len() != file.epoch as usize {
            return Err(corrupt(
                &state_path,
                format!("{} results rows after epoch {}", results.len(), file.epoch),
            ));
        }
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
