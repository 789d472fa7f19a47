//! Child processes: each action runs in its own process group, and no process of that group
//! outlives the action or cpbuild.
//!
//! - The group is killed when the action's shell exits (background processes it left behind
//!   included), and on Ctrl-C.
//! - A watchdog (one small `sh` per cpbuild process, in a group of its own) holds the list of
//!   running groups and kills them all when its pipe from cpbuild closes, which the kernel does
//!   when cpbuild dies, even by `kill -9`.
//! - The shell runs nothing of the command before the watchdog knows its group: it first waits
//!   for a line on its stdin ([`gated`]), which cpbuild sends once it has told the watchdog
//!   ([`GroupGuard::start`]). If cpbuild dies before that, the shell reads end-of-file and exits.
//!
//! Children are started with `posix_spawn` (no code runs between fork and exec), which spares
//! copying cpbuild's page tables for every command.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Puts the child in its own process group, with its stdin the gate of [`gated`].
pub fn isolate(command: &mut Command) {
    command.process_group(0).stdin(Stdio::piped());
}

/// The script `sh -ec` runs for `command` in a child set up by [`isolate`]: it waits for
/// cpbuild's go, then reads from `/dev/null` as commands always do. On the command's first
/// line, so the shell's line numbers in its messages stay the command's own.
pub fn gated(command: &str) -> String {
    format!("read -r _ || exit 125; exec </dev/null; {command}")
}

/// Sends `signal` to the child's whole process group.
pub fn signal_group(child: &Child, signal: i32) {
    let pid = child.id() as i32;
    // SAFETY: plain syscall; a stale group id at worst returns ESRCH.
    unsafe {
        libc::kill(-pid, signal);
    }
}

/// Reads `+ PGID` and `- PGID` lines; when the pipe closes, kills the groups still listed.
const WATCHDOG: &str = r#"trap '' INT TERM HUP QUIT PIPE
groups=' '
while read -r op group; do
  case $op in
    +) groups="$groups$group " ;;
    -) case $groups in *" $group "*) groups="${groups%% $group *} ${groups#* $group }" ;; esac ;;
  esac
done
for group in $groups; do kill -9 "-$group" 2>/dev/null; done
"#;

fn watchdog() -> &'static Mutex<Option<ChildStdin>> {
    static WATCHDOG_PIPE: OnceLock<Mutex<Option<ChildStdin>>> = OnceLock::new();
    WATCHDOG_PIPE.get_or_init(|| {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(WATCHDOG)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // The parent's end of the pipe is close-on-exec: no command inherits it, so only
        // cpbuild's death (or its exit) closes it.
        let stdin = command
            .spawn()
            .ok()
            .and_then(|mut child| child.stdin.take());
        Mutex::new(stdin)
    })
}

fn tell_watchdog(line: &str) {
    let mut pipe = watchdog().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(stdin) = pipe.as_mut()
        && stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .is_err()
    {
        *pipe = None;
    }
}

/// A running child's process group, killed (with everything in it) when this is dropped, and
/// by the watchdog if cpbuild dies first.
pub struct GroupGuard {
    group: i32,
}

impl GroupGuard {
    /// Watches the group of `child` (spawned with [`isolate`], running a [`gated`] script),
    /// then lets the command start.
    pub fn start(child: &mut Child) -> GroupGuard {
        let group = child.id() as i32;
        tell_watchdog(&format!("+ {group}\n"));
        if let Some(mut gate) = child.stdin.take() {
            // A shell that is already gone has nothing left to start.
            let _ = gate.write_all(b"\n");
        }
        GroupGuard { group }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // SAFETY: plain syscall. The group leader is not reaped yet (see `exited`), so the
        // group id cannot have been reused.
        unsafe {
            libc::kill(-self.group, libc::SIGKILL);
        }
        tell_watchdog(&format!("- {}\n", self.group));
    }
}

/// Whether `child` has exited, without reaping it (so its process group id stays reserved
/// until the group is killed).
pub fn exited(child: &Child) -> std::io::Result<bool> {
    // SAFETY: `waitid` writes only into the zeroed `siginfo_t` we pass.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let status = libc::waitid(
            libc::P_PID,
            child.id() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        if status != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(info.si_pid() != 0)
    }
}
