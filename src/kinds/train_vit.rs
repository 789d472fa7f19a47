//! The `train-vit` kind: one run of the paper's ViT baseline (`docs/protocol.md`, "The ViT
//! baseline"; figures 1b and 2b): a ViT trained from scratch with SGD, a cosine schedule with
//! linear warm-up and cross-entropy, logging after every epoch the validation loss and the RSA
//! of its penultimate embeddings on the 48 RSA images against the human RDM. A baseline, or a
//! perturbed run continuing a baseline.
//!
//! # Params
//!
//! | param | type | meaning |
//! |---|---|---|
//! | `model` | `"vit-tiny"` \| `"vit-b-16"` | the ViT ([`VitConfig::tiny`]: 32 px, 8 px patches, width 64, 2 blocks; [`VitConfig::vit_b_16`]: 224 px); the head has one output per class |
//! | `data` | table | `{ world = "things-synth", resolution = 32, train_pool_size = 1806, synth_seed = 0, images_per_concept = 1, min_class_size = 8, val_size = … }` or `{ world = "imagenet", root = "data/imagenet", things_image_dir = "data/things/images" }` (both folders must be declared inputs) |
//! | `seed` | integer | the run seed: initial weights and every epoch's batch order (default 0) |
//! | `epochs` | integer | the schedule's length (paper: 100); required |
//! | `warmup_epochs` | integer | linear warm-up epochs at the start of the schedule (default 0) |
//! | `batch_size` | integer | default 64 |
//! | `learning_rate` | float | peak SGD learning rate (default 0.1, the paper's) |
//! | `momentum` | float | default 0.9 |
//! | `weight_decay` | float | L2, PyTorch's SGD form (default 1e-4) |
//! | `stop_after_epoch` | integer | train only this far (the schedule stays that of `epochs`) |
//! | `perturbation` | table | `{ kind = "random_target", start = 5, length = 1, seed = 0 }` (`noise_std`, the ε of `image_noise`, default 0.1 for this model); kinds `random_target`, `label_shuffle`, `image_noise`, `uniform_images` (see `cpbuild_ml::vit` for their reading for a classifier) |
//! | `resume_from` | string | a `train-vit` dependency to continue from its state after epoch `start − 1` (required with a `perturbation` starting after epoch 1) |
//!
//! # The things-synth labelling (ci profile)
//!
//! The `train_pool_size` concepts of the 1,806-concept training file ([`synth::training_subset`],
//! never one of the 48 RSA concepts; checked) are labelled by their *dominant dimension*: the
//! index of the largest of their 66 SPoSE values (the lowest index on a tie). Dimensions that
//! dominate fewer than `min_class_size` of the pool's concepts are dropped with their concepts;
//! the kept dimensions, ascending, are the classes `0..`. The labelled concepts are split once
//! (stream (`synth_seed`, split)) into training and `val_size` validation concepts (default:
//! a fifth). Each training concept is rendered `images_per_concept` times (render seeds
//! `synth_seed`, `synth_seed + 1`, …: moved and re-noised, same cues); validation and RSA
//! concepts once with `synth_seed`. Pixels use the THINGS normalisation. `classes.json` in the
//! bundle lists the classes with their dimension labels and sizes.
//!
//! The run reads `data/things/*` (the two SPoSE files, the human RDM, the dimension labels)
//! under the project root; each must be a declared `inputs` entry. The backend comes from the
//! build setting `backend` (`ndarray`, `wgpu` or `cuda`, see [`super::run`]).
//!
//! # Demand-driven extension
//!
//! As for `train-hba`: a run's family is its params without `stop_after_epoch`, and a run
//! offered a shorter committed run of its family copies its saved epochs and trains on from the
//! last of them, byte-identical to the run that went this far in one go.
//!
//! # Bundle
//!
//! `results.csv` (`epoch,val_loss,rsa_score`; perturbed runs add the four `used_…` columns of
//! CLIP-HBA), `classes.json`, `config.json` (the resolved params and the training config), and
//! `epochs/e####/` (the state after each epoch; see `cpbuild_ml::vit::state`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use cpbuild_engine::action::{ActionContext, ActionError, ParamError};
use cpbuild_ml::backend::Resolved;
use cpbuild_ml::burn::tensor::backend::AutodiffBackend;
use cpbuild_ml::split::Split;
use cpbuild_ml::vit::state::VitState;
use cpbuild_ml::vit::{
    ImageSet, InMemoryImages, VitConfig, VitData, VitEpochResult, VitTrainConfig, VitTrainer,
};
use serde_json::{Value as Json, json};

use super::hba_data::{HUMAN_RDM, LABELS, RSA_CSV, TRAIN_CSV, ThingsTables, render_normalised};
use super::params::{
    DataTable, NoiseParam, config_error, float, integer, optional_small, perturbation,
    refuse_unknown, resume_from, small, string,
};
use super::run::{failed, starting_state};
use super::training::{
    BackendTraining, EpochLine, KindParams, TrainingKind, on_backend, train_to_end, write_json,
};
use crate::data::imagenet::{IMAGENET_SOURCE, ImageNetFolder, ImageNetSplit};
use crate::data::images::{Normalisation, Preprocessing, THINGS_IMAGES_SOURCE, ThingsImages};
use crate::data::synth::SynthConfig;
use crate::data::things::DIMENSIONS;

/// The `train-vit` kind.
pub struct TrainVit;

/// The project files every run reads; each must be a declared input.
pub const REQUIRED_INPUTS: [&str; 4] = [TRAIN_CSV, RSA_CSV, HUMAN_RDM, LABELS];

const PARAMS: [&str; 12] = [
    "model",
    "data",
    "seed",
    "epochs",
    "warmup_epochs",
    "batch_size",
    "learning_rate",
    "momentum",
    "weight_decay",
    "stop_after_epoch",
    "perturbation",
    "resume_from",
];

/// Where the pixels come from.
#[derive(Debug, Clone, PartialEq)]
enum World {
    ThingsSynth {
        resolution: usize,
        train_pool_size: usize,
        synth_seed: u64,
        images_per_concept: usize,
        min_class_size: usize,
        val_size: Option<usize>,
    },
    ImageNet {
        root: String,
        things_image_dir: String,
    },
}

/// The parsed params.
#[derive(Debug, Clone)]
pub struct Params {
    model: String,
    world: World,
    train: VitTrainConfig,
    resume_from: Option<String>,
}

/// The model's image size, or `None` for an unknown model.
fn image_size(model: &str) -> Option<usize> {
    match model {
        "vit-tiny" => Some(VitConfig::tiny(1).image_size),
        "vit-b-16" => Some(VitConfig::vit_b_16(1).image_size),
        _ => None,
    }
}

fn model_config(model: &str, classes: usize) -> Option<VitConfig> {
    match model {
        "vit-tiny" => Some(VitConfig::tiny(classes)),
        "vit-b-16" => Some(VitConfig::vit_b_16(classes)),
        _ => None,
    }
}

impl KindParams for Params {
    fn parse(params: &Json) -> Result<Params, ParamError> {
        refuse_unknown(params, &PARAMS, "train-vit")?;
        let model = string(params, "model")?
            .ok_or_else(|| {
                ParamError::at("model", "`model` is missing; use `vit-tiny` or `vit-b-16`")
            })?
            .to_string();
        let Some(size) = image_size(&model) else {
            return Err(ParamError::at(
                "model",
                format!("unknown model `{model}`; use `vit-tiny` or `vit-b-16`"),
            ));
        };
        let world = Self::world(params, size)?;
        let epochs = small(
            "epochs",
            integer(params, "epochs")?
                .ok_or_else(|| ParamError::at("epochs", "`epochs` is missing"))?,
        )?;
        let perturbation = match params.get("perturbation") {
            None => None,
            Some(table) => Some(perturbation(table, NoiseParam::Std { default: 0.1 })?),
        };
        let train = VitTrainConfig {
            seed: integer(params, "seed")?.unwrap_or(0),
            batch_size: integer(params, "batch_size")?.unwrap_or(64) as usize,
            learning_rate: float(params, "learning_rate", 0.1)?,
            momentum: float(params, "momentum", 0.9)?,
            weight_decay: float(params, "weight_decay", 1e-4)?,
            warmup_epochs: small(
                "warmup_epochs",
                integer(params, "warmup_epochs")?.unwrap_or(0),
            )?,
            epochs,
            stop_after_epoch: optional_small(params, "stop_after_epoch")?,
            perturbation,
        };
        train.validate().map_err(|message| {
            config_error(
                message,
                &[
                    "batch_size",
                    "learning_rate",
                    "momentum",
                    "weight_decay",
                    "warmup_epochs",
                    "epochs",
                    "perturbation",
                ],
            )
        })?;
        let resume_from = resume_from(params, train.perturbation.as_ref())?;
        Ok(Params {
            model,
            world,
            train,
            resume_from,
        })
    }
}

impl Params {
    fn world(params: &Json, size: usize) -> Result<World, ParamError> {
        let data = DataTable::parse(
            params,
            "data = { world = \"things-synth\", train_pool_size = 400 }",
            &[
                (
                    "things-synth",
                    &[
                        "world",
                        "resolution",
                        "train_pool_size",
                        "synth_seed",
                        "images_per_concept",
                        "min_class_size",
                        "val_size",
                    ],
                ),
                ("imagenet", &["world", "root", "things_image_dir"]),
            ],
        )?;
        if data.world == "imagenet" {
            let text = |name: &str, default: &str| -> Result<String, ParamError> {
                Ok(data.text(name)?.unwrap_or(default).to_string())
            };
            return Ok(World::ImageNet {
                root: text("root", "data/imagenet")?,
                things_image_dir: text("things_image_dir", "data/things/images")?,
            });
        }
        let resolution = data.resolution(size, "the model")?;
        let images_per_concept = data.number("images_per_concept")?.unwrap_or(1) as usize;
        if images_per_concept == 0 {
            return Err(ParamError::at("data", "`data.images_per_concept` is 0"));
        }
        Ok(World::ThingsSynth {
            resolution,
            train_pool_size: data.number("train_pool_size")?.unwrap_or(1806) as usize,
            synth_seed: data.number("synth_seed")?.unwrap_or(0),
            images_per_concept,
            min_class_size: data.number("min_class_size")?.unwrap_or(8).max(1) as usize,
            val_size: data.number("val_size")?.map(|size| size as usize),
        })
    }
}

/// One split of an ImageNet folder, decoded per batch.
struct FolderImages {
    split: ImageNetSplit,
    resolution: u32,
}

impl ImageSet for FolderImages {
    fn len(&self) -> usize {
        self.split.len()
    }

    fn label(&self, index: usize) -> usize {
        self.split.label(index)
    }

    fn pixels(&self, indices: &[usize]) -> Result<Vec<f32>, String> {
        let mut out = Vec::new();
        for &index in indices {
            out.extend(
                self.split
                    .load(index, self.resolution)
                    .map_err(|error| error.to_string())?,
            );
        }
        Ok(out)
    }
}

/// The assembled data and a description of its classes (for `classes.json`).
struct Loaded {
    data: VitData,
    classes: Json,
}

fn load(root: &Path, world: &World, resolution: usize) -> Result<Loaded, String> {
    let mut tables = ThingsTables::read(root, true)?;
    let human_rdm = tables.rdm_values();
    let ThingsTables { rsa, labels, .. } = &tables;
    match world {
        World::ThingsSynth {
            train_pool_size,
            synth_seed,
            images_per_concept,
            min_class_size,
            val_size,
            ..
        } => {
            let pool = tables.pool(*train_pool_size, *synth_seed)?;
            let dominant = |concept: &usize| -> usize {
                let row = tables.targets(*concept);
                (0..DIMENSIONS).fold(0, |best, dim| if row[dim] > row[best] { dim } else { best })
            };
            let mut counts = [0usize; DIMENSIONS];
            for concept in &pool {
                counts[dominant(concept)] += 1;
            }
            let kept: Vec<usize> = (0..DIMENSIONS)
                .filter(|&dim| counts[dim] >= *min_class_size)
                .collect();
            if kept.len() < 2 {
                return Err(format!(
                    "only {} dominant dimension(s) have at least {min_class_size} of the {} pool concepts; lower `data.min_class_size` or raise `data.train_pool_size`",
                    kept.len(),
                    pool.len()
                ));
            }
            let class_of: BTreeMap<usize, usize> = kept
                .iter()
                .enumerate()
                .map(|(class, &dim)| (dim, class))
                .collect();
            let labelled: Vec<(usize, usize)> = pool
                .iter()
                .filter_map(|concept| class_of.get(&dominant(concept)).map(|&c| (*concept, c)))
                .collect();
            let val_count = val_size.unwrap_or(labelled.len() / 5).max(1);
            if val_count >= labelled.len() {
                return Err(format!(
                    "`data.val_size` {val_count} leaves no training concept of the {} labelled ones",
                    labelled.len()
                ));
            }
            let split = Split::draw(
                labelled.len(),
                labelled.len() - val_count,
                val_count,
                *synth_seed,
            )?;
            let render_set = |positions: &[usize], variants: usize| -> InMemoryImages {
                let image_len = 3 * resolution * resolution;
                let mut pixels = Vec::with_capacity(positions.len() * variants * image_len);
                let mut labels = Vec::with_capacity(positions.len() * variants);
                for &position in positions {
                    let (concept, class) = labelled[position];
                    for variant in 0..variants {
                        let config = SynthConfig {
                            resolution,
                            seed: synth_seed.wrapping_add(variant as u64),
                        };
                        render_normalised(tables.targets(concept), concept, &config, &mut pixels);
                        labels.push(class);
                    }
                }
                InMemoryImages {
                    image_len,
                    pixels,
                    labels,
                }
            };
            let mut train_positions = split.train.clone();
            train_positions.sort_unstable();
            let mut val_positions = split.test.clone();
            val_positions.sort_unstable();
            let train_set = render_set(&train_positions, *images_per_concept);
            let val_set = render_set(&val_positions, 1);
            let config = SynthConfig {
                resolution,
                seed: *synth_seed,
            };
            let mut rsa_images = Vec::new();
            for (targets, concept) in rsa.targets.iter().zip(&rsa.concept_index) {
                render_normalised(targets, *concept, &config, &mut rsa_images);
            }
            let classes = json!({
                "labelling": "dominant SPoSE dimension",
                "classes": kept.iter().map(|&dim| json!({
                    "dimension": dim,
                    "label": labels.get(dim),
                    "concepts": counts[dim],
                })).collect::<Vec<_>>(),
                "train_concepts": train_positions.iter().map(|&p| labelled[p].0).collect::<Vec<_>>(),
                "val_concepts": val_positions.iter().map(|&p| labelled[p].0).collect::<Vec<_>>(),
            });
            Ok(Loaded {
                data: VitData {
                    image_size: resolution,
                    classes: kept.len(),
                    train: Box::new(train_set),
                    val: Box::new(val_set),
                    rsa_images,
                    human_rdm,
                },
                classes,
            })
        }
        World::ImageNet {
            root: folder,
            things_image_dir,
        } => {
            let imagenet = ImageNetFolder::open(root.join(folder)).map_err(|e| e.to_string())?;
            let size = u32::try_from(resolution).map_err(|_| "resolution too large")?;
            let preprocessing = Preprocessing {
                resolution: size,
                normalisation: Normalisation::THINGS,
            };
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            let rsa_images =
                ThingsImages::open(root.join(things_image_dir), rsa.image_name.clone())
                    .and_then(|images| images.load_all(&preprocessing, threads))
                    .map_err(|e| e.to_string())?
                    .pixels;
            let count = imagenet.class_count();
            let classes = json!({ "labelling": "imagenet folder", "classes": imagenet.classes });
            Ok(Loaded {
                data: VitData {
                    image_size: resolution,
                    classes: count,
                    train: Box::new(FolderImages {
                        split: imagenet.train,
                        resolution: size,
                    }),
                    val: Box::new(FolderImages {
                        split: imagenet.val,
                        resolution: size,
                    }),
                    rsa_images,
                    human_rdm,
                },
                classes,
            })
        }
    }
}

impl EpochLine for VitEpochResult {
    fn epoch(&self) -> u32 {
        self.epoch
    }

    fn summary(&self) -> String {
        format!(
            "train {:.4} val {:.4} rsa {:.4}",
            self.train_loss, self.val_loss, self.rsa_score
        )
    }
}

impl TrainingKind for TrainVit {
    const KIND: &'static str = "train-vit";
    const DESCRIPTION: &'static str = "trains the ViT baseline from scratch (SGD, cosine schedule); RSA after every epoch; saves every epoch";
    const REQUIRED_INPUTS: &'static [&'static str] = &REQUIRED_INPUTS;
    type Params = Params;

    fn folders(params: &Params) -> Vec<&str> {
        match &params.world {
            World::ImageNet {
                root,
                things_image_dir,
            } => vec![root.as_str(), things_image_dir.as_str()],
            World::ThingsSynth { .. } => Vec::new(),
        }
    }

    fn missing_input_help(params: &Params, input: &str) -> Option<String> {
        let World::ImageNet {
            root,
            things_image_dir,
        } = &params.world
        else {
            return None;
        };
        let input = Path::new(input);
        if input == Path::new(root) {
            Some(IMAGENET_SOURCE.to_string())
        } else if input == Path::new(things_image_dir) {
            Some(THINGS_IMAGES_SOURCE.to_string())
        } else {
            None
        }
    }

    fn extent(params: &Params) -> Option<u32> {
        Some(params.train.last_epoch())
    }

    fn cost(params: &Params) -> u64 {
        let images = match &params.world {
            World::ThingsSynth {
                train_pool_size,
                images_per_concept,
                ..
            } => (*train_pool_size * *images_per_concept) as u64,
            World::ImageNet { .. } => 1_281_167 * 1000,
        };
        let epochs = params.train.last_epoch().saturating_sub(
            params
                .train
                .perturbation
                .map_or(0, |p| p.start.saturating_sub(1)),
        );
        (u64::from(epochs) * images).max(1)
    }

    fn run(
        params: Params,
        ctx: &mut ActionContext<'_>,
        resolved: Resolved,
    ) -> Result<(), ActionError> {
        let resolution = image_size(&params.model)
            .ok_or_else(|| failed(format!("unknown model `{}`", params.model)))?;
        let loaded = load(ctx.project_root, &params.world, resolution).map_err(failed)?;
        let model = model_config(&params.model, loaded.data.classes)
            .ok_or_else(|| failed(format!("unknown model `{}`", params.model)))?;
        let data = Arc::new(loaded.data);
        let config = params.train.clone();
        let description = json!({
            "model": params.model,
            "data": match &params.world {
                World::ThingsSynth { resolution, train_pool_size, synth_seed, images_per_concept, min_class_size, val_size } => json!({
                    "world": "things-synth",
                    "resolution": resolution,
                    "train_pool_size": train_pool_size,
                    "synth_seed": synth_seed,
                    "images_per_concept": images_per_concept,
                    "min_class_size": min_class_size,
                    "val_size": val_size,
                }),
                World::ImageNet { root, things_image_dir } => json!({
                    "world": "imagenet",
                    "root": root,
                    "things_image_dir": things_image_dir,
                }),
            },
            "classes": data.classes,
        });
        let backend = resolved.kind().name();
        let training = VitTraining {
            params,
            config,
            model,
            data,
            classes: loaded.classes,
            description,
            backend,
        };
        on_backend(ctx, Self::KIND, &resolved, training)
    }
}

/// The training part of a `train-vit` run, generic over the backend.
struct VitTraining {
    params: Params,
    config: VitTrainConfig,
    model: VitConfig,
    data: Arc<VitData>,
    classes: Json,
    description: Json,
    backend: &'static str,
}

impl BackendTraining for VitTraining {
    fn train<B: AutodiffBackend>(
        self,
        ctx: &mut ActionContext<'_>,
        device: B::Device,
    ) -> Result<(), ActionError> {
        let (params, config, model) = (self.params, self.config, self.model);
        let epochs_root = ctx.out_dir.join("epochs");
        let start = starting_state::<VitState>(
            ctx,
            "train-vit",
            &config,
            &epochs_root,
            params.resume_from.as_deref(),
            &self.description,
            "its `epochs` or `stop_after_epoch`",
        )?;
        let mut trainer = match start {
            Some(state) => {
                VitTrainer::<B>::resume(config.clone(), &model, self.data, &device, &state)
            }
            None => VitTrainer::<B>::new(config.clone(), &model, self.data, &device),
        }
        .map_err(|error| failed(error.to_string()))?;

        let config_json = json!({ "run": self.description, "train": config });
        write_json(&ctx.out_dir.join("config.json"), &config_json)?;
        write_json(&ctx.out_dir.join("classes.json"), &self.classes)?;
        let what = format!(
            "train-vit: {} ({} classes)",
            params.model, model.num_classes
        );
        let end = (epochs_root.as_path(), config.last_epoch());
        let results_csv = VitTrainer::results_csv;
        train_to_end(ctx, (&what, self.backend), &mut trainer, end, results_csv)?;
        ctx.info.insert("classes".into(), json!(model.num_classes));
        Ok(())
    }
}
