//! The FUSE wire protocol as Linux 6.1 speaks it (FUSE 7.38, `include/uapi/linux/fuse.h`).
//!
//! Every structure is a `#[repr(C)]` Rust struct with the kernel's field names, and knows how to
//! read itself from and write itself to little-endian bytes at any alignment (`Wire`). The field
//! offsets are checked against the C header by a test that compiles it with the host's `gcc`
//! (`tests/abi_c.rs`). `Reader` takes a request apart without ever reading past its end.

/// The protocol version the server speaks.
pub const KERNEL_VERSION: u32 = 7;
/// The newest minor version the server speaks (that of Linux 6.1).
pub const KERNEL_MINOR_VERSION: u32 = 38;
/// The node id of the shared directory.
pub const ROOT_ID: u64 = 1;

/// Opcodes (`enum fuse_opcode`).
pub mod op {
    pub const LOOKUP: u32 = 1;
    pub const FORGET: u32 = 2;
    pub const GETATTR: u32 = 3;
    pub const SETATTR: u32 = 4;
    pub const READLINK: u32 = 5;
    pub const SYMLINK: u32 = 6;
    pub const MKNOD: u32 = 8;
    pub const MKDIR: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const RMDIR: u32 = 11;
    pub const RENAME: u32 = 12;
    pub const LINK: u32 = 13;
    pub const OPEN: u32 = 14;
    pub const READ: u32 = 15;
    pub const WRITE: u32 = 16;
    pub const STATFS: u32 = 17;
    pub const RELEASE: u32 = 18;
    pub const FSYNC: u32 = 20;
    pub const SETXATTR: u32 = 21;
    pub const GETXATTR: u32 = 22;
    pub const LISTXATTR: u32 = 23;
    pub const REMOVEXATTR: u32 = 24;
    pub const FLUSH: u32 = 25;
    pub const INIT: u32 = 26;
    pub const OPENDIR: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const RELEASEDIR: u32 = 29;
    pub const FSYNCDIR: u32 = 30;
    pub const ACCESS: u32 = 34;
    pub const CREATE: u32 = 35;
    pub const INTERRUPT: u32 = 36;
    pub const DESTROY: u32 = 38;
    pub const BATCH_FORGET: u32 = 42;
    pub const FALLOCATE: u32 = 43;
    pub const READDIRPLUS: u32 = 44;
    pub const RENAME2: u32 = 45;
    pub const LSEEK: u32 = 46;
}

/// `fuse_init_in.flags` / `fuse_init_out.flags` bits.
pub mod init {
    pub const ASYNC_READ: u32 = 1 << 0;
    pub const ATOMIC_O_TRUNC: u32 = 1 << 3;
    pub const BIG_WRITES: u32 = 1 << 5;
    pub const DO_READDIRPLUS: u32 = 1 << 13;
    pub const READDIRPLUS_AUTO: u32 = 1 << 14;
}

/// `fuse_setattr_in.valid` bits.
pub mod fattr {
    pub const MODE: u32 = 1 << 0;
    pub const UID: u32 = 1 << 1;
    pub const GID: u32 = 1 << 2;
    pub const SIZE: u32 = 1 << 3;
    pub const ATIME: u32 = 1 << 4;
    pub const MTIME: u32 = 1 << 5;
    pub const FH: u32 = 1 << 6;
    pub const ATIME_NOW: u32 = 1 << 7;
    pub const MTIME_NOW: u32 = 1 << 8;
}

/// `fuse_fsync_in.fsync_flags`: only the data, not the metadata.
pub const FSYNC_FDATASYNC: u32 = 1 << 0;

/// The guest's `open(2)` flags as FUSE carries them: the asm-generic values every Linux
/// architecture but a few (alpha, mips, parisc, sparc, powerpc in part) uses, RISC-V included.
pub mod oflag {
    pub const ACCMODE: u32 = 0o3;
    pub const RDONLY: u32 = 0o0;
    pub const WRONLY: u32 = 0o1;
    pub const RDWR: u32 = 0o2;
    pub const CREAT: u32 = 0o100;
    pub const EXCL: u32 = 0o200;
    pub const TRUNC: u32 = 0o1000;
    pub const APPEND: u32 = 0o2000;
    pub const DSYNC: u32 = 0o10000;
    pub const SYNC: u32 = 0o4010000;
}

/// `renameat2` flags as RENAME2 carries them.
pub mod rename {
    pub const NOREPLACE: u32 = 1 << 0;
    pub const EXCHANGE: u32 = 1 << 1;
}

/// A field of a wire structure: a little-endian integer, an array of them, or a nested structure.
pub trait Field: Sized {
    /// Its size in bytes.
    const SIZE: usize;
    /// Reads it from the front of `b` (at least `SIZE` bytes).
    fn get(b: &[u8]) -> Self;
    /// Writes it to the front of `b` (at least `SIZE` bytes).
    fn put(&self, b: &mut [u8]);
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn get(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..Self::SIZE]);
                <$t>::from_le_bytes(a)
            }
            fn put(&self, b: &mut [u8]) {
                b[..Self::SIZE].copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
int_field!(u16, u32, i32, u64);

impl<const N: usize> Field for [u32; N] {
    const SIZE: usize = 4 * N;
    fn get(b: &[u8]) -> Self {
        std::array::from_fn(|i| u32::get(&b[4 * i..]))
    }
    fn put(&self, b: &mut [u8]) {
        for (i, v) in self.iter().enumerate() {
            v.put(&mut b[4 * i..]);
        }
    }
}

/// A wire structure: a `Field` with a C name and a table of its fields, for the ABI test.
pub trait Wire: Field + Default {
    /// The C structure's name in `linux/fuse.h`.
    const C_NAME: &'static str;
    /// `(name, offset, size)` of every field, in order.
    const FIELDS: &'static [(&'static str, usize, usize)];

    /// Its bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![0; Self::SIZE];
        self.put(&mut v);
        v
    }
}

macro_rules! wire {
    ($( $(#[$m:meta])* $name:ident = $c:ident { $($f:ident : $t:ty),* $(,)? } )*) => {$(
        $(#[$m])*
        #[repr(C)]
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub struct $name { $(pub $f: $t),* }

        impl Field for $name {
            const SIZE: usize = std::mem::size_of::<$name>();
            fn get(b: &[u8]) -> Self {
                Self { $($f: <$t as Field>::get(&b[std::mem::offset_of!($name, $f)..])),* }
            }
            fn put(&self, b: &mut [u8]) {
                $( self.$f.put(&mut b[std::mem::offset_of!($name, $f)..]); )*
            }
        }

        impl Wire for $name {
            const C_NAME: &'static str = stringify!($c);
            const FIELDS: &'static [(&'static str, usize, usize)] =
                &[$((stringify!($f), std::mem::offset_of!($name, $f), <$t as Field>::SIZE)),*];
        }
    )*};
}

wire! {
    /// The attributes of a node.
    Attr = fuse_attr {
        ino: u64, size: u64, blocks: u64, atime: u64, mtime: u64, ctime: u64,
        atimensec: u32, mtimensec: u32, ctimensec: u32, mode: u32, nlink: u32,
        uid: u32, gid: u32, rdev: u32, blksize: u32, flags: u32,
    }
    Kstatfs = fuse_kstatfs {
        blocks: u64, bfree: u64, bavail: u64, files: u64, ffree: u64,
        bsize: u32, namelen: u32, frsize: u32, padding: u32, spare: [u32; 6],
    }
    InHeader = fuse_in_header {
        len: u32, opcode: u32, unique: u64, nodeid: u64, uid: u32, gid: u32, pid: u32,
        total_extlen: u16, padding: u16,
    }
    OutHeader = fuse_out_header { len: u32, error: i32, unique: u64 }
    InitIn = fuse_init_in {
        major: u32, minor: u32, max_readahead: u32, flags: u32, flags2: u32, unused: [u32; 11],
    }
    InitOut = fuse_init_out {
        major: u32, minor: u32, max_readahead: u32, flags: u32, max_background: u16,
        congestion_threshold: u16, max_write: u32, time_gran: u32, max_pages: u16,
        map_alignment: u16, flags2: u32, unused: [u32; 7],
    }
    EntryOut = fuse_entry_out {
        nodeid: u64, generation: u64, entry_valid: u64, attr_valid: u64,
        entry_valid_nsec: u32, attr_valid_nsec: u32, attr: Attr,
    }
    AttrOut = fuse_attr_out { attr_valid: u64, attr_valid_nsec: u32, dummy: u32, attr: Attr }
    ForgetIn = fuse_forget_in { nlookup: u64 }
    ForgetOne = fuse_forget_one { nodeid: u64, nlookup: u64 }
    BatchForgetIn = fuse_batch_forget_in { count: u32, dummy: u32 }
    GetattrIn = fuse_getattr_in { getattr_flags: u32, dummy: u32, fh: u64 }
    SetattrIn = fuse_setattr_in {
        valid: u32, padding: u32, fh: u64, size: u64, lock_owner: u64, atime: u64, mtime: u64,
        ctime: u64, atimensec: u32, mtimensec: u32, ctimensec: u32, mode: u32, unused4: u32,
        uid: u32, gid: u32, unused5: u32,
    }
    MknodIn = fuse_mknod_in { mode: u32, rdev: u32, umask: u32, padding: u32 }
    MkdirIn = fuse_mkdir_in { mode: u32, umask: u32 }
    RenameIn = fuse_rename_in { newdir: u64 }
    Rename2In = fuse_rename2_in { newdir: u64, flags: u32, padding: u32 }
    LinkIn = fuse_link_in { oldnodeid: u64 }
    OpenIn = fuse_open_in { flags: u32, open_flags: u32 }
    CreateIn = fuse_create_in { flags: u32, mode: u32, umask: u32, open_flags: u32 }
    OpenOut = fuse_open_out { fh: u64, open_flags: u32, padding: u32 }
    ReleaseIn = fuse_release_in { fh: u64, flags: u32, release_flags: u32, lock_owner: u64 }
    FlushIn = fuse_flush_in { fh: u64, unused: u32, padding: u32, lock_owner: u64 }
    ReadIn = fuse_read_in {
        fh: u64, offset: u64, size: u32, read_flags: u32, lock_owner: u64, flags: u32, padding: u32,
    }
    WriteIn = fuse_write_in {
        fh: u64, offset: u64, size: u32, write_flags: u32, lock_owner: u64, flags: u32, padding: u32,
    }
    WriteOut = fuse_write_out { size: u32, padding: u32 }
    StatfsOut = fuse_statfs_out { st: Kstatfs }
    FsyncIn = fuse_fsync_in { fh: u64, fsync_flags: u32, padding: u32 }
    AccessIn = fuse_access_in { mask: u32, padding: u32 }
    InterruptIn = fuse_interrupt_in { unique: u64 }
    FallocateIn = fuse_fallocate_in { fh: u64, offset: u64, length: u64, mode: u32, padding: u32 }
    LseekIn = fuse_lseek_in { fh: u64, offset: u64, whence: u32, padding: u32 }
    LseekOut = fuse_lseek_out { offset: u64 }
    GetxattrIn = fuse_getxattr_in { size: u32, padding: u32 }
    /// A directory entry; its name follows (`namelen` bytes, then zeros to 8-byte alignment).
    Dirent = fuse_dirent { ino: u64, off: u64, namelen: u32, typ: u32 }
    /// A directory entry with its lookup; the name follows as for `Dirent`.
    Direntplus = fuse_direntplus { entry_out: EntryOut, dirent: Dirent }
}

/// The bytes a directory record takes: its fixed part and name, rounded up to 8 bytes.
pub fn dirent_size(fixed: usize, namelen: usize) -> usize {
    (fixed + namelen + 7) & !7
}

/// Reads a request's parts in order; a read past the end is `None`, never a panic.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The next structure, if that many bytes are left.
    pub fn obj<T: Wire>(&mut self) -> Option<T> {
        let b = self.bytes(T::SIZE)?;
        Some(T::get(b))
    }

    /// The next `n` bytes, if that many are left.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.data.len() {
            return None;
        }
        let (a, b) = self.data.split_at(n);
        self.data = b;
        Some(a)
    }

    /// The next NUL-terminated string, without its NUL.
    pub fn cstr(&mut self) -> Option<&'a [u8]> {
        let end = self.data.iter().position(|&b| b == 0)?;
        let s = self.bytes(end)?;
        self.bytes(1)?;
        Some(s)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}
