//! Materialisation: copying a bundle's working-tree outputs back into the project, so a fresh
//! clone with a filled store (or an imported archive) has every output file in place.
//!
//! A file whose contents already match is left alone; others are replaced atomically.

use std::path::Path;

use crate::error::{Error, Result};
use crate::store::manifest::Manifest;

/// Copies `manifest.worktree` files from the unpacked bundle at `directory` into `project_root`.
pub fn worktree(directory: &Path, manifest: &Manifest, project_root: &Path) -> Result<()> {
    for relative in &manifest.worktree {
        let source = directory.join("files").join(relative);
        let destination = project_root.join(relative);
        if let Some(expected) = manifest.files.get(relative)
            && destination.is_file()
            && crate::util::hash::file(&destination).is_ok_and(|(sha, _)| sha == expected.sha256)
        {
            continue;
        }
        let parent = destination.parent().unwrap_or(project_root);
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let contents = std::fs::read(&source).map_err(|e| Error::io(&source, e))?;
        crate::util::fs::write_replace(&destination, &contents, false)?;
    }
    Ok(())
}
