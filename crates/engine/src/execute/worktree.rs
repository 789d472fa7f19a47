//! Keeping the working tree as it was when an action that writes into it fails or is
//! interrupted: the files it declares (see `Action::worktree_outputs`) are copied aside before
//! it runs, and afterwards each one it changed is put back, or removed if it did not exist.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What a file looked like before the action ran.
struct Before {
    relative: String,
    /// Size, mtime, ctime and inode, and where its copy is; `None`: it did not exist.
    saved: Option<(Stamp, PathBuf)>,
}

type Stamp = (u64, i64, i64, i64, i64, u64);

fn stamp(metadata: &std::fs::Metadata) -> Stamp {
    (
        metadata.len(),
        metadata.mtime(),
        metadata.mtime_nsec(),
        metadata.ctime(),
        metadata.ctime_nsec(),
        metadata.ino(),
    )
}

/// The declared working-tree files of one action, as they were before it ran.
pub struct Snapshot {
    files: Vec<Before>,
}

/// What [`Snapshot::restore`] did.
#[derive(Debug, Default)]
pub struct Restored {
    /// Files put back as they were before the run.
    pub restored: Vec<String>,
    /// Partial files removed (they did not exist before the run).
    pub removed: Vec<String>,
}

impl Snapshot {
    /// Copies each of `outputs` that exists under `project_root` into `aside`.
    pub fn take(project_root: &Path, outputs: &[String], aside: &Path) -> Result<Snapshot> {
        let mut files = Vec::with_capacity(outputs.len());
        for relative in outputs {
            let path = project_root.join(relative);
            let saved = match std::fs::symlink_metadata(&path) {
                Ok(metadata) if metadata.is_file() => {
                    let copy = aside.join(relative);
                    if let Some(parent) = copy.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                    }
                    std::fs::copy(&path, &copy).map_err(|e| Error::io(&copy, e))?;
                    Some((stamp(&metadata), copy))
                }
                _ => None,
            };
            files.push(Before {
                relative: relative.clone(),
                saved,
            });
        }
        Ok(Snapshot { files })
    }

    /// Puts back every file the action changed; says which.
    pub fn restore(&self, project_root: &Path) -> Result<Restored> {
        let mut done = Restored::default();
        for before in &self.files {
            let path = project_root.join(&before.relative);
            let now = std::fs::symlink_metadata(&path).ok();
            match (&before.saved, now) {
                (None, None) => {}
                (None, Some(metadata)) => {
                    if metadata.is_dir() {
                        continue;
                    }
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    done.removed.push(before.relative.clone());
                }
                (Some((old, _)), Some(metadata))
                    if metadata.is_file() && stamp(&metadata) == *old => {}
                (Some((_, copy)), _) => {
                    let contents = std::fs::read(copy).map_err(|e| Error::io(copy, e))?;
                    if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
                        let _ = std::fs::remove_file(&path);
                    }
                    crate::util::fs::write_replace(&path, &contents, false)?;
                    done.restored.push(before.relative.clone());
                }
            }
        }
        Ok(done)
    }
}
