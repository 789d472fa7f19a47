//! What every trainer shares, whatever it trains (CLIP-HBA in `train`, the ViT baseline in
//! `vit`, contrastive pretraining in `pretrain`): the error type, the
//! observer that a run reports to, the epoch loop that saves a state after every epoch, the
//! three files of a saved state ([`files`]) and the rule for continuing a saved run
//! ([`RunConfig`]). Each trainer keeps only what differs: its model, its batches, its optimizer
//! and its results row.

mod error;
pub mod files;
pub(crate) mod run_config;

use std::path::Path;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

pub use error::TrainError;
pub use files::{HostTensor, SavedState, epoch_dir};
pub use run_config::RunConfig;

use crate::results::EpochResult;

/// Hooks into a running trainer whose epochs produce `Row`s (CLIP-HBA's [`EpochResult`] unless
/// said otherwise): cancellation and progress reports.
pub trait TrainObserver<Row = EpochResult> {
    /// Polled between batches; `true` stops the run with [`TrainError::Cancelled`].
    fn cancelled(&self) -> bool {
        false
    }

    /// Called after training batch `batch` (0-based) of `batches` in an epoch took its
    /// optimizer step (benchmarks time steps with it; the step may still be running on a GPU).
    fn batch_finished(&mut self, _batch: usize, _batches: usize) {}

    /// Called after epoch `row`'s epoch is trained, evaluated and saved.
    fn epoch_finished(&mut self, _row: &Row) {}
}

/// An observer that never cancels and ignores reports.
impl<Row> TrainObserver<Row> for () {}

/// A trainer that [`run_epochs`] drives: one epoch at a time, with its state saved after each.
pub trait EpochLoop {
    /// One epoch's results row.
    type Row;

    /// Epochs completed (0 before training).
    fn epochs_done(&self) -> u32;

    /// Whether the run is over.
    fn finished(&self) -> bool;

    /// Saves the state after the current epoch into `dir`.
    fn save_state(&self, dir: &Path) -> Result<(), TrainError>;

    /// Trains, evaluates and records the next epoch.
    fn next_epoch(
        &mut self,
        observer: &mut dyn TrainObserver<Self::Row>,
    ) -> Result<Self::Row, TrainError>;
}

/// Trains until the run is over. With `epochs_root`, saves the starting state (if not there
/// yet) and the state after every epoch as `epochs_root/e####/`; the observer hears of an epoch
/// only once it is saved.
pub fn run_epochs<L: EpochLoop>(
    trainer: &mut L,
    epochs_root: Option<&Path>,
    observer: &mut dyn TrainObserver<L::Row>,
) -> Result<(), TrainError> {
    if let Some(root) = epochs_root {
        let dir = epoch_dir(root, trainer.epochs_done());
        if !dir.join(files::STATE_FILE).exists() {
            trainer.save_state(&dir)?;
        }
    }
    while !trainer.finished() {
        let row = trainer.next_epoch(observer)?;
        if let Some(root) = epochs_root {
            trainer.save_state(&epoch_dir(root, trainer.epochs_done()))?;
        }
        observer.epoch_finished(&row);
    }
    Ok(())
}

/// Reads the state saved in `dir` for a run with `config` to continue, refusing a state that
/// [`RunConfig::check_resumable`] says the run may not continue.
pub fn load_resumable<S: SavedState>(dir: &Path, config: &S::Config) -> Result<S, TrainError> {
    let mut state = S::load_files(dir)?;
    let epoch = state.epoch();
    state
        .config_mut()
        .check_resumable(config, epoch)
        .map_err(|message| TrainError::State {
            path: dir.to_path_buf(),
            message,
        })?;
    Ok(state)
}

/// Σ loss·size over the batches, read back from the device at once and summed in f64 in batch
/// order (each `[1]` loss is a mean over its batch of `size` rows).
pub(crate) fn weighted_sum<B: Backend>(
    losses: Vec<Tensor<B, 1>>,
    sizes: impl Iterator<Item = usize>,
) -> Result<f64, TrainError> {
    if losses.is_empty() {
        return Ok(0.0);
    }
    let values = host(Tensor::cat(losses, 0))?.values;
    Ok(values
        .iter()
        .zip(sizes)
        .map(|(&value, size)| f64::from(value) * size as f64)
        .sum())
}

/// Copies `tensor` to the host; an error if the backend cannot read it back.
pub(crate) fn host<B: Backend, const D: usize>(
    tensor: Tensor<B, D>,
) -> Result<HostTensor, TrainError> {
    let shape = tensor.dims().to_vec();
    let values = tensor
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|error| TrainError::Data {
            message: format!("cannot read a tensor back: {error:?}"),
        })?;
    Ok(HostTensor { shape, values })
}

/// `tensor` on `device`, shaped `[D]` from its host shape (missing axes are 1).
pub(crate) fn device_tensor<B: Backend, const D: usize>(
    tensor: HostTensor,
    device: &B::Device,
) -> Tensor<B, D> {
    let shape: [usize; D] =
        std::array::from_fn(|axis| tensor.shape.get(axis).copied().unwrap_or(1));
    Tensor::from_data(TensorData::new(tensor.values, shape), device)
}
