//! Error texts as runit's `error_str` prints them (so `sv` output matches).
use nix::errno::Errno;

/// runit's message for `e` ("file does not exist" for ENOENT, …).
pub fn error_str(e: Errno) -> &'static str {
    #[allow(clippy::enum_glob_use)]
    use Errno::*;
    match e {
        UnknownErrno => "no error",
        EINTR => "interrupted system call",
        ENOMEM => "out of memory",
        ENOENT => "file does not exist",
        ETXTBSY => "text busy",
        EIO => "input/output error",
        EEXIST => "file already exists",
        ETIMEDOUT => "timed out",
        EINPROGRESS => "operation in progress",
        EAGAIN => "temporary failure",
        EPIPE => "broken pipe",
        EPERM => "permission denied",
        EACCES => "access denied",
        ENXIO => "device not configured",
        EPROTO => "protocol error",
        EISDIR => "is a directory",
        ECONNREFUSED => "connection refused",
        ENOTDIR => "not a directory",
        ESRCH => "no such process",
        E2BIG => "argument list too long",
        ENOEXEC => "exec format error",
        EBADF => "file descriptor not open",
        ECHILD => "no child processes",
        EFAULT => "bad address",
        ENOTBLK => "not a block device",
        EBUSY => "device busy",
        EXDEV => "cross-device link",
        EINVAL => "invalid argument",
        ENFILE => "system cannot open more files",
        EMFILE => "process cannot open more files",
        ENOTTY => "not a tty",
        EFBIG => "file too big",
        ENOSPC => "out of disk space",
        ESPIPE => "unseekable descriptor",
        EROFS => "read-only file system",
        EMLINK => "too many links",
        EDOM => "input out of range",
        ERANGE => "output out of range",
        ELOOP => "symbolic link loop",
        ENAMETOOLONG => "file name too long",
        ENOTEMPTY => "directory not empty",
        EDQUOT => "disk quota exceeded",
        ESTALE => "stale NFS file handle",
        ENOLCK => "no locks available",
        ENOSYS => "system call not available",
        _ => "unknown error",
    }
}

/// A rustix errno as a nix one.
pub fn from_rustix(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

/// runit's message for an `io::Error`.
pub fn io_error_str(e: &std::io::Error) -> &'static str {
    e.raw_os_error()
        .map_or("unknown error", |n| error_str(Errno::from_raw(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(error_str(Errno::ENOENT), "file does not exist");
        assert_eq!(error_str(Errno::ENXIO), "device not configured");
        assert_eq!(error_str(Errno::EAGAIN), "temporary failure");
        assert_eq!(
            io_error_str(&std::io::Error::from_raw_os_error(13)),
            "access denied"
        );
    }
}
