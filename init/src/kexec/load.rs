//! The load: kexec_file_load(2) with the kernel, the initrd (or a memfd
//! copy of it with the handover archive appended) and the command line,
//! and the one line that says why the kernel refused.
use std::ffi::CStr;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;

use super::cpio::handover_tail;

/// kexec_file_load(2) with the files opened; `keys`, `network`: append
/// them as the handover archive (in a memfd copy of the initrd).
pub fn load(
    kernel: &Path,
    initrd: &Path,
    cmdline: &CStr,
    keys: Option<&[u8]>,
    network: Option<&[u8]>,
) -> Result<()> {
    let open = |p: &Path, what: &str| -> Result<File> {
        let f = File::open(p).with_context(|| format!("cannot open the {what} {}", p.display()))?;
        if !f.metadata().is_ok_and(|m| m.is_file()) {
            bail!("the {what} {} is not a regular file", p.display());
        }
        Ok(f)
    };
    let kernel_file = open(kernel, "kernel")?;
    let mut initrd_file = open(initrd, "initrd")?;
    if keys.is_some() || network.is_some() {
        // As io::Error (the same message): rustix's Errno would be one more
        // anyhow context type.
        let fd = rustix::fs::memfd_create("init-kexec-initrd", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(io::Error::from)
            .context("memfd_create for the initrd with the handover")?;
        let mut copy = File::from(fd);
        let len = io::copy(&mut initrd_file, &mut copy)
            .with_context(|| format!("copying {} into memory", initrd.display()))?;
        copy.write_all(&handover_tail(len, keys, network))
            .context("appending the handover archive to the initrd copy")?;
        initrd_file = copy;
    }
    crate::sys::kexec_file_load(kernel_file.as_fd(), initrd_file.as_fd(), cmdline, 0)
        .map_err(|e| load_error(&e, kernel, cmdline.to_bytes().len()))
}

/// One line saying why kexec_file_load(2) failed and what to check.
fn load_error(err: &io::Error, kernel: &Path, cmdline_len: usize) -> anyhow::Error {
    let kernel = kernel.display();
    let why = match Errno::from_raw(err.raw_os_error().unwrap_or(0)) {
        Errno::ENOSYS => "this kernel has no kexec_file_load (built without CONFIG_KEXEC_FILE)".to_owned(),
        Errno::EPERM => format!(
            "kexec is not permitted: it needs root (CAP_SYS_BOOT), kernel.kexec_load_disabled 0 (it is {}) and no lockdown that forbids unsigned images (lockdown: {})",
            read_trimmed("/proc/sys/kernel/kexec_load_disabled"),
            read_trimmed("/sys/kernel/security/lockdown"),
        ),
        Errno::EKEYREJECTED | Errno::ENOKEY | Errno::EBADMSG | Errno::ENOPKG => format!(
            "this kernel requires a signed image (CONFIG_KEXEC_SIG_FORCE or lockdown) and the signature of {kernel} was not accepted"
        ),
        Errno::ENOEXEC => format!("{kernel} is not a kernel image this kernel can boot (on x86: a bzImage)"),
        Errno::EINVAL => format!(
            "the kernel refused the arguments: a command line of {cmdline_len} bytes (x86 takes at most 2047), or a malformed image"
        ),
        Errno::ENOMEM => "not enough memory to hold the kernel and initrd".to_owned(),
        Errno::EBUSY => "another kexec is being loaded or started".to_owned(),
        Errno::ETXTBSY => "the kernel or initrd file is open for writing by another process".to_owned(),
        _ => "unexpected error".to_owned(),
    };
    anyhow!("kexec_file_load of {kernel} failed: {err}: {why}")
}

/// A sysfs/procfs value for an error message, or `unknown`.
fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path).map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named() {
        let e = format!(
            "{:#}",
            load(
                Path::new("/nonexistent/kernel"),
                Path::new("/"),
                c"x",
                None,
                None
            )
            .unwrap_err()
        );
        assert!(e.contains("the kernel /nonexistent/kernel"), "{e}");
        let e = format!(
            "{:#}",
            load(
                Path::new("/proc/self/exe"),
                Path::new("/"),
                c"x",
                None,
                None
            )
            .unwrap_err()
        );
        assert!(e.contains("the initrd / is not a regular file"), "{e}");
    }

    #[test]
    fn syscall_errors_say_what_the_kernel_wants() {
        let msg = |errno: Errno| {
            load_error(
                &io::Error::from_raw_os_error(errno as i32),
                Path::new("/k"),
                3000,
            )
            .to_string()
        };
        assert!(msg(Errno::ENOSYS).contains("CONFIG_KEXEC_FILE"));
        assert!(msg(Errno::EPERM).contains("kexec_load_disabled"));
        assert!(msg(Errno::EPERM).contains("lockdown"));
        assert!(msg(Errno::EKEYREJECTED).contains("signed image"));
        assert!(msg(Errno::ENOEXEC).contains("/k is not a kernel image"));
        assert!(msg(Errno::EINVAL).contains("3000 bytes"));
        assert!(msg(Errno::ENOSYS).starts_with("kexec_file_load of /k failed: "));
    }
}
