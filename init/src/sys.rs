//! The one place in `init` that needs `unsafe`: the syscalls neither nix
//! nor rustix wraps (swapoff(2), kexec_file_load(2)), and fork(2).
#![allow(unsafe_code)]

/// swapoff(2): stop swapping to `path`. Neither nix nor rustix wraps it.
pub fn swapoff(path: &str) -> std::io::Result<()> {
    let c = std::ffi::CString::new(path)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // swapoff(2) only reads it.
    let rc = unsafe { nix::libc::swapoff(c.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// kexec_file_load(2): load `kernel` and `initrd` with the command line
/// `cmdline` (its trailing NUL is passed and counted, as the kernel wants),
/// for a later reboot(2) with `LINUX_REBOOT_CMD_KEXEC`. `flags` are the
/// `KEXEC_FILE_*` flags (0: a normal load). Neither nix nor rustix wraps it.
pub fn kexec_file_load(
    kernel: std::os::fd::BorrowedFd<'_>,
    initrd: std::os::fd::BorrowedFd<'_>,
    cmdline: &std::ffi::CStr,
    flags: u64,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let bytes = cmdline.to_bytes_with_nul();
    // SAFETY: both descriptors are open for the whole call (borrowed);
    // `bytes` is a valid NUL-terminated buffer of exactly `bytes.len()`
    // bytes that outlives the call, and the kernel only reads it.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_kexec_file_load,
            nix::libc::c_long::from(kernel.as_raw_fd()),
            nix::libc::c_long::from(initrd.as_raw_fd()),
            bytes.len(),
            bytes.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// fork(2) a child that runs `f` and exits with what it returns (0, or an
/// errno): the child's pid. For the shutdown's bounded waits
/// (`shares.rs`), when PID 1 runs no thread but its own.
pub fn fork_run(f: &dyn Fn() -> i32) -> std::io::Result<nix::unistd::Pid> {
    // SAFETY: the callers fork when this process has one thread (PID 1 at
    // shutdown; stage-1's helper threads have ended), so no lock is held
    // by a thread the child lacks and `f` may allocate; the child leaves
    // through _exit(2) and never returns into the caller's code.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(child),
        nix::unistd::ForkResult::Child => {
            let code = f();
            // SAFETY: _exit(2) ends the process at once; nothing of the
            // parent's (buffered output, atexit handlers) runs twice.
            unsafe { nix::libc::_exit(code) }
        }
    }
}
