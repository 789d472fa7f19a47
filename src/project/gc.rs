//! Garbage collection: a bundle is live when some current target, in any profile, has its key;
//! everything else in the store goes, with the unpacked copies whose bundle is gone, the
//! scratch space and the families of keys no bundle is left in.

use std::collections::BTreeSet;

use cpbuild_engine::action::BuildOptions;
use cpbuild_engine::error::{Error, Result};
use cpbuild_engine::plan::{Build, Planner};
use cpbuild_engine::store::Store;

use super::{Project, resolved_graph};

/// What [`Project::collect_garbage`] removed and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Bundles removed.
    pub removed: usize,
    /// Bytes they took.
    pub freed: u64,
    /// Bundles kept.
    pub kept: usize,
}

impl Project {
    /// Every key any current target has, in any profile.
    pub fn live_keys(&self, store: &Store) -> Result<BTreeSet<String>> {
        let mut profiles: Vec<String> = self.recipes.profiles.keys().cloned().collect();
        if profiles.is_empty() {
            profiles.push(cpbuild_engine::recipe::DEFAULT_PROFILE.to_string());
        }
        let mut keys = BTreeSet::new();
        for profile in profiles {
            let options = BuildOptions {
                profile: profile.clone(),
                settings: self.options.settings.clone(),
            };
            let graph = resolved_graph(
                &self.recipes,
                &self.registry,
                Some(store),
                &self.root,
                &options,
            )?;
            let planner = Planner {
                build: Build {
                    graph: &graph,
                    registry: &self.registry,
                    store,
                    project_root: &self.root,
                    options: &options,
                },
                force: false,
            };
            // Targets waiting on a grid that is not expanded have no key: nothing of theirs is
            // in the store for their current inputs.
            let all: Vec<usize> = (0..graph.targets.len())
                .filter(|&id| graph.waiting_grids(&[id]).is_empty())
                .collect();
            let plan = planner.plan(&all).map_err(|e| {
            Error::usage(format!(
                "cannot compute the keys of profile `{profile}`, so gc cannot tell what is live: {e}"
            ))
        })?;
            keys.extend(plan.items.into_iter().map(|i| i.key));
        }
        Ok(keys)
    }

    /// Removes from `store` every bundle no current target references (see
    /// [`Project::live_keys`]), the unpacked copies whose bundle is gone, the scratch space and
    /// the empty families. The caller holds the store's exclusive lock.
    pub fn collect_garbage(&self, store: &Store) -> Result<Collected> {
        let live = self.live_keys(store)?;
        let mut removed = 0usize;
        let mut freed = 0u64;
        for key in store.keys()? {
            if !live.contains(&key) {
                freed += store.remove(&key)?;
                removed += 1;
            }
        }
        // Unpacked copies whose bundle is gone.
        let unpacked = store.root().join("unpacked");
        for entry in std::fs::read_dir(&unpacked)
            .map_err(|e| Error::io(&unpacked, e))?
            .flatten()
        {
            let key = entry.file_name().to_string_lossy().into_owned();
            if !store.bundle_path(&key).exists() {
                cpbuild_engine::util::fs::remove_tree(&entry.path())
                    .map_err(|e| Error::io(entry.path(), e))?;
            }
        }
        store.remove_scratch()?;
        store.prune_families()?;
        Ok(Collected {
            removed,
            freed,
            kept: live.len().min(store.keys()?.len()),
        })
    }
}
