//! `manifest.json`, the first member of every bundle: what was built, from what, and the
//! sha256 of every other member.
//!
//! The manifest holds only what determines the bundle, so that the same inputs give the same
//! bytes. Wall-clock facts (start and end time, duration, host name, process id) differ between
//! two builds of the same thing; they live beside the bundle, in its record `bundles/<key>.sha256`
//! ([`RunRecord`]) and `cpbuild show` prints both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::fingerprint::Fingerprint;

/// The manifest format version.
pub const FORMAT: u32 = 1;

/// One member file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// sha256 of the contents.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// The machine a bundle was built on (no host name: it would make bundles differ by host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// `linux`, `macos`, ….
    pub os: String,
    /// `x86_64`, `aarch64`, ….
    pub arch: String,
    /// The CPU model name, where known.
    pub cpu: String,
}

impl Machine {
    /// This machine.
    pub fn current() -> Machine {
        // Read once per process: every commit records it.
        static CURRENT: std::sync::OnceLock<Machine> = std::sync::OnceLock::new();
        CURRENT.get_or_init(Machine::read).clone()
    }

    fn read() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpu,
        }
    }
}

/// The bundle manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The key (sha256 of `fingerprint`).
    pub key: String,
    /// Everything that determined the build: target, kind, versions, params, dep keys, input hashes.
    pub fingerprint: Fingerprint,
    /// Where it was built.
    pub machine: Machine,
    /// Facts the action recorded (backend, device, epochs trained, …).
    pub info: BTreeMap<String, Json>,
    /// Every member under `files/`, by path relative to `files/`.
    pub files: BTreeMap<String, FileEntry>,
    /// Files materialised into the working tree (paths relative to `files/` and to the project).
    pub worktree: Vec<String>,
}

/// Wall-clock facts of one build, kept beside the bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The target.
    pub target: String,
    /// Its key.
    pub key: String,
    /// Start, seconds since the Unix epoch.
    pub started: f64,
    /// End, seconds since the Unix epoch.
    pub finished: f64,
    /// The host that built it.
    pub host: String,
    /// The profile it was built under.
    pub profile: String,
    /// The sha256 of the bundle file.
    pub bundle_sha256: String,
}
