//! `ovnflow controller`: the command line of ovn-controller 23.03, glued
//! to the daemon in [`ovnflow_southbound::controller`].  The control
//! socket reuses the northd daemon's OVS-style unixctl server; pid file,
//! `--detach` and logging are [`crate::daemon`]'s.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use ovnflow_northd::process;
use ovnflow_northd::unixctl::{CommandSpec, Handler, Outcome, UnixctlServer};
use ovnflow_southbound::controller::{self, Control, Status};

use crate::daemon::DaemonArgs;

/// The daemon's name in default paths.
const PROGRAM: &str = "ovn-controller";

/// Flags of `ovnflow controller` (those of ovn-controller 23.03).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The local Open_vSwitch database [default: unix:$OVS_RUNDIR/db.sock].
    #[arg(value_name = "DATABASE")]
    pub database: Option<String>,
    /// Daemon flags.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `OVS_RUNDIR`, else `/var/run/openvswitch` (where `br-int.mgmt` and
/// `db.sock` are).
fn ovs_rundir() -> PathBuf {
    std::env::var_os("OVS_RUNDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/run/openvswitch"))
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
    let paths = args.daemon.paths(PROGRAM);
    if !args.daemon.start(&paths)? {
        return Ok(());
    }
    let cfg = controller::Config {
        ovs_db: args
            .database
            .clone()
            .unwrap_or_else(|| format!("unix:{}", ovs_rundir().join("db.sock").display())),
        ovs_rundir: ovs_rundir(),
    };
    crate::daemon::runtime(None)?.block_on(async {
        let status = Status::default();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let _ctl = UnixctlServer::start(&paths.unixctl, commands(), handler(status.clone()), tx)?;
        let _pid = paths
            .pidfile
            .as_deref()
            .map(process::PidFile::create)
            .transpose()?;
        controller::run(cfg, status, rx).await?;
        Ok(())
    })
}
