//! sha256 of bytes, files and readers, as lower-case hex.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// sha256 of `bytes`.
pub fn bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 of everything `reader` yields, and its length.
pub fn reader(mut reader: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// sha256 of the file at `path`, and its length.
pub fn file(path: &Path) -> std::io::Result<(String, u64)> {
    reader(std::fs::File::open(path)?)
}
