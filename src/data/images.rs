//! The THINGS image folder of the paper profile: JPEG/PNG files in, normalised `f32` pixels out.
//!
//! The images are the user's to supply (THINGS database, osf.io/jum2f, the `Things1854/` folder
//! of the original code): one flat folder, default `data/things/images/`, holding the files named
//! by the SPoSE CSVs' `image_name` column. That column, not `<concept>_01b.jpg`, is the source of
//! the names, because 191 of the 1,854 differ (`camera1_01b.jpg`, `dice_01s.jpg`, …).
//!
//! Preprocessing follows `docs/protocol.md` ("Data") and the original torchvision pipeline
//! (`Resize((224, 224))`, `ToTensor()`, `Normalize(mean, std)` on a PIL image):
//! 1. decode and convert to 8-bit RGB (greyscale is replicated, alpha dropped; EXIF orientation is
//!    *not* applied, as PIL's `Image.open(…).convert("RGB")` does not apply it either);
//! 2. resize to `resolution × resolution` with no crop, so the aspect ratio is not kept;
//! 3. divide by 255 to get [0, 1];
//! 4. subtract the per-channel mean and divide by the per-channel std, in `f32`, as
//!    torchvision's `Normalize` does (`tensor.sub_(mean).div_(std)`).
//!
//! The output is channel-major: one image is `[3, resolution, resolution]`, a batch
//! `[count, 3, resolution, resolution]`, row-major within each channel.
//!
//! ## The resize filter
//!
//! [`resize_bilinear`] is a re-implementation of Pillow's `Image.resize(size, BILINEAR)`, the
//! filter torchvision's `Resize` uses on PIL images: a triangle kernel whose support widens by the
//! downscale factor (Pillow's built-in antialiasing), separable, the horizontal pass first, each
//! pass rounded to `u8` with Pillow's 22-bit fixed-point weights (`ImagingResampleHorizontal_8bpc`
//! and `ImagingResampleVertical_8bpc` in `libImaging/Resample.c`). It follows that code step by
//! step, so for the same decoded pixels the result should be identical to Pillow's. Where cpbuild
//! and the original can still differ:
//! - JPEG decoding: `zune-jpeg` (through the `image` crate) and Pillow's libjpeg-turbo use
//!   different IDCT and chroma-upsampling code, so a few pixels may differ by about 1/255 before
//!   resizing; this is the usual, small source of disagreement;
//! - torchvision's *tensor* resize (`antialias=True` on a `Tensor`, not a PIL image) computes in
//!   floating point without rounding between passes, and so differs from Pillow (and from this
//!   function) by up to about 1/255 per pixel;
//! - 16-bit PNGs are reduced to 8 bits by the `image` crate's rounding, which may differ from
//!   Pillow's conversion by one level (THINGS images are 8-bit JPEGs, so this does not arise).
//!
//! Loading is deterministic: each image is decoded and resized on its own, so the bytes of the
//! result do not depend on the number of threads [`ThingsImages::load_all`] is given.

use std::fmt;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageReader, RgbImage};

/// Image side length of the paper (CLIP ViT-L/14 and ViT-B/16 both take 224×224).
pub const PAPER_RESOLUTION: u32 = 224;

/// Default THINGS image folder of the paper profile, relative to the project root.
pub const DEFAULT_IMAGES_DIR: &str = "data/things/images";

/// How many missing file names an error lists before it only counts the rest.
const MISSING_LISTED: usize = 20;

/// Where THINGS images come from and how the folder must look; every error about the folder
/// ends with it so that the user knows what to fetch and where to put it.
pub(crate) const THINGS_IMAGES_SOURCE: &str = "the THINGS images come from the THINGS database \
     (osf.io/jum2f, the `Things1854/` folder): put them in one flat folder, named exactly as the \
     SPoSE csv's `image_name` column (default `data/things/images/`), or point the profile's \
     images path at the folder that holds them";

/// Per-channel mean of the THINGS images, as `docs/protocol.md` gives it (`f64`, so the literal
/// is kept exactly; the pipeline rounds it to `f32` as torchvision's `Normalize` does).
pub const THINGS_MEAN: [f64; 3] = [0.52997664, 0.48070561, 0.41943838];

/// Per-channel standard deviation of the THINGS images, as `docs/protocol.md` gives it.
pub const THINGS_STD: [f64; 3] = [0.27608301, 0.26593025, 0.28238822];

/// Per-channel normalisation of `[0, 1]` pixels: `(pixel - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalisation {
    /// Mean of the red, green and blue channels.
    pub mean: [f32; 3],
    /// Standard deviation of the red, green and blue channels.
    pub std: [f32; 3],
}

impl Normalisation {
    /// The statistics of the THINGS images, which the paper uses for both CLIP-HBA and the
    /// ViT baseline (`docs/protocol.md`, "Data").
    pub const THINGS: Self = Self {
        mean: [
            THINGS_MEAN[0] as f32,
            THINGS_MEAN[1] as f32,
            THINGS_MEAN[2] as f32,
        ],
        std: [
            THINGS_STD[0] as f32,
            THINGS_STD[1] as f32,
            THINGS_STD[2] as f32,
        ],
    };

    /// torchvision's usual ImageNet statistics, for runs that want them instead; the paper does
    /// not use these.
    pub const IMAGENET: Self = Self {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };

    /// The normalised value of an 8-bit `value` of `channel`, computed as torchvision does:
    /// `value / 255` in `f32`, then minus the mean, then divided by the std.
    pub fn apply(&self, channel: usize, value: u8) -> f32 {
        (f32::from(value) / 255.0 - self.mean[channel]) / self.std[channel]
    }
}

/// How an image file becomes a tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preprocessing {
    /// Side length of the square output; the paper uses [`PAPER_RESOLUTION`].
    pub resolution: u32,
    /// Per-channel normalisation after scaling to `[0, 1]`.
    pub normalisation: Normalisation,
}

impl Preprocessing {
    /// The paper's preprocessing: 224×224, THINGS statistics.
    pub const PAPER: Self = Self {
        resolution: PAPER_RESOLUTION,
        normalisation: Normalisation::THINGS,
    };

    /// Number of `f32` values of one image: `3 × resolution × resolution`.
    pub fn values_per_image(&self) -> usize {
        let side = self.resolution as usize;
        3 * side * side
    }
}

impl Default for Preprocessing {
    fn default() -> Self {
        Self::PAPER
    }
}

/// Why images could not be loaded.
#[derive(Debug)]
pub enum ImagesError {
    /// The image folder does not exist or is not a folder.
    FolderMissing { folder: PathBuf },
    /// Some of the requested images are not in the folder; `missing` holds every one of them.
    MissingFiles {
        folder: PathBuf,
        missing: Vec<String>,
        requested: usize,
    },
    /// A file exists but could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file could not be decoded as an image; `reason` is the decoder's message.
    Decode { path: PathBuf, reason: String },
    /// The requested output resolution is zero.
    ZeroResolution,
}

impl fmt::Display for ImagesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FolderMissing { folder } => write!(
                f,
                "the image folder `{}` does not exist; {THINGS_IMAGES_SOURCE}",
                folder.display()
            ),
            Self::MissingFiles {
                folder,
                missing,
                requested,
            } => {
                writeln!(
                    f,
                    "{} of {requested} images are missing from `{}`:",
                    missing.len(),
                    folder.display()
                )?;
                write_missing_list(f, missing)?;
                write!(f, "{THINGS_IMAGES_SOURCE}")
            }
            Self::Read { path, source } => {
                write!(f, "cannot read image `{}`: {source}", path.display())
            }
            // The decoder's message may end in a newline; the error goes on after it.
            Self::Decode { path, reason } => write!(
                f,
                "cannot decode image `{}` (is it corrupt or not an image?): {}",
                path.display(),
                reason.trim_end()
            ),
            Self::ZeroResolution => write!(f, "image resolution must be at least 1, found 0"),
        }
    }
}

impl std::error::Error for ImagesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Writes the first [`MISSING_LISTED`] names, one per indented line, then a count of the rest.
pub(crate) fn write_missing_list(f: &mut fmt::Formatter<'_>, missing: &[String]) -> fmt::Result {
    for name in missing.iter().take(MISSING_LISTED) {
        writeln!(f, "    `{name}`")?;
    }
    if missing.len() > MISSING_LISTED {
        writeln!(f, "    … and {} more", missing.len() - MISSING_LISTED)?;
    }
    Ok(())
}

/// The names among `names` that are not files in `folder`, in the order given.
pub fn missing_images(folder: &Path, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|name| !folder.join(name).is_file())
        .cloned()
        .collect()
}

/// A checked THINGS image folder: every requested file exists. Pixels are read on demand.
#[derive(Debug, Clone)]
pub struct ThingsImages {
    folder: PathBuf,
    names: Vec<String>,
}

/// Normalised pixels of several images.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBatch {
    /// Number of images.
    pub count: usize,
    /// Side length of each image.
    pub resolution: u32,
    /// `[count, 3, resolution, resolution]`, row-major.
    pub pixels: Vec<f32>,
}

impl ImageBatch {
    /// `[count, 3, resolution, resolution]`.
    pub fn shape(&self) -> [usize; 4] {
        let side = self.resolution as usize;
        [self.count, 3, side, side]
    }

    /// The `[3, resolution, resolution]` pixels of image `index`.
    pub fn image(&self, index: usize) -> &[f32] {
        let size = 3 * (self.resolution as usize).pow(2);
        &self.pixels[index * size..(index + 1) * size]
    }
}

impl ThingsImages {
    /// Checks that `folder` holds a file for each of `names` (the CSV's `image_name` column, in
    /// the order the images are wanted). Every missing file is reported in one error, so that a
    /// user copying the folder learns everything that is wrong at once.
    pub fn open(folder: impl Into<PathBuf>, names: Vec<String>) -> Result<Self, ImagesError> {
        let folder = folder.into();
        if !folder.is_dir() {
            return Err(ImagesError::FolderMissing { folder });
        }
        let missing = missing_images(&folder, &names);
        if !missing.is_empty() {
            return Err(ImagesError::MissingFiles {
                folder,
                missing,
                requested: names.len(),
            });
        }
        Ok(Self { folder, names })
    }

    /// The folder the images are read from.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The image names, in load order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Path of image `index`.
    pub fn path(&self, index: usize) -> PathBuf {
        self.folder.join(&self.names[index])
    }

    /// Image `index` as `[3, resolution, resolution]` normalised pixels.
    pub fn load(
        &self,
        index: usize,
        preprocessing: &Preprocessing,
    ) -> Result<Vec<f32>, ImagesError> {
        load_image(&self.path(index), preprocessing)
    }

    /// Every image, in name order, as `[count, 3, resolution, resolution]`.
    ///
    /// `threads` images are decoded at a time (at least one). Each thread fills its own
    /// contiguous run of images, so the result is the same for every thread count; when several
    /// images fail, the error of the first failing image in name order is returned, also
    /// whatever the thread count.
    pub fn load_all(
        &self,
        preprocessing: &Preprocessing,
        threads: usize,
    ) -> Result<ImageBatch, ImagesError> {
        if preprocessing.resolution == 0 {
            return Err(ImagesError::ZeroResolution);
        }
        let size = preprocessing.values_per_image();
        let count = self.names.len();
        let mut pixels = vec![0.0f32; count * size];
        let threads = threads.clamp(1, count.max(1));
        let per_thread = count.div_ceil(threads).max(1);
        let first_error = std::thread::scope(|scope| {
            let workers: Vec<_> = pixels
                .chunks_mut(per_thread * size)
                .enumerate()
                .map(|(chunk, out)| {
                    scope.spawn(move || -> Result<(), ImagesError> {
                        for (offset, image_out) in out.chunks_mut(size).enumerate() {
                            let path = self.path(chunk * per_thread + offset);
                            let rgb = decode_rgb(&path)?;
                            write_normalised(&rgb, preprocessing, image_out);
                        }
                        Ok(())
                    })
                })
                .collect();
            // Joined in chunk order, so the first error found is the first in name order.
            let mut first_error = None;
            for worker in workers {
                let result = worker.join().expect("image loading thread panicked");
                if first_error.is_none() {
                    first_error = result.err();
                }
            }
            first_error
        });
        match first_error {
            Some(error) => Err(error),
            None => Ok(ImageBatch {
                count,
                resolution: preprocessing.resolution,
                pixels,
            }),
        }
    }
}

/// Reads and decodes the image at `path` (format from its contents, as Pillow does, not from
/// its extension) and converts it to 8-bit RGB.
pub fn decode_rgb(path: &Path) -> Result<RgbImage, ImagesError> {
    let bytes = fs::read(path).map_err(|source| ImagesError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let decode_error = |reason: String| ImagesError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| decode_error(error.to_string()))?;
    if reader.format().is_none() {
        return Err(decode_error(
            "unrecognised format (expected jpeg or png)".to_string(),
        ));
    }
    let image = reader
        .decode()
        .map_err(|error| decode_error(error.to_string()))?;
    if image.width() == 0 || image.height() == 0 {
        return Err(decode_error(format!(
            "image is {}×{}",
            image.width(),
            image.height()
        )));
    }
    Ok(image.to_rgb8())
}

/// Decodes, resizes and normalises one image file into `[3, resolution, resolution]`.
pub fn load_image(path: &Path, preprocessing: &Preprocessing) -> Result<Vec<f32>, ImagesError> {
    if preprocessing.resolution == 0 {
        return Err(ImagesError::ZeroResolution);
    }
    let rgb = decode_rgb(path)?;
    let mut out = vec![0.0f32; preprocessing.values_per_image()];
    write_normalised(&rgb, preprocessing, &mut out);
    Ok(out)
}

/// Resizes `rgb` to the preprocessing's square resolution and writes its normalised pixels,
/// channel-major, into `out` (`3 × resolution²` values).
fn write_normalised(rgb: &RgbImage, preprocessing: &Preprocessing, out: &mut [f32]) {
    let side = preprocessing.resolution;
    let resized = resize_bilinear(rgb, side, side);
    let plane = (side as usize).pow(2);
    for (pixel_index, pixel) in resized.pixels().enumerate() {
        for channel in 0..3 {
            out[channel * plane + pixel_index] =
                preprocessing.normalisation.apply(channel, pixel.0[channel]);
        }
    }
}

/// Bits of Pillow's fixed-point resampling weights (`PRECISION_BITS = 32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// The resampling weights of one axis: for each output index, the first input index, how many
/// inputs it reads, and their fixed-point weights (`kernel_size` slots per output).
struct AxisWeights {
    bounds: Vec<(usize, usize)>,
    weights: Vec<i64>,
    kernel_size: usize,
}

/// Pillow's `bilinear_filter`: the triangle kernel, support 1.
fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

/// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for the whole input range
/// (no box). The casts truncate toward zero exactly as C's `(int)` does.
fn axis_weights(in_size: usize, out_size: usize) -> AxisWeights {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // the triangle's support (1) times the scale
    let kernel_size = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i64; out_size * kernel_size];
    let mut real = vec![0.0f64; kernel_size];
    for out_index in 0..out_size {
        let center = (out_index as f64 + 0.5) * scale;
        let inverse = 1.0 / filter_scale;
        let min = ((center - support + 0.5) as i64).max(0);
        let max = ((center + support + 0.5) as i64).min(in_size as i64);
        let count = (max - min).max(0) as usize;
        let mut total = 0.0;
        for (x, weight) in real.iter_mut().enumerate().take(count) {
            *weight = triangle(((x as i64 + min) as f64 - center + 0.5) * inverse);
            total += *weight;
        }
        let row = &mut weights[out_index * kernel_size..(out_index + 1) * kernel_size];
        for (slot, weight) in row.iter_mut().zip(&real).take(count) {
            let normalised = if total != 0.0 {
                weight / total
            } else {
                *weight
            };
            let fixed = normalised * f64::from(1u32 << PRECISION_BITS);
            *slot = if fixed < 0.0 {
                (fixed - 0.5) as i64
            } else {
                (fixed + 0.5) as i64
            };
        }
        bounds.push((min as usize, count));
    }
    AxisWeights {
        bounds,
        weights,
        kernel_size,
    }
}

/// Pillow's `clip8`: round the fixed-point sum (already offset by one half) down to `u8`.
fn clip8(sum: i64) -> u8 {
    if sum >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if sum <= 0 {
        0
    } else {
        (sum >> PRECISION_BITS) as u8
    }
}

/// Resizes `image` to `width × height` as Pillow's `Image.resize((width, height), BILINEAR)`
/// does (see the module doc): horizontal pass, then vertical, each rounded to `u8`. A pass whose
/// size does not change is skipped, as in Pillow (it would be the identity anyway).
pub fn resize_bilinear(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (in_width, in_height) = image.dimensions();
    let mut current = image.clone();
    if width != in_width {
        let axis = axis_weights(in_width as usize, width as usize);
        current = RgbImage::from_fn(width, in_height, |x, y| {
            let (min, count) = axis.bounds[x as usize];
            let weights = &axis.weights[x as usize * axis.kernel_size..];
            let mut sums = [1i64 << (PRECISION_BITS - 1); 3];
            for (offset, weight) in weights.iter().enumerate().take(count) {
                let pixel = image.get_pixel((min + offset) as u32, y).0;
                for channel in 0..3 {
                    sums[channel] += i64::from(pixel[channel]) * weight;
                }
            }
            image::Rgb(sums.map(clip8))
        });
    }
    if height != in_height {
        let axis = axis_weights(in_height as usize, height as usize);
        let source = current;
        current = RgbImage::from_fn(width, height, |x, y| {
            let (min, count) = axis.bounds[y as usize];
            let weights = &axis.weights[y as usize * axis.kernel_size..];
            let mut sums = [1i64 << (PRECISION_BITS - 1); 3];
            for (offset, weight) in weights.iter().enumerate().take(count) {
                let pixel = source.get_pixel(x, (min + offset) as u32).0;
                for channel in 0..3 {
                    sums[channel] += i64::from(pixel[channel]) * weight;
                }
            }
            image::Rgb(sums.map(clip8))
        });
    }
    current
}

/// Encodes 8-bit RGB pixels (row-major, `width × height × 3` bytes) as a PNG with fixed
/// settings, so the bytes depend on the pixels only: the figures' PNGs and the things-synth
/// previews.
pub fn encode_rgb_png(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    encoder.set_filter(png::Filter::Adaptive);
    let mut writer = encoder.write_header().map_err(|error| error.to_string())?;
    writer
        .write_image_data(pixels)
        .map_err(|error| error.to_string())?;
    writer.finish().map_err(|error| error.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb};

    /// Writes `image` to `folder/name` in `format`.
    fn write(folder: &Path, name: &str, image: &RgbImage, format: ImageFormat) {
        image.save_with_format(folder.join(name), format).unwrap();
    }

    fn solid(width: u32, height: u32, colour: [u8; 3]) -> RgbImage {
        RgbImage::from_pixel(width, height, Rgb(colour))
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    fn small(resolution: u32) -> Preprocessing {
        Preprocessing {
            resolution,
            normalisation: Normalisation::THINGS,
        }
    }

    #[test]
    fn the_paper_preprocessing_matches_paper_md() {
        assert_eq!(Preprocessing::default().resolution, 224);
        assert_eq!(THINGS_MEAN, [0.52997664, 0.48070561, 0.41943838]);
        assert_eq!(THINGS_STD, [0.27608301, 0.26593025, 0.28238822]);
        for channel in 0..3 {
            assert_eq!(
                Normalisation::THINGS.mean[channel],
                THINGS_MEAN[channel] as f32
            );
            assert_eq!(
                Normalisation::THINGS.std[channel],
                THINGS_STD[channel] as f32
            );
        }
    }

    #[test]
    fn a_solid_colour_gives_its_normalised_value_everywhere() {
        let folder = tempfile::tempdir().unwrap();
        let colour = [200, 100, 30];
        // Not square and not the target size, so both resize passes run.
        write(
            folder.path(),
            "a.png",
            &solid(37, 23, colour),
            ImageFormat::Png,
        );
        let images = ThingsImages::open(folder.path(), names(&["a.png"])).unwrap();
        let pixels = images.load(0, &small(16)).unwrap();
        assert_eq!(pixels.len(), 3 * 16 * 16);
        // Written out again rather than taken from the constants, to catch a typo in them.
        let mean = [0.52997664f64, 0.48070561, 0.41943838].map(|value| value as f32);
        let std = [0.27608301f64, 0.26593025, 0.28238822].map(|value| value as f32);
        for channel in 0..3 {
            let expected = (f32::from(colour[channel]) / 255.0 - mean[channel]) / std[channel];
            for &value in &pixels[channel * 256..(channel + 1) * 256] {
                assert_eq!(value, expected, "channel {channel}");
            }
        }
        // Hand-checked: (200 / 255 - 0.52997664) / 0.27608301 = 0.92123…
        assert!((pixels[0] - 0.921_23).abs() < 1e-4, "{}", pixels[0]);
    }

    #[test]
    fn a_jpeg_decodes_to_nearly_its_colour() {
        let folder = tempfile::tempdir().unwrap();
        let colour = [40, 160, 220];
        write(
            folder.path(),
            "b_01b.jpg",
            &solid(30, 30, colour),
            ImageFormat::Jpeg,
        );
        let images = ThingsImages::open(folder.path(), names(&["b_01b.jpg"])).unwrap();
        let pixels = images.load(0, &small(8)).unwrap();
        for channel in 0..3 {
            let expected = Normalisation::THINGS.apply(channel, colour[channel]);
            let step = 1.0 / (255.0 * Normalisation::THINGS.std[channel]);
            for &value in &pixels[channel * 64..(channel + 1) * 64] {
                // JPEG is lossy: allow a couple of 8-bit levels.
                assert!(
                    (value - expected).abs() <= 3.0 * step,
                    "{value} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn the_resize_downscales_as_pillow_bilinear() {
        // Pillow's weights for 4 → 2 (scale 2, support 2): output 0 reads inputs 0..3 with
        // triangle weights 0.75, 0.75, 0.25 (÷ 1.75); output 1 reads 1..4 with 0.25, 0.75, 0.75.
        // [0, 100, 200, 250] → [500 / 7, 362.5 / 1.75] = [71.4, 207.1] → [71, 207].
        let mut image = RgbImage::new(4, 1);
        for (x, value) in [0u8, 100, 200, 250].into_iter().enumerate() {
            image.put_pixel(x as u32, 0, Rgb([value, 255 - value, value / 2]));
        }
        let resized = resize_bilinear(&image, 2, 1);
        assert_eq!(resized.get_pixel(0, 0).0[0], 71);
        assert_eq!(resized.get_pixel(1, 0).0[0], 207);
        assert_eq!(resized.get_pixel(0, 0).0[1], 255 - 71);
        assert_eq!(resized.get_pixel(1, 0).0[1], 255 - 207);
    }

    #[test]
    fn the_resize_upscales_as_pillow_bilinear() {
        // 2 → 4 (scale 0.5, support 1): outputs are a, 0.75a + 0.25b, 0.25a + 0.75b, b.
        let mut image = RgbImage::new(1, 2);
        image.put_pixel(0, 0, Rgb([0, 0, 0]));
        image.put_pixel(0, 1, Rgb([200, 100, 4]));
        let resized = resize_bilinear(&image, 1, 4);
        let column: Vec<[u8; 3]> = (0..4).map(|y| resized.get_pixel(0, y).0).collect();
        assert_eq!(
            column,
            vec![[0, 0, 0], [50, 25, 1], [150, 75, 3], [200, 100, 4]]
        );
    }

    #[test]
    fn a_non_square_image_is_squashed_not_cropped() {
        // Three vertical stripes, red | green | blue, 4 pixels wide each, 4 tall. A crop to the
        // centre square would lose the red and blue stripes; resizing keeps all three.
        let image = RgbImage::from_fn(12, 4, |x, _| match x / 4 {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        });
        let resized = resize_bilinear(&image, 6, 6);
        assert_eq!(resized.dimensions(), (6, 6));
        for y in 0..6 {
            assert_eq!(resized.get_pixel(0, y).0, [255, 0, 0]);
            assert_eq!(resized.get_pixel(5, y).0, [0, 0, 255]);
            // Rows are equal: the vertical stretch of a constant column is constant.
            assert_eq!(resized.get_pixel(2, y), resized.get_pixel(2, 0));
        }
        // And through the loader: a [3, 6, 6] tensor whose left column is red.
        let folder = tempfile::tempdir().unwrap();
        write(folder.path(), "stripes.png", &image, ImageFormat::Png);
        let pixels = load_image(&folder.path().join("stripes.png"), &small(6)).unwrap();
        assert_eq!(pixels.len(), 3 * 36);
        assert_eq!(pixels[0], Normalisation::THINGS.apply(0, 255));
        assert_eq!(pixels[36], Normalisation::THINGS.apply(1, 0));
        assert_eq!(pixels[72 + 5], Normalisation::THINGS.apply(2, 255));
    }

    #[test]
    fn load_all_is_channel_major_and_independent_of_thread_count() {
        let folder = tempfile::tempdir().unwrap();
        let mut list = Vec::new();
        for index in 0..5u32 {
            let name = format!("concept{index}_01b.jpg");
            let image = RgbImage::from_fn(20 + index, 17, |x, y| {
                Rgb([(x * 10) as u8, (y * 12) as u8, (index * 40) as u8])
            });
            write(folder.path(), &name, &image, ImageFormat::Jpeg);
            list.push(name);
        }
        let images = ThingsImages::open(folder.path(), list).unwrap();
        let one = images.load_all(&small(9), 1).unwrap();
        assert_eq!(one.shape(), [5, 3, 9, 9]);
        for threads in [2, 3, 8] {
            assert_eq!(images.load_all(&small(9), threads).unwrap(), one);
        }
        assert_eq!(images.load_all(&small(9), 1).unwrap(), one);
        for index in 0..5 {
            assert_eq!(one.image(index), images.load(index, &small(9)).unwrap());
        }
    }

    #[test]
    fn every_missing_file_is_reported_at_once() {
        let folder = tempfile::tempdir().unwrap();
        write(
            folder.path(),
            "here_01b.jpg",
            &solid(4, 4, [1, 2, 3]),
            ImageFormat::Jpeg,
        );
        let mut list = names(&["here_01b.jpg"]);
        list.extend((0..25).map(|index| format!("gone{index:02}_01b.jpg")));
        let error = ThingsImages::open(folder.path(), list).unwrap_err();
        match &error {
            ImagesError::MissingFiles {
                missing, requested, ..
            } => {
                assert_eq!(missing.len(), 25);
                assert_eq!(*requested, 26);
            }
            other => panic!("unexpected error {other:?}"),
        }
        let message = error.to_string();
        let folder_text = format!("`{}`", folder.path().display());
        assert!(message.starts_with(&format!("25 of 26 images are missing from {folder_text}:")));
        assert!(message.contains("    `gone00_01b.jpg`\n"));
        assert!(message.contains("    `gone19_01b.jpg`\n"));
        assert!(!message.contains("gone20_01b.jpg"), "{message}");
        assert!(message.contains("… and 5 more"));
        assert!(!message.contains("here_01b.jpg"));
        assert!(message.contains("osf.io/jum2f"));
        assert!(message.contains("`image_name`"));
        assert!(message.contains("`data/things/images/`"));
    }

    #[test]
    fn a_missing_folder_says_where_images_come_from() {
        let folder = tempfile::tempdir().unwrap();
        let absent = folder.path().join("images");
        let error = ThingsImages::open(&absent, names(&["a_01b.jpg"])).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with(&format!(
            "the image folder `{}` does not exist;",
            absent.display()
        )));
        assert!(message.contains("osf.io/jum2f"));
    }

    #[test]
    fn a_corrupt_image_names_the_file_and_the_reason() {
        let folder = tempfile::tempdir().unwrap();
        write(
            folder.path(),
            "good_01b.jpg",
            &solid(4, 4, [9, 9, 9]),
            ImageFormat::Jpeg,
        );
        fs::write(folder.path().join("bad_01b.jpg"), b"not a jpeg at all").unwrap();
        // A real PNG cut short: the format is recognised, decoding fails.
        let mut png = Vec::new();
        solid(16, 16, [1, 2, 3])
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        fs::write(folder.path().join("cut_01b.png"), &png[..png.len() / 2]).unwrap();
        let list = names(&["good_01b.jpg", "cut_01b.png", "bad_01b.jpg"]);
        let images = ThingsImages::open(folder.path(), list).unwrap();

        let error = images.load(2, &small(4)).unwrap_err();
        let bad = folder.path().join("bad_01b.jpg");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot decode image `{}` (is it corrupt or not an image?): \
                 unrecognised format (expected jpeg or png)",
                bad.display()
            )
        );
        let error = images.load(1, &small(4)).unwrap_err();
        let message = error.to_string();
        let cut = folder.path().join("cut_01b.png");
        let prefix = format!(
            "cannot decode image `{}` (is it corrupt or not an image?): ",
            cut.display()
        );
        let reason = message.strip_prefix(&prefix).expect(&message);
        assert!(!reason.is_empty(), "the decoder's reason is missing");
        // The first failure in name order, whatever the thread count.
        for threads in [1, 2, 3] {
            let error = images.load_all(&small(4), threads).unwrap_err();
            assert!(error.to_string().contains("cut_01b.png"), "{error}");
        }
    }

    #[test]
    fn a_zero_resolution_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        write(
            folder.path(),
            "a.png",
            &solid(2, 2, [0, 0, 0]),
            ImageFormat::Png,
        );
        let error = load_image(&folder.path().join("a.png"), &small(0)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "image resolution must be at least 1, found 0"
        );
    }
}
