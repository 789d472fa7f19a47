//! The built-in `shell` kind: runs `command` with `sh -ec` in the project root.
//!
//! The command sees `CPBUILD_TARGET`, `CPBUILD_PROFILE`, `CPBUILD_OUT` (a directory whose files
//! join the bundle) and `CPBUILD_DEP_<NAME>` (each dependency's unpacked files; the name
//! upper-cased with other characters as `_`). The files listed in `outputs` must exist after
//! the command succeeds; they are captured into the bundle and materialised back into the
//! working tree whenever the target is fresh.
//!
//! A command may publish values (for data-dependent grids, see
//! the recipe's `foreach` from a target) by writing a JSON object to the file `CPBUILD_PUBLISH` names:
//! its entries become the manifest's `info`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::{Action, ActionContext, ActionError, ParamError};
use crate::util::check_relative_path;

/// How many lines of stderr a failure shows.
pub const STDERR_TAIL_LINES: usize = 20;

/// The `shell` kind.
pub struct Shell;

/// The environment variable name under which dependency `name` is passed.
pub fn dep_variable(name: &str) -> String {
    let mut variable = String::from("CPBUILD_DEP_");
    variable.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    variable
}

fn outputs(params: &Json) -> Vec<String> {
    params
        .get("outputs")
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

enum Line {
    Stdout(String),
    Stderr(String),
}

fn forward_lines(stream: impl Read + Send + 'static, sender: mpsc::Sender<Line>, is_stderr: bool) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buffer = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut buffer) {
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buffer)
                .trim_end_matches('\n')
                .to_string();
            buffer.clear();
            let message = if is_stderr {
                Line::Stderr(line)
            } else {
                Line::Stdout(line)
            };
            if sender.send(message).is_err() {
                break;
            }
        }
    });
}

impl Action for Shell {
    fn kind(&self) -> &'static str {
        "shell"
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn description(&self) -> &'static str {
        "runs `command` with `sh -ec` in the project root; captures `outputs`"
    }

    fn check_params(&self, params: &Json) -> Result<(), ParamError> {
        match params.get("command") {
            Some(Json::String(_)) => {}
            Some(other) => {
                return Err(ParamError::at(
                    "command",
                    format!("`command` must be a string, not `{other}`"),
                ));
            }
            None => {
                return Err(ParamError::whole(
                    "`command` is missing; add `command = \"...\"` (run with `sh -ec` in the project root)",
                ));
            }
        }
        if let Some(outputs) = params.get("outputs") {
            let Some(items) = outputs.as_array() else {
                return Err(ParamError::at(
                    "outputs",
                    "`outputs` must be an array of paths",
                ));
            };
            for item in items {
                let Some(path) = item.as_str() else {
                    return Err(ParamError::at(
                        "outputs",
                        format!("`outputs` must hold strings, not `{item}`"),
                    ));
                };
                check_relative_path(path)
                    .map_err(|e| ParamError::at("outputs", format!("output {e}")))?;
            }
        }
        Ok(())
    }

    fn worktree_outputs(&self, params: &Json) -> Vec<String> {
        outputs(params)
    }

    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let command_text = ctx.params["command"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // Beside the bundle's files, not among them; read and removed after the command.
        let publish_file = ctx
            .out_dir
            .parent()
            .unwrap_or(ctx.out_dir)
            .join("cpbuild-publish.json");
        let _ = std::fs::remove_file(&publish_file);
        let mut command = Command::new("sh");
        command
            .arg("-ec")
            .arg(&command_text)
            .current_dir(ctx.project_root)
            .env("CPBUILD_TARGET", ctx.target)
            .env("CPBUILD_PROFILE", &ctx.options.profile)
            .env("CPBUILD_OUT", ctx.out_dir)
            .env("CPBUILD_PUBLISH", &publish_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, dep) in ctx.deps {
            command.env(dep_variable(name), &dep.files);
        }
        crate::util::process::isolate(&mut command);
        let _ = writeln!(ctx.log, "$ {command_text}");
        let mut child = command
            .spawn()
            .map_err(|e| ActionError::failed(format!("cannot start `sh`: {e}")))?;
        // Every process of the command's group dies with it (or with cpbuild).
        let mut group = Some(crate::util::process::GroupGuard::new(&child));
        let (sender, receiver) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            forward_lines(stdout, sender.clone(), false);
        }
        if let Some(stderr) = child.stderr.take() {
            forward_lines(stderr, sender, true);
        }
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut cancelled_at: Option<Instant> = None;
        // While the command's output is open, wait on it; once both streams are closed (the
        // usual sign that it exited), poll its exit every millisecond or so instead, so that a
        // short command is not held up by the 20 ms wait.
        let mut closed_polls = 0u32;
        let status = loop {
            let next = if closed_polls == 0 {
                receiver.recv_timeout(Duration::from_millis(20))
            } else {
                std::thread::sleep(Duration::from_micros(
                    200 * u64::from(closed_polls.min(100)),
                ));
                Err(mpsc::RecvTimeoutError::Disconnected)
            };
            if matches!(next, Err(mpsc::RecvTimeoutError::Disconnected)) {
                closed_polls += 1;
            }
            match next {
                Ok(Line::Stdout(line)) => {
                    let _ = writeln!(ctx.log, "{line}");
                    continue;
                }
                Ok(Line::Stderr(line)) => {
                    let _ = writeln!(ctx.log, "{line}");
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                    continue;
                }
                Err(_) => {}
            }
            if ctx.cancel.is_cancelled() {
                match cancelled_at {
                    None => {
                        crate::util::process::signal_group(&child, libc::SIGTERM);
                        cancelled_at = Some(Instant::now());
                    }
                    Some(at) if at.elapsed() > Duration::from_secs(3) => {
                        crate::util::process::signal_group(&child, libc::SIGKILL);
                    }
                    Some(_) => {}
                }
            }
            match crate::util::process::exited(&child) {
                Ok(true) => {
                    // Background processes the command left behind are killed before the
                    // shell is reaped, so they cannot write outputs later.
                    drop(group.take());
                    let status = child
                        .wait()
                        .map_err(|e| ActionError::failed(format!("cannot wait for `sh`: {e}")))?;
                    // Drain what the readers still hold.
                    while let Ok(line) = receiver.recv_timeout(Duration::from_millis(50)) {
                        let (Line::Stdout(text) | Line::Stderr(text)) = &line;
                        let _ = writeln!(ctx.log, "{text}");
                        if let Line::Stderr(text) = line {
                            if tail.len() == STDERR_TAIL_LINES {
                                tail.pop_front();
                            }
                            tail.push_back(text);
                        }
                    }
                    break status;
                }
                Ok(false) => {}
                Err(e) => return Err(ActionError::failed(format!("cannot wait for `sh`: {e}"))),
            }
        };
        if cancelled_at.is_some() {
            return Err(ActionError::Cancelled);
        }
        if !status.success() {
            use std::os::unix::process::ExitStatusExt;
            let message = match (status.code(), status.signal()) {
                (Some(code), _) => format!("command exited with status {code}"),
                (None, Some(signal)) => format!("command was killed by signal {signal}"),
                _ => "command failed".to_string(),
            };
            return Err(ActionError::Failed {
                message,
                stderr_tail: tail.into(),
            });
        }
        for output in outputs(ctx.params) {
            let source = ctx.project_root.join(&output);
            if !source.is_file() {
                return Err(ActionError::Failed {
                    message: format!(
                        "the command succeeded but did not write its declared output `{output}`"
                    ),
                    stderr_tail: tail.into(),
                });
            }
            let destination = ctx.out_dir.join(&output);
            if let Some(parent) = destination.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    ActionError::failed(format!("cannot create `{}`: {e}", parent.display()))
                })?;
            }
            std::fs::copy(&source, &destination).map_err(|e| {
                ActionError::failed(format!("cannot capture output `{output}`: {e}"))
            })?;
            ctx.worktree_outputs.push(output);
        }
        if publish_file.exists() {
            let text = std::fs::read_to_string(&publish_file).map_err(|e| {
                ActionError::failed(format!("cannot read the values it published: {e}"))
            })?;
            let _ = std::fs::remove_file(&publish_file);
            match serde_json::from_str::<Json>(&text) {
                Ok(Json::Object(values)) => ctx.info.extend(values),
                _ => {
                    return Err(ActionError::failed(format!(
                        "the command wrote `$CPBUILD_PUBLISH`, but not as a JSON object: `{}`",
                        text.trim()
                    )));
                }
            }
        }
        Ok(())
    }
}
