//! The four perturbation types as the figures name, order and colour them.
//!
//! This is the figures' own small enum rather than `cpbuild_ml::perturbation::PerturbationKind`
//! so that figures can be computed from external CSVs without the training code, and because
//! the figures need a fixed bar order (the paper's: image noise, blank image, label shuffle,
//! target noise) and the paper's labels. [`Perturbation::from`] converts the training kind.

use std::fmt;

use crate::ml::perturbation::PerturbationKind;

/// One perturbation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Perturbation {
    /// Input images replaced by Gaussian noise ("image noise").
    ImageNoise,
    /// Every normalised pixel set to 0.5 ("blank image").
    UniformImages,
    /// Targets permuted within the batch ("label shuffle").
    LabelShuffle,
    /// Targets replaced by N(mean, std) draws ("target noise"); the main perturbation.
    RandomTarget,
}

impl Perturbation {
    /// All four, in the paper's bar order (also the derived `Ord`).
    pub const ALL: [Perturbation; 4] = [
        Perturbation::ImageNoise,
        Perturbation::UniformImages,
        Perturbation::LabelShuffle,
        Perturbation::RandomTarget,
    ];

    /// The recipe and file-name spelling: `image_noise`, `uniform_images`, `label_shuffle`,
    /// `random_target`.
    pub fn name(self) -> &'static str {
        match self {
            Perturbation::ImageNoise => "image_noise",
            Perturbation::UniformImages => "uniform_images",
            Perturbation::LabelShuffle => "label_shuffle",
            Perturbation::RandomTarget => "random_target",
        }
    }

    /// The label the paper's legend uses.
    pub fn label(self) -> &'static str {
        match self {
            Perturbation::ImageNoise => "image noise",
            Perturbation::UniformImages => "blank image",
            Perturbation::LabelShuffle => "label shuffle",
            Perturbation::RandomTarget => "target noise",
        }
    }

    /// Parses [`Perturbation::name`], or the paper's label with `_` or ` ` (`target_noise`,
    /// `blank_image`), because external effect tables use either.
    pub fn parse(text: &str) -> Option<Perturbation> {
        let normal = text.trim().to_ascii_lowercase().replace(' ', "_");
        Perturbation::ALL
            .into_iter()
            .find(|kind| kind.name() == normal || kind.label().replace(' ', "_") == normal)
    }
}

impl fmt::Display for Perturbation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<PerturbationKind> for Perturbation {
    fn from(kind: PerturbationKind) -> Self {
        match kind {
            PerturbationKind::RandomTarget => Perturbation::RandomTarget,
            PerturbationKind::LabelShuffle => Perturbation::LabelShuffle,
            PerturbationKind::ImageNoise => Perturbation::ImageNoise,
            PerturbationKind::UniformImages => Perturbation::UniformImages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_labels() {
        for kind in Perturbation::ALL {
            assert_eq!(Perturbation::parse(kind.name()), Some(kind));
            assert_eq!(Perturbation::parse(kind.label()), Some(kind));
        }
        assert_eq!(
            Perturbation::parse("Target_Noise"),
            Some(Perturbation::RandomTarget)
        );
        assert_eq!(Perturbation::parse("blank"), None);
    }
}
