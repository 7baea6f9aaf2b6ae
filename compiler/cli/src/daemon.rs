//! The flags every OVS/OVN daemon takes (`lib/daemon.h`, `lib/vlog.h`,
//! `--unixctl`), shared by `ovnflow northd` and `ovnflow controller`, and
//! the start-up they imply: detaching, changing directory, logging.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use ovnflow_northd::{config, logging, process};

/// Daemon flags of ovn-northd and ovn-controller 23.03. Defaults name the
/// daemon (`ovn-northd` or `ovn-controller`) as OVS daemons do.
#[derive(clap::Args, Debug)]
pub struct DaemonArgs {
    /// Control socket [default: $OVN_RUNDIR/<daemon>.PID.ctl].
    #[arg(long, value_name = "SOCKET")]
    pub unixctl: Option<PathBuf>,
    /// Create a pid file [default: $OVN_RUNDIR/<daemon>.pid].
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub pidfile: Option<String>,
    /// Run in the background.
    #[arg(long)]
    pub detach: bool,
    /// Do not chdir to "/" when detaching.
    #[arg(long)]
    pub no_chdir: bool,
    /// Log to a file [default: $OVN_LOGDIR/<daemon>.log].
    #[arg(long = "log-file", value_name = "FILE", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub log_file: Option<String>,
    /// Log levels: [module][:destination][:level] (repeatable; alone: debug).
    #[arg(short = 'v', long = "verbose", value_name = "SPEC", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub verbose: Vec<String>,
}

/// Where a daemon's control socket, pid file and log file are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The control socket.
    pub unixctl: PathBuf,
    /// The pid file, with `--pidfile`.
    pub pidfile: Option<PathBuf>,
    /// The log file, with `--log-file`.
    pub log_file: Option<PathBuf>,
}

impl DaemonArgs {
    /// The paths of daemon `program` (`ovn-northd`, `ovn-controller`).
    pub fn paths(&self, program: &str) -> Paths {
        Paths {
            unixctl: config::unixctl_path(program, self.unixctl.as_deref()),
            pidfile: self
                .pidfile
                .as_deref()
                .map(|p| config::pidfile_path(program, p)),
            log_file: self
                .log_file
                .as_deref()
                .map(|p| config::log_file_path(program, p)),
        }
    }

    /// Starts the daemon as `lib/daemon.c` does: with `--detach`, the parent
    /// forks the daemon, waits until it is ready (its pid file, else its
    /// control socket, exists) and gets `false`; the daemon (or a daemon
    /// run in the foreground) changes to `/` unless `--no-chdir`, starts
    /// logging, and gets `true`: it is the process that runs the daemon.
    pub fn start(&self, paths: &Paths) -> Result<bool> {
        let child = process::is_detached_child();
        if self.detach && !child {
            let ready = match (&paths.pidfile, &self.unixctl) {
                (Some(p), _) => p.clone(),
                (None, Some(_)) => paths.unixctl.clone(),
                (None, None) => {
                    bail!("--detach needs --pidfile or --unixctl to know when the daemon is ready")
                }
            };
            process::detach(&ready).context("--detach")?;
            return Ok(false);
        }
        if child && !self.no_chdir {
            std::env::set_current_dir("/").context("chdir /")?;
        }
        logging::init(&self.verbose, paths.log_file.as_deref(), child)
            .map_err(anyhow::Error::msg)?;
        Ok(true)
    }
}

/// The runtime a daemon runs on: `workers` tokio worker threads (I/O;
/// northd's dataflow runs on its own threads), or with `None` everything
/// on the calling thread, as ovn-controller runs (one thread, one malloc
/// arena: the controller's compute is sequential anyway).
pub fn runtime(workers: Option<usize>) -> Result<tokio::runtime::Runtime> {
    let mut b = match workers {
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        None => tokio::runtime::Builder::new_current_thread(),
    };
    Ok(b.enable_all().build()?)
}
