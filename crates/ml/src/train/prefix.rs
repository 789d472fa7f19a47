//! The frozen-prefix cache, which makes each training step cheaper: with DoRA only in the last
//! blocks and no augmentation, the frozen blocks' outputs for an image never change during
//! training. They are computed once per (weights, data) for every pool and RSA image and for the
//! label prompts, and each step then runs only the adapted blocks and the head.
//!
//! The cached path performs exactly the floating-point operations of the uncached one, split
//! at the first adapted block ([`crate::ClipHba::forward_from`]); every prefix operation acts on
//! each image independently (NdArray computes a batched matmul one matrix at a time, and layer
//! norm, softmax and the patch convolution per row or per image), so computing the prefix in
//! other batches than the training batches changes nothing, and the results are bitwise equal.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::ClipHba;

/// The frozen towers' outputs, on the (non-autodiff) backend.
#[derive(Debug, Clone)]
pub struct PrefixCache<B: Backend> {
    /// Hidden states entering the first adapted vision block, `[pool, num_positions, hidden]`.
    pub pool: Tensor<B, 3>,
    /// The same for the RSA images, `[rsa, num_positions, hidden]`.
    pub rsa: Tensor<B, 3>,
    /// Hidden states entering the first adapted text block, `[labels, context, text hidden]`.
    pub text: Tensor<B, 3>,
}

impl<B: Backend> PrefixCache<B> {
    /// Runs the frozen prefixes of `model` over all images, `chunk` images at a time.
    ///
    /// # Shapes
    ///
    /// - pool_images: `[pool, 3, image_size, image_size]`
    /// - rsa_images: `[rsa, 3, image_size, image_size]`
    pub fn compute(
        model: &ClipHba<B>,
        pool_images: &Tensor<B, 4>,
        rsa_images: &Tensor<B, 4>,
        chunk: usize,
    ) -> PrefixCache<B> {
        let vision = |images: &Tensor<B, 4>| {
            let [count, ..] = images.dims();
            let parts: Vec<Tensor<B, 3>> = (0..count)
                .step_by(chunk.max(1))
                .map(|start| {
                    let length = chunk.max(1).min(count - start);
                    model.vision_prefix(images.clone().narrow(0, start, length))
                })
                .collect();
            Tensor::cat(parts, 0) // [count, num_positions, hidden]
        };
        PrefixCache {
            pool: vision(pool_images),
            rsa: vision(rsa_images),
            text: model.text_prefix(),
        }
    }
}
