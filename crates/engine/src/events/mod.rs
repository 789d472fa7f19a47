//! Reporting: the engine emits [`Event`]s; a [`Reporter`] turns them into plain lines, a
//! progress bar on a terminal, or one JSON object per line (`--json`). Only the main thread
//! reports; workers send messages to it.

use std::io::Write;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::fingerprint::DirtyReason;

/// Something worth telling the user.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The plan: how many targets are involved and how many will run.
    Plan {
        profile: String,
        store: String,
        targets: usize,
        dirty: usize,
    },
    /// `--dry-run`: this target would run.
    WouldRun {
        target: String,
        key: String,
        reasons: Vec<DirtyReason>,
    },
    /// A target is up to date.
    Fresh { target: String, key: String },
    /// A target started.
    Start {
        target: String,
        key: String,
        reasons: Vec<DirtyReason>,
    },
    /// A running target says how far it is.
    Progress { target: String, message: String },
    /// cpbuild waits for another process.
    Waiting { message: String },
    /// A bundle failed verification and was moved aside.
    Corrupt {
        target: String,
        bundle: String,
        detail: String,
        moved_to: String,
    },
    /// An unpacked copy did not match its bundle's manifest and was unpacked again.
    Repaired { target: String, detail: String },
    /// A failed or interrupted action's working-tree files were put back as before it ran.
    Restored {
        target: String,
        restored: Vec<String>,
        removed: Vec<String>,
    },
    /// Something went wrong that does not stop the build.
    Warning { message: String },
    /// A target finished and its bundle is committed.
    Finished {
        target: String,
        key: String,
        seconds: f64,
    },
    /// Another process built the target while this one waited.
    BuiltElsewhere { target: String, key: String },
    /// A target failed.
    Failed {
        target: String,
        message: String,
        /// Its log, if it has one (an action that wrote nothing has none).
        log: Option<String>,
        stderr_tail: Vec<String>,
    },
    /// A target was not built because a dependency failed.
    Skipped { target: String, because: String },
    /// Where a requested target's files are in the working tree.
    Outputs { target: String, files: Vec<String> },
    /// The end.
    Summary {
        built: usize,
        fresh: usize,
        failed: usize,
        skipped: usize,
        seconds: f64,
    },
}

/// Receives events.
pub trait Reporter: Send + Sync {
    /// Handles one event.
    fn report(&self, event: &Event);
}

/// One JSON object per line on stdout.
pub struct JsonReporter;

impl Reporter for JsonReporter {
    fn report(&self, event: &Event) {
        let line = serde_json::to_string(event).expect("events always serialise");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Plain lines on stderr, with a progress bar when stderr is a terminal.
pub struct HumanReporter {
    explain: bool,
    bar: Option<ProgressBar>,
    state: Mutex<BarState>,
}

#[derive(Default)]
struct BarState {
    running: Vec<String>,
}

impl HumanReporter {
    /// `explain`: print why each target runs. `progress_bar`: draw a bar (terminals only).
    pub fn new(explain: bool, progress_bar: bool) -> HumanReporter {
        let bar = progress_bar.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg}")
                    .expect("the template is valid"),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        HumanReporter {
            explain,
            bar,
            state: Mutex::new(BarState::default()),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                // One write per line (stderr is unbuffered: `writeln!` would make two).
                let mut line = String::with_capacity(text.len() + 1);
                line.push_str(text);
                line.push('\n');
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }

    fn update_bar(&self) {
        if let Some(bar) = &self.bar {
            let state = self.state.lock().expect("reporter lock");
            bar.set_message(format!("running: {}", state.running.join(", ")));
        }
    }

    fn reasons(&self, target: &str, verb: &str, reasons: &[DirtyReason]) {
        if reasons.is_empty() {
            self.line(&format!("{verb:>9} {target}"));
            return;
        }
        let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        self.line(&format!("{verb:>9} {target} ({})", text.join("; ")));
    }
}

impl Reporter for HumanReporter {
    fn report(&self, event: &Event) {
        match event {
            Event::Plan {
                profile,
                store,
                targets,
                dirty,
            } => {
                if let Some(bar) = &self.bar {
                    bar.set_length(*dirty as u64);
                }
                if *dirty == 0 {
                    self.line(&format!(
                        "cpbuild: nothing to do, {targets} target{} fresh (profile `{profile}`, store `{store}`)",
                        if *targets == 1 { "" } else { "s" }
                    ));
                } else {
                    self.line(&format!(
                        "cpbuild: {dirty} of {targets} target{} to build (profile `{profile}`, store `{store}`)",
                        if *targets == 1 { "" } else { "s" }
                    ));
                }
            }
            Event::WouldRun {
                target, reasons, ..
            } => self.reasons(target, "would run", reasons),
            Event::Fresh { .. } => {}
            Event::Start {
                target, reasons, ..
            } => {
                if self.explain {
                    self.reasons(target, "building", reasons);
                } else if self.bar.is_none() {
                    self.line(&format!("{:>9} {target}", "building"));
                }
                self.state
                    .lock()
                    .expect("reporter lock")
                    .running
                    .push(target.clone());
                self.update_bar();
            }
            Event::Progress { target, message } => {
                self.line(&format!("{:>9} {target}: {message}", ""));
            }
            Event::Waiting { message } => self.line(&format!("{:>9} {message}", "waiting")),
            Event::Corrupt {
                target,
                bundle,
                detail,
                moved_to,
            } => self.line(&format!(
                "{:>9} bundle `{bundle}` of target `{target}` is corrupt ({detail}); moved to `{moved_to}`, rebuilding",
                "warning"
            )),
            Event::Repaired { target, detail } => self.line(&format!(
                "{:>9} the unpacked copy of target `{target}` did not match its bundle ({detail}); unpacked it again from the bundle",
                "warning"
            )),
            Event::Restored {
                target,
                restored,
                removed,
            } => {
                for file in restored {
                    let file = crate::util::printable(file);
                    self.line(&format!(
                        "{:>9} {target}: restored `{file}` as it was before the run",
                        ""
                    ));
                }
                for file in removed {
                    let file = crate::util::printable(file);
                    self.line(&format!(
                        "{:>9} {target}: removed partial `{file}` (it did not exist before the run)",
                        ""
                    ));
                }
            }
            Event::Warning { message } => self.line(&format!("{:>9} {message}", "warning")),
            Event::Finished {
                target, seconds, ..
            } => {
                self.line(&format!("{:>9} {target} in {seconds:.1}s", "built"));
                self.finish_running(target);
            }
            Event::BuiltElsewhere { target, .. } => {
                self.line(&format!("{:>9} {target} (built by another cpbuild)", "fresh"));
                self.finish_running(target);
            }
            Event::Failed {
                target,
                message,
                log,
                stderr_tail,
            } => {
                let mut text = format!("{:>9} {target}: {message}", "FAILED");
                if !stderr_tail.is_empty() {
                    text.push_str("\n          stderr (last lines):");
                    for line in stderr_tail {
                        text.push_str("\n          | ");
                        text.push_str(line);
                    }
                }
                if let Some(log) = log {
                    text.push_str(&format!("\n          log: {log}"));
                }
                self.line(&text);
                self.finish_running(target);
            }
            Event::Outputs { target, files } => {
                for file in files {
                    let file = crate::util::printable(file);
                    self.line(&format!("{:>9} {target}: {file}", "output"));
                }
            }
            Event::Skipped { target, because } => self.line(&format!(
                "{:>9} {target} (dependency `{because}` failed)",
                "skipped"
            )),
            Event::Summary {
                built,
                fresh,
                failed,
                skipped,
                seconds,
            } => {
                if let Some(bar) = &self.bar {
                    bar.finish_and_clear();
                }
                let mut parts = vec![format!("{built} built"), format!("{fresh} fresh")];
                if *failed > 0 {
                    parts.push(format!("{failed} failed"));
                }
                if *skipped > 0 {
                    parts.push(format!("{skipped} skipped"));
                }
                self.line(&format!("cpbuild: {} in {seconds:.1}s", parts.join(", ")));
            }
        }
    }
}

impl HumanReporter {
    fn finish_running(&self, target: &str) {
        {
            let mut state = self.state.lock().expect("reporter lock");
            state.running.retain(|t| t != target);
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.update_bar();
    }
}

/// Keeps every event, for tests.
#[derive(Default)]
pub struct RecordingReporter {
    /// The events, in order.
    pub events: Mutex<Vec<Event>>,
}

impl Reporter for RecordingReporter {
    fn report(&self, event: &Event) {
        self.events
            .lock()
            .expect("recorder lock")
            .push(event.clone());
    }
}
