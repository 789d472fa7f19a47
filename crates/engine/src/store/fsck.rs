//! `cpbuild fsck`: re-hash the whole store, ignoring the stat records that let builds skip
//! re-hashing, and move what is damaged to `corrupt/`.
//!
//! Every bundle is re-hashed against the sha256 recorded beside it; every unpacked copy is
//! compared, file by file, with the manifest inside its bundle. A damaged bundle is moved to
//! `corrupt/` and its target must be rebuilt; a damaged unpacked copy is moved to `corrupt/`
//! and unpacked again from its (verified) bundle the next time it is used.

use std::path::PathBuf;

use super::{BundleState, Store};
use crate::error::{Error, Result};

/// Something fsck found damaged and moved aside.
#[derive(Debug, Clone)]
pub struct Damage {
    /// The key.
    pub key: String,
    /// The target that built it, where the store knows (its run record or its manifest).
    pub target: Option<String>,
    /// The profile it was built under, where known.
    pub profile: Option<String>,
    /// `true`: the bundle itself (the target must be rebuilt); `false`: an unpacked copy.
    pub bundle: bool,
    /// What is wrong.
    pub detail: String,
    /// Where it was moved.
    pub moved_to: PathBuf,
}

/// What fsck checked and found.
#[derive(Debug, Default)]
pub struct Report {
    /// Bundles re-hashed.
    pub bundles: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Unpacked copies compared with their bundle's manifest.
    pub unpacked: usize,
    /// What was damaged.
    pub damage: Vec<Damage>,
}

impl Store {
    /// The target and profile that built `key`, from its run record or, failing that, from
    /// the manifest in its bundle.
    pub fn owner(&self, key: &str) -> (Option<String>, Option<String>) {
        if let Some(run) = self.read_run(key) {
            return (Some(run.target), Some(run.profile));
        }
        match self.bundle_manifest(key) {
            Ok(manifest) => (Some(manifest.fingerprint.target), None),
            Err(_) => (None, None),
        }
    }

    /// Re-hashes every bundle and unpacked copy (the caller holds the store exclusively).
    pub fn fsck(&self) -> Result<Report> {
        let mut report = Report::default();
        for key in self.keys()? {
            report.bundles += 1;
            report.bytes += std::fs::metadata(self.bundle_path(&key))
                .map(|m| m.len())
                .unwrap_or(0);
            if let BundleState::Corrupt(detail) = self.rehash(&key) {
                let (target, profile) = self.owner(&key);
                let moved_to = self.quarantine(&key)?;
                report.damage.push(Damage {
                    key,
                    target,
                    profile,
                    bundle: true,
                    detail,
                    moved_to,
                });
            }
        }
        let unpacked = self.root.join("unpacked");
        let mut keys: Vec<String> = std::fs::read_dir(&unpacked)
            .map_err(|e| Error::io(&unpacked, e))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        keys.sort();
        for key in keys {
            if !self.bundle_path(&key).exists() {
                // A copy whose bundle is gone is not used again; `gc` removes it.
                continue;
            }
            report.unpacked += 1;
            if let Err(detail) = self.check_unpacked(&key) {
                let (target, profile) = self.owner(&key);
                let moved_to = self.quarantine_unpacked(&key)?;
                report.damage.push(Damage {
                    key,
                    target,
                    profile,
                    bundle: false,
                    detail,
                    moved_to,
                });
            }
        }
        Ok(report)
    }
}
