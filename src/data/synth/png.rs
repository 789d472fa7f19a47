//! The PNG files of things-synth pictures ([`Image::to_png`], for previews), written by the
//! `png` crate with the same fixed settings as the figures' PNGs.

use super::Image;
use crate::data::images::encode_rgb_png;

impl Image {
    /// The picture as a PNG file: 8-bit RGB, the bytes a fixed function of the pixels.
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
        let side = |n: usize| {
            u32::try_from(n)
                .ok()
                .filter(|&n| n <= 0x7fff_ffff)
                .expect("a PNG side must fit in 31 bits")
        };
        encode_rgb_png(&self.rgb, side(self.width), side(self.height))
            .expect("the pixels fill the picture exactly, which is all the encoder checks")
    }
}
