//! Materialisation: copying a bundle's working-tree outputs back into the project, so a fresh
//! clone with a filled store (or an imported archive) has every output file in place.
//!
//! A file whose contents already match is left alone; others are replaced atomically, and only
//! with content whose sha256 matches the manifest: a damaged unpacked copy is never copied out.

use std::path::Path;

use crate::error::{Error, Result};
use crate::store::manifest::Manifest;

/// Whether every `manifest.worktree` file is in `project_root` with the content the manifest
/// records.
pub fn in_place(manifest: &Manifest, project_root: &Path) -> bool {
    manifest.worktree.iter().all(|relative| {
        manifest.files.get(relative).is_some_and(|expected| {
            crate::util::hash::file(&project_root.join(relative))
                .is_ok_and(|(sha, _)| sha == expected.sha256)
        })
    })
}

/// Copies `manifest.worktree` files from the unpacked bundle at `directory` into
/// `project_root`. `Ok(Some(detail))`: the unpacked copy is damaged (nothing wrong was
/// written; the caller unpacks the bundle again and retries).
pub fn worktree(
    directory: &Path,
    manifest: &Manifest,
    project_root: &Path,
) -> Result<Option<String>> {
    for relative in &manifest.worktree {
        let source = directory.join("files").join(relative);
        let destination = project_root.join(relative);
        let expected = manifest.files.get(relative);
        if let Some(expected) = expected
            && crate::util::hash::file(&destination).is_ok_and(|(sha, _)| sha == expected.sha256)
        {
            continue;
        }
        let Ok(contents) = std::fs::read(&source) else {
            return Ok(Some(format!("`files/{relative}` cannot be read")));
        };
        let sha256 = crate::util::hash::bytes(&contents);
        match expected {
            Some(expected) if expected.sha256 == sha256 => {}
            Some(expected) => {
                return Ok(Some(format!(
                    "`files/{relative}` has sha256 {}, the manifest says {}",
                    &sha256[..12],
                    &expected.sha256[..expected.sha256.len().min(12)]
                )));
            }
            None => return Ok(Some(format!("`files/{relative}` is not in the manifest"))),
        }
        let parent = destination.parent().unwrap_or(project_root);
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        crate::util::fs::write_replace(&destination, &contents, false)?;
    }
    Ok(None)
}
