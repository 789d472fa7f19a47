//! [`BenchReport`]: `cpbuild bench`'s tables, and the projection of the paper-profile CLIP-HBA
//! graph's GPU time from the measured epoch.
//!
//! A paper-scale epoch is the real one when `--full-epoch` timed it; otherwise it is projected
//! from the throughput runs: 1,444 images at the cached training rate, plus the label features
//! and 362 + 48 images at the cached evaluation rate. Each run also computes its frozen
//! prefixes once (1,806 pool and 48 RSA images, and the labels). The graph's GPU time is then
//!
//! `epochs × epoch + runs × prefixes + image-perturbed epochs × (full − cached training)`,
//!
//! leaving out what is not training: process start, loading weights and data, saving states.

use std::fmt;

use cpbuild_ml::precision::{BF16_NOT_IMPLEMENTED, Precision};
use cpbuild_ml::train::TrainConfig;

use super::epochs::{BaselineEnds, GraphEpochs};
use super::measure::Measurements;
use super::{BenchConfig, HBA_FIGURES, PAPER_RSA_IMAGES};

/// What `cpbuild bench` found.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// What was asked for.
    pub config: BenchConfig,
    /// The images' side in pixels.
    pub resolution: usize,
    /// The backend and device, as resolved.
    pub backend: String,
    /// The host processor.
    pub host: String,
    /// Rendering the data.
    pub data_seconds: f64,
    /// The timings.
    pub measurements: Measurements,
    /// The paper profile's CLIP-HBA graph, or why it could not be counted.
    pub graph: Result<GraphEpochs, String>,
}

/// A paper-scale epoch and a run's one-off prefixes, in seconds, and where they come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperScale {
    /// Training the 1,444 images.
    pub train: f64,
    /// Label features, test loss over 362 and RSA over 48 images.
    pub evaluation: f64,
    /// One epoch.
    pub epoch: f64,
    /// The frozen prefixes of a run (once per run).
    pub prefixes: f64,
    /// Extra seconds of an epoch trained on pixels (image perturbations skip the cache).
    pub image_perturbed_extra: f64,
    /// Timed for real (`--full-epoch`) rather than projected.
    pub measured: bool,
}

impl BenchReport {
    /// The paper-scale epoch: measured if `--full-epoch` timed it, else projected.
    pub fn paper_scale(&self) -> PaperScale {
        let paper = TrainConfig::paper(0);
        let m = &self.measurements;
        let full_rate = m.full.train_rate();
        let cached_rate = m.cached.train_rate();
        let image_perturbed_extra =
            paper.train_size as f64 * (1.0 / full_rate - 1.0 / cached_rate).max(0.0);
        if let Some(epoch) = &m.paper_epoch {
            let timed = &epoch.timed;
            return PaperScale {
                train: timed.train,
                evaluation: timed.total - timed.setup - timed.train,
                epoch: timed.total,
                prefixes: epoch.first.setup,
                image_perturbed_extra,
                measured: true,
            };
        }
        let per_image =
            m.cached.evaluation.unwrap_or(0.0) / m.cached.evaluated_images.max(1) as f64;
        let train = paper.train_size as f64 / cached_rate;
        let evaluation = m.cached.label_features.unwrap_or(0.0)
            + (paper.test_size + PAPER_RSA_IMAGES) as f64 * per_image;
        let pool = paper.train_size + paper.test_size + PAPER_RSA_IMAGES;
        PaperScale {
            train,
            evaluation,
            epoch: train + evaluation,
            prefixes: m.prefix.text + pool as f64 * m.prefix.vision_per_image,
            image_perturbed_extra,
            measured: false,
        }
    }

    /// The projected seconds of the paper profile's CLIP-HBA graph.
    pub fn projected_graph_seconds(&self) -> Option<f64> {
        let graph = self.graph.as_ref().ok()?;
        let scale = self.paper_scale();
        Some(
            graph.hba.demand as f64 * scale.epoch
                + graph.hba.runs as f64 * scale.prefixes
                + graph.hba.image_perturbed as f64 * scale.image_perturbed_extra,
        )
    }
}

/// A number with three significant digits (whole numbers from 1,000 up), e.g. `0.0513`,
/// `7.67`, `39.0`, `615`, `5538`.
fn significant(value: f64) -> String {
    if !value.is_finite() || value <= 0.0 {
        return format!("{value}");
    }
    let decimals = (2 - value.log10().floor() as i64).clamp(0, 9) as usize;
    format!("{value:.decimals$}")
}

/// Seconds, as [`significant`].
fn seconds(value: f64) -> String {
    significant(value)
}

/// Images per second, as [`significant`].
fn rate(value: f64) -> String {
    significant(value)
}

/// `h:mm:ss` for long durations.
fn clock(value: f64) -> String {
    let total = value.round() as u64;
    format!("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.config;
        let m = &self.measurements;
        let paper = TrainConfig::paper(0);
        writeln!(
            f,
            "cpbuild bench: {} (random weights), things-synth {res}×{res}, batch {}",
            config.model,
            config.batch,
            res = self.resolution
        )?;
        writeln!(f, "backend: {}", self.backend)?;
        writeln!(f, "host: {}", self.host)?;
        writeln!(
            f,
            "setup: data {} s, random weights {} s",
            seconds(self.data_seconds),
            seconds(m.weights)
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "training throughput ({} step{} of {} images after a warm-up epoch; side by side in this run):",
            config.steps,
            if config.steps == 1 { "" } else { "s" },
            config.batch
        )?;
        writeln!(f)?;
        writeln!(f, "| path | precision | images/s | s/step | vs full f32 |")?;
        writeln!(f, "|---|---|---|---|---|")?;
        let full_rate = m.full.train_rate();
        for precision in Precision::ALL {
            for (path, timing) in [("full", &m.full), ("cached", &m.cached)] {
                let label = match path {
                    "full" => "full (uncached)",
                    _ => "frozen prefix cached",
                };
                if precision.check().is_err() {
                    writeln!(f, "| {label} | {precision} | not implemented | | |")?;
                    continue;
                }
                let images_per_second = timing.train_rate();
                writeln!(
                    f,
                    "| {label} | {precision} | {} | {} | {:.2}× |",
                    rate(images_per_second),
                    seconds(config.batch as f64 / images_per_second),
                    images_per_second / full_rate
                )?;
            }
        }
        writeln!(f)?;
        writeln!(f, "bf16: not implemented: {}", bf16_reason())?;
        writeln!(f)?;

        let scale = self.paper_scale();
        let how = if scale.measured {
            "timed with --full-epoch"
        } else {
            "projected from the cached rates above"
        };
        writeln!(f, "paper-scale epoch (frozen prefix cached, f32; {how}):")?;
        writeln!(f)?;
        writeln!(f, "| part | images | seconds |")?;
        writeln!(f, "|---|---|---|")?;
        writeln!(
            f,
            "| train | {} | {} |",
            paper.train_size,
            seconds(scale.train)
        )?;
        writeln!(
            f,
            "| test loss + RSA | {} + {PAPER_RSA_IMAGES} | {} |",
            paper.test_size,
            seconds(scale.evaluation)
        )?;
        writeln!(f, "| epoch | | {} |", seconds(scale.epoch))?;
        writeln!(
            f,
            "| frozen prefixes, once a run | {} + 66 labels | {} |",
            paper.train_size + paper.test_size + PAPER_RSA_IMAGES,
            seconds(scale.prefixes)
        )?;
        writeln!(f)?;

        match &self.graph {
            Err(error) => writeln!(f, "paper-profile graph: not projected: {error}")?,
            Ok(graph) => {
                let hba = &graph.hba;
                writeln!(
                    f,
                    "paper-profile CLIP-HBA graph ({}; the baseline to epoch {}, demand-driven):",
                    HBA_FIGURES.join(", "),
                    BaselineEnds::PAPER.hba
                )?;
                writeln!(f)?;
                writeln!(f, "| runs | epochs | image-perturbed epochs | to the end |")?;
                writeln!(f, "|---|---|---|---|")?;
                writeln!(
                    f,
                    "| {} | {} | {} | {} |",
                    hba.runs, hba.demand, hba.image_perturbed, hba.to_the_end
                )?;
                writeln!(f)?;
                let total = self.projected_graph_seconds().unwrap_or(0.0);
                writeln!(
                    f,
                    "projected time on this backend: {} × {} s + {} × {} s + {} × {} s = {} s ({})",
                    hba.demand,
                    seconds(scale.epoch),
                    hba.runs,
                    seconds(scale.prefixes),
                    hba.image_perturbed,
                    seconds(scale.image_perturbed_extra),
                    seconds(total),
                    clock(total)
                )?;
            }
        }
        Ok(())
    }
}

/// The reason bf16 is refused, without its leading "bf16 mixed precision is not implemented: ".
fn bf16_reason() -> &'static str {
    BF16_NOT_IMPLEMENTED
        .split_once(": ")
        .map_or(BF16_NOT_IMPLEMENTED, |(_, reason)| reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_significant_digits() {
        let cases = [
            (0.051_34, "0.0513"),
            (0.4, "0.400"),
            (7.666, "7.67"),
            (39.04, "39.0"),
            (615.2, "615"),
            (5538.4, "5538"),
            (1.0, "1.00"),
        ];
        for (value, text) in cases {
            assert_eq!(significant(value), text, "{value}");
        }
        assert_eq!(clock(3725.4), "1:02:05");
    }
}
