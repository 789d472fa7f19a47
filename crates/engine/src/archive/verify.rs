//! Verifying an archive in one streaming pass: every member re-hashed as it is read, then the
//! manifest's internal consistency (root hash, every dependency present, every key
//! recomputable from its fingerprint). Memory stays flat whatever the archive's size.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{ArchiveManifest, FORMAT, MANIFEST, Mode, top_folder};
use crate::store::manifest::FileEntry;

/// A verified archive.
#[derive(Debug)]
pub struct Verified {
    /// Its manifest.
    pub manifest: ArchiveManifest,
    /// Members read.
    pub members: usize,
    /// Uncompressed bytes read.
    pub bytes: u64,
}

/// Everything wrong with an archive, each problem on its own line.
#[derive(Debug)]
pub struct Problems(pub Vec<String>);

fn hash_stream(reader: &mut dyn Read) -> std::io::Result<FileEntry> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok(FileEntry {
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

/// Verifies the archive at `path`.
pub fn verify(path: &Path) -> Result<Verified, Problems> {
    let display = path.display();
    let mut archive = crate::util::tarball::open_exact(path)
        .map_err(|e| Problems(vec![format!("cannot open `{display}`: {e}")]))?;
    let entries = archive
        .entries()
        .map_err(|e| Problems(vec![format!("`{display}` is not a cpbuild archive: {e}")]))?;
    let mut problems = Vec::new();
    // A changed frame header may decode to the same content; it is a problem of its own, and
    // the rest is still read and checked.
    let header = crate::util::tarball::check_frame_start(path).err();
    let mut manifest: Option<ArchiveManifest> = None;
    let mut top = String::new();
    let mut seen: BTreeMap<String, FileEntry> = BTreeMap::new();
    let mut members = 0usize;
    let mut bytes = 0u64;
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(format!(
                    "`{display}` is truncated or damaged after {members} members: {e}"
                ));
                break;
            }
        };
        let name = match entry.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => {
                problems.push(format!("member {members} has an unreadable name: {e}"));
                break;
            }
        };
        members += 1;
        if manifest.is_none() {
            let Some(folder) = name.strip_suffix(&format!("/{MANIFEST}")) else {
                problems.push(format!(
                    "the first member is `{name}`, not `<folder>/{MANIFEST}`: not a cpbuild archive"
                ));
                break;
            };
            top = folder.to_string();
            let mut text = String::new();
            if let Err(e) = entry.read_to_string(&mut text) {
                problems.push(format!("`{MANIFEST}` is truncated or damaged: {e}"));
                break;
            }
            bytes += text.len() as u64;
            match serde_json::from_str::<ArchiveManifest>(&text) {
                Ok(parsed) => manifest = Some(parsed),
                Err(e) => {
                    problems.push(format!("`{MANIFEST}` is not valid: {e}"));
                    break;
                }
            }
            continue;
        }
        let Some(relative) = name
            .strip_prefix(&top)
            .and_then(|r| r.strip_prefix('/'))
            .map(str::to_string)
        else {
            problems.push(format!(
                "member `{name}` is outside the archive folder `{top}/`"
            ));
            continue;
        };
        match hash_stream(&mut entry) {
            Ok(found) => {
                bytes += found.size;
                if seen.insert(relative.clone(), found).is_some() {
                    problems.push(format!("member `{relative}` appears twice"));
                }
            }
            Err(e) => {
                problems.push(format!(
                    "`{display}` is truncated or damaged in member `{relative}`: {e}"
                ));
                break;
            }
        }
    }
    if problems.is_empty()
        && let Err(problem) = crate::util::tarball::finish_exact(archive)
    {
        problems.push(format!("`{display}` is damaged: {problem}"));
    }
    if let Some(problem) = header {
        problems.insert(0, format!("`{display}` is damaged: {problem}"));
    }
    let Some(manifest) = manifest else {
        if problems.is_empty() {
            problems.push(format!("`{display}` holds no `{MANIFEST}`"));
        }
        return Err(Problems(problems));
    };
    check_manifest(&manifest, &top, &seen, &mut problems);
    if problems.is_empty() {
        Ok(Verified {
            manifest,
            members,
            bytes,
        })
    } else {
        Err(Problems(problems))
    }
}

fn check_manifest(
    manifest: &ArchiveManifest,
    top: &str,
    seen: &BTreeMap<String, FileEntry>,
    problems: &mut Vec<String>,
) {
    if manifest.format != FORMAT {
        problems.push(format!(
            "archive format {} is not the format {FORMAT} this cpbuild reads",
            manifest.format
        ));
    }
    let expected_top = top_folder(&manifest.project, &manifest.version);
    if top != expected_top {
        problems.push(format!(
            "the archive folder is `{top}`, but the manifest names `{expected_top}`"
        ));
    }
    let computed = manifest.compute_root_hash();
    if computed != manifest.root_hash {
        problems.push(format!(
            "`{MANIFEST}` was modified: its root hash is {} but its content hashes to {}",
            manifest.root_hash, computed
        ));
    }
    for (path, expected) in &manifest.files {
        match seen.get(path) {
            None => problems.push(format!("member `{path}` is missing")),
            Some(found) if found != expected => problems.push(format!(
                "member `{path}` is damaged: sha256 {} ({} bytes), but `{MANIFEST}` says {} ({} bytes)",
                found.sha256, found.size, expected.sha256, expected.size
            )),
            Some(_) => {}
        }
    }
    for path in seen.keys() {
        if !manifest.files.contains_key(path) {
            problems.push(format!("member `{path}` is not listed in `{MANIFEST}`"));
        }
    }
    let names: BTreeSet<&String> = manifest.targets.keys().collect();
    for requested in &manifest.requested {
        if !names.contains(requested) {
            problems.push(format!(
                "requested target `{requested}` is not in the archive"
            ));
        }
    }
    for (name, target) in &manifest.targets {
        if target.fingerprint.target != *name {
            problems.push(format!(
                "target `{name}` carries the fingerprint of `{}`",
                target.fingerprint.target
            ));
        }
        let key = target.fingerprint.key();
        if key != target.key {
            problems.push(format!(
                "target `{name}`: its key {} is not the hash of its fingerprint ({key})",
                target.key
            ));
        }
        for (dep, dep_key) in &target.fingerprint.deps {
            match manifest.targets.get(dep) {
                None => problems.push(format!(
                    "target `{name}` depends on `{dep}`, which the archive does not hold"
                )),
                Some(d) if d.key != *dep_key => problems.push(format!(
                    "target `{name}` depends on `{dep}` with key {dep_key}, but the archive holds key {}",
                    d.key
                )),
                Some(_) => {}
            }
        }
        if manifest.mode == Mode::Full {
            let member = format!("bundles/{}.tar.zst", target.key);
            match manifest.files.get(&member) {
                None => problems.push(format!("the bundle of target `{name}` (`{member}`) is not listed")),
                Some(entry) if entry.sha256 != target.bundle_sha256 => problems.push(format!(
                    "the bundle of target `{name}` has sha256 {} in the file list but {} in the target",
                    entry.sha256, target.bundle_sha256
                )),
                Some(_) => {}
            }
        }
    }
}
