//! Execution: runs the dirty targets of a plan in parallel, up to `-j`, longest chain first.
//!
//! As in cargo's job queue, workers never print: they send [`Message`]s to the main thread,
//! which reports them and decides what starts next. Every error is turned into a message so
//! the loop can drain (`--keep-going`), and Ctrl-C stops scheduling, cancels running actions
//! and keeps nothing partial.

pub mod materialize;
pub mod queue;
pub mod slurm;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::action::{
    ActionContext, ActionError, BuildOptions, CancelFlag, DepOutput, PreviousRun, Progress,
    Registry,
};
use crate::error::{Error, Result};
use crate::graph::{Graph, TargetId};
use crate::plan::{ItemState, Plan, PlanItem};
use crate::report::{Event, Reporter};
use crate::store::Store;
use crate::store::manifest::{Machine, Manifest, RunRecord};
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
    /// The graph.
    pub graph: &'a Graph,
    /// The kinds.
    pub registry: &'a Registry,
    /// The store.
    pub store: &'a Store,
    /// The project root.
    pub project_root: &'a Path,
    /// Build options passed to actions.
    pub options: &'a BuildOptions,
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
    /// The target is done.
    Done(TargetId, WorkResult),
}

/// How one target's work ended.
pub enum WorkResult {
    /// Built and committed.
    Built { seconds: f64 },
    /// Another process committed it while we waited for its lock.
    BuiltElsewhere,
    /// Failed.
    Failed {
        message: String,
        stderr_tail: Vec<String>,
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
        &self.graph.target(id).spec.name
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
                        self.store.bundle_path(&i.key).display()
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
            let moved_to = self.store.quarantine(&item.key)?;
            let ItemState::Dirty(reasons) = &item.state else {
                continue;
            };
            let detail = reasons
                .iter()
                .find_map(|r| match r {
                    crate::plan::DirtyReason::BundleCorrupt { detail } => Some(detail.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            self.reporter.report(&Event::Corrupt {
                target: self.name(item.id).to_string(),
                bundle: self.store.bundle_path(&item.key).display().to_string(),
                detail,
                moved_to: moved_to.display().to_string(),
            });
        }
        for item in plan.items.iter().filter(|i| !i.is_dirty()) {
            self.reporter.report(&Event::Fresh {
                target: self.name(item.id).to_string(),
                key: item.key.clone(),
            });
            let (directory, manifest) = self.store.unpacked(&item.key)?;
            materialize::worktree(&directory, &manifest, self.project_root)?;
            outcome.fresh += 1;
        }

        let mut queue = DependencyQueue::new();
        for item in plan.items.iter().filter(|i| i.is_dirty()) {
            let target = self.graph.target(item.id);
            let cost = self
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
        std::thread::scope(|scope| {
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
                    let sender = sender.clone();
                    scope.spawn(move || {
                        let result = self.build_one(plan, &item, &sender);
                        let _ = sender.send(Message::Done(id, result));
                    });
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
                    Message::Done(id, result) => {
                        running -= 1;
                        let name = self.name(id).to_string();
                        let key = plan.item(id).map(|i| i.key.clone()).unwrap_or_default();
                        match result {
                            WorkResult::Built { seconds } => {
                                outcome.built += 1;
                                self.reporter.report(&Event::Finished {
                                    target: name,
                                    key,
                                    seconds,
                                });
                                queue.finish(id);
                            }
                            WorkResult::BuiltElsewhere => {
                                outcome.fresh += 1;
                                self.reporter
                                    .report(&Event::BuiltElsewhere { target: name, key });
                                queue.finish(id);
                            }
                            WorkResult::Failed {
                                message,
                                stderr_tail,
                            } => {
                                self.reporter.report(&Event::Failed {
                                    target: name.clone(),
                                    message,
                                    log: self.store.log_path(&name).display().to_string(),
                                    stderr_tail,
                                });
                                outcome.failed.push(name.clone());
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
        });
        if !outcome.interrupted {
            self.report_outputs(plan, roots)?;
        }
        self.reporter
            .report(&outcome.summary(started.elapsed().as_secs_f64()));
        Ok(outcome)
    }

    fn report_outputs(&self, plan: &Plan, roots: &[TargetId]) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for &root in roots {
            let Some(item) = plan.item(root) else {
                continue;
            };
            if !seen.insert(root) || self.store.state(&item.key) != crate::store::BundleState::Valid
            {
                continue;
            }
            let (_, manifest) = self.store.unpacked(&item.key)?;
            if !manifest.worktree.is_empty() {
                self.reporter.report(&Event::Outputs {
                    target: self.name(root).to_string(),
                    files: manifest.worktree.clone(),
                });
            }
        }
        Ok(())
    }

    /// Builds one target: lock, re-check, stage, run, commit. Never leaves a partial bundle.
    fn build_one(
        &self,
        plan: &Plan,
        item: &PlanItem,
        sender: &mpsc::Sender<Message>,
    ) -> WorkResult {
        match self.try_build_one(plan, item, sender) {
            Ok(result) => result,
            Err(error) => WorkResult::Failed {
                message: error.to_string(),
                stderr_tail: Vec::new(),
            },
        }
    }

    fn try_build_one(
        &self,
        plan: &Plan,
        item: &PlanItem,
        sender: &mpsc::Sender<Message>,
    ) -> Result<WorkResult> {
        let target = self.graph.target(item.id);
        let name = &target.spec.name;
        let _lock = self.store.lock_key(&item.key, |pid| {
            let holder = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            let _ = sender.send(Message::Waiting(format!(
                "for target `{name}`: another cpbuild{holder} is building it"
            )));
        })?;
        let forced = matches!(&item.state, ItemState::Dirty(r) if r.contains(&crate::plan::DirtyReason::Forced));
        if !forced && self.store.state(&item.key) == crate::store::BundleState::Valid {
            let (directory, manifest) = self.store.unpacked(&item.key)?;
            materialize::worktree(&directory, &manifest, self.project_root)?;
            return Ok(WorkResult::BuiltElsewhere);
        }
        let mut deps = BTreeMap::new();
        for dep in &target.deps {
            let dep_item = plan.item(*dep).ok_or_else(|| {
                Error::store(format!("dependency `{}` is not planned", self.name(*dep)))
            })?;
            let (directory, manifest) = self.store.unpacked(&dep_item.key)?;
            deps.insert(
                self.name(*dep).to_string(),
                DepOutput {
                    key: dep_item.key.clone(),
                    kind: manifest.fingerprint.kind.clone(),
                    files: directory.join("files"),
                },
            );
        }
        let action = self
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
            Some((family, extent)) => match self.store.best_in_family(family, *extent, &item.key) {
                Some((key, extent)) => {
                    let (directory, _) = self.store.unpacked(&key)?;
                    Some(PreviousRun {
                        key,
                        extent,
                        files: directory.join("files"),
                    })
                }
                None => None,
            },
            None => None,
        };
        let staging = self.store.staging(&item.key)?;
        let log_path = self.store.log_path(name);
        let mut log = std::io::BufWriter::new(
            std::fs::File::create(&log_path).map_err(|e| Error::io(&log_path, e))?,
        );
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
            project_root: self.project_root,
            out_dir: &out_dir,
            deps: &deps,
            inputs: &item.inputs,
            log: &mut log,
            progress: &progress,
            cancel: &self.cancel,
            options: self.options,
            worktree_outputs: Vec::new(),
            previous,
            info: BTreeMap::new(),
        };
        let result = action.run(&mut context);
        let worktree_outputs = std::mem::take(&mut context.worktree_outputs);
        let info = std::mem::take(&mut context.info);
        drop(context);
        use std::io::Write;
        let _ = log.flush();
        match result {
            Ok(()) => {}
            Err(ActionError::Cancelled) => {
                let _ = crate::util::fs::remove_tree(&staging);
                return Ok(WorkResult::Cancelled);
            }
            Err(ActionError::Failed {
                message,
                stderr_tail,
            }) => {
                let _ = crate::util::fs::remove_tree(&staging);
                return Ok(WorkResult::Failed {
                    message,
                    stderr_tail,
                });
            }
        }
        if self.cancel.is_cancelled() {
            let _ = crate::util::fs::remove_tree(&staging);
            return Ok(WorkResult::Cancelled);
        }
        let files =
            crate::store::bundle::scan_files(&out_dir).map_err(|e| Error::store(e.to_string()))?;
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
            profile: self.options.profile.clone(),
            bundle_sha256: String::new(),
        };
        self.store.commit(&staging, &manifest, run)?;
        if let Some((family, extent)) = &extension {
            self.store.add_to_family(family, *extent, &item.key)?;
        }
        self.store
            .write_record(&self.options.profile, name, &item.fingerprint)?;
        let (directory, manifest) = self.store.unpacked(&item.key)?;
        materialize::worktree(&directory, &manifest, self.project_root)?;
        Ok(WorkResult::Built {
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
