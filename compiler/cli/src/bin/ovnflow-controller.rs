//! `ovnflow-controller`: `ovnflow controller` as a binary of its own
//! (same flags, same daemon), for chassis that run nothing else.
//!
//! The `ovnflow` binary links the whole compiler, northd and Kubernetes
//! bridge; the controller runs none of them, but the kernel maps the
//! binary's pages around every page the controller touches (fault-around),
//! so its file-backed resident memory grows with the binary (issue 9).
//! This one links only the southbound engine, the OVSDB client and the
//! daemon plumbing.

#[path = "../controller.rs"]
mod controller;
#[path = "../daemon.rs"]
mod daemon;

use clap::Parser;

/// Run as ovn-controller: register this chassis, bind its VIFs and keep
/// the integration bridge's OpenFlow table computed from the Southbound
/// database (command line and ovn-appctl as ovn-controller 23.03).
#[derive(Parser, Debug)]
#[command(name = "ovnflow-controller", version, about)]
struct Cli {
    #[command(flatten)]
    args: controller::Args,
}

fn main() -> std::process::ExitCode {
    match controller::run(Cli::parse().args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ovnflow-controller: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
