//! What the training kinds (`train-hba`, `train-vit`, `pretrain-clip`) share about running:
//! the backend they train on, and continuing a shorter run of the same family.
//!
//! # Backend
//!
//! The command line resolves `--backend` (`auto` included) into the build setting `backend`,
//! a concrete name that is part of every training target's key. [`resolve_backend`] turns it
//! back into a [`Resolved`] backend, probing the device once per process, so that a kind runs
//! its generic training code with [`cpbuild_ml::backend::with_backend`] on NdArray, wgpu or
//! CUDA alike. A backend the build lacks or the machine cannot run fails the target with the
//! probe's reason (what to install, which cargo feature to build with).
//!
//! # Continuing a shorter run
//!
//! [`continue_previous`] copies the saved epochs of a shorter committed run of the same family
//! into the new run's `epochs/`, rewriting the config each records to the new run's (the only
//! difference, checked by [`RunConfig::check_resumable`]), and returns the last one
//! to resume from.

use std::path::{Path, PathBuf};

use std::io::Write;

use cpbuild_engine::action::{
    ActionContext, ActionError, ArchiveFacts, BuildOptions, CancelFlag, PreviousRun, Progress,
};
use cpbuild_ml::backend::{BackendChoice, Resolved, resolve};
use cpbuild_ml::epochs::{RunConfig, SavedState, epoch_dir};
use cpbuild_ml::train::StopReason;
use serde_json::Value as Json;

/// What a training run's bundle holds, for archives: per-epoch states under `epochs/` (left
/// out of figures-only archives), its data split in `split.json`, the epochs it trained and the
/// backend and device it ran on in its manifest's `info`.
pub(crate) const TRAINING_ARCHIVE_FACTS: ArchiveFacts = ArchiveFacts {
    heavy_folders: &["epochs", "checkpoints"],
    split_prefix: Some("split"),
    epochs_info: Some("epochs_trained"),
    device_info: &["backend", "device"],
};

/// The backend named by the build setting `backend` (`ndarray` when unset).
pub(crate) fn backend_name(options: &BuildOptions) -> &str {
    options
        .settings
        .get("backend")
        .map_or("ndarray", String::as_str)
}

/// The backend to train on, checked against this build and this machine; `kind` names the
/// kind in the error.
pub(crate) fn resolve_backend(options: &BuildOptions, kind: &str) -> Result<Resolved, ActionError> {
    let name = backend_name(options);
    let choice: BackendChoice = name
        .parse()
        .map_err(|error| ActionError::failed(format!("`{kind}`: {error}")))?;
    if choice == BackendChoice::Auto {
        return Err(ActionError::failed(format!(
            "`{kind}`: the build setting `backend` must name a concrete backend, not `auto` \
             (the command line resolves `--backend auto` before building)"
        )));
    }
    resolve(choice).map_err(|error| ActionError::failed(format!("`{kind}`: {error}")))
}

/// Copies the saved epochs of `previous` (a shorter run of the same family) into
/// `epochs_root`, recording `config` in them as a one-go run would have; returns the last
/// epoch copied and its directory, to resume from. `None` when it saved no epoch.
fn continue_previous<S: SavedState>(
    previous: &PreviousRun,
    config: &S::Config,
    epochs_root: &Path,
) -> Result<Option<(u32, PathBuf)>, ActionError> {
    let from = previous.files.join("epochs");
    let listing = match std::fs::read_dir(&from) {
        Ok(listing) => listing,
        Err(_) => return Ok(None),
    };
    let mut epochs: Vec<u32> = listing
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let digits = name.to_str()?.strip_prefix('e')?;
            (digits.len() == 4).then(|| digits.parse().ok())?
        })
        .collect();
    epochs.sort_unstable();
    let Some(&last) = epochs.last() else {
        return Ok(None);
    };
    for epoch in &epochs {
        let mut state = S::load_files(&epoch_dir(&from, *epoch)).map_err(|error| {
            ActionError::failed(format!(
                "cannot continue the shorter run `{}`: {error}",
                previous.key
            ))
        })?;
        state
            .config_mut()
            .check_resumable(config, *epoch)
            .map_err(|message| {
                ActionError::failed(format!(
                    "cannot continue the shorter run `{}` after epoch {epoch}: {message}",
                    previous.key
                ))
            })?;
        *state.config_mut() = config.clone();
        state
            .save_files(&epoch_dir(epochs_root, *epoch))
            .map_err(|error| ActionError::failed(error.to_string()))?;
    }
    Ok(Some((last, epoch_dir(epochs_root, last))))
}

/// A target failure with `message`.
pub(crate) fn failed(message: impl Into<String>) -> ActionError {
    ActionError::failed(message)
}

/// The unpacked files of dependency `target`, named by param `param`.
pub(crate) fn dep_files(
    ctx: &ActionContext<'_>,
    param: &str,
    target: &str,
) -> Result<PathBuf, ActionError> {
    ctx.deps
        .get(target)
        .map(|dep| dep.files.clone())
        .ok_or_else(|| {
            failed(format!(
                "`{param}` names `{target}`, which is not a dependency of `{}`; add it to `deps`",
                ctx.target
            ))
        })
}

pub(crate) fn write_file(path: &Path, contents: &[u8]) -> Result<(), ActionError> {
    std::fs::write(path, contents)
        .map_err(|error| failed(format!("cannot write `{}`: {error}", path.display())))
}

/// Fails unless every file in `required` and every folder in `folders` is a declared input.
pub(crate) fn check_inputs(
    ctx: &ActionContext<'_>,
    kind: &str,
    required: &[&str],
    folders: &[&str],
) -> Result<(), ActionError> {
    for input in required {
        if !ctx
            .inputs
            .iter()
            .any(|declared| declared == Path::new(input))
        {
            return Err(failed(format!(
                "`{input}` is read by `{kind}` but is not a declared input of `{}`; add it to `inputs`",
                ctx.target
            )));
        }
    }
    for folder in folders {
        // A folder without files hides nothing from the key: the loader reports it as missing.
        if !holds_files(&ctx.project_root.join(folder)) {
            continue;
        }
        if !ctx
            .inputs
            .iter()
            .any(|declared| declared.starts_with(folder))
        {
            return Err(failed(format!(
                "the files in `{folder}` are read by `{kind}` but are not a declared input of `{}`; add `{folder}` to `inputs`",
                ctx.target
            )));
        }
    }
    Ok(())
}

/// Where a training run starts: `None` for a fresh run; else the saved state to resume from,
/// either a shorter committed run of the same family ([`ActionContext::previous`], copied
/// into `epochs_root` by [`continue_previous`]) or, for a perturbed run, the `resume_from`
/// dependency's state after the epoch before its perturbation starts. `description` (the model, data and
/// weights) must equal the `run` that dependency's `config.json` records; `epochs_params` names
/// the params that decide how far a run trains, for the error when the state is missing.
pub(crate) fn starting_state<S: SavedState>(
    ctx: &mut ActionContext<'_>,
    kind: &str,
    config: &S::Config,
    epochs_root: &Path,
    resume_from: Option<&str>,
    description: &Json,
    epochs_params: &str,
) -> Result<Option<PathBuf>, ActionError> {
    if let Some(previous) = &ctx.previous
        && let Some((last, state)) = continue_previous::<S>(previous, config, epochs_root)?
    {
        let _ = writeln!(
            ctx.log,
            "{kind}: continuing the shorter run `{}` from its state after epoch {last}",
            previous.key
        );
        return Ok(Some(state));
    }
    let perturbation_start = config.perturbation().map(|perturbation| perturbation.start);
    let Some((target, start)) = resume_from.zip(perturbation_start) else {
        return Ok(None);
    };
    let files = dep_files(ctx, "resume_from", target)?;
    let theirs = std::fs::read(files.join("config.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Json>(&bytes).ok());
    if theirs.as_ref().map(|c| &c["run"]) != Some(description) {
        return Err(failed(format!(
            "`resume_from` target `{target}` was not trained with this run's model, data and weights (its `config.json` says {}, this run is {description})",
            theirs.map_or("nothing".into(), |c| c["run"].to_string())
        )));
    }
    let from = start.saturating_sub(1);
    let state = epoch_dir(&files.join("epochs"), from);
    if !state.exists() {
        let info = &ctx.deps[target].info;
        return Err(failed(missing_state(target, from, info, epochs_params)));
    }
    let _ = writeln!(
        ctx.log,
        "{kind}: resuming from `{target}`'s state after epoch {from}"
    );
    Ok(Some(state))
}

/// Why a perturbed run cannot resume from `target` after epoch `from`: how far `target`
/// trained and what ended it (its manifest's `info`), the latest start it can serve, and the
/// params (`epochs_params`) that would let it train further.
fn missing_state(
    target: &str,
    from: u32,
    info: &std::collections::BTreeMap<String, Json>,
    epochs_params: &str,
) -> String {
    let trained = info.get("epochs_trained").and_then(Json::as_u64);
    let recorded = info.get("stop_reason").and_then(Json::as_str);
    let ended = [
        (
            StopReason::EarlyStopping,
            " and was ended by early stopping",
        ),
        (StopReason::EpochLimit, " and was ended by its epoch limit"),
        (
            StopReason::StopAfterEpoch,
            " and was stopped by its `stop_after_epoch`",
        ),
    ]
    .into_iter()
    .find(|(reason, _)| Some(reason.name()) == recorded)
    .map_or("", |(_, words)| words);
    match trained {
        Some(trained) => format!(
            "`{target}` has no saved state after epoch {from} to resume from: it trained {trained} epoch{}{ended}; start the perturbation at epoch {} or earlier, or let `{target}` train further ({epochs_params})",
            if trained == 1 { "" } else { "s" },
            trained + 1
        ),
        None => format!(
            "`{target}` has no saved state after epoch {from} to resume from; let it train at least that far ({epochs_params})"
        ),
    }
}

/// Whether any file lies below `path` (or `path` is one).
fn holds_files(path: &Path) -> bool {
    if path.is_file() {
        return true;
    }
    std::fs::read_dir(path)
        .is_ok_and(|entries| entries.flatten().any(|entry| holds_files(&entry.path())))
}

/// Reports a training run's epochs to the engine's progress output and to the run's log, and
/// polls Ctrl-C; it observes any trainer whose rows say how they read (the training skeleton's
/// `EpochLine`).
pub(crate) struct Reporter<'a> {
    progress: &'a dyn Progress,
    cancel: &'a CancelFlag,
    log: &'a mut dyn Write,
    last_epoch: u32,
}

impl<'a> Reporter<'a> {
    /// A reporter for a run that trains up to `last_epoch`.
    pub(crate) fn new(
        progress: &'a dyn Progress,
        cancel: &'a CancelFlag,
        log: &'a mut dyn Write,
        last_epoch: u32,
    ) -> Self {
        Reporter {
            progress,
            cancel,
            log,
            last_epoch,
        }
    }

    /// Whether the user pressed Ctrl-C.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Reports `epoch {epoch}/{last}: {summary}`.
    pub(crate) fn epoch(&mut self, epoch: u32, summary: std::fmt::Arguments<'_>) {
        let line = format!("epoch {epoch}/{}: {summary}", self.last_epoch);
        self.progress.message(&line);
        let _ = writeln!(self.log, "{line}");
    }
}
