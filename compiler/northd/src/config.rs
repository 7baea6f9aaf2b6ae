//! The daemon's settings, validated from the command line and environment
//! the way ovn-northd reads them.

use std::path::{Path, PathBuf};

/// Largest `--n-threads` ovn-northd accepts (`OVN_MAX_SUPPORTED_THREADS`).
pub const MAX_THREADS: usize = 256;

/// Everything `ovnflow northd` needs to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// NB remote(s): `unix:PATH` / `tcp:HOST:PORT`, comma-separated for a cluster.
    pub nb_db: String,
    /// SB remote(s).
    pub sb_db: String,
    /// Control socket path.
    pub unixctl: PathBuf,
    /// Dataflow worker threads.
    pub n_threads: usize,
    /// Start paused (`--dry-run`): no lock, no writes.
    pub paused: bool,
    /// Log file (also logging to stderr unless detached).
    pub log_file: Option<PathBuf>,
    /// `--verbose` specs (`[module][:destination][:level]`).
    pub verbose: Vec<String>,
    /// Pid file.
    pub pidfile: Option<PathBuf>,
}

/// `OVN_RUNDIR`, else `OVS_RUNDIR`, else the compiled-in default of the
/// OVN packages (`/var/run/ovn`).
pub fn ovn_rundir() -> PathBuf {
    std::env::var_os("OVN_RUNDIR")
        .or_else(|| std::env::var_os("OVS_RUNDIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/run/ovn"))
}

/// `OVN_LOGDIR`, else `OVS_LOGDIR`, else `/var/log/ovn`.
pub fn ovn_logdir() -> PathBuf {
    std::env::var_os("OVN_LOGDIR")
        .or_else(|| std::env::var_os("OVS_LOGDIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/log/ovn"))
}

/// `default_nb_db()` / `default_sb_db()`: `OVN_NB_DB` / `OVN_SB_DB`, else
/// `unix:$OVN_RUNDIR/ovnnb_db.sock` / `ovnsb_db.sock`.
pub fn default_db(nb: bool) -> String {
    let (var, sock) = if nb {
        ("OVN_NB_DB", "ovnnb_db.sock")
    } else {
        ("OVN_SB_DB", "ovnsb_db.sock")
    };
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => format!("unix:{}", ovn_rundir().join(sock).display()),
    }
}

/// The control socket of daemon `program` (`ovn-northd`, `ovn-controller`)
/// when `--unixctl` is not given: `$OVN_RUNDIR/PROGRAM.PID.ctl`, as OVS
/// daemons name theirs. A relative `--unixctl` is taken relative to the run
/// directory.
pub fn unixctl_path(program: &str, given: Option<&Path>) -> PathBuf {
    match given {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) => ovn_rundir().join(p),
        None => ovn_rundir().join(format!("{program}.{}.ctl", std::process::id())),
    }
}

/// `--pidfile` without a value: `$OVN_RUNDIR/PROGRAM.pid`; a relative one is
/// relative to the run directory.
pub fn pidfile_path(program: &str, given: &str) -> PathBuf {
    if given.is_empty() {
        ovn_rundir().join(format!("{program}.pid"))
    } else if Path::new(given).is_absolute() {
        PathBuf::from(given)
    } else {
        ovn_rundir().join(given)
    }
}

/// `--log-file` without a value: `$OVN_LOGDIR/PROGRAM.log`.
pub fn log_file_path(program: &str, given: &str) -> PathBuf {
    if given.is_empty() {
        ovn_logdir().join(format!("{program}.log"))
    } else {
        PathBuf::from(given)
    }
}

/// Clamps `--n-threads` as ovn-northd does (1..=256), saying what changed.
pub fn clamp_threads(n: i64) -> (usize, Option<String>) {
    if n < 1 {
        (
            1,
            Some(format!(
                "Setting n_threads to 1 as --n-threads option was set to : [{n}]"
            )),
        )
    } else if n as u64 > MAX_THREADS as u64 {
        (
            MAX_THREADS,
            Some(format!(
                "Setting n_threads to {MAX_THREADS} as --n-threads option was set to : [{n}]"
            )),
        )
    } else {
        (n as usize, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_clamped_like_northd() {
        assert_eq!(clamp_threads(0).0, 1);
        assert_eq!(clamp_threads(4), (4, None));
        assert_eq!(clamp_threads(1000).0, MAX_THREADS);
    }

    #[test]
    fn relative_paths_go_to_the_run_directory() {
        assert_eq!(
            unixctl_path("ovn-northd", Some(Path::new("/x/n.ctl"))),
            PathBuf::from("/x/n.ctl")
        );
        assert!(pidfile_path("ovn-northd", "").ends_with("ovn-northd.pid"));
        assert_eq!(
            log_file_path("ovn-northd", "/l/n.log"),
            PathBuf::from("/l/n.log")
        );
    }
}
