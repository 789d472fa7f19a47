//! File helpers: atomic writes (temp file, fsync, rename, fsync directory), fsyncs deferred to
//! a background thread, and permissions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

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

/// Appends `text` to `path` (created if needed) with a single write, holding the file's lock:
/// on a local filesystem appends are atomic anyway; on a network filesystem (a cluster's
/// shared store) the lock is what keeps two machines' lines from overwriting each other. The
/// lock goes when the returned file is closed.
pub fn append_locked(path: &Path, text: &str) -> std::io::Result<std::fs::File> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.lock()?;
    file.write_all(text.as_bytes())?;
    Ok(file)
}

/// Files and directories whose fsync can wait: a single background thread flushes them, a
/// batch at a time (every directory once per batch, however many entries changed in it), so
/// that many small commits do not each wait for the disk. [`DeferredSync::flush`] waits until
/// everything handed over so far is on disk.
#[derive(Default, Clone)]
pub struct DeferredSync {
    state: Arc<(Mutex<SyncQueue>, Condvar)>,
}

#[derive(Default)]
struct SyncQueue {
    /// Files to fsync, each with a line to append to another file once it is on disk.
    files: Vec<(PathBuf, (PathBuf, String))>,
    directories: std::collections::BTreeSet<PathBuf>,
    /// Whether the thread is running (it exits once the queue is empty).
    running: bool,
    /// Whether someone waits in [`DeferredSync::flush`] (the thread then stops gathering).
    waiting: bool,
    /// The first failure since the last flush.
    error: Option<(PathBuf, std::io::Error)>,
}

impl std::fmt::Debug for DeferredSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeferredSync")
    }
}

impl DeferredSync {
    /// Hands over `file` and `directory` to be fsynced; once `file` is on disk, `line` is
    /// appended to `note` ([`append_locked`], one write for all the lines a batch has for it),
    /// which is then fsynced too.
    pub fn defer_then_note(&self, file: &Path, note: &Path, line: String, directory: &Path) {
        let (lock, _) = &*self.state;
        let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
        queue
            .files
            .push((file.to_path_buf(), (note.to_path_buf(), line)));
        queue.directories.insert(directory.to_path_buf());
        if queue.running {
            return;
        }
        queue.running = true;
        let state = Arc::clone(&self.state);
        let spawned = std::thread::Builder::new()
            .name("cpbuild-sync".into())
            .spawn(move || sync_until_empty(&state));
        if spawned.is_err() {
            // No thread: flush in the caller instead.
            drop(queue);
            sync_until_empty(&self.state);
        }
    }

    /// Waits until everything handed over so far is on disk; the first failure since the
    /// last flush, if any.
    pub fn flush(&self) -> Result<()> {
        let (lock, done) = &*self.state;
        let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
        while queue.running {
            queue.waiting = true;
            done.notify_all();
            queue = done.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
        queue.waiting = false;
        match queue.error.take() {
            Some((path, e)) => Err(Error::io(path, e)),
            None => Ok(()),
        }
    }
}

/// How long the background thread of [`DeferredSync`] lets commits gather before it flushes
/// them.
const BATCH_MILLIS: u64 = 20;

/// The background thread of [`DeferredSync`]: fsyncs batches until the queue is empty.
fn sync_until_empty(state: &(Mutex<SyncQueue>, Condvar)) {
    let (lock, done) = state;
    loop {
        let (files, directories) = {
            // Let a batch gather (unless the build waits for it): one fsync of a file commits
            // a journalling filesystem's whole transaction, so the rest then costs little.
            let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
            if !queue.waiting {
                queue = done
                    .wait_timeout(queue, std::time::Duration::from_millis(BATCH_MILLIS))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            if queue.files.is_empty() && queue.directories.is_empty() {
                queue.running = false;
                done.notify_all();
                return;
            }
            (
                std::mem::take(&mut queue.files),
                std::mem::take(&mut queue.directories),
            )
        };
        let mut failure = None;
        let mut note = |path: PathBuf, result: std::io::Result<()>| match result {
            // A file removed since (a quarantined bundle, say) needs no flushing.
            Err(e) if e.kind() != std::io::ErrorKind::NotFound && failure.is_none() => {
                failure = Some((path, e));
            }
            _ => {}
        };
        // Files first, then the notes written once they are on disk, then the directories
        // that name them all.
        let mut opened = Vec::new();
        for (path, then) in files {
            match std::fs::File::open(&path) {
                Ok(file) => opened.push((path, file, then)),
                Err(e) => note(path, Err(e)),
            }
        }
        // The lines for one file are appended with one write (several processes may append).
        let mut notes = std::collections::BTreeMap::<PathBuf, String>::new();
        for (path, result, (note_path, line)) in sync_all_of(opened) {
            if result.is_ok() {
                notes.entry(note_path).or_default().push_str(&line);
            }
            note(path, result);
        }
        let mut appended = Vec::new();
        for (path, lines) in notes {
            let result = append_locked(&path, &lines);
            match result {
                Ok(file) => appended.push((path, file, ())),
                Err(e) => note(path, Err(e)),
            }
        }
        for (path, result, ()) in sync_all_of(appended) {
            note(path, result);
        }
        for path in directories {
            let result = std::fs::File::open(&path).and_then(|f| f.sync_all());
            note(path, result);
        }
        if let Some(failure) = failure {
            let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
            queue.error.get_or_insert(failure);
        }
    }
}

/// Fsyncs every file of `files`, returning each with its result. The writeback of all of them
/// is started before the first fsync waits: a journalling filesystem (ext4) then allocates
/// their blocks in one transaction, which the first fsync commits, and the others find their
/// changes committed already, instead of each fsync waiting for a journal commit of its own.
fn sync_all_of<T>(
    files: Vec<(PathBuf, std::fs::File, T)>,
) -> Vec<(PathBuf, std::io::Result<()>, T)> {
    #[cfg(target_os = "linux")]
    for (_, file, _) in &files {
        use std::os::fd::AsRawFd;
        // SAFETY: plain syscall on an open descriptor; only starts writeback (its result does
        // not matter: the fsync below is what is relied on).
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    files
        .into_iter()
        .map(|(path, file, then)| {
            let result = file.sync_all();
            (path, result, then)
        })
        .collect()
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
