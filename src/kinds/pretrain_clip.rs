//! The `pretrain-clip` kind: contrastive (CLIP) pretraining of `clip-tiny` or `clip-small` from random weights
//! on things-synth pictures and captions, the `ci` profile's stand-in for OpenAI's pretrained
//! CLIP. Its bundle's `clip.safetensors` is what `train-hba`'s `weights_from` loads.
//!
//! # Params
//!
//! | param | type | meaning |
//! |---|---|---|
//! | `model` | `"clip-tiny"` \| `"clip-small"` | the CLIP to pretrain ([`ClipConfig::tiny`], [`ClipConfig::small`]) |
//! | `data` | table | `{ world = "things-synth", resolution = 32, train_pool_size = 400, synth_seed = 0, eval_size = 64, caption_labels = 2 }` |
//! | `seed` | integer | initial weights (keyed ChaCha, device-independent) and every epoch's batch order (default 0) |
//! | `epochs` | integer | passes over the training pairs; required |
//! | `batch_size` | integer | pairs per contrastive batch (default 64, at least 2) |
//! | `learning_rate` | float | AdamW learning rate (default 1e-3; β (0.9, 0.98), ε 1e-6 as CLIP) |
//! | `weight_decay` | float | AdamW decoupled weight decay (default 0.1) |
//! | `learn_temperature` | bool | learn `logit_scale` (from ln(1/0.07), clamped to ≤ ln 100) or keep it fixed (default true) |
//!
//! # Data
//!
//! `train_pool_size` concepts of the 1,806-concept training file ([`synth::training_subset`]
//! with `synth_seed`); the 48 RSA concepts are never among them (checked against the 48-concept
//! file). `eval_size` of them (stream (`synth_seed`, split)) are held out for zero-shot
//! retrieval and never trained on. Each concept's caption is its `caption_labels` strongest
//! SPoSE dimension labels, strongest first (the lower index on a tie), joined with `", "`
//! (e.g. `"animal-related, bug-related; non-mammalian; disgusting"`), tokenised with CLIP's BPE
//! (context 77, trimmed to the longest caption: the text tower is causal and pools at
//! end-of-text, so trailing padding changes nothing). Pictures are rendered once with
//! `synth_seed` and normalised with the THINGS statistics.
//!
//! The run reads `data/things/` (both SPoSE files, the dimension labels) and the BPE vocabulary;
//! each must be a declared `inputs` entry. Backend: the build setting `backend` (`ndarray`).
//!
//! # Bundle
//!
//! `clip.safetensors` (Hugging Face `CLIPModel` layout, f32), `clip_config.json` (its Hugging
//! Face `config.json`), `pretrain_log.csv` (`epoch,loss,retrieval_accuracy,logit_scale`),
//! `captions.json` (each concept's caption and whether it was held out) and `summary.json`
//! (retrieval accuracy at random init and after training, and chance).

use std::path::Path;

use cpbuild_engine::action::{ActionContext, ActionError, ParamError};
use cpbuild_ml::ClipConfig;
use cpbuild_ml::backend::Resolved;
use cpbuild_ml::burn::tensor::backend::AutodiffBackend;
use cpbuild_ml::pretrain::{
    PretrainConfig, PretrainData, PretrainEpoch, Pretrainer, hf_config_json, retrieval_chance,
    save_clip,
};
use cpbuild_ml::split::Split;
use cpbuild_ml::tokenizer::{Tokenizer, trim_padding};
use serde_json::{Value as Json, json};

use super::hba_data::{
    BPE_VOCAB, CONTEXT, LABELS, RSA_CSV, TRAIN_CSV, ThingsTables, render_normalised,
};
use super::params::{
    DataTable, boolean, config_error, float, integer, refuse_unknown, small, string,
};
use super::run::{Reporter, failed, write_file};
use super::training::{
    BackendTraining, EpochLine, KindParams, TrainingKind, on_backend, record_run, train_failed,
    write_json,
};
use crate::data::synth::SynthConfig;
use crate::data::things::DIMENSIONS;

/// The `pretrain-clip` kind.
pub struct PretrainClip;

/// The project files every run reads; each must be a declared input.
pub const REQUIRED_INPUTS: [&str; 4] = [TRAIN_CSV, RSA_CSV, LABELS, BPE_VOCAB];

const PARAMS: [&str; 8] = [
    "model",
    "data",
    "seed",
    "epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "learn_temperature",
];

/// The things-synth pairs.
#[derive(Debug, Clone, PartialEq)]
struct World {
    resolution: usize,
    train_pool_size: usize,
    synth_seed: u64,
    eval_size: usize,
    caption_labels: usize,
}

/// The parsed params.
#[derive(Debug, Clone)]
pub struct Params {
    /// `clip-tiny` or `clip-small`.
    model: String,
    world: World,
    config: PretrainConfig,
}

impl KindParams for Params {
    fn parse(params: &Json) -> Result<Params, ParamError> {
        refuse_unknown(params, &PARAMS, "pretrain-clip")?;
        let model = match string(params, "model")? {
            Some(model @ ("clip-tiny" | "clip-small")) => model.to_string(),
            Some(other) => {
                return Err(ParamError::at(
                    "model",
                    format!(
                        "unknown model `{other}`; `pretrain-clip` trains `clip-tiny` or `clip-small`"
                    ),
                ));
            }
            None => {
                return Err(ParamError::at(
                    "model",
                    "`model` is missing; use `clip-tiny` or `clip-small`",
                ));
            }
        };
        let clip = super::random_clip::clip_config(&model).expect("a small CLIP");
        let world = Self::world(params, &clip, &model)?;
        let learn_temperature = boolean(params, "learn_temperature", true)?;
        let config = PretrainConfig {
            seed: integer(params, "seed")?.unwrap_or(0),
            epochs: small(
                "epochs",
                integer(params, "epochs")?
                    .ok_or_else(|| ParamError::at("epochs", "`epochs` is missing"))?,
            )?,
            batch_size: integer(params, "batch_size")?.unwrap_or(64) as usize,
            learning_rate: float(params, "learning_rate", 1e-3)?,
            weight_decay: float(params, "weight_decay", 0.1)? as f32,
            learn_temperature,
        };
        config.validate().map_err(|message| {
            config_error(
                message,
                &["batch_size", "epochs", "learning_rate", "weight_decay"],
            )
        })?;
        Ok(Params {
            model,
            world,
            config,
        })
    }
}

impl Params {
    fn world(params: &Json, clip: &ClipConfig, model: &str) -> Result<World, ParamError> {
        let data = DataTable::parse(
            params,
            "data = { world = \"things-synth\", train_pool_size = 400 }",
            &[(
                "things-synth",
                &[
                    "world",
                    "resolution",
                    "train_pool_size",
                    "synth_seed",
                    "eval_size",
                    "caption_labels",
                ],
            )],
        )?;
        let number = |name: &str, default: u64| -> Result<u64, ParamError> {
            Ok(data.number(name)?.unwrap_or(default))
        };
        let resolution = data.resolution(clip.vision.image_size, &format!("`{model}`"))?;
        let world = World {
            resolution,
            train_pool_size: number("train_pool_size", 400)? as usize,
            synth_seed: number("synth_seed", 0)?,
            eval_size: number("eval_size", 64)? as usize,
            caption_labels: number("caption_labels", 2)? as usize,
        };
        if world.caption_labels == 0 || world.caption_labels > DIMENSIONS {
            return Err(ParamError::at(
                "data",
                format!(
                    "`data.caption_labels` must be 1..={DIMENSIONS}, not {}",
                    world.caption_labels
                ),
            ));
        }
        if world.eval_size == 0 || world.eval_size + 2 > world.train_pool_size {
            return Err(ParamError::at(
                "data",
                format!(
                    "`data.eval_size` ({}) must be at least 1 and leave at least 2 of the `data.train_pool_size` ({}) concepts for training",
                    world.eval_size, world.train_pool_size
                ),
            ));
        }
        Ok(world)
    }
}

/// The caption of one SPoSE row: its `count` strongest labels, strongest first.
fn caption(row: &[f64; DIMENSIONS], labels: &[String], count: usize) -> String {
    let mut order: Vec<usize> = (0..DIMENSIONS).collect();
    // Stable sort: equal values keep the lower index first.
    order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
    order
        .iter()
        .take(count)
        .map(|&dim| labels[dim].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The assembled pairs and the description of every caption (for `captions.json`).
struct Loaded {
    data: PretrainData,
    captions: Json,
}

fn load(root: &Path, world: &World) -> Result<Loaded, String> {
    let tables = ThingsTables::read(root, false)?;
    let tokenizer = Tokenizer::from_gz_file(root.join(BPE_VOCAB)).map_err(|e| e.to_string())?;
    let pool = tables.pool(world.train_pool_size, world.synth_seed)?;
    if world.eval_size + 2 > pool.len() {
        return Err(format!(
            "the pool has {} concepts, too few to hold out {} and train on at least 2",
            pool.len(),
            world.eval_size
        ));
    }
    let split = Split::draw(
        pool.len(),
        pool.len() - world.eval_size,
        world.eval_size,
        world.synth_seed,
    )?;
    let config = SynthConfig {
        resolution: world.resolution,
        seed: world.synth_seed,
    };
    let mut texts = Vec::with_capacity(pool.len());
    let mut tokenised = Vec::with_capacity(pool.len());
    for concept in &pool {
        let text = caption(
            tables.targets(*concept),
            &tables.labels,
            world.caption_labels,
        );
        let ids = tokenizer
            .tokenize(&text, CONTEXT)
            .map_err(|e| format!("caption `{text}`: {e}"))?;
        tokenised.push(ids);
        texts.push(text);
    }
    let (_, context) = trim_padding(&tokenised);
    let pairs = |positions: &[usize]| -> (Vec<f32>, Vec<i64>) {
        let mut images = Vec::new();
        let mut ids = Vec::new();
        for &position in positions {
            let concept = pool[position];
            render_normalised(tables.targets(concept), concept, &config, &mut images);
            ids.extend(
                tokenised[position][..context]
                    .iter()
                    .map(|&id| i64::from(id)),
            );
        }
        (images, ids)
    };
    let mut train_positions = split.train.clone();
    train_positions.sort_unstable();
    let mut eval_positions = split.test.clone();
    eval_positions.sort_unstable();
    let (train_images, train_captions) = pairs(&train_positions);
    let (eval_images, eval_captions) = pairs(&eval_positions);
    let held_out: std::collections::BTreeSet<usize> = eval_positions.iter().copied().collect();
    let captions = Json::Array(
        pool.iter()
            .enumerate()
            .map(|(position, concept)| {
                json!({
                    "concept": concept,
                    "image_name": tables.train.image_name[tables.row(*concept)],
                    "caption": texts[position],
                    "held_out": held_out.contains(&position),
                })
            })
            .collect(),
    );
    Ok(Loaded {
        data: PretrainData {
            image_size: world.resolution,
            context,
            train_images,
            train_captions,
            eval_images,
            eval_captions,
        },
        captions,
    })
}

impl EpochLine for PretrainEpoch {
    fn epoch(&self) -> u32 {
        self.epoch
    }

    fn summary(&self) -> String {
        format!(
            "loss {:.4} retrieval {:.4} scale {:.2}",
            self.loss, self.retrieval_accuracy, self.logit_scale
        )
    }
}

impl TrainingKind for PretrainClip {
    const KIND: &'static str = "pretrain-clip";
    const DESCRIPTION: &'static str = "pretrains clip-tiny or clip-small contrastively on things-synth pictures and captions; writes Hugging Face safetensors";
    const REQUIRED_INPUTS: &'static [&'static str] = &REQUIRED_INPUTS;
    type Params = Params;

    fn cost(params: &Params) -> u64 {
        (u64::from(params.config.epochs) * params.world.train_pool_size as u64).max(1)
    }

    fn run(
        params: Params,
        ctx: &mut ActionContext<'_>,
        resolved: Resolved,
    ) -> Result<(), ActionError> {
        let loaded = load(ctx.project_root, &params.world).map_err(failed)?;
        let backend = resolved.kind().name();
        let training = Pretrain {
            params,
            loaded,
            backend,
        };
        on_backend(ctx, Self::KIND, &resolved, training)
    }
}

/// The training part of a `pretrain-clip` run, generic over the backend.
struct Pretrain {
    params: Params,
    loaded: Loaded,
    backend: &'static str,
}

impl BackendTraining for Pretrain {
    fn train<B: AutodiffBackend>(
        self,
        ctx: &mut ActionContext<'_>,
        device: B::Device,
    ) -> Result<(), ActionError> {
        let Pretrain {
            params,
            loaded,
            backend,
        } = self;
        let chance = retrieval_chance(&loaded.data);
        let (train_pairs, eval_pairs) = (loaded.data.train_len(), loaded.data.eval_len());
        let clip = super::random_clip::clip_config(&params.model).expect("a small CLIP");
        let mut trainer = Pretrainer::<B>::new(params.config.clone(), &clip, loaded.data, &device)
            .map_err(|error| failed(error.to_string()))?;
        let initial = trainer.retrieval_accuracy();
        let _ = writeln!(
            ctx.log,
            "pretrain-clip: {} on {backend}, {train_pairs} training pairs, {eval_pairs} held out; retrieval at init {initial:.4} (chance {chance:.4})",
            params.model
        );
        let mut observer = Reporter::new(
            ctx.progress,
            ctx.cancel,
            &mut *ctx.log,
            params.config.epochs,
        );
        trainer.run(&mut observer).map_err(train_failed)?;
        save_clip(trainer.model(), &ctx.out_dir.join("clip.safetensors"))
            .map_err(|error| failed(error.to_string()))?;
        write_json(
            &ctx.out_dir.join("clip_config.json"),
            &hf_config_json(&clip),
        )?;
        write_file(
            &ctx.out_dir.join("pretrain_log.csv"),
            trainer.csv().as_bytes(),
        )?;
        write_json(&ctx.out_dir.join("captions.json"), &loaded.captions)?;
        let last = trainer
            .rows()
            .last()
            .map_or(initial, |row| row.retrieval_accuracy);
        let summary = json!({
            "train_pairs": train_pairs,
            "held_out_pairs": eval_pairs,
            "config": params.config,
            "retrieval_accuracy_at_init": initial,
            "retrieval_accuracy": last,
            "retrieval_chance": chance,
        });
        write_json(&ctx.out_dir.join("summary.json"), &summary)?;
        record_run(ctx, backend, trainer.epoch());
        ctx.info.insert("retrieval_accuracy".into(), json!(last));
        ctx.info.insert("retrieval_chance".into(), json!(chance));
        Ok(())
    }
}
