//! Perturbations of training: what replaces the targets or images during a window of epochs.
//!
//! A perturbation is active for epochs `start ..= start + length − 1`. Every draw is keyed by
//! (perturbation seed, epoch, batch), so each epoch of a window gets new draws, the draws are
//! the same on every device, and nothing touches the training loop's own randomness
//! (`docs/protocol.md`, "Repeated, device-dependent random targets" and "Image noise reseeding
//! the global RNG").

use serde::{Deserialize, Serialize};

use super::streams::{Purpose, normals, permutation, stream};

/// The four perturbation types of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerturbationKind {
    /// Targets replaced by draws from N(mean, std) of the training targets ("target noise").
    RandomTarget,
    /// Targets permuted within the batch.
    LabelShuffle,
    /// Each input image replaced by per-pixel Gaussian noise in normalised pixel space
    /// ([`ImageNoise`] says which distribution).
    ImageNoise,
    /// Every normalised pixel set to 0.5 ("blank image").
    UniformImages,
}

impl PerturbationKind {
    /// Parses the recipe name (`random_target`, `label_shuffle`, `image_noise`, `uniform_images`).
    pub fn parse(name: &str) -> Result<PerturbationKind, String> {
        match name {
            "random_target" => Ok(PerturbationKind::RandomTarget),
            "label_shuffle" => Ok(PerturbationKind::LabelShuffle),
            "image_noise" => Ok(PerturbationKind::ImageNoise),
            "uniform_images" => Ok(PerturbationKind::UniformImages),
            other => Err(format!(
                "unknown perturbation `{other}`; the kinds are `random_target`, `label_shuffle`, `image_noise`, `uniform_images`"
            )),
        }
    }

    /// Whether it changes the images (and so bypasses the frozen-prefix cache while active).
    pub fn changes_images(self) -> bool {
        matches!(
            self,
            PerturbationKind::ImageNoise | PerturbationKind::UniformImages
        )
    }
}

/// The distribution of `image_noise`'s pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageNoise {
    /// N(mean, std²) with the training targets' mean and standard deviation, the same two
    /// scalars `random_target` draws from (the original scripts' default; docs/protocol.md,
    /// "Perturbations").
    #[default]
    Target,
    /// N(0, σ²) with σ = [`Perturbation::noise_std`]: the original scripts' other choice
    /// for CLIP-HBA, N(0, 1).
    Normal,
}

impl ImageNoise {
    /// Parses the recipe name (`target`, `normal`).
    pub fn parse(name: &str) -> Result<ImageNoise, String> {
        match name {
            "target" => Ok(ImageNoise::Target),
            "normal" => Ok(ImageNoise::Normal),
            other => Err(format!(
                "unknown image noise `{other}`; use `target` (N(mean, std) of the training targets, the default) or `normal` (N(0, 1))"
            )),
        }
    }
}

/// A perturbation window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Perturbation {
    /// What it does.
    pub kind: PerturbationKind,
    /// First perturbed epoch (1-based).
    pub start: u32,
    /// Number of perturbed epochs (at least 1).
    pub length: u32,
    /// The seed of its draws.
    pub seed: u64,
    /// For `random_target` (and `image_noise` drawn from the targets' distribution): the
    /// training targets' mean.
    pub target_mean: f64,
    /// For `random_target` (and `image_noise` drawn from the targets' distribution): the
    /// training targets' standard deviation.
    pub target_std: f64,
    /// For `image_noise`: the pixels' distribution.
    pub noise: ImageNoise,
    /// For `image_noise` with [`ImageNoise::Normal`]: the standard deviation (mean 0; 1 for
    /// CLIP-HBA's `noise = "normal"`, the ε of the ViT's noise).
    pub noise_std: f64,
}

impl Perturbation {
    /// The last perturbed epoch.
    pub fn end(&self) -> u32 {
        self.start + self.length.saturating_sub(1)
    }

    /// Whether it is active in `epoch`.
    pub fn active(&self, epoch: u32) -> bool {
        self.length > 0 && epoch >= self.start && epoch <= self.end()
    }

    /// `random_target`: `rows × dims` draws from N(mean, std), row-major.
    pub fn random_targets(&self, epoch: u32, batch: u64, rows: usize, dims: usize) -> Vec<f32> {
        let mut rng = stream(self.seed, Purpose::RandomTarget, u64::from(epoch), batch);
        normals(&mut rng, rows * dims)
            .into_iter()
            .map(|z| (self.target_mean + self.target_std * z) as f32)
            .collect()
    }

    /// `label_shuffle`: the permutation of the batch's rows.
    pub fn label_permutation(&self, epoch: u32, batch: u64, rows: usize) -> Vec<usize> {
        permutation(
            &mut stream(self.seed, Purpose::LabelShuffle, u64::from(epoch), batch),
            rows,
        )
    }

    /// `image_noise`: `count` pixel values, N(target mean, target std²) or N(0, noise_std²)
    /// as [`Self::noise`] says.
    pub fn image_noise(&self, epoch: u32, batch: u64, count: usize) -> Vec<f32> {
        let mut rng = stream(self.seed, Purpose::ImageNoise, u64::from(epoch), batch);
        let (mean, std) = match self.noise {
            ImageNoise::Target => (self.target_mean, self.target_std),
            ImageNoise::Normal => (0.0, self.noise_std),
        };
        normals(&mut rng, count)
            .into_iter()
            .map(|z| (mean + std * z) as f32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Perturbation {
        Perturbation {
            kind: PerturbationKind::RandomTarget,
            start: 3,
            length: 2,
            seed: 11,
            target_mean: 5.6906150491834,
            target_std: 10.17865285170066,
            noise: ImageNoise::Target,
            noise_std: 1.0,
        }
    }

    fn mean_and_std(values: &[f32]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let variance = values
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, variance.sqrt())
    }

    #[test]
    fn image_noise_draws_from_the_targets_distribution_by_default() {
        let w = Perturbation {
            kind: PerturbationKind::ImageNoise,
            ..window()
        };
        let (mean, std) = mean_and_std(&w.image_noise(3, 0, 60_000));
        assert!((mean - 5.6906).abs() < 0.2, "mean {mean}");
        assert!((std - 10.1787).abs() < 0.2, "std {std}");
        let normal = Perturbation {
            noise: ImageNoise::Normal,
            ..w
        };
        let (mean, std) = mean_and_std(&normal.image_noise(3, 0, 60_000));
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((std - 1.0).abs() < 0.02, "std {std}");
        // The same draws z, scaled: target = mean + std · z.
        let z = normal.image_noise(4, 1, 8);
        let scaled = w.image_noise(4, 1, 8);
        for (z, x) in z.iter().zip(&scaled) {
            let expected = 5.6906150491834 + 10.17865285170066 * f64::from(*z);
            assert!((f64::from(*x) - expected).abs() < 1e-4, "{x} vs {expected}");
        }
        assert_eq!(ImageNoise::parse("normal"), Ok(ImageNoise::Normal));
        assert!(
            ImageNoise::parse("uniform")
                .unwrap_err()
                .contains("`target`")
        );
    }

    #[test]
    fn window_bounds() {
        let w = window();
        assert_eq!(w.end(), 4);
        assert!(!w.active(2) && w.active(3) && w.active(4) && !w.active(5));
    }

    #[test]
    fn draws_differ_by_epoch_and_batch_and_repeat_by_key() {
        let w = window();
        let a = w.random_targets(3, 0, 4, 66);
        assert_eq!(a.len(), 264);
        assert_eq!(a, w.random_targets(3, 0, 4, 66));
        assert_ne!(
            a,
            w.random_targets(4, 0, 4, 66),
            "each epoch of a window gets new draws"
        );
        assert_ne!(a, w.random_targets(3, 1, 4, 66));
        let mean = a.iter().map(|&x| f64::from(x)).sum::<f64>() / a.len() as f64;
        assert!((mean - 5.69).abs() < 2.0, "{mean}");
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            PerturbationKind::parse("image_noise"),
            Ok(PerturbationKind::ImageNoise)
        );
        assert!(
            PerturbationKind::parse("noise")
                .unwrap_err()
                .contains("random_target")
        );
    }
}
