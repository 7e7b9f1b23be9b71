//! The server's tables: nodes (what the guest's node ids stand for) and open file handles.
//!
//! A node is an `O_PATH` descriptor of one host object, so its id keeps naming that object when
//! it is renamed. The guest holds a number of lookups on each node; when FORGET brings them to
//! zero the descriptor is closed. The same host inode (device, inode number) always gets the
//! same node while the guest knows it. Node ids and handle numbers are never reused.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::abi::ROOT_ID;
use crate::host::Res;

/// One host object the guest knows.
pub struct Node {
    fd: OwnedFd,
    /// The object's type (`st_mode & S_IFMT`): an inode never changes type.
    pub kind: u32,
    inode: (u64, u64),
    lookups: u64,
}

impl Node {
    /// Its `O_PATH` descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == libc::S_IFDIR
    }
}

/// Node id → node, and host inode → node id.
pub struct Nodes {
    map: HashMap<u64, Node>,
    by_inode: HashMap<(u64, u64), u64>,
    next: u64,
}

impl Nodes {
    /// The table with only the root (node 1), whose lookups never run out.
    pub fn new(root: OwnedFd, st: &libc::stat) -> Self {
        let mut n = Self { map: HashMap::new(), by_inode: HashMap::new(), next: ROOT_ID + 1 };
        let inode = (st.st_dev, st.st_ino);
        n.map.insert(ROOT_ID, Node { fd: root, kind: st.st_mode & libc::S_IFMT, inode, lookups: u64::MAX });
        n.by_inode.insert(inode, ROOT_ID);
        n
    }

    /// The node `id` (`ESTALE` if the guest does not hold it).
    pub fn get(&self, id: u64) -> Res<&Node> {
        self.map.get(&id).ok_or(libc::ESTALE)
    }

    /// One more lookup of the object behind `fd` (an `O_PATH` descriptor, `st` its `lstat`):
    /// its existing node if the guest knows the object, else a new one. Returns the node id.
    pub fn add(&mut self, fd: OwnedFd, st: &libc::stat) -> u64 {
        let inode = (st.st_dev, st.st_ino);
        if let Some(&id) = self.by_inode.get(&inode) {
            if let Some(node) = self.map.get_mut(&id) {
                node.lookups = node.lookups.saturating_add(1);
                return id; // `fd` is a second descriptor of the same object: closed here
            }
        }
        let id = self.next;
        self.next += 1;
        self.map.insert(id, Node { fd, kind: st.st_mode & libc::S_IFMT, inode, lookups: 1 });
        self.by_inode.insert(inode, id);
        id
    }

    /// The guest forgets `n` lookups of node `id`; at zero the node goes. Unknown ids and the
    /// root are ignored (the kernel never forgets the root).
    pub fn forget(&mut self, id: u64, n: u64) {
        if id == ROOT_ID {
            return;
        }
        let Some(node) = self.map.get_mut(&id) else { return };
        node.lookups = node.lookups.saturating_sub(n);
        if node.lookups == 0 {
            let inode = node.inode;
            self.map.remove(&id);
            self.by_inode.remove(&inode);
        }
    }

    /// Drops every node but the root (the guest unmounted).
    pub fn clear(&mut self) {
        self.map.retain(|&id, _| id == ROOT_ID);
        let root = self.map.get(&ROOT_ID).map(|n| n.inode);
        self.by_inode.retain(|k, _| Some(*k) == root);
    }

    /// How many nodes there are, the root included.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// An open file or directory.
pub struct Handle {
    pub file: File,
    pub is_dir: bool,
}

/// Handle number → open file.
#[derive(Default)]
pub struct Handles {
    map: HashMap<u64, Handle>,
    next: u64,
}

impl Handles {
    /// Keeps `file` open; returns its handle number.
    pub fn add(&mut self, file: File, is_dir: bool) -> u64 {
        self.next += 1;
        self.map.insert(self.next, Handle { file, is_dir });
        self.next
    }

    /// The handle `fh` (`EBADF` if there is none).
    pub fn get(&self, fh: u64) -> Res<&Handle> {
        self.map.get(&fh).ok_or(libc::EBADF)
    }

    /// The open file `fh`, which must be a file (`EISDIR` for a directory).
    pub fn file(&self, fh: u64) -> Res<&File> {
        let h = self.get(fh)?;
        if h.is_dir {
            return Err(libc::EISDIR);
        }
        Ok(&h.file)
    }

    /// The open directory `fh` (`ENOTDIR` for a file).
    pub fn dir(&self, fh: u64) -> Res<&File> {
        let h = self.get(fh)?;
        if !h.is_dir {
            return Err(libc::ENOTDIR);
        }
        Ok(&h.file)
    }

    /// Closes `fh`.
    pub fn remove(&mut self, fh: u64) -> Res<()> {
        self.map.remove(&fh).map(drop).ok_or(libc::EBADF)
    }

    /// Closes every handle.
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// How many handles are open.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}
