//! The floor under the bench's figures on this machine: what a controller
//! that took no time of its own would still wait for, measured in the same
//! run as the two controllers.
//!
//! * Start-up: the Southbound server's answer to the controller's monitor
//!   (connection, request, reply read into a replica: what the daemon
//!   waits for before it can compute), then ovs-vswitchd taking the whole
//!   table, computed beforehand, streamed into the emptied switch exactly
//!   as the daemon streams it (the same installer: the main connection and
//!   the helpers, each with its bundle).
//! * The ACL change: ovs-vswitchd taking that change's flow mods, computed
//!   beforehand and sent as the daemon sends them
//!   ([`Installer::sync_changes`]).  The Southbound server's commit and
//!   its update to the controller come on top, for every controller.
//!
//! ovn-controller's times include the same work, so no controller can be
//! faster than this floor, and the floor over ovn-controller's time is the
//! best ratio any controller could show in that run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use ovnflow_southbound::controller::monitor;
use ovnflow_southbound::controller::ovs::{BridgePorts, OvsView};
use ovnflow_southbound::incremental::{ChassisCompute, SbChange};
use ovnflow_southbound::openflow::installer::{uses_group_or_meter, Changes, Desired, Installer};
use ovnflow_southbound::sbdb::Southbound;
use ovsdb::client::{Options, ReplicaSession, Selection};
use ovsdb::remote::Remote;

/// The floor of one run.
pub struct Floor {
    /// Connection, monitor request and reply read, to the Southbound.
    pub sb: Duration,
    /// From the bundles' opening to the last commit's reply, for `flows`.
    pub install: Duration,
    pub flows: usize,
    /// The ACL change's flow mods, sent to the last commit's reply.
    pub acl: Duration,
    pub acl_flows: usize,
}

/// A replica of `db` at `remote` as the controller monitors it.
async fn replica(remote: &str, db: &str, selection: Selection) -> Result<ReplicaSession, String> {
    let remotes = Remote::parse_list(remote).map_err(|e| format!("{remote}: {e}"))?;
    let mut s = ReplicaSession::connect_selected(remotes, db, selection, false, Options::default())
        .await
        .map_err(|e| format!("{db}: {e}"))?;
    s.next().await.map_err(|e| format!("{db}: {e}"))?;
    Ok(s)
}

/// Measures the floor on the chassis `system_id` whose integration bridge
/// `bridge` has its management socket at `mgmt`.  The switch must hold no
/// flow (as at each controller's start in the bench); it holds the
/// chassis's table (without the flows that use groups or meters, and with
/// one ACL more) afterwards.
pub async fn measure(
    ovs_db: &str,
    sb_db: &str,
    mgmt: &Path,
    bridge: &str,
    system_id: &str,
) -> Result<Floor, String> {
    // The chassis as the daemon reads it.
    let ovs = replica(ovs_db, "Open_vSwitch", monitor::open_vswitch()).await?;
    let view = OvsView::from_database(ovs.replica().database()).map_err(|e| e.to_string())?;
    let chassis = BridgePorts::read(&view, bridge).chassis(system_id);
    // Connected (helpers too) before the clock starts, as the daemon
    // connects while it waits for the Southbound.
    let mut installer = Installer::new(mgmt);
    if !installer.connect_once().await {
        return Err(format!("{}: no connection", mgmt.display()));
    }

    let t = Instant::now();
    let sb = replica(sb_db, "OVN_Southbound", monitor::southbound()).await?;
    let sb_time = t.elapsed();
    let view = Southbound::from_database(sb.replica().database()).map_err(|e| e.to_string())?;

    let mut compute = ChassisCompute::with_kept_zones(view.clone(), chassis);
    let desired = Desired {
        flows: compute
            .installed_shared()
            .filter(|f| !uses_group_or_meter(&f.actions))
            .cloned()
            .collect(),
        groups: BTreeMap::new(),
        meters: BTreeMap::new(),
    };
    let t = Instant::now();
    let mut stream = installer.begin_full().await.map_err(|e| e.to_string())?;
    for f in &desired.flows {
        stream.flow(&mut installer, f);
    }
    installer
        .finish_full(stream, &desired, Vec::new())
        .await
        .map_err(|e| e.to_string())?;
    let install = t.elapsed();

    // The bench's ACL change (a logical flow on sw0 using `$as_big`),
    // computed, then sent.
    let sw0 = view
        .datapaths
        .values()
        .find(|dp| dp.external_ids.get("name").map(String::as_str) == Some("sw0"))
        .ok_or("no datapath sw0")?
        .uuid;
    let mut lf = view
        .logical_flows
        .values()
        .find(|lf| lf.match_.contains("$as_big"))
        .ok_or("no logical flow using $as_big")?
        .clone();
    lf.uuid = ovsdb::Uuid::new_v4();
    lf.logical_datapath = Some(sw0);
    lf.logical_dp_group = None;
    lf.priority = 2999;
    lf.match_ = "outport == @pg_all && ip4.src == $as_big && tcp.dst == 999".into();
    lf.actions = "next;".into();
    let delta = compute.apply(vec![SbChange::LogicalFlow(lf.uuid, Some(lf))], Vec::new());
    let changes = Changes {
        added: delta.added,
        removed: delta.removed,
    };
    let t = Instant::now();
    installer
        .sync_changes(&desired, &changes)
        .await
        .map_err(|e| e.to_string())?;
    let acl = t.elapsed();
    Ok(Floor {
        sb: sb_time,
        install,
        flows: desired.flows.len(),
        acl,
        acl_flows: changes.added.len() + changes.removed.len(),
    })
}
