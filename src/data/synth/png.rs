//! The PNG files of things-synth pictures ([`Image::to_png`], for previews): 8-bit RGB written
//! by hand with stored (uncompressed) deflate blocks, so the file is a fixed function of the
//! pixels with no compressor in between, plus the two checksums PNG and zlib need.

use super::Image;

impl Image {
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
