//! The built-in `shell` kind: runs `command` with `sh -ec` in the project root.
//!
//! The command sees `CPBUILD_TARGET`, `CPBUILD_PROFILE`, `CPBUILD_OUT` (a directory whose files
//! join the bundle) and `CPBUILD_DEP_<NAME>` (each dependency's unpacked files; the name
//! upper-cased with other characters as `_`). The files listed in `outputs` must exist after
//! the command succeeds; they are stored into the bundle from the working tree and
//! materialised back into it whenever the target is fresh.
//!
//! A command may publish values (for data-dependent grids, see
//! the recipe's `foreach` from a target) by writing a JSON object to the file `CPBUILD_PUBLISH` names:
//! its entries become the manifest's `info`.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
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

/// The command's stdout and stderr, read by the thread that runs it (no reader threads): every
/// line goes to the log, and the last [`STDERR_TAIL_LINES`] of stderr are kept for the error.
struct Output {
    /// stdout, then stderr; `None` once closed. Each with its unfinished line.
    streams: [Option<(std::fs::File, Vec<u8>)>; 2],
    tail: VecDeque<String>,
}

impl Output {
    fn new(stdout: Option<OwnedFd>, stderr: Option<OwnedFd>) -> Output {
        let open = |fd: Option<OwnedFd>| fd.map(|fd| (std::fs::File::from(fd), Vec::new()));
        Output {
            streams: [open(stdout), open(stderr)],
            tail: VecDeque::new(),
        }
    }

    fn is_open(&self) -> bool {
        self.streams.iter().any(Option::is_some)
    }

    /// Waits up to `timeout` for output or for `also` (the shell's exit descriptor) to become
    /// readable, and logs what arrived. Returns whether a stream was readable.
    fn pump(&mut self, timeout: Duration, also: Option<i32>, log: &mut dyn Write) -> bool {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
        let mut which = Vec::with_capacity(2);
        for (index, stream) in self.streams.iter().enumerate() {
            if let Some((file, _)) = stream {
                fds.push(libc::pollfd {
                    fd: file.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                which.push(index);
            }
        }
        if let Some(fd) = also {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if fds.is_empty() {
            std::thread::sleep(timeout);
            return false;
        }
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
        if ready <= 0 {
            return false;
        }
        let mut any = false;
        for (slot, &index) in which.iter().enumerate() {
            if fds[slot].revents != 0 {
                self.read(index, log);
                any = true;
            }
        }
        any
    }

    /// Reads what stream `index` has (it is readable: this does not block) and logs its
    /// complete lines; at its end, the unfinished one too.
    fn read(&mut self, index: usize, log: &mut dyn Write) {
        let Some((file, pending)) = &mut self.streams[index] else {
            return;
        };
        let mut buffer = [0u8; 8192];
        let n = match file.read(&mut buffer) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(_) => 0,
        };
        pending.extend_from_slice(&buffer[..n]);
        let mut lines = Vec::new();
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            lines.push(String::from_utf8_lossy(&line[..end]).into_owned());
        }
        if n == 0 {
            if !pending.is_empty() {
                lines.push(String::from_utf8_lossy(pending).into_owned());
            }
            self.streams[index] = None;
        }
        for line in lines {
            let _ = writeln!(log, "{line}");
            if index == 1 {
                if self.tail.len() == STDERR_TAIL_LINES {
                    self.tail.pop_front();
                }
                self.tail.push_back(line);
            }
        }
    }
}

/// A descriptor that becomes readable when `child` exits (Linux 5.3 and later); `None` where
/// there is none, and the caller polls instead.
fn exit_descriptor(child: &std::process::Child) -> Option<OwnedFd> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: plain syscall; a non-negative result is a new descriptor we own.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
        if fd >= 0 {
            // SAFETY: `fd` was just opened and nothing else owns it.
            return Some(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
    }
    let _ = child;
    None
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
            .arg(crate::util::process::gated(&command_text))
            .current_dir(ctx.project_root)
            .env("CPBUILD_TARGET", ctx.target)
            .env("CPBUILD_PROFILE", &ctx.options.profile)
            .env("CPBUILD_OUT", ctx.out_dir)
            .env("CPBUILD_PUBLISH", &publish_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, dep) in ctx.deps {
            command.env(dep_variable(name), &dep.files);
        }
        crate::util::process::isolate(&mut command);
        let mut log = CommandLog {
            header: Some(&command_text),
            log: &mut *ctx.log,
            succeeded: false,
        };
        let mut child = command
            .spawn()
            .map_err(|e| ActionError::failed(format!("cannot start `sh`: {e}")))?;
        // Every process of the command's group dies with it (or with cpbuild).
        let mut group = Some(crate::util::process::GroupGuard::start(&mut child));
        let mut output = Output::new(
            child.stdout.take().map(OwnedFd::from),
            child.stderr.take().map(OwnedFd::from),
        );
        let exit = exit_descriptor(&child);
        let mut cancelled_at: Option<Instant> = None;
        // Wait on the command's output and its exit together, at most 20 ms at a time (to see
        // Ctrl-C). Without an exit descriptor, once both streams are closed (the usual sign
        // that it exited), poll its exit every millisecond or so instead, so that a short
        // command is not held up by the 20 ms wait.
        let mut closed_polls = 0u32;
        let status = loop {
            let exit_fd = exit.as_ref().map(AsRawFd::as_raw_fd);
            if output.is_open() || exit_fd.is_some() {
                output.pump(Duration::from_millis(20), exit_fd, &mut log);
            } else {
                if closed_polls > 0 {
                    std::thread::sleep(Duration::from_micros(
                        200 * u64::from(closed_polls.min(100)),
                    ));
                }
                closed_polls += 1;
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
                    // Log what is still in the pipes (a process outside the group may hold
                    // them open: give up after 50 ms without output).
                    while output.is_open() && output.pump(Duration::from_millis(50), None, &mut log)
                    {
                    }
                    break status;
                }
                Ok(false) => {}
                Err(e) => return Err(ActionError::failed(format!("cannot wait for `sh`: {e}"))),
            }
        };
        let tail = output.tail;
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
            // Stored from the working tree by the commit (not copied under `out_dir`).
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
        log.succeeded = true;
        Ok(())
    }
}

/// A command's log: its command line (`$ …`), then what it printed. The command line is
/// written before the first output, or when the command fails, so a command that prints
/// nothing and succeeds leaves the log empty (and the target without a log file).
struct CommandLog<'l> {
    header: Option<&'l str>,
    log: &'l mut dyn Write,
    succeeded: bool,
}

impl CommandLog<'_> {
    fn write_header(&mut self) {
        if let Some(header) = self.header.take() {
            let _ = writeln!(self.log, "$ {header}");
        }
    }
}

impl Write for CommandLog<'_> {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        if !buffer.is_empty() {
            self.write_header();
        }
        self.log.write(buffer)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.log.flush()
    }
}

impl Drop for CommandLog<'_> {
    fn drop(&mut self) {
        if !self.succeeded {
            self.write_header();
        }
    }
}
