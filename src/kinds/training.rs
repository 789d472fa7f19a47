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
use cpbuild_ml::burn::tensor::backend::AutodiffBackend;
use cpbuild_ml::epochs::{EpochLoop, TrainError, TrainObserver, run_epochs};
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
    type Params: KindParams;

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

/// A training kind's parsed params.
pub trait KindParams: Sized {
    /// Parses and checks the params; errors name the field.
    fn parse(params: &Json) -> Result<Self, ParamError>;
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
        "2"
    }

    fn description(&self) -> &'static str {
        K::DESCRIPTION
    }

    fn check_params(&self, params: &Json) -> Result<(), ParamError> {
        K::Params::parse(params).map(|_| ())
    }

    fn key_context(&self, options: &BuildOptions) -> Json {
        json!({ "backend": backend_name(options) })
    }

    fn missing_input_help(&self, params: &Json, input: &str) -> Option<String> {
        K::missing_input_help(&K::Params::parse(params).ok()?, input)
    }

    /// A run's family is its params without `stop_after_epoch`; its extent is the last epoch it
    /// may train.
    fn extension(&self, params: &Json) -> Option<Extension> {
        let extent = K::extent(&K::Params::parse(params).ok()?)?;
        let mut family = params.clone();
        family.as_object_mut()?.remove("stop_after_epoch");
        Some(Extension {
            family,
            extent: u64::from(extent),
        })
    }

    fn cost(&self, params: &Json) -> u64 {
        K::Params::parse(params).map_or(1, |params| K::cost(&params))
    }

    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let params = K::Params::parse(ctx.params).map_err(|error| failed(error.message))?;
        let backend = resolve_backend(ctx.options, K::KIND)?;
        check_inputs(ctx, K::KIND, K::REQUIRED_INPUTS, &K::folders(&params))?;
        K::run(params, ctx, backend)
    }
}

/// A kind's training, generic over the backend it runs on.
pub(crate) trait BackendTraining {
    /// Trains on `device` of backend `B`, writing the bundle through `ctx`.
    fn train<B: AutodiffBackend>(
        self,
        ctx: &mut ActionContext<'_>,
        device: B::Device,
    ) -> Result<(), ActionError>;
}

/// A training with the action's context, as [`with_backend`] calls it.
struct OnBackend<'c, 'a, T> {
    ctx: &'c mut ActionContext<'a>,
    training: T,
}

impl<T: BackendTraining> BackendFn<Result<(), ActionError>> for OnBackend<'_, '_, T> {
    fn call<B: AutodiffBackend>(self, device: B::Device) -> Result<(), ActionError> {
        self.training.train::<B>(self.ctx, device)
    }
}

/// Logs which backend `kind` trains on, then runs `training` on it.
pub(crate) fn on_backend(
    ctx: &mut ActionContext<'_>,
    kind: &str,
    backend: &Resolved,
    training: impl BackendTraining,
) -> Result<(), ActionError> {
    let _ = writeln!(ctx.log, "{kind}: backend {backend}");
    with_backend(backend, OnBackend { ctx, training })
}

/// The part every epoch-saving run ends with: says in the log what trains (`what`) on which
/// backend from which epoch to `last_epoch`, trains to the end saving each epoch under
/// `epochs_root`, writes `results.csv` (`results_csv`) and records the backend and epochs
/// trained.
pub(crate) fn train_to_end<L>(
    ctx: &mut ActionContext<'_>,
    (what, backend): (&str, &str),
    trainer: &mut L,
    (epochs_root, last_epoch): (&Path, u32),
    results_csv: impl Fn(&L) -> String,
) -> Result<(), ActionError>
where
    L: EpochLoop,
    L::Row: EpochLine,
{
    let _ = writeln!(
        ctx.log,
        "{what} on {backend}, starting after epoch {}, up to epoch {last_epoch}",
        trainer.epochs_done()
    );
    let mut observer = Reporter::new(ctx.progress, ctx.cancel, &mut *ctx.log, last_epoch);
    run_epochs(trainer, Some(epochs_root), &mut observer).map_err(train_failed)?;
    write_file(
        &ctx.out_dir.join("results.csv"),
        results_csv(trainer).as_bytes(),
    )?;
    record_run(ctx, backend, trainer.epochs_done());
    Ok(())
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
