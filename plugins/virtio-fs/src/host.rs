//! The host system calls the server makes, as safe functions. Every error is an errno value.
//!
//! Names are always single components relative to a directory descriptor, opened without
//! following symlinks; an existing object is reached again through `/proc/self/fd/N` of its
//! `O_PATH` descriptor, which names that very inode (a symlink's `O_PATH` descriptor names the
//! link itself, and opening it fails with `ELOOP`).

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A result whose error is an errno value.
pub type Res<T> = Result<T, i32>;

/// The calling thread's errno.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// `Ok(v)` unless `v` is -1, the system calls' failure value; then errno.
fn check<T: PartialEq + From<i8>>(v: T) -> Res<T> {
    if v == T::from(-1) {
        Err(errno())
    } else {
        Ok(v)
    }
}

/// An owned descriptor from a system call's return value.
fn owned(fd: libc::c_int) -> Res<OwnedFd> {
    let fd = check(fd)?;
    // SAFETY: `fd` was just returned by a successful open-like call and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The empty path, for the `AT_EMPTY_PATH` calls.
const EMPTY: &CStr = c"";

/// `/proc/self/fd/N`: a path naming exactly the inode `fd` refers to.
pub fn proc_path(fd: BorrowedFd<'_>) -> CString {
    // A decimal number never contains a NUL.
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default()
}

/// Opens the shared directory itself (the only path the host user chose).
pub fn open_root(path: &std::path::Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    owned(fd).map_err(std::io::Error::from_raw_os_error)
}

/// Opens `name` in `dir` without following any symlink: with `openat2` confined beneath `dir`
/// where the host has it, else `openat` with `O_NOFOLLOW` (`name` is one component).
pub fn open_beneath(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int, mode: u32) -> Res<OwnedFd> {
    let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: all-zero is a valid `struct open_how` (the struct is non-exhaustive in `libc`).
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.mode = if flags & libc::O_CREAT != 0 { u64::from(mode) } else { 0 };
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `name` is NUL-terminated and `how` a valid `open_how` of the size passed; both
    // outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            name.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if r >= 0 {
        return owned(r as libc::c_int);
    }
    let e = errno();
    // No openat2 (old host, or a seccomp filter), or a rename raced with it: `name` is a single
    // component, so `openat` with `O_NOFOLLOW` cannot leave `dir` either.
    if e != libc::ENOSYS && e != libc::EPERM && e != libc::EAGAIN {
        return Err(e);
    }
    // SAFETY: `name` is NUL-terminated; `dir` is an open descriptor.
    owned(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode as libc::c_uint) })
}

/// Opens the inode behind `fd` (an `O_PATH` descriptor) again with `flags`.
pub fn reopen(fd: BorrowedFd<'_>, flags: libc::c_int) -> Res<OwnedFd> {
    let p = proc_path(fd);
    // SAFETY: `p` is NUL-terminated.
    owned(unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOCTTY) })
}

/// `lstat` of the inode behind `fd`.
pub fn stat(fd: BorrowedFd<'_>) -> Res<libc::stat> {
    // SAFETY: all-zero is a valid `struct stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let flags = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: `st` is a writable `struct stat`; the path is the empty NUL-terminated string.
    check(unsafe { libc::fstatat(fd.as_raw_fd(), EMPTY.as_ptr(), &mut st, flags) })?;
    Ok(st)
}

/// `statvfs` of the file system holding `fd`.
pub fn statvfs(fd: BorrowedFd<'_>) -> Res<libc::statvfs> {
    // SAFETY: all-zero is a valid `struct statvfs`.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a writable `struct statvfs`.
    check(unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// `mkdirat`.
pub fn mkdir(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Res<()> {
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// `mknodat` (the caller allows only types that need no device number).
pub fn mknod(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Res<()> {
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) }).map(drop)
}

/// `symlinkat`: a link in `dir` holding the text `target` (never resolved here).
pub fn symlink(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> Res<()> {
    // SAFETY: both strings are NUL-terminated.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// `unlinkat`, with `AT_REMOVEDIR` for directories.
pub fn unlink(dir: BorrowedFd<'_>, name: &CStr, is_dir: bool) -> Res<()> {
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// `renameat2`.
pub fn rename(old_dir: BorrowedFd<'_>, old: &CStr, new_dir: BorrowedFd<'_>, new: &CStr, flags: u32) -> Res<()> {
    // SAFETY: both names are NUL-terminated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            old_dir.as_raw_fd(),
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            flags as libc::c_uint,
        )
    };
    check(r).map(drop)
}

/// A new name `name` in `dir` for the inode behind `fd` (through its `/proc` path: linking by
/// `AT_EMPTY_PATH` needs a privilege semu does not have).
pub fn link(fd: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &CStr) -> Res<()> {
    let p = proc_path(fd);
    // SAFETY: both paths are NUL-terminated.
    let r =
        unsafe { libc::linkat(libc::AT_FDCWD, p.as_ptr(), dir.as_raw_fd(), name.as_ptr(), libc::AT_SYMLINK_FOLLOW) };
    check(r).map(drop)
}

/// The text of the symlink behind `fd`, at most `max` bytes of it.
pub fn readlink(fd: BorrowedFd<'_>, max: usize) -> Res<Vec<u8>> {
    let mut buf = vec![0u8; max.clamp(1, libc::PATH_MAX as usize)];
    // SAFETY: `buf` is writable for `buf.len()` bytes; the path is the empty string.
    let n = unsafe { libc::readlinkat(fd.as_raw_fd(), EMPTY.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = check(n)?;
    buf.truncate(n as usize);
    Ok(buf)
}

/// `chmod` of the inode behind `fd` (not a symlink: the caller checks).
pub fn chmod(fd: BorrowedFd<'_>, mode: u32) -> Res<()> {
    let p = proc_path(fd);
    // SAFETY: `p` is NUL-terminated.
    check(unsafe { libc::chmod(p.as_ptr(), mode) }).map(drop)
}

/// `chown` of the inode behind `fd`, never following a symlink; `u32::MAX` leaves an id as is.
pub fn chown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Res<()> {
    let flags = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: the path is the empty NUL-terminated string.
    check(unsafe { libc::fchownat(fd.as_raw_fd(), EMPTY.as_ptr(), uid, gid, flags) }).map(drop)
}

/// Sets the access and modification times of the inode behind `fd` (`None`: leave as is).
pub fn utimens(fd: BorrowedFd<'_>, atime: Option<libc::timespec>, mtime: Option<libc::timespec>) -> Res<()> {
    let omit = libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT };
    let times = [atime.unwrap_or(omit), mtime.unwrap_or(omit)];
    // SAFETY: `times` holds two timespecs; the path is the empty NUL-terminated string.
    let r = unsafe { libc::utimensat(fd.as_raw_fd(), EMPTY.as_ptr(), times.as_ptr(), libc::AT_EMPTY_PATH) };
    check(r).map(drop)
}

/// `access` check of the inode behind `fd` (not a symlink: the caller checks).
pub fn access(fd: BorrowedFd<'_>, mask: i32) -> Res<()> {
    let p = proc_path(fd);
    // SAFETY: `p` is NUL-terminated.
    check(unsafe { libc::faccessat(libc::AT_FDCWD, p.as_ptr(), mask, libc::AT_EACCESS) }).map(drop)
}

/// `lseek`.
pub fn lseek(fd: BorrowedFd<'_>, offset: i64, whence: i32) -> Res<i64> {
    // SAFETY: plain system call on an open descriptor.
    check(unsafe { libc::lseek(fd.as_raw_fd(), offset, whence) })
}

/// `fallocate`.
pub fn fallocate(fd: BorrowedFd<'_>, mode: i32, offset: i64, len: i64) -> Res<()> {
    // SAFETY: plain system call on an open descriptor.
    check(unsafe { libc::fallocate(fd.as_raw_fd(), mode, offset, len) }).map(drop)
}

/// Reads directory records (`struct linux_dirent64`) into `buf`; returns the bytes filled.
pub fn getdents(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Res<usize> {
    // SAFETY: `buf` is writable for `buf.len()` bytes.
    let n = unsafe { libc::syscall(libc::SYS_getdents64, fd.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
    Ok(check(n)? as usize)
}

/// One record `getdents` returned.
pub struct HostDirent<'a> {
    pub ino: u64,
    pub off: u64,
    pub typ: u8,
    pub name: &'a [u8],
}

/// The records in `buf` (as `getdents` filled it), checked against its bounds.
pub fn parse_dirents(buf: &[u8]) -> Vec<HostDirent<'_>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name[].
    while let Some(rec) = buf.get(at..at + 19) {
        let reclen = usize::from(u16::from_le_bytes([rec[16], rec[17]]));
        let Some(whole) = buf.get(at..at.saturating_add(reclen)).filter(|_| reclen >= 19) else { break };
        let name = &whole[19..];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        let mut w = [0u8; 8];
        w.copy_from_slice(&rec[0..8]);
        let ino = u64::from_ne_bytes(w);
        w.copy_from_slice(&rec[8..16]);
        out.push(HostDirent { ino, off: u64::from_ne_bytes(w), typ: rec[18], name });
        at += reclen;
    }
    out
}
