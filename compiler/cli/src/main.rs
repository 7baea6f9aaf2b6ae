//! The `ovnflow` command line. Glue only: flags are parsed here and handed to
//! the subcommand modules.

mod alloc;
mod compile;
mod controller;
mod daemon;
mod flows;
mod k8s;
mod northd;

use clap::{Parser, Subcommand};

/// ovnflow: OVN's control plane, incrementally.
#[derive(Parser, Debug)]
#[command(name = "ovnflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile a Northbound database into Southbound logical flows.
    Compile(compile::Args),
    /// The OpenFlow table ovn-controller would install on one chassis,
    /// from a Southbound database.
    Flows(flows::Args),
    /// Kubernetes manifests to OVN Northbound (ovn-kubernetes layout).
    #[command(subcommand)]
    K8s(k8s::Command),
    /// Run as ovn-northd: keep the Southbound database compiled from the
    /// Northbound (lock, nb_cfg, status and ovn-appctl as ovn-northd 23.03).
    Northd(northd::Args),
    /// Run as ovn-controller: register this chassis, bind its VIFs and
    /// keep the integration bridge's OpenFlow table computed from the
    /// Southbound database (command line and ovn-appctl as ovn-controller
    /// 23.03).
    Controller(controller::Args),
    /// The CNI plugin (spec 1.0); CNI_COMMAND and the other CNI_*
    /// variables say what to do. `ovnflow` run with CNI_COMMAND set is the
    /// same.
    Cni,
    /// Wire this node's provider networks: OVS bridges, NICs, ovn-bridge-mappings.
    Node(k8s::NodeArgs),
}

fn main() -> std::process::ExitCode {
    alloc::tune_malloc();
    // A container runtime runs the plugin binary with CNI_COMMAND set.
    if std::env::var_os("CNI_COMMAND").is_some() {
        return k8s::run_cni();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(args) => compile::run(args),
        Command::Flows(args) => flows::run(args),
        Command::K8s(cmd) => k8s::run(cmd),
        Command::Northd(args) => northd::run(args),
        Command::Controller(args) => controller::run(args),
        Command::Cni => return k8s::run_cni(),
        Command::Node(args) => k8s::run_node(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `ovnflow compile | head`: the reader went away, nothing to report.
        Err(e)
            if e.downcast_ref::<std::io::Error>().map(|io| io.kind())
                == Some(std::io::ErrorKind::BrokenPipe) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ovnflow: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
