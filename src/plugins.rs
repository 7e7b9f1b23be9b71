//! Every device plugin linked into semu. A plugin registers its kind with `inventory` when its
//! crate is linked; naming each crate here keeps the linker from dropping one that the core never
//! calls directly. `tests/config.rs` checks the resulting set of kinds.

use semu_aclint as _;
use semu_plic as _;
use semu_pvpanic as _;
use semu_uart8250 as _;
use semu_virtio_blk as _;
use semu_virtio_fs as _;
use semu_virtio_input as _;
use semu_virtio_net as _;
use semu_virtio_rng as _;
