//! Advisory file locks (`flock`), released by the kernel when the process dies, so a killed
//! cpbuild never leaves a stale lock behind.
//!
//! - `store.lock`: shared by every build, exclusive for `gc` and `clean`.
//! - `locks/keys.lock`: one byte per key (at an offset derived from the key), locked
//!   exclusively while one process builds that key; a second process waits, then finds the
//!   bundle committed and does not build it again. These are open-file-description locks
//!   (`F_OFD_SETLK`): owned by the open file, so two threads of one process exclude each other
//!   too, and one file serves every key (no file is created per target). Elsewhere than on
//!   Linux, each key has its own `locks/<key>.lock` instead.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
    /// The byte locked, for a lock on one byte of a shared file.
    byte: Option<i64>,
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
            byte: None,
        }
    }

    /// Takes the exclusive lock on byte `byte` of the file at `path` (see the module doc),
    /// calling `on_wait` once before blocking when another holder has it. Such a lock cannot
    /// name its holder, so `on_wait` gets `None`.
    #[cfg(target_os = "linux")]
    pub fn acquire_byte(
        path: &Path,
        byte: i64,
        on_wait: impl FnOnce(Option<u32>),
    ) -> Result<FileLock> {
        let file = open(path)?;
        if !lock_byte(&file, byte, false).map_err(|e| Error::io(path, e))? {
            on_wait(None);
            lock_byte(&file, byte, true).map_err(|e| Error::io(path, e))?;
        }
        Ok(FileLock {
            file,
            path: path.to_path_buf(),
            byte: Some(byte),
        })
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
        // A byte lock goes when its file is closed, which follows.
        if self.byte.is_none() {
            let _ = self.file.unlock();
        }
    }
}

/// Locks byte `byte` of `file` exclusively with an open-file-description lock, waiting for it
/// if `wait`; returns whether it was taken (always, when waiting).
#[cfg(target_os = "linux")]
fn lock_byte(file: &File, byte: i64, wait: bool) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero `flock` is a valid value of this plain C struct.
    let mut request: libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = libc::F_WRLCK as _;
    request.l_whence = libc::SEEK_SET as _;
    request.l_start = byte;
    request.l_len = 1;
    let command = if wait {
        libc::F_OFD_SETLKW
    } else {
        libc::F_OFD_SETLK
    };
    loop {
        // SAFETY: `file` is open and `request` a valid `flock` for the duration of the call.
        let result = unsafe { libc::fcntl(file.as_raw_fd(), command, &request) };
        if result == 0 {
            return Ok(true);
        }
        let error = std::io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN | libc::EACCES) if !wait => return Ok(false),
            _ => return Err(error),
        }
    }
}

/// Opens (creating) the lock file at `path`.
fn open(path: &Path) -> Result<File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Opens the lock file at `path` and tries to take it without blocking: the file, and whether
/// it was taken (`false`: another process holds it).
fn open_and_try(path: &Path, mode: LockMode) -> Result<(File, bool)> {
    let file = open(path)?;
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
