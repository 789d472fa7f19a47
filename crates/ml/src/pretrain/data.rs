//! [`PretrainData`]: image–caption pairs for contrastive pretraining, and held-out pairs for
//! zero-shot retrieval, independent of where the pixels and captions came from.

/// Training pairs and held-out evaluation pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainData {
    /// Side of the square images in pixels (the model's `image_size`).
    pub image_size: usize,
    /// Tokens per caption row (captions are zero-padded; may be shorter than CLIP's 77, since
    /// the text tower is causal and pools at end-of-text, trailing padding changes nothing).
    pub context: usize,
    /// Training images, normalised, row-major `[train, 3, image_size, image_size]`.
    pub train_images: Vec<f32>,
    /// Their captions' token ids, row-major `[train, context]`.
    pub train_captions: Vec<i64>,
    /// Held-out images (concepts never trained on), `[eval, 3, image_size, image_size]`.
    pub eval_images: Vec<f32>,
    /// Their captions' token ids, `[eval, context]`.
    pub eval_captions: Vec<i64>,
}

impl PretrainData {
    /// Values per image: `3 × image_size²`.
    pub fn image_len(&self) -> usize {
        3 * self.image_size * self.image_size
    }

    /// Number of training pairs.
    pub fn train_len(&self) -> usize {
        self.train_captions.len() / self.context.max(1)
    }

    /// Number of held-out pairs.
    pub fn eval_len(&self) -> usize {
        self.eval_captions.len() / self.context.max(1)
    }

    /// Checks that the arrays fit together.
    pub fn validate(&self) -> Result<(), String> {
        if self.image_size == 0 || self.context == 0 {
            return Err("`image_size` and `context` must be at least 1".into());
        }
        for (name, images, captions) in [
            ("training", &self.train_images, &self.train_captions),
            ("held-out", &self.eval_images, &self.eval_captions),
        ] {
            if captions.is_empty() || !captions.len().is_multiple_of(self.context) {
                return Err(format!(
                    "{} {name} caption ids are not whole captions of {} tokens",
                    captions.len(),
                    self.context
                ));
            }
            let pairs = captions.len() / self.context;
            if images.len() != pairs * self.image_len() {
                return Err(format!(
                    "{pairs} {name} captions but {} pixel values ({} per image)",
                    images.len(),
                    self.image_len()
                ));
            }
            if images.iter().any(|value| !value.is_finite()) {
                return Err(format!("a {name} image holds a non-finite pixel"));
            }
        }
        Ok(())
    }

    /// The held-out captions without repeats, in first-seen order, and for each held-out image
    /// the index of its caption among them.
    pub fn eval_candidates(&self) -> (Vec<Vec<i64>>, Vec<usize>) {
        let mut candidates: Vec<Vec<i64>> = Vec::new();
        let mut answers = Vec::with_capacity(self.eval_len());
        for caption in self.eval_captions.chunks(self.context) {
            let index = match candidates.iter().position(|seen| seen == caption) {
                Some(index) => index,
                None => {
                    candidates.push(caption.to_vec());
                    candidates.len() - 1
                }
            };
            answers.push(index);
        }
        (candidates, answers)
    }
}
