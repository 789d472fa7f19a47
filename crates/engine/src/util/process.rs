//! Child processes: own process group (so Ctrl-C reaches the whole tree through us), and
//! death with the parent (so `kill -9 cpbuild` does not leave a shell running).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Puts the child in its own process group and asks the kernel to kill it if cpbuild dies.
pub fn isolate(command: &mut Command) {
    command.process_group(0);
    // SAFETY: `prctl` is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Sends `signal` to the child's whole process group.
pub fn signal_group(child: &Child, signal: i32) {
    let pid = child.id() as i32;
    // SAFETY: plain syscall; a stale group id at worst returns ESRCH.
    unsafe {
        libc::kill(-pid, signal);
    }
}
