//! The SLURM executor: the whole build graph is queued at once, then followed to the end.
//!
//! Every dirty target becomes one job that runs `cpbuild build --only TARGET` on a node, into
//! the shared store (which commits atomically and locks per key, so many jobs can share it).
//! Targets of one grid group, kind and resources at the same depth of the graph go out as one
//! job array; dependencies become `--dependency=afterok:JOB_TASK`, with
//! `--kill-on-invalid-dep=yes` so that dependents of a failed job are cancelled instead of
//! pending forever. The submitting cpbuild follows the jobs with `scontrol` (not
//! `sbatch --wait`, which reports success for jobs cancelled on a failed dependency); the store
//! is the ground truth for success: a target is done when its bundle is committed and valid.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::action::CancelFlag;
use crate::error::{Error, Result};
use crate::events::{Event, Reporter};
use crate::graph::{Graph, TargetId};
use crate::plan::{ItemState, Plan};
use crate::store::{BundleState, Store};

use super::Outcome;

/// Cluster resources of one job (`sbatch` options).
pub type Resources = BTreeMap<String, String>;

/// What the SLURM executor needs.
pub struct SlurmExecutor<'a> {
    /// The graph.
    pub graph: &'a Graph,
    /// The store (must be on a filesystem every node sees).
    pub store: &'a Store,
    /// The project root (the jobs' working directory).
    pub project_root: &'a Path,
    /// The cpbuild program the jobs run.
    pub program: PathBuf,
    /// Options passed to every node-side cpbuild (`--profile`, `--store`, …).
    pub node_args: Vec<String>,
    /// Resources of each target, from the recipes and the command line.
    pub resources: &'a dyn Fn(TargetId) -> Result<Resources>,
    /// Where events go.
    pub reporter: &'a dyn Reporter,
    /// Set on Ctrl-C.
    pub cancel: CancelFlag,
    /// How often to poll `scontrol`.
    pub poll: Duration,
}

/// One `sbatch` submission: a job or a job array.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The job name suffix (grid group or target).
    pub name: String,
    /// The targets, one per array task (in task order).
    pub targets: Vec<TargetId>,
    /// sbatch options from the resources.
    pub resources: Resources,
    /// Submissions (by index) and task of each dependency.
    pub depends_on: Vec<(usize, usize)>,
}

/// Where a target went: submission index and task.
type Placement = HashMap<TargetId, (usize, usize)>;

/// Shell-quotes `text` for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

impl SlurmExecutor<'_> {
    fn name(&self, id: TargetId) -> &str {
        &self.graph.target(id).spec.name
    }

    /// Groups the plan's dirty targets into submissions, dependencies first.
    pub fn submissions(&self, plan: &Plan) -> Result<(Vec<Submission>, Placement)> {
        let mut depth: HashMap<TargetId, usize> = HashMap::new();
        let mut groups: BTreeMap<(usize, String, String, String), Vec<TargetId>> = BTreeMap::new();
        for item in plan.items.iter().filter(|i| i.is_dirty()) {
            let target = self.graph.target(item.id);
            let level = target
                .deps
                .iter()
                .filter_map(|d| depth.get(d))
                .map(|l| l + 1)
                .max()
                .unwrap_or(0);
            depth.insert(item.id, level);
            let resources = (self.resources)(item.id)?;
            let key = (
                level,
                target.spec.group.clone(),
                target.spec.kind.clone(),
                crate::util::canonical::to_string(
                    &serde_json::to_value(&resources).unwrap_or_default(),
                ),
            );
            groups.entry(key).or_default().push(item.id);
        }
        let mut submissions: Vec<Submission> = Vec::new();
        let mut placement: Placement = HashMap::new();
        for ((_, group, _, _), targets) in groups {
            let index = submissions.len();
            let resources = (self.resources)(targets[0])?;
            let mut depends_on = Vec::new();
            for (task, &id) in targets.iter().enumerate() {
                placement.insert(id, (index, task));
                for dep in &self.graph.target(id).deps {
                    if let Some(&place) = placement.get(dep)
                        && !depends_on.contains(&place)
                    {
                        depends_on.push(place);
                    }
                }
            }
            depends_on.sort_unstable();
            submissions.push(Submission {
                name: group,
                targets,
                resources,
                depends_on,
            });
        }
        Ok((submissions, placement))
    }

    /// The batch script of a submission; `job_ids` are the ids of earlier submissions (or
    /// placeholders for a dry run).
    pub fn script(&self, submission: &Submission, job_ids: &[String]) -> String {
        let logs = self.store.root().join("logs").join("slurm");
        let array = submission.targets.len() > 1;
        let mut script = String::from("#!/bin/sh\n");
        script.push_str(&format!("#SBATCH --job-name=cpbuild-{}\n", submission.name));
        let pattern = if array { "%A_%a" } else { "%j" };
        script.push_str(&format!(
            "#SBATCH --output={}/{}-{pattern}.log\n",
            logs.display(),
            submission.name
        ));
        script.push_str(&format!(
            "#SBATCH --chdir={}\n",
            self.project_root.display()
        ));
        if array {
            script.push_str(&format!(
                "#SBATCH --array=0-{}\n",
                submission.targets.len() - 1
            ));
        }
        if !submission.depends_on.is_empty() {
            let deps: Vec<String> = submission
                .depends_on
                .iter()
                .map(|&(index, task)| {
                    if self_is_array(index, job_ids) {
                        format!("{}_{task}", job_ids[index].trim_end_matches(ARRAY_MARK))
                    } else {
                        job_ids[index].clone()
                    }
                })
                .collect();
            script.push_str(&format!(
                "#SBATCH --dependency=afterok:{}\n",
                deps.join(":")
            ));
            script.push_str("#SBATCH --kill-on-invalid-dep=yes\n");
        }
        for (name, value) in &submission.resources {
            let option = match name.as_str() {
                "cpus" => "cpus-per-task",
                other => other,
            };
            script.push_str(&format!("#SBATCH --{option}={value}\n"));
        }
        script.push_str("case \"${SLURM_ARRAY_TASK_ID:-0}\" in\n");
        for (task, &id) in submission.targets.iter().enumerate() {
            script.push_str(&format!("  {task}) target={} ;;\n", quote(self.name(id))));
        }
        script.push_str("  *) echo \"cpbuild: no target for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\n");
        let mut command = vec![quote(&self.program.to_string_lossy())];
        command.push("-C".into());
        command.push(quote(&self.project_root.to_string_lossy()));
        for arg in &self.node_args {
            command.push(quote(arg));
        }
        command.push("build".into());
        command.push("--only".into());
        command.push("\"$target\"".into());
        script.push_str(&format!("exec {}\n", command.join(" ")));
        script
    }

    /// `--dry-run`: prints every script that would be submitted.
    pub fn dry_run(&self, plan: &Plan, out: &mut dyn Write) -> Result<()> {
        let (submissions, _) = self.submissions(plan)?;
        let ids: Vec<String> = submissions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let id = format!("$JOB{i}");
                if s.targets.len() > 1 {
                    format!("{id}{ARRAY_MARK}")
                } else {
                    id
                }
            })
            .collect();
        for (i, submission) in submissions.iter().enumerate() {
            let _ = writeln!(
                out,
                "# submission {i} ({} target{}), job id {}",
                submission.targets.len(),
                if submission.targets.len() == 1 {
                    ""
                } else {
                    "s"
                },
                ids[i].trim_end_matches(ARRAY_MARK)
            );
            let _ = writeln!(out, "{}", self.script(submission, &ids));
        }
        Ok(())
    }

    /// Submits everything, then follows the jobs until every target is done or failed.
    pub fn run(&self, plan: &Plan) -> Result<Outcome> {
        let started = Instant::now();
        let mut outcome = Outcome {
            fresh: plan.items.iter().filter(|i| !i.is_dirty()).count(),
            ..Outcome::default()
        };
        let logs = self.store.root().join("logs").join("slurm");
        std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
        let (submissions, placement) = self.submissions(plan)?;
        let mut ids: Vec<String> = Vec::new();
        for submission in &submissions {
            let script = self.script(submission, &ids);
            let id = sbatch(&script)?;
            self.reporter.report(&Event::Progress {
                target: submission.name.clone(),
                message: format!(
                    "submitted job {id} ({} target{})",
                    submission.targets.len(),
                    if submission.targets.len() == 1 {
                        ""
                    } else {
                        "s"
                    }
                ),
            });
            ids.push(if submission.targets.len() > 1 {
                format!("{id}{ARRAY_MARK}")
            } else {
                id
            });
        }
        let job_ids: Vec<String> = ids
            .iter()
            .map(|i| i.trim_end_matches(ARRAY_MARK).to_string())
            .collect();

        #[derive(PartialEq)]
        enum State {
            Waiting,
            Running,
            Done,
        }
        let mut states: HashMap<TargetId, State> =
            placement.keys().map(|&id| (id, State::Waiting)).collect();
        let keys: HashMap<TargetId, String> = plan
            .items
            .iter()
            .map(|item| (item.id, item.key.clone()))
            .collect();
        let mut last_seen = Instant::now();
        let mut completed_since: HashMap<TargetId, Instant> = HashMap::new();
        loop {
            if self.cancel.is_cancelled() {
                outcome.interrupted = true;
                self.offer_cancel(&job_ids);
                break;
            }
            let jobs = scontrol_jobs(&job_ids);
            if !jobs.is_empty() {
                last_seen = Instant::now();
            }
            let mut pending = 0;
            let mut ordered: Vec<TargetId> = placement.keys().copied().collect();
            ordered.sort_unstable();
            for id in ordered {
                if states[&id] == State::Done {
                    continue;
                }
                let key = &keys[&id];
                let name = self.name(id).to_string();
                if self.store.state(key) == BundleState::Valid {
                    if states[&id] == State::Waiting {
                        self.reporter.report(&Event::Start {
                            target: name.clone(),
                            key: key.clone(),
                            reasons: Vec::new(),
                        });
                    }
                    self.reporter.report(&Event::Finished {
                        target: name,
                        key: key.clone(),
                        seconds: 0.0,
                    });
                    outcome.built += 1;
                    states.insert(id, State::Done);
                    continue;
                }
                let (index, task) = placement[&id];
                let array = submissions[index].targets.len() > 1;
                let record = jobs
                    .get(&(
                        job_ids[index].clone(),
                        if array { Some(task) } else { None },
                    ))
                    .or_else(|| jobs.get(&(job_ids[index].clone(), None)));
                let state = record.map(|r| r.state.as_str()).unwrap_or("");
                match state {
                    "RUNNING" | "COMPLETING" => {
                        if states[&id] == State::Waiting {
                            let reasons = match &plan.item(id).map(|i| i.state.clone()) {
                                Some(ItemState::Dirty(r)) => r.clone(),
                                _ => Vec::new(),
                            };
                            self.reporter.report(&Event::Start {
                                target: name,
                                key: key.clone(),
                                reasons,
                            });
                            states.insert(id, State::Running);
                        }
                        pending += 1;
                    }
                    "PENDING" | "CONFIGURING" | "REQUEUED" | "RESIZING" | "SUSPENDED" => {
                        pending += 1
                    }
                    "COMPLETED" => {
                        // The bundle may land a moment after the job ends on a shared filesystem.
                        pending += 1;
                        let since = *completed_since.entry(id).or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_secs(30) {
                            self.fail(
                                &mut outcome,
                                id,
                                "the job completed but committed no bundle",
                                &submissions[index],
                                &job_ids[index],
                                array.then_some(task),
                            );
                            states.insert(id, State::Done);
                            pending -= 1;
                        }
                    }
                    "" => {
                        // Not known to scontrol (yet, or any more).
                        if last_seen.elapsed() > Duration::from_secs(60) {
                            self.fail(
                                &mut outcome,
                                id,
                                "the job is no longer known to SLURM and committed no bundle",
                                &submissions[index],
                                &job_ids[index],
                                array.then_some(task),
                            );
                            states.insert(id, State::Done);
                        } else {
                            pending += 1;
                        }
                    }
                    other => {
                        let reason = record.map(|r| r.reason.clone()).unwrap_or_default();
                        if other == "CANCELLED" && reason.contains("Dependency") {
                            outcome.skipped += 1;
                            let because = self
                                .graph
                                .target(id)
                                .deps
                                .iter()
                                .find(|d| {
                                    placement.contains_key(d)
                                        && self.store.state(&keys[d]) != BundleState::Valid
                                })
                                .map(|d| self.name(*d).to_string())
                                .unwrap_or_else(|| "a dependency".into());
                            self.reporter.report(&Event::Skipped {
                                target: name,
                                because,
                            });
                        } else {
                            let message = format!(
                                "job ended in state {other}{}",
                                if reason.is_empty() || reason == "None" {
                                    String::new()
                                } else {
                                    format!(" ({reason})")
                                }
                            );
                            self.fail(
                                &mut outcome,
                                id,
                                &message,
                                &submissions[index],
                                &job_ids[index],
                                array.then_some(task),
                            );
                        }
                        states.insert(id, State::Done);
                    }
                }
            }
            if pending == 0 && states.values().all(|s| *s == State::Done) {
                break;
            }
            std::thread::sleep(self.poll);
        }
        self.reporter
            .report(&outcome.summary(started.elapsed().as_secs_f64()));
        Ok(outcome)
    }

    fn fail(
        &self,
        outcome: &mut Outcome,
        id: TargetId,
        message: &str,
        submission: &Submission,
        job: &str,
        task: Option<usize>,
    ) {
        let name = self.name(id).to_string();
        let log = match task {
            Some(task) => format!("{}-{job}_{task}.log", submission.name),
            None => format!("{}-{job}.log", submission.name),
        };
        let log = self.store.root().join("logs").join("slurm").join(log);
        let tail = std::fs::read_to_string(&log)
            .map(|text| {
                let lines: Vec<String> = text.lines().map(str::to_string).collect();
                lines[lines.len().saturating_sub(15)..].to_vec()
            })
            .unwrap_or_default();
        self.reporter.report(&Event::Failed {
            target: name.clone(),
            message: format!(
                "{message} (job {job}{})",
                task.map(|t| format!("_{t}")).unwrap_or_default()
            ),
            log: Some(log.display().to_string()),
            stderr_tail: tail,
        });
        outcome.failed.push(name);
    }

    fn offer_cancel(&self, job_ids: &[String]) {
        use std::io::IsTerminal;
        let list = job_ids.join(" ");
        if std::io::stdin().is_terminal() {
            eprint!(
                "cpbuild: cancel the {} submitted job{}? [y/N] ",
                job_ids.len(),
                if job_ids.len() == 1 { "" } else { "s" }
            );
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            if matches!(answer.trim(), "y" | "Y" | "yes") {
                let _ = Command::new("scancel").args(job_ids).status();
                eprintln!("cpbuild: cancelled jobs {list}");
                return;
            }
        }
        eprintln!("cpbuild: the jobs keep running; cancel them with `scancel {list}`");
    }
}

/// Marks an array job's id in the list of submitted ids.
const ARRAY_MARK: &str = "[]";

fn self_is_array(index: usize, job_ids: &[String]) -> bool {
    job_ids
        .get(index)
        .is_some_and(|id| id.ends_with(ARRAY_MARK))
}

/// Submits `script` and returns the job id.
fn sbatch(script: &str) -> Result<String> {
    let mut child = Command::new("sbatch")
        .arg("--parsable")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Usage {
            message: format!("cannot run `sbatch`: {e}"),
            help: Some("`--executor slurm` needs the SLURM client tools on the PATH (and `SLURM_CONF` if the cluster's config is not in /etc/slurm)".into()),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| Error::io("sbatch", e))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| Error::io("sbatch", e))?;
    if !output.status.success() {
        return Err(Error::store(format!(
            "`sbatch` refused a job: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::store(format!(
            "`sbatch` printed no job id: `{}`",
            text.trim()
        )));
    }
    Ok(id)
}

/// A job (or array task) as `scontrol` reports it.
struct JobRecord {
    state: String,
    reason: String,
}

/// Every job and array task of `job_ids`: (array job id or job id, task) → record.
fn scontrol_jobs(job_ids: &[String]) -> HashMap<(String, Option<usize>), JobRecord> {
    let mut jobs = HashMap::new();
    for id in job_ids {
        let Ok(output) = Command::new("scontrol")
            .args(["show", "job", "-o", id])
            .stderr(Stdio::null())
            .output()
        else {
            continue;
        };
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|part| part.strip_prefix(&format!("{name}=")))
                    .map(str::to_string)
            };
            let state = field("JobState").unwrap_or_default();
            let reason = field("Reason").unwrap_or_default();
            let (job, task) = match (field("ArrayJobId"), field("ArrayTaskId")) {
                (Some(array), Some(task)) => match task.parse::<usize>() {
                    Ok(task) => (array, Some(task)),
                    // A pending range such as `0-3` or `1,3`: every task in it is pending.
                    Err(_) => {
                        for t in expand_range(&task) {
                            jobs.insert(
                                (array.clone(), Some(t)),
                                JobRecord {
                                    state: state.clone(),
                                    reason: reason.clone(),
                                },
                            );
                        }
                        continue;
                    }
                },
                _ => (field("JobId").unwrap_or_default(), None),
            };
            jobs.insert((job, task), JobRecord { state, reason });
        }
    }
    jobs
}

/// Expands SLURM's task lists (`0-3,5%2`) into indices.
fn expand_range(text: &str) -> Vec<usize> {
    let text = text.split('%').next().unwrap_or("");
    let mut out = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(n) = part.parse() {
                    out.push(n);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn task_ranges_expand() {
        assert_eq!(super::expand_range("0-3,5%2"), vec![0, 1, 2, 3, 5]);
        assert_eq!(
            super::expand_range("[1-2]".trim_matches(['[', ']'])),
            vec![1, 2]
        );
    }
}
