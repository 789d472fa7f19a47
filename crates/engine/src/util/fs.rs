//! File helpers: atomic writes (temp file, fsync, rename, fsync directory) and permissions.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Flushes a directory entry to disk, so that a rename inside it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Writes `contents` to `path` atomically and durably: readers see the old file or the whole
/// new one, and after a crash the new one survives.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    write_replace(path, contents, true)
}

/// Like [`write_atomic`] without the fsyncs, for files that can be recreated (records, run
/// facts, materialised outputs): still never half-written, much cheaper on 10,000 targets.
pub fn write_replace(path: &Path, contents: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(contents)?;
        if durable {
            file.sync_all()?;
        }
        std::fs::rename(&temporary, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(Error::io(path, e));
    }
    if durable { sync_dir(dir) } else { Ok(()) }
}

/// Makes every file and directory under `root` read-only (directories keep `x`).
pub fn make_read_only(root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in walk(root)? {
        let metadata = std::fs::symlink_metadata(&entry)?;
        let mode = if metadata.is_dir() { 0o555 } else { 0o444 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode))?;
    }
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o555))
}

/// Makes a tree writable again so it can be deleted.
pub fn make_writable(root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !root.exists() {
        return Ok(());
    }
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))?;
    for entry in walk(root)? {
        let metadata = std::fs::symlink_metadata(&entry)?;
        if metadata.is_dir() {
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

/// Removes a directory tree, read-only parts included; a missing tree is fine.
pub fn remove_tree(root: &Path) -> std::io::Result<()> {
    if !root.exists() {
        return Ok(());
    }
    make_writable(root)?;
    std::fs::remove_dir_all(root)
}

/// Every path under `root` (not `root` itself), sorted, directories before their contents.
pub fn walk(root: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut children: Vec<_> = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        children.sort();
        for child in children.into_iter().rev() {
            if std::fs::symlink_metadata(&child)?.is_dir() {
                stack.push(child.clone());
            }
            out.push(child);
        }
    }
    out.sort();
    Ok(out)
}
