//! `ovnflow controller`: the command line of ovn-controller 23.03, glued
//! to the daemon in [`ovnflow_southbound::controller`].  The control
//! socket reuses the northd daemon's OVS-style unixctl server, pid file,
//! `--detach` and log format.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use ovnflow_northd::unixctl::{CommandSpec, Handler, Outcome, UnixctlServer};
use ovnflow_northd::{config, logging, process};
use ovnflow_southbound::controller::{self, Control, Status};

/// Flags of `ovnflow controller` (those of ovn-controller 23.03).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The local Open_vSwitch database [default: unix:$OVS_RUNDIR/db.sock].
    #[arg(value_name = "DATABASE")]
    pub database: Option<String>,
    /// Control socket [default: $OVN_RUNDIR/ovn-controller.PID.ctl].
    #[arg(long, value_name = "SOCKET")]
    pub unixctl: Option<PathBuf>,
    /// Create a pid file [default: $OVN_RUNDIR/ovn-controller.pid].
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub pidfile: Option<String>,
    /// Run in the background.
    #[arg(long)]
    pub detach: bool,
    /// Do not chdir to "/" when detaching.
    #[arg(long)]
    pub no_chdir: bool,
    /// Log to a file [default: $OVN_LOGDIR/ovn-controller.log].
    #[arg(long = "log-file", value_name = "FILE", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub log_file: Option<String>,
    /// Log levels: [module][:destination][:level] (repeatable; alone: debug).
    #[arg(short = 'v', long = "verbose", value_name = "SPEC", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub verbose: Vec<String>,
}

/// `OVS_RUNDIR`, else `/var/run/openvswitch` (where `br-int.mgmt` and
/// `db.sock` are).
fn ovs_rundir() -> PathBuf {
    std::env::var_os("OVS_RUNDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/run/openvswitch"))
}

fn in_rundir(given: &str, default: &str) -> PathBuf {
    if given.is_empty() {
        config::ovn_rundir().join(default)
    } else if Path::new(given).is_absolute() {
        PathBuf::from(given)
    } else {
        config::ovn_rundir().join(given)
    }
}

fn commands() -> Vec<CommandSpec> {
    let c = |name, usage, max_args| CommandSpec {
        name,
        usage,
        min_args: 0,
        max_args,
    };
    vec![
        c("exit", "[--restart]", 1),
        c("recompute", "", 0),
        c("inc-engine/recompute", "", 0),
        c("ct-zone-list", "", 0),
        c("group-table-list", "", 0),
        c("meter-table-list", "", 0),
        c("connection-status", "", 0),
        c("stats", "", 0),
    ]
}

fn handler(status: Status) -> Handler<Control> {
    Arc::new(move |cmd, args| {
        let Ok(s) = status.lock() else {
            return Outcome::text("");
        };
        match cmd {
            "exit" => Outcome {
                reply: Ok(String::new()),
                then: Some(Control::Exit {
                    cleanup: !args.iter().any(|a| a == "--restart"),
                }),
            },
            "recompute" | "inc-engine/recompute" => Outcome {
                reply: Ok(String::new()),
                then: Some(Control::Recompute),
            },
            "ct-zone-list" => Outcome::text(s.ct_zone_list()),
            "group-table-list" => Outcome::text(s.group_table_list()),
            "meter-table-list" => Outcome::text(s.meter_table_list()),
            "connection-status" => Outcome::text(s.connection_status()),
            "stats" => Outcome::text(s.stats()),
            _ => Outcome {
                reply: Err(format!("{cmd}: unknown command")),
                then: None,
            },
        }
    })
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let unixctl = match &args.unixctl {
        Some(p) => in_rundir(&p.display().to_string(), ""),
        None => config::ovn_rundir().join(format!("ovn-controller.{}.ctl", std::process::id())),
    };
    let pidfile = args
        .pidfile
        .as_deref()
        .map(|p| in_rundir(p, "ovn-controller.pid"));
    let log_file = args.log_file.as_deref().map(|p| {
        if p.is_empty() {
            config::ovn_logdir().join("ovn-controller.log")
        } else {
            PathBuf::from(p)
        }
    });
    let child = process::is_detached_child();
    if args.detach && !child {
        let ready = match (&pidfile, &args.unixctl) {
            (Some(p), _) => p.clone(),
            (None, Some(_)) => unixctl.clone(),
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
    logging::init(&args.verbose, log_file.as_deref(), child).map_err(anyhow::Error::msg)?;
    let cfg = controller::Config {
        ovs_db: args
            .database
            .clone()
            .unwrap_or_else(|| format!("unix:{}", ovs_rundir().join("db.sock").display())),
        ovs_rundir: ovs_rundir(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let status = Status::default();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let _ctl = UnixctlServer::start(&unixctl, commands(), handler(status.clone()), tx)?;
        let _pid = pidfile
            .as_deref()
            .map(process::PidFile::create)
            .transpose()?;
        controller::run(cfg, status, rx).await?;
        Ok(())
    })
}
