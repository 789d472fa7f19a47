//! The bundles' index, `bundles/index.jsonl`: the sha256 each bundle was committed with, the
//! wall-clock facts of the run that built it, and the commit's stamp once the bundle is on
//! disk. One line is appended per event, so that a commit creates no file besides its bundle
//! (on a filesystem where allocating an inode is what a small commit costs most, that counts).
//!
//! ```text
//! {"key":K,"sha256":S,"run":{…}}          a commit of K (an import has no "run"): from this
//!                                         line on, K's record
//! {"key":K,"verified":"<stamp>"}          K's bundle as committed is on disk; the stamp holds
//!                                         its size, mtime, inode and sha256
//! {"key":K,"sha256":S,"run":{…},"verified":"<stamp>"}   the same two, merged by compaction
//! ```
//!
//! The last commit line of a key is its record; a stamp counts only for the bundle (and the
//! sha256) it names. Each line is appended with a single write, so several processes can
//! append at once. A line torn by a crash runs into the next one without a line break:
//! reading takes each line from its last `{"key":`, so only the torn line is lost (its bundle
//! then has no record, and is reported corrupt and rebuilt: never trusted).
//!
//! Readers keep what they read, keyed by the file's inode and the length read, and read only
//! what was appended since. The file is compacted (one line per key whose bundle is present)
//! by a process that holds the store exclusively, once it holds more than twice as many lines
//! as that, plus [`SLACK`].

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::RunRecord;
use crate::error::{Error, Result};

/// Lines a compacted index may grow by before it is compacted again, beyond twice its size.
const SLACK: usize = 100;

/// What the index says about one key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    /// The sha256 its bundle was committed with.
    pub sha256: String,
    /// The run that built it (none for an imported bundle).
    pub run: Option<RunRecord>,
    /// The stamp of the committed bundle, once on disk (size, mtime, inode, sha256).
    pub verified: Option<String>,
}

/// One line of the index.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Line {
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run: Option<RunRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verified: Option<String>,
}

impl Line {
    /// The line recording a commit (or an import) of `key`.
    pub(crate) fn commit(key: &str, sha256: &str, run: Option<RunRecord>) -> Line {
        Line {
            key: key.to_string(),
            sha256: Some(sha256.to_string()),
            run,
            verified: None,
        }
    }

    /// The line saying that `key`'s committed bundle, with `stamp`, is on disk.
    pub(crate) fn verified(key: &str, stamp: String) -> Line {
        Line {
            key: key.to_string(),
            sha256: None,
            run: None,
            verified: Some(stamp),
        }
    }

    /// The line as appended: JSON and a line break.
    pub(crate) fn text(&self) -> String {
        let mut text = serde_json::to_string(self).expect("index lines always serialise");
        text.push('\n');
        text
    }
}

/// How far an append-only file of lines has been read: which file (a compaction replaces it)
/// and up to which byte (the end of the last complete line). Shared by the bundles' index and
/// the `--explain` records.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// The inode of the file read.
    inode: u64,
    /// The bytes read.
    read: u64,
}

/// What [`Tail::appended`] found.
#[derive(Debug, Default)]
pub(crate) struct Appended {
    /// The file was replaced, shortened or removed: what was derived from the lines read
    /// before is void (the lines below are the whole file's).
    pub restart: bool,
    /// The complete lines appended since the last call.
    pub lines: Vec<String>,
    /// Bytes after the last complete line (a line being written, or torn by a crash): read
    /// again next time, with what follows them.
    pub partial: bool,
}

impl Tail {
    /// The lines appended to `path` since the last call.
    pub(crate) fn appended(&mut self, path: &Path) -> Appended {
        use std::os::unix::fs::MetadataExt;
        // Opened before its length is read: on a network filesystem opening is what
        // revalidates a file another machine appended to (a bare `stat` may answer from a
        // cache, and a record missing from it would make a fresh bundle look corrupt).
        let Ok(mut file) = std::fs::File::open(path) else {
            *self = Tail::default();
            return Appended {
                restart: true,
                ..Appended::default()
            };
        };
        let Ok(metadata) = file.metadata() else {
            return Appended::default();
        };
        let restart = metadata.ino() != self.inode || metadata.len() < self.read;
        if restart {
            *self = Tail {
                inode: metadata.ino(),
                read: 0,
            };
        }
        let mut appended = Appended {
            restart,
            ..Appended::default()
        };
        if metadata.len() == self.read {
            return appended;
        }
        let mut bytes = Vec::new();
        let read = file
            .seek(std::io::SeekFrom::Start(self.read))
            .and_then(|_| file.read_to_end(&mut bytes));
        if read.is_err() {
            return appended;
        }
        let end = bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |end| end + 1);
        appended.partial = end < bytes.len();
        appended.lines = bytes[..end]
            .split_inclusive(|&b| b == b'\n')
            .map(|line| String::from_utf8_lossy(&line[..line.len() - 1]).into_owned())
            .collect();
        self.read += end as u64;
        appended
    }
}

/// The index as read so far.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// How far the file was read.
    tail: Tail,
    /// Each key's record.
    records: HashMap<String, Record>,
    /// The lines read (whether they parsed or not).
    lines: usize,
}

impl Index {
    /// The record of `key`, after reading what was appended to `path` since the last call.
    pub(crate) fn get(&mut self, path: &Path, key: &str) -> Option<Record> {
        self.refresh(path);
        self.records.get(key).cloned()
    }

    /// Reads what was appended to `path` since the last call (all of it, when the file was
    /// replaced or shortened).
    fn refresh(&mut self, path: &Path) {
        let appended = self.tail.appended(path);
        if appended.restart {
            self.records.clear();
            self.lines = 0;
        }
        for line in appended.lines {
            self.apply(&line);
        }
    }

    fn apply(&mut self, line: &str) {
        self.lines += 1;
        let Some(start) = line.rfind("{\"key\":") else {
            return;
        };
        let Ok(line) = serde_json::from_str::<Line>(&line[start..]) else {
            return;
        };
        match line.sha256 {
            Some(sha256) => {
                self.records.insert(
                    line.key,
                    Record {
                        sha256,
                        run: line.run,
                        verified: line.verified,
                    },
                );
            }
            None => {
                if let (Some(record), Some(stamp)) =
                    (self.records.get_mut(&line.key), line.verified)
                {
                    record.verified = Some(stamp);
                }
            }
        }
    }
}

/// Appends `line` to the index at `path` (see [`crate::util::fs::append_locked`]); returns
/// the file appended to, for a caller that fsyncs it.
pub(crate) fn append(path: &Path, line: &Line) -> Result<std::fs::File> {
    crate::util::fs::append_locked(path, &line.text()).map_err(|e| Error::io(path, e))
}

/// Rewrites the index at `path` with one line per key for which `present` holds, when it has
/// grown to more than twice that (plus [`SLACK`]); durably, since a lost index would make
/// every bundle untrusted. `index` is what was read of it so far (brought up to date, and
/// emptied when the file is rewritten). Unless `removed` (bundles may have been removed since
/// the last compaction: `gc`), every recorded key is taken as present until the count says
/// otherwise, which spares a build's start one `stat` per bundle. Returns whether it rewrote
/// the index. The caller holds the store exclusively.
pub(crate) fn compact(
    path: &Path,
    index: &mut Index,
    removed: bool,
    present: impl Fn(&str) -> bool,
) -> Result<bool> {
    index.refresh(path);
    if !removed && index.lines <= 2 * index.records.len() + SLACK {
        return Ok(false);
    }
    let mut live: Vec<(&String, &Record)> = index
        .records
        .iter()
        .filter(|(key, _)| present(key))
        .collect();
    if index.lines <= 2 * live.len() + SLACK {
        return Ok(false);
    }
    live.sort_by(|a, b| a.0.cmp(b.0));
    let text: String = live
        .into_iter()
        .map(|(key, record)| {
            Line {
                key: key.clone(),
                sha256: Some(record.sha256.clone()),
                run: record.run.clone(),
                verified: record.verified.clone(),
            }
            .text()
        })
        .collect();
    crate::util::fs::write_atomic(path, text.as_bytes())?;
    *index = Index::default();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn run(key: &str) -> RunRecord {
        RunRecord {
            target: "t".into(),
            key: key.into(),
            started: 1.0,
            finished: 2.0,
            host: "h".into(),
            profile: "ci".into(),
            bundle_sha256: "s".into(),
        }
    }

    #[test]
    fn the_last_commit_wins_and_stamps_follow_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.jsonl");
        let mut index = Index::default();
        assert!(index.get(&path, "a").is_none());
        append(&path, &Line::commit("a", "s1", Some(run("a")))).unwrap();
        append(&path, &Line::verified("a", "stamp1".into())).unwrap();
        let a = index.get(&path, "a").unwrap();
        assert_eq!(
            (a.sha256.as_str(), a.verified.as_deref()),
            ("s1", Some("stamp1"))
        );
        append(&path, &Line::commit("a", "s2", None)).unwrap();
        let a = index.get(&path, "a").unwrap();
        assert_eq!((a.sha256.as_str(), a.verified), ("s2", None));
        assert!(a.run.is_none());
    }

    #[test]
    fn a_torn_line_loses_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.jsonl");
        append(&path, &Line::commit("a", "s1", None)).unwrap();
        let torn = Line::commit("b", "s2", None).text();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&torn.as_bytes()[..20])
            .unwrap();
        let mut index = Index::default();
        // The torn line is not read while nothing follows it...
        assert!(index.get(&path, "b").is_none());
        append(&path, &Line::commit("c", "s3", None)).unwrap();
        // ... and once something does, the next line is read whole.
        assert_eq!(index.get(&path, "c").unwrap().sha256, "s3");
        assert!(index.get(&path, "b").is_none());
        assert_eq!(index.get(&path, "a").unwrap().sha256, "s1");
    }

    #[test]
    fn compaction_keeps_the_present_keys_last_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.jsonl");
        for n in 0..(SLACK + 10) {
            append(
                &path,
                &Line::commit("kept", &format!("s{n}"), Some(run("kept"))),
            )
            .unwrap();
            append(&path, &Line::commit("gone", "s", None)).unwrap();
        }
        append(&path, &Line::verified("kept", "stamp".into())).unwrap();
        let mut index = Index::default();
        assert_eq!(index.get(&path, "gone").unwrap().sha256, "s");
        assert!(compact(&path, &mut index, true, |key| key == "kept").unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let kept = index.get(&path, "kept").unwrap();
        assert_eq!(kept.sha256, format!("s{}", SLACK + 9));
        assert_eq!(kept.verified.as_deref(), Some("stamp"));
        assert_eq!(kept.run.unwrap().key, "kept");
        assert!(index.get(&path, "gone").is_none());
        // Small enough now: nothing to do.
        assert!(!compact(&path, &mut index, true, |key| key == "kept").unwrap());
    }
}
