//! `ovnflow k8s apply|delete|render`: Kubernetes manifests to OVN NB, with
//! ovn-kubernetes' layout (glue over the `ovnflow-k8s-bridge` crate).

use std::path::PathBuf;

use anyhow::Result;
use ovnflow_k8s_bridge::{reconcile, translate, Config, Objects};

/// Flags shared by the k8s subcommands.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// Manifest files or directories (`-` for standard input), like `kubectl -f`.
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Read directories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Cluster subnets: comma-separated CIDR/HOSTPREFIX.
    #[arg(long, default_value = ovnflow_k8s_bridge::ipam::DEFAULT_CLUSTER_SUBNETS)]
    pub cluster_subnets: String,
    /// Service CIDRs: comma-separated.
    #[arg(long, default_value = ovnflow_k8s_bridge::ipam::DEFAULT_SERVICE_CIDRS)]
    pub service_cidrs: String,
}

/// Flags of `apply` and `delete`.
#[derive(clap::Args, Debug)]
pub struct Live {
    /// The Northbound database: `unix:PATH` or `tcp:HOST:PORT`.
    #[arg(long = "ovnnb-db", env = "OVN_NB_DB")]
    pub nb: String,
    #[command(flatten)]
    pub common: Common,
}

/// The k8s subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Make the NB match the manifests: one transaction, only what differs.
    Apply(Live),
    /// Remove the NB rows of the objects in the manifests.
    Delete(Live),
    /// Print the NB the manifests translate to, as `ovsdb-client transact` params.
    Render(Common),
}

fn load(c: &Common) -> Result<(Objects, Config)> {
    let cfg = Config::parse(&c.cluster_subnets, &c.service_cidrs)?;
    let objs = Objects::read_paths(&c.files, c.recursive)?;
    Ok((objs, cfg))
}

fn report(what: &str, p: &reconcile::Plan) {
    eprintln!(
        "k8s {what}: {} operations ({} inserts, {} updates, {} deletes)",
        p.ops.len(),
        p.inserts,
        p.updates,
        p.deletes
    );
}

/// Runs a k8s subcommand.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Apply(l) => {
            let (objs, cfg) = load(&l.common)?;
            let desired = translate(&objs, &cfg)?;
            let plan = reconcile::apply_live(&l.nb, |db| reconcile::plan(&desired, db))?;
            report("apply", &plan);
        }
        Command::Delete(l) => {
            let objs = Objects::read_paths(&l.common.files, l.common.recursive)?;
            let ids = objs.identities();
            let plan = reconcile::apply_live(&l.nb, |db| reconcile::plan_delete(&ids, db))?;
            report("delete", &plan);
        }
        Command::Render(c) => {
            let (objs, cfg) = load(&c)?;
            let desired = translate(&objs, &cfg)?;
            let plan = reconcile::plan(&desired, &reconcile::empty_nb());
            print!("{}", plan.render());
        }
    }
    Ok(())
}
