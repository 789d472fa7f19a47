//! Writing an archive: gather members, hash them, write `MANIFEST.json` first, then every
//! member in sorted order, into a temporary file that is renamed into place when complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ArchiveManifest, MANIFEST, Mode, is_metric_file, report, top_folder};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::manifest::FileEntry;

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
}

/// Writes the archive to `destination`; returns its sha256 and the final manifest.
pub fn write(request: Request<'_>, destination: &Path) -> Result<(String, ArchiveManifest)> {
    let Request {
        mut manifest,
        store,
        recipes,
        documents,
    } = request;
    let mut members: BTreeMap<String, Source> = BTreeMap::new();
    for (name, path) in recipes {
        members.insert(name, Source::File(path));
    }
    for (name, target) in &manifest.targets {
        match manifest.mode {
            Mode::Full => {
                members.insert(
                    format!("bundles/{}.tar.zst", target.key),
                    Source::File(store.bundle_path(&target.key)),
                );
            }
            Mode::FiguresOnly => {
                let (directory, _) = store.unpacked(&target.key)?;
                for path in target.files.keys().filter(|p| is_metric_file(p)) {
                    members.insert(
                        format!("files/{name}/{path}"),
                        Source::File(directory.join("files").join(path)),
                    );
                }
            }
        }
        if target.requested {
            let (directory, bundle_manifest) = store.unpacked(&target.key)?;
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
        Source::Bytes(report::reproducibility_report(&manifest).into_bytes()),
    );

    let mut files = BTreeMap::new();
    for (name, source) in &members {
        let (sha256, size) = match source {
            Source::File(path) => crate::util::hash::file(path).map_err(|e| Error::io(path, e))?,
            Source::Bytes(bytes) => (crate::util::hash::bytes(bytes), bytes.len() as u64),
        };
        files.insert(name.clone(), FileEntry { sha256, size });
    }
    manifest.files = files;
    manifest.root_hash = manifest.compute_root_hash();

    let top = top_folder(&manifest.project, &manifest.version);
    let temporary = destination.with_extension("partial");
    let result = (|| -> std::io::Result<()> {
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
                Source::File(file) => writer.append_file(&path, file)?,
                Source::Bytes(bytes) => {
                    writer.append(&path, bytes.len() as u64, false, &mut bytes.as_slice())?
                }
            }
        }
        writer.finish()?;
        std::fs::rename(&temporary, destination)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(Error::io(destination, e));
    }
    let (sha, _) = crate::util::hash::file(destination).map_err(|e| Error::io(destination, e))?;
    Ok((sha, manifest))
}
