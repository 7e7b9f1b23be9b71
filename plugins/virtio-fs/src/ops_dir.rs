//! Directories: OPENDIR, READDIR, READDIRPLUS.
//!
//! A listing continues from the guest's offset: the host's own directory cookie (`d_off` of the
//! entry before), so each request seeks the directory there and reads on. READDIRPLUS looks up
//! every entry but `.` and `..` (the kernel ignores those two and forgets the others later); an
//! entry is looked up only once it is sure to fit the reply.

use std::ffi::CString;
use std::os::fd::AsFd;

use crate::abi::{self, Field, Wire};
use crate::host::{self, Res};
use crate::server::{Req, Server, MAX_READ};

/// The bytes asked of the host per `getdents` call.
const HOST_BATCH: usize = 32 * 1024;

impl Server {
    pub(crate) fn opendir(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        req.arg::<abi::OpenIn>()?;
        req.done()?;
        let fd = self.dir_fd(req.h.nodeid)?;
        let dir = host::reopen(fd, libc::O_RDONLY | libc::O_DIRECTORY)?;
        let fh = self.handles.add(std::fs::File::from(dir), true);
        Ok(abi::OpenOut { fh, open_flags: 0, padding: 0 }.to_bytes())
    }

    pub(crate) fn readdir(&mut self, req: &mut Req<'_>, plus: bool) -> Res<Vec<u8>> {
        let r: abi::ReadIn = req.arg()?;
        req.done()?;
        let size = (r.size as usize).min(req.room).min(MAX_READ);
        let start = i64::try_from(r.offset).map_err(|_| libc::EINVAL)?;
        // Our own descriptor of the directory: lookups below need `self` mutably.
        let dir = self.handles.dir(r.fh)?.try_clone().map_err(|_| libc::EMFILE)?;
        host::lseek(dir.as_fd(), start, libc::SEEK_SET)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; HOST_BATCH];
        loop {
            let n = host::getdents(dir.as_fd(), &mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            for e in host::parse_dirents(&buf[..n]) {
                let fixed = if plus { abi::Direntplus::SIZE } else { abi::Dirent::SIZE };
                let rec = abi::dirent_size(fixed, e.name.len());
                if out.len() + rec > size {
                    return Ok(out);
                }
                let dirent =
                    abi::Dirent { ino: e.ino, off: e.off, namelen: e.name.len() as u32, typ: u32::from(e.typ) };
                if !plus {
                    out.extend(dirent.to_bytes());
                } else {
                    let entry_out = if e.name == b"." || e.name == b".." {
                        abi::EntryOut::default()
                    } else {
                        let name = CString::new(e.name).map_err(|_| libc::EIO)?;
                        match self.lookup_name(dir.as_fd(), &name) {
                            Ok(entry) => entry,
                            Err(libc::ENOENT) => continue, // gone since the listing
                            Err(err) if out.is_empty() => return Err(err),
                            Err(_) => return Ok(out), // the guest asks again from here
                        }
                    };
                    out.extend(abi::Direntplus { entry_out, dirent }.to_bytes());
                }
                out.extend_from_slice(e.name);
                out.resize(out.len().next_multiple_of(8), 0);
            }
        }
    }
}
