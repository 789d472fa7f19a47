//! [`TrainData`]: the arrays a run trains on, independent of where the pixels came from
//! (things-synth renders, real THINGS photographs, test fixtures).

use super::TrainError;

/// The pool, its targets, the RSA images, the human RDM and the tokenised labels.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainData {
    /// Side of the square images in pixels (the model's `image_size`).
    pub image_size: usize,
    /// The training pool, normalised pixels, row-major `[pool, 3, image_size, image_size]`.
    pub pool_images: Vec<f32>,
    /// Targets of the pool, row-major `[pool, labels]` (SPoSE values, 0..100).
    pub pool_targets: Vec<f32>,
    /// The held-out RSA images, `[rsa, 3, image_size, image_size]`, in human-RDM order.
    pub rsa_images: Vec<f32>,
    /// The human RDM over the RSA images, row-major `[rsa, rsa]`.
    pub human_rdm: Vec<f64>,
    /// Tokenised label prompts, row-major `[labels, context]`.
    pub label_ids: Vec<i64>,
    /// Tokens per label prompt (CLIP: 77).
    pub context: usize,
}

impl TrainData {
    /// Values per image: `3 × image_size²`.
    pub fn image_len(&self) -> usize {
        3 * self.image_size * self.image_size
    }

    /// Number of labels (= targets per image; 66 in the paper).
    pub fn labels(&self) -> usize {
        self.label_ids.len() / self.context.max(1)
    }

    /// Number of pool images.
    pub fn pool_len(&self) -> usize {
        self.pool_targets.len() / self.labels().max(1)
    }

    /// Number of RSA images.
    pub fn rsa_len(&self) -> usize {
        self.rsa_images.len() / self.image_len().max(1)
    }

    /// Checks that the arrays fit together.
    pub fn validate(&self) -> Result<(), TrainError> {
        let invalid = |message: String| Err(TrainError::Data { message });
        if self.image_size == 0 || self.context == 0 {
            return invalid("`image_size` and `context` must be at least 1".into());
        }
        if self.label_ids.is_empty() || !self.label_ids.len().is_multiple_of(self.context) {
            return invalid(format!(
                "{} label ids are not whole prompts of {} tokens",
                self.label_ids.len(),
                self.context
            ));
        }
        let labels = self.labels();
        if self.pool_targets.is_empty() || !self.pool_targets.len().is_multiple_of(labels) {
            return invalid(format!(
                "{} pool targets are not whole rows of {labels}",
                self.pool_targets.len()
            ));
        }
        let pool = self.pool_len();
        if self.pool_images.len() != pool * self.image_len() {
            return invalid(format!(
                "{pool} pool targets but {} pool pixel values ({} per image)",
                self.pool_images.len(),
                self.image_len()
            ));
        }
        let rsa = self.rsa_len();
        if rsa < 3 || self.rsa_images.len() != rsa * self.image_len() {
            return invalid(format!(
                "{} rsa pixel values are not at least 3 images of {}",
                self.rsa_images.len(),
                self.image_len()
            ));
        }
        if self.human_rdm.len() != rsa * rsa {
            return invalid(format!(
                "the human rdm has {} values, {rsa} rsa images need {}",
                self.human_rdm.len(),
                rsa * rsa
            ));
        }
        if self
            .pool_images
            .iter()
            .chain(&self.rsa_images)
            .any(|value| !value.is_finite())
        {
            return invalid("an image holds a non-finite pixel".into());
        }
        Ok(())
    }
}
