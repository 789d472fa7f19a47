//! Renders contact sheets of `things-synth` pictures, to look at what the `ci` profile trains on.
//!
//! Usage: `cargo run --example synth_preview -- OUT_DIR [SEED]`. Writes `synth_32.png` and
//! `synth_224.png` into `OUT_DIR`: the first 64 training concepts (CSV order) in an 8×8 grid, at
//! 32×32 and at 224×224 per picture, with a 2-pixel grey gutter.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cpbuild::data::synth::{Image, SynthConfig, render};
use cpbuild::data::things::read_spose_csv;

/// Pictures per row and column of a sheet.
const GRID: usize = 8;
/// Grey pixels between pictures.
const GUTTER: usize = 2;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(out_dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: synth_preview OUT_DIR [SEED]");
        return ExitCode::from(2);
    };
    let seed = match args.next().map(|s| s.to_string_lossy().parse::<u64>()) {
        None => 0,
        Some(Ok(seed)) => seed,
        Some(Err(error)) => {
            eprintln!("error: `SEED` must be an unsigned integer: {error}");
            return ExitCode::from(2);
        }
    };
    match run(&out_dir, seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(out_dir: &std::path::Path, seed: u64) -> Result<(), String> {
    let csv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/things/spose_embedding66d_rescaled_1806train.csv"
    );
    let data = read_spose_csv(csv).map_err(|error| error.to_string())?;
    std::fs::create_dir_all(out_dir)
        .map_err(|error| format!("cannot create `{}`: {error}", out_dir.display()))?;
    let count = (GRID * GRID).min(data.len());
    for resolution in [32, 224] {
        let config = SynthConfig { resolution, seed };
        let started = Instant::now();
        let pictures: Vec<Image> = (0..count)
            .map(|row| render(&data.targets[row], data.concept_index[row], &config))
            .collect();
        let per_picture = started.elapsed().as_secs_f64() / count as f64;
        let sheet = contact_sheet(&pictures, resolution);
        let path = out_dir.join(format!("synth_{resolution}.png"));
        std::fs::write(&path, sheet.to_png())
            .map_err(|error| format!("cannot write `{}`: {error}", path.display()))?;
        println!(
            "{}: {count} pictures at {resolution}×{resolution}, {:.3} ms each",
            path.display(),
            per_picture * 1e3
        );
    }
    let names: Vec<&str> = data.image_name[..count]
        .iter()
        .map(String::as_str)
        .collect();
    for (row, chunk) in names.chunks(GRID).enumerate() {
        println!("row {row}: {}", chunk.join(" "));
    }
    Ok(())
}

/// Lays square pictures out in a `GRID`-wide sheet.
fn contact_sheet(pictures: &[Image], resolution: usize) -> Image {
    let rows = pictures.len().div_ceil(GRID);
    let width = GRID * resolution + (GRID + 1) * GUTTER;
    let height = rows * resolution + (rows + 1) * GUTTER;
    let mut rgb = vec![96u8; width * height * 3];
    for (k, picture) in pictures.iter().enumerate() {
        let (x0, y0) = (
            GUTTER + (k % GRID) * (resolution + GUTTER),
            GUTTER + (k / GRID) * (resolution + GUTTER),
        );
        for y in 0..resolution {
            let from = y * resolution * 3;
            let to = ((y0 + y) * width + x0) * 3;
            rgb[to..to + resolution * 3].copy_from_slice(&picture.rgb[from..from + resolution * 3]);
        }
    }
    Image { width, height, rgb }
}
