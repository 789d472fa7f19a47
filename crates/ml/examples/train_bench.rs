//! Benchmark (not a test): NdArray training steps per second for `clip-tiny` (DoRA on its last
//! vision and last text block, as the `train-hba` kind uses it) with and without the
//! frozen-prefix cache, side by side in one run.
//!
//! `cargo run --release -p cpbuild-ml --example train_bench`
//!
//! Each variant trains one warm-up epoch (which builds the cache), then times `EPOCHS` epochs
//! of 4 steps of 64 images. The timed epochs include the per-epoch evaluation, kept small
//! (8 test images, 6 RSA images) so that training steps dominate. Both variants must end with
//! bitwise the same losses; the benchmark checks it.

use std::time::Instant;

use cpbuild_ml::backend::cpu_model;
use cpbuild_ml::results::EpochResult;
use cpbuild_ml::train::{TrainConfig, TrainData, Trainer, random_clip};
use cpbuild_ml::{ClipConfig, ClipHbaConfig, CpuAutodiffBackend, DoraConfig};

const EPOCHS: u32 = 3;
const LABELS: usize = 66;
const CONTEXT: usize = 77;

fn data(size: usize) -> TrainData {
    let image = |seed: usize| -> Vec<f32> {
        (0..3 * size * size)
            .map(|i| ((i * 7 + seed * 13) as f32 * 0.013).sin() + (seed % 7) as f32 * 0.1)
            .collect()
    };
    let pool = 264;
    let rsa = 6;
    TrainData {
        image_size: size,
        pool_images: (0..pool).flat_map(image).collect(),
        pool_targets: (0..pool * LABELS)
            .map(|i| 5.0 + 5.0 * (i as f32 * 0.7).sin())
            .collect(),
        rsa_images: (1000..1000 + rsa).flat_map(image).collect(),
        human_rdm: (0..rsa * rsa)
            .map(|i| {
                if i / rsa == i % rsa {
                    0.0
                } else {
                    0.2 + 0.1 * (i / rsa + i % rsa) as f64
                }
            })
            .collect(),
        label_ids: (0..LABELS)
            .flat_map(|j| {
                let mut ids = vec![49406i64, 320 + j as i64, 1000 + j as i64, 49407];
                ids.resize(CONTEXT, 0);
                ids
            })
            .collect(),
        context: CONTEXT,
    }
}

fn run(cache: bool) -> Result<(f64, Vec<EpochResult>), Box<dyn std::error::Error>> {
    let clip = ClipConfig::tiny();
    let hba = ClipHbaConfig::new(clip.clone(), DoraConfig::last_layers(&clip, 1, 1));
    let device = Default::default();
    let config = TrainConfig {
        train_size: 256,
        test_size: 8,
        max_epochs: EPOCHS + 1,
        ..TrainConfig::paper(0)
    };
    let data = data(clip.vision.image_size);
    let model = random_clip::<CpuAutodiffBackend>(&clip, 0, &device)?;
    let mut trainer = Trainer::new(config, &hba, model, &data, &device)?.with_prefix_cache(cache);
    trainer.train_epoch(&mut ())?; // warm-up; builds the cache
    let started = Instant::now();
    for _ in 0..EPOCHS {
        trainer.train_epoch(&mut ())?;
    }
    let steps = f64::from(EPOCHS) * (256 / 64) as f64;
    Ok((
        steps / started.elapsed().as_secs_f64(),
        trainer.results().to_vec(),
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "train_bench: clip-tiny, NdArray (f32), batch 64, {} threads available, CPU: {}",
        std::thread::available_parallelism().map_or(1, usize::from),
        cpu_model().unwrap_or_else(|| "unknown CPU".to_string())
    );
    let (uncached, uncached_rows) = run(false)?;
    let (cached, cached_rows) = run(true)?;
    println!("| variant | steps/s | s/step |");
    println!("|---|---|---|");
    println!(
        "| no prefix cache | {uncached:.2} | {:.3} |",
        1.0 / uncached
    );
    println!("| prefix cache | {cached:.2} | {:.3} |", 1.0 / cached);
    println!("speed-up: {:.2}×", cached / uncached);
    let bits = |rows: &[EpochResult]| -> Vec<u64> {
        rows.iter()
            .flat_map(|r| [r.train_loss.to_bits(), r.test_loss.to_bits()])
            .collect()
    };
    if bits(&cached_rows) != bits(&uncached_rows) {
        return Err("the cached and uncached runs differ: the prefix cache is not exact".into());
    }
    println!("losses of both variants are bitwise equal");
    Ok(())
}
