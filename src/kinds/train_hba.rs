//! The `train-hba` kind: one CLIP-HBA training run (a baseline, or a perturbed run continuing a
//! baseline), as PAPER.md "Training (baseline)" and "Perturbations" describe it.
//!
//! # Params
//!
//! | param | type | meaning |
//! |---|---|---|
//! | `model` | `"clip-tiny"` \| `"clip-vit-l-14"` | the backbone; DoRA (r 32, α 16) on the last vision and last text block for `clip-tiny`, the paper's blocks (vision 22, 23; text 11) for ViT-L/14 |
//! | `data` | table | `{ world = "things-synth", resolution = 32, train_pool_size = 1806, synth_seed = 0 }` (resolution defaults to the model's image size) or `{ world = "things", image_dir = "data/things/images" }` (the real photographs, resized to the model's size; the directory must be a declared input) |
//! | `weights` | `"random"` | random frozen CLIP from `weights_seed` (default 0); or leave out and set `weights_from` |
//! | `weights_from` | string | a dependency whose bundle holds `clip.safetensors` (Hugging Face `CLIPModel` layout) |
//! | `seed` | integer | the run seed: split, loader order, DoRA init (default 0) |
//! | `max_epochs` | integer | at most this many epochs (paper: 500) |
//! | `patience` | integer | early stopping on the test loss (default 20) |
//! | `train_size`, `test_size` | integers | the split of the pool (paper: 1444, 362) |
//! | `batch_size` | integer | default 64 |
//! | `learning_rate` | float | AdamW learning rate (default 3e-4; β (0.9, 0.999), ε 1e-8, wd 0.01 fixed) |
//! | `stop_after_epoch` | integer | train only this far (demand-driven runs) |
//! | `perturbation` | table | `{ kind = "random_target", start = 5, length = 1, seed = 0 }` (`noise_std` for `image_noise`, default 1); kinds `random_target`, `label_shuffle`, `image_noise`, `uniform_images` |
//! | `resume_from` | string | a `train-hba` dependency to continue from its state after epoch `start − 1` (required with `perturbation`) |
//! | `prefix_cache` | bool | cache the frozen blocks' outputs (default true; results are bitwise the same) |
//!
//! The run reads `data/things/*` and `data/clip/bpe_simple_vocab_16e6.txt.gz` under the project
//! root; each must be a declared `inputs` entry of the target, so that nothing it reads is hidden
//! from its key. The backend comes from the build setting `backend` (only `ndarray` for now).
//!
//! # Bundle
//!
//! `results.csv` (the paper's columns; perturbed runs add the four `used_…` columns),
//! `split.json` (pool positions of the train and test images, and the pool's concept indices),
//! `config.json` (the resolved params and the training config), and `epochs/e####/` (the state
//! after each epoch, from the starting epoch on; see `cpbuild_ml::train::state`).
//!
//! # Demand-driven extension
//!
//! A run's *family* is its params without `stop_after_epoch`; its *extent* is the last epoch it
//! may train (`stop_after_epoch`, capped by `max_epochs`). When the engine offers a shorter
//! committed run of the same family ([`ActionContext::previous`]), the run copies its saved
//! epochs (rewriting the config they record to this run's, the only thing that differs) and
//! trains on from the last of them. Training resumes exactly, so the bundle is byte-identical
//! to the one a run that went this far in one go would write (`tests/kinds` checks it).

use std::io::Write;
use std::path::{Path, PathBuf};

use cpbuild_engine::action::{
    Action, ActionContext, ActionError, BuildOptions, CancelFlag, Extension, ParamError,
    PreviousRun, Progress,
};
use cpbuild_ml::perturbation::{Perturbation, PerturbationKind};
use cpbuild_ml::results::EpochResult;
use cpbuild_ml::train::state::{EpochState, epoch_dir};
use cpbuild_ml::train::{TrainConfig, TrainError, TrainObserver, Trainer, random_clip};
use cpbuild_ml::{ClipConfig, ClipHbaConfig, CpuAutodiffBackend, DoraConfig, load_clip};
use serde_json::{Value as Json, json};

use super::hba_data::{self, REQUIRED_INPUTS, World};

/// The `train-hba` kind.
pub struct TrainHba;

/// The backends `train-hba` runs on.
pub const BACKENDS: [&str; 1] = ["ndarray"];

const PARAMS: [&str; 15] = [
    "model",
    "data",
    "weights",
    "weights_seed",
    "weights_from",
    "seed",
    "max_epochs",
    "patience",
    "train_size",
    "test_size",
    "batch_size",
    "learning_rate",
    "stop_after_epoch",
    "perturbation",
    "resume_from",
];

const EXTRA_PARAMS: [&str; 1] = ["prefix_cache"];

/// How the frozen CLIP is obtained.
#[derive(Debug, Clone, PartialEq)]
enum Weights {
    Random { seed: u64 },
    FromDep { target: String },
}

/// The parsed params.
#[derive(Debug, Clone)]
struct Params {
    model: String,
    world: World,
    weights: Weights,
    train: TrainConfig,
    resume_from: Option<String>,
    prefix_cache: bool,
}

fn model_config(model: &str) -> Option<(ClipConfig, DoraConfig)> {
    match model {
        "clip-tiny" => {
            let clip = ClipConfig::tiny();
            let dora = DoraConfig::last_layers(&clip, 1, 1);
            Some((clip, dora))
        }
        "clip-vit-l-14" => Some((ClipConfig::vit_l_14(), DoraConfig::paper())),
        _ => None,
    }
}

fn integer(params: &Json, field: &str) -> Result<Option<u64>, ParamError> {
    match params.get(field) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or_else(|| {
            ParamError::at(
                field,
                format!("`{field}` must be a non-negative integer, not `{value}`"),
            )
        }),
    }
}

fn required_integer(params: &Json, field: &str) -> Result<u64, ParamError> {
    integer(params, field)?.ok_or_else(|| ParamError::at(field, format!("`{field}` is missing")))
}

fn small(field: &str, value: u64) -> Result<u32, ParamError> {
    u32::try_from(value).map_err(|_| ParamError::at(field, format!("`{field}` is too large")))
}

fn string<'a>(params: &'a Json, field: &str) -> Result<Option<&'a str>, ParamError> {
    match params.get(field) {
        None => Ok(None),
        Some(Json::String(text)) => Ok(Some(text)),
        Some(other) => Err(ParamError::at(
            field,
            format!("`{field}` must be a string, not `{other}`"),
        )),
    }
}

impl Params {
    fn parse(params: &Json) -> Result<Params, ParamError> {
        let Some(object) = params.as_object() else {
            return Err(ParamError::whole("`params` must be a table"));
        };
        if let Some(unknown) = object
            .keys()
            .find(|key| !PARAMS.contains(&key.as_str()) && !EXTRA_PARAMS.contains(&key.as_str()))
        {
            return Err(ParamError::at(
                unknown,
                format!(
                    "unknown param `{unknown}`; `train-hba` takes {}",
                    PARAMS
                        .iter()
                        .chain(&EXTRA_PARAMS)
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let model = string(params, "model")?
            .ok_or_else(|| {
                ParamError::at(
                    "model",
                    "`model` is missing; use `clip-tiny` or `clip-vit-l-14`",
                )
            })?
            .to_string();
        let Some((clip, _)) = model_config(&model) else {
            return Err(ParamError::at(
                "model",
                format!("unknown model `{model}`; use `clip-tiny` or `clip-vit-l-14`"),
            ));
        };
        let world = Self::world(params, &clip)?;
        let weights = match (string(params, "weights")?, string(params, "weights_from")?) {
            (Some("random"), None) => Weights::Random {
                seed: integer(params, "weights_seed")?.unwrap_or(0),
            },
            (None, Some(target)) => Weights::FromDep {
                target: target.to_string(),
            },
            (Some(other), None) => {
                return Err(ParamError::at(
                    "weights",
                    format!(
                        "`weights` must be `random`, not `{other}`; for pretrained weights set `weights_from = \"<dependency>\"` instead"
                    ),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ParamError::at(
                    "weights_from",
                    "set either `weights = \"random\"` or `weights_from`, not both",
                ));
            }
            (None, None) => {
                return Err(ParamError::whole(
                    "the frozen CLIP is not given: set `weights = \"random\"` or `weights_from = \"<dependency>\"`",
                ));
            }
        };
        if params.get("weights_seed").is_some() && !matches!(weights, Weights::Random { .. }) {
            return Err(ParamError::at(
                "weights_seed",
                "`weights_seed` only applies to `weights = \"random\"`",
            ));
        }
        let perturbation = match params.get("perturbation") {
            None => None,
            Some(table) => Some(Self::perturbation(table)?),
        };
        let learning_rate = match params.get("learning_rate") {
            None => 3e-4,
            Some(value) => value.as_f64().filter(|lr| *lr > 0.0).ok_or_else(|| {
                ParamError::at(
                    "learning_rate",
                    format!("`learning_rate` must be a positive number, not `{value}`"),
                )
            })?,
        };
        let train = TrainConfig {
            seed: integer(params, "seed")?.unwrap_or(0),
            train_size: required_integer(params, "train_size")? as usize,
            test_size: required_integer(params, "test_size")? as usize,
            batch_size: integer(params, "batch_size")?.unwrap_or(64) as usize,
            learning_rate,
            max_epochs: small("max_epochs", required_integer(params, "max_epochs")?)?,
            patience: small("patience", integer(params, "patience")?.unwrap_or(20))?,
            stop_after_epoch: match integer(params, "stop_after_epoch")? {
                Some(epoch) => Some(small("stop_after_epoch", epoch)?),
                None => None,
            },
            perturbation,
            ..TrainConfig::paper(0)
        };
        train.validate().map_err(|error| {
            let message = error.to_string();
            let field = ["batch_size", "train_size", "patience", "perturbation"]
                .into_iter()
                .find(|field| message.contains(field));
            match field {
                Some(field) => ParamError::at(field, message),
                None => ParamError::whole(message),
            }
        })?;
        if let World::ThingsSynth {
            train_pool_size, ..
        } = world
            && train.train_size + train.test_size > train_pool_size
        {
            return Err(ParamError::at(
                "train_size",
                format!(
                    "`train_size` + `test_size` = {} exceeds the pool of {train_pool_size} (`data.train_pool_size`)",
                    train.train_size + train.test_size
                ),
            ));
        }
        let resume_from = string(params, "resume_from")?.map(str::to_string);
        match (&train.perturbation, &resume_from) {
            (Some(p), None) if p.start > 1 => {
                return Err(ParamError::at(
                    "perturbation",
                    format!(
                        "a perturbed run starting at epoch {} continues a baseline: set `resume_from = \"<baseline target>\"`",
                        p.start
                    ),
                ));
            }
            (None, Some(_)) => {
                return Err(ParamError::at(
                    "resume_from",
                    "`resume_from` needs a `perturbation` (it resumes from the baseline's state after epoch `start − 1`)",
                ));
            }
            _ => {}
        }
        let prefix_cache = match params.get("prefix_cache") {
            None => true,
            Some(Json::Bool(on)) => *on,
            Some(other) => {
                return Err(ParamError::at(
                    "prefix_cache",
                    format!("`prefix_cache` must be true or false, not `{other}`"),
                ));
            }
        };
        Ok(Params {
            model,
            world,
            weights,
            train,
            resume_from,
            prefix_cache,
        })
    }

    fn world(params: &Json, clip: &ClipConfig) -> Result<World, ParamError> {
        let Some(data) = params.get("data") else {
            return Err(ParamError::at(
                "data",
                "`data` is missing; e.g. `data = { world = \"things-synth\", train_pool_size = 1806 }`",
            ));
        };
        let field = |name: &str| data.get(name);
        let known: &[&str] = match field("world").and_then(Json::as_str) {
            Some("things-synth") => &["world", "resolution", "train_pool_size", "synth_seed"],
            Some("things") => &["world", "image_dir"],
            _ => {
                return Err(ParamError::at(
                    "data",
                    "`data.world` must be `things-synth` or `things`",
                ));
            }
        };
        if let Some(unknown) = data
            .as_object()
            .and_then(|object| object.keys().find(|key| !known.contains(&key.as_str())))
        {
            return Err(ParamError::at(
                "data",
                format!("unknown field `data.{unknown}`; this world takes {known:?}"),
            ));
        }
        let number = |name: &str| -> Result<Option<u64>, ParamError> {
            match field(name) {
                None => Ok(None),
                Some(value) => value.as_u64().map(Some).ok_or_else(|| {
                    ParamError::at(
                        "data",
                        format!("`data.{name}` must be a non-negative integer, not `{value}`"),
                    )
                }),
            }
        };
        if field("world").and_then(Json::as_str) == Some("things") {
            let image_dir = field("image_dir").and_then(Json::as_str).ok_or_else(|| {
                ParamError::at(
                    "data",
                    "`data.image_dir` is missing (the folder of THINGS images)",
                )
            })?;
            return Ok(World::Things {
                image_dir: image_dir.to_string(),
                resolution: clip.vision.image_size,
            });
        }
        let resolution = number("resolution")?.unwrap_or(clip.vision.image_size as u64) as usize;
        if resolution != clip.vision.image_size {
            return Err(ParamError::at(
                "data",
                format!(
                    "`data.resolution` is {resolution} but the model takes {0}×{0} images",
                    clip.vision.image_size
                ),
            ));
        }
        Ok(World::ThingsSynth {
            resolution,
            train_pool_size: number("train_pool_size")?.unwrap_or(1806) as usize,
            synth_seed: number("synth_seed")?.unwrap_or(0),
        })
    }

    fn perturbation(table: &Json) -> Result<Perturbation, ParamError> {
        let invalid = |message: String| ParamError::at("perturbation", message);
        let known = ["kind", "start", "length", "seed", "noise_std"];
        if let Some(unknown) = table
            .as_object()
            .ok_or_else(|| invalid("`perturbation` must be a table".into()))?
            .keys()
            .find(|key| !known.contains(&key.as_str()))
        {
            return Err(invalid(format!(
                "unknown field `perturbation.{unknown}`; it takes {known:?}"
            )));
        }
        let kind = table
            .get("kind")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid("`perturbation.kind` is missing".into()))?;
        let kind = PerturbationKind::parse(kind).map_err(invalid)?;
        let number = |name: &str, default: Option<u64>| {
            match table.get(name) {
                None => default,
                Some(value) => value.as_u64(),
            }
            .ok_or_else(|| {
                invalid(format!(
                    "`perturbation.{name}` must be a non-negative integer"
                ))
            })
        };
        let start = number("start", None)?;
        let length = number("length", Some(1))?;
        let noise_std = match table.get("noise_std") {
            None => 1.0,
            Some(value) => value.as_f64().filter(|std| *std >= 0.0).ok_or_else(|| {
                invalid("`perturbation.noise_std` must be a non-negative number".into())
            })?,
        };
        Ok(Perturbation {
            kind,
            start: small("perturbation", start)?,
            length: small("perturbation", length)?,
            seed: number("seed", Some(0))?,
            // Filled from the training file when the run starts (PAPER.md: 5.69…, 10.18…).
            target_mean: 0.0,
            target_std: 0.0,
            noise_std,
        })
    }
}

/// Reports epochs to the engine's progress output and the log; polls Ctrl-C.
struct Observer<'a> {
    progress: &'a dyn Progress,
    cancel: &'a CancelFlag,
    log: &'a mut dyn Write,
    last_epoch: u32,
}

impl TrainObserver for Observer<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn epoch_finished(&mut self, row: &EpochResult) {
        let line = format!(
            "epoch {}/{}: train {:.4} test {:.4} rho {:.4}",
            row.epoch, self.last_epoch, row.train_loss, row.test_loss, row.behavioral_rsa_rho
        );
        self.progress.message(&line);
        let _ = writeln!(self.log, "{line}");
    }
}

fn failed(message: impl Into<String>) -> ActionError {
    ActionError::failed(message)
}

fn dep_files(ctx: &ActionContext<'_>, param: &str, target: &str) -> Result<PathBuf, ActionError> {
    ctx.deps
        .get(target)
        .map(|dep| dep.files.clone())
        .ok_or_else(|| {
            failed(format!(
                "`{param}` names `{target}`, which is not a dependency of `{}`; add it to `deps`",
                ctx.target
            ))
        })
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), ActionError> {
    std::fs::write(path, contents)
        .map_err(|error| failed(format!("cannot write `{}`: {error}", path.display())))
}

fn backend(options: &BuildOptions) -> &str {
    options
        .settings
        .get("backend")
        .map_or("ndarray", String::as_str)
}

/// Copies the saved epochs of `previous` (a shorter run of the same family) into
/// `epochs_root`, recording `config` in them as a one-go run would have; returns the last
/// epoch copied and its directory, to resume from. `None` when it saved no epoch.
fn continue_previous(
    previous: &PreviousRun,
    config: &TrainConfig,
    epochs_root: &Path,
) -> Result<Option<(u32, PathBuf)>, ActionError> {
    let from = previous.files.join("epochs");
    let listing = match std::fs::read_dir(&from) {
        Ok(listing) => listing,
        Err(_) => return Ok(None),
    };
    let mut epochs: Vec<u32> = listing
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let digits = name.to_str()?.strip_prefix('e')?;
            (digits.len() == 4).then(|| digits.parse().ok())?
        })
        .collect();
    epochs.sort_unstable();
    let Some(&last) = epochs.last() else {
        return Ok(None);
    };
    for epoch in &epochs {
        let source = epoch_dir(&from, *epoch);
        let mut state = EpochState::load(&source).map_err(|error| {
            failed(format!(
                "cannot continue the shorter run `{}`: {error}",
                previous.key
            ))
        })?;
        state
            .config
            .check_resumable(config, *epoch)
            .map_err(|message| {
                failed(format!(
                    "cannot continue the shorter run `{}` after epoch {epoch}: {message}",
                    previous.key
                ))
            })?;
        state.config = config.clone();
        state
            .save(&epoch_dir(epochs_root, *epoch))
            .map_err(|error| failed(error.to_string()))?;
    }
    Ok(Some((last, epoch_dir(epochs_root, last))))
}

impl Action for TrainHba {
    fn kind(&self) -> &'static str {
        "train-hba"
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn description(&self) -> &'static str {
        "trains CLIP-HBA (DoRA) on THINGS targets; a baseline or a perturbed run; saves every epoch"
    }

    fn check_params(&self, params: &Json) -> Result<(), ParamError> {
        Params::parse(params).map(|_| ())
    }

    fn key_context(&self, options: &BuildOptions) -> Json {
        json!({ "backend": backend(options) })
    }

    fn extension(&self, params: &Json) -> Option<Extension> {
        let parsed = Params::parse(params).ok()?;
        let mut family = params.clone();
        family.as_object_mut()?.remove("stop_after_epoch");
        Some(Extension {
            family,
            extent: u64::from(parsed.train.last_epoch()),
        })
    }

    fn cost(&self, params: &Json) -> u64 {
        let Ok(params) = Params::parse(params) else {
            return 1;
        };
        let per_image = if params.model == "clip-vit-l-14" {
            1000
        } else {
            1
        };
        let epochs = params.train.last_epoch().saturating_sub(
            params
                .train
                .perturbation
                .map_or(0, |p| p.start.saturating_sub(1)),
        );
        (u64::from(epochs) * params.train.train_size as u64 * per_image).max(1)
    }

    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let params = Params::parse(ctx.params).map_err(|error| failed(error.message))?;
        let backend = backend(ctx.options).to_string();
        if !BACKENDS.contains(&backend.as_str()) {
            return Err(failed(format!(
                "backend `{backend}` is not supported by `train-hba` yet; use one of {BACKENDS:?}"
            )));
        }
        for input in REQUIRED_INPUTS {
            if !ctx
                .inputs
                .iter()
                .any(|declared| declared == Path::new(input))
            {
                return Err(failed(format!(
                    "`{input}` is read by `train-hba` but is not a declared input of `{}`; add it to `inputs`",
                    ctx.target
                )));
            }
        }
        if let World::Things { image_dir, .. } = &params.world
            && !ctx
                .inputs
                .iter()
                .any(|declared| declared.starts_with(image_dir))
        {
            return Err(failed(format!(
                "the images in `{image_dir}` are read by `train-hba` but are not a declared input of `{}`; add `{image_dir}` to `inputs`",
                ctx.target
            )));
        }
        let loaded = hba_data::load(ctx.project_root, &params.world).map_err(failed)?;
        let mut config = params.train.clone();
        if let Some(perturbation) = &mut config.perturbation {
            perturbation.target_mean = loaded.target_mean;
            perturbation.target_std = loaded.target_std;
        }
        let (clip_config, dora) = model_config(&params.model)
            .ok_or_else(|| failed(format!("unknown model `{}`", params.model)))?;
        let hba = ClipHbaConfig::new(clip_config.clone(), dora);
        let device = Default::default();
        let clip = match &params.weights {
            Weights::Random { seed } => {
                random_clip::<CpuAutodiffBackend>(&clip_config, *seed, &device)
            }
            Weights::FromDep { target } => {
                let path = dep_files(ctx, "weights_from", target)?.join("clip.safetensors");
                load_clip::<CpuAutodiffBackend>(&clip_config, &path, &device)
            }
        }
        .map_err(|error| failed(error.to_string()))?;

        let description = json!({
            "model": params.model,
            "data": match &params.world {
                World::ThingsSynth { resolution, train_pool_size, synth_seed } => json!({
                    "world": "things-synth",
                    "resolution": resolution,
                    "train_pool_size": train_pool_size,
                    "synth_seed": synth_seed,
                }),
                World::Things {
                    image_dir,
                    resolution,
                } => json!({ "world": "things", "image_dir": image_dir, "resolution": resolution }),
            },
            "weights": match &params.weights {
                Weights::Random { seed } => json!({ "random": seed }),
                Weights::FromDep { .. } => json!("weights_from"),
            },
        });
        let epochs_root = ctx.out_dir.join("epochs");
        let continued = match &ctx.previous {
            Some(previous) => continue_previous(previous, &config, &epochs_root)?,
            None => None,
        };
        let trainer = match (&params.resume_from, &config.perturbation) {
            _ if continued.is_some() => {
                let (last, state) = continued.as_ref().expect("checked");
                let _ = writeln!(
                    ctx.log,
                    "train-hba: continuing the shorter run `{}` from its state after epoch {last}",
                    ctx.previous.as_ref().map_or("", |previous| previous.key.as_str())
                );
                Trainer::resume(config.clone(), &hba, clip, &loaded.data, &device, state)
            }
            (Some(target), Some(perturbation)) => {
                let files = dep_files(ctx, "resume_from", target)?;
                let theirs = std::fs::read(files.join("config.json"))
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<Json>(&bytes).ok());
                if theirs.as_ref().map(|c| &c["run"]) != Some(&description) {
                    return Err(failed(format!(
                        "`resume_from` target `{target}` was not trained with this run's model, data and weights (its `config.json` says {})",
                        theirs.map_or("nothing".into(), |c| c["run"].to_string())
                    )));
                }
                let from = perturbation.start - 1;
                let state = epoch_dir(&files.join("epochs"), from);
                if !state.exists() {
                    return Err(failed(format!(
                        "`{target}` has no saved state after epoch {from}; train it at least that far (`stop_after_epoch`/`max_epochs`)"
                    )));
                }
                Trainer::resume(config.clone(), &hba, clip, &loaded.data, &device, &state)
            }
            _ => Trainer::new(config.clone(), &hba, clip, &loaded.data, &device),
        }
        .map_err(|error| failed(error.to_string()))?;
        let mut trainer = trainer.with_prefix_cache(params.prefix_cache);

        let config_json = json!({
            "run": description,
            "train": config,
            "prefix_cache": params.prefix_cache,
        });
        let mut config_text = serde_json::to_string_pretty(&config_json)
            .map_err(|error| failed(error.to_string()))?;
        config_text.push('\n');
        write_file(&ctx.out_dir.join("config.json"), config_text.as_bytes())?;
        let split = json!({
            "train": trainer.split().train,
            "test": trainer.split().test,
            "pool_concepts": loaded.pool_concepts,
        });
        write_file(
            &ctx.out_dir.join("split.json"),
            format!("{split}\n").as_bytes(),
        )?;
        let _ = writeln!(
            ctx.log,
            "train-hba: {} on {backend}, starting after epoch {}, up to epoch {}",
            params.model,
            trainer.epoch(),
            config.last_epoch()
        );

        let mut observer = Observer {
            progress: ctx.progress,
            cancel: ctx.cancel,
            log: &mut *ctx.log,
            last_epoch: config.last_epoch(),
        };
        match trainer.run(Some(&epochs_root), &mut observer) {
            Ok(()) => {}
            Err(TrainError::Cancelled) => return Err(ActionError::Cancelled),
            Err(error) => return Err(failed(error.to_string())),
        }
        write_file(
            &ctx.out_dir.join("results.csv"),
            trainer.results_csv().as_bytes(),
        )?;
        ctx.info.insert("backend".into(), json!(backend));
        ctx.info
            .insert("epochs_trained".into(), json!(trainer.epoch()));
        ctx.info.insert(
            "best_epoch".into(),
            json!(trainer.early_stopping().best_epoch),
        );
        ctx.info.insert(
            "stopped_early".into(),
            json!(trainer.epoch() < config.last_epoch()),
        );
        Ok(())
    }
}
