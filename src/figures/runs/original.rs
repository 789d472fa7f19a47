//! The original PyTorch project's `Data/` folder, read as it is, so its results can be drawn
//! without renaming or editing a file.
//!
//! Paths relative to `Data/`, and what reads them:
//!
//! | file | what it is | used by |
//! |------|------------|---------|
//! | `clip_results/baseline_clip_results_seed1.csv` | the CLIP-HBA baseline | fig1a, fig2a, fig3, fig4 |
//! | `clip_results/single_sweep_experiments/training_run{k}/training_res_run{k}.csv` | single-epoch `random_target` at epoch k | fig3 |
//! | `clip_results/{folder}/training_res_run{k}.csv` | single-epoch run of a type at epoch k | fig2a |
//! | `clip_results/perturb_length_experiments_baselineseed1_perturbseed0/random_target_e{E}_l{L}/metrics.csv` or `…/training_res.csv` | `random_target` for L epochs from epoch E | fig4 |
//! | `vit_results/rsa_results_final.csv` | the ViT baseline | fig1b |
//! | `vit_results/perturbation_effects.csv` | the ViT's Δ loss and Δ RSA per (type, epoch) | fig2b |
//!
//! - fig2a's type folders are `target_noise` (`random_target`), `image_noise`,
//!   `uniform_target` (`uniform_images`, the "blank image") and `label_shuffle`.
//! - A fig4 window folder holds its results as `metrics.csv` or as `training_res.csv`; when
//!   both are there, `metrics.csv` is read (the original's notebook does the same). A window
//!   folder with neither is reported. Folders of windows that were not asked for are left alone.
//! - CLIP-HBA files have the usual columns; perturbed runs carry the first two, three or all
//!   four `used_…` flag columns, and may start at their first perturbed epoch.
//! - The ViT baseline has the columns `checkpoint,epoch,train_loss,val_loss,val_acc,rsa_score`
//!   with epochs numbered from 0; they are read as epoch + 1, so fig1b labels them from 1.
//! - The ViT effects table has the columns `perturb_epoch,perturbation_type,baseline_loss,
//!   baseline_rsa,perturbed_loss,perturbed_rsa,delta_loss,delta_rsa`, with the types named
//!   `gaussian` (image noise), `uniform_gray` (blank image), `label_shuffle` and `target_noise`.
//!
//! The sweep folders also hold checkpoint and inference folders of gigabytes. Nothing here
//! lists or reads inside a run's folder beyond the one results file it names.

use crate::figures::perturbation::Perturbation;

use super::csv::EffectsFormat;

/// The folder inside the original project that holds its results.
pub const DATA_FOLDER: &str = "Data";

/// Folders whose presence marks a directory as the original's `Data/`.
pub const MARKERS: [&str; 2] = ["clip_results", "vit_results"];

/// The CLIP-HBA baseline.
pub const CLIP_BASELINE: &str = "clip_results/baseline_clip_results_seed1.csv";

/// The folder of the single-epoch `random_target` sweep.
pub const SWEEP_FOLDER: &str = "clip_results/single_sweep_experiments";

/// The folder of the variable-length `random_target` windows.
pub const WINDOWS_FOLDER: &str =
    "clip_results/perturb_length_experiments_baselineseed1_perturbseed0";

/// The names a window's results file has, in the order they are looked for.
pub const WINDOW_FILES: [&str; 2] = ["metrics.csv", "training_res.csv"];

/// The ViT baseline.
pub const VIT_BASELINE: &str = "vit_results/rsa_results_final.csv";

/// The ViT's perturbation effects.
pub const VIT_EFFECTS: &str = "vit_results/perturbation_effects.csv";

/// The effects table's columns and type names.
pub const EFFECTS: EffectsFormat = EffectsFormat {
    type_columns: &["perturbation_type"],
    epoch_column: "perturb_epoch",
    parse_type: effects_type,
    type_names: "`gaussian`, `uniform_gray`, `label_shuffle` or `target_noise`",
};

/// A type name of the effects table.
fn effects_type(name: &str) -> Option<Perturbation> {
    match name.trim() {
        "gaussian" => Some(Perturbation::ImageNoise),
        "uniform_gray" => Some(Perturbation::UniformImages),
        "label_shuffle" => Some(Perturbation::LabelShuffle),
        "target_noise" => Some(Perturbation::RandomTarget),
        _ => None,
    }
}

/// fig2a's folder of single-epoch runs of `kind`, under `clip_results/`.
pub fn type_folder(kind: Perturbation) -> &'static str {
    match kind {
        Perturbation::RandomTarget => "target_noise",
        Perturbation::ImageNoise => "image_noise",
        Perturbation::UniformImages => "uniform_target",
        Perturbation::LabelShuffle => "label_shuffle",
    }
}

/// fig2a's single-epoch run of `kind` at epoch `k`.
pub fn single_epoch_file(kind: Perturbation, k: u32) -> String {
    format!("clip_results/{}/training_res_run{k}.csv", type_folder(kind))
}

/// The sweep run's folder at epoch `k`.
pub fn sweep_folder(k: u32) -> String {
    format!("{SWEEP_FOLDER}/training_run{k}")
}

/// The sweep run at epoch `k` (fig3).
pub fn sweep_file(k: u32) -> String {
    format!("{}/training_res_run{k}.csv", sweep_folder(k))
}

/// The folder of the window of `length` epochs from `start` (fig4).
pub fn window_folder(start: u32, length: u32) -> String {
    format!("{WINDOWS_FOLDER}/random_target_e{start}_l{length}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_map_to_the_four_perturbations() {
        let names = ["gaussian", "uniform_gray", "label_shuffle", "target_noise"];
        let kinds: Vec<_> = names.iter().filter_map(|name| effects_type(name)).collect();
        assert_eq!(kinds, Perturbation::ALL);
        assert_eq!(effects_type("image_noise"), None);
        let folders: Vec<_> = Perturbation::ALL.into_iter().map(type_folder).collect();
        assert_eq!(
            folders,
            [
                "image_noise",
                "uniform_target",
                "label_shuffle",
                "target_noise"
            ]
        );
    }
}
