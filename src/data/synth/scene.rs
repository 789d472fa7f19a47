//! The renderer of things-synth: an embedding's cues laid out as a [`Scene`] and sampled per
//! pixel (supersampled when small), with the noise stream of the picture's keyed generator.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::RngCore;

use super::keys::{mix64, picture_rng};
use super::trig::{cos, sin};
use super::{DIMENSIONS, Image, SCALE, SynthConfig, WEAK};

/// [`render`], also giving per pixel how much of it the object's body covers (0..1), which the
/// tests use to measure shapes.
pub(super) fn render_with_coverage(
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

/// A colour as floats, 0..255 per channel.
pub(super) type Rgb = [f64; 3];

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

pub(super) fn scale(a: Rgb, k: f64) -> Rgb {
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
