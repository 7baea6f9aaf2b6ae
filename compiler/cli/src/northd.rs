//! `ovnflow northd`: flags of ovn-northd, validated into an
//! [`ovnflow_northd::Config`]; the daemon lives in the `ovnflow-northd` crate.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use ovnflow_northd::{config, logging, process, Config};

/// Flags of `ovnflow northd` (those of ovn-northd 23.03).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// NB database remote(s) [default: $OVN_NB_DB, else unix:$OVN_RUNDIR/ovnnb_db.sock].
    #[arg(long = "ovnnb-db", value_name = "DATABASE")]
    pub ovnnb_db: Option<String>,
    /// SB database remote(s) [default: $OVN_SB_DB, else unix:$OVN_RUNDIR/ovnsb_db.sock].
    #[arg(long = "ovnsb-db", value_name = "DATABASE")]
    pub ovnsb_db: Option<String>,
    /// Start in paused state (do not commit database changes).
    #[arg(long)]
    pub dry_run: bool,
    /// Number of dataflow worker threads (1 to 256).
    #[arg(
        long = "n-threads",
        value_name = "N",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    pub n_threads: i64,
    /// Control socket [default: $OVN_RUNDIR/ovn-northd.PID.ctl].
    #[arg(long, value_name = "SOCKET")]
    pub unixctl: Option<PathBuf>,
    /// Create a pid file [default: $OVN_RUNDIR/ovn-northd.pid].
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub pidfile: Option<String>,
    /// Run in the background.
    #[arg(long)]
    pub detach: bool,
    /// Do not chdir to "/" when detaching.
    #[arg(long)]
    pub no_chdir: bool,
    /// Log to a file [default: $OVN_LOGDIR/ovn-northd.log].
    #[arg(long = "log-file", value_name = "FILE", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub log_file: Option<String>,
    /// Log levels: [module][:destination][:level] (repeatable; alone: debug).
    #[arg(short = 'v', long = "verbose", value_name = "SPEC", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub verbose: Vec<String>,
}

/// Validates the flags into a daemon configuration.
fn config(args: &Args) -> Result<(Config, Option<String>)> {
    let (n_threads, warning) = config::clamp_threads(args.n_threads);
    Ok((
        Config {
            nb_db: args
                .ovnnb_db
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| config::default_db(true)),
            sb_db: args
                .ovnsb_db
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| config::default_db(false)),
            unixctl: config::unixctl_path(args.unixctl.as_deref()),
            n_threads,
            paused: args.dry_run,
            log_file: args.log_file.as_deref().map(config::log_file_path),
            verbose: args.verbose.clone(),
            pidfile: args.pidfile.as_deref().map(config::pidfile_path),
        },
        warning,
    ))
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let (cfg, warning) = config(&args)?;
    let child = process::is_detached_child();
    if args.detach && !child {
        let ready = match (&cfg.pidfile, &args.unixctl) {
            (Some(p), _) => p.clone(),
            (None, Some(_)) => cfg.unixctl.clone(),
            (None, None) => {
                bail!("--detach needs --pidfile or --unixctl to know when the daemon is ready")
            }
        };
        process::detach(&ready).context("--detach")?;
        return Ok(());
    }
    if child && !args.no_chdir {
        std::env::set_current_dir("/").context("chdir /")?;
    }
    logging::init(&cfg.verbose, cfg.log_file.as_deref(), child).map_err(anyhow::Error::msg)?;
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    if cfg.n_threads != 1 {
        tracing::info!("Using {} threads", cfg.n_threads);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        // The pid file appears once the control socket listens, i.e. when
        // the daemon started; it goes away when it stops.
        let daemon = ovnflow_northd::run_with_ready(cfg.clone(), |_| {
            cfg.pidfile
                .as_deref()
                .map(process::PidFile::create)
                .transpose()
        });
        daemon.await.map_err(anyhow::Error::from)
    })
}
