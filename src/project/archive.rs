//! What `archive`, `report` and `report --html` read from the store: the archive manifest of
//! the requested targets' closure (refusing targets that are not built for their current
//! inputs), and the HTML report of the targets a manifest records.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cpbuild_engine::archive::{ArchiveManifest, ArchivedTarget, FORMAT, Mode};
use cpbuild_engine::error::{Error, Result};
use cpbuild_engine::plan::ItemState;
use cpbuild_engine::store::Store;

use super::Project;
use crate::golden::GOLDEN_DIR;

impl Project {
    /// The archive manifest of the roots' closure as it stands in `store` (no files or root hash
    /// yet): what `archive` writes, and what `report` and `report --html` read.
    pub fn archive_manifest(
        &self,
        store: &Store,
        roots: &[usize],
        version: String,
        mode: Mode,
        timings: bool,
    ) -> Result<ArchiveManifest> {
        Ok(ArchiveManifest {
            format: FORMAT,
            project: self.name(),
            version,
            cpbuild: cpbuild_engine::VERSION.to_string(),
            profile: self.options.profile.clone(),
            mode,
            requested: self.requested_names(roots),
            targets: self.archived_targets(store, roots, timings)?,
            files: Default::default(),
            root_hash: String::new(),
        })
    }

    /// Every target the roots depend on, as the archive records them; refuses dirty ones.
    fn archived_targets(
        &self,
        store: &Store,
        roots: &[usize],
        timings: bool,
    ) -> Result<BTreeMap<String, ArchivedTarget>> {
        let plan = self.planner(store, false).plan(roots)?;
        let dirty: Vec<String> = plan
            .items
            .iter()
            .filter_map(|item| match &item.state {
                ItemState::Dirty(reasons) => {
                    let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                    Some(format!(
                        "  - `{}`: {}",
                        self.graph.target(item.id).spec.name,
                        text.join("; ")
                    ))
                }
                ItemState::Fresh => None,
            })
            .collect();
        if !dirty.is_empty() {
            return Err(Error::Usage {
                message: format!(
                    "{} target{} must be built first:\n{}",
                    dirty.len(),
                    if dirty.len() == 1 { "" } else { "s" },
                    dirty.join("\n")
                ),
                help: Some("build them (`cpbuild TARGET...`), or pass `--build`".into()),
            });
        }
        let mut targets = BTreeMap::new();
        for item in &plan.items {
            let spec = &self.graph.target(item.id).spec;
            let manifest = store
                .bundle_manifest(&item.key)
                .map_err(|e| Error::store(format!("target `{}`: {e}", spec.name)))?;
            let bundle_sha256 = store.recorded_sha(&item.key).ok_or_else(|| {
                Error::store(format!(
                    "the bundle of `{}` has no recorded sha256",
                    spec.name
                ))
            })?;
            let seconds = if timings {
                store.read_run(&item.key).map(|r| r.finished - r.started)
            } else {
                None
            };
            targets.insert(
                spec.name.clone(),
                ArchivedTarget {
                    key: item.key.clone(),
                    fingerprint: manifest.fingerprint,
                    bundle_sha256,
                    machine: manifest.machine,
                    info: manifest.info,
                    files: manifest.files,
                    requested: roots.contains(&item.id),
                    description: spec.description.clone(),
                    seconds,
                },
            );
        }
        Ok(targets)
    }

    /// The recipe files an archive carries: each as the archive names it (relative to the
    /// project) and where it is.
    pub fn recipe_files(&self) -> BTreeMap<String, PathBuf> {
        self.recipes
            .files
            .iter()
            .map(|file| {
                let relative = file.display_path.to_string_lossy().into_owned();
                (relative.clone(), self.root.join(&relative))
            })
            .collect()
    }

    /// The HTML report of the targets `manifest` records, from their bundles in `store`.
    pub fn html_report(&self, store: &Store, manifest: &ArchiveManifest) -> Result<String> {
        let groups = self
            .graph
            .targets
            .iter()
            .filter(|target| !target.spec.grid.is_empty())
            .map(|target| (target.spec.name.clone(), target.spec.group.clone()))
            .collect();
        let files = |key: &str| {
            store
                .unpacked(key)
                .map(|(directory, _)| directory.join("files"))
        };
        crate::report_html::render(&crate::report_html::Source {
            manifest,
            files: &files,
            groups,
            golden_dir: self.root.join(GOLDEN_DIR),
            golden_display: GOLDEN_DIR.into(),
        })
    }
}
