//! Southbound: OVN logical flows to OpenFlow, as ovn-controller 23.03 does.
//!
//! [`expr`] implements OVN's match-expression language: lexing, parsing,
//! annotation with the logical-field symbol table, simplification,
//! normalization and conversion to OpenFlow matches.  [`actions`]
//! implements OVN's logical actions: parsing, formatting and encoding to
//! OpenFlow actions.
//!
//! [`openflow`] computes the OpenFlow table of one chassis from a
//! Southbound database ([`sbdb::Southbound`]) and the chassis's local
//! configuration ([`chassis::Chassis`]): what is local ([`local`]), the
//! logical flows ([`lflow`]) and the physical flows ([`physical`]), kept
//! as ovn-controller's desired flow table ([`flow_table`]).
//!
//! [`controller`] is the ovn-controller daemon itself: chassis
//! registration, port bindings, `nb_cfg`, and installing the table.
#![warn(missing_docs)]

pub mod actions;
pub mod addresses;
pub mod chassis;
pub mod controller;
pub mod expr;
pub mod flow_table;
pub mod incremental;
pub mod lflow;
pub mod local;
pub mod openflow;
pub mod physical;
pub mod sbdb;

use flow_table::FlowTable;

/// Errors of OpenFlow generation: bad input, naming table/row/column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The Southbound or chassis input is unusable.
    #[error("{0}")]
    Input(String),
}

/// The OpenFlow state of one chassis.
#[derive(Debug, Default)]
pub struct ChassisFlows {
    /// The flows.
    pub flows: FlowTable,
    /// Groups by id (`group_id=N,type=select,...` texts).
    pub groups: actions::ExtendTable,
    /// Meters by id.
    pub meters: actions::ExtendTable,
    /// Logical flows that could not be translated, with the reason (as
    /// ovn-controller logs them and goes on).
    pub warnings: Vec<String>,
    /// The local view the flows were computed from.
    pub local: local::Local,
}

/// Computes the OpenFlow table of `chassis` (ovn-controller's
/// `lflow_run` + `physical_run`).
pub fn openflow(sb: &sbdb::Southbound, chassis: &chassis::Chassis) -> ChassisFlows {
    let local = local::Local::compute(sb, chassis);
    let inputs = lflow::LflowInputs::new(sb, &local);
    let mut out = lflow::LflowOutputs::default();
    lflow::add_logical_flows(sb, &local, chassis, &inputs, &mut out);
    lflow::neighbor::add_neighbor_flows(sb, &local, &mut out.flows);
    for pb in sb.port_bindings.values() {
        physical::ports::consider_port_binding(sb, &local, chassis, pb, &mut out.flows);
    }
    for mc in sb.mc_groups.values() {
        physical::mcast::consider_mc_group(sb, &local, chassis, mc, &mut out.flows);
    }
    for pb in sb.port_bindings.values() {
        if local.bound.contains_key(&pb.logical_port) {
            if let Some(dp) = sb.datapath(&pb.datapath) {
                lflow::port_sec::consider_port_sec_flows(dp.tunnel_key, pb, &mut out.flows);
            }
        }
    }
    for lb in &sb.load_balancers {
        if lflow::lb_hairpin::lb_is_local(sb, &local, lb) {
            if let Some(w) =
                lflow::lb_hairpin::consider_lb_hairpin_flows(sb, &local, lb, &mut out.flows)
            {
                out.warnings.push(w);
            }
        }
    }
    physical::tunnels::add_tunnel_receive_flows(chassis, &mut out.flows);
    physical::defaults::add_default_flows(&mut out.flows);
    ChassisFlows {
        flows: out.flows,
        groups: out.groups,
        meters: out.meters,
        warnings: out.warnings,
        local,
    }
}
