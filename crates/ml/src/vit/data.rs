//! [`VitData`]: what a ViT run trains and evaluates on, independent of where the pixels come
//! from. Training and validation images are behind [`ImageSet`], so a large folder (ImageNet)
//! is decoded batch by batch while a small world (things-synth) sits in memory
//! ([`InMemoryImages`]).

/// A labelled set of images that can be read by index.
pub trait ImageSet: Send + Sync {
    /// Number of images.
    fn len(&self) -> usize;

    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class of image `index`.
    fn label(&self, index: usize) -> usize;

    /// The normalised pixels of the images `indices`, in that order, row-major
    /// `[indices.len(), 3, image_size, image_size]`. An error names the image that failed.
    fn pixels(&self, indices: &[usize]) -> Result<Vec<f32>, String>;
}

/// Images held in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct InMemoryImages {
    /// Values per image (`3 × image_size²`).
    pub image_len: usize,
    /// Row-major `[images, 3, image_size, image_size]`.
    pub pixels: Vec<f32>,
    /// The class of each image.
    pub labels: Vec<usize>,
}

impl ImageSet for InMemoryImages {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn label(&self, index: usize) -> usize {
        self.labels[index]
    }

    fn pixels(&self, indices: &[usize]) -> Result<Vec<f32>, String> {
        let mut out = Vec::with_capacity(indices.len() * self.image_len);
        for &index in indices {
            let start = index * self.image_len;
            let image = self
                .pixels
                .get(start..start + self.image_len)
                .ok_or_else(|| format!("image {index} is past the end of the set"))?;
            out.extend_from_slice(image);
        }
        Ok(out)
    }
}

/// The training and validation sets, the RSA images and the human RDM.
pub struct VitData {
    /// Side of the square images in pixels (the model's `image_size`).
    pub image_size: usize,
    /// Number of classes; every label is below it.
    pub classes: usize,
    /// The training images.
    pub train: Box<dyn ImageSet>,
    /// The validation images (for `val_loss`).
    pub val: Box<dyn ImageSet>,
    /// The held-out RSA images, `[rsa, 3, image_size, image_size]`, in human-RDM order.
    pub rsa_images: Vec<f32>,
    /// The human RDM over the RSA images, row-major `[rsa, rsa]`.
    pub human_rdm: Vec<f64>,
}

impl VitData {
    /// Values per image: `3 × image_size²`.
    pub fn image_len(&self) -> usize {
        3 * self.image_size * self.image_size
    }

    /// Number of RSA images.
    pub fn rsa_len(&self) -> usize {
        self.rsa_images.len() / self.image_len().max(1)
    }

    /// Checks that the parts fit together (labels are checked as batches are read).
    pub fn validate(&self) -> Result<(), String> {
        if self.image_size == 0 || self.classes == 0 {
            return Err("`image_size` and the number of classes must be at least 1".into());
        }
        if self.train.is_empty() || self.val.is_empty() {
            return Err(format!(
                "{} training and {} validation images: both sets need at least one",
                self.train.len(),
                self.val.len()
            ));
        }
        let rsa = self.rsa_len();
        if rsa < 3 || self.rsa_images.len() != rsa * self.image_len() {
            return Err(format!(
                "{} rsa pixel values are not at least 3 images of {}",
                self.rsa_images.len(),
                self.image_len()
            ));
        }
        if self.human_rdm.len() != rsa * rsa {
            return Err(format!(
                "the human rdm has {} values, {rsa} rsa images need {}",
                self.human_rdm.len(),
                rsa * rsa
            ));
        }
        Ok(())
    }
}
