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
    /// Each input image replaced by Gaussian noise in normalised pixel space.
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
    /// For `random_target`: the training targets' mean.
    pub target_mean: f64,
    /// For `random_target`: the training targets' standard deviation.
    pub target_std: f64,
    /// For `image_noise`: the standard deviation of the noise (mean 0).
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

    /// `image_noise`: `count` values of N(0, noise_std²).
    pub fn image_noise(&self, epoch: u32, batch: u64, count: usize) -> Vec<f32> {
        let mut rng = stream(self.seed, Purpose::ImageNoise, u64::from(epoch), batch);
        normals(&mut rng, count)
            .into_iter()
            .map(|z| (self.noise_std * z) as f32)
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
            noise_std: 1.0,
        }
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
