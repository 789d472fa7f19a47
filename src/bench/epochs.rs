//! [`GraphEpochs`]: how many epochs the training runs of a graph train, demand-driven and if
//! every run trained to the end, counted from the recipes before anything runs (README
//! "Demand-driven runs"; `tests/paper/epochs.rs` asserts the paper's numbers, and
//! `cpbuild bench` multiplies them by a measured epoch to project a graph's GPU time).
//!
//! A run trains from its perturbation's start (epoch 1 for a baseline) to its last epoch:
//! `stop_after_epoch` when demand-driven (fig2, fig3), else until early stopping. A baseline
//! stops where [`BaselineEnds`] says (early stopping is decided by training, so the count takes
//! it as given), and its minimum-test-loss epoch sets fig3's data-dependent sweep. A fig4
//! window run (no `stop_after_epoch`) is counted to the earliest epoch the early-stopping rule
//! of perturbed runs can end it, window end + patience (capped by `max_epochs`): a lower bound,
//! since every improvement after the window pushes the stop further. "To the end" trains every
//! run to its baseline's end, and a window at least to that earliest stop.
use cpbuild_engine::graph::{Graph, TargetId};
use cpbuild_engine::recipe::Published;
use cpbuild_ml::perturbation::PerturbationKind;

/// The epoch after which each kind's baseline ends, and the CLIP-HBA baseline's
/// minimum-test-loss epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselineEnds {
    /// The CLIP-HBA baseline (`train-hba`).
    pub hba: u64,
    /// The CLIP-HBA baseline's minimum-test-loss epoch (`best_epoch`, which fig3's sweep
    /// runs up to).
    pub hba_best: u64,
    /// The ViT baseline (`train-vit`).
    pub vit: u64,
}

impl BaselineEnds {
    /// The paper's: early stopping ended the CLIP-HBA baseline after epoch 118, its minimum
    /// test loss at epoch 98; the ViT trains its 100-epoch schedule.
    pub const PAPER: BaselineEnds = BaselineEnds {
        hba: 118,
        hba_best: 98,
        vit: 100,
    };

    /// What the built `hba_baseline` would publish: its `best_epoch`, which expands fig3's
    /// data-dependent sweep (pass it to [`Graph::build_with`]).
    pub fn published(&self) -> Published {
        let info = [("best_epoch".to_string(), serde_json::json!(self.hba_best))].into();
        [("hba_baseline".to_string(), info)].into()
    }
}

/// The runs of one kind and their epochs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindEpochs {
    /// Training runs (targets).
    pub runs: u64,
    /// Epochs trained demand-driven.
    pub demand: u64,
    /// Epochs trained if every run went to the end.
    pub to_the_end: u64,
    /// Of the demand-driven epochs, those in which an image perturbation (`image_noise`,
    /// `uniform_images`) is active: they train on pixels, past the frozen-prefix cache.
    pub image_perturbed: u64,
}

/// The epochs of every training run a set of targets needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphEpochs {
    /// `train-hba` runs (CLIP-HBA).
    pub hba: KindEpochs,
    /// `train-vit` runs (the ViT).
    pub vit: KindEpochs,
}

impl GraphEpochs {
    /// Counts the training runs in the closure of `roots` (every target they need).
    ///
    /// Errors name the target whose params lack the schedule (`max_epochs` or `epochs`).
    pub fn count(
        graph: &Graph,
        roots: &[TargetId],
        ends: BaselineEnds,
    ) -> Result<GraphEpochs, String> {
        let mut counted = GraphEpochs::default();
        for id in graph.closure(roots) {
            let spec = &graph.target(id).spec;
            let params = &spec.params;
            let (schedule_field, end, kind) = match spec.kind.as_str() {
                "train-hba" => ("max_epochs", ends.hba, &mut counted.hba),
                "train-vit" => ("epochs", ends.vit, &mut counted.vit),
                _ => continue,
            };
            let schedule = params[schedule_field].as_u64().ok_or_else(|| {
                format!(
                    "target `{}` has no integer `{schedule_field}` to count its epochs from",
                    spec.name
                )
            })?;
            let perturbation = params.get("perturbation").filter(|p| p.is_object());
            let number = |field: &str| perturbation.and_then(|p| p[field].as_u64());
            let first = number("start").unwrap_or(1).max(1);
            let last = match (params["stop_after_epoch"].as_u64(), perturbation) {
                (Some(stop), _) => stop,
                // A run that early stopping of perturbed runs ends: its window's end +
                // patience at the earliest.
                (None, Some(_)) => {
                    let window_end = first + number("length").unwrap_or(1).max(1) - 1;
                    let patience = params["patience"].as_u64().unwrap_or(20);
                    (window_end + patience).min(schedule)
                }
                (None, None) => schedule.min(end),
            };
            let to_the_end = end.max(last);
            kind.runs += 1;
            kind.demand += (last + 1).saturating_sub(first);
            kind.to_the_end += (to_the_end + 1).saturating_sub(first);
            let perturbs_images = perturbation
                .and_then(|p| p["kind"].as_str())
                .and_then(|name| PerturbationKind::parse(name).ok())
                .is_some_and(|kind| {
                    matches!(
                        kind,
                        PerturbationKind::ImageNoise | PerturbationKind::UniformImages
                    )
                });
            if perturbs_images {
                let window_end = first + number("length").unwrap_or(1).max(1) - 1;
                kind.image_perturbed += (window_end.min(last) + 1).saturating_sub(first);
            }
        }
        Ok(counted)
    }

    /// Demand-driven epochs of both kinds.
    pub fn demand(&self) -> u64 {
        self.hba.demand + self.vit.demand
    }

    /// Epochs of both kinds if every run trained to the end.
    pub fn to_the_end(&self) -> u64 {
        self.hba.to_the_end + self.vit.to_the_end
    }
}
