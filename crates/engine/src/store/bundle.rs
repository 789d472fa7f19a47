//! Bundles: byte-reproducible zstd tarballs.
//!
//! Entries are `manifest.json` first, then every file under `files/` in sorted path order; no
//! directory entries; mtime 0, uid/gid 0, no user or group names, mode 0644 (0755 for
//! executables); zstd level 3, single-threaded, with a frame checksum. The same content
//! therefore always gives the same bytes and the same sha256.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::manifest::{FileEntry, Manifest};
use crate::action::shell::check_relative_path;

/// zstd compression level of bundles (part of the byte format: do not change lightly).
pub const ZSTD_LEVEL: i32 = 3;

/// The name of the manifest member.
pub const MANIFEST: &str = "manifest.json";

/// An error while reading or writing a bundle, with the member or file concerned.
#[derive(Debug)]
pub struct BundleError(pub String);

impl std::fmt::Display for BundleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> BundleError {
    BundleError(format!("cannot {what} `{}`: {e}", path.display()))
}

/// Hashes every regular file under `files_dir`; rejects links and other special files.
pub fn scan_files(files_dir: &Path) -> Result<BTreeMap<String, FileEntry>, BundleError> {
    let mut files = BTreeMap::new();
    if !files_dir.exists() {
        return Ok(files);
    }
    let paths = crate::util::fs::walk(files_dir).map_err(|e| io_error("list", files_dir, e))?;
    for path in paths {
        let metadata = std::fs::symlink_metadata(&path).map_err(|e| io_error("stat", &path, e))?;
        if metadata.is_dir() {
            continue;
        }
        let relative = path
            .strip_prefix(files_dir)
            .expect("walk yields paths below its root")
            .to_string_lossy()
            .into_owned();
        if !metadata.is_file() {
            return Err(BundleError(format!(
                "output `{relative}` is not a regular file (links and special files cannot be bundled)"
            )));
        }
        let (sha256, size) =
            crate::util::hash::file(&path).map_err(|e| io_error("read", &path, e))?;
        files.insert(relative, FileEntry { sha256, size });
    }
    Ok(files)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// Writes the bundle for `manifest` and the files under `files_dir` to `destination`, and
/// returns its sha256. The file is fsynced before returning.
pub fn write(
    manifest: &Manifest,
    files_dir: &Path,
    destination: &Path,
) -> Result<String, BundleError> {
    let file = File::create(destination).map_err(|e| io_error("create", destination, e))?;
    let mut encoder = zstd::Encoder::new(BufWriter::new(file), ZSTD_LEVEL)
        .map_err(|e| io_error("compress", destination, e))?;
    encoder
        .include_checksum(true)
        .map_err(|e| io_error("compress", destination, e))?;
    let mut builder = tar::Builder::new(encoder);
    builder.mode(tar::HeaderMode::Deterministic);
    let manifest_text = crate::util::canonical::to_pretty(
        &serde_json::to_value(manifest).expect("manifests always serialise"),
    );
    let append =
        |builder: &mut tar::Builder<_>, name: &str, size: u64, mode: u32, data: &mut dyn Read| {
            let mut header = tar::Header::new_gnu();
            header.set_size(size);
            header.set_mode(mode);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, name, data)
                .map_err(|e| io_error("write", destination, e))
        };
    append(
        &mut builder,
        MANIFEST,
        manifest_text.len() as u64,
        0o644,
        &mut manifest_text.as_bytes(),
    )?;
    for (relative, entry) in &manifest.files {
        let path = files_dir.join(relative);
        let mut source = File::open(&path).map_err(|e| io_error("read", &path, e))?;
        let mode = if is_executable(&path) { 0o755 } else { 0o644 };
        append(
            &mut builder,
            &format!("files/{relative}"),
            entry.size,
            mode,
            &mut source,
        )?;
    }
    let encoder = builder
        .into_inner()
        .map_err(|e| io_error("write", destination, e))?;
    let writer = encoder
        .finish()
        .map_err(|e| io_error("compress", destination, e))?;
    let file = writer
        .into_inner()
        .map_err(|e| io_error("write", destination, e.into_error()))?;
    file.sync_all()
        .map_err(|e| io_error("sync", destination, e))?;
    drop(file);
    crate::util::hash::file(destination)
        .map(|(sha, _)| sha)
        .map_err(|e| io_error("read", destination, e))
}

/// Unpacks `bundle` into `destination` (which must not exist), verifying every member against
/// the manifest. Returns the manifest.
pub fn unpack(bundle: &Path, destination: &Path) -> Result<Manifest, BundleError> {
    let file = File::open(bundle).map_err(|e| io_error("open", bundle, e))?;
    let decoder = zstd::Decoder::new(file).map_err(|e| io_error("decompress", bundle, e))?;
    let mut archive = tar::Archive::new(decoder);
    std::fs::create_dir_all(destination).map_err(|e| io_error("create", destination, e))?;
    let mut manifest: Option<Manifest> = None;
    let mut seen: BTreeMap<String, FileEntry> = BTreeMap::new();
    let entries = archive
        .entries()
        .map_err(|e| BundleError(format!("`{}` is not a valid bundle: {e}", bundle.display())))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| BundleError(format!("`{}` is damaged: {e}", bundle.display())))?;
        let name = entry
            .path()
            .map_err(|e| BundleError(format!("`{}` has a bad member name: {e}", bundle.display())))?
            .to_string_lossy()
            .into_owned();
        if name == MANIFEST {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| {
                BundleError(format!(
                    "`{}`: cannot read `{MANIFEST}`: {e}",
                    bundle.display()
                ))
            })?;
            let parsed: Manifest = serde_json::from_str(&text).map_err(|e| {
                BundleError(format!(
                    "`{}`: `{MANIFEST}` is not valid: {e}",
                    bundle.display()
                ))
            })?;
            std::fs::write(destination.join(MANIFEST), &text)
                .map_err(|e| io_error("write", destination, e))?;
            manifest = Some(parsed);
            continue;
        }
        let Some(relative) = name.strip_prefix("files/") else {
            return Err(BundleError(format!(
                "`{}` has an unexpected member `{name}`",
                bundle.display()
            )));
        };
        check_relative_path(relative)
            .map_err(|e| BundleError(format!("`{}`: member {e}", bundle.display())))?;
        let target: PathBuf = destination.join("files").join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error("create", parent, e))?;
        }
        let mut out = File::create(&target).map_err(|e| io_error("create", &target, e))?;
        let mut tee = TeeReader {
            inner: &mut entry,
            out: &mut out,
        };
        let (sha256, size) = crate::util::hash::reader(&mut tee).map_err(|e| {
            BundleError(format!(
                "`{}` is damaged in `{name}`: {e}",
                bundle.display()
            ))
        })?;
        if is_executable_mode(entry.header().mode().unwrap_or(0o644)) {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755));
        }
        seen.insert(relative.to_string(), FileEntry { sha256, size });
    }
    let manifest = manifest
        .ok_or_else(|| BundleError(format!("`{}` has no `{MANIFEST}`", bundle.display())))?;
    for (path, expected) in &manifest.files {
        match seen.get(path) {
            Some(actual) if actual == expected => {}
            Some(actual) => {
                return Err(BundleError(format!(
                    "`{}`: member `files/{path}` has sha256 {} but the manifest says {}",
                    bundle.display(),
                    actual.sha256,
                    expected.sha256
                )));
            }
            None => {
                return Err(BundleError(format!(
                    "`{}`: member `files/{path}` is missing",
                    bundle.display()
                )));
            }
        }
    }
    if let Some(extra) = seen.keys().find(|k| !manifest.files.contains_key(*k)) {
        return Err(BundleError(format!(
            "`{}`: member `files/{extra}` is not in the manifest",
            bundle.display()
        )));
    }
    Ok(manifest)
}

fn is_executable_mode(mode: u32) -> bool {
    mode & 0o111 != 0
}

struct TeeReader<'a, R: Read, W: Write> {
    inner: &'a mut R,
    out: &'a mut W,
}

impl<R: Read, W: Write> Read for TeeReader<'_, R, W> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.out.write_all(&buffer[..n])?;
        Ok(n)
    }
}
