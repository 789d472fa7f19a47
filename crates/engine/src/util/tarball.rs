//! Deterministic zstd tarballs, shared by bundles and publication archives.
//!
//! Entries are regular files only (no directory entries), written in the order given, with
//! mtime 0, uid/gid 0, no user or group names and mode 0644 (0755 for executables); zstd level
//! 3, single-threaded, with a frame checksum. The same entries give the same bytes.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::Path;

/// zstd compression level (part of the byte format: do not change lightly).
pub const ZSTD_LEVEL: i32 = 3;

/// A tarball being written.
pub struct Writer {
    builder: tar::Builder<zstd::Encoder<'static, BufWriter<File>>>,
}

impl Writer {
    /// Creates `destination`.
    pub fn create(destination: &Path) -> std::io::Result<Writer> {
        let file = File::create(destination)?;
        let mut encoder = zstd::Encoder::new(BufWriter::with_capacity(1 << 20, file), ZSTD_LEVEL)?;
        encoder.include_checksum(true)?;
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

    /// Appends the file at `path` under `name`.
    pub fn append_file(&mut self, name: &str, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let mut file = File::open(path)?;
        let metadata = file.metadata()?;
        let executable = metadata.permissions().mode() & 0o111 != 0;
        self.append(name, metadata.len(), executable, &mut file)
    }

    /// Finishes the tarball and fsyncs it.
    pub fn finish(self) -> std::io::Result<()> {
        let encoder = self.builder.into_inner()?;
        let writer = encoder.finish()?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

/// Opens a tarball for streaming reads.
pub fn open(
    path: &Path,
) -> std::io::Result<tar::Archive<zstd::Decoder<'static, std::io::BufReader<File>>>> {
    let file = File::open(path)?;
    Ok(tar::Archive::new(zstd::Decoder::new(file)?))
}
