//! Which runs a figure needs from a runs directory, whatever its layout.

use std::collections::BTreeSet;

use crate::figures::perturbation::Perturbation;

/// Which runs a figure needs from a runs directory. Build with the `fig…` constructors and
/// combine with [`RunsRequest::and`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunsRequest {
    /// The CLIP-HBA baseline.
    pub clip_baseline: bool,
    /// The ViT baseline.
    pub vit_baseline: bool,
    /// The ViT perturbation effects table, with the epochs at which it must hold every type
    /// (the rows loaded are those at these epochs).
    pub vit_effects: Option<BTreeSet<u32>>,
    /// Single-epoch runs of each type at each epoch (fig2a).
    pub single_epoch: BTreeSet<(Perturbation, u32)>,
    /// Single-epoch `random_target` sweep epochs (fig3).
    pub sweep: BTreeSet<u32>,
    /// `random_target` windows as (start epoch, length) (fig4).
    pub grid: BTreeSet<(u32, u32)>,
}

impl RunsRequest {
    /// fig1a: the CLIP-HBA baseline.
    pub fn fig1a() -> RunsRequest {
        RunsRequest {
            clip_baseline: true,
            ..RunsRequest::default()
        }
    }

    /// fig1b: the ViT baseline.
    pub fn fig1b() -> RunsRequest {
        RunsRequest {
            vit_baseline: true,
            ..RunsRequest::default()
        }
    }

    /// fig2a: the baseline and every type at every epoch.
    pub fn fig2a(kinds: &[Perturbation], epochs: &[u32]) -> RunsRequest {
        RunsRequest {
            clip_baseline: true,
            single_epoch: kinds
                .iter()
                .flat_map(|&kind| epochs.iter().map(move |&epoch| (kind, epoch)))
                .collect(),
            ..RunsRequest::default()
        }
    }

    /// fig2b: the ViT effects table, every type at every epoch.
    pub fn fig2b(epochs: &[u32]) -> RunsRequest {
        RunsRequest {
            vit_effects: Some(epochs.iter().copied().collect()),
            ..RunsRequest::default()
        }
    }

    /// fig3: the baseline and the sweep at these epochs.
    pub fn fig3(epochs: &[u32]) -> RunsRequest {
        RunsRequest {
            clip_baseline: true,
            sweep: epochs.iter().copied().collect(),
            ..RunsRequest::default()
        }
    }

    /// fig4: the baseline and every (start, length) window.
    pub fn fig4(starts: &[u32], lengths: &[u32]) -> RunsRequest {
        RunsRequest {
            clip_baseline: true,
            grid: starts
                .iter()
                .flat_map(|&start| lengths.iter().map(move |&length| (start, length)))
                .collect(),
            ..RunsRequest::default()
        }
    }

    /// Both requests together.
    pub fn and(mut self, other: RunsRequest) -> RunsRequest {
        self.clip_baseline |= other.clip_baseline;
        self.vit_baseline |= other.vit_baseline;
        self.vit_effects = match (self.vit_effects, other.vit_effects) {
            (Some(mut mine), Some(theirs)) => {
                mine.extend(theirs);
                Some(mine)
            }
            (mine, theirs) => mine.or(theirs),
        };
        self.single_epoch.extend(other.single_epoch);
        self.sweep.extend(other.sweep);
        self.grid.extend(other.grid);
        self
    }
}
