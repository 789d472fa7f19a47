//! Walking input folders. Symbolic links are followed, to folders as to files, so that
//! everything a command can read through an input folder is hashed into its key; a dangling
//! link, a loop of links or a special file (a FIFO, a socket) is refused, never skipped.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why an input folder cannot be hashed.
#[derive(Debug)]
pub enum WalkError {
    /// Listing or reading failed.
    Io(PathBuf, std::io::Error),
    /// A link points at nothing.
    Dangling { link: PathBuf, target: PathBuf },
    /// A link leads back into a folder that contains it.
    Loop { link: PathBuf, target: PathBuf },
    /// Neither a file nor a folder.
    Special(PathBuf),
}

/// Every file below `dir` (following links), sorted by path, as paths below `dir`'s own path
/// (a file reached through the link `dir/shared` is `dir/shared/x.txt`).
pub fn input_files(dir: &Path) -> Result<Vec<PathBuf>, WalkError> {
    let metadata = std::fs::metadata(dir).map_err(|e| WalkError::Io(dir.to_path_buf(), e))?;
    let mut ancestors = vec![(metadata.dev(), metadata.ino())];
    let mut out = Vec::new();
    visit(dir, &mut ancestors, &mut out)?;
    out.sort();
    Ok(out)
}

fn visit(
    dir: &Path,
    ancestors: &mut Vec<(u64, u64)>,
    out: &mut Vec<PathBuf>,
) -> Result<(), WalkError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| WalkError::Io(path, e)
    };
    let mut children: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(io(dir))?;
    children.sort();
    for child in children {
        let own = std::fs::symlink_metadata(&child).map_err(io(&child))?;
        let metadata = if own.file_type().is_symlink() {
            let target = std::fs::read_link(&child).map_err(io(&child))?;
            match std::fs::metadata(&child) {
                Ok(metadata) => metadata,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(WalkError::Dangling {
                        link: child,
                        target,
                    });
                }
                // ELOOP: a link that leads to itself.
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                    return Err(WalkError::Loop {
                        link: child,
                        target,
                    });
                }
                Err(e) => return Err(WalkError::Io(child, e)),
            }
        } else {
            own
        };
        if metadata.is_dir() {
            let id = (metadata.dev(), metadata.ino());
            if ancestors.contains(&id) {
                let target = std::fs::read_link(&child).unwrap_or_else(|_| child.clone());
                return Err(WalkError::Loop {
                    link: child,
                    target,
                });
            }
            ancestors.push(id);
            visit(&child, ancestors, out)?;
            ancestors.pop();
        } else if metadata.is_file() {
            out.push(child);
        } else {
            return Err(WalkError::Special(child));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_followed_and_loops_and_dangling_links_refused() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::create_dir_all(root.path().join("elsewhere")).unwrap();
        std::fs::write(data.join("sub/a.txt"), "a").unwrap();
        std::fs::write(root.path().join("elsewhere/b.txt"), "b").unwrap();
        std::os::unix::fs::symlink("../elsewhere", data.join("shared")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", data.join("link.txt")).unwrap();
        let files = input_files(&data).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(&data).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["link.txt", "shared/b.txt", "sub/a.txt"]);

        std::os::unix::fs::symlink("..", data.join("sub/up")).unwrap();
        assert!(matches!(input_files(&data), Err(WalkError::Loop { .. })));
        std::fs::remove_file(data.join("sub/up")).unwrap();
        std::os::unix::fs::symlink("self", data.join("self")).unwrap();
        assert!(matches!(input_files(&data), Err(WalkError::Loop { .. })));
        std::fs::remove_file(data.join("self")).unwrap();
        std::os::unix::fs::symlink("nowhere", data.join("gone")).unwrap();
        assert!(matches!(
            input_files(&data),
            Err(WalkError::Dangling { .. })
        ));
    }
}
