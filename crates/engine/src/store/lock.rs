//! Advisory file locks (`flock`), released by the kernel when the process dies, so a killed
//! cpbuild never leaves a stale lock behind.
//!
//! - `store.lock`: shared by every build, exclusive for `gc` and `clean`.
//! - `locks/<key>.lock`: exclusive while one process builds that key; a second process waits,
//!   then finds the bundle committed and does not build it again.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

/// Shared or exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Many holders.
    Shared,
    /// One holder.
    Exclusive,
}

impl FileLock {
    /// Takes the lock at `path`, calling `on_wait` once (with the holder's pid, if it wrote
    /// one) before blocking when another process holds it.
    pub fn acquire(
        path: &Path,
        mode: LockMode,
        on_wait: impl FnOnce(Option<u32>),
    ) -> Result<FileLock> {
        let (mut file, taken) = open_and_try(path, mode)?;
        if !taken {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            on_wait(text.trim().parse().ok());
            match mode {
                LockMode::Shared => file.lock_shared(),
                LockMode::Exclusive => file.lock(),
            }
            .map_err(|e| Error::io(path, e))?;
        }
        Ok(FileLock::held(file, path, mode))
    }

    /// Takes the lock at `path` if no other process holds it; `None` if one does.
    pub fn try_acquire(path: &Path, mode: LockMode) -> Result<Option<FileLock>> {
        let (file, taken) = open_and_try(path, mode)?;
        Ok(taken.then(|| FileLock::held(file, path, mode)))
    }

    /// The lock just taken on `file`; an exclusive holder writes its pid, which a process
    /// that waits for it names.
    fn held(mut file: File, path: &Path, mode: LockMode) -> FileLock {
        if mode == LockMode::Exclusive {
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = write!(file, "{}", std::process::id());
        }
        FileLock {
            file,
            path: path.to_path_buf(),
        }
    }

    /// Turns a held exclusive lock into a shared one.
    pub fn downgrade(&self) -> Result<()> {
        self.file
            .lock_shared()
            .map_err(|e| Error::io(&self.path, e))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Opens (creating) the lock file at `path` and tries to take it without blocking: the file,
/// and whether it was taken (`false`: another process holds it).
fn open_and_try(path: &Path, mode: LockMode) -> Result<(File, bool)> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let attempt = match mode {
        LockMode::Shared => file.try_lock_shared(),
        LockMode::Exclusive => file.try_lock(),
    };
    match attempt {
        Ok(()) => Ok((file, true)),
        Err(TryLockError::WouldBlock) => Ok((file, false)),
        Err(TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}
