//! Importing an archive's bundles into a local store, after verifying the whole archive.

use std::path::Path;

use super::{MANIFEST, Mode, top_folder, verify};
use crate::error::{Error, Result};
use crate::store::{BundleState, Store};

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    /// Bundles added to the store.
    pub added: usize,
    /// Bundles the store already held.
    pub present: usize,
    /// The profile the archive was built under.
    pub profile: String,
}

/// Verifies `path`, then copies its bundles into `store` (each checked against its recorded
/// sha256 again as it is written, and committed atomically).
pub fn import(path: &Path, store: &Store) -> Result<Imported> {
    let verified = verify::verify(path).map_err(|problems| {
        Error::store(format!(
            "archive `{}` failed verification; nothing was imported:\n{}",
            path.display(),
            problems
                .0
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    })?;
    let manifest = verified.manifest;
    if manifest.mode != Mode::Full {
        return Err(Error::Usage {
            message: format!(
                "archive `{}` is a figures-only archive: it holds no bundles to import",
                path.display()
            ),
            help: Some("verify it with `cpbuild verify-archive`, or import a full archive".into()),
        });
    }
    let top = top_folder(&manifest.project, &manifest.version);
    let mut imported = Imported {
        profile: manifest.profile.clone(),
        ..Imported::default()
    };
    let by_key: std::collections::BTreeMap<&str, &super::ArchivedTarget> = manifest
        .targets
        .values()
        .map(|t| (t.key.as_str(), t))
        .collect();
    let mut archive = crate::util::tarball::open(path).map_err(|e| Error::io(path, e))?;
    let entries = archive.entries().map_err(|e| Error::io(path, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io(path, e))?;
        let name = entry
            .path()
            .map_err(|e| Error::io(path, e))?
            .to_string_lossy()
            .into_owned();
        if name == format!("{top}/{MANIFEST}") {
            continue;
        }
        let Some(key) = name
            .strip_prefix(&format!("{top}/bundles/"))
            .and_then(|n| n.strip_suffix(".tar.zst"))
        else {
            continue;
        };
        let Some(target) = by_key.get(key) else {
            continue;
        };
        if store.state(key) == BundleState::Valid {
            imported.present += 1;
            continue;
        }
        store.import_bundle(key, &target.bundle_sha256, &mut entry)?;
        imported.added += 1;
    }
    for (name, target) in &manifest.targets {
        store.write_record(&manifest.profile, name, &target.fingerprint)?;
    }
    Ok(imported)
}
