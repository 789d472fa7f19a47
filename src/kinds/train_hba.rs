//! The `train-hba` kind: one CLIP-HBA training run (a baseline, or a perturbed run continuing a
//! baseline), as `docs/protocol.md`, "Training" and "Perturbations", describe it.
//!
//! # Params
//!
//! | param | type | meaning |
//! |---|---|---|
//! | `model` | `"clip-tiny"` \| `"clip-small"` \| `"clip-vit-l-14"` | the backbone; DoRA (r 32, α 16) on the last vision and last text block for `clip-tiny`, the last two vision blocks and the last text block for `clip-small` (the `ci` profile's), the paper's blocks (vision 22, 23; text 11) for ViT-L/14 |
//! | `data` | table | `{ world = "things-synth", resolution = 32, train_pool_size = 1806, synth_seed = 0 }` (resolution defaults to the model's image size) or `{ world = "things", image_dir = "data/things/images" }` (the real photographs, resized to the model's size; the directory must be a declared input) |
//! | `weights` | `"random"` | random frozen CLIP from `weights_seed` (default 0); or leave out and set `weights_from` |
//! | `weights_from` | string | a dependency whose bundle holds `clip.safetensors` (Hugging Face `CLIPModel` layout) |
//! | `seed` | integer | the run seed: split, loader order, DoRA init (default 0) |
//! | `max_epochs` | integer | at most this many epochs (paper: 500): a safety cap; a run it ends reports `stop_reason` `epoch_limit` |
//! | `patience` | integer | early stopping on the test loss (default 20); a perturbed run starts its own state at its first perturbed epoch and does not count the epochs of its window (see below) |
//! | `train_size`, `test_size` | integers | the split of the pool (paper: 1444, 362) |
//! | `batch_size` | integer | default 64 |
//! | `learning_rate` | float | AdamW learning rate (default 3e-4; β (0.9, 0.999), ε 1e-8, wd 0.01 fixed) |
//! | `stop_after_epoch` | integer | train only this far (demand-driven runs) |
//! | `perturbation` | table | `{ kind = "random_target", start = 5, length = 1, seed = 0 }` (`noise` for `image_noise`: `target`, the default, draws each pixel from N(mean, std) of the training targets as the original does; `normal` draws N(0, 1)); kinds `random_target`, `label_shuffle`, `image_noise`, `uniform_images` |
//! | `resume_from` | string | a `train-hba` dependency to continue from its state after epoch `start − 1` (required with `perturbation`) |
//! | `prefix_cache` | bool | cache the frozen blocks' outputs (default true; results are bitwise the same) |
//!
//! The run reads `data/things/*` and `data/clip/bpe_simple_vocab_16e6.txt.gz` under the project
//! root; each must be a declared `inputs` entry of the target, so that nothing it reads is hidden
//! from its key. The backend comes from the build setting `backend` (`ndarray`, `wgpu` or `cuda`,
//! see [`super::run`]).
//!
//! # Early stopping
//!
//! A baseline stops after `patience` epochs without a lower test loss; resuming or extending
//! it keeps its saved state. A perturbed run that continues a baseline starts a fresh state at
//! its first perturbed epoch: a lower test loss than any before it in the run resets the
//! counter at any epoch, and a non-improving epoch counts only outside the window, so the run
//! cannot stop before window end + patience (docs/protocol.md, "Early stopping in a perturbed
//! run"). The manifest's `info` says how the run ended: `stop_reason` (`early_stopping`,
//! `epoch_limit` or `stop_after_epoch`), `epochs_trained` and `best_epoch` (the epoch of the
//! lowest test loss: for a baseline, the minimum-test-loss epoch that fig3's data-dependent
//! sweep runs up to).
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

use std::path::{Path, PathBuf};

use cpbuild_engine::action::{ActionContext, ActionError, ParamError};
use cpbuild_ml::backend::Resolved;
use cpbuild_ml::burn::tensor::backend::AutodiffBackend;
use cpbuild_ml::results::EpochResult;
use cpbuild_ml::train::state::EpochState;
use cpbuild_ml::train::{StopReason, TrainConfig, Trainer, random_clip};
use cpbuild_ml::{ClipConfig, ClipHbaConfig, DoraConfig, load_clip};
use serde_json::{Value as Json, json};

use super::hba_data::{self, REQUIRED_INPUTS, World};
use super::params::{
    DataTable, NoiseParam, boolean, config_error, integer, optional_small, perturbation,
    refuse_unknown, resume_from, small, string,
};
use super::random_clip::CLIP_MODELS;
use super::run::{dep_files, failed, starting_state, write_file};
use super::training::{
    BackendTraining, EpochLine, KindParams, TrainingKind, on_backend, train_to_end, write_json,
};
use crate::data::images::THINGS_IMAGES_SOURCE;

/// The `train-hba` kind.
pub struct TrainHba;

const PARAMS: [&str; 16] = [
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
    "prefix_cache",
];

/// How the frozen CLIP is obtained.
#[derive(Debug, Clone, PartialEq)]
enum Weights {
    Random { seed: u64 },
    FromDep { target: String },
}

/// The parsed params.
#[derive(Debug, Clone)]
pub struct Params {
    model: String,
    world: World,
    weights: Weights,
    train: TrainConfig,
    resume_from: Option<String>,
    prefix_cache: bool,
}

/// The model a name stands for: the frozen CLIP and where DoRA adapts it. `clip-small` (the `ci`
/// profile's) and ViT-L/14 adapt the paper's number of blocks, the last two vision blocks and the
/// last text block (for `clip-small`'s two-block towers, both vision blocks); `clip-tiny`, for
/// quick tests, the last block of each tower.
pub fn model_config(model: &str) -> Option<(ClipConfig, DoraConfig)> {
    let clip = super::random_clip::clip_config(model)?;
    let dora = match model {
        "clip-tiny" => DoraConfig::last_layers(&clip, 1, 1),
        "clip-small" => DoraConfig::last_layers(&clip, 2, 1),
        _ => DoraConfig::paper(),
    };
    Some((clip, dora))
}

fn required_integer(params: &Json, field: &str) -> Result<u64, ParamError> {
    integer(params, field)?.ok_or_else(|| ParamError::at(field, format!("`{field}` is missing")))
}

impl KindParams for Params {
    fn parse(params: &Json) -> Result<Params, ParamError> {
        refuse_unknown(params, &PARAMS, "train-hba")?;
        let model = string(params, "model")?
            .ok_or_else(|| {
                ParamError::at("model", format!("`model` is missing; use {CLIP_MODELS}"))
            })?
            .to_string();
        let Some((clip, _)) = model_config(&model) else {
            return Err(ParamError::at(
                "model",
                format!("unknown model `{model}`; use {CLIP_MODELS}"),
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
            Some(table) => Some(perturbation(table, NoiseParam::Distribution)?),
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
            stop_after_epoch: optional_small(params, "stop_after_epoch")?,
            perturbation,
            ..TrainConfig::paper(0)
        };
        train.validate().map_err(|error| {
            config_error(
                error.to_string(),
                &["batch_size", "train_size", "patience", "perturbation"],
            )
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
        let resume_from = resume_from(params, train.perturbation.as_ref())?;
        let prefix_cache = boolean(params, "prefix_cache", true)?;
        Ok(Params {
            model,
            world,
            weights,
            train,
            resume_from,
            prefix_cache,
        })
    }
}

impl Params {
    fn world(params: &Json, clip: &ClipConfig) -> Result<World, ParamError> {
        let data = DataTable::parse(
            params,
            "data = { world = \"things-synth\", train_pool_size = 1806 }",
            &[
                (
                    "things-synth",
                    &["world", "resolution", "train_pool_size", "synth_seed"],
                ),
                ("things", &["world", "image_dir"]),
            ],
        )?;
        if data.world == "things" {
            // Anything but a string reads as missing, as it always has.
            let image_dir = data.text("image_dir").ok().flatten().ok_or_else(|| {
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
        Ok(World::ThingsSynth {
            resolution: data.resolution(clip.vision.image_size, "the model")?,
            train_pool_size: data.number("train_pool_size")?.unwrap_or(1806) as usize,
            synth_seed: data.number("synth_seed")?.unwrap_or(0),
        })
    }
}

impl EpochLine for EpochResult {
    fn epoch(&self) -> u32 {
        self.epoch
    }

    fn summary(&self) -> String {
        format!(
            "train {:.4} test {:.4} rho {:.4}",
            self.train_loss, self.test_loss, self.behavioral_rsa_rho
        )
    }
}

impl TrainingKind for TrainHba {
    const KIND: &'static str = "train-hba";
    const DESCRIPTION: &'static str = "trains CLIP-HBA (DoRA) on THINGS targets; a baseline or a perturbed run; saves every epoch";
    const REQUIRED_INPUTS: &'static [&'static str] = &REQUIRED_INPUTS;
    type Params = Params;

    fn folders(params: &Params) -> Vec<&str> {
        match &params.world {
            World::Things { image_dir, .. } => vec![image_dir.as_str()],
            World::ThingsSynth { .. } => Vec::new(),
        }
    }

    fn missing_input_help(params: &Params, input: &str) -> Option<String> {
        match &params.world {
            World::Things { image_dir, .. } if Path::new(input) == Path::new(image_dir) => {
                Some(THINGS_IMAGES_SOURCE.to_string())
            }
            _ => None,
        }
    }

    fn extent(params: &Params) -> Option<u32> {
        Some(params.train.last_epoch())
    }

    fn cost(params: &Params) -> u64 {
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

    fn run(
        params: Params,
        ctx: &mut ActionContext<'_>,
        backend: Resolved,
    ) -> Result<(), ActionError> {
        let loaded = hba_data::load(ctx.project_root, &params.world).map_err(failed)?;
        let mut config = params.train.clone();
        if let Some(perturbation) = &mut config.perturbation {
            perturbation.target_mean = loaded.target_mean;
            perturbation.target_std = loaded.target_std;
        }
        let (clip_config, dora) = model_config(&params.model)
            .ok_or_else(|| failed(format!("unknown model `{}`", params.model)))?;
        let hba = ClipHbaConfig::new(clip_config.clone(), dora);
        let weights_file = match &params.weights {
            Weights::Random { .. } => None,
            Weights::FromDep { target } => {
                Some(dep_files(ctx, "weights_from", target)?.join("clip.safetensors"))
            }
        };

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
        let name = backend.kind().name();
        let training = HbaTraining {
            params,
            config,
            hba,
            clip_config,
            weights_file,
            loaded,
            description,
            backend: name,
        };
        on_backend(ctx, Self::KIND, &backend, training)
    }
}

/// The training part of a `train-hba` run, generic over the backend.
struct HbaTraining {
    params: Params,
    config: TrainConfig,
    hba: ClipHbaConfig,
    clip_config: ClipConfig,
    weights_file: Option<PathBuf>,
    loaded: hba_data::HbaData,
    description: Json,
    backend: &'static str,
}

impl BackendTraining for HbaTraining {
    fn train<B: AutodiffBackend>(
        self,
        ctx: &mut ActionContext<'_>,
        device: B::Device,
    ) -> Result<(), ActionError> {
        let (params, config, loaded) = (self.params, self.config, self.loaded);
        let (description, backend) = (self.description, self.backend);
        let clip_config = &self.clip_config;
        let clip = match (&params.weights, &self.weights_file) {
            (_, Some(path)) => load_clip::<B>(clip_config, path, &device),
            (Weights::Random { seed }, None) => random_clip::<B>(clip_config, *seed, &device),
            (Weights::FromDep { .. }, None) => unreachable!("the weights file is found above"),
        }
        .map_err(|error| failed(error.to_string()))?;
        let epochs_root = ctx.out_dir.join("epochs");
        let start = starting_state::<EpochState>(
            ctx,
            "train-hba",
            &config,
            &epochs_root,
            params.resume_from.as_deref(),
            &description,
            "its `patience`, `max_epochs` or `stop_after_epoch`",
        )?;
        let trainer = match start {
            Some(state) => Trainer::resume(
                config.clone(),
                &self.hba,
                clip,
                &loaded.data,
                &device,
                &state,
            ),
            None => Trainer::new(config.clone(), &self.hba, clip, &loaded.data, &device),
        }
        .map_err(|error| failed(error.to_string()))?;
        let mut trainer = trainer.with_prefix_cache(params.prefix_cache);

        let config_json = json!({
            "run": description,
            "train": config,
            "prefix_cache": params.prefix_cache,
        });
        write_json(&ctx.out_dir.join("config.json"), &config_json)?;
        let split = json!({
            "train": trainer.split().train,
            "test": trainer.split().test,
            "pool_concepts": loaded.pool_concepts,
        });
        write_file(
            &ctx.out_dir.join("split.json"),
            format!("{split}\n").as_bytes(),
        )?;
        let what = format!("train-hba: {}", params.model);
        let end = (epochs_root.as_path(), config.last_epoch());
        train_to_end(
            ctx,
            (&what, backend),
            &mut trainer,
            end,
            Trainer::results_csv,
        )?;
        ctx.info.insert(
            "best_epoch".into(),
            json!(trainer.early_stopping().best_epoch),
        );
        ctx.info.insert(
            "stopped_early".into(),
            json!(trainer.epoch() < config.last_epoch()),
        );
        // Why the run ended: fig4 tells a run that early stopping ended ("NR" if it had not
        // recovered) from one cut by the epoch limit (undecided, reported).
        ctx.info.insert(
            "stop_reason".into(),
            json!(trainer.stop_reason().map(StopReason::name)),
        );
        Ok(())
    }
}
