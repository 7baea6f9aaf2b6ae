//! `ovnflow flows SB --chassis NAME [--ports NAME=OFPORT,...]`: the
//! OpenFlow table ovn-controller 23.03 would install on one chassis,
//! printed as `ovs-ofctl dump-flows --no-stats` lines.
//!
//! Lines are sorted by table, then priority (highest first), then text.
//! Group and meter ids are allocated lowest-free in logical-flow UUID order
//! (ovn-controller allocates them in hash order), so compare them after
//! normalizing.

use std::io::Write;

use anyhow::{Context, Result};
use ovnflow_southbound::chassis::Chassis;
use ovnflow_southbound::sbdb::Southbound;

/// Flags of `ovnflow flows`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The SB database: an OVSDB `.db` file or a `unix:PATH` / `tcp:HOST:PORT`
    /// remote.
    pub sb: String,
    /// The chassis name (`external_ids:system-id`, SB `Chassis.name`).
    #[arg(long)]
    pub chassis: String,
    /// Local interfaces bound to logical ports: `NAME=OFPORT,...`.
    #[arg(long, default_value = "")]
    pub ports: String,
    /// Patch ports of localnet/l2gateway ports: `NAME=OFPORT,...`.
    #[arg(long, default_value = "")]
    pub patch_ports: String,
    /// Conntrack zones as `USER=ZONE,...` (the `ct-zone-USER` keys of
    /// `Bridge.external_ids`); allocated from 1 in name order if absent.
    #[arg(long)]
    pub zones: Option<String>,
    /// Tunnel ports to other chassis: `CHASSIS=OFPORT[:geneve|stt|vxlan],...`.
    #[arg(long, default_value = "")]
    pub tunnels: String,
    /// Also print the groups (`group_id=N,...`) after the flows.
    #[arg(long)]
    pub groups: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let db = read_sb(&args.sb)?;
    let sb = Southbound::from_database(&db).with_context(|| args.sb.clone())?;
    let mut chassis = Chassis::new(&args.chassis);
    chassis.vifs = Chassis::parse_ports(&args.ports).context("--ports")?;
    chassis.patch_ofports = Chassis::parse_ports(&args.patch_ports).context("--patch-ports")?;
    chassis.tunnels = Chassis::parse_tunnels(&args.tunnels).context("--tunnels")?;
    if let Some(z) = &args.zones {
        let pairs: Vec<(String, String)> = z
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|p| {
                p.split_once('=')
                    .map(|(k, v)| (format!("ct-zone-{k}"), v.to_string()))
                    .with_context(|| format!("--zones: {p:?} is not USER=ZONE"))
            })
            .collect::<Result<_>>()?;
        chassis.ct_zones = Some(
            Chassis::parse_ct_zones(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .context("--zones")?,
        );
    }
    let result = ovnflow_southbound::openflow(&sb, &chassis);
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    for line in result.flows.dump() {
        writeln!(out, "{line}")?;
    }
    if args.groups {
        for (id, text) in result.groups.iter() {
            writeln!(out, "group_id={id},{text}")?;
        }
    }
    Ok(())
}

/// Reads the SB: a live remote through a monitor, or a database file.
fn read_sb(source: &str) -> Result<ovsdb::Database> {
    if source.starts_with("unix:") || source.starts_with("tcp:") || source.starts_with("ssl:") {
        let remotes = ovsdb::remote::Remote::parse_list(source)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return rt.block_on(async {
            let opts = ovsdb::client::Options::default();
            let mut session =
                ovsdb::client::ReplicaSession::connect(remotes, "OVN_Southbound", &[], false, opts)
                    .await
                    .with_context(|| format!("{source}: cannot read the Southbound database"))?;
            session
                .next()
                .await
                .with_context(|| format!("{source}: monitor failed"))?;
            Ok(session.replica().database().clone())
        });
    }
    let file = ovsdb::file::read_db_file(std::path::Path::new(source))
        .with_context(|| format!("{source}: cannot read"))?;
    for w in &file.warnings {
        eprintln!("warning: {w}");
    }
    Ok(file.database)
}
