//! `ovnflow northd`: flags of ovn-northd, validated into an
//! [`ovnflow_northd::Config`]; the daemon lives in the `ovnflow-northd` crate.

use anyhow::Result;
use ovnflow_northd::{config, Config};

use crate::daemon::{DaemonArgs, Paths};

/// The daemon's name in default paths.
const PROGRAM: &str = "ovn-northd";

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
    /// Daemon flags.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// Validates the flags into a daemon configuration.
fn config(args: &Args, paths: Paths) -> (Config, Option<String>) {
    let (n_threads, warning) = config::clamp_threads(args.n_threads);
    (
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
            unixctl: paths.unixctl,
            n_threads,
            paused: args.dry_run,
            log_file: paths.log_file,
            verbose: args.daemon.verbose.clone(),
            pidfile: paths.pidfile,
        },
        warning,
    )
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let paths = args.daemon.paths(PROGRAM);
    if !args.daemon.start(&paths)? {
        return Ok(());
    }
    let (cfg, warning) = config(&args, paths);
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    if cfg.n_threads != 1 {
        tracing::info!("Using {} threads", cfg.n_threads);
    }
    let daemon = ovnflow_northd::run(cfg);
    crate::daemon::runtime(Some(2))?.block_on(daemon)?;
    Ok(())
}
