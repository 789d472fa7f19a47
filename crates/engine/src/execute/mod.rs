//! Execution: runs the dirty targets of a plan in parallel, up to `-j`, longest chain first.
//!
//! As in cargo's job queue, workers never print: they send [`Message`]s to the main thread,
//! which reports them and decides what starts next. Every error is turned into a message so
//! the loop can drain (`--keep-going`), and Ctrl-C stops scheduling, cancels running actions
//! and keeps nothing partial.

mod materialize;
mod queue;
mod slurm;
mod worktree;

pub use slurm::{Resources, SlurmExecutor, Submission};

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::action::{ActionContext, ActionError, CancelFlag, DepOutput, PreviousRun, Progress};
use crate::error::{Error, Result};
use crate::events::{Event, Reporter};
use crate::graph::TargetId;
use crate::plan::{Build, ItemState, Plan, PlanItem};
use crate::store::manifest::{FileEntry, Machine, Manifest, RunRecord};
use queue::DependencyQueue;

/// How a build went.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Targets built by this process.
    pub built: usize,
    /// Targets that were already fresh (or built by another process meanwhile).
    pub fresh: usize,
    /// Targets that failed.
    pub failed: Vec<String>,
    /// Targets not built because a dependency failed.
    pub skipped: usize,
    /// Whether Ctrl-C stopped the build.
    pub interrupted: bool,
    /// Targets whose bundle could not be written to the store (a full disk, say).
    pub store_failed: Vec<String>,
}

impl Outcome {
    /// The closing summary event.
    pub fn summary(&self, seconds: f64) -> Event {
        Event::Summary {
            built: self.built,
            fresh: self.fresh,
            failed: self.failed.len(),
            skipped: self.skipped,
            seconds,
        }
    }

    /// Success, or the error that says how the build ended.
    pub fn into_result(self) -> Result<()> {
        if self.interrupted {
            return Err(Error::Interrupted);
        }
        if !self.store_failed.is_empty() {
            let names: Vec<String> = self.store_failed.iter().map(|n| format!("`{n}`")).collect();
            return Err(Error::store(format!(
                "the store could not be written for {} (see above); nothing partial was kept\n  help: free space on the store's disk (or fix what the message names), then build again",
                names.join(", ")
            )));
        }
        if !self.failed.is_empty() {
            return Err(Error::BuildFailed {
                failed: self.failed,
            });
        }
        Ok(())
    }
}

/// Everything the executor needs.
pub struct Executor<'a> {
    /// What the build reads.
    pub build: Build<'a>,
    /// Where events go.
    pub reporter: &'a dyn Reporter,
    /// `-j`.
    pub jobs: usize,
    /// `-k`.
    pub keep_going: bool,
    /// `--no-rebuild`: refuse to replace a corrupt bundle.
    pub no_rebuild: bool,
    /// Set on Ctrl-C.
    pub cancel: CancelFlag,
}

/// What a worker tells the main thread.
pub enum Message {
    /// Progress of a running target.
    Progress(TargetId, String),
    /// The worker waits for a lock.
    Waiting(String),
    /// Something to report as it is (a repaired copy, a restored working tree).
    Report(Event),
    /// The target is done.
    Done(TargetId, WorkResult),
}

/// How one target's work ended.
pub enum WorkResult {
    /// Built and committed.
    Built {
        seconds: f64,
        /// Its working-tree outputs (see [`Event::Outputs`]).
        worktree: Vec<String>,
    },
    /// Another process committed it while we waited for its lock.
    BuiltElsewhere {
        /// Its working-tree outputs.
        worktree: Vec<String>,
    },
    /// Failed.
    Failed {
        message: String,
        stderr_tail: Vec<String>,
        /// The store could not be written (exit code 3), rather than the action failing.
        store_error: bool,
    },
    /// Stopped by Ctrl-C.
    Cancelled,
}

struct ChannelProgress {
    id: TargetId,
    sender: mpsc::Sender<Message>,
}

impl Progress for ChannelProgress {
    fn message(&self, message: &str) {
        let _ = self
            .sender
            .send(Message::Progress(self.id, message.to_string()));
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Executor<'_> {
    fn name(&self, id: TargetId) -> &str {
        &self.build.graph.target(id).spec.name
    }

    /// Runs the plan, then says where the working-tree outputs of `roots` are.
    pub fn run(&self, plan: &Plan, roots: &[TargetId]) -> Result<Outcome> {
        let started = Instant::now();
        let mut outcome = Outcome::default();
        let corrupt: Vec<&PlanItem> = plan.items.iter().filter(|i| i.is_corrupt()).collect();
        if !corrupt.is_empty() && self.no_rebuild {
            let listed: Vec<String> = corrupt
                .iter()
                .map(|i| {
                    format!(
                        "`{}` (`{}`)",
                        self.name(i.id),
                        self.build.store.bundle_path(&i.key).display()
                    )
                })
                .collect();
            return Err(Error::store(format!(
                "corrupt bundle{} for {}; refusing to rebuild because of `--no-rebuild`\n  help: run without `--no-rebuild` to move {} aside and rebuild",
                if listed.len() == 1 { "" } else { "s" },
                listed.join(", "),
                if listed.len() == 1 { "it" } else { "them" },
            )));
        }
        for item in &corrupt {
            let moved_to = self.build.store.quarantine(&item.key)?;
            let ItemState::Dirty(reasons) = &item.state else {
                continue;
            };
            let detail = reasons
                .iter()
                .find_map(|r| match r {
                    crate::fingerprint::DirtyReason::BundleCorrupt { detail } => {
                        Some(detail.clone())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            self.reporter.report(&Event::Corrupt {
                target: self.name(item.id).to_string(),
                bundle: self
                    .build
                    .store
                    .bundle_path(&item.key)
                    .display()
                    .to_string(),
                detail,
                moved_to: moved_to.display().to_string(),
            });
        }
        // The working-tree outputs of every target that ends up built or fresh, for
        // `report_outputs`.
        let mut worktrees: BTreeMap<TargetId, Vec<String>> = BTreeMap::new();
        for item in plan.items.iter().filter(|i| !i.is_dirty()) {
            self.reporter.report(&Event::Fresh {
                target: self.name(item.id).to_string(),
                key: item.key.clone(),
            });
            let (event, worktree) = self.materialize(item.id, &item.key)?;
            if let Some(event) = event {
                self.reporter.report(&event);
            }
            worktrees.insert(item.id, worktree);
            outcome.fresh += 1;
        }

        let mut queue = DependencyQueue::new();
        for item in plan.items.iter().filter(|i| i.is_dirty()) {
            let target = self.build.graph.target(item.id);
            let cost = self
                .build
                .registry
                .get(&target.spec.kind)
                .map(|a| a.cost(&target.spec.params))
                .unwrap_or(1);
            let deps: Vec<TargetId> = target
                .deps
                .iter()
                .copied()
                .filter(|d| plan.item(*d).is_some_and(PlanItem::is_dirty))
                .collect();
            queue.push(item.id, cost, &deps);
        }
        queue.prioritise();

        let (sender, receiver) = mpsc::channel::<Message>();
        let mut running = 0usize;
        let mut stop = false;
        // One worker thread per job slot, fed through a channel (not a thread per target).
        let (jobs, work) = mpsc::channel::<PlanItem>();
        let work = std::sync::Mutex::new(work);
        std::thread::scope(|scope| {
            for slot in 0..self.jobs.max(1) {
                let sender = sender.clone();
                let work = &work;
                scope.spawn(move || {
                    loop {
                        let next = work.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(item) = next else { break };
                        let result = self.build_one(plan, &item, &sender, slot);
                        let _ = sender.send(Message::Done(item.id, result));
                    }
                });
            }
            loop {
                if self.cancel.is_cancelled() {
                    stop = true;
                    outcome.interrupted = true;
                }
                while !stop && running < self.jobs.max(1) {
                    let Some(id) = queue.pop_ready() else { break };
                    let item = plan.item(id).expect("queued items are planned").clone();
                    let reasons = match &item.state {
                        ItemState::Dirty(reasons) => reasons.clone(),
                        ItemState::Fresh => Vec::new(),
                    };
                    self.reporter.report(&Event::Start {
                        target: self.name(id).to_string(),
                        key: item.key.clone(),
                        reasons,
                    });
                    running += 1;
                    jobs.send(item)
                        .expect("the workers live as long as this loop");
                }
                if running == 0 {
                    break;
                }
                let message = match receiver.recv_timeout(Duration::from_millis(100)) {
                    Ok(message) => message,
                    Err(_) => continue,
                };
                match message {
                    Message::Progress(id, text) => self.reporter.report(&Event::Progress {
                        target: self.name(id).to_string(),
                        message: text,
                    }),
                    Message::Waiting(text) => {
                        self.reporter.report(&Event::Waiting { message: text })
                    }
                    Message::Report(event) => self.reporter.report(&event),
                    Message::Done(id, result) => {
                        running -= 1;
                        let name = self.name(id).to_string();
                        let key = plan.item(id).map(|i| i.key.clone()).unwrap_or_default();
                        match result {
                            WorkResult::Built { seconds, worktree } => {
                                outcome.built += 1;
                                worktrees.insert(id, worktree);
                                self.reporter.report(&Event::Finished {
                                    target: name,
                                    key,
                                    seconds,
                                });
                                queue.finish(id);
                            }
                            WorkResult::BuiltElsewhere { worktree } => {
                                outcome.fresh += 1;
                                worktrees.insert(id, worktree);
                                self.reporter
                                    .report(&Event::BuiltElsewhere { target: name, key });
                                queue.finish(id);
                            }
                            WorkResult::Failed {
                                message,
                                stderr_tail,
                                store_error,
                            } => {
                                self.reporter.report(&Event::Failed {
                                    target: name.clone(),
                                    message,
                                    log: Some(self.build.store.log_path(&name))
                                        .filter(|path| path.exists())
                                        .map(|path| path.display().to_string()),
                                    stderr_tail,
                                });
                                if store_error {
                                    outcome.store_failed.push(name.clone());
                                } else {
                                    outcome.failed.push(name.clone());
                                }
                                for skipped in queue.fail(id) {
                                    outcome.skipped += 1;
                                    self.reporter.report(&Event::Skipped {
                                        target: self.name(skipped).to_string(),
                                        because: name.clone(),
                                    });
                                }
                                if !self.keep_going {
                                    stop = true;
                                }
                            }
                            WorkResult::Cancelled => {
                                outcome.interrupted = true;
                                stop = true;
                            }
                        }
                    }
                }
            }
            // The workers end once the channel is closed.
            drop(jobs);
        });
        let _ = self.build.store.remove_staging(None);
        // Every commit of this build is on disk before it says it is done.
        self.build.store.flush()?;
        if !outcome.interrupted {
            self.report_outputs(plan, roots, &worktrees)?;
        }
        self.reporter
            .report(&outcome.summary(started.elapsed().as_secs_f64()));
        Ok(outcome)
    }

    /// Says where the working-tree outputs of `roots` are: from `worktrees` for the targets
    /// this build found fresh or built, from the store for the others (a failed `-B` rebuild
    /// keeps its previous bundle).
    fn report_outputs(
        &self,
        plan: &Plan,
        roots: &[TargetId],
        worktrees: &BTreeMap<TargetId, Vec<String>>,
    ) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for &root in roots {
            let Some(item) = plan.item(root) else {
                continue;
            };
            if !seen.insert(root) {
                continue;
            }
            let files = match worktrees.get(&root) {
                Some(files) => files.clone(),
                None if self.build.store.state(&item.key) == crate::store::BundleState::Valid => {
                    self.build.store.manifest(&item.key)?.worktree
                }
                None => continue,
            };
            if !files.is_empty() {
                self.reporter.report(&Event::Outputs {
                    target: self.name(root).to_string(),
                    files,
                });
            }
        }
        Ok(())
    }

    /// Copies `key`'s working-tree outputs into the project, from an unpacked copy that
    /// matches its manifest: a damaged copy is unpacked again from the bundle first. Returns
    /// the event that says so, if it was, and the outputs.
    fn materialize(&self, id: TargetId, key: &str) -> Result<(Option<Event>, Vec<String>)> {
        // Nothing needs unpacking when the working tree already holds every output.
        let manifest = self.build.store.manifest(key)?;
        if materialize::in_place(&manifest, self.build.project_root) {
            return Ok((None, manifest.worktree));
        }
        let (directory, manifest) = self.build.store.unpacked(key)?;
        let Some(detail) = materialize::worktree(&directory, &manifest, self.build.project_root)?
        else {
            return Ok((None, manifest.worktree));
        };
        self.build.store.discard_unpacked(key)?;
        let (directory, manifest) = self.build.store.unpacked(key)?;
        if let Some(still) = materialize::worktree(&directory, &manifest, self.build.project_root)?
        {
            return Err(Error::store(format!(
                "target `{}`: its unpacked copy is damaged again after unpacking ({still})",
                self.name(id)
            )));
        }
        Ok((Some(self.repaired(id, detail)), manifest.worktree))
    }

    fn repaired(&self, id: TargetId, detail: String) -> Event {
        Event::Repaired {
            target: self.name(id).to_string(),
            detail,
        }
    }

    /// Builds one target: lock, re-check, stage, run, commit. Never leaves a partial bundle,
    /// a temporary or a partial working-tree output behind.
    fn build_one(
        &self,
        plan: &Plan,
        item: &PlanItem,
        sender: &mpsc::Sender<Message>,
        slot: usize,
    ) -> WorkResult {
        let aside = self.build.store.root().join("tmp").join(format!(
            "{}.{}.before",
            item.key,
            std::process::id()
        ));
        let mut snapshot = None;
        let result = self.try_build_one(plan, item, sender, &aside, &mut snapshot, slot);
        // A failed or interrupted action may have left files in its slot's staging folder.
        if matches!(
            result,
            Err(_) | Ok(WorkResult::Failed { .. } | WorkResult::Cancelled)
        ) {
            let _ = self.build.store.remove_staging(Some(slot));
        }
        let result = match result {
            Ok(result) => result,
            Err(error) => WorkResult::Failed {
                message: error.to_string(),
                stderr_tail: Vec::new(),
                store_error: matches!(error, Error::Io { .. } | Error::Store { .. }),
            },
        };
        if let (WorkResult::Failed { .. } | WorkResult::Cancelled, Some(snapshot)) =
            (&result, &snapshot)
        {
            let restored = snapshot.restore(self.build.project_root);
            let event = match restored {
                Ok(done) => Event::Restored {
                    target: self.name(item.id).to_string(),
                    restored: done.restored,
                    removed: done.removed,
                },
                Err(error) => Event::Warning {
                    message: format!(
                        "target `{}`: could not put the working tree back as it was: {error}",
                        self.name(item.id)
                    ),
                },
            };
            if !matches!(&event, Event::Restored { restored, removed, .. } if restored.is_empty() && removed.is_empty())
            {
                let _ = sender.send(Message::Report(event));
            }
        }
        let _ = crate::util::fs::remove_tree(&aside);
        result
    }

    fn try_build_one(
        &self,
        plan: &Plan,
        item: &PlanItem,
        sender: &mpsc::Sender<Message>,
        aside: &Path,
        snapshot: &mut Option<worktree::Snapshot>,
        slot: usize,
    ) -> Result<WorkResult> {
        let target = self.build.graph.target(item.id);
        let name = &target.spec.name;
        let _lock = self.build.store.lock_key(&item.key, |pid| {
            let holder = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            let _ = sender.send(Message::Waiting(format!(
                "for target `{name}`: another cpbuild{holder} is building it"
            )));
        })?;
        let forced = matches!(&item.state, ItemState::Dirty(r) if r.contains(&crate::fingerprint::DirtyReason::Forced));
        if !forced && self.build.store.state(&item.key) == crate::store::BundleState::Valid {
            let (event, worktree) = self.materialize(item.id, &item.key)?;
            if let Some(event) = event {
                let _ = sender.send(Message::Report(event));
            }
            return Ok(WorkResult::BuiltElsewhere { worktree });
        }
        let mut deps = BTreeMap::new();
        for dep in &target.deps {
            let dep_item = plan.item(*dep).ok_or_else(|| {
                Error::store(format!("dependency `{}` is not planned", self.name(*dep)))
            })?;
            // A command only ever reads files that match its dependency's manifest.
            let (directory, manifest, damage) = self
                .build
                .store
                .verified_unpacked(&dep_item.key)
                .map_err(|e| {
                Error::store(format!(
                    "dependency `{}` of target `{name}`: {e}",
                    self.name(*dep)
                ))
            })?;
            if let Some(detail) = damage {
                let _ = sender.send(Message::Report(self.repaired(*dep, detail)));
            }
            deps.insert(
                self.name(*dep).to_string(),
                DepOutput {
                    key: dep_item.key.clone(),
                    kind: manifest.fingerprint.kind,
                    params: manifest.fingerprint.params,
                    info: manifest.info,
                    files: directory.join("files"),
                },
            );
        }
        let action = self
            .build
            .registry
            .get(&target.spec.kind)
            .expect("the graph checked every kind")
            .clone();
        let extension = action.extension(&target.spec.params).map(|extension| {
            (
                item.fingerprint.family_key(&extension.family),
                extension.extent,
            )
        });
        let previous = match &extension {
            Some((family, extent)) => {
                match self.build.store.best_in_family(family, *extent, &item.key) {
                    Some((key, extent)) => {
                        let (directory, _, damage) = self.build.store.verified_unpacked(&key)?;
                        if let Some(detail) = damage {
                            let _ = sender.send(Message::Report(self.repaired(item.id, detail)));
                        }
                        Some(PreviousRun {
                            key,
                            extent,
                            files: directory.join("files"),
                        })
                    }
                    None => None,
                }
            }
            None => None,
        };
        let staging = self.build.store.staging(&item.key, slot)?;
        let declared = action.worktree_outputs(&target.spec.params);
        if !declared.is_empty() {
            *snapshot = Some(worktree::Snapshot::take(
                self.build.project_root,
                &declared,
                aside,
            )?);
        }
        let mut log = TargetLog::new(self.build.store.log_path(name));
        let progress = ChannelProgress {
            id: item.id,
            sender: sender.clone(),
        };
        let out_dir = staging.join("files");
        let started_wall = now();
        let started = Instant::now();
        let mut context = ActionContext {
            target: name,
            params: &target.spec.params,
            project_root: self.build.project_root,
            out_dir: &out_dir,
            deps: &deps,
            inputs: &item.inputs,
            log: &mut log,
            progress: &progress,
            cancel: &self.cancel,
            options: self.build.options,
            worktree_outputs: Vec::new(),
            previous,
            info: BTreeMap::new(),
        };
        let result = action.run(&mut context);
        let worktree_outputs = std::mem::take(&mut context.worktree_outputs);
        let info = std::mem::take(&mut context.info);
        drop(context);
        log.finish()?;
        match result {
            Ok(()) => {}
            Err(ActionError::Cancelled) => {
                return Ok(WorkResult::Cancelled);
            }
            Err(ActionError::Failed {
                message,
                stderr_tail,
            }) => {
                return Ok(WorkResult::Failed {
                    message,
                    stderr_tail,
                    store_error: false,
                });
            }
        }
        if self.cancel.is_cancelled() {
            return Ok(WorkResult::Cancelled);
        }
        // The key was computed from the inputs as they were when planned: an input that
        // changed since (while the command ran, say) would store new output under the old key.
        if let Some(message) = changed_inputs(name, item, self.build.project_root) {
            return Ok(WorkResult::Failed {
                message,
                stderr_tail: Vec::new(),
                store_error: false,
            });
        }
        let mut files = match crate::store::bundle::scan_files(&out_dir) {
            Ok(files) => files,
            Err(e) => {
                return Ok(WorkResult::Failed {
                    message: e.to_string(),
                    stderr_tail: Vec::new(),
                    store_error: false,
                });
            }
        };
        // Working-tree outputs the action did not write under `out_dir` are stored from the
        // working tree.
        let mut sources = BTreeMap::new();
        for relative in &worktree_outputs {
            if files.contains_key(relative) {
                continue;
            }
            let path = self.build.project_root.join(relative);
            match crate::util::hash::file(&path) {
                Ok((sha256, size)) => {
                    files.insert(relative.clone(), FileEntry { sha256, size });
                    sources.insert(relative.clone(), path);
                }
                Err(e) => {
                    return Ok(WorkResult::Failed {
                        message: format!(
                            "cannot read output `{}`: {e}",
                            crate::util::printable(relative)
                        ),
                        stderr_tail: Vec::new(),
                        store_error: false,
                    });
                }
            }
        }
        let manifest = Manifest {
            format: crate::store::manifest::FORMAT,
            key: item.key.clone(),
            fingerprint: item.fingerprint.clone(),
            machine: Machine::current(),
            info,
            files,
            worktree: worktree_outputs,
        };
        let run = RunRecord {
            target: name.clone(),
            key: item.key.clone(),
            started: started_wall,
            finished: now(),
            host: hostname(),
            profile: self.build.options.profile.clone(),
            bundle_sha256: String::new(),
        };
        self.build
            .store
            .commit(&staging, &manifest, &sources, run)
            .map_err(|e| Error::store(format!("cannot store target `{name}`: {e}")))?;
        if let Some((family, extent)) = &extension {
            self.build.store.add_to_family(family, *extent, &item.key)?;
        }
        self.build
            .store
            .write_record(&self.build.options.profile, name, &item.fingerprint)?;
        // Outputs packed from the working tree are in place (packing checked them); the
        // others are copied out of the unpacked copy, whose manifest is the one just
        // committed: no need to read it back, unless the copy turns out damaged.
        if manifest.worktree.iter().all(|r| sources.contains_key(r)) {
            return Ok(WorkResult::Built {
                seconds: started.elapsed().as_secs_f64(),
                worktree: manifest.worktree,
            });
        }
        let unpacked = self.build.store.unpacked_path(&item.key);
        let worktree = match materialize::worktree(&unpacked, &manifest, self.build.project_root)? {
            None => manifest.worktree,
            Some(_) => {
                let (event, worktree) = self.materialize(item.id, &item.key)?;
                if let Some(event) = event {
                    let _ = sender.send(Message::Report(event));
                }
                worktree
            }
        };
        Ok(WorkResult::Built {
            seconds: started.elapsed().as_secs_f64(),
            worktree,
        })
    }
}

/// Says which inputs of `item` no longer have the content its key was computed from.
fn changed_inputs(name: &str, item: &PlanItem, project_root: &Path) -> Option<String> {
    let short = |sha: Option<&String>| {
        sha.map_or("gone".to_string(), |s| {
            format!("sha256 {}", &s[..12.min(s.len())])
        })
    };
    let mut names = Vec::new();
    let mut details = Vec::new();
    for input in &item.inputs {
        let relative = input.to_string_lossy();
        let planned = item.fingerprint.inputs.get(relative.as_ref());
        let now = crate::util::hash::file(&project_root.join(input))
            .ok()
            .map(|(sha, _)| sha);
        if now.as_ref() != planned {
            let shown = crate::util::printable(&relative).into_owned();
            details.push(format!(
                "`{shown}`: {} when planned, {} now",
                short(planned),
                short(now.as_ref())
            ));
            names.push(format!("`{shown}`"));
        }
    }
    if names.is_empty() {
        return None;
    }
    let several = names.len() > 1;
    Some(format!(
        "input{} {} of target `{name}` changed while its command ran ({}), so its output was not stored\n  help: build again once the input{} stay{} unchanged",
        if several { "s" } else { "" },
        names.join(", "),
        details.join("; "),
        if several { "s" } else { "" },
        if several { "" } else { "s" },
    ))
}

/// The machine's name, read once per process (every commit records it).
fn hostname() -> String {
    static HOSTNAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOSTNAME
        .get_or_init(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "unknown".into())
        })
        .clone()
}

/// A target's log, `logs/<target>.log`: created at the first byte its action writes, so an
/// action that writes nothing leaves no log (and no file is made for it); the log of an
/// earlier build of the target is removed first, so a log always belongs to the last build.
struct TargetLog {
    path: std::path::PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    /// Why the log could not be created, reported after the action (actions ignore the
    /// errors of their log writes).
    error: Option<std::io::Error>,
}

impl TargetLog {
    fn new(path: std::path::PathBuf) -> TargetLog {
        let error = match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Some(e),
            _ => None,
        };
        TargetLog {
            path,
            file: None,
            error,
        }
    }

    /// Writes what is buffered; an error of the log becomes the target's error.
    fn finish(mut self) -> Result<()> {
        use std::io::Write;
        if let Err(e) = self.flush() {
            self.error.get_or_insert(e);
        }
        match self.error {
            Some(e) => Err(Error::io(&self.path, e)),
            None => Ok(()),
        }
    }
}

impl std::io::Write for TargetLog {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        if buffer.is_empty() {
            return Ok(0);
        }
        if self.file.is_none() {
            match std::fs::File::create(&self.path) {
                Ok(file) => self.file = Some(std::io::BufWriter::new(file)),
                Err(e) => {
                    let error = std::io::Error::new(e.kind(), e.to_string());
                    self.error.get_or_insert(e);
                    return Err(error);
                }
            }
        }
        self.file.as_mut().expect("created above").write(buffer)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}
