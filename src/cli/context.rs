//! What every command derives from the global options: the project root, the loaded
//! [`Project`], the progress sink, the store lock (saying whom it waits for), Ctrl-C, and
//! the byte sizes the commands print.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use cpbuild_engine::action::{BuildOptions, CancelFlag};
use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_engine::events::{Event, HumanReporter, JsonReporter, Reporter};
use cpbuild_engine::store::Store;
use cpbuild_engine::store::{FileLock, LockMode};
use cpbuild_ml::backend::{BackendChoice, BackendError, resolve};

use super::GlobalOptions;
use crate::project::Project;

/// The project root: `-C DIR` or the current directory, canonical.
pub(super) fn project_root(global: &GlobalOptions) -> Result<PathBuf> {
    let current = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let root = match &global.directory {
        Some(dir) => {
            let dir = current.join(dir);
            if !dir.is_dir() {
                return Err(Error::usage(format!(
                    "`-C {}`: no such directory",
                    dir.display()
                )));
            }
            dir
        }
        None => current,
    };
    root.canonicalize().map_err(|e| Error::io(&root, e))
}

/// The store directory under `root`: `--store DIR` (relative to the root) or `artifacts`.
pub(super) fn store_dir(global: &GlobalOptions, root: &Path) -> PathBuf {
    match &global.store {
        Some(dir) => root.join(dir),
        None => root.join("artifacts"),
    }
}

/// A usage error with the message of a backend problem.
fn backend_error(error: impl ToString) -> Error {
    Error::Usage {
        message: error.to_string(),
        help: None,
    }
}

/// The backend `--backend` names (`default` when not given), resolved: `auto` becomes the
/// backend that actually runs.
pub(super) fn backend(global: &GlobalOptions, default: &str) -> Result<BackendChoice> {
    global
        .backend
        .as_deref()
        .unwrap_or(default)
        .parse()
        .map_err(|e: BackendError| backend_error(e))
}

/// Loads the project the global options name, with the backend resolved into its options.
pub(super) fn load(global: &GlobalOptions) -> Result<Project> {
    let root = project_root(global)?;
    let recipes = Project::recipes(&root)?;
    let store_dir = store_dir(global, &root);
    let choice = backend(global, "ndarray")?;
    // `auto` is resolved here, so that keys name the backend that actually runs.
    let backend = if choice == BackendChoice::NdArray {
        "ndarray".to_string()
    } else {
        let resolved = resolve(choice).map_err(backend_error)?;
        if !global.json {
            eprintln!("cpbuild: backend {resolved}");
        }
        resolved.kind().name().to_string()
    };
    let options = BuildOptions {
        profile: global.profile.clone(),
        settings: [("backend".to_string(), backend)].into(),
    };
    Project::new(root, recipes, store_dir, options)
}

/// The progress sink: JSON lines with `--json`, else human lines on stderr.
pub(super) fn reporter(global: &GlobalOptions) -> Box<dyn Reporter> {
    if global.json {
        Box::new(JsonReporter)
    } else {
        Box::new(HumanReporter::new(
            global.explain || global.dry_run,
            std::io::stderr().is_terminal(),
        ))
    }
}

/// What to say while waiting for the lock on the store shown as `store`.
pub(super) fn wait_message(reporter: &dyn Reporter, store: &str) -> impl FnOnce(Option<u32>) {
    move |pid| {
        let holder = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        reporter.report(&Event::Waiting {
            message: format!("for the lock on store `{store}`, held by another cpbuild{holder}"),
        });
    }
}

/// Takes the lock on `store` (shown to the user as `shown`), saying so while it waits.
pub(super) fn lock(
    global: &GlobalOptions,
    store: &Store,
    mode: LockMode,
    shown: &str,
) -> Result<FileLock> {
    let reporter = reporter(global);
    store.lock(mode, wait_message(reporter.as_ref(), shown))
}

/// A byte count as people read it: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub(super) fn human_bytes(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// `s` when `count` is not one.
pub(super) fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Ctrl-C cancels the running actions; a second one leaves at once.
pub(super) fn install_interrupt_handler(cancel: &CancelFlag) {
    let cancel = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            // A second Ctrl-C: leave now. Nothing partial is committed either way.
            std::process::exit(exit_code::INTERRUPTED);
        }
        eprintln!("cpbuild: interrupted; stopping running actions (Ctrl-C again to quit now)");
        cancel.cancel();
    });
}
