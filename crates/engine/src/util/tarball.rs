//! Deterministic zstd tarballs, shared by bundles and publication archives.
//!
//! Entries are regular files only (no directory entries), written in the order given, with
//! mtime 0, uid/gid 0, no user or group names and mode 0644 (0755 for executables); zstd level
//! 3, single-threaded, with a frame checksum. The same entries give the same bytes.
//!
//! Compression contexts are kept in a pool and reused (a fresh level-3 context allocates and
//! clears about a megabyte, which dominates writing a small bundle); a reused context starts
//! each frame afresh with the same parameters, so the bytes do not depend on it.

use std::fs::File;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use zstd::stream::raw::Operation;
use zstd::stream::zio;

/// zstd compression level (part of the byte format: do not change lightly).
pub const ZSTD_LEVEL: i32 = 3;

/// A tarball being written.
pub struct Writer {
    builder: tar::Builder<zio::Writer<BufWriter<HashingFile>, Compressor>>,
}

type Compressor = zstd::stream::raw::Encoder<'static>;

/// Idle compression contexts, set to [`ZSTD_LEVEL`] with a frame checksum.
static COMPRESSORS: Mutex<Vec<Compressor>> = Mutex::new(Vec::new());

/// A compression context from the pool, or a new one.
fn compressor() -> std::io::Result<Compressor> {
    let pooled = COMPRESSORS.lock().unwrap_or_else(|e| e.into_inner()).pop();
    if let Some(mut compressor) = pooled {
        compressor.reinit()?;
        return Ok(compressor);
    }
    let mut compressor = Compressor::new(ZSTD_LEVEL)?;
    compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
    Ok(compressor)
}

/// The output file, hashed as it is written (so the result need not be read back).
struct HashingFile {
    file: File,
    hasher: Sha256,
}

impl Write for HashingFile {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buffer)?;
        self.hasher.update(&buffer[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A read error of a member's source file, told apart from a write error of the tarball.
#[derive(Debug)]
struct SourceError(std::io::Error);

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {}

struct TaggedReader<R>(R);

/// A reader that hashes what passes through it.
pub(crate) struct HashingReader<R> {
    pub(crate) inner: R,
    pub(crate) hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..n]);
        Ok(n)
    }
}

impl<R: Read> Read for TaggedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .read(buffer)
            .map_err(|e| std::io::Error::new(e.kind(), SourceError(e)))
    }
}

/// Whether an error of [`Writer::append_file`] came from reading the source file (rather than
/// from writing the tarball).
pub fn is_source_error(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<SourceError>().is_some())
}

impl Writer {
    /// Creates `destination`.
    pub fn create(destination: &Path) -> std::io::Result<Writer> {
        let file = HashingFile {
            file: File::create(destination)?,
            hasher: Sha256::new(),
        };
        let encoder = zio::Writer::new(BufWriter::with_capacity(1 << 20, file), compressor()?);
        let mut builder = tar::Builder::new(encoder);
        builder.mode(tar::HeaderMode::Deterministic);
        Ok(Writer { builder })
    }

    /// Appends a regular file named `name` with `size` bytes read from `data`.
    pub fn append(
        &mut self,
        name: &str,
        size: u64,
        executable: bool,
        data: &mut dyn Read,
    ) -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(if executable { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        self.builder.append_data(&mut header, name, data)
    }

    /// Appends the file at `path` under `name`, and returns the sha256 and size of what it
    /// packed. A failure to read `path` is told apart by [`is_source_error`].
    pub fn append_file(&mut self, name: &str, path: &Path) -> std::io::Result<(String, u64)> {
        use std::os::unix::fs::PermissionsExt;
        let tag = |e: std::io::Error| std::io::Error::new(e.kind(), SourceError(e));
        let file = File::open(path).map_err(tag)?;
        let metadata = file.metadata().map_err(tag)?;
        let executable = metadata.permissions().mode() & 0o111 != 0;
        let mut reader = HashingReader {
            inner: TaggedReader(file).take(metadata.len()),
            hasher: Sha256::new(),
        };
        self.append(name, metadata.len(), executable, &mut reader)?;
        Ok((hex::encode(reader.hasher.finalize()), metadata.len()))
    }

    /// Finishes the tarball, fsyncs it and returns its sha256.
    pub fn finish(self) -> std::io::Result<String> {
        let (file, sha) = self.finish_unsynced()?;
        file.sync_all()?;
        Ok(sha)
    }

    /// Finishes the tarball and returns its file (written, not yet fsynced) and its sha256.
    pub fn finish_unsynced(self) -> std::io::Result<(File, String)> {
        let mut encoder = self.builder.into_inner()?;
        encoder.finish()?;
        let (writer, compressor) = encoder.into_inner();
        COMPRESSORS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(compressor);
        let HashingFile { file, hasher } = writer.into_inner().map_err(|e| e.into_error())?;
        Ok((file, hex::encode(hasher.finalize())))
    }
}

/// Opens a tarball for streaming reads.
pub fn open(
    path: &Path,
) -> std::io::Result<tar::Archive<zstd::Decoder<'static, std::io::BufReader<File>>>> {
    let file = File::open(path)?;
    Ok(tar::Archive::new(zstd::Decoder::new(file)?))
}

/// The first six bytes every tarball [`Writer`] writes: the zstd magic number, a frame header
/// descriptor with a content checksum and no content size, and the window of level 3.
pub const FRAME_START: [u8; 6] = [0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58];

/// A tarball opened to be read exactly (see [`finish_exact`]).
pub type ExactArchive = tar::Archive<zstd::Decoder<'static, std::io::BufReader<File>>>;

/// Checks that `path` starts with [`FRAME_START`]; says how it differs otherwise. (A changed
/// header may still decode to the same content, so the content checksum alone misses it.)
pub fn check_frame_start(path: &Path) -> Result<(), String> {
    let mut start = [0u8; 6];
    let mut file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut read = 0;
    while read < start.len() {
        match file.read(&mut start[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(format!("cannot read: {e}")),
        }
    }
    if read == start.len() && start == FRAME_START {
        return Ok(());
    }
    let shown: Vec<String> = start[..read].iter().map(|b| format!("{b:02x}")).collect();
    Err(format!(
        "its zstd frame header is not the one cpbuild writes (its first bytes are {})",
        shown.join(" ")
    ))
}

/// Opens a tarball to be read to its true end: exactly one zstd frame and nothing after it.
/// Call [`finish_exact`] after the last entry.
pub fn open_exact(path: &Path) -> std::io::Result<ExactArchive> {
    let file = File::open(path)?;
    Ok(tar::Archive::new(zstd::Decoder::new(file)?.single_frame()))
}

/// Reads the rest of an archive opened with [`open_exact`] after its last tar entry: the tar
/// end blocks (which must be zeros), the end of the zstd frame (so its checksum is checked),
/// and then nothing more. Returns what is wrong, if anything.
pub fn finish_exact(archive: ExactArchive) -> Result<(), String> {
    let mut decoder = archive.into_inner();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = decoder
            .read(&mut buffer)
            .map_err(|e| format!("the end of its zstd frame is damaged or missing: {e}"))?;
        if n == 0 {
            break;
        }
        if buffer[..n].iter().any(|&b| b != 0) {
            return Err("it holds data after the end of the tar archive".into());
        }
    }
    let mut rest = decoder.finish();
    let mut extra = 0u64;
    loop {
        let n = rest
            .fill_buf()
            .map_err(|e| format!("cannot read its end: {e}"))?
            .len();
        if n == 0 {
            break;
        }
        extra += n as u64;
        rest.consume(n);
    }
    if extra > 0 {
        return Err(format!(
            "{extra} byte{} follow its zstd frame (appended data)",
            if extra == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tarball_starts_with_the_frame_header_exact_reads_expect() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0usize, 10, 300_000] {
            let path = dir.path().join(format!("{size}.tar.zst"));
            let mut writer = Writer::create(&path).unwrap();
            let data = vec![7u8; size];
            writer
                .append("x", size as u64, false, &mut data.as_slice())
                .unwrap();
            let sha = writer.finish().unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(bytes[..6], FRAME_START, "size {size}");
            assert_eq!(sha, crate::util::hash::bytes(&bytes));
            check_frame_start(&path).unwrap();
            let mut archive = open_exact(&path).unwrap();
            for entry in archive.entries().unwrap() {
                std::io::copy(&mut entry.unwrap(), &mut std::io::sink()).unwrap();
            }
            finish_exact(archive).unwrap();
        }
    }

    #[test]
    fn a_reused_compression_context_writes_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, data: &[u8]| {
            let path = dir.path().join(name);
            let mut writer = Writer::create(&path).unwrap();
            writer
                .append("x", data.len() as u64, false, &mut &data[..])
                .unwrap();
            writer.finish().unwrap();
            std::fs::read(path).unwrap()
        };
        let big: Vec<u8> = (0..400_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let first = write("first", b"small");
        // Whatever the pooled context compressed last, the bytes are those of a fresh one.
        write("big", &big);
        assert_eq!(write("again", b"small"), first);
        let fresh = {
            let mut encoder = zstd::Encoder::new(Vec::new(), ZSTD_LEVEL).unwrap();
            encoder.include_checksum(true).unwrap();
            let mut builder = tar::Builder::new(encoder);
            builder.mode(tar::HeaderMode::Deterministic);
            let mut header = tar::Header::new_gnu();
            header.set_size(5);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, "x", &b"small"[..])
                .unwrap();
            builder.into_inner().unwrap().finish().unwrap()
        };
        assert_eq!(first, fresh);
    }
}
