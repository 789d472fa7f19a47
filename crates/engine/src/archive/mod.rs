//! Publication archives: one versioned, self-verifying, byte-reproducible file holding what a
//! reviewer needs to check every number without retraining, and to rebuild what they doubt.
//!
//! ```text
//! cpbuild-<project>-<version>/MANIFEST.json         first member: every file's size and sha256,
//!                                                   every target's key, params, deps, bundle sha256,
//!                                                   machine and backend, and a root hash
//! cpbuild-<project>-<version>/README.md             for reviewers: the figures, how to verify, rebuild
//! cpbuild-<project>-<version>/REPORT.md             the reproducibility report
//! cpbuild-<project>-<version>/<document>            documents the application adds
//!                                                   ([`write::Document`]: cpbuild's HTML report)
//! cpbuild-<project>-<version>/recipes/*.toml        the recipes used
//! cpbuild-<project>-<version>/bundles/<key>.tar.zst every bundle the targets depend on (full mode)
//! cpbuild-<project>-<version>/files/<target>/...    tables and metrics only (`--figures-only`)
//! cpbuild-<project>-<version>/figures/<target>/...  the requested targets' output files
//! ```
//!
//! The archive is written with [`crate::util::tarball`] (fixed metadata, sorted members), and
//! holds nothing wall-clock unless `--timings` is given: the same inputs give the same bytes,
//! whichever store built them. Verification is one streaming pass, so archives larger than
//! memory verify in flat memory.

pub(crate) mod import;
pub(crate) mod report;
pub(crate) mod verify;
pub(crate) mod write;

pub use import::{Imported, import};
pub use report::{
    FigureFacts, closure, collect_seeds, figure_facts, reproducibility_report, reviewer_readme,
};
pub use verify::{Problems, Verified, verify};
pub use write::{Document, Request, write};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::action::{ArchiveFacts, Registry};
use crate::fingerprint::Fingerprint;
use crate::store::manifest::{FileEntry, Machine};

/// The archive format version.
pub const FORMAT: u32 = 1;

/// The name of the manifest member (under the top-level folder).
pub const MANIFEST: &str = "MANIFEST.json";

/// What an archive holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Every bundle the targets transitively depend on.
    Full,
    /// Only figure outputs and run metrics (tables, JSON, images), no checkpoints.
    FiguresOnly,
}

/// One target, as the archive records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedTarget {
    /// Its key.
    pub key: String,
    /// Everything that determined it (the key is the sha256 of this).
    pub fingerprint: Fingerprint,
    /// The sha256 of its bundle file.
    pub bundle_sha256: String,
    /// The machine that built it.
    pub machine: Machine,
    /// What its action recorded (backend, device, epochs trained, …).
    pub info: BTreeMap<String, Json>,
    /// Its bundle members (path under `files/` → size and sha256).
    pub files: BTreeMap<String, FileEntry>,
    /// Whether it was named on the command line (a figure).
    pub requested: bool,
    /// Its description from the recipe.
    pub description: Option<String>,
    /// Wall-clock seconds of its build (only with `--timings`).
    pub seconds: Option<f64>,
}

/// `MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchiveManifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The project's name.
    pub project: String,
    /// The archive's version (`X.Y.Z`).
    pub version: String,
    /// The cpbuild version that wrote it.
    pub cpbuild: String,
    /// The profile the targets were built under.
    pub profile: String,
    /// Full or figures-only.
    pub mode: Mode,
    /// The targets named on the command line.
    pub requested: Vec<String>,
    /// Every target the requested ones depend on, by name.
    pub targets: BTreeMap<String, ArchivedTarget>,
    /// Every other member (path relative to the top-level folder) → size and sha256.
    pub files: BTreeMap<String, FileEntry>,
    /// sha256 of the canonical JSON of this manifest with `root_hash` empty.
    pub root_hash: String,
}

impl ArchiveManifest {
    /// The root hash of this manifest's content.
    pub fn compute_root_hash(&self) -> String {
        let mut copy = self.clone();
        copy.root_hash = String::new();
        let value = serde_json::to_value(&copy).expect("manifests always serialise");
        crate::util::hash::bytes(crate::util::canonical::to_string(&value).as_bytes())
    }
}

/// The top-level folder of an archive.
pub fn top_folder(project: &str, version: &str) -> String {
    format!("cpbuild-{project}-{version}")
}

/// Whether `version` looks like `X.Y.Z` (digits, optionally a `-suffix`).
pub fn valid_version(version: &str) -> bool {
    let core = version.split('-').next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
}

/// What the application tells an archive about its targets, which the engine cannot know.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The kinds, whose [`Action::archive_facts`](crate::action::Action::archive_facts) say
    /// what their bundles hold.
    pub registry: &'a Registry,
    /// The closing section of `REPORT.md` (Markdown, starting with a blank line): a venue's
    /// reproducibility checklist and where the archive answers each item; empty for none.
    pub checklist: &'a str,
}

/// Whether a bundle member is a table or metric that a figures-only archive keeps, as opposed
/// to what its kind declares heavy (checkpoints, weights and optimizer states).
pub(crate) fn is_metric_file(path: &str, facts: &ArchiveFacts) -> bool {
    let lower = path.to_ascii_lowercase();
    [".csv", ".json", ".txt", ".md", ".svg", ".png"]
        .iter()
        .any(|ext| lower.ends_with(ext))
        && !lower
            .split('/')
            .any(|part| facts.heavy_folders.contains(&part))
}
