//! `things-synth`: the embedded synthetic image world of the `ci` profile.
//!
//! The real THINGS images are large and not redistributable, so the `ci` profile renders one
//! small picture per concept instead. Only the pixels are synthetic: each picture is drawn from
//! the concept's *real* 66-d SPoSE embedding, so the training targets and the human RDM stay the
//! real ones, and a model that learns to read the pictures learns real behavioural structure.
//!
//! # How an embedding becomes a picture
//!
//! Each dimension value `v` is first turned into a strength `s = clamp(v / q95, 0, 1)`, where
//! `q95` is the dimension's 95th percentile over the 1,806 training concepts ([`SCALE`]): most
//! concepts have most dimensions near zero, and `s = 1` means "in the top 5 %". Dimensions that
//! describe how things look drive strong cues (colour, shape, texture, size); the others drive
//! weaker cues (scene, accessories, background tint, position), so that more of the 66-d
//! structure is recoverable from pixels. "Vote" means the dimension is one term of a weighted
//! mix (colour mixes weight each palette colour by `weight × s²`, so the strongest colour wins).
//! Overlay cues (textures, accessories, scene) use `(s − 0.25) / 0.75` clamped to [0, 1]
//! instead, so that a concept's faint dimensions do not clutter its picture; colour, geometry
//! and the weak cues use `s` itself.
//!
//! | # | label | cue |
//! |---|---|---|
//! | 0 | metallic; artificial | silver colour vote (0.6); diagonal specular sheen |
//! | 1 | food-related | weak: background tint and position |
//! | 2 | animal-related | a pair of eyes at the front end of the object |
//! | 3 | textile | fine woven checker texture |
//! | 4 | plant-related | a green leaf on a stem above the object; green colour vote (0.3) |
//! | 5 | house-related; furnishing-related | box-shape vote (0.3); weak: tint and position |
//! | 6 | valuable; precious | pale-gold sparkles on the object |
//! | 7 | transportation; movement-related | two wheels under the object |
//! | 8 | body; people-related | weak: tint and position |
//! | 9 | wood-related; brown | brown colour vote; wavy wood grain |
//! | 10 | electronics; technology | dark screen panel inside the object; box vote (0.5) |
//! | 11 | colorful; playful | rainbow bands across the object |
//! | 12 | outdoors | background: sky above a green ground |
//! | 13 | circular; round | round-shape vote; less elongation |
//! | 14 | paper-related; flat | box vote (0.5); flatter; horizontal orientation vote |
//! | 15 | hobby-related; game-related; playing-related | weak: tint and position |
//! | 16 | tools-related; handheld; elongated | elongation; diagonal orientation vote |
//! | 17 | fluid-related; drink-related | blue liquid filling the lower part of the object |
//! | 18 | water-related | wavy blue water at the bottom of the background; blue vote (0.3) |
//! | 19 | oriented; many; plenty | number of copies of the object (1–4) in a row, same orientation |
//! | 20 | powdery; earth-related; waste-related | grainy speckle noise on the object |
//! | 21 | white | white colour vote |
//! | 22 | coarse-scale pattern; many things | large checker in a contrasting tone |
//! | 23 | red | red colour vote |
//! | 24 | long; thin | elongation; flatter; horizontal orientation vote |
//! | 25 | weapon-related; war-related; dangerous | pointed-shape vote (0.5); diagonal vote; weak tint |
//! | 26 | black | black colour vote |
//! | 27 | household-related | weak: tint and position |
//! | 28 | feminine | pink colour vote (0.25); weak: tint and position |
//! | 29 | body-part-related | weak: tint and position |
//! | 30 | tubular | elongation (0.6); shading across the minor axis; vertical vote |
//! | 31 | music-related; hearing-related; hobby-related; loud | weak: tint and position |
//! | 32 | grid-related; grating-related | dark grid lines on the object |
//! | 33 | repetitive; spiky | star spikes on the outline (6–10 of them) |
//! | 34 | construction-related; craftsmanship-related; housework-related | weak: tint and position |
//! | 35 | spherical; voluminous | bigger; round vote; sphere shading with a highlight; less elongation |
//! | 36 | string-related; stringy; curved | dark wavy strings across the picture |
//! | 37 | seating; standing; lying-related | weak: tint and position |
//! | 38 | flying-related; sky-related | sky-blue upper background; object moved up |
//! | 39 | bug-related; non-mammalian; disgusting | weak: tint and position |
//! | 40 | transparent; shiny; crystalline | object partly see-through; white specular spot |
//! | 41 | sand-colored | sand colour vote |
//! | 42 | green | green colour vote |
//! | 43 | bathroom-related; wetness-related | pale tile grid on the background |
//! | 44 | yellow | yellow colour vote |
//! | 45 | heat-related; fire-related; light-related | orange glow around the object; orange vote (0.3) |
//! | 46 | beams-related; mesh-related | diagonal cross-hatch mesh on the object |
//! | 47 | foot-related; walking-related | object moved down, with a ground shadow; weak tint |
//! | 48 | box-related; container | box-shape vote |
//! | 49 | stick-shaped; container | strong elongation; diagonal vote |
//! | 50 | head-related | eyes (0.6) |
//! | 51 | upright; elongated; volumous | elongation; bigger; vertical orientation vote |
//! | 52 | pointed; spiky | pointed (diamond) shape vote; star spikes (0.5) |
//! | 53 | child-related; toy-related; cute | eyes (0.4); weak: tint and position |
//! | 54 | farm-related; historical | weak: tint and position |
//! | 55 | seeing-related | weak: tint and position |
//! | 56 | medicine-related; health-related | red cross on a white disc at the object's centre |
//! | 57 | sweet; dessert-related | pink colour vote (0.25); weak: tint and position |
//! | 58 | orange | orange colour vote (1.5: it sits between red and yellow) |
//! | 59 | thin; flat; wrapping | flatter minor axis; smaller; horizontal vote |
//! | 60 | cylindrical; conical; cushioning | shading across the minor axis; round vote (0.5) |
//! | 61 | coldness-related; winter-related | icy-blue colour vote (0.4); snow dots on the background |
//! | 62 | measurement-related; numbers-related | a ruler with ticks along the bottom of the picture |
//! | 63 | fluffy; soft | soft, jittered edge without outline; round vote (0.5) |
//! | 64 | masculine | weak: tint and position |
//! | 65 | fine-grained; pattern | fine dot pattern on the object |
//!
//! "Weak: tint and position" dimensions ([`WEAK`]) each own a fixed pseudo-random direction in
//! RGB for the top and for the bottom of the background gradient and a fixed direction in the
//! plane for the object's position; the picture uses the strength-weighted sums.
//!
//! # Determinism
//!
//! The same (embedding, concept index, seed, resolution) gives the same bytes on every platform
//! and thread count: rendering is a pure function, and all arithmetic is `+ − × ÷`, `sqrt` and
//! `floor` on `f64` (which IEEE 754 defines exactly; Rust does not fuse them), with [`sin`]
//! a polynomial of our own rather than the platform's `libm`.
//!
//! Randomness (position jitter, pattern phases, per-pixel noise) comes from a
//! [`ChaCha8Rng`] whose 32-byte key is four little-endian words
//! `wₖ = mix(mix(mix(tag ⊕ k) ⊕ seed) ⊕ concept_index)`, `k = 0..3`, where `mix` is
//! SplitMix64's finaliser and `tag` the FNV-1a hash of [`SYNTH_VERSION`] (see [`rng_key`]). Stream 0 draws the picture's parameters, a fixed number in a
//! fixed order whatever the embedding; stream 1 draws one `u64` per pixel in row-major order for
//! the noise. So a different seed moves and re-noises a picture but keeps its dominant cues.
//! Changing anything here changes pictures: bump [`SYNTH_VERSION`], which callers hash into
//! their keys.

use std::collections::BTreeSet;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use super::things::DIMENSIONS;

/// Version of the rendering; part of the RNG key and meant for callers' cache keys.
pub const SYNTH_VERSION: &str = "cpbuild/things-synth/v1";

/// Per dimension, the 95th percentile of its value over the 1,806 training concepts (rounded to
/// 0.1): the value at which a dimension's cue reaches full strength.
pub const SCALE: [f64; DIMENSIONS] = [
    59.0, 76.6, 77.2, 46.0, 44.4, 34.5, 32.1, 39.0, 43.7, 32.0, 36.5, 32.6, 31.5, 33.7, 30.2, 31.3,
    31.1, 27.8, 29.2, 25.7, 25.1, 25.5, 26.4, 26.5, 22.3, 21.1, 22.6, 20.4, 20.0, 19.2, 19.9, 14.4,
    19.4, 18.7, 19.1, 18.5, 17.3, 16.5, 18.3, 16.1, 16.1, 18.6, 17.1, 15.0, 15.3, 12.9, 15.4, 13.0,
    15.5, 14.4, 12.6, 14.4, 14.9, 13.1, 14.9, 11.7, 11.9, 13.0, 10.9, 11.4, 10.6, 8.7, 8.3, 10.0,
    9.3, 5.3,
];

/// The dimensions without a visual reading of their own: they tint the background and move the
/// object (see the module documentation).
pub const WEAK: [usize; 19] = [
    1, 5, 8, 15, 25, 27, 28, 29, 31, 34, 37, 39, 47, 53, 54, 55, 57, 64, 50,
];

/// How to render: the picture's side in pixels and the seed of its noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Width and height in pixels; at least 1.
    pub resolution: usize,
    /// Seed of the per-picture randomness (jitter, pattern phases, noise).
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

    /// The picture as a PNG file: 8-bit RGB, no interlace, every row with filter 0, and the
    /// image data in uncompressed ("stored") deflate blocks. Uncompressed keeps the encoder
    /// short and its output byte-for-byte fixed; these pictures are small.
    ///
    /// # Panics
    ///
    /// If a side is 0 or does not fit PNG's 31-bit sizes, which PNG cannot represent.
    pub fn to_png(&self) -> Vec<u8> {
        assert!(
            self.width > 0 && self.height > 0,
            "a PNG needs both sides at least 1, not {}×{}",
            self.width,
            self.height
        );
        let side = |n: usize| -> [u8; 4] {
            let n = u32::try_from(n)
                .ok()
                .filter(|&n| n <= 0x7fff_ffff)
                .expect("a PNG side must fit in 31 bits");
            n.to_be_bytes()
        };
        let mut raw = Vec::with_capacity(self.height * (1 + 3 * self.width));
        for row in self.rgb.chunks_exact(3 * self.width) {
            raw.push(0); // filter type 0: none
            raw.extend_from_slice(row);
        }

        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&side(self.width));
        ihdr.extend_from_slice(&side(self.height));
        // Bit depth 8, colour type 2 (RGB), compression 0, filter 0, no interlace.
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);

        let mut png = Vec::with_capacity(raw.len() + raw.len() / 65535 * 5 + 64);
        png.extend_from_slice(&PNG_SIGNATURE);
        png_chunk(&mut png, b"IHDR", &ihdr);
        png_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
        png_chunk(&mut png, b"IEND", &[]);
        png
    }
}

/// The 8 bytes every PNG file starts with.
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Appends one PNG chunk: length, type, data, CRC-32 of type and data.
fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).expect("a PNG chunk must be under 4 GiB");
    out.extend_from_slice(&length.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream holding `data` in stored deflate blocks (at most 65,535 bytes each).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    // CMF 0x78: deflate, 32 KiB window; FLG 0x01 makes CMF·256 + FLG a multiple of 31.
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        out.push(u8::from(last)); // BFINAL, BTYPE 00 (stored)
        let length = block.len() as u16; // chunks(65535) keeps it in range
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// CRC-32 (ISO-HDLC, as PNG uses) lookup table.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 of `data`, as PNG chunks carry it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &byte in data {
        c = CRC_TABLE[((c ^ u32::from(byte)) & 0xff) as usize] ^ (c >> 8);
    }
    c ^ 0xffff_ffff
}

/// Adler-32 of `data`, as zlib streams end with it.
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    // 5,552 is the longest run whose sums cannot overflow before the modulo.
    for block in data.chunks(5552) {
        for &byte in block {
            a += u32::from(byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// Renders the picture of one concept.
///
/// `embedding` is the concept's 66-d SPoSE row (values about 0..100), `concept_index` its index
/// in THINGS (0..1853), which keys the randomness together with `config.seed`.
///
/// # Panics
///
/// If `config.resolution` is 0.
pub fn render(embedding: &[f64; DIMENSIONS], concept_index: usize, config: &SynthConfig) -> Image {
    render_with_coverage(embedding, concept_index, config).0
}

/// [`render`], also giving per pixel how much of it the object's body covers (0..1), which the
/// tests use to measure shapes.
fn render_with_coverage(
    embedding: &[f64; DIMENSIONS],
    concept_index: usize,
    config: &SynthConfig,
) -> (Image, Vec<f64>) {
    assert!(
        config.resolution > 0,
        "`SynthConfig::resolution` must be at least 1"
    );
    let res = config.resolution;
    let mut rng = picture_rng(config.seed, concept_index);
    let scene = Scene::new(embedding, &mut rng, res);
    rng.set_stream(1);

    // Small pictures are supersampled so that thin cues still show as partial coverage.
    let ss = 96usize.div_ceil(res).clamp(1, 4);
    let step = 1.0 / (ss as f64);
    let mut rgb = Vec::with_capacity(res * res * 3);
    let mut coverage = Vec::with_capacity(res * res);
    for row in 0..res {
        for column in 0..res {
            let noise = unit_quad(rng.next_u64());
            let mut sum = [0.0; 3];
            let mut covered = 0.0;
            for sy in 0..ss {
                for sx in 0..ss {
                    let x = (column as f64 + (sx as f64 + 0.5) * step) / res as f64 * 2.0 - 1.0;
                    let y = (row as f64 + (sy as f64 + 0.5) * step) / res as f64 * 2.0 - 1.0;
                    let (colour, cover) = scene.sample(x, y, &noise);
                    for c in 0..3 {
                        sum[c] += colour[c];
                    }
                    covered += cover;
                }
            }
            let samples = (ss * ss) as f64;
            for value in sum {
                rgb.push(to_byte(value / samples));
            }
            coverage.push(covered / samples);
        }
    }
    let image = Image {
        width: res,
        height: res,
        rgb,
    };
    (image, coverage)
}

/// The picture's random generator, keyed as the module documentation says.
fn picture_rng(seed: u64, concept_index: usize) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(rng_key(
        fnv1a(SYNTH_VERSION.as_bytes()),
        seed,
        concept_index as u64,
    ))
}

/// A ChaCha key from a domain `tag` and two values: four words
/// `mix(mix(mix(tag ⊕ k) ⊕ a) ⊕ b)`, little-endian. Explicit integer mixing rather than a
/// cryptographic hash: the key only has to be fixed and well spread, not secret.
pub fn rng_key(tag: u64, a: u64, b: u64) -> [u8; 32] {
    let mut key = [0u8; 32];
    for (k, word) in key.chunks_exact_mut(8).enumerate() {
        let value = mix64(mix64(mix64(tag ^ k as u64) ^ a) ^ b);
        word.copy_from_slice(&value.to_le_bytes());
    }
    key
}

/// 64-bit FNV-1a: turns the version string into the domain tag of the keys.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A deterministic subset of `size` elements of `pool` (all of it if `size` is larger), sorted:
/// the training concepts of the `ci` profile.
///
/// The pool is shuffled with Fisher–Yates driven by a [`ChaCha8Rng`] keyed by
/// `rng_key(fnv1a("cpbuild/things-synth/v1/subset"), seed, 0)`; the index for a range of `n`
/// is the high half of `next_u64() × n` (bias below 2⁻⁵⁰, and fixed).
pub fn training_subset(pool: &[usize], size: usize, seed: u64) -> Vec<usize> {
    let tag = fnv1a(format!("{SYNTH_VERSION}/subset").as_bytes());
    let mut rng = ChaCha8Rng::from_seed(rng_key(tag, seed, 0));
    let mut shuffled = pool.to_vec();
    for i in (1..shuffled.len()).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        shuffled.swap(i, j);
    }
    shuffled.truncate(size);
    shuffled.sort_unstable();
    shuffled
}

/// Checks that no training concept is one of the RSA concepts; the error lists the overlap.
pub fn assert_disjoint(train_indices: &[usize], rsa_indices: &[usize]) -> Result<(), String> {
    let rsa: BTreeSet<usize> = rsa_indices.iter().copied().collect();
    let overlap: BTreeSet<usize> = train_indices
        .iter()
        .copied()
        .filter(|index| rsa.contains(index))
        .collect();
    if overlap.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = overlap.iter().map(usize::to_string).collect();
    Err(format!(
        "{} training concept(s) are also RSA concepts, which must be held out: {}",
        overlap.len(),
        listed.join(", ")
    ))
}

/// Sine, as a fixed polynomial after exact range reduction, so that every platform gets the
/// same bits (the platform `sin` may differ in the last place). Error below 4e-6.
pub fn sin(x: f64) -> f64 {
    use std::f64::consts::{FRAC_PI_2, PI, TAU};
    let mut r = x - (x / TAU + 0.5).floor() * TAU; // in [-π, π]
    if r > FRAC_PI_2 {
        r = PI - r;
    } else if r < -FRAC_PI_2 {
        r = -PI - r;
    }
    let r2 = r * r;
    // Taylor series to r⁹ in nested form; |r| ≤ π/2.
    r * (1.0 - r2 / 6.0 * (1.0 - r2 / 20.0 * (1.0 - r2 / 42.0 * (1.0 - r2 / 72.0))))
}

/// Cosine via [`sin`].
pub fn cos(x: f64) -> f64 {
    sin(x + std::f64::consts::FRAC_PI_2)
}

/// A colour as floats, 0..255 per channel.
type Rgb = [f64; 3];

fn to_byte(value: f64) -> u8 {
    // NaN (impossible for finite embeddings) becomes 0, as `as` defines.
    (value + 0.5).floor().clamp(0.0, 255.0) as u8
}

fn clamp01(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

fn lerp(a: Rgb, b: Rgb, t: f64) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale(a: Rgb, k: f64) -> Rgb {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn luminance(c: Rgb) -> f64 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// Fractional part, in [0, 1).
fn fract(x: f64) -> f64 {
    x - x.floor()
}

/// A uniform float in [0, 1) from 53 bits.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Four uniform floats in [0, 1) from the four 16-bit quarters of `bits`.
fn unit_quad(bits: u64) -> [f64; 4] {
    let q = |k: u32| ((bits >> (16 * k)) & 0xffff) as f64 / 65536.0;
    [q(0), q(1), q(2), q(3)]
}

/// SplitMix64's finaliser: a fixed, well-mixed hash of integers.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A fixed pseudo-random number in [-1, 1) for (`salt`, `index`).
fn fixed_direction(salt: u64, index: usize) -> f64 {
    unit(mix64(mix64(salt) ^ index as u64)) * 2.0 - 1.0
}

/// The colours the colour dimensions vote for: (dimension, weight, colour).
const PALETTE: [(usize, f64, Rgb); 15] = [
    (23, 1.0, [215.0, 35.0, 35.0]),    // red
    (42, 1.0, [45.0, 165.0, 60.0]),    // green
    (44, 1.0, [245.0, 215.0, 40.0]),   // yellow
    (58, 1.5, [240.0, 130.0, 25.0]),   // orange: squeezed between red and yellow
    (21, 1.0, [245.0, 245.0, 242.0]),  // white
    (26, 1.0, [20.0, 20.0, 22.0]),     // black
    (9, 1.0, [125.0, 75.0, 35.0]),     // wood; brown
    (41, 1.0, [215.0, 190.0, 135.0]),  // sand-coloured
    (0, 0.6, [165.0, 170.0, 180.0]),   // metallic
    (4, 0.3, [70.0, 140.0, 50.0]),     // plant
    (18, 0.3, [50.0, 110.0, 200.0]),   // water
    (61, 0.4, [190.0, 225.0, 250.0]),  // cold
    (28, 0.25, [235.0, 130.0, 180.0]), // feminine
    (57, 0.25, [240.0, 170.0, 200.0]), // sweet
    (45, 0.3, [250.0, 160.0, 40.0]),   // heat; fire
];

/// The colour of an object no colour dimension speaks for, and its weight in the mix.
const NEUTRAL: (f64, Rgb) = (0.02, [140.0, 130.0, 120.0]);

/// Strength below which an overlay cue is not drawn at all.
const CUE_FLOOR: f64 = 0.25;

/// The bands of a colourful object.
const HUES: [Rgb; 6] = [
    [230.0, 40.0, 50.0],
    [250.0, 170.0, 30.0],
    [240.0, 230.0, 60.0],
    [60.0, 190.0, 80.0],
    [50.0, 120.0, 230.0],
    [160.0, 70.0, 200.0],
];

/// One copy of the object: its centre and its (rotated) ellipse-like frame.
struct Placement {
    cx: f64,
    cy: f64,
    cos: f64,
    sin: f64,
    /// Half-length along the major axis.
    a: f64,
    /// Half-length along the minor axis.
    b: f64,
    /// Half-extent of the axis-aligned bounding box.
    ex: f64,
    ey: f64,
}

impl Placement {
    /// `(pu, pv)`: the point in the copy's rotated frame, in picture units.
    fn local(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.cx, y - self.cy);
        (
            dx * self.cos + dy * self.sin,
            -dx * self.sin + dy * self.cos,
        )
    }
}

/// Everything a pixel needs, computed once per picture.
struct Scene {
    /// Overlay strengths (with the dead zone).
    s: [f64; DIMENSIONS],
    copies: Vec<Placement>,
    /// Blend weights of the round, box and diamond distance.
    w_round: f64,
    w_box: f64,
    w_point: f64,
    spike_amp: f64,
    spike_count: usize,
    body: Rgb,
    bg_top: Rgb,
    bg_bottom: Rgb,
    /// Thinnest line that still shows at this resolution, in picture units.
    line: f64,
    /// Period of the fine textures: 0.06, or 2.5 pixels where that is more, since a finer
    /// texture would average away inside a pixel.
    fine: f64,
    phases: [f64; 12],
    snow_salt: u64,
    sparkles: [(f64, f64); 3],
}

impl Scene {
    fn new(embedding: &[f64; DIMENSIONS], rng: &mut ChaCha8Rng, res: usize) -> Scene {
        // `s`: continuous strengths, for colour, geometry and the weak cues, which stay
        // readable when faint. `cue`: the same with a dead zone, for overlays (textures,
        // accessories, scene), so that only a concept's salient dimensions clutter its picture.
        let mut s = [0.0; DIMENSIONS];
        let mut cue = [0.0; DIMENSIONS];
        for d in 0..DIMENSIONS {
            s[d] = clamp01(embedding[d] / SCALE[d]);
            cue[d] = clamp01((s[d] - CUE_FLOOR) / (1.0 - CUE_FLOOR));
        }
        // A fixed number of draws in a fixed order, whatever the embedding.
        let mut draw = || unit(rng.next_u64());
        let jitter = [draw() - 0.5, draw() - 0.5, draw() - 0.5, draw() - 0.5];
        let mut phases = [0.0; 12];
        for phase in &mut phases {
            *phase = draw();
        }
        let mut sparkles = [(0.0, 0.0); 3];
        for sparkle in &mut sparkles {
            *sparkle = (draw() * 1.4 - 0.7, draw() * 1.4 - 0.7);
        }
        let snow_salt = rng.next_u64();

        // Colour: palette votes weighted by weight × s², so the strongest colour dominates.
        let mut total = NEUTRAL.0;
        let mut body = scale(NEUTRAL.1, NEUTRAL.0);
        for &(d, weight, colour) in &PALETTE {
            let w = weight * s[d] * s[d];
            total += w;
            for c in 0..3 {
                body[c] += w * colour[c];
            }
        }
        let body = scale(body, 1.0 / total);

        // Background gradient and position from the weak dimensions.
        let mut bg_top = [128.0; 3];
        let mut bg_bottom = [128.0; 3];
        let (mut px, mut py) = (0.0, 0.0);
        for &d in &WEAK {
            for c in 0..3 {
                bg_top[c] += 30.0 * s[d] * fixed_direction(0x7090 + c as u64, d);
                bg_bottom[c] += 30.0 * s[d] * fixed_direction(0xb077 + c as u64, d);
            }
            px += s[d] * fixed_direction(0x9051, d);
            py += s[d] * fixed_direction(0x9052, d);
        }
        for c in 0..3 {
            bg_top[c] = bg_top[c].clamp(40.0, 215.0);
            bg_bottom[c] = bg_bottom[c].clamp(40.0, 215.0);
        }

        // Shape.
        let w_round = 0.3 + s[13] + s[35] + 0.5 * s[63] + 0.5 * s[60];
        let w_box = s[48] + 0.5 * s[14] + 0.5 * s[10] + 0.3 * s[5];
        let w_point = s[52] + 0.5 * s[25];
        let spike_amp = 0.45 * cue[33] + 0.3 * cue[52];
        let spike_count = 6 + (4.0 * cue[33]).floor() as usize;
        let elongation = (0.8 * s[16] + s[24] + 1.2 * s[49] + 0.7 * s[51] + 0.6 * s[30]
            - 0.6 * s[13]
            - 0.6 * s[35])
            .clamp(0.0, 1.5);
        let aspect = 1.0 + 2.0 * elongation;
        let flat = 1.0 - 0.45 * s[59].max(0.7 * s[14]).max(0.5 * s[24]);
        let r0 = 0.42 + 0.2 * s[35] + 0.12 * s[51] - 0.08 * s[59] + 0.04 * jitter[2];
        let mut a = r0 * aspect.sqrt();
        let mut b = r0 / aspect.sqrt() * flat;

        // Orientation: the strongest vote, with a little seeded jitter.
        let horizontal = 0.1 + s[24] + s[59] + s[14];
        let vertical = s[51] + s[30];
        let diagonal = s[16] + s[49] + s[25];
        let base_angle = if vertical > horizontal && vertical >= diagonal {
            std::f64::consts::FRAC_PI_2
        } else if diagonal > horizontal {
            -std::f64::consts::FRAC_PI_4
        } else {
            0.0
        };
        let angle = base_angle + 0.24 * jitter[3];
        let (cosine, sine) = (cos(angle), sin(angle));

        // Copies in a row, shrunk to fit.
        let n = 1 + (3.999 * cue[19]).floor() as usize;
        let ex0 = ((a * cosine) * (a * cosine) + (b * sine) * (b * sine)).sqrt();
        let ey0 = ((a * sine) * (a * sine) + (b * cosine) * (b * cosine)).sqrt();
        let fit = 1.0f64.min(0.81 / (n as f64 * ex0)).min(0.8 / ey0);
        a *= fit;
        b *= fit;
        let (ex, ey) = (ex0 * fit, ey0 * fit);
        let half_row = n as f64 * ex * 1.1;
        let cx = (0.3 * px).clamp(-0.3, 0.3) + 0.08 * jitter[0];
        let cy = (0.3 * py).clamp(-0.3, 0.3) + 0.08 * jitter[1] - 0.25 * s[38] + 0.2 * s[47];
        let cx = if half_row < 0.97 {
            cx.clamp(-0.97 + half_row, 0.97 - half_row)
        } else {
            0.0
        };
        let cy = cy.clamp(-0.95 + ey, 0.95 - ey);
        let copies = (0..n)
            .map(|k| Placement {
                cx: cx + (2.0 * k as f64 - (n as f64 - 1.0)) * ex * 1.1,
                cy,
                cos: cosine,
                sin: sine,
                a,
                b,
                ex,
                ey,
            })
            .collect();

        Scene {
            s: cue,
            copies,
            w_round,
            w_box,
            w_point,
            spike_amp,
            spike_count,
            body,
            bg_top,
            bg_bottom,
            line: 0.012f64.max(1.2 / res as f64),
            fine: 0.06f64.max(5.0 / res as f64),
            phases,
            snow_salt,
            sparkles,
        }
    }

    /// The shape's distance-like measure at normalised frame coordinates: 1 on the outline.
    fn shape_distance(&self, u: f64, v: f64) -> f64 {
        let r = (u * u + v * v).sqrt();
        let d = (self.w_round * r
            + self.w_box * u.abs().max(v.abs())
            + self.w_point * (u.abs() + v.abs()))
            / (self.w_round + self.w_box + self.w_point);
        if self.spike_amp <= 0.0 || r == 0.0 {
            return d;
        }
        // cos(nθ) = Tₙ(cos θ): spikes without trigonometry.
        let c = u / r;
        let (mut t0, mut t1) = (1.0, c);
        for _ in 1..self.spike_count {
            let t2 = 2.0 * c * t1 - t0;
            t0 = t1;
            t1 = t2;
        }
        let peak = (1.0 + t1) * 0.5;
        let peak2 = peak * peak;
        d / (1.0 + self.spike_amp * peak2 * peak2)
    }

    /// Colour and body coverage of one sample at picture coordinates `(x, y)` in [-1, 1]².
    fn sample(&self, x: f64, y: f64, noise: &[f64; 4]) -> (Rgb, f64) {
        let s = &self.s;
        let ph = &self.phases;
        let mut colour = self.background(x, y, noise);

        let distances: Vec<f64> = self
            .copies
            .iter()
            .map(|copy| {
                let (pu, pv) = copy.local(x, y);
                self.shape_distance(pu / copy.a, pv / copy.b)
            })
            .collect();

        // Heat: a glow around the object.
        let nearest = distances.iter().copied().fold(f64::INFINITY, f64::min);
        if s[45] > 0.0 && nearest > 1.0 {
            let g = clamp01(1.0 - (nearest - 1.0) / 0.7);
            colour = lerp(colour, [255.0, 170.0, 50.0], 0.9 * s[45] * g * g);
        }
        // Walking: a shadow on the ground under each copy.
        if s[47] > 0.0 {
            for copy in &self.copies {
                let dx = (x - copy.cx) / (0.9 * copy.ex);
                let dy = (y - copy.cy - copy.ey - 0.03) / 0.06;
                if dx * dx + dy * dy < 1.0 {
                    colour = scale(colour, 1.0 - 0.5 * s[47]);
                }
            }
        }

        let mut covered: f64 = 0.0;
        for (copy, &d) in self.copies.iter().zip(&distances) {
            let soft = 0.03 + 0.35 * s[63];
            let jittered = d + (noise[1] - 0.5) * 0.5 * s[63];
            let alpha = clamp01((1.0 - jittered) / soft + 0.5);
            if alpha > 0.0 {
                let (object, opacity) = self.object_colour(copy, x, y, d, noise);
                colour = lerp(colour, object, alpha * opacity);
                covered = covered.max(alpha);
            }
            self.accessories(copy, x, y, &mut colour);
        }

        // Valuable: sparkles around the first copy.
        if s[6] > 0.0 {
            let copy = &self.copies[0];
            for &(sx, sy) in &self.sparkles {
                let dx = (x - copy.cx - sx * copy.ex).abs();
                let dy = (y - copy.cy - sy * copy.ey).abs();
                let arm = 0.08;
                let w = self.line;
                if (dx < w && dy < arm) || (dy < w && dx < arm) || dx * dx + dy * dy < 4.0 * w * w {
                    colour = lerp(colour, [255.0, 245.0, 190.0], s[6]);
                }
            }
        }
        // Stringy: three wavy strings across the picture.
        if s[36] > 0.0 {
            for k in 0..3 {
                let centre = -0.45 + 0.45 * k as f64 + 0.1 * (ph[k] - 0.5);
                let curve = centre + 0.18 * sin(3.5 * x + 6.3 * ph[3 + k]);
                if (y - curve).abs() < self.line {
                    colour = lerp(colour, [70.0, 45.0, 30.0], 0.9 * s[36]);
                }
            }
        }
        // Measurement: a ruler along the bottom.
        if s[62] > 0.0 && y > 0.8 {
            let tick = fract((x + 1.0) / 0.1) < 0.12 && (y > 0.88 || fract((x + 1.0) / 0.2) < 0.06);
            let ruler = if tick {
                [20.0, 20.0, 20.0]
            } else {
                [235.0, 215.0, 120.0]
            };
            colour = lerp(colour, ruler, 0.9 * s[62]);
        }
        (colour, covered)
    }

    /// The background at `(x, y)`: tinted gradient plus the scene cues.
    fn background(&self, x: f64, y: f64, noise: &[f64; 4]) -> Rgb {
        let s = &self.s;
        let ph = &self.phases;
        let t = (y + 1.0) * 0.5;
        let mut c = lerp(self.bg_top, self.bg_bottom, t);
        // Outdoors: sky over a green ground.
        if s[12] > 0.0 {
            if y > 0.3 {
                c = lerp(c, [100.0, 135.0, 60.0], 0.85 * s[12]);
            } else {
                c = lerp(c, [150.0, 195.0, 235.0], 0.5 * s[12]);
            }
        }
        // Flying: sky blue, strongest at the top.
        if s[38] > 0.0 {
            c = lerp(c, [110.0, 170.0, 240.0], s[38] * (1.0 - t));
        }
        // Water: waves at the bottom.
        if s[18] > 0.0 && y > 0.5 + 0.05 * sin(9.0 * x + 6.3 * ph[6]) {
            c = lerp(c, [40.0, 100.0, 190.0], 0.85 * s[18]);
        }
        // Bathroom: pale tiles.
        if s[43] > 0.0 {
            let edge = fract((x + 1.0) / 0.25) < 0.08 || fract((y + 1.0) / 0.25) < 0.08;
            let tile = if edge {
                [235.0, 240.0, 245.0]
            } else {
                [175.0, 205.0, 215.0]
            };
            c = lerp(c, tile, 0.7 * s[43]);
        }
        // Winter: snow dots on a cooler background.
        if s[61] > 0.0 {
            c = lerp(c, [200.0, 215.0, 235.0], 0.3 * s[61]);
            let cell = 0.12;
            let (ix, iy) = ((x / cell).floor(), (y / cell).floor());
            let h = mix64(self.snow_salt ^ mix64((ix as i64 as u64) ^ ((iy as i64 as u64) << 32)));
            if unit(h) < 0.35 {
                let ox = (ix + 0.25 + 0.5 * unit(mix64(h))) * cell;
                let oy = (iy + 0.25 + 0.5 * unit(mix64(h ^ 1))) * cell;
                let r = 1.5 * self.line;
                if (x - ox) * (x - ox) + (y - oy) * (y - oy) < r * r {
                    c = lerp(c, [255.0, 255.0, 255.0], s[61]);
                }
            }
        }
        // A little noise everywhere, so that seeds differ.
        let n = (noise[2] - 0.5) * 8.0;
        [c[0] + n, c[1] + n, c[2] + n]
    }

    /// The object's colour at `(x, y)` inside `copy` (distance `d`), and its opacity.
    fn object_colour(
        &self,
        copy: &Placement,
        x: f64,
        y: f64,
        d: f64,
        noise: &[f64; 4],
    ) -> (Rgb, f64) {
        let s = &self.s;
        let ph = &self.phases;
        let (pu, pv) = copy.local(x, y);
        let (u, v) = (pu / copy.a, pv / copy.b);
        let mut c = self.body;

        // Colourful: rainbow bands along the major axis.
        if s[11] > 0.0 {
            let band = ((u + 1.0) * 2.5 + 6.0 * ph[0]).floor() as i64;
            c = lerp(c, HUES[band.rem_euclid(6) as usize], 0.9 * s[11]);
        }
        // Coarse pattern: a large checker in a contrasting tone.
        if s[22] > 0.0 {
            let cells = (pu / 0.3 + ph[1]).floor() + (pv / 0.3 + ph[2]).floor();
            if (cells as i64).rem_euclid(2) == 1 {
                let other = if luminance(c) > 110.0 {
                    scale(c, 0.4)
                } else {
                    lerp(c, [255.0; 3], 0.6)
                };
                c = lerp(c, other, 0.75 * s[22]);
            }
        }
        // Wood: wavy dark grain.
        if s[9] > 0.0 {
            let grain = sin(pv * 40.0 + 1.5 * sin(pu * 7.0 + 6.3 * ph[4]));
            if grain > 0.2 {
                c = scale(c, 1.0 - 0.45 * s[9] * (grain - 0.2) / 0.8);
            }
        }
        // Textile: a fine weave.
        if s[3] > 0.0 {
            let cells = (pu / self.fine).floor() + (pv / self.fine).floor();
            if (cells as i64).rem_euclid(2) == 1 {
                c = scale(c, 1.0 - 0.35 * s[3]);
            }
        }
        // Grid: dark lines in both directions.
        if s[32] > 0.0 {
            let (fu, fv) = (fract(pu / 0.16 + ph[7]), fract(pv / 0.16 + ph[8]));
            if fu < 0.22 || fv < 0.22 {
                c = scale(c, 1.0 - 0.7 * s[32]);
            }
        }
        // Mesh: diagonal cross-hatching, in a contrasting tone.
        if s[46] > 0.0 {
            let (q1, q2) = ((pu + pv) / 0.14, (pu - pv) / 0.14);
            if fract(q1) < 0.2 || fract(q2) < 0.2 {
                let tone = if luminance(c) > 100.0 {
                    [40.0, 40.0, 45.0]
                } else {
                    [205.0, 205.0, 215.0]
                };
                c = lerp(c, tone, 0.8 * s[46]);
            }
        }
        // Fine-grained: small dots.
        if s[65] > 0.0 {
            let (fu, fv) = (fract(pu / self.fine) - 0.5, fract(pv / self.fine) - 0.5);
            if fu * fu + fv * fv < 0.1 {
                let tone = if luminance(c) > 100.0 {
                    [30.0; 3]
                } else {
                    [225.0; 3]
                };
                c = lerp(c, tone, 0.85 * s[65]);
            }
        }
        // Liquid: the lower part filled, with a wavy surface (image-aligned).
        if s[17] > 0.0 {
            let level = copy.cy - 0.05 * copy.ey + 0.04 * sin(12.0 * x + 6.3 * ph[9]);
            if y > level {
                c = lerp(c, [60.0, 130.0, 225.0], 0.7 * s[17]);
            }
        }
        // Electronics: a dark screen with a glare.
        if s[10] > 0.0 && u.abs() < 0.45 && v.abs() < 0.4 {
            let screen = if u - v > 0.45 {
                [90.0, 110.0, 140.0]
            } else {
                [25.0, 35.0, 55.0]
            };
            c = lerp(c, screen, 0.8 * s[10]);
        }
        // Medicine: a red cross on a white disc (image-aligned).
        if s[56] > 0.0 {
            let r = copy.a.min(copy.b);
            let (dx, dy) = ((x - copy.cx).abs(), (y - copy.cy).abs());
            if dx * dx + dy * dy < 0.36 * r * r {
                c = lerp(c, [245.0; 3], 0.8 * s[56]);
            }
            if (dx < 0.12 * r && dy < 0.42 * r) || (dy < 0.12 * r && dx < 0.42 * r) {
                c = lerp(c, [210.0, 30.0, 40.0], s[56]);
            }
        }

        // Shading: sphere, cylinder, metallic sheen.
        let mut shade = 1.0;
        let mut highlight: f64 = 0.0;
        if s[35] > 0.0 {
            shade *= 1.0 - 0.5 * s[35] * (u * u + v * v).min(1.0);
            let (hu, hv) = (u + 0.35, v + 0.35);
            highlight = highlight.max(0.6 * s[35] * clamp01(1.0 - (hu * hu + hv * hv) / 0.08));
        }
        let tube = s[60].max(s[30]);
        if tube > 0.0 {
            shade *= 1.0 - 0.55 * tube * (v * v).min(1.0);
            let hv = (v + 0.45) / 0.15;
            highlight = highlight.max(0.5 * tube * clamp01(1.0 - hv * hv));
        }
        if s[0] > 0.0 {
            let band = (0.7 * (u + v) + 0.2) / 0.18;
            highlight = highlight.max(0.75 * s[0] * clamp01(1.0 - band * band));
            shade *= 1.0 - 0.3 * s[0] * clamp01(0.5 * (u + v));
        }
        c = lerp(scale(c, shade), [255.0; 3], highlight);

        // Powdery: grain noise.
        let grain = (noise[0] - 0.5) * 170.0 * s[20];
        c = [c[0] + grain, c[1] + grain, c[2] + grain];

        // Outline, except for fluffy things.
        if d > 0.93 {
            c = scale(c, 1.0 - 0.45 * (1.0 - s[63]));
        }

        // Transparent: see-through, with an opaque specular spot.
        let mut opacity = 1.0 - 0.6 * s[40];
        if s[40] > 0.0 {
            let (hu, hv) = ((u + 0.3) / 0.2, (v + 0.4) / 0.2);
            let spot = s[40] * clamp01(1.0 - (hu * hu + hv * hv));
            c = lerp(c, [255.0; 3], spot);
            opacity = opacity.max(spot);
        }

        // Eyes: animals, heads, cute things.
        let eye = clamp01(1.6 * s[2].max(0.6 * s[50]).max(0.4 * s[53]) - 0.1);
        if eye > 0.0 {
            let r = 0.28 * copy.a.min(copy.b);
            for side in [-1.0, 1.0] {
                let (du, dv) = (pu - 0.5 * copy.a, pv - side * 0.35 * copy.b);
                if du * du + dv * dv < r * r {
                    let (qu, qv) = (du - 0.3 * r, dv);
                    let pupil = qu * qu + qv * qv < 0.25 * r * r;
                    let tone = if pupil { [10.0; 3] } else { [250.0; 3] };
                    c = lerp(c, tone, eye);
                    opacity = opacity.max(eye);
                }
            }
        }
        (c, opacity)
    }

    /// Things drawn next to a copy, outside its body: the leaf and the wheels.
    fn accessories(&self, copy: &Placement, x: f64, y: f64, colour: &mut Rgb) {
        let s = &self.s;
        if s[4] > 0.0 {
            let top = copy.cy - copy.ey;
            let stem = (x - copy.cx).abs() < self.line && y < top + 0.02 && y > top - 0.12;
            let (lx, ly) = ((x - copy.cx - 0.1) / 0.13, (y - top + 0.12) / 0.06);
            if stem {
                *colour = lerp(*colour, [60.0, 100.0, 40.0], s[4]);
            } else if lx * lx + ly * ly < 1.0 {
                *colour = lerp(*colour, [60.0, 160.0, 50.0], s[4]);
            }
        }
        if s[7] > 0.0 {
            let radius = 0.16 * (copy.ex + copy.ey) * 0.5 + 0.04;
            for side in [-1.0, 1.0] {
                let (dx, dy) = (x - copy.cx - side * 0.55 * copy.ex, y - copy.cy - copy.ey);
                let r2 = dx * dx + dy * dy;
                if r2 < radius * radius {
                    let hub = r2 < 0.16 * radius * radius;
                    let tone = if hub { [170.0; 3] } else { [30.0; 3] };
                    *colour = lerp(*colour, tone, s[7]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::things::{SposeTargets, read_spose_csv};
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
        let digest = (fnv1a(&image.rgb), crc32(&image.rgb));
        assert_eq!(digest, (0x1225_3ed5_06b9_8faa, 0x0bcf_781a));
    }

    fn mean_colour(image: &Image) -> Rgb {
        let mut sum = [0.0; 3];
        for pixel in image.rgb.chunks_exact(3) {
            for c in 0..3 {
                sum[c] += f64::from(pixel[c]);
            }
        }
        scale(sum, 1.0 / (image.width * image.height) as f64)
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

    #[test]
    fn different_seeds_keep_the_dominant_colour() {
        // A strongly red concept stays red under every seed.
        let data = training();
        let row = (0..data.len())
            .max_by(|&i, &j| data.targets[i][23].total_cmp(&data.targets[j][23]))
            .unwrap();
        for seed in 0..5 {
            let (image, coverage) = render_with_coverage(
                &data.targets[row],
                data.concept_index[row],
                &config(32, seed),
            );
            let m = stats(&image, &coverage).object_colour;
            assert!(
                m[0] > m[1] + 20.0 && m[0] > m[2] + 20.0,
                "seed {seed}: {m:?}"
            );
        }
    }

    fn ranks(values: &[f64]) -> Vec<f64> {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
        let mut ranks = vec![0.0; values.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start;
            while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
                end += 1;
            }
            let mean = (start + end) as f64 / 2.0;
            for &k in &order[start..=end] {
                ranks[k] = mean;
            }
            start = end + 1;
        }
        ranks
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

    fn spearman(x: &[f64], y: &[f64]) -> f64 {
        pearson(&ranks(x), &ranks(y))
    }

    /// Simple pixel statistics of one 32×32 picture.
    struct Stats {
        /// Mean colour of the object.
        object_colour: Rgb,
        /// Mean R − (G + B)/2 over the object (and likewise for the other colours).
        redness: f64,
        greenness: f64,
        yellowness: f64,
        orangeness: f64,
        /// Mean of min(R, G, B) over the object.
        whiteness: f64,
        /// Minus the mean of max(R, G, B) over the object.
        blackness: f64,
        /// Hue sectors the object's saturated pixels occupy: colour variety.
        colour_spread: f64,
        /// Ratio of the object mask's principal axes (≥ 1).
        elongation: f64,
        /// Fraction of the picture the object covers.
        area: f64,
        /// Mean absolute difference between horizontal neighbours inside the object.
        texture: f64,
    }

    fn stats(image: &Image, coverage: &[f64]) -> Stats {
        let n = image.width;
        let px = |i: usize| -> Rgb {
            let p = &image.rgb[3 * i..3 * i + 3];
            [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])]
        };
        let (mut red, mut green, mut yellow, mut orange) = (0.0, 0.0, 0.0, 0.0);
        let (mut w, mut white, mut black) = (0.0, 0.0, 0.0);
        let mut object = [0.0; 3];
        let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut hues = Vec::new();
        let (mut texture, mut tw) = (0.0, 0.0f64);
        for i in 0..n * n {
            let c = px(i);
            let k = coverage[i];
            for ch in 0..3 {
                object[ch] += k * c[ch];
            }
            red += k * (c[0] - (c[1] + c[2]) / 2.0);
            green += k * (c[1] - (c[0] + c[2]) / 2.0);
            yellow += k * (c[0].min(c[1]) - c[2]);
            orange += k * (c[0] - c[2] - (c[1] - (c[0] + c[2]) / 2.0).abs());
            w += k;
            white += k * c[0].min(c[1]).min(c[2]);
            black -= k * c[0].max(c[1]).max(c[2]);
            let (x, y) = ((i % n) as f64, (i / n) as f64);
            sx += k * x;
            sy += k * y;
            sxx += k * x * x;
            syy += k * y * y;
            sxy += k * x * y;
            if k > 0.9 {
                hues.push(c);
                if i % n + 1 < n && coverage[i + 1] > 0.9 {
                    let d = px(i + 1);
                    texture += (c[0] - d[0]).abs() + (c[1] - d[1]).abs() + (c[2] - d[2]).abs();
                    tw += 1.0;
                }
            }
        }
        let pixels = (n * n) as f64;
        let w = w.max(1e-9);
        let (mx, my) = (sx / w, sy / w);
        let (vx, vy, cxy) = (sxx / w - mx * mx, syy / w - my * my, sxy / w - mx * my);
        let trace = vx + vy;
        let root = ((vx - vy) * (vx - vy) / 4.0 + cxy * cxy).sqrt();
        let (big, small) = (trace / 2.0 + root, (trace / 2.0 - root).max(1e-9));
        // Colour variety: how many of the six hue sectors (the orderings of R, G, B) hold at
        // least 4 % of the object's saturated pixels.
        let mut sectors = [0usize; 6];
        for c in &hues {
            if c[0].max(c[1]).max(c[2]) - c[0].min(c[1]).min(c[2]) > 50.0 {
                let sector = match (c[0] >= c[1], c[1] >= c[2], c[0] >= c[2]) {
                    (true, true, _) => 0,
                    (false, true, true) => 1,
                    (false, true, false) => 2,
                    (false, false, _) => 3,
                    (true, false, false) => 4,
                    (true, false, true) => 5,
                };
                sectors[sector] += 1;
            }
        }
        let spread = sectors
            .iter()
            .filter(|&&count| count as f64 >= 0.04 * hues.len() as f64 && count > 0)
            .count() as f64;
        Stats {
            object_colour: scale(object, 1.0 / w),
            redness: red / w,
            greenness: green / w,
            yellowness: yellow / w,
            orangeness: orange / w,
            whiteness: white / w,
            blackness: black / w,
            colour_spread: spread,
            elongation: (big / small).sqrt(),
            area: w / pixels,
            texture: texture / tw.max(1.0),
        }
    }

    type Check = (&'static str, usize, fn(&Stats) -> f64, f64);

    #[test]
    fn visual_dimensions_are_learnable_from_pixels() {
        let data = training();
        let all: Vec<Stats> = data
            .targets
            .iter()
            .zip(&data.concept_index)
            .map(|(embedding, &index)| {
                let (image, coverage) = render_with_coverage(embedding, index, &config(32, 0));
                stats(&image, &coverage)
            })
            .collect();
        let column = |d: usize| -> Vec<f64> { data.targets.iter().map(|t| t[d]).collect() };
        // (name, dimension, statistic, lowest acceptable Spearman correlation). The measured
        // values (0.29–0.52, printed with `--nocapture`) sit above 0.25 with a margin.
        let checks: [Check; 13] = [
            ("red: mean redness", 23, |s| s.redness, 0.25),
            ("green: mean greenness", 42, |s| s.greenness, 0.25),
            ("yellow: mean yellowness", 44, |s| s.yellowness, 0.25),
            ("orange: mean orangeness", 58, |s| s.orangeness, 0.25),
            ("white: object whiteness", 21, |s| s.whiteness, 0.25),
            ("black: object blackness", 26, |s| s.blackness, 0.25),
            ("colorful: colour spread", 11, |s| s.colour_spread, 0.25),
            ("long; thin: elongation", 24, |s| s.elongation, 0.25),
            ("tools; elongated: elongation", 16, |s| s.elongation, 0.25),
            ("stick-shaped: elongation", 49, |s| s.elongation, 0.25),
            ("circular; round: -elongation", 13, |s| -s.elongation, 0.25),
            ("spherical; voluminous: area", 35, |s| s.area, 0.25),
            // A fine texture barely survives 32×32 (its period is clamped to 2.5 pixels) and
            // shares the statistic with every other texture: only weakly positive here.
            ("fine-grained; pattern: texture", 65, |s| s.texture, 0.1),
        ];
        let mut failures = Vec::new();
        for (name, d, statistic, threshold) in checks {
            let values: Vec<f64> = all.iter().map(statistic).collect();
            let rho = spearman(&values, &column(d));
            let r = pearson(&values, &column(d));
            println!("dimension {d:2} {name:32} spearman {rho:+.3} pearson {r:+.3}");
            if rho <= threshold {
                failures.push(format!("{name}: spearman {rho:.3} ≤ {threshold}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
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
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(crc32(b""), 0);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(b""), 1);
        // Long enough to need the modulo inside the loop.
        let long = vec![0xffu8; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &byte in &long {
            a = (a + u64::from(byte)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(u64::from(adler32(&long)), (b << 16) | a);
    }

    /// A decoder for exactly what [`Image::to_png`] writes, checking every field on the way.
    fn decode_png(png: &[u8]) -> Image {
        assert_eq!(png[..8], PNG_SIGNATURE);
        let mut at = 8;
        let mut chunks = Vec::new();
        while at < png.len() {
            let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = png[at + 4..at + 8].try_into().unwrap();
            let data = &png[at + 8..at + 8 + length];
            let crc =
                u32::from_be_bytes(png[at + 8 + length..at + 12 + length].try_into().unwrap());
            assert_eq!(crc, crc32(&png[at + 4..at + 8 + length]), "crc of {kind:?}");
            chunks.push((kind, data));
            at += 12 + length;
        }
        assert_eq!(at, png.len());
        let kinds: Vec<&[u8; 4]> = chunks.iter().map(|(kind, _)| kind).collect();
        assert_eq!(kinds, [b"IHDR", b"IDAT", b"IEND"]);
        let ihdr = chunks[0].1;
        assert_eq!(ihdr.len(), 13);
        let width = u32::from_be_bytes(ihdr[0..4].try_into().unwrap()) as usize;
        let height = u32::from_be_bytes(ihdr[4..8].try_into().unwrap()) as usize;
        assert_eq!(ihdr[8..], [8, 2, 0, 0, 0]);
        assert!(chunks[2].1.is_empty());

        let zlib = chunks[1].1;
        assert_eq!((u16::from(zlib[0]) << 8 | u16::from(zlib[1])) % 31, 0);
        assert_eq!(zlib[0] & 0x0f, 8, "deflate");
        let mut raw = Vec::new();
        let mut at = 2;
        loop {
            let header = zlib[at];
            assert_eq!(header & 0b110, 0, "stored block");
            let length = u16::from_le_bytes([zlib[at + 1], zlib[at + 2]]);
            let inverse = u16::from_le_bytes([zlib[at + 3], zlib[at + 4]]);
            assert_eq!(length, !inverse);
            raw.extend_from_slice(&zlib[at + 5..at + 5 + length as usize]);
            at += 5 + length as usize;
            if header & 1 == 1 {
                break;
            }
        }
        assert_eq!(zlib.len(), at + 4);
        assert_eq!(zlib[at..], adler32(&raw).to_be_bytes());

        assert_eq!(raw.len(), height * (1 + 3 * width));
        let mut rgb = Vec::new();
        for row in raw.chunks_exact(1 + 3 * width) {
            assert_eq!(row[0], 0, "filter type");
            rgb.extend_from_slice(&row[1..]);
        }
        Image { width, height, rgb }
    }

    #[test]
    fn png_decodes_back() {
        let data = training();
        // 224×224 needs three stored blocks; 1×1 and 32×32 need one.
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
