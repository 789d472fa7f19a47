//! The renderer of things-synth: every dimension's strength times its own low-frequency
//! pattern, plus the picture's nuisance (a lighting gradient and per-pixel noise) drawn from its
//! keyed generator.

use rand_chacha::rand_core::RngCore;

use super::keys::picture_rng;
use super::trig::cos;
use super::{DIMENSIONS, Image, SCALE, SynthConfig};

/// Strength at which a pattern is at full contrast, in 0..255 pixel units.
pub const AMPLITUDE: f64 = 40.0;
/// Largest strength: values past twice the 95th percentile draw as twice it.
pub const MAX_STRENGTH: f64 = 2.0;
/// Size of the random lighting gradient, in pixel units.
pub const LIGHTING: f64 = 10.0;
/// Half-width of the uniform per-pixel noise, in pixel units.
pub const NOISE: f64 = 8.0;

/// Tiles per side: the patterns repeat in each of the `TILES × TILES` tiles of a picture (at
/// 32 px, 8-px tiles, one per patch of the tiny models).
pub const TILES: usize = 4;

/// `cos(π·k·(t + ½)/n)` at pixel `t` of a picture `res` pixels wide, with `n` the tile's side
/// (`res / TILES`, at least 1) and `t` counted from the start of its tile: the 1-D DCT-II basis
/// on a tile, so the patterns of different frequencies are orthogonal on every tile.
pub fn wave(k: usize, t: usize, res: usize) -> f64 {
    let tile = (res / TILES).max(1);
    cos(std::f64::consts::PI * k as f64 * ((t % tile) as f64 + 0.5) / tile as f64)
}

/// The three orthonormal colour directions of the patterns: luminance, red–green, yellow–blue.
pub const COLOUR_AXES: [[f64; 3]; 3] = [
    [
        0.577_350_269_189_625_8,
        0.577_350_269_189_625_8,
        0.577_350_269_189_625_8,
    ],
    [0.707_106_781_186_547_5, -0.707_106_781_186_547_5, 0.0],
    [
        0.408_248_290_463_863,
        0.408_248_290_463_863,
        -0.816_496_580_927_726,
    ],
];

/// The `(k, l)` frequency pairs of the patterns, ordered by `k + l`, then `k`: pair `p` is
/// shared by dimensions `3p`, `3p + 1`, `3p + 2` (one per colour axis).
pub fn frequency_pairs() -> [(usize, usize); DIMENSIONS / 3] {
    let mut pairs = [(0, 0); DIMENSIONS / 3];
    let mut next = 0;
    'outer: for total in 0.. {
        for k in 0..=total {
            if next == pairs.len() {
                break 'outer;
            }
            pairs[next] = (k, total - k);
            next += 1;
        }
    }
    pairs
}

/// Dimension `d`'s strength: `clamp(value / SCALE[d], 0, MAX_STRENGTH)`.
pub fn strength(embedding: &[f64; DIMENSIONS], d: usize) -> f64 {
    (embedding[d] / SCALE[d]).clamp(0.0, MAX_STRENGTH)
}

/// Renders the picture of one concept (see the module documentation).
///
/// `embedding` is the concept's 66-d SPoSE row (values about 0..100), `concept_index` its index
/// in THINGS (0..1853), which keys the randomness together with `config.seed`.
///
/// # Panics
///
/// If `config.resolution` is 0.
pub fn render(embedding: &[f64; DIMENSIONS], concept_index: usize, config: &SynthConfig) -> Image {
    assert!(
        config.resolution > 0,
        "`SynthConfig::resolution` must be at least 1"
    );
    let res = config.resolution;
    let mut rng = picture_rng(config.seed, concept_index);
    let mut draw = || unit(rng.next_u64()) - 0.5;
    let lighting = [draw(), draw(), draw()];
    rng.set_stream(1);

    let pairs = frequency_pairs();
    let max_k = pairs.iter().map(|&(k, l)| k.max(l)).max().unwrap_or(0);
    // Every wave at every pixel position, per frequency k.
    let table: Vec<Vec<f64>> = (0..=max_k)
        .map(|k| (0..res).map(|t| wave(k, t, res)).collect())
        .collect();
    // Per pattern pair, the colour it adds at full pattern value: Σ over its three dimensions.
    let colours: Vec<Rgb> = (0..pairs.len())
        .map(|p| {
            let mut colour = [0.0; 3];
            for (axis, direction) in COLOUR_AXES.iter().enumerate() {
                let s = strength(embedding, 3 * p + axis);
                for c in 0..3 {
                    colour[c] += AMPLITUDE * s * direction[c];
                }
            }
            colour
        })
        .collect();

    let mut rgb = Vec::with_capacity(res * res * 3);
    for row in 0..res {
        for column in 0..res {
            let mut colour = [128.0; 3];
            for (p, &(k, l)) in pairs.iter().enumerate() {
                let value = table[k][column] * table[l][row];
                for c in 0..3 {
                    colour[c] += colours[p][c] * value;
                }
            }
            let (u, v) = (
                (column as f64 + 0.5) / res as f64,
                (row as f64 + 0.5) / res as f64,
            );
            let light = LIGHTING
                * (lighting[0] * (2.0 * u - 1.0) + lighting[1] * (2.0 * v - 1.0) + lighting[2]);
            let noise = (unit(rng.next_u64()) * 2.0 - 1.0) * NOISE;
            for value in colour {
                rgb.push(to_byte(value + light + noise));
            }
        }
    }
    Image {
        width: res,
        height: res,
        rgb,
    }
}

/// A colour as floats, 0..255 per channel.
pub(super) type Rgb = [f64; 3];

fn to_byte(value: f64) -> u8 {
    // NaN (impossible for finite embeddings) becomes 0, as `as` defines.
    (value + 0.5).floor().clamp(0.0, 255.0) as u8
}

/// A uniform float in [0, 1) from 53 bits.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
