//! Bundles: byte-reproducible zstd tarballs.
//!
//! Entries are `manifest.json` first, then every file under `files/` in sorted path order,
//! written by [`tarball::Writer`] (fixed metadata, zstd level 3): the same content therefore
//! always gives the same bytes and the same sha256.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::manifest::{FileEntry, Manifest};
use crate::util::check_relative_path;
use crate::util::tarball;

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

/// A non-directory entry under a bundle's `files/`.
struct Member {
    /// Its path relative to `files/`.
    relative: String,
    path: PathBuf,
    metadata: std::fs::Metadata,
}

/// Every entry under `files_dir` but directories (none when it does not exist), or what could
/// not be done (`list`, `stat`) to which path.
fn members(files_dir: &Path) -> Result<Vec<Member>, (&'static str, PathBuf, std::io::Error)> {
    if !files_dir.exists() {
        return Ok(Vec::new());
    }
    let paths =
        crate::util::fs::walk(files_dir).map_err(|e| ("list", files_dir.to_path_buf(), e))?;
    let mut members = Vec::new();
    for path in paths {
        let metadata = std::fs::symlink_metadata(&path).map_err(|e| ("stat", path.clone(), e))?;
        if metadata.is_dir() {
            continue;
        }
        let relative = path
            .strip_prefix(files_dir)
            .expect("walk yields paths below its root")
            .to_string_lossy()
            .into_owned();
        members.push(Member {
            relative,
            path,
            metadata,
        });
    }
    Ok(members)
}

/// Hashes every regular file under `files_dir`; rejects links and other special files.
pub fn scan_files(files_dir: &Path) -> Result<BTreeMap<String, FileEntry>, BundleError> {
    let mut files = BTreeMap::new();
    let members = members(files_dir).map_err(|(what, path, e)| io_error(what, &path, e))?;
    for Member {
        relative,
        path,
        metadata,
    } in members
    {
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

/// Writes the bundle for `manifest` to `destination`, and returns its sha256. Each file is
/// read from `sources` (files the action left in the working tree) or else from under
/// `files_dir`, and must still be what the manifest says: a file that changed since it was
/// hashed fails the bundle. The file is not fsynced: the store does that (see `Store::commit`).
pub fn write(
    manifest: &Manifest,
    files_dir: &Path,
    sources: &BTreeMap<String, PathBuf>,
    destination: &Path,
) -> Result<String, BundleError> {
    let mut writer =
        tarball::Writer::create(destination).map_err(|e| io_error("create", destination, e))?;
    let manifest_text = crate::util::canonical::to_pretty(
        &serde_json::to_value(manifest).expect("manifests always serialise"),
    );
    writer
        .append(
            MANIFEST,
            manifest_text.len() as u64,
            false,
            &mut manifest_text.as_bytes(),
        )
        .map_err(|e| io_error("write", destination, e))?;
    for (relative, expected) in &manifest.files {
        let path = sources
            .get(relative)
            .cloned()
            .unwrap_or_else(|| files_dir.join(relative));
        let (sha256, size) = writer
            .append_file(&format!("files/{relative}"), &path)
            .map_err(|e| {
                if tarball::is_source_error(&e) {
                    io_error("read", &path, e)
                } else {
                    io_error("write", destination, e)
                }
            })?;
        if sha256 != expected.sha256 || size != expected.size {
            return Err(BundleError(format!(
                "output `{relative}` changed while it was being stored ({} bytes with sha256 {} when hashed, {size} bytes with sha256 {} when packed); build again once nothing else writes it",
                expected.size,
                &expected.sha256[..expected.sha256.len().min(12)],
                &sha256[..12]
            )));
        }
    }
    writer
        .finish_unsynced()
        .map(|(_, sha)| sha)
        .map_err(|e| io_error("write", destination, e))
}

/// The manifest of `bundle` (its first member), without reading the rest.
pub fn read_manifest(bundle: &Path) -> Result<Manifest, BundleError> {
    let mut archive = tarball::open(bundle).map_err(|e| io_error("open", bundle, e))?;
    let damaged =
        |e: std::io::Error| BundleError(format!("`{}` is damaged: {e}", bundle.display()));
    let mut entries = archive.entries().map_err(damaged)?;
    let mut entry = match entries.next() {
        Some(entry) => entry.map_err(damaged)?,
        None => return Err(BundleError(format!("`{}` is empty", bundle.display()))),
    };
    let name = entry
        .path()
        .map_err(damaged)?
        .to_string_lossy()
        .into_owned();
    if name != MANIFEST {
        return Err(BundleError(format!(
            "`{}` starts with `{name}`, not `{MANIFEST}`",
            bundle.display()
        )));
    }
    let mut text = String::new();
    entry.read_to_string(&mut text).map_err(damaged)?;
    serde_json::from_str(&text).map_err(|e| {
        BundleError(format!(
            "`{}`: `{MANIFEST}` is not valid: {e}",
            bundle.display()
        ))
    })
}

/// Checks that `files_dir` holds exactly the regular files of `expected`, each with its
/// recorded size and sha256; returns the first difference.
pub fn check_files(files_dir: &Path, expected: &BTreeMap<String, FileEntry>) -> Result<(), String> {
    let mut found = 0usize;
    let members = members(files_dir).map_err(|(what, _, e)| format!("cannot {what}: {e}"))?;
    for Member {
        relative,
        path,
        metadata,
    } in members
    {
        let Some(entry) = expected.get(&relative) else {
            return Err(format!("`files/{relative}` is not in the manifest"));
        };
        if !metadata.is_file() {
            return Err(format!("`files/{relative}` is not a regular file"));
        }
        if metadata.len() != entry.size {
            return Err(format!(
                "`files/{relative}` has {} bytes, the manifest says {}",
                metadata.len(),
                entry.size
            ));
        }
        let (sha256, _) =
            crate::util::hash::file(&path).map_err(|e| format!("`files/{relative}`: {e}"))?;
        if sha256 != entry.sha256 {
            return Err(format!(
                "`files/{relative}` has sha256 {}, the manifest says {}",
                &sha256[..12],
                &entry.sha256[..entry.sha256.len().min(12)]
            ));
        }
        found += 1;
    }
    if found != expected.len() {
        let missing = expected
            .keys()
            .find(|path| !files_dir.join(path).is_file())
            .map(String::as_str)
            .unwrap_or("?");
        return Err(format!("`files/{missing}` is missing"));
    }
    Ok(())
}

/// Unpacks `bundle` into `destination` (which must not exist), verifying every member against
/// the manifest. Returns the manifest.
pub fn unpack(bundle: &Path, destination: &Path) -> Result<Manifest, BundleError> {
    let mut archive = tarball::open(bundle).map_err(|e| io_error("open", bundle, e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that no longer has the content its manifest entry was hashed from (changed
    /// between hashing and packing) fails the bundle instead of being stored under it.
    #[test]
    fn a_file_changed_after_it_was_hashed_fails_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        std::fs::write(files.join("a.txt"), "old\n").unwrap();
        let mut manifest = Manifest {
            format: crate::store::manifest::FORMAT,
            key: "k".into(),
            fingerprint: crate::fingerprint::Fingerprint {
                cpbuild: "0".into(),
                target: "a".into(),
                kind: "shell".into(),
                action_version: "1".into(),
                context: serde_json::Value::Null,
                params: serde_json::json!({}),
                deps: BTreeMap::new(),
                inputs: BTreeMap::new(),
            },
            machine: crate::store::manifest::Machine::current(),
            info: BTreeMap::new(),
            files: BTreeMap::new(),
            worktree: Vec::new(),
        };
        manifest.files = scan_files(&files).unwrap();
        let bundle = dir.path().join("k.tar.zst");
        write(&manifest, &files, &BTreeMap::new(), &bundle).unwrap();
        assert_eq!(read_manifest(&bundle).unwrap(), manifest);

        std::fs::write(files.join("a.txt"), "new\n").unwrap();
        let error = write(&manifest, &files, &BTreeMap::new(), &bundle).unwrap_err();
        assert!(
            error
                .0
                .contains("output `a.txt` changed while it was being stored"),
            "{error}"
        );
        // The same from a working-tree source.
        let elsewhere = dir.path().join("a.txt");
        std::fs::write(&elsewhere, "other\n").unwrap();
        let sources = BTreeMap::from([("a.txt".to_string(), elsewhere)]);
        assert!(write(&manifest, &files, &sources, &bundle).is_err());
    }
}
