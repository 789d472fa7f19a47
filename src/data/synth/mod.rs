//! `things-synth`: the embedded synthetic image world of the `ci` profile.
//!
//! The real THINGS images are large and not redistributable, so the `ci` profile renders one
//! small picture per concept instead. Only the pixels are synthetic: each picture is drawn from
//! the concept's *real* 66-d SPoSE embedding, so the training targets and the human RDM stay the
//! real ones, and a model that learns to read the pictures learns real behavioural structure.
//!
//! # How an embedding becomes a picture
//!
//! The pictures are made to be *legible* to the `ci` profile's tiny models (32×32 pixels,
//! 8-pixel patches): every dimension drives one strong, smooth pattern of its own, repeated in
//! every 8-pixel tile, so that each patch the models cut the picture into carries all 66
//! dimensions, and pooling over patches keeps them. An earlier renderer drew an object with a
//! cue per dimension (colours, shapes, textures, accessories); its fine cues vanished at 32
//! pixels and a third of the dimensions only tinted the background, so the models learnt the
//! targets' mean and little of their structure (test RSA ρ about 0.15). A renderer that drew
//! each pattern once across the whole picture lost most of them to the models' pooling over
//! patches (a gradient across the picture averages to nothing).
//!
//! Dimension `d` (0..65) has a strength `s = clamp(v / q95, 0, 2)`, where `v` is its value and
//! `q95` its 95th percentile over the 1,806 training concepts ([`SCALE`]): `s = 1` means "in the
//! top 5 %". It owns the pattern
//!
//! `P_d(u, v) = cos(π·k·u) · cos(π·l·v) · axis[d mod 3]`
//!
//! over each of the [`TILES`]` × `[`TILES`] tiles of the picture (`u`, `v` in [0, 1] at pixel
//! centres within the tile, left to right and top to bottom; see [`wave`]), where `(k, l)` is
//! the `⌊d / 3⌋`-th pair of [`frequency_pairs`] (ordered by `k + l`, then `k`: (0,0), (0,1),
//! (1,0), (0,2), (1,1), …, at most 6 half-waves across a tile) and `axis` one of three
//! orthonormal colour directions ([`COLOUR_AXES`]: luminance, red–green, yellow–blue). So the
//! SPoSE order, which is the order of importance (the first dimensions carry the most
//! variance), gets the broadest patterns: dimensions 0–2 (metallic, food, animal) are the
//! picture's overall brightness, redness and yellowness, the next ones gradients and blobs
//! within each tile. A pixel is
//!
//! `128 + AMPLITUDE · Σ_d s_d · P_d(u, v) + lighting + noise`,
//!
//! rounded and clamped to 0..255, with [`AMPLITUDE`] 40. On each tile's pixel grid the
//! patterns are the 2-D DCT-II basis, so they are orthogonal: a linear read-out recovers every
//! strength.
//!
//! The nuisance, different for every (concept, seed): a grey lighting gradient
//! across the whole picture, `LIGHTING · (a·(2u − 1) + b·(2v − 1) + c)` with `a`, `b`, `c` uniform in [−½, ½) and
//! [`LIGHTING`] 10, and per-pixel grey noise uniform in ±[`NOISE`] (8).
//!
//! # Determinism
//!
//! The same (embedding, concept index, seed, resolution) gives the same bytes on every platform
//! and thread count: rendering is a pure function, and all arithmetic is `+ − × ÷` and `floor`
//! on `f64` (which IEEE 754 defines exactly; Rust does not fuse them), with [`cos`] a
//! polynomial of our own rather than the platform's `libm`.
//!
//! Randomness comes from a [`ChaCha8Rng`] whose 32-byte key is four little-endian words
//! `wₖ = mix(mix(mix(tag ⊕ k) ⊕ seed) ⊕ concept_index)`, `k = 0..3`, where `mix` is
//! SplitMix64's finaliser and `tag` the FNV-1a hash of [`SYNTH_VERSION`] (see [`rng_key`]).
//! Stream 0 draws the lighting (three `u64`s); stream 1 draws one `u64` per pixel in row-major
//! order for the noise. So a different seed relights and re-noises a picture but keeps its
//! patterns. Changing anything here changes pictures: bump [`SYNTH_VERSION`], which callers
//! hash into their keys.
//!
//! # Files
//!
//! This file holds the world's constants and the picture type; [`scene`] renders, [`keys`]
//! keys the randomness, [`split`] picks the training concepts, [`trig`] gives platform-exact
//! cosines, and [`png`] writes pictures as PNG files.

mod keys;
mod png;
mod scene;
mod split;
mod trig;

pub use keys::{fnv1a, rng_key};
pub use scene::{
    AMPLITUDE, COLOUR_AXES, LIGHTING, MAX_STRENGTH, NOISE, TILES, frequency_pairs, render,
    strength, wave,
};
pub use split::{assert_disjoint, training_subset};
pub use trig::{cos, sin};

use super::things::DIMENSIONS;

/// Version of the rendering; part of the RNG key and meant for callers' cache keys.
pub const SYNTH_VERSION: &str = "cpbuild/things-synth/v3";

/// Per dimension, the 95th percentile of its value over the 1,806 training concepts (rounded to
/// 0.1): the value at which a dimension's pattern reaches strength 1.
pub const SCALE: [f64; DIMENSIONS] = [
    59.0, 76.6, 77.2, 46.0, 44.4, 34.5, 32.1, 39.0, 43.7, 32.0, 36.5, 32.6, 31.5, 33.7, 30.2, 31.3,
    31.1, 27.8, 29.2, 25.7, 25.1, 25.5, 26.4, 26.5, 22.3, 21.1, 22.6, 20.4, 20.0, 19.2, 19.9, 14.4,
    19.4, 18.7, 19.1, 18.5, 17.3, 16.5, 18.3, 16.1, 16.1, 18.6, 17.1, 15.0, 15.3, 12.9, 15.4, 13.0,
    15.5, 14.4, 12.6, 14.4, 14.9, 13.1, 14.9, 11.7, 11.9, 13.0, 10.9, 11.4, 10.6, 8.7, 8.3, 10.0,
    9.3, 5.3,
];

/// How to render: the picture's side in pixels and the seed of its noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Width and height in pixels; at least 1.
    pub resolution: usize,
    /// Seed of the per-picture nuisance (lighting gradient and noise).
    pub seed: u64,
}

/// An 8-bit RGB picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major pixels, 3 bytes (R, G, B) each: `width × height × 3` bytes.
    pub rgb: Vec<u8>,
}

impl Image {
    /// The picture as `[3, height, width]` floats in `[0, 1]` (channel-major, as models take it).
    pub fn to_f32_chw(&self) -> Vec<f32> {
        let plane = self.width * self.height;
        let mut out = vec![0.0f32; 3 * plane];
        for (pixel, rgb) in self.rgb.chunks_exact(3).enumerate() {
            for (channel, &value) in rgb.iter().enumerate() {
                out[channel * plane + pixel] = f32::from(value) / 255.0;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::things::{SposeTargets, read_spose_csv};
    use super::scene::Rgb;
    use super::*;

    const THINGS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/things");

    fn training() -> SposeTargets {
        read_spose_csv(format!(
            "{THINGS_DIR}/spose_embedding66d_rescaled_1806train.csv"
        ))
        .unwrap()
    }

    fn rsa() -> SposeTargets {
        read_spose_csv(format!(
            "{THINGS_DIR}/spose_embedding66d_rescaled_48val_reordered.csv"
        ))
        .unwrap()
    }

    fn config(resolution: usize, seed: u64) -> SynthConfig {
        SynthConfig { resolution, seed }
    }

    #[test]
    fn same_inputs_give_the_same_bytes_in_any_thread() {
        let data = training();
        for row in [0, 1, 500, 1805] {
            let embedding = data.targets[row];
            let index = data.concept_index[row];
            let first = render(&embedding, index, &config(48, 7));
            let second = render(&embedding, index, &config(48, 7));
            assert_eq!(first, second);
            let threaded = std::thread::scope(|scope| {
                let a = scope.spawn(|| render(&embedding, index, &config(48, 7)));
                let b = scope.spawn(|| render(&embedding, index, &config(48, 7)));
                (a.join().unwrap(), b.join().unwrap())
            });
            assert_eq!(threaded.0, first);
            assert_eq!(threaded.1, first);
            assert_eq!(first.rgb.len(), 48 * 48 * 3);
        }
    }

    #[test]
    fn bytes_are_pinned() {
        // Guards against accidental changes to the pictures (and so to every `ci` result).
        // If the change is intended, bump `SYNTH_VERSION` and update the digest.
        let data = training();
        let image = render(&data.targets[1], data.concept_index[1], &config(32, 0));
        // FNV-1a and CRC-32 of the bytes: enough to notice any change.
        let digest = fnv1a(&image.rgb);
        assert_eq!(digest, 0x1fc4_0787_7c94_b0de);
    }

    fn mean_colour(image: &Image) -> Rgb {
        let mut sum = [0.0; 3];
        for pixel in image.rgb.chunks_exact(3) {
            for c in 0..3 {
                sum[c] += f64::from(pixel[c]);
            }
        }
        let pixels = (image.width * image.height) as f64;
        sum.map(|total| total / pixels)
    }

    fn distance(a: Rgb, b: Rgb) -> f64 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    #[test]
    fn concepts_differ_and_seeds_change_noise_not_cues() {
        let data = training();
        let images: Vec<Image> = (0..20)
            .map(|row| render(&data.targets[row], data.concept_index[row], &config(32, 0)))
            .collect();
        for i in 0..images.len() {
            for j in i + 1..images.len() {
                assert_ne!(images[i], images[j], "rows {i} and {j} render the same");
            }
        }
        // Another seed: different bytes, but the mean colour stays close compared with how far
        // apart concepts are.
        let mut seed_shift = 0.0;
        let mut concept_gap = 0.0;
        for row in 0..20 {
            let other = render(&data.targets[row], data.concept_index[row], &config(32, 99));
            assert_ne!(other, images[row]);
            seed_shift += distance(mean_colour(&other), mean_colour(&images[row]));
            concept_gap += distance(
                mean_colour(&images[row]),
                mean_colour(&images[(row + 1) % 20]),
            );
        }
        assert!(
            seed_shift * 3.0 < concept_gap,
            "seed shift {seed_shift} vs concept gap {concept_gap}"
        );
    }

    fn pearson(x: &[f64], y: &[f64]) -> f64 {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (a, b) in x.iter().zip(y) {
            sxy += (a - mx) * (b - my);
            sxx += (a - mx) * (a - mx);
            syy += (b - my) * (b - my);
        }
        sxy / (sxx * syy).sqrt()
    }

    /// Every strength, read back from a picture by projecting it on the patterns (which are
    /// orthogonal on the pixel grid).
    fn read_back(image: &Image) -> [f64; DIMENSIONS] {
        let res = image.width;
        let pairs = frequency_pairs();
        let mut strengths = [0.0; DIMENSIONS];
        for d in 0..DIMENSIONS {
            let (k, l) = pairs[d / 3];
            let axis = COLOUR_AXES[d % 3];
            let (mut dot, mut norm) = (0.0, 0.0);
            for row in 0..res {
                for column in 0..res {
                    let value = wave(k, column, res) * wave(l, row, res);
                    for (c, weight) in axis.iter().enumerate() {
                        let pixel = f64::from(image.rgb[3 * (row * res + column) + c]) - 128.0;
                        dot += pixel * value * weight;
                        norm += (value * weight) * (value * weight);
                    }
                }
            }
            strengths[d] = dot / norm / AMPLITUDE;
        }
        strengths
    }

    #[test]
    fn every_dimension_is_legible_from_pixels() {
        // The pictures carry all 66 strengths: projecting a picture on each pattern gives them
        // back, up to the lighting, the noise and the clamping to 0..255.
        let data = training();
        let (mut read, mut truth) = (Vec::new(), Vec::new());
        let mut worst = [0.0f64; DIMENSIONS];
        for row in (0..data.len()).step_by(6) {
            let embedding = &data.targets[row];
            let image = render(embedding, data.concept_index[row], &config(32, 0));
            let back = read_back(&image);
            for d in 0..DIMENSIONS {
                read.push(back[d]);
                truth.push(strength(embedding, d));
                worst[d] = worst[d].max((back[d] - strength(embedding, d)).abs());
            }
        }
        let r = pearson(&read, &truth);
        println!("pearson {r:.4}; largest error per dimension {worst:.2?}");
        assert!(r > 0.97, "strengths read back with pearson {r}");
        // Per dimension too: each strength is read back, not only the large ones.
        for d in 0..DIMENSIONS {
            let column = |values: &[f64]| -> Vec<f64> {
                values.iter().skip(d).step_by(DIMENSIONS).copied().collect()
            };
            let r = pearson(&column(&read), &column(&truth));
            assert!(r > 0.9, "dimension {d}: pearson {r}");
        }
    }

    #[test]
    fn patterns_are_orthogonal_and_low_frequency() {
        let pairs = frequency_pairs();
        assert_eq!(pairs[0], (0, 0));
        assert_eq!(&pairs[1..3], &[(0, 1), (1, 0)]);
        assert!(pairs.iter().all(|&(k, l)| k + l <= 6), "{pairs:?}");
        let mut sorted = pairs.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), pairs.len(), "a pair twice: {pairs:?}");
        for (a, first) in COLOUR_AXES.iter().enumerate() {
            for (b, second) in COLOUR_AXES.iter().enumerate() {
                let dot: f64 = first.iter().zip(second).map(|(x, y)| x * y).sum();
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-12, "axes {a}, {b}: {dot}");
            }
        }
    }

    #[test]
    fn training_subset_is_deterministic_sorted_and_disjoint() {
        let data = training();
        let pool = &data.concept_index;
        let subset = training_subset(pool, 300, 0);
        assert_eq!(subset.len(), 300);
        assert!(subset.windows(2).all(|w| w[0] < w[1]));
        assert!(subset.iter().all(|i| pool.contains(i)));
        assert_eq!(subset, training_subset(pool, 300, 0));
        assert_ne!(subset, training_subset(pool, 300, 1));
        let mut everything = training_subset(pool, 5000, 3);
        everything.dedup();
        assert_eq!(everything.len(), pool.len());

        let held_out = rsa();
        assert_disjoint(&subset, &held_out.concept_index).unwrap();
        assert_disjoint(pool, &held_out.concept_index).unwrap();
        let error = assert_disjoint(&[1, 2, held_out.concept_index[5]], &held_out.concept_index)
            .unwrap_err();
        assert!(
            error.contains(&held_out.concept_index[5].to_string()),
            "{error}"
        );
    }

    #[test]
    fn sine_matches_the_platform_closely() {
        for k in -2000..2000 {
            let x = k as f64 * 0.0137;
            assert!((sin(x) - x.sin()).abs() < 4e-6, "sin({x})");
            assert!((cos(x) - x.cos()).abs() < 4e-6, "cos({x})");
        }
    }

    #[test]
    fn fnv1a_matches_known_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// Decodes a PNG with the `png` crate's decoder.
    fn decode_png(png: &[u8]) -> Image {
        let decoder = ::png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut rgb = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut rgb).expect("the image data");
        assert_eq!(
            (info.color_type, info.bit_depth),
            (::png::ColorType::Rgb, ::png::BitDepth::Eight)
        );
        rgb.truncate(info.buffer_size());
        Image {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        }
    }

    #[test]
    fn png_decodes_back() {
        let data = training();
        for resolution in [1, 32, 224] {
            let image = render(
                &data.targets[3],
                data.concept_index[3],
                &config(resolution, 1),
            );
            let png = image.to_png();
            assert_eq!(decode_png(&png), image);
            assert_eq!(png, image.to_png());
        }
        // A non-square picture keeps width and height apart.
        let image = Image {
            width: 3,
            height: 2,
            rgb: (0..18).collect(),
        };
        assert_eq!(decode_png(&image.to_png()), image);
    }

    #[test]
    fn chw_layout() {
        let image = Image {
            width: 2,
            height: 1,
            rgb: vec![255, 0, 51, 0, 102, 255],
        };
        assert_eq!(image.to_f32_chw(), [1.0, 0.0, 0.0, 0.4, 0.2, 1.0]);
    }

    #[test]
    #[should_panic(expected = "resolution")]
    fn zero_resolution_is_refused() {
        render(&[0.0; DIMENSIONS], 0, &config(0, 0));
    }
}
