//! Which files of a runs directory hold which run: cpbuild's own layout, or the original
//! project's `Data/` folder ([`super::original`]), recognised from the directory's files.
//!
//! # cpbuild's runs layout
//! The file names, relative to the directory, are exactly:
//!
//! | file | what it is | used by |
//! |------|------------|---------|
//! | `baseline.csv` | the CLIP-HBA baseline | fig1a, fig2a, fig3, fig4 |
//! | `vit_baseline.csv` | the ViT baseline | fig1b |
//! | `vit_perturbation_effects.csv` | the ViT's Δ loss and Δ RSA per (type, epoch) | fig2b |
//! | `training_res_run{k}.csv` | single-epoch `random_target` at epoch k | fig3 (and fig2a) |
//! | `{type}_e{k}_l1/training_res.csv` | single-epoch `{type}` at epoch k | fig2a |
//! | `random_target_e{E}_l{L}/training_res.csv` | `random_target` for L epochs from epoch E | fig4 |
//!
//! `{type}` is `image_noise`, `uniform_images`, `label_shuffle` or `random_target`; for
//! `random_target` fig2a falls back to the sweep's `training_res_run{k}.csv` when
//! `random_target_e{k}_l1/training_res.csv` is absent (they are the same experiment). Numbers
//! are plain decimals without padding (`e5`, not `e05`). The ViT effects table has the columns
//! `perturbation,epoch,delta_loss,delta_rsa` (the first may also be called `type`).
//!
//! # Recognising the layout
//! A directory holding `clip_results/` or `vit_results/` is the original's `Data/` folder;
//! any other is cpbuild's layout. One holding both `baseline.csv` (or another of cpbuild's
//! fixed names) and those folders is refused, and so is the original project's own folder
//! (whose results sit one level down, in `Data/`), with the path to use instead.

use std::path::Path;

use super::csv::{CPBUILD_EFFECTS, EffectsFormat, Numbering};
use super::error::RunsError;
use super::original;
use super::request::RunsRequest;
use crate::figures::compute::Model;
use crate::figures::perturbation::Perturbation;

/// The CLIP-HBA baseline, relative to a runs directory in cpbuild's layout.
pub const CLIP_BASELINE_FILE: &str = "baseline.csv";

/// The ViT baseline, relative to a runs directory in cpbuild's layout.
pub const VIT_BASELINE_FILE: &str = "vit_baseline.csv";

/// The ViT's perturbation effects table, relative to a runs directory in cpbuild's layout.
pub const VIT_EFFECTS_FILE: &str = "vit_perturbation_effects.csv";

/// The file of the single-epoch `random_target` sweep run at epoch `k` (cpbuild's layout).
pub fn sweep_file(k: u32) -> String {
    format!("training_res_run{k}.csv")
}

/// The folder of a `kind` run perturbed for `length` epochs from epoch `start` (cpbuild's
/// layout).
pub fn window_folder(kind: Perturbation, start: u32, length: u32) -> String {
    format!("{}_e{start}_l{length}", kind.name())
}

/// The file of a `kind` run perturbed for `length` epochs from epoch `start` (cpbuild's
/// layout).
pub fn window_file(kind: Perturbation, start: u32, length: u32) -> String {
    format!("{}/training_res.csv", window_folder(kind, start, length))
}

/// The two layouts a runs directory may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// cpbuild's runs layout (this module's doc).
    Cpbuild,
    /// The original project's `Data/` folder ([`super::original`]).
    Original,
}

impl Layout {
    /// The layout of the directory at `root`, from the files it holds; errors name it `shown`.
    pub fn detect(root: &Path, shown: &Path) -> Result<Layout, RunsError> {
        let original: Vec<String> = original::MARKERS
            .iter()
            .filter(|folder| root.join(folder).is_dir())
            .map(|folder| format!("{folder}/"))
            .collect();
        let own: Vec<String> = [CLIP_BASELINE_FILE, VIT_BASELINE_FILE, VIT_EFFECTS_FILE]
            .iter()
            .filter(|file| root.join(file).is_file())
            .map(|file| file.to_string())
            .collect();
        match (original.is_empty(), own.is_empty()) {
            (false, false) => Err(RunsError::AmbiguousLayout {
                path: shown.to_path_buf(),
                own,
                original,
            }),
            (false, true) => Ok(Layout::Original),
            (true, false) => Ok(Layout::Cpbuild),
            (true, true) => {
                let below = root.join(original::DATA_FOLDER);
                if original::MARKERS
                    .iter()
                    .any(|folder| below.join(folder).is_dir())
                {
                    Err(RunsError::OriginalBelow {
                        path: shown.to_path_buf(),
                        data: shown.join(original::DATA_FOLDER),
                    })
                } else {
                    Ok(Layout::Cpbuild)
                }
            }
        }
    }

    /// Whether a CLIP-HBA or ViT file may have a bundle's `config.json` beside it (cpbuild's
    /// layout, made of copied `results.csv` files); the original's folders have none.
    pub fn reads_setup(self) -> bool {
        self == Layout::Cpbuild
    }

    /// The request as files to look for, in a fixed order (so errors list them stably).
    pub fn plan(self, request: &RunsRequest) -> Vec<Wanted> {
        let mut plan = Vec::new();
        let one = |slot: Slot, path: String, format: Format| Wanted {
            slot,
            candidates: vec![path],
            folder: None,
            format,
        };
        if request.clip_baseline {
            let path = match self {
                Layout::Cpbuild => CLIP_BASELINE_FILE.to_string(),
                Layout::Original => original::CLIP_BASELINE.to_string(),
            };
            plan.push(one(Slot::ClipBaseline, path, Format::Clip));
        }
        if request.vit_baseline {
            plan.push(match self {
                Layout::Cpbuild => one(
                    Slot::VitBaseline,
                    VIT_BASELINE_FILE.into(),
                    Format::Vit(Numbering::FromOne),
                ),
                Layout::Original => one(
                    Slot::VitBaseline,
                    original::VIT_BASELINE.into(),
                    Format::Vit(Numbering::FromZero),
                ),
            });
        }
        if request.vit_effects.is_some() {
            plan.push(match self {
                Layout::Cpbuild => one(
                    Slot::VitEffects,
                    VIT_EFFECTS_FILE.into(),
                    Format::Effects(&CPBUILD_EFFECTS),
                ),
                Layout::Original => one(
                    Slot::VitEffects,
                    original::VIT_EFFECTS.into(),
                    Format::Effects(&original::EFFECTS),
                ),
            });
        }
        for &(kind, epoch) in &request.single_epoch {
            let slot = Slot::SingleEpoch(kind, epoch);
            plan.push(match self {
                Layout::Cpbuild => {
                    let mut candidates = vec![window_file(kind, epoch, 1)];
                    if kind == Perturbation::RandomTarget {
                        candidates.push(sweep_file(epoch));
                    }
                    let folder = (candidates.len() == 1).then(|| window_folder(kind, epoch, 1));
                    Wanted {
                        slot,
                        candidates,
                        folder,
                        format: Format::Clip,
                    }
                }
                Layout::Original => {
                    one(slot, original::single_epoch_file(kind, epoch), Format::Clip)
                }
            });
        }
        for &epoch in &request.sweep {
            let slot = Slot::Sweep(epoch);
            plan.push(match self {
                Layout::Cpbuild => one(slot, sweep_file(epoch), Format::Clip),
                Layout::Original => Wanted {
                    slot,
                    candidates: vec![original::sweep_file(epoch)],
                    folder: Some(original::sweep_folder(epoch)),
                    format: Format::Clip,
                },
            });
        }
        for &(start, length) in &request.grid {
            let slot = Slot::Grid(start, length);
            plan.push(match self {
                Layout::Cpbuild => Wanted {
                    slot,
                    candidates: vec![window_file(Perturbation::RandomTarget, start, length)],
                    folder: Some(window_folder(Perturbation::RandomTarget, start, length)),
                    format: Format::Clip,
                },
                Layout::Original => {
                    let folder = original::window_folder(start, length);
                    Wanted {
                        slot,
                        candidates: original::WINDOW_FILES
                            .iter()
                            .map(|name| format!("{folder}/{name}"))
                            .collect(),
                        folder: Some(folder),
                        format: Format::Clip,
                    }
                }
            });
        }
        plan
    }
}

/// Where a loaded run goes in [`super::LoadedRuns`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    ClipBaseline,
    VitBaseline,
    VitEffects,
    SingleEpoch(Perturbation, u32),
    Sweep(u32),
    Grid(u32, u32),
}

impl Slot {
    /// What the run is, and which figure reads it.
    pub fn purpose(self) -> String {
        match self {
            Slot::ClipBaseline => format!("the {} baseline", Model::ClipHba.label()),
            Slot::VitBaseline => format!("the {} baseline (fig1b)", Model::Vit.label()),
            Slot::VitEffects => format!(
                "the {} perturbation effects, one row per type and epoch (fig2b)",
                Model::Vit.label()
            ),
            Slot::SingleEpoch(kind, epoch) => {
                format!("single-epoch `{kind}` perturbation at epoch {epoch} (fig2a)")
            }
            Slot::Sweep(epoch) => {
                format!("single-epoch `random_target` sweep run at epoch {epoch} (fig3)")
            }
            Slot::Grid(start, length) => format!(
                "`random_target` for {length} epoch{} from epoch {start} (fig4)",
                if length == 1 { "" } else { "s" }
            ),
        }
    }
}

/// How a file is read.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// A CLIP-HBA run.
    Clip,
    /// The ViT baseline, epochs numbered so.
    Vit(Numbering),
    /// A ViT effects table in this format.
    Effects(&'static EffectsFormat),
}

/// One requested run: where it may be (the first candidate that exists is read), and how.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// Where it goes.
    pub slot: Slot,
    /// Paths relative to the runs directory, `/`-separated, in order of preference.
    pub candidates: Vec<String>,
    /// The run's own folder, when it has one: a folder that exists without any candidate is a
    /// run whose results file is missing, not a run that was never made.
    pub folder: Option<String>,
    /// How to read it.
    pub format: Format,
}
