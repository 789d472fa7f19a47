//! Which runs a figure needs from a runs directory, whatever its layout.

use std::collections::BTreeSet;

use crate::figures::perturbation::Perturbation;

/// Which runs a figure needs from a runs directory. Each figure's module says what it requests
/// (`fig1::request`, …); combine them with [`RunsRequest::and`].
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
