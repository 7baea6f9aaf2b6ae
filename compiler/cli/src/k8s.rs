//! `ovnflow k8s apply|delete|render|run`: Kubernetes manifests to OVN NB, with
//! ovn-kubernetes' layout; `ovnflow cni`, the CNI plugin; `ovnflow node`,
//! provider-network wiring of a node (glue over the `ovnflow-k8s-bridge`
//! crate).

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
    /// Run as a controller: watch the cluster, keep the NB in step (one
    /// transaction per change batch), write pod annotations and Nodus status.
    Run(RunArgs),
}

/// Flags of `k8s run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The Northbound database: `unix:PATH` or `tcp:HOST:PORT` (comma-separated for a cluster).
    #[arg(long = "ovnnb-db", env = "OVN_NB_DB")]
    pub nb: String,
    /// A kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Cluster subnets: comma-separated CIDR/HOSTPREFIX.
    #[arg(long, default_value = ovnflow_k8s_bridge::ipam::DEFAULT_CLUSTER_SUBNETS)]
    pub cluster_subnets: String,
    /// Service CIDRs: comma-separated.
    #[arg(long, default_value = ovnflow_k8s_bridge::ipam::DEFAULT_SERVICE_CIDRS)]
    pub service_cidrs: String,
    /// Write without leader election (only for a single replica).
    #[arg(long)]
    pub no_leader_elect: bool,
    /// Namespace of the leader election Lease.
    #[arg(long, default_value = "ovn-kubernetes", env = "POD_NAMESPACE")]
    pub lease_namespace: String,
    /// Name of the leader election Lease.
    #[arg(long, default_value = "ovnflow-master")]
    pub lease_name: String,
    /// This replica's identity (default: the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Seconds between full re-reconciliations of the NB.
    #[arg(long, default_value_t = 300)]
    pub resync: u64,
    /// Do not write annotations, statuses or events to the API server.
    #[arg(long)]
    pub no_write_back: bool,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "ovnflow".into())
}

fn run_controller(a: RunArgs) -> Result<()> {
    use ovnflow_k8s_bridge::run;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let cfg = Config::parse(&a.cluster_subnets, &a.service_cidrs)?;
    let identity = a.identity.clone().unwrap_or_else(hostname);
    let opts = run::Options {
        nb: a.nb.clone(),
        cfg,
        lease: (!a.no_leader_elect)
            .then(|| run::lease::LeaseOptions::new(&a.lease_namespace, &a.lease_name, &identity)),
        resync: std::time::Duration::from_secs(a.resync.max(1)),
        identity,
        write_back: !a.no_write_back,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = run::client(a.kubeconfig.as_deref()).await?;
        let stats = run::SharedStats::default();
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        run::run(client, opts, stats, shutdown).await?;
        Ok(())
    })
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
            for s in &desired.status {
                eprintln!("k8s apply: {s}");
            }
        }
        Command::Delete(l) => {
            let objs = Objects::read_paths(&l.common.files, l.common.recursive)?;
            let ids = objs.identities();
            let plan = reconcile::apply_live(&l.nb, |db| reconcile::plan_delete(&ids, db))?;
            report("delete", &plan);
        }
        Command::Run(a) => run_controller(a)?,
        Command::Render(c) => {
            let (objs, cfg) = load(&c)?;
            let desired = translate(&objs, &cfg)?;
            let plan = reconcile::plan(&desired, &reconcile::empty_nb());
            print!("{}", plan.render());
            for s in &desired.status {
                eprintln!("k8s render: {s}");
            }
        }
    }
    Ok(())
}

/// Flags of `ovnflow node`.
#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// Manifest files or directories with the Node and the ProviderNetworks.
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Read directories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// This node's name (its labels pick the provider networks).
    #[arg(long)]
    pub node: String,
    /// The Open_vSwitch database.
    #[arg(long, default_value = "unix:/var/run/openvswitch/db.sock")]
    pub ovs_db: String,
    /// datapath_type of the bridges created (e.g. `netdev`).
    #[arg(long)]
    pub datapath_type: Option<String>,
    /// Do not wait for ovs-vswitchd to apply the change.
    #[arg(long)]
    pub no_wait: bool,
}

/// Runs `ovnflow node`.
pub fn run_node(a: NodeArgs) -> Result<()> {
    let objs = Objects::read_paths(&a.files, a.recursive)?;
    let bridges = ovnflow_k8s_bridge::node::apply(
        &objs,
        &a.node,
        &a.ovs_db,
        a.datapath_type.as_deref(),
        a.no_wait,
    )?;
    for b in &bridges {
        eprintln!(
            "node {}: bridge {} with {} for {}",
            a.node,
            b.name,
            b.nic,
            b.networks.join(", ")
        );
    }
    if bridges.is_empty() {
        eprintln!("node {}: no provider network selects this node", a.node);
    }
    Ok(())
}

/// Runs the CNI plugin on this process' environment and stdin; returns
/// the exit code. Output goes to stdout as the CNI spec says.
pub fn run_cni() -> std::process::ExitCode {
    use ovnflow_k8s_bridge::cni;
    let env = cni::Env::read(|k| std::env::var(k).ok());
    let mut stdin = String::new();
    if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut stdin) {
        let err = cni::CniError {
            code: 5,
            msg: "cannot read stdin".into(),
            details: e.to_string(),
        };
        println!("{}", err.to_json("1.0.0"));
        return std::process::ExitCode::FAILURE;
    }
    let version = serde_json::from_str::<serde_json::Value>(&stdin)
        .ok()
        .and_then(|v| v.get("cniVersion")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "1.0.0".into());
    match cni::run_command(&env, &stdin) {
        Ok(Some(v)) => {
            println!("{v}");
            std::process::ExitCode::SUCCESS
        }
        Ok(None) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            println!("{}", e.to_json(&version));
            std::process::ExitCode::FAILURE
        }
    }
}
