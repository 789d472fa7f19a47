//! The skeleton every training kind (`train-hba`, `train-vit`, `pretrain-clip`) follows:
//! params → world → run → outputs. A kind says only what differs ([`TrainingKind`]): its
//! params, the project files and folders its world reads, its cost, and the run itself; the
//! [`Action`] around it ([`Training`]) is written once: the header, the key context (the
//! backend), demand-driven extension, the input checks, and backend dispatch.

use std::path::Path;

use cpbuild_engine::action::{
    Action, ActionContext, ActionError, BuildOptions, Extension, ParamError,
};
use cpbuild_ml::backend::{BackendFn, Resolved, with_backend};
use cpbuild_ml::epochs::{TrainError, TrainObserver};
use serde_json::{Value as Json, json};

use super::run::{Reporter, backend_name, check_inputs, failed, resolve_backend, write_file};

/// What one training kind is: everything [`Training`] does not do for it.
pub trait TrainingKind: Send + Sync + 'static {
    /// The kind's name in recipes.
    const KIND: &'static str;
    /// One line for `cpbuild kinds`.
    const DESCRIPTION: &'static str;
    /// The project files every run reads; each must be a declared input.
    const REQUIRED_INPUTS: &'static [&'static str];

    /// The parsed params.
    type Params;

    /// Parses and checks the params; errors name the field.
    fn parse(params: &Json) -> Result<Self::Params, ParamError>;

    /// The folders under the project root the run reads (each must be a declared input).
    fn folders(_params: &Self::Params) -> Vec<&str> {
        Vec::new()
    }

    /// Where to get a missing declared `input` the params name, if the kind knows.
    fn missing_input_help(_params: &Self::Params, _input: &str) -> Option<String> {
        None
    }

    /// The last epoch the run may train, for a kind whose runs continue shorter runs of the
    /// same params (without `stop_after_epoch`); `None` for a kind that always trains whole.
    fn extent(_params: &Self::Params) -> Option<u32> {
        None
    }

    /// The run's relative cost, for scheduling.
    fn cost(params: &Self::Params) -> u64;

    /// Loads the world and trains on `backend`, writing the bundle into `ctx.out_dir`.
    fn run(
        params: Self::Params,
        ctx: &mut ActionContext<'_>,
        backend: Resolved,
    ) -> Result<(), ActionError>;
}

/// The [`Action`] of a training kind `K`.
pub struct Training<K>(pub K);

impl<K: TrainingKind> Action for Training<K> {
    fn kind(&self) -> &'static str {
        K::KIND
    }

    fn archive_facts(&self) -> cpbuild_engine::action::ArchiveFacts {
        super::run::TRAINING_ARCHIVE_FACTS
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn description(&self) -> &'static str {
        K::DESCRIPTION
    }

    fn check_params(&self, params: &Json) -> Result<(), ParamError> {
        K::parse(params).map(|_| ())
    }

    fn key_context(&self, options: &BuildOptions) -> Json {
        json!({ "backend": backend_name(options) })
    }

    fn missing_input_help(&self, params: &Json, input: &str) -> Option<String> {
        K::missing_input_help(&K::parse(params).ok()?, input)
    }

    /// A run's family is its params without `stop_after_epoch`; its extent is the last epoch it
    /// may train.
    fn extension(&self, params: &Json) -> Option<Extension> {
        let extent = K::extent(&K::parse(params).ok()?)?;
        let mut family = params.clone();
        family.as_object_mut()?.remove("stop_after_epoch");
        Some(Extension {
            family,
            extent: u64::from(extent),
        })
    }

    fn cost(&self, params: &Json) -> u64 {
        K::parse(params).map_or(1, |params| K::cost(&params))
    }

    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let params = K::parse(ctx.params).map_err(|error| failed(error.message))?;
        let backend = resolve_backend(ctx.options, K::KIND)?;
        check_inputs(ctx, K::KIND, K::REQUIRED_INPUTS, &K::folders(&params))?;
        K::run(params, ctx, backend)
    }
}

/// Logs which backend `kind` trains on, then runs the training that `train` builds around
/// `ctx` on it.
pub(crate) fn on_backend<'c, 'a, T: BackendFn<Result<(), ActionError>>>(
    ctx: &'c mut ActionContext<'a>,
    kind: &str,
    backend: &Resolved,
    train: impl FnOnce(&'c mut ActionContext<'a>) -> T,
) -> Result<(), ActionError> {
    let _ = writeln!(ctx.log, "{kind}: backend {backend}");
    with_backend(backend, train(ctx))
}

/// A training error as the engine sees it: Ctrl-C cancels the target, anything else fails it.
pub(crate) fn train_failed(error: TrainError) -> ActionError {
    match error {
        TrainError::Cancelled => ActionError::Cancelled,
        error => failed(error.to_string()),
    }
}

/// Writes `value` as pretty JSON with a final newline.
pub(crate) fn write_json(path: &Path, value: &Json) -> Result<(), ActionError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| failed(e.to_string()))?;
    text.push('\n');
    write_file(path, text.as_bytes())
}

/// Records what every training run's manifest says: the backend and the epochs trained.
pub(crate) fn record_run(ctx: &mut ActionContext<'_>, backend: &str, epochs_trained: u32) {
    ctx.info.insert("backend".into(), json!(backend));
    ctx.info
        .insert("epochs_trained".into(), json!(epochs_trained));
}

/// How a kind's epoch row reads in the progress output: `train 0.1234 test …`.
pub(crate) trait EpochLine {
    /// The 1-based epoch.
    fn epoch(&self) -> u32;

    /// The summary after `epoch {epoch}/{last}: `.
    fn summary(&self) -> String;
}

impl<Row: EpochLine> TrainObserver<Row> for Reporter<'_> {
    fn cancelled(&self) -> bool {
        self.is_cancelled()
    }

    fn epoch_finished(&mut self, row: &Row) {
        self.epoch(row.epoch(), format_args!("{}", row.summary()));
    }
}
