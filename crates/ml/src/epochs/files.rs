//! The three files of a saved run state, in a directory `e####/` (epoch 0 = the initial state,
//! before any training), for every trainer that saves one:
//!
//! | file | what |
//! |---|---|
//! | `params.safetensors` | the trainable parameters by name, f32 |
//! | `optimizer.safetensors` | the optimizer's tensors by name; empty before the first step |
//! | `state.json` | the epoch, the config, the randomness keys, the results rows so far, whatever else the trainer keeps, and the sha256 of both tensor files |
//!
//! A trainer says what its `state.json` holds ([`SavedState`]); writing the three files, and
//! reading them back with their hashes checked, is done once here.
//!
//! Saving is byte-deterministic: safetensors without metadata (tensors sorted by name, raw
//! little-endian f32: full precision), JSON from structs and `BTreeMap`s, and floats that JSON
//! cannot hold exactly (losses, ρ, p; NaN included) written as Rust's shortest round-trip text.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{RunConfig, TrainError};
use crate::results::{ResultRow, StoredRow};

/// The trainable parameters.
pub const PARAMS_FILE: &str = "params.safetensors";
/// The optimizer's tensors.
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

/// The randomness keys of `state.json`: there is no generator state to save, because every
/// stream is keyed by (seed, purpose, epoch, batch) ([`crate::streams`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Randomness {
    /// Why nothing else is saved.
    note: String,
    /// Seed of the run's own streams (split, loader, initialisation).
    run_seed: u64,
    /// Seed of the perturbation streams, if any.
    perturbation_seed: Option<u64>,
    /// The loader's next epoch: its order is stream (run_seed, loader, next_epoch, 0).
    next_epoch: u32,
}

impl Randomness {
    /// The keys of a run with seed `run_seed` and `config`'s perturbation, after `epoch`.
    pub(crate) fn after<C: RunConfig>(run_seed: u64, config: &C, epoch: u32) -> Randomness {
        Randomness {
            note: "every stream is keyed by (seed, purpose, epoch, batch); there is no generator state".into(),
            run_seed,
            perturbation_seed: config.perturbation().map(|p| p.seed),
            next_epoch: epoch + 1,
        }
    }
}

/// The sha256 of both tensor files, as `state.json` records them.
pub type Hashes = BTreeMap<String, String>;

/// One trainer's saved state: what its `state.json` holds and which tensors it saves. Saving
/// and loading the three files is provided.
pub trait SavedState: Sized {
    /// The run's config, recorded in every saved epoch.
    type Config: RunConfig;
    /// `state.json`, laid out as the trainer's files have always been.
    type File: Serialize + DeserializeOwned;
    /// The `format` field of `state.json`.
    const FORMAT: &'static str;

    /// Epochs completed (0: the initial state).
    fn epoch(&self) -> u32;

    /// The config the state records.
    fn config_mut(&mut self) -> &mut Self::Config;

    /// The tensors of `params.safetensors` and of `optimizer.safetensors`, by name.
    fn tensors(&self) -> [BTreeMap<String, &HostTensor>; 2];

    /// `state.json`'s contents, with the tensor files' `sha256`.
    fn to_file(&self, sha256: Hashes) -> Self::File;

    /// The `format` and `sha256` fields of a read `state.json`.
    fn header(file: &Self::File) -> (&str, &Hashes);

    /// The state from a read `state.json` and both tensor files; `dir` names it in errors.
    fn from_file(
        file: Self::File,
        params: BTreeMap<String, HostTensor>,
        optimizer: BTreeMap<String, HostTensor>,
        dir: &Path,
    ) -> Result<Self, TrainError>;

    /// Writes the three files into `dir` (created if needed).
    fn save_files(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let [params, optimizer] = self.tensors();
        let params_bytes = to_safetensors(&params, &dir.join(PARAMS_FILE))?;
        let optimizer_bytes = to_safetensors(&optimizer, &dir.join(OPTIMIZER_FILE))?;
        let file = self.to_file(BTreeMap::from([
            (PARAMS_FILE.to_string(), sha256_hex(&params_bytes)),
            (OPTIMIZER_FILE.to_string(), sha256_hex(&optimizer_bytes)),
        ]));
        let mut json = serde_json::to_string_pretty(&file).map_err(|error| TrainError::State {
            path: dir.join(STATE_FILE),
            message: error.to_string(),
        })?;
        json.push('\n');
        write(&dir.join(PARAMS_FILE), &params_bytes)?;
        write(&dir.join(OPTIMIZER_FILE), &optimizer_bytes)?;
        write(&dir.join(STATE_FILE), json.as_bytes())
    }

    /// Reads a state written by [`Self::save_files`], checking the tensor files' hashes.
    fn load_files(dir: &Path) -> Result<Self, TrainError> {
        let state_path = dir.join(STATE_FILE);
        let text = read(&state_path)?;
        let file: Self::File = serde_json::from_slice(&text)
            .map_err(|error| corrupt(&state_path, error.to_string()))?;
        let (format, sha256) = Self::header(&file);
        if format != Self::FORMAT {
            return Err(corrupt(
                &state_path,
                format!("format `{format}`, expected `{}`", Self::FORMAT),
            ));
        }
        let mut tensors = BTreeMap::new();
        for name in [PARAMS_FILE, OPTIMIZER_FILE] {
            let path = dir.join(name);
            let bytes = read(&path)?;
            if sha256.get(name) != Some(&sha256_hex(&bytes)) {
                return Err(corrupt(
                    &path,
                    "its sha256 differs from the one in `state.json`".into(),
                ));
            }
            tensors.insert(name, from_safetensors(&bytes, &path)?);
        }
        let params = tensors.remove(PARAMS_FILE).unwrap_or_default();
        let optimizer = tensors.remove(OPTIMIZER_FILE).unwrap_or_default();
        Self::from_file(file, params, optimizer, dir)
    }
}

/// A corrupt state file: `path` and what is wrong with it.
pub(crate) fn corrupt(path: &Path, message: String) -> TrainError {
    TrainError::State {
        path: path.to_path_buf(),
        message,
    }
}

/// Parses a float written by [`crate::results`]' exact text; `path` names `state.json` in the error.
pub(crate) fn parse_exact(text: &str, path: &Path) -> Result<f64, TrainError> {
    text.parse::<f64>()
        .map_err(|_| corrupt(path, format!("`{text}` is not a number")))
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
    let corrupt = |message: String| corrupt(path, message);
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

/// The results rows of a `state.json` saved after `epoch`: one per epoch, each value parsed
/// back exactly; `path` names the file in errors.
pub(crate) fn rows_of<R: ResultRow>(
    stored: &[StoredRow<R>],
    epoch: u32,
    path: &Path,
) -> Result<Vec<R>, TrainError> {
    let mut results = Vec::with_capacity(stored.len());
    for row in stored {
        results.push(row.to_row(|text| parse_exact(text, path))?);
    }
    if results.len() != epoch as usize {
        return Err(corrupt(
            path,
            format!("{} results rows after epoch {epoch}", results.len()),
        ));
    }
    Ok(results)
}
