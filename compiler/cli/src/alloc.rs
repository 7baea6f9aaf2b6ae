//! The memory allocator of the `ovnflow` command: jemalloc, configured to
//! give freed memory back to the system at once.
//!
//! `ovnflow northd` holds its NB and SB replicas and the compiler's state
//! for as long as it runs, and around them passes through large transient
//! buffers: a full compute parses tens of megabytes of monitor updates and
//! writes a Southbound transaction of the same size. With glibc's malloc
//! (and with jemalloc's defaults, which keep freed pages for ten seconds)
//! the pages those buffers leave behind stay resident: on the k8s
//! 100 × 100 benchmark the daemon's peak RSS was 184 MB with glibc, 193 MB
//! with default jemalloc and 175 MB with this configuration (issue 6's
//! target is half of ovn-northd's 356 MB).
//!
//! The options, read by jemalloc when the process starts:
//! - `narenas:1`: one arena, as the daemon's threads (tokio, the timely
//!   worker) hand data to each other; per-CPU arenas only spread it out;
//! - `dirty_decay_ms:0`, `muzzy_decay_ms:0`: pages freed are returned to
//!   the system when freed (`madvise`), not kept for later reuse.
//!
//! The chassis daemon (`ovnflow-controller`) keeps the system allocator.

/// The global allocator.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A C string jemalloc reads at start-up (a pointer, shared by threads).
#[repr(transparent)]
pub struct Conf(*const u8);

// SAFETY: the pointer is to a static, immutable byte string.
unsafe impl Sync for Conf {}

/// jemalloc's `malloc_conf` (this build prefixes jemalloc's symbols with
/// `_rjem_`): the options described above.
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: Conf = Conf(
    c"narenas:1,dirty_decay_ms:0,muzzy_decay_ms:0"
        .as_ptr()
        .cast(),
);
