//! The memory allocator of the `ovnflow` command: the C library's malloc
//! (glibc), set up at start-up to give freed memory back to the system, or
//! with the `jemalloc` feature jemalloc, configured to the same end.
//!
//! `ovnflow northd` holds its NB and SB replicas and the compiler's state
//! for as long as it runs, and around them passes through large transient
//! buffers: a full compute parses tens of megabytes of monitor updates and
//! writes a Southbound transaction of the same size. glibc's settings,
//! made before any thread starts ([`tune_malloc`]):
//! - one arena (`M_ARENA_MAX` 1), as a single-threaded ovn-northd has: by
//!   default each thread that allocates gets its own arena (up to eight per
//!   core) and memory freed in one is not reused by the others, and the
//!   daemon parses database updates on the runtime's threads and compiles
//!   on its dataflow's;
//! - glibc's default thresholds for returning memory, 128 kB, kept fixed
//!   (`M_MMAP_THRESHOLD`, `M_TRIM_THRESHOLD`): by default glibc raises them
//!   (up to 32 MB) whenever a large block is freed, after which large
//!   transient buffers are carved from the heap and stay resident.
//!
//! jemalloc's options (`malloc_conf`, read when the process starts): one
//! arena (`narenas:1`) for the same reason, and pages returned to the
//! system when freed (`dirty_decay_ms:0`, `muzzy_decay_ms:0`; by default
//! jemalloc keeps them for ten seconds).
//!
//! The daemon on the k8s 100 × 100 benchmark (`ovnflow-bench --k8s
//! 100x100/1000/500`, 6 runs of each build alternating, 2026-12-05): peak
//! RSS 170 MB with glibc and these settings (172–177 MB with one arena
//! only), 162 MB with jemalloc; its full compute, NB committed to SB
//! committed, median 3.28 s against 3.03 s. ovn-northd's peak RSS is
//! 356 MB (issue 6's target: half of it). jemalloc is a feature because
//! its C build (`configure`, `make`) is about 117 CPU-seconds, an eighth
//! of a release build of the workspace (issue 3); mimalloc (3 s to build)
//! peaked at 207–225 MB.

/// jemalloc, with the `jemalloc` feature.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A C string jemalloc reads at start-up (a pointer, shared by threads).
#[cfg(feature = "jemalloc")]
#[repr(transparent)]
pub struct Conf(*const u8);

// SAFETY: the pointer is to a static, immutable byte string.
#[cfg(feature = "jemalloc")]
unsafe impl Sync for Conf {}

/// jemalloc's `malloc_conf` (this build prefixes jemalloc's symbols with
/// `_rjem_`): the options described above.
#[cfg(feature = "jemalloc")]
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: Conf = Conf(
    c"narenas:1,dirty_decay_ms:0,muzzy_decay_ms:0"
        .as_ptr()
        .cast(),
);

/// Applies glibc's settings above; call before any thread starts. A no-op
/// on other C libraries (and for Rust's allocations with jemalloc).
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before the
    // process starts its other threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}
