//! Reading result CSVs in the paper's format, one at a time or as a runs directory.
//!
//! - [`csv`]: one file: a CLIP-HBA run (`epoch,train_loss,test_loss,behavioral_rsa_rho,
//!   behavioral_rsa_p_value`, perturbed runs add some of the `used_…` flag columns), the ViT
//!   baseline (`epoch,val_loss,rsa_score`), or the ViT's perturbation effects table.
//! - [`layout`]: which file of a runs directory holds which run, in cpbuild's own layout or in
//!   the original project's `Data/` folder ([`original`]), recognised from the files present.
//! - [`RunsDirectory::load`]: reads what a figure asks for ([`RunsRequest`]) and checks that each
//!   run holds the epochs the figure reads. Nothing is skipped: every missing run, every file
//!   that cannot be parsed and every run that falls short is reported in one error, each by
//!   path with what is wrong, and only then does anything get drawn.

pub mod csv;
pub mod error;
pub mod layout;
pub mod original;
pub mod request;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub use csv::{
    CLIP_COLUMNS, ClipEpoch, ClipRun, FLAG_COLUMNS, Numbering, PerturbationFlags, Run, RunEpoch,
    VIT_COLUMNS, VIT_EFFECTS_COLUMNS, VitEpoch, VitRun, parse_clip_run, parse_vit_effects,
    parse_vit_run, read_clip_run, read_vit_effects, read_vit_run,
};
pub use error::{ExpectedFile, RunsError};
pub use layout::{
    CLIP_BASELINE_FILE, Layout, VIT_BASELINE_FILE, VIT_EFFECTS_FILE, sweep_file, window_file,
};
pub use request::RunsRequest;

use super::compute::Fig2Row;
use super::perturbation::Perturbation;
use super::setup::RunSetup;
use layout::{Format, Slot, Wanted};

/// The runs read from a runs directory, keyed like the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedRuns {
    /// The CLIP-HBA baseline, if requested.
    pub clip_baseline: Option<ClipRun>,
    /// The ViT baseline, if requested.
    pub vit_baseline: Option<VitRun>,
    /// The ViT effects at the requested epochs, if requested.
    pub vit_effects: Option<Vec<Fig2Row>>,
    /// Single-epoch runs by (type, epoch).
    pub single_epoch: BTreeMap<(Perturbation, u32), ClipRun>,
    /// Sweep runs by perturbed epoch.
    pub sweep: BTreeMap<u32, ClipRun>,
    /// Window runs by (start epoch, length).
    pub grid: BTreeMap<(u32, u32), ClipRun>,
    /// Every file read, relative to the runs directory, `/`-separated (a figure target checks
    /// that each is a declared input, so its key covers what it drew).
    pub files: Vec<String>,
}

/// A directory of result CSVs in one of the layouts of [`layout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunsDirectory {
    root: PathBuf,
    shown: PathBuf,
}

/// A file read for a slot.
enum Read {
    Clip(ClipRun),
    Vit(VitRun),
    Effects(Vec<Fig2Row>),
}

impl RunsDirectory {
    /// The directory at `root`; messages name it by `root`.
    pub fn new(root: impl Into<PathBuf>) -> RunsDirectory {
        let root = root.into();
        RunsDirectory {
            shown: root.clone(),
            root,
        }
    }

    /// The same directory, named `shown` in messages (the path as the user wrote it).
    pub fn shown_as(mut self, shown: impl Into<PathBuf>) -> RunsDirectory {
        self.shown = shown.into();
        self
    }

    /// Its root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its layout, recognised from its files.
    pub fn layout(&self) -> Result<Layout, RunsError> {
        if !self.root.is_dir() {
            return Err(RunsError::NotADirectory {
                path: self.shown.clone(),
            });
        }
        Layout::detect(&self.root, &self.shown)
    }

    /// Every file the request needs (for a choice of names, the preferred one), with its
    /// purpose.
    pub fn expected_files(&self, request: &RunsRequest) -> Result<Vec<ExpectedFile>, RunsError> {
        Ok(self
            .layout()?
            .plan(request)
            .into_iter()
            .map(|wanted| ExpectedFile {
                path: wanted.candidates[0].clone(),
                purpose: wanted.slot.purpose(),
            })
            .collect())
    }

    /// Reads what the request needs and checks that every run holds the epochs its figure
    /// reads; all problems are reported in one error.
    pub fn load(&self, request: &RunsRequest) -> Result<LoadedRuns, RunsError> {
        let layout = self.layout()?;
        let mut missing = Vec::new();
        let mut errors = Vec::new();
        let mut runs = LoadedRuns::default();
        let mut effects_source = None;
        for wanted in layout.plan(request) {
            let found = wanted
                .candidates
                .iter()
                .find(|candidate| self.root.join(candidate).is_file());
            let Some(relative) = found else {
                self.not_found(&wanted, &mut missing, &mut errors);
                continue;
            };
            runs.files.push(relative.clone());
            if wanted.slot == Slot::VitEffects {
                effects_source = Some(self.shown.join(relative));
            }
            match self.read(layout, wanted.format, relative) {
                Ok(read) => runs.put(wanted.slot, read),
                Err(error) => errors.push(error),
            }
        }
        check_epochs(request, &mut runs, effects_source, &mut errors);
        match (missing.is_empty(), errors.len()) {
            (true, 0) => Ok(runs),
            (false, 0) => Err(RunsError::MissingFiles {
                root: self.shown.clone(),
                missing,
            }),
            (true, 1) => Err(errors.remove(0)),
            _ => Err(RunsError::Problems {
                root: self.shown.clone(),
                missing,
                errors,
            }),
        }
    }

    /// Records why a wanted run has no file: its folder is there without a results file, or
    /// the run is missing.
    fn not_found(
        &self,
        wanted: &Wanted,
        missing: &mut Vec<ExpectedFile>,
        errors: &mut Vec<RunsError>,
    ) {
        let purpose = wanted.slot.purpose();
        if let Some(folder) = &wanted.folder
            && self.root.join(folder).is_dir()
        {
            errors.push(RunsError::NoResultsFile {
                folder: self.shown.join(folder),
                names: wanted
                    .candidates
                    .iter()
                    .map(|candidate| {
                        candidate
                            .strip_prefix(&format!("{folder}/"))
                            .unwrap_or(candidate)
                            .to_string()
                    })
                    .collect(),
                purpose,
            });
            return;
        }
        let purpose = match &wanted.candidates[1..] {
            [] => purpose,
            others => format!("{purpose} (or `{}`)", others.join("`, `")),
        };
        missing.push(ExpectedFile {
            path: wanted.candidates[0].clone(),
            purpose,
        });
    }

    /// Reads one file; errors name it under the shown root.
    fn read(&self, layout: Layout, format: Format, relative: &str) -> Result<Read, RunsError> {
        let path = self.root.join(relative);
        let shown = self.shown.join(relative);
        let bytes = fs::read(&path).map_err(|source| RunsError::Read {
            path: shown.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| RunsError::NotUtf8 {
            path: shown.clone(),
        })?;
        let setup = || {
            layout
                .reads_setup()
                .then(|| RunSetup::beside(&path))
                .flatten()
        };
        Ok(match format {
            Format::Clip => {
                let mut run = parse_clip_run(&text, &shown)?;
                run.setup = setup();
                Read::Clip(run)
            }
            Format::Vit(numbering) => {
                let mut run = csv::parse_vit_run_numbered(&text, &shown, numbering)?;
                run.setup = setup();
                Read::Vit(run)
            }
            Format::Effects(format) => Read::Effects(csv::parse_effects(&text, &shown, format)?),
        })
    }
}

impl LoadedRuns {
    fn put(&mut self, slot: Slot, read: Read) {
        match (slot, read) {
            (Slot::ClipBaseline, Read::Clip(run)) => self.clip_baseline = Some(run),
            (Slot::VitBaseline, Read::Vit(run)) => self.vit_baseline = Some(run),
            (Slot::VitEffects, Read::Effects(rows)) => self.vit_effects = Some(rows),
            (Slot::SingleEpoch(kind, epoch), Read::Clip(run)) => {
                self.single_epoch.insert((kind, epoch), run);
            }
            (Slot::Sweep(epoch), Read::Clip(run)) => {
                self.sweep.insert(epoch, run);
            }
            (Slot::Grid(start, length), Read::Clip(run)) => {
                self.grid.insert((start, length), run);
            }
            (slot, _) => unreachable!("the plan reads {slot:?} in its own format"),
        }
    }
}

/// The run's first and last epoch.
fn span(run: &ClipRun) -> (u32, u32) {
    let first = run.epochs.first().map_or(0, |row| row.epoch);
    let last = run.epochs.last().map_or(0, |row| row.epoch);
    (first, last)
}

fn holds(run: &ClipRun, epoch: u32) -> bool {
    run.epochs
        .binary_search_by_key(&epoch, |row| row.epoch)
        .is_ok()
}

/// Checks that every loaded run holds the epochs its figure reads, and keeps only the requested
/// epochs of the effects table.
fn check_epochs(
    request: &RunsRequest,
    runs: &mut LoadedRuns,
    effects_source: Option<PathBuf>,
    errors: &mut Vec<RunsError>,
) {
    // fig2a and fig3 compare each run with the baseline at its perturbed epoch.
    for (&(kind, epoch), run) in &runs.single_epoch {
        if !holds(run, epoch) {
            errors.push(RunsError::MissingEpochs {
                path: run.source.clone(),
                span: span(run),
                epochs: vec![epoch],
                purpose: Slot::SingleEpoch(kind, epoch).purpose(),
            });
        }
    }
    for (&epoch, run) in &runs.sweep {
        if !holds(run, epoch) {
            errors.push(RunsError::MissingEpochs {
                path: run.source.clone(),
                span: span(run),
                epochs: vec![epoch],
                purpose: Slot::Sweep(epoch).purpose(),
            });
        }
    }
    if let Some(baseline) = &runs.clip_baseline {
        let mut readers = Vec::new();
        if !request.single_epoch.is_empty() {
            readers.push("fig2a");
        }
        if !request.sweep.is_empty() {
            readers.push("fig3");
        }
        let lacking: Vec<u32> = request
            .single_epoch
            .iter()
            .map(|&(_, epoch)| epoch)
            .chain(request.sweep.iter().copied())
            .collect::<std::collections::BTreeSet<u32>>()
            .into_iter()
            .filter(|&epoch| !holds(baseline, epoch))
            .collect();
        if !lacking.is_empty() {
            errors.push(RunsError::MissingEpochs {
                path: baseline.source.clone(),
                span: span(baseline),
                epochs: lacking,
                purpose: format!(
                    "{} (each run is compared with the baseline at its perturbed epoch)",
                    readers.join(" and ")
                ),
            });
        }
    }
    // fig4 reads a window run from its start to the epoch that decides recovery.
    for (&(start, length), run) in &runs.grid {
        let end = start.saturating_add(length.saturating_sub(1));
        let (first, last) = span(run);
        if first > start {
            errors.push(RunsError::MissingEpochs {
                path: run.source.clone(),
                span: (first, last),
                epochs: vec![start],
                purpose: Slot::Grid(start, length).purpose(),
            });
        }
        let gap = run
            .epochs
            .windows(2)
            .find(|pair| pair[0].epoch >= start && pair[1].epoch != pair[0].epoch + 1);
        if let Some(pair) = gap {
            errors.push(RunsError::EpochGap {
                path: run.source.clone(),
                after: pair[0].epoch,
                next: pair[1].epoch,
                reader: "fig4 reads every epoch from the window's start".into(),
            });
        }
        if last <= end {
            errors.push(RunsError::WindowNotFinished {
                path: run.source.clone(),
                last,
                start,
                end,
            });
        }
    }
    if let (Some(epochs), Some(rows)) = (&request.vit_effects, &mut runs.vit_effects) {
        let missing: Vec<(Perturbation, u32)> = epochs
            .iter()
            .flat_map(|&epoch| Perturbation::ALL.map(|kind| (kind, epoch)))
            .filter(|&(kind, epoch)| {
                !rows
                    .iter()
                    .any(|row| row.perturbation == kind && row.epoch == epoch)
            })
            .collect();
        if !missing.is_empty() {
            errors.push(RunsError::MissingEffects {
                path: effects_source.unwrap_or_default(),
                missing,
            });
        }
        rows.retain(|row| epochs.contains(&row.epoch));
    }
}
