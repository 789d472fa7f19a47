//! Paper-scale cost of CLIP-HBA training, to know what the `paper` profile takes before running
//! it: `cpbuild bench` and the epoch counts of the paper's graph (the `paper-shapes` profile's
//! random weights are the `random-clip` kind, [`crate::kinds::random_clip`]).
//!
//! The flow of `cpbuild bench`: [`BenchConfig`] → things-synth data rendered at the model's
//! resolution ([`crate::kinds::hba_data`], as `train-hba` loads it) → [`measure::Measure`] on
//! the resolved backend (the real [`cpbuild_ml::train::Trainer`], random weights) →
//! [`epochs::GraphEpochs`] of the `paper` profile's CLIP-HBA graph → [`report::BenchReport`],
//! printed as tables. Timings are never asserted anywhere; ratios are measured side by side in
//! one process.
//!
//! - [`epochs`]: how many epochs a graph's runs train (shared with `tests/paper/epochs.rs`);
//! - [`measure`]: the timed epochs;
//! - [`report`]: the tables and the projection of the graph's GPU time.

pub mod epochs;
pub mod measure;
pub mod report;

use std::path::Path;
use std::time::Instant;

use cpbuild_engine::graph::Graph;
use cpbuild_engine::recipe::Recipes;
use cpbuild_ml::ClipHbaConfig;
use cpbuild_ml::backend::{Resolved, cpu_model, with_backend};
use cpbuild_ml::train::{TrainConfig, TrainData};

use crate::kinds::hba_data::{self, World};
use epochs::{BaselineEnds, GraphEpochs};
use measure::Measure;
use report::BenchReport;

/// The RSA images of the paper (the 48 held-out concepts).
pub const PAPER_RSA_IMAGES: usize = 48;

/// The figures whose CLIP-HBA runs the projection counts: the baseline (fig1a), fig2's CLIP
/// panel, fig3 and fig4.
pub const HBA_FIGURES: [&str; 4] = ["fig1a", "fig2a", "fig3", "fig4"];

/// RSA images in the throughput runs (the fewest RSA accepts): their evaluation is timed per
/// image, and a paper-scale epoch's is projected from it.
const SMALL_RSA_IMAGES: usize = 3;

/// What `cpbuild bench` measures.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// `clip-tiny`, `clip-small` or `clip-vit-l-14`.
    pub model: String,
    /// Timed training steps per throughput epoch.
    pub steps: usize,
    /// Images per batch.
    pub batch: usize,
    /// Also time a real paper-scale epoch (1,444 / 362 / 48 images) instead of only projecting it.
    pub full_epoch: bool,
}

/// The model as `train-hba` trains it.
pub fn hba_config(model: &str) -> Option<ClipHbaConfig> {
    let (clip, dora) = crate::kinds::train_hba::model_config(model)?;
    Some(ClipHbaConfig::new(clip, dora))
}

/// things-synth at `resolution` with a pool of `pool` concepts and the 48 RSA images.
fn synth_data(root: &Path, resolution: usize, pool: usize) -> Result<TrainData, String> {
    let world = World::ThingsSynth {
        resolution,
        train_pool_size: pool,
        synth_seed: 0,
    };
    Ok(hba_data::load(root, &world)?.data)
}

/// `data` with only its first `count` RSA images (and their part of the human RDM).
fn first_rsa_images(mut data: TrainData, count: usize) -> TrainData {
    let rsa = data.rsa_len();
    let count = count.min(rsa);
    data.rsa_images.truncate(count * data.image_len());
    data.human_rdm = (0..count)
        .flat_map(|row| data.human_rdm[row * rsa..row * rsa + count].to_vec())
        .collect();
    data
}

/// The CLIP-HBA epochs of the `paper` profile's graph under `root`'s recipes.
pub fn paper_graph_epochs(root: &Path) -> Result<GraphEpochs, String> {
    let recipes =
        Recipes::load_dir(root, &root.join("recipes")).map_err(|error| error.to_string())?;
    // fig3's sweep runs up to the paper baseline's minimum-test-loss epoch.
    let published = BaselineEnds::PAPER.published();
    let graph = Graph::build_with(&recipes, "paper", &crate::registry(), &published)
        .map_err(|e| e.to_string())?;
    let roots = graph
        .resolve_all(&HBA_FIGURES.map(String::from))
        .map_err(|error| error.to_string())?;
    GraphEpochs::count(&graph, &roots, BaselineEnds::PAPER)
}

/// The host's processor and thread count, e.g. `Intel(R) Xeon(R) Processor, 2 threads`.
pub fn host() -> String {
    let model = cpu_model().unwrap_or_else(|| "unknown processor".to_string());
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    format!("{model}, {threads} threads")
}

/// Runs the benchmark in the project at `root` (its `data/` files; its `recipes/` for the
/// projection) on `backend`; `progress` hears what is being timed.
pub fn run(
    root: &Path,
    backend: &Resolved,
    config: &BenchConfig,
    progress: &dyn Fn(&str),
) -> Result<BenchReport, String> {
    let hba = hba_config(&config.model).ok_or_else(|| {
        format!(
            "unknown model `{}`; use {}",
            config.model,
            crate::kinds::random_clip::CLIP_MODELS
        )
    })?;
    if config.steps == 0 || config.batch == 0 {
        return Err("`--steps` and `--batch` must be at least 1".to_string());
    }
    let resolution = hba.clip.vision.image_size;
    let started = Instant::now();
    progress(&format!(
        "rendering things-synth at {resolution}×{resolution}"
    ));
    let small = first_rsa_images(
        synth_data(root, resolution, (config.steps + 1) * config.batch)?,
        SMALL_RSA_IMAGES,
    );
    if small.pool_len() < (config.steps + 1) * config.batch {
        return Err(format!(
            "`--steps {}` × `--batch {}` needs {} pool images; things-synth has {}",
            config.steps,
            config.batch,
            (config.steps + 1) * config.batch,
            small.pool_len()
        ));
    }
    let paper = if config.full_epoch {
        let paper = TrainConfig::paper(0);
        Some(synth_data(
            root,
            resolution,
            paper.train_size + paper.test_size,
        )?)
    } else {
        None
    };
    let data_seconds = started.elapsed().as_secs_f64();
    let measurements = with_backend(
        backend,
        Measure {
            hba: &hba,
            steps: config.steps,
            batch: config.batch,
            small: &small,
            paper: paper.as_ref(),
            progress,
        },
    )?;
    Ok(BenchReport {
        config: config.clone(),
        resolution,
        backend: backend.reason().to_string(),
        host: host(),
        data_seconds,
        measurements,
        graph: paper_graph_epochs(root),
    })
}
