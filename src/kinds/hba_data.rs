//! The THINGS world of the training kinds: the project files they read ([`ThingsTables`]: the
//! real SPoSE targets, the human RDM, the 66 dimension labels), the things-synth pool and its
//! normalised renders, shared by `train-hba`, `train-vit` and `pretrain-clip`; and the
//! [`TrainData`] of a `train-hba` run: those, the labels tokenised with CLIP's BPE (trimmed to
//! the longest label: see [`trim_padding`]), and pixels
//! from a data world (`things-synth` renders, or the real THINGS photographs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cpbuild_ml::tokenizer::{Tokenizer, trim_padding};
use cpbuild_ml::train::TrainData;

use crate::data::images::{Normalisation, Preprocessing, ThingsImages};
use crate::data::synth::{self, SynthConfig};
use crate::data::things::{self, DIMENSIONS, HumanRdm, SposeTargets};

/// The training pool's targets (1806 rows).
pub const TRAIN_CSV: &str = "data/things/spose_embedding66d_rescaled_1806train.csv";
/// The 48 RSA concepts' targets, in human-RDM order.
pub const RSA_CSV: &str = "data/things/spose_embedding66d_rescaled_48val_reordered.csv";
/// The human RDM.
pub const HUMAN_RDM: &str = "data/things/RDM48_triplet.mat";
/// The 66 dimension labels (the text prompts).
pub const LABELS: &str = "data/things/spose_dimensions66.txt";
/// CLIP's BPE vocabulary.
pub const BPE_VOCAB: &str = "data/clip/bpe_simple_vocab_16e6.txt.gz";

/// Every project file a run reads; each must be a declared input of the target.
pub const REQUIRED_INPUTS: [&str; 5] = [TRAIN_CSV, RSA_CSV, HUMAN_RDM, LABELS, BPE_VOCAB];

/// CLIP's context length.
pub const CONTEXT: usize = 77;

/// Where the pixels come from.
#[derive(Debug, Clone, PartialEq)]
pub enum World {
    /// Rendered from each concept's real SPoSE row ([`crate::data::synth`]).
    ThingsSynth {
        /// Side of the pictures (must be the model's `image_size`).
        resolution: usize,
        /// How many of the 1806 pool concepts to use (all if larger).
        train_pool_size: usize,
        /// Seed of the rendering and of the subset.
        synth_seed: u64,
    },
    /// The real THINGS photographs in `image_dir`, named by the CSVs' `image_name` column
    /// ([`crate::data::images`]); the pool is all 1806 training concepts.
    Things {
        /// The folder of the images, relative to the project root.
        image_dir: String,
        /// Side the images are resized to (the model's `image_size`).
        resolution: usize,
    },
}

/// The assembled data, with the training-set target statistics for `random_target`.
pub struct HbaData {
    /// The arrays the trainer takes.
    pub data: TrainData,
    /// Mean over every value of the 1806-row training file (the paper's 5.6906…).
    pub target_mean: f64,
    /// Standard deviation over the same values (the paper's 10.1786…).
    pub target_std: f64,
    /// The pool's concept indices, in pool order.
    pub pool_concepts: Vec<usize>,
}

/// The THINGS tables under a project root: the training pool's and the RSA concepts' SPoSE
/// targets and the dimension labels, with the human RDM for the kinds that score RSA.
pub(crate) struct ThingsTables {
    /// The 1806 training concepts.
    pub(crate) train: SposeTargets,
    /// The 48 RSA concepts, in human-RDM order.
    pub(crate) rsa: SposeTargets,
    /// The human RDM over the RSA concepts (when asked for).
    pub(crate) rdm: Option<HumanRdm>,
    /// The 66 dimension labels.
    pub(crate) labels: Vec<String>,
    /// The training file's row of each concept index.
    row_of: BTreeMap<usize, usize>,
}

impl ThingsTables {
    /// Reads the tables under `root` (the human RDM only `with_rdm`); errors name the file.
    pub(crate) fn read(root: &Path, with_rdm: bool) -> Result<ThingsTables, String> {
        let path = |relative: &str| -> PathBuf { root.join(relative) };
        let train = things::read_spose_csv(path(TRAIN_CSV)).map_err(|e| e.to_string())?;
        let rsa = things::read_spose_csv(path(RSA_CSV)).map_err(|e| e.to_string())?;
        let rdm = if with_rdm {
            let rdm = things::read_human_rdm(path(HUMAN_RDM)).map_err(|e| e.to_string())?;
            Some(rdm)
        } else {
            None
        };
        let labels = things::read_dimension_labels(path(LABELS)).map_err(|e| e.to_string())?;
        if let Some(rdm) = &rdm
            && rsa.len() != rdm.size
        {
            return Err(format!(
                "`{RSA_CSV}` has {} rows but the human rdm is {}×{}",
                rsa.len(),
                rdm.size,
                rdm.size
            ));
        }
        let row_of = train
            .concept_index
            .iter()
            .enumerate()
            .map(|(row, concept)| (*concept, row))
            .collect();
        Ok(ThingsTables {
            train,
            rsa,
            rdm,
            labels,
            row_of,
        })
    }

    /// The training file's row of `concept`.
    pub(crate) fn row(&self, concept: usize) -> usize {
        self.row_of[&concept]
    }

    /// The SPoSE targets of training concept `concept`.
    pub(crate) fn targets(&self, concept: usize) -> &[f64; DIMENSIONS] {
        &self.train.targets[self.row(concept)]
    }

    /// `size` training concepts drawn with `seed` ([`synth::training_subset`]), checked to hold
    /// no RSA concept.
    pub(crate) fn pool(&self, size: usize, seed: u64) -> Result<Vec<usize>, String> {
        let pool = synth::training_subset(&self.train.concept_index, size, seed);
        synth::assert_disjoint(&pool, &self.rsa.concept_index)?;
        Ok(pool)
    }

    /// The human RDM's values (empty when it was not read).
    pub(crate) fn rdm_values(&mut self) -> Vec<f64> {
        self.rdm.take().map(|rdm| rdm.values).unwrap_or_default()
    }
}

/// Renders `concept` from its SPoSE row and normalises it as a photograph would be:
/// `[3, resolution, resolution]`.
pub(crate) fn render_normalised(
    targets: &[f64; DIMENSIONS],
    concept: usize,
    config: &SynthConfig,
    out: &mut Vec<f32>,
) {
    let image = synth::render(targets, concept, config);
    let plane = config.resolution * config.resolution;
    for channel in 0..3 {
        for pixel in 0..plane {
            out.push(Normalisation::THINGS.apply(channel, image.rgb[pixel * 3 + channel]));
        }
    }
}

/// Reads the files under `root` and renders the world. Errors name the file.
pub fn load(root: &Path, world: &World) -> Result<HbaData, String> {
    let resolution = match world {
        World::ThingsSynth { resolution, .. } | World::Things { resolution, .. } => *resolution,
    };
    let mut tables = ThingsTables::read(root, true)?;
    let tokenizer = Tokenizer::from_gz_file(root.join(BPE_VOCAB)).map_err(|e| e.to_string())?;
    let human_rdm = tables.rdm_values();
    let ThingsTables {
        train, rsa, labels, ..
    } = &tables;
    let (target_mean, target_std) = train.mean_and_std();
    let (train_pool_size, synth_seed) = match world {
        World::ThingsSynth {
            train_pool_size,
            synth_seed,
            ..
        } => (*train_pool_size, *synth_seed),
        World::Things { .. } => (train.len(), 0),
    };
    let pool_concepts = tables.pool(train_pool_size, synth_seed)?;
    let config = SynthConfig {
        resolution,
        seed: synth_seed,
    };
    let mut pool_images = Vec::with_capacity(pool_concepts.len() * 3 * resolution * resolution);
    let mut pool_targets = Vec::with_capacity(pool_concepts.len() * DIMENSIONS);
    let train_f32 = train.targets_f32();
    let mut rsa_images = Vec::with_capacity(rsa.len() * 3 * resolution * resolution);
    match world {
        World::ThingsSynth { .. } => {
            for concept in &pool_concepts {
                render_normalised(
                    tables.targets(*concept),
                    *concept,
                    &config,
                    &mut pool_images,
                );
            }
            for (targets, concept) in rsa.targets.iter().zip(&rsa.concept_index) {
                render_normalised(targets, *concept, &config, &mut rsa_images);
            }
        }
        World::Things { image_dir, .. } => {
            let preprocessing = Preprocessing {
                resolution: u32::try_from(resolution).map_err(|_| "resolution too large")?,
                normalisation: Normalisation::THINGS,
            };
            // The loader's bytes do not depend on the thread count (see its module doc).
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            let folder = root.join(image_dir);
            let names: Vec<String> = pool_concepts
                .iter()
                .map(|concept| train.image_name[tables.row(*concept)].clone())
                .collect();
            let load = |names: Vec<String>| {
                ThingsImages::open(&folder, names)
                    .and_then(|images| images.load_all(&preprocessing, threads))
                    .map(|batch| batch.pixels)
                    .map_err(|e| e.to_string())
            };
            pool_images = load(names)?;
            rsa_images = load(rsa.image_name.clone())?;
        }
    }
    for concept in &pool_concepts {
        pool_targets.extend_from_slice(&train_f32[tables.row(*concept)]);
    }
    let rows = labels
        .iter()
        .map(|label| {
            tokenizer
                .tokenize(label, CONTEXT)
                .map_err(|e| format!("label `{label}`: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (label_ids, context) = trim_padding(&rows);
    let label_ids = label_ids.into_iter().map(i64::from).collect();
    Ok(HbaData {
        data: TrainData {
            image_size: resolution,
            pool_images,
            pool_targets,
            rsa_images,
            human_rdm,
            label_ids,
            context,
        },
        target_mean,
        target_std,
        pool_concepts,
    })
}
