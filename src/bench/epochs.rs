//! [`GraphEpochs`]: how many epochs the training runs of a graph train, demand-driven and if
//! every run trained to the end, counted from the recipes before anything runs (README
//! "Demand-driven runs"; `tests/paper/epochs.rs` asserts the paper's numbers, and
//! `cpbuild bench` multiplies them by a measured epoch to project a graph's GPU time).
//!
//! A run trains from its perturbation's start (epoch 1 for a baseline) to its last epoch:
//! `stop_after_epoch` when demand-driven, else the whole schedule (`max_epochs` for
//! `train-hba`, `epochs` for `train-vit`) cut at its baseline's end. "To the end" trains every
//! run to its baseline's end, and a fig4 window (a target of the grid `window`) at least to its
//! horizon. A baseline stops where [`BaselineEnds`] says (early stopping is decided by
//! training, so the count takes it as given); early stopping of perturbed runs can only lower
//! the demand-driven numbers.

use cpbuild_engine::graph::{Graph, TargetId};
use cpbuild_ml::perturbation::PerturbationKind;

/// The epoch after which each kind's baseline ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselineEnds {
    /// The CLIP-HBA baseline (`train-hba`).
    pub hba: u64,
    /// The ViT baseline (`train-vit`).
    pub vit: u64,
}

impl BaselineEnds {
    /// The paper's: early stopping ended the CLIP-HBA baseline after epoch 118; the ViT trains
    /// its 100-epoch schedule.
    pub const PAPER: BaselineEnds = BaselineEnds { hba: 118, vit: 100 };

    /// The `ci` profile's: the whole schedules (20 CLIP-HBA and 12 ViT epochs; the ci baseline
    /// does not stop early).
    pub const CI: BaselineEnds = BaselineEnds { hba: 20, vit: 12 };
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
            let last = params["stop_after_epoch"]
                .as_u64()
                .unwrap_or(schedule.min(end));
            let to_the_end = if spec.group == "window" {
                end.max(last)
            } else {
                end
            };
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
