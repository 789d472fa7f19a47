//! The tiny models' data that the training tests share: [`super::train`] (NdArray) and
//! `wgpu` (the same run on wgpu) must train the very same CLIP-HBA on the very same data;
//! [`super::vit`] and [`super::pretrain`] draw their images and human RDM the same way.

use cpbuild_ml::train::TrainData;
use cpbuild_ml::{ClipConfig, ClipHbaConfig, ClipTextConfig, ClipVisionConfig, DoraConfig};

pub const LABELS: usize = 6;
pub const CONTEXT: usize = 8;
pub const SIZE: usize = 8;

/// Two blocks per tower, DoRA (rank 4) on the last of each: the cache covers block 0.
pub fn hba() -> ClipHbaConfig {
    let clip = ClipConfig::new(
        ClipVisionConfig::new(16, 32, 2, 2, 4, SIZE),
        ClipTextConfig::new(16, 32, 2, 2)
            .with_vocab_size(500)
            .with_max_position_embeddings(CONTEXT),
        12,
    );
    let dora = DoraConfig::last_layers(&clip, 1, 1).with_rank(4);
    ClipHbaConfig::new(clip, dora)
}

pub fn image(seed: usize) -> Vec<f32> {
    (0..3 * SIZE * SIZE)
        .map(|i| ((i * 7 + seed * 13) as f32 * 0.31).sin() + (seed % 5) as f32 * 0.2)
        .collect()
}

/// An image whose pattern says its class (a row ramp, a column ramp, a checkerboard, or a
/// channel ramp for any other class), plus a per-`variant` wobble of amplitude `wobble`.
pub fn patterned_image(class: usize, variant: usize, wobble: f32) -> Vec<f32> {
    (0..3 * SIZE * SIZE)
        .map(|i| {
            let (channel, pixel) = (i / (SIZE * SIZE), i % (SIZE * SIZE));
            let (row, col) = (pixel / SIZE, pixel % SIZE);
            let signal = match class {
                0 => row as f32 / SIZE as f32,
                1 => col as f32 / SIZE as f32,
                2 => ((row + col) % 2) as f32,
                _ => channel as f32 * 0.5,
            };
            signal + ((i * 7 + variant * 13) as f32 * 0.31).sin() * wobble
        })
        .collect()
}

/// A symmetric `images` × `images` human RDM with a zero diagonal.
pub fn human_rdm(images: usize) -> Vec<f64> {
    (0..images * images)
        .map(|i| {
            let (a, b) = (i / images, i % images);
            if a == b {
                0.0
            } else {
                0.1 + ((a + b) as f64 * 0.37).sin().abs() * 0.8 + (a * b) as f64 * 0.001
            }
        })
        .collect()
}

/// 40 pool images, 6 RSA images; targets that depend on the image, a symmetric human RDM.
pub fn data() -> TrainData {
    let pool = 40;
    let rsa = 6;
    let pool_images = (0..pool).flat_map(image).collect();
    let pool_targets = (0..pool)
        .flat_map(|r| (0..LABELS).map(move |j| 5.0 + 4.0 * ((r % 5) as f32 * 0.7 + j as f32).sin()))
        .collect();
    let rsa_images = (100..100 + rsa).flat_map(image).collect();
    let human_rdm = human_rdm(rsa);
    let label_ids = (0..LABELS)
        .flat_map(|j| {
            let mut ids = vec![498i64, 10 + j as i64, 20 + j as i64, 499];
            ids.resize(CONTEXT, 0);
            ids
        })
        .collect();
    TrainData {
        image_size: SIZE,
        pool_images,
        pool_targets,
        rsa_images,
        human_rdm,
        label_ids,
        context: CONTEXT,
    }
}
