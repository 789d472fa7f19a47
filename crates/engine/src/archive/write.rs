//! Writing an archive: gather members, hash them, write `MANIFEST.json` first, then every
//! member in sorted order, into a temporary file that is renamed into place when complete.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{ArchiveManifest, Context, MANIFEST, Mode, is_metric_file, report, top_folder};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::manifest::FileEntry;
use crate::util::tarball::HashingReader;

/// Where a member's bytes come from.
enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// A file the application adds to the archive beside `README.md` and `REPORT.md` (cpbuild adds
/// its HTML report); the reviewers' README lists it with its description.
pub struct Document {
    /// Its path under the top-level folder (`report/index.html`).
    pub path: String,
    /// Its bytes (as reproducible as the rest: the archive's bytes include them).
    pub bytes: Vec<u8>,
    /// One line for the README: what it is.
    pub description: String,
}

/// What to archive.
pub struct Request<'a> {
    /// The manifest so far: project, version, profile, mode, requested, targets (its `files`
    /// and `root_hash` are filled in here).
    pub manifest: ArchiveManifest,
    /// The store holding every target's bundle.
    pub store: &'a Store,
    /// The recipe files: archive path (`recipes/x.toml`) → file.
    pub recipes: BTreeMap<String, PathBuf>,
    /// Documents the application adds.
    pub documents: Vec<Document>,
    /// What the application knows about its kinds, and the report's checklist.
    pub context: Context<'a>,
}

/// Writes the archive to `destination`; returns its sha256 and the final manifest.
pub fn write(request: Request<'_>, destination: &Path) -> Result<(String, ArchiveManifest)> {
    let Request {
        mut manifest,
        store,
        recipes,
        documents,
        context,
    } = request;
    let mut members: BTreeMap<String, Source> = BTreeMap::new();
    for (name, path) in recipes {
        members.insert(name, Source::File(path));
    }
    // Every bundle is re-hashed here, whatever its stat record says: an archive never
    // publishes a bundle that differs from the sha256 recorded when it was built.
    let mut expected_bundles: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (name, target) in &manifest.targets {
        if let crate::store::BundleState::Corrupt(detail) = store.rehash(&target.key) {
            return Err(Error::Store {
                message: format!(
                    "the bundle of target `{name}` (`{}`) is corrupt: {detail}; nothing was written\n  help: run `cpbuild fsck` to move it aside, then `cpbuild {name}` to rebuild it",
                    store.bundle_path(&target.key).display()
                ),
            });
        }
        match manifest.mode {
            Mode::Full => {
                let member = format!("bundles/{}.tar.zst", target.key);
                expected_bundles
                    .insert(member.clone(), (name.clone(), target.bundle_sha256.clone()));
                members.insert(member, Source::File(store.bundle_path(&target.key)));
            }
            Mode::FiguresOnly => {
                let (directory, _) = verified_unpacked(store, name, &target.key)?;
                let facts = context.registry.archive_facts(&target.fingerprint.kind);
                for path in target.files.keys().filter(|p| is_metric_file(p, &facts)) {
                    members.insert(
                        format!("files/{name}/{path}"),
                        Source::File(directory.join("files").join(path)),
                    );
                }
            }
        }
        if target.requested {
            let (directory, bundle_manifest) = verified_unpacked(store, name, &target.key)?;
            for path in &bundle_manifest.worktree {
                members.insert(
                    format!("figures/{name}/{path}"),
                    Source::File(directory.join("files").join(path)),
                );
            }
        }
    }
    let mut readme = report::reviewer_readme(&manifest);
    if !documents.is_empty() {
        readme.push_str("\n## Also in this archive\n\n");
    }
    for document in documents {
        readme.push_str(&format!(
            "- `{}`: {}\n",
            document.path, document.description
        ));
        let reserved = ["README.md", "REPORT.md", MANIFEST].contains(&document.path.as_str());
        if reserved || members.contains_key(&document.path) {
            return Err(Error::store(format!(
                "the archive would hold `{}` twice (a document has the path of another member)",
                document.path
            )));
        }
        members.insert(document.path, Source::Bytes(document.bytes));
    }
    members.insert("README.md".into(), Source::Bytes(readme.into_bytes()));
    members.insert(
        "REPORT.md".into(),
        Source::Bytes(report::reproducibility_report(&manifest, &context).into_bytes()),
    );

    let mut files = BTreeMap::new();
    for (name, source) in &members {
        let (sha256, size) = match source {
            Source::File(path) => crate::util::hash::file(path).map_err(|e| Error::io(path, e))?,
            Source::Bytes(bytes) => (crate::util::hash::bytes(bytes), bytes.len() as u64),
        };
        if let Some((target, recorded)) = expected_bundles.get(name)
            && *recorded != sha256
        {
            return Err(Error::Store {
                message: format!(
                    "the bundle of target `{target}` has sha256 {sha256}, not the recorded {recorded}; nothing was written\n  help: run `cpbuild fsck` to move it aside, then `cpbuild {target}` to rebuild it"
                ),
            });
        }
        files.insert(name.clone(), FileEntry { sha256, size });
    }
    manifest.files = files;
    manifest.root_hash = manifest.compute_root_hash();

    let top = top_folder(&manifest.project, &manifest.version);
    let temporary = destination.with_extension("partial");
    let result = (|| -> std::io::Result<String> {
        let mut writer = crate::util::tarball::Writer::create(&temporary)?;
        let manifest_text = crate::util::canonical::to_pretty(
            &serde_json::to_value(&manifest).expect("manifests always serialise"),
        );
        writer.append(
            &format!("{top}/{MANIFEST}"),
            manifest_text.len() as u64,
            false,
            &mut manifest_text.as_bytes(),
        )?;
        for (name, source) in &members {
            let path = format!("{top}/{name}");
            match source {
                Source::File(file) => {
                    // Hashed again as it is copied: a file that changed since it was listed
                    // fails the archive instead of contradicting its manifest.
                    let expected = &manifest.files[name];
                    let mut reader = HashingReader {
                        inner: std::fs::File::open(file)?.take(expected.size),
                        hasher: Sha256::new(),
                    };
                    writer.append(&path, expected.size, false, &mut reader)?;
                    let sha256 = hex::encode(reader.hasher.finalize());
                    if sha256 != expected.sha256 {
                        return Err(std::io::Error::other(format!(
                            "`{}` changed while the archive was written",
                            file.display()
                        )));
                    }
                }
                Source::Bytes(bytes) => {
                    writer.append(&path, bytes.len() as u64, false, &mut bytes.as_slice())?
                }
            }
        }
        let sha = writer.finish()?;
        std::fs::rename(&temporary, destination)?;
        Ok(sha)
    })();
    match result {
        Ok(sha) => Ok((sha, manifest)),
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(Error::io(destination, e))
        }
    }
}

/// The unpacked copy of `target`'s bundle, checked against the bundle's manifest.
fn verified_unpacked(
    store: &Store,
    target: &str,
    key: &str,
) -> Result<(PathBuf, crate::store::manifest::Manifest)> {
    store
        .verified_unpacked(key)
        .map(|(directory, manifest, _)| (directory, manifest))
        .map_err(|e| Error::store(format!("target `{target}`: {e}")))
}
