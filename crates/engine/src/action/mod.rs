//! Actions: what a target's `kind` runs. The engine calls them through the [`Action`] trait and
//! knows nothing else about them; training and figures are actions like `shell`.

mod shell;

pub use shell::Shell;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value as Json;

/// A cooperative cancellation flag, set on Ctrl-C. Long actions poll it.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Options of the whole build that actions may depend on.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--profile`.
    pub profile: String,
    /// Free-form settings (`--backend`, say) that later kinds read.
    pub settings: BTreeMap<String, String>,
}

/// A built dependency, as its dependents see it.
#[derive(Debug, Clone)]
pub struct DepOutput {
    /// The dependency's key.
    pub key: String,
    /// The kind that built it.
    pub kind: String,
    /// Its resolved params, as its fingerprint records them (a dependent may classify its
    /// dependencies by them without knowing how the store lays out a bundle).
    pub params: Json,
    /// What its action recorded in the manifest's `info` (see [`ActionContext::info`]).
    pub info: BTreeMap<String, Json>,
    /// The verified, read-only unpacked `files/` directory of its bundle.
    pub files: PathBuf,
}

/// A shorter run of the same configuration, which a demand-driven action may extend instead of
/// starting over (see [`Action::extension`]).
#[derive(Debug, Clone)]
pub struct PreviousRun {
    /// Its key.
    pub key: String,
    /// How far it went (the action's unit, e.g. epochs).
    pub extent: u64,
    /// Its verified, read-only unpacked `files/` directory.
    pub files: PathBuf,
}

/// How far a demand-driven target goes, and what identifies it apart from that.
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    /// The params without the extent (runs with equal families differ only in how far they go).
    pub family: Json,
    /// How far this target goes.
    pub extent: u64,
}

/// Where an action reports progress (a line per epoch, say).
pub trait Progress: Send + Sync {
    /// Reports one progress message for the running target.
    fn message(&self, message: &str);
}

/// Everything an action may use while it runs.
pub struct ActionContext<'a> {
    /// The target's name.
    pub target: &'a str,
    /// Its resolved params.
    pub params: &'a Json,
    /// The project root (where recipes live; the working directory of shell commands).
    pub project_root: &'a Path,
    /// The directory whose contents become the bundle's `files/`.
    pub out_dir: &'a Path,
    /// The dependencies, by target name.
    pub deps: &'a BTreeMap<String, DepOutput>,
    /// The declared input files, relative to the project root, sorted.
    pub inputs: &'a [PathBuf],
    /// The target's log file.
    pub log: &'a mut dyn Write,
    /// Where to report progress.
    pub progress: &'a dyn Progress,
    /// Set on Ctrl-C.
    pub cancel: &'a CancelFlag,
    /// Build-wide options.
    pub options: &'a BuildOptions,
    /// The action's files in the working tree, as paths relative to both `out_dir` and the
    /// project root: each one either written under `out_dir` (copied into the working tree
    /// after the build) or written into the working tree itself (stored into the bundle from
    /// there).
    pub worktree_outputs: Vec<String>,
    /// The longest committed run of the same family that goes no further than this one (only
    /// for actions that declare an [`Action::extension`]); extending it must give exactly the
    /// bundle a run from scratch would.
    pub previous: Option<PreviousRun>,
    /// Facts for the manifest's `info` (backend, device, epochs trained, …). They become part
    /// of the bundle bytes, so record only what is deterministic for the same inputs.
    pub info: BTreeMap<String, Json>,
}

/// Why an action failed.
#[derive(Debug)]
pub enum ActionError {
    /// It ran and failed.
    Failed {
        /// One line saying what went wrong.
        message: String,
        /// The last lines of its error output.
        stderr_tail: Vec<String>,
    },
    /// It stopped because of Ctrl-C.
    Cancelled,
}

impl ActionError {
    /// A failure with no captured output.
    pub fn failed(message: impl Into<String>) -> ActionError {
        ActionError::Failed {
            message: message.into(),
            stderr_tail: Vec::new(),
        }
    }
}

/// A param that an action rejects, with the param's name so the error can point at it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    /// The top-level param concerned (`command`, `epochs`, …), if one is.
    pub field: Option<String>,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl ParamError {
    /// An error about param `field`.
    pub fn at(field: &str, message: impl Into<String>) -> ParamError {
        ParamError {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// An error about the params as a whole.
    pub fn whole(message: impl Into<String>) -> ParamError {
        ParamError {
            field: None,
            message: message.into(),
        }
    }
}

/// What an action's bundles hold, as a publication archive and its reproducibility report
/// need to know it (see the `archive` module). The engine knows no folder, file or `info` names of
/// its own: a kind that trains declares here where its checkpoints, splits and epoch counts are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveFacts {
    /// Folders of its bundles (at any depth) that hold state rather than results (checkpoints,
    /// per-epoch weights, optimizer states): a figures-only archive leaves them out.
    pub heavy_folders: &'static [&'static str],
    /// The file-name prefix of the `.json` members that record its data split (`split` for
    /// `split.json`); the report lists their hashes.
    pub split_prefix: Option<&'static str>,
    /// The `info` entry counting the epochs it trained; the report sums them.
    pub epochs_info: Option<&'static str>,
    /// The `info` entries naming where it computed, most general first (`backend`, `device`):
    /// the report adds up compute time under them, joined with ` / `. Without the first the
    /// time counts as unrecorded.
    pub device_info: &'static [&'static str],
}

/// A kind of target.
pub trait Action: Send + Sync {
    /// The `kind` name used in recipes.
    fn kind(&self) -> &'static str;

    /// The action's own version: bump it when its outputs change for the same params.
    fn version(&self) -> &'static str;

    /// One line for `cpbuild list --kinds`.
    fn description(&self) -> &'static str;

    /// Checks params when the recipes are loaded, so mistakes surface before anything runs.
    fn check_params(&self, params: &Json) -> Result<(), ParamError>;

    /// Build options that change this action's outputs (the backend, say); hashed into keys.
    fn key_context(&self, _options: &BuildOptions) -> Json {
        Json::Null
    }

    /// For demand-driven kinds: the family and extent of these params. The engine then offers
    /// the action the longest committed run of the same family (same kind, version, options,
    /// dependencies, inputs and family params) that is not longer, as [`ActionContext::previous`].
    fn extension(&self, _params: &Json) -> Option<Extension> {
        None
    }

    /// Where a declared input that does not exist comes from and where to put it, when the
    /// action knows (`input` is the pattern as the recipe resolves it, e.g. a data folder its
    /// params name). The engine adds it to its missing-input error, which it reports before
    /// anything runs, so a user bringing their own data learns what to fetch.
    fn missing_input_help(&self, _params: &Json, _input: &str) -> Option<String> {
        None
    }

    /// The files (relative to the project root) this action writes into the working tree
    /// while it runs, rather than under `out_dir`. If it fails or is interrupted, the engine
    /// puts them back as they were before it started.
    fn worktree_outputs(&self, _params: &Json) -> Vec<String> {
        Vec::new()
    }

    /// What its bundles hold, for publication archives; nothing special by default.
    fn archive_facts(&self) -> ArchiveFacts {
        ArchiveFacts::default()
    }

    /// Relative cost, for scheduling the most expensive chains first.
    fn cost(&self, _params: &Json) -> u64 {
        1
    }

    /// Does the work, writing outputs under `ctx.out_dir`.
    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError>;
}

/// The kinds cpbuild knows.
#[derive(Clone, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, Arc<dyn Action>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The built-in kinds.
    pub fn builtin() -> Registry {
        let mut registry = Registry::new();
        registry.register(Arc::new(shell::Shell));
        registry
    }

    /// Adds (or replaces) a kind.
    pub fn register(&mut self, action: Arc<dyn Action>) {
        self.actions.insert(action.kind(), action);
    }

    /// The action for `kind`.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Action>> {
        self.actions.get(kind)
    }

    /// What the bundles of `kind` hold (the default facts for a kind this registry lacks).
    pub fn archive_facts(&self, kind: &str) -> ArchiveFacts {
        self.get(kind)
            .map(|action| action.archive_facts())
            .unwrap_or_default()
    }

    /// Every kind, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &Arc<dyn Action>> {
        self.actions.values()
    }
}
