//! What a run trained: its model and data, for plot titles.
//!
//! A `train-hba` or `train-vit` bundle records them in the `config.json` beside its
//! `results.csv` (`{"run": {"model": "vit-tiny", "data": {"world": "things-synth", …}, …}}`), so
//! a figure says what was trained (the ci profile's tiny models on things-synth, or the paper's
//! CLIP ViT-L/14 on THINGS and ViT-B/16 on ImageNet) instead of assuming the paper's models.
//! Result CSVs from elsewhere (a runs directory) have no such file, and their figures name the
//! method only.

use std::path::Path;

use serde_json::Value as Json;

/// The file beside a bundle's `results.csv` that describes the run.
pub const CONFIG_FILE: &str = "config.json";

/// A run's model and data, as recorded by the kind that trained it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSetup {
    /// The model param (`vit-tiny`, `vit-b-16`, `clip-tiny`, `clip-vit-l-14`, …).
    pub model: String,
    /// The data world (`things-synth`, `things`, `imagenet`, …).
    pub world: String,
}

impl RunSetup {
    /// The setup recorded in `config.json` beside `results`, when `results` is a bundle's
    /// `results.csv` and the file records a model and a world; `None` otherwise (a plot title is
    /// no reason to fail a figure).
    pub fn beside(results: &Path) -> Option<RunSetup> {
        if results.file_name()? != "results.csv" {
            return None;
        }
        let bytes = std::fs::read(results.with_file_name(CONFIG_FILE)).ok()?;
        RunSetup::from_config(&serde_json::from_slice(&bytes).ok()?)
    }

    /// The setup in a parsed `config.json`.
    pub fn from_config(config: &Json) -> Option<RunSetup> {
        let run = config.get("run")?;
        Some(RunSetup {
            model: run.get("model")?.as_str()?.to_string(),
            world: run.get("data")?.get("world")?.as_str()?.to_string(),
        })
    }

    /// The model as papers write it (`ViT-B/16`), or the param itself for a model not known here.
    pub fn model_label(&self) -> &str {
        match self.model.as_str() {
            "vit-tiny" => "ViT-tiny",
            "vit-b-16" => "ViT-B/16",
            "clip-tiny" => "CLIP-tiny",
            "clip-small" => "CLIP-small",
            "clip-vit-l-14" => "CLIP ViT-L/14",
            other => other,
        }
    }

    /// The data as papers write it (`ImageNet`), or the world itself when not known here.
    pub fn world_label(&self) -> &str {
        match self.world.as_str() {
            "things" => "THINGS",
            "imagenet" => "ImageNet",
            other => other,
        }
    }

    /// The line under a plot's title: `model: ViT-tiny · data: things-synth`.
    pub fn caption(&self) -> String {
        format!(
            "model: {} · data: {}",
            self.model_label(),
            self.world_label()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_setup_comes_from_the_config_beside_a_bundles_results() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("results.csv");
        std::fs::write(&results, "epoch,val_loss,rsa_score\n").unwrap();
        assert_eq!(RunSetup::beside(&results), None, "no config.json");
        let config = json!({
            "run": { "model": "vit-b-16", "data": { "world": "imagenet", "root": "data/imagenet" } },
            "train": { "epochs": 100 },
        });
        std::fs::write(dir.path().join(CONFIG_FILE), config.to_string()).unwrap();
        let setup = RunSetup::beside(&results).unwrap();
        assert_eq!(setup.caption(), "model: ViT-B/16 · data: ImageNet");

        // A runs directory's CSVs are not bundles: a config.json there says nothing about them.
        let external = dir.path().join("vit_baseline.csv");
        std::fs::write(&external, "epoch,val_loss,rsa_score\n").unwrap();
        assert_eq!(RunSetup::beside(&external), None);
        std::fs::write(dir.path().join(CONFIG_FILE), "{ not json").unwrap();
        assert_eq!(RunSetup::beside(&results), None);
    }

    #[test]
    fn labels_of_known_and_unknown_models() {
        let setup = |model: &str, world: &str| RunSetup {
            model: model.into(),
            world: world.into(),
        };
        assert_eq!(
            setup("clip-tiny", "things-synth").caption(),
            "model: CLIP-tiny · data: things-synth"
        );
        assert_eq!(
            setup("clip-vit-l-14", "things").caption(),
            "model: CLIP ViT-L/14 · data: THINGS"
        );
        assert_eq!(
            setup("vit-s-8", "cifar").caption(),
            "model: vit-s-8 · data: cifar"
        );
        let config = json!({ "run": { "model": "vit-tiny" } });
        assert_eq!(RunSetup::from_config(&config), None, "no world");
    }
}
