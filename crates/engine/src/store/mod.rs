//! The store: one bundle per key, committed atomically, verified when read.
//!
//! ```text
//! artifacts/
//!   store.lock                 shared by builds, exclusive for gc/clean
//!   bundles/<key>.tar.zst      the bundle (read-only)
//!   bundles/index.jsonl        every bundle's recorded sha256, appended before the bundle
//!                              appears, with the wall-clock facts of the build (not part of
//!                              the bundle bytes); once the bundle is on disk, a line with the
//!                              size, mtime and inode it had when the commit hashed it (see
//!                              [`index`]; stores written by earlier versions hold
//!                              `bundles/<key>.sha256` files instead, still read)
//!   verified/<key>             size/mtime/inode of the last verification after the commit's,
//!                              to skip re-hashing (builds and `status` only: `archive` and
//!                              `fsck` always re-hash)
//!   unpacked/<key>/            read-only copy: manifest.json + files/, checked against the
//!                              bundle's manifest before a command reads it; unpacked when
//!                              first needed, or kept from the staging of an action that wrote
//!                              its files there
//!   records/<profile>.jsonl    the fingerprints built under a profile (for `--explain`), one
//!                              line appended per commit, `{"target": t, "fingerprint": …}`;
//!                              the last line for t is its record (stores written by earlier
//!                              versions hold `records/<profile>/<t>.json`, still read)
//!   logs/<target>.log          the last build log of each target
//!   locks/keys.lock            one byte per key, locked while the key is being built
//!   corrupt/                   bundles and unpacked copies that failed verification, kept for
//!                              inspection
//!   tmp/                       staging (`slot-<pid>.<n>/`, one per job slot, reused while
//!                              empty); anything here is unfinished work, removed on failure or
//!                              at the end of the build, and reclaimed by the next build that
//!                              has the store to itself
//! ```
//!
//! A bundle is complete only when `<key>.tar.zst` exists and agrees with its record in the
//! index: the bundle is written under `tmp/`, its sha256 recorded, and only then renamed into
//! `bundles/`. A build killed at any point leaves nothing that looks complete.
//!
//! Durability against a power loss: bundles, the index and the `bundles/` directory are
//! fsynced by a background thread, a batch at a time, and a build waits for them before it
//! ends ([`Store::flush`]). A record gets its stamp (which lets later checks skip
//! hashing) only after its bundle is on disk; until then the process that committed it trusts
//! it from memory, and any other process hashes it. A power loss during a build can therefore
//! lose or damage bundles committed in its last moments: such a bundle is missing (rebuilt),
//! has no matching record, or fails its sha256 when next checked (reported corrupt, moved
//! aside and rebuilt); it can never pass as valid.

pub mod bundle;
pub(crate) mod fsck;
pub(crate) mod index;
pub(crate) mod lock;
pub(crate) mod manifest;

pub use fsck::{Damage, Report as FsckReport};
pub use lock::{FileLock, LockMode};
pub use manifest::{FileEntry, Machine, Manifest, RunRecord};

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fingerprint::Fingerprint;

/// What the store holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleState {
    /// No complete bundle.
    Missing,
    /// A bundle whose sha256 matches the recorded one.
    Valid,
    /// A bundle that fails verification; the detail says how.
    Corrupt(String),
}

/// A store directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// The bundles, records and directory entries of commits, flushed in the background.
    sync: crate::util::fs::DeferredSync,
    /// The stamps of the bundles this process committed (their records get them once the
    /// bundles are on disk).
    committed: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    /// Held while this process unpacks a bundle.
    unpacking: std::sync::Arc<std::sync::Mutex<()>>,
    /// The `--explain` records read so far, per profile, with the length of the file they were
    /// read from (read again when it has grown).
    records: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Records>>>,
    /// The bundles' index as read so far.
    index: std::sync::Arc<std::sync::Mutex<index::Index>>,
}

/// A profile's `--explain` records as read from `records/<profile>.jsonl` so far.
#[derive(Debug, Default)]
struct Records {
    /// How far the file was read.
    tail: index::Tail,
    /// Each target's last record.
    last: std::collections::HashMap<String, Fingerprint>,
    /// The lines read.
    lines: usize,
    /// The lines read that parsed.
    parsed: usize,
    /// Whether the file ends in an incomplete line.
    partial: bool,
}

impl Records {
    /// Reads what was appended to `path` since the last call (all of it, when the file was
    /// replaced or shortened).
    fn refresh(&mut self, path: &Path) {
        let appended = self.tail.appended(path);
        if appended.restart {
            self.last.clear();
            self.lines = 0;
            self.parsed = 0;
        }
        self.partial = appended.partial;
        for line in appended.lines {
            self.lines += 1;
            let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let Some(target) = value["target"].as_str().map(str::to_string) else {
                continue;
            };
            if let Ok(fingerprint) = serde_json::from_value(value["fingerprint"].take()) {
                self.last.insert(target, fingerprint);
                self.parsed += 1;
            }
        }
    }
}

/// One line of `records/<profile>.jsonl`.
fn record_line(target: &str, fingerprint: &Fingerprint) -> String {
    let mut line = serde_json::to_string(&serde_json::json!({
        "target": target,
        "fingerprint": fingerprint,
    }))
    .expect("fingerprints always serialise");
    line.push('\n');
    line
}

const SUBDIRECTORIES: &[&str] = &[
    "bundles", "verified", "unpacked", "records", "logs", "locks", "corrupt", "tmp", "families",
];

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        for sub in SUBDIRECTORIES {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        Ok(Store::at(root))
    }

    /// The store at `root`, creating nothing (for planning before the store exists: every
    /// bundle is then missing, and an error leaves no empty store behind).
    pub fn at(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
            sync: Default::default(),
            committed: Default::default(),
            unpacking: Default::default(),
            records: Default::default(),
            index: Default::default(),
        }
    }

    /// Waits until every bundle this store (or a clone of it) committed is on disk, records
    /// and directory entries included (see the module doc); a build calls it before it ends.
    pub fn flush(&self) -> Result<()> {
        self.sync.flush()
    }

    /// The store directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `bundles/<key>.tar.zst`.
    pub fn bundle_path(&self, key: &str) -> PathBuf {
        self.root.join("bundles").join(format!("{key}.tar.zst"))
    }

    /// `bundles/index.jsonl`.
    fn index_path(&self) -> PathBuf {
        self.root.join("bundles").join("index.jsonl")
    }

    /// `bundles/<key>.sha256`, where earlier versions kept a bundle's record.
    fn sha_path(&self, key: &str) -> PathBuf {
        self.root.join("bundles").join(format!("{key}.sha256"))
    }

    /// `bundles/<key>.run.json`, where earlier versions kept the run record.
    fn run_path(&self, key: &str) -> PathBuf {
        self.root.join("bundles").join(format!("{key}.run.json"))
    }

    fn stamp_path(&self, key: &str) -> PathBuf {
        self.root.join("verified").join(key)
    }

    /// `unpacked/<key>`.
    pub fn unpacked_path(&self, key: &str) -> PathBuf {
        self.root.join("unpacked").join(key)
    }

    /// `logs/<target>.log`.
    pub fn log_path(&self, target: &str) -> PathBuf {
        self.root.join("logs").join(format!("{target}.log"))
    }

    /// `records/<profile>.jsonl`.
    fn records_path(&self, profile: &str) -> PathBuf {
        self.root.join("records").join(format!("{profile}.jsonl"))
    }

    /// `records/<profile>/<target>.json`, where earlier versions kept the `--explain` record.
    fn record_path(&self, profile: &str, target: &str) -> PathBuf {
        self.root
            .join("records")
            .join(profile)
            .join(format!("{target}.json"))
    }

    /// Takes the store-wide lock.
    pub fn lock(&self, mode: LockMode, on_wait: impl FnOnce(Option<u32>)) -> Result<FileLock> {
        FileLock::acquire(&self.root.join("store.lock"), mode, on_wait)
    }

    /// Takes the store lock for a build (shared). When no other cpbuild uses the store, the
    /// temporaries that killed or failed processes left behind are reclaimed first.
    pub fn lock_for_build(&self, on_wait: impl FnOnce(Option<u32>)) -> Result<FileLock> {
        let path = self.root.join("store.lock");
        if let Some(lock) = FileLock::try_acquire(&path, LockMode::Exclusive)? {
            self.reclaim()?;
            lock.downgrade()?;
            return Ok(lock);
        }
        self.lock(LockMode::Shared, on_wait)
    }

    /// Removes every temporary of unfinished work (the caller holds the store exclusively, so
    /// none belongs to a running process): `tmp/*` and the `.NAME.PID.tmp` files of
    /// interrupted atomic writes; then compacts the `--explain` records.
    fn reclaim(&self) -> Result<()> {
        let tmp = self.root.join("tmp");
        for entry in std::fs::read_dir(&tmp)
            .map_err(|e| Error::io(&tmp, e))?
            .flatten()
        {
            let path = entry.path();
            let result = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                crate::util::fs::remove_tree(&path)
            } else {
                std::fs::remove_file(&path)
            };
            result.map_err(|e| Error::io(&path, e))?;
        }
        let mut folders = vec![self.root.join("bundles"), self.root.join("records")];
        if let Ok(profiles) = std::fs::read_dir(self.root.join("records")) {
            folders.extend(profiles.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
        for folder in folders {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    let path = entry.path();
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                }
            }
        }
        self.compact_records()?;
        self.compact_index(false)
    }

    /// Compacts the bundles' index (see [`index::compact`]; `removed`: bundles may have been
    /// removed); the caller holds the store exclusively.
    fn compact_index(&self, removed: bool) -> Result<()> {
        let mut cache = self.index.lock().unwrap_or_else(|e| e.into_inner());
        index::compact(&self.index_path(), &mut cache, removed, |key| {
            self.bundle_path(key).exists()
        })?;
        Ok(())
    }

    /// What the store records for `key`'s bundle: its line in the index, or the record file
    /// of a store written by an earlier version.
    fn record(&self, key: &str) -> Option<index::Record> {
        let found = self
            .index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&self.index_path(), key);
        if found.is_some() {
            return found;
        }
        let text = std::fs::read_to_string(self.sha_path(key)).ok()?;
        let (sha256, verified) = parse_record(&text);
        let run = match text.lines().find_map(|line| line.strip_prefix(RUN)) {
            Some(run) => serde_json::from_str(run).ok(),
            None => std::fs::read_to_string(self.run_path(key))
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok()),
        };
        Some(index::Record {
            sha256: sha256.to_string(),
            run,
            verified: verified.map(str::to_string),
        })
    }

    /// Takes the lock for building `key` (see [`lock`]).
    pub fn lock_key(&self, key: &str, on_wait: impl FnOnce(Option<u32>)) -> Result<FileLock> {
        #[cfg(target_os = "linux")]
        {
            // One byte per key, below 2^62 so that any offset arithmetic stays in range.
            let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
            let byte = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) >> 2;
            FileLock::acquire_byte(
                &self.root.join("locks").join("keys.lock"),
                byte as i64,
                on_wait,
            )
        }
        #[cfg(not(target_os = "linux"))]
        FileLock::acquire(
            &self.root.join("locks").join(format!("{key}.lock")),
            LockMode::Exclusive,
            on_wait,
        )
    }

    /// Checks the bundle for `key`. A bundle is re-hashed unless its size, mtime and inode
    /// match those of its last successful verification (the commit's, or a later one).
    pub fn state(&self, key: &str) -> BundleState {
        self.check(key, true)
    }

    /// Re-hashes the bundle for `key`, whatever its stat records say (`archive`, `fsck`).
    pub fn rehash(&self, key: &str) -> BundleState {
        let _ = std::fs::remove_file(self.stamp_path(key));
        self.check(key, false)
    }

    fn check(&self, key: &str, trust_stamps: bool) -> BundleState {
        let bundle = self.bundle_path(key);
        let Ok(metadata) = std::fs::metadata(&bundle) else {
            return BundleState::Missing;
        };
        let Some(record) = self.record(key) else {
            return BundleState::Corrupt("the store's index records no sha256 for it".into());
        };
        let (recorded, committed) = (record.sha256.as_str(), record.verified.as_deref());
        let stamp = stamp_text(&metadata, recorded);
        let in_memory = || {
            self.committed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(key)
                .is_some_and(|s| *s == stamp)
        };
        if trust_stamps
            && (committed == Some(stamp.as_str())
                || in_memory()
                || std::fs::read_to_string(self.stamp_path(key)).is_ok_and(|s| s == stamp))
        {
            return BundleState::Valid;
        }
        match crate::util::hash::file(&bundle) {
            Ok((actual, _)) if actual == recorded => {
                let _ = std::fs::write(self.stamp_path(key), stamp);
                BundleState::Valid
            }
            // Another process rebuilt it (`-B`) since the record was read: its new record
            // names these bytes.
            Ok((actual, _)) if self.record(key).is_some_and(|r| r.sha256 == actual) => {
                BundleState::Valid
            }
            Ok((actual, _)) => BundleState::Corrupt(format!(
                "sha256 {} does not match the recorded {}",
                &actual[..12],
                &recorded[..recorded.len().min(12)]
            )),
            Err(e) => BundleState::Corrupt(format!("unreadable: {e}")),
        }
    }

    /// The manifest inside `key`'s bundle (its first member), read from the bundle itself.
    pub fn bundle_manifest(&self, key: &str) -> Result<Manifest> {
        bundle::read_manifest(&self.bundle_path(key)).map_err(|e| Error::store(e.to_string()))
    }

    /// Compares the unpacked copy of `key` with the manifest inside its bundle: the same
    /// manifest, the same files and nothing else, each with its recorded sha256. Returns the
    /// manifest, or what differs.
    pub fn check_unpacked(&self, key: &str) -> std::result::Result<Manifest, String> {
        let directory = self.unpacked_path(key);
        let expected = self.bundle_manifest(key).map_err(|e| e.to_string())?;
        let text = std::fs::read_to_string(directory.join(bundle::MANIFEST))
            .map_err(|e| format!("`{}`: {e}", bundle::MANIFEST))?;
        let copy: Manifest = serde_json::from_str(&text)
            .map_err(|e| format!("`{}` is not valid: {e}", bundle::MANIFEST))?;
        if copy != expected {
            return Err(format!(
                "`{}` differs from the one in the bundle",
                bundle::MANIFEST
            ));
        }
        bundle::check_files(&directory.join("files"), &expected.files)?;
        Ok(expected)
    }

    /// Fails unless `key`'s bundle is present and intact, saying which it is not.
    fn require_valid(&self, key: &str) -> Result<()> {
        match self.state(key) {
            BundleState::Valid => Ok(()),
            BundleState::Missing => Err(Error::store(format!(
                "no bundle for key {key} in the store"
            ))),
            BundleState::Corrupt(detail) => Err(Error::store(format!(
                "bundle `{}` is corrupt: {detail}",
                self.bundle_path(key).display()
            ))),
        }
    }

    /// The unpacked copy of `key`, checked file by file against the manifest inside its
    /// (verified) bundle: what a command is given to read. A damaged copy is replaced by a
    /// fresh one from the bundle; the third value then says what was wrong with it.
    pub fn verified_unpacked(&self, key: &str) -> Result<(PathBuf, Manifest, Option<String>)> {
        self.require_valid(key)?;
        let directory = self.unpacked_path(key);
        if !directory.exists() {
            let (directory, manifest) = self.unpacked(key)?;
            return Ok((directory, manifest, None));
        }
        match self.check_unpacked(key) {
            Ok(manifest) => Ok((directory, manifest, None)),
            Err(detail) => {
                self.discard_unpacked(key)?;
                let (directory, manifest) = self.unpacked(key)?;
                Ok((directory, manifest, Some(detail)))
            }
        }
    }

    /// Removes the unpacked copy of `key` (it is unpacked again when next needed).
    pub fn discard_unpacked(&self, key: &str) -> Result<()> {
        let directory = self.unpacked_path(key);
        let aside = self
            .root
            .join("tmp")
            .join(format!("stale-{key}.{}", std::process::id()));
        let _ = crate::util::fs::make_writable(&directory);
        match std::fs::rename(&directory, &aside) {
            Ok(()) => crate::util::fs::remove_tree(&aside).map_err(|e| Error::io(&aside, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&directory, e)),
        }
    }

    /// Moves a damaged unpacked copy into `corrupt/`, and returns where.
    pub fn quarantine_unpacked(&self, key: &str) -> Result<PathBuf> {
        let directory = self.unpacked_path(key);
        let mut destination = self.root.join("corrupt").join(format!("{key}.unpacked"));
        let mut n = 1;
        while destination.exists() {
            destination = self
                .root
                .join("corrupt")
                .join(format!("{key}.{n}.unpacked"));
            n += 1;
        }
        let _ = crate::util::fs::make_writable(&directory);
        std::fs::rename(&directory, &destination).map_err(|e| Error::io(&directory, e))?;
        Ok(destination)
    }

    /// Moves a corrupt bundle aside (into `corrupt/`) so it is rebuilt, and returns where.
    pub fn quarantine(&self, key: &str) -> Result<PathBuf> {
        let bundle = self.bundle_path(key);
        let mut destination = self.root.join("corrupt").join(format!("{key}.tar.zst"));
        let mut n = 1;
        while destination.exists() {
            destination = self.root.join("corrupt").join(format!("{key}.{n}.tar.zst"));
            n += 1;
        }
        if bundle.exists() {
            std::fs::rename(&bundle, &destination).map_err(|e| Error::io(&bundle, e))?;
        }
        let _ = std::fs::remove_file(self.sha_path(key));
        let _ = std::fs::remove_file(self.stamp_path(key));
        crate::util::fs::remove_tree(&self.unpacked_path(key))
            .map_err(|e| Error::io(self.unpacked_path(key), e))?;
        Ok(destination)
    }

    /// The staging directory of job slot `slot` of this process for building `key`, with an
    /// empty `files/`: a slot's directory is reused from one target to the next when the
    /// previous one left it empty (see [`Store::commit`]), so that most commits create no
    /// folders. Leftovers of killed builds of `key` are removed first (the caller holds the
    /// key's lock).
    pub fn staging(&self, key: &str, slot: usize) -> Result<PathBuf> {
        self.remove_leftovers(key)?;
        let dir = self.staging_path(slot);
        let files = dir.join("files");
        let reusable = || -> Option<()> {
            let mut entries = std::fs::read_dir(&dir).ok()?;
            let only = entries.next()?.ok()?;
            (only.file_name() == "files" && entries.next().is_none()).then_some(())?;
            std::fs::read_dir(&files)
                .ok()?
                .next()
                .is_none()
                .then_some(())
        };
        if reusable().is_none() {
            crate::util::fs::remove_tree(&dir).map_err(|e| Error::io(&dir, e))?;
            std::fs::create_dir_all(&files).map_err(|e| Error::io(&dir, e))?;
        }
        Ok(dir)
    }

    fn staging_path(&self, slot: usize) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("slot-{}.{slot}", std::process::id()))
    }

    /// Removes the staging directories of this process (at the end of a build, or after a
    /// target failed in one).
    pub fn remove_staging(&self, slot: Option<usize>) -> Result<()> {
        let dirs: Vec<PathBuf> = match slot {
            Some(slot) => vec![self.staging_path(slot)],
            None => {
                let prefix = format!("slot-{}.", std::process::id());
                let tmp = self.root.join("tmp");
                std::fs::read_dir(&tmp)
                    .map_err(|e| Error::io(&tmp, e))?
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                    .map(|e| e.path())
                    .collect()
            }
        };
        for dir in dirs {
            crate::util::fs::remove_tree(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        Ok(())
    }

    fn remove_leftovers(&self, key: &str) -> Result<()> {
        let tmp = self.root.join("tmp");
        let entries = std::fs::read_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(&format!("{key}.")) {
                let path = entry.path();
                let result = if path.is_dir() {
                    crate::util::fs::remove_tree(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                result.map_err(|e| Error::io(&path, e))?;
            }
        }
        Ok(())
    }

    /// Packs the files of `manifest` into the bundle for `manifest.key` and commits it
    /// atomically; returns the bundle sha256. Files are read from `sources` (the working-tree
    /// files an action left there) or else from `staging/files`. When `staging/files` holds
    /// files of its own, the staging directory becomes the unpacked copy (with the working-tree
    /// files copied in); otherwise it is left empty for the next target, and the bundle is
    /// unpacked when a dependent first needs it. On failure the partial bundle is removed (the
    /// caller removes `staging`).
    pub fn commit(
        &self,
        staging: &Path,
        manifest: &Manifest,
        sources: &std::collections::BTreeMap<String, PathBuf>,
        run: RunRecord,
    ) -> Result<String> {
        let temporary =
            self.root
                .join("tmp")
                .join(format!("{}.{}.tar.zst", manifest.key, std::process::id()));
        let result = self.try_commit(staging, manifest, sources, run, &temporary);
        if result.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        result
    }

    fn try_commit(
        &self,
        staging: &Path,
        manifest: &Manifest,
        sources: &std::collections::BTreeMap<String, PathBuf>,
        mut run: RunRecord,
        temporary: &Path,
    ) -> Result<String> {
        let key = &manifest.key;
        let sha = bundle::write(manifest, &staging.join("files"), sources, temporary)
            .map_err(|e| Error::store(e.to_string()))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(temporary, std::fs::Permissions::from_mode(0o444))
                .map_err(|e| Error::io(temporary, e))?;
        }
        // The rename keeps size, mtime and inode, so the record can say what the bundle will
        // look like once committed: the next check trusts it without hashing again.
        let metadata = std::fs::metadata(temporary).map_err(|e| Error::io(temporary, e))?;
        // A rebuild (`-B`) replaces an existing bundle: move the old one aside first, so that
        // no moment has the new sha256 recorded beside the old bundle.
        let destination = self.bundle_path(key);
        if destination.exists() {
            let _ = std::fs::remove_file(self.stamp_path(key));
            let aside = self
                .root
                .join("tmp")
                .join(format!("{key}.{}.old.tar.zst", std::process::id()));
            std::fs::rename(&destination, &aside).map_err(|e| Error::io(&destination, e))?;
            let _ = std::fs::remove_file(&aside);
        }
        run.bundle_sha256 = sha.clone();
        // The record of an earlier version's store would otherwise name the old bundle.
        remove_if_present(&self.sha_path(key))?;
        let index = self.index_path();
        index::append(&index, &index::Line::commit(key, &sha, Some(run)))?;
        std::fs::rename(temporary, &destination).map_err(|e| Error::io(&destination, e))?;
        let stamp = stamp_text(&metadata, &sha);
        self.committed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), stamp.clone());
        self.sync.defer_then_note(
            &destination,
            &index,
            index::Line::verified(key, stamp).text(),
            &self.root.join("bundles"),
        );
        // An unpacked copy of an earlier bundle of this key (a `-B` rebuild) is out of date.
        let unpacked = self.unpacked_path(key);
        let _ = crate::util::fs::remove_tree(&unpacked);
        if sources.len() < manifest.files.len() {
            self.keep_as_unpacked(staging, manifest, sources, &unpacked);
        }
        Ok(sha)
    }

    /// Makes `staging` (which holds files of its own) the unpacked copy of `manifest`'s bundle,
    /// with `sources` copied in; on any failure it is removed (the bundle is unpacked when
    /// needed).
    fn keep_as_unpacked(
        &self,
        staging: &Path,
        manifest: &Manifest,
        sources: &std::collections::BTreeMap<String, PathBuf>,
        unpacked: &Path,
    ) {
        let manifest_text = crate::util::canonical::to_pretty(
            &serde_json::to_value(manifest).expect("manifests always serialise"),
        );
        let kept = (|| -> std::io::Result<()> {
            for (relative, source) in sources {
                let destination = staging.join("files").join(relative);
                if let Some(parent) = destination.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::copy(source, &destination)?;
            }
            std::fs::write(staging.join(bundle::MANIFEST), &manifest_text)?;
            std::fs::rename(staging, unpacked)
        })();
        match kept {
            Ok(()) => {
                let _ = crate::util::fs::make_read_only(unpacked);
            }
            Err(_) => {
                let _ = crate::util::fs::remove_tree(staging);
            }
        }
    }

    /// The manifest of the unpacked copy of `key`, if there is a complete one.
    fn unpacked_manifest(&self, key: &str) -> Option<Manifest> {
        let text = std::fs::read_to_string(self.unpacked_path(key).join(bundle::MANIFEST)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The manifest of `key`'s (valid) bundle: its unpacked copy's when there is one, else
    /// read from the bundle, which is not unpacked for it.
    pub fn manifest(&self, key: &str) -> Result<Manifest> {
        match self.unpacked_manifest(key) {
            Some(manifest) => Ok(manifest),
            None => self.bundle_manifest(key),
        }
    }

    /// The verified unpacked copy of `key`'s bundle (unpacking it if needed) and its manifest.
    pub fn unpacked(&self, key: &str) -> Result<(PathBuf, Manifest)> {
        let directory = self.unpacked_path(key);
        if let Some(manifest) = self.unpacked_manifest(key) {
            return Ok((directory, manifest));
        }
        // One unpacking at a time in this process: two dependents of one target starting
        // together must not replace the copy the other's command is reading.
        let _one = self.unpacking.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(manifest) = self.unpacked_manifest(key) {
            return Ok((directory, manifest));
        }
        self.require_valid(key)?;
        static UNPACKINGS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let temporary = self.root.join("tmp").join(format!(
            "unpack-{key}.{}.{}",
            std::process::id(),
            UNPACKINGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = crate::util::fs::remove_tree(&temporary);
        let manifest = bundle::unpack(&self.bundle_path(key), &temporary).map_err(|e| {
            let _ = crate::util::fs::remove_tree(&temporary);
            Error::store(e.to_string())
        })?;
        // A partial copy (of a killed unpacking) goes; a complete one another process just
        // made stays.
        if directory.exists() && self.unpacked_manifest(key).is_none() {
            let _ = self.discard_unpacked(key);
        }
        if std::fs::rename(&temporary, &directory).is_err() {
            // Another process unpacked it first; theirs is as good as ours.
            let _ = crate::util::fs::remove_tree(&temporary);
        } else {
            let _ = crate::util::fs::make_read_only(&directory);
        }
        Ok((directory, manifest))
    }

    /// The sha256 recorded for `key`'s bundle.
    pub fn recorded_sha(&self, key: &str) -> Option<String> {
        Some(self.record(key)?.sha256).filter(|sha| !sha.is_empty())
    }

    /// Adds a bundle read from `reader` (an archive member) whose sha256 must be `sha256`;
    /// committed atomically like a built one. The caller holds the store lock.
    pub fn import_bundle(
        &self,
        key: &str,
        sha256: &str,
        reader: &mut dyn std::io::Read,
    ) -> Result<()> {
        let _lock = self.lock_key(key, |_| {})?;
        let temporary = self
            .root
            .join("tmp")
            .join(format!("{key}.{}.import.tar.zst", std::process::id()));
        let result = (|| -> std::io::Result<String> {
            let mut file = std::fs::File::create(&temporary)?;
            let mut tee = HashingWriter {
                inner: &mut file,
                hasher: <sha2::Sha256 as sha2::Digest>::new(),
            };
            std::io::copy(reader, &mut tee)?;
            let sha = hex::encode(sha2::Digest::finalize(tee.hasher));
            file.sync_all()?;
            Ok(sha)
        })();
        let actual = match result {
            Ok(sha) => sha,
            Err(e) => {
                let _ = std::fs::remove_file(&temporary);
                return Err(Error::io(&temporary, e));
            }
        };
        if actual != sha256 {
            let _ = std::fs::remove_file(&temporary);
            return Err(Error::store(format!(
                "bundle {key} from the archive has sha256 {actual}, expected {sha256}"
            )));
        }
        remove_if_present(&self.sha_path(key))?;
        let index = self.index_path();
        index::append(&index, &index::Line::commit(key, &actual, None))?
            .sync_all()
            .map_err(|e| Error::io(&index, e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o444))
                .map_err(|e| Error::io(&temporary, e))?;
        }
        let destination = self.bundle_path(key);
        std::fs::rename(&temporary, &destination).map_err(|e| Error::io(&destination, e))?;
        crate::util::fs::sync_dir(&self.root.join("bundles"))?;
        let _ = crate::util::fs::remove_tree(&self.unpacked_path(key));
        Ok(())
    }

    /// Records that `key` belongs to extension family `family` with `extent`.
    pub fn add_to_family(&self, family: &str, extent: u64, key: &str) -> Result<()> {
        let dir = self.root.join("families").join(family);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let marker = dir.join(format!("{extent:020}-{key}"));
        std::fs::write(&marker, b"").map_err(|e| Error::io(&marker, e))
    }

    /// The committed, valid member of `family` with the largest extent not above `extent`
    /// (other than `except`), as (key, extent).
    pub fn best_in_family(&self, family: &str, extent: u64, except: &str) -> Option<(String, u64)> {
        let dir = self.root.join("families").join(family);
        let mut members: Vec<(u64, String)> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let (extent, key) = name.split_once('-')?;
                Some((extent.parse().ok()?, key.to_string()))
            })
            .filter(|(e, key)| *e <= extent && key != except)
            .collect();
        members.sort();
        members
            .into_iter()
            .rev()
            .find(|(_, key)| self.state(key) == BundleState::Valid)
            .map(|(e, key)| (key, e))
    }

    /// Drops family markers whose bundle is gone (after `gc`); returns how many.
    pub fn prune_families(&self) -> Result<usize> {
        let root = self.root.join("families");
        let mut removed = 0;
        for family in std::fs::read_dir(&root)
            .map_err(|e| Error::io(&root, e))?
            .flatten()
        {
            for marker in std::fs::read_dir(family.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = marker.file_name().to_string_lossy().into_owned();
                let key = name.split_once('-').map(|(_, k)| k).unwrap_or("");
                if !self.bundle_path(key).exists() {
                    std::fs::remove_file(marker.path()).map_err(|e| Error::io(marker.path(), e))?;
                    removed += 1;
                }
            }
            let _ = std::fs::remove_dir(family.path());
        }
        Ok(removed)
    }

    /// The fingerprint last built for `target` under `profile`.
    pub fn read_record(&self, profile: &str, target: &str) -> Option<Fingerprint> {
        let mut cache = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let records = cache.entry(profile.to_string()).or_default();
        records.refresh(&self.records_path(profile));
        if let Some(fingerprint) = records.last.get(target) {
            return Some(fingerprint.clone());
        }
        drop(cache);
        let text = std::fs::read_to_string(self.record_path(profile, target)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Saves the fingerprint just built for `target` under `profile`: one line appended to
    /// `records/<profile>.jsonl` with a single write under the file's lock (several processes,
    /// on several machines of a cluster, may append at once).
    pub fn write_record(
        &self,
        profile: &str,
        target: &str,
        fingerprint: &Fingerprint,
    ) -> Result<()> {
        let path = self.records_path(profile);
        crate::util::fs::append_locked(&path, &record_line(target, fingerprint))
            .map(drop)
            .map_err(|e| Error::io(&path, e))
    }

    /// Rewrites each `records/<profile>.jsonl` that holds more than twice as many lines as
    /// targets, or a line that does not parse or is incomplete, with only each target's last
    /// line (the caller holds the store exclusively).
    fn compact_records(&self) -> Result<()> {
        let folder = self.root.join("records");
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path
                .extension()
                .is_none_or(|extension| extension != "jsonl")
            {
                continue;
            }
            let mut records = Records::default();
            records.refresh(&path);
            if records.lines <= 2 * records.last.len()
                && records.parsed == records.lines
                && !records.partial
            {
                continue;
            }
            let mut targets: Vec<_> = records.last.iter().collect();
            targets.sort_by(|a, b| a.0.cmp(b.0));
            let compacted: String = targets
                .into_iter()
                .map(|(target, fingerprint)| record_line(target, fingerprint))
                .collect();
            crate::util::fs::write_replace(&path, compacted.as_bytes(), false)?;
        }
        Ok(())
    }

    /// The run record of `key`, if any: part of its record in the index, or (in a store
    /// written by an earlier version) of `bundles/<key>.sha256` or `bundles/<key>.run.json`.
    pub fn read_run(&self, key: &str) -> Option<RunRecord> {
        self.record(key)?.run
    }

    /// The keys of every complete-looking bundle.
    pub fn keys(&self) -> Result<Vec<String>> {
        let dir = self.root.join("bundles");
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            if let Some(key) = entry.file_name().to_string_lossy().strip_suffix(".tar.zst") {
                keys.push(key.to_string());
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Removes everything the store holds for `key`; returns the bytes freed.
    pub fn remove(&self, key: &str) -> Result<u64> {
        let mut freed = 0;
        for path in [
            self.bundle_path(key),
            self.sha_path(key),
            self.run_path(key),
            self.stamp_path(key),
        ] {
            if let Ok(metadata) = std::fs::metadata(&path) {
                freed += metadata.len();
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        let unpacked = self.unpacked_path(key);
        crate::util::fs::remove_tree(&unpacked).map_err(|e| Error::io(&unpacked, e))?;
        Ok(freed)
    }

    /// Removes staging leftovers, quarantined bundles and the key locks' files, those of
    /// earlier versions (one per key) included, and compacts the bundles' index: the caller
    /// holds the store exclusively, so no build holds a key.
    pub fn remove_scratch(&self) -> Result<()> {
        for sub in ["tmp", "corrupt", "locks"] {
            let dir = self.root.join(sub);
            crate::util::fs::remove_tree(&dir).map_err(|e| Error::io(&dir, e))?;
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        self.compact_index(true)
    }
}

/// Removes `path` unless it does not exist.
fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

struct HashingWriter<'a, W: std::io::Write> {
    inner: &'a mut W,
    hasher: sha2::Sha256,
}

impl<W: std::io::Write> std::io::Write for HashingWriter<'_, W> {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buffer)?;
        sha2::Digest::update(&mut self.hasher, &buffer[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The comment of an earlier version's bundle record that holds its stamp at commit.
const VERIFIED: &str = "# verified ";

/// The comment of an earlier version's bundle record that holds its [`RunRecord`].
const RUN: &str = "# run ";

/// The recorded sha256 of an earlier version's bundle record, and its commit's stamp, if any.
fn parse_record(text: &str) -> (&str, Option<&str>) {
    let sha = text.split_whitespace().next().unwrap_or("");
    let stamp = text
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(VERIFIED));
    (sha, stamp)
}

fn stamp_text(metadata: &std::fs::Metadata, sha: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{} {} {} {} {sha}",
        metadata.len(),
        metadata.mtime(),
        metadata.mtime_nsec(),
        metadata.ino()
    )
}
