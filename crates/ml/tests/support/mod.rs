//! The tiny CLIP-HBA and its data that the training tests share: `tests/train.rs` (NdArray) and
//! `tests/wgpu.rs` (the same run on wgpu) must train the very same model on the very same data.

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

/// 40 pool images, 6 RSA images; targets that depend on the image, a symmetric human RDM.
pub fn data() -> TrainData {
    let pool = 40;
    let rsa = 6;
    let pool_images = (0..pool).flat_map(image).collect();
    let pool_targets = (0..pool)
        .flat_map(|r| (0..LABELS).map(move |j| 5.0 + 4.0 * ((r % 5) as f32 * 0.7 + j as f32).sin()))
        .collect();
    let rsa_images = (100..100 + rsa).flat_map(image).collect();
    let human_rdm = (0..rsa * rsa)
        .map(|i| {
            let (a, b) = (i / rsa, i % rsa);
            if a == b {
                0.0
            } else {
                0.1 + ((a + b) as f64 * 0.37).sin().abs() * 0.8 + (a * b) as f64 * 0.001
            }
        })
        .collect();
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
