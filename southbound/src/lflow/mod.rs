//! Logical flows → OpenFlow flows, as ovn-controller 23.03's
//! `controller/lflow.c` translates them (`consider_logical_flow__`,
//! `add_matches_to_flow_table`):
//!
//! * only local datapaths are considered, once per datapath of the flow's
//!   datapath group; a flow tagged `in_out_port` is skipped unless that
//!   port is related to this chassis;
//! * the logical table becomes OpenFlow table 8 + N (ingress) or 42 + N
//!   (egress);
//! * actions are parsed first (they may add prerequisites to the match),
//!   then the match is parsed with address sets and the datapath's port
//!   groups, annotated, simplified, `is_chassis_resident()` is decided,
//!   normalized and turned into OpenFlow matches;
//! * conjunction ids start at a hash of the flow and datapath UUIDs;
//! * every match gets `metadata=<datapath key>`; on switches, matches on a
//!   non-related `inport` (ingress) / `outport` (egress) are dropped;
//! * cookie = first 32 bits of the logical flow's UUID (0 for the
//!   conjunction clause flows, which are merged per match).
//!
//! [`neighbor`] adds the MAC_Binding / Static_MAC_Binding / FDB flows.

pub mod conj_ids;
pub mod lb_hairpin;
pub mod neighbor;
pub mod port_sec;

use ovsdb::sb::LogicalFlow;
use ovsdb::Uuid;

use crate::actions::{
    self, encode, EncodeContext, ExtendTable, OfAction, OptionTable, OptionType, ParseContext,
    Pipeline, Tables,
};
use crate::chassis::Chassis;
use crate::expr::{self, CompileContext, ConstSets, SymbolTable};
use crate::flow_table::{FlowTable, OfFlow};
use crate::local::{Local, LocalDatapath};
use crate::sbdb::Southbound;
use conj_ids::ConjIds;
use ovsdb::ovs_hash::uuid_hash;

/// `LOG_PIPELINE_LEN`: logical tables per pipeline.
const LOG_PIPELINE_LEN: u8 = 29;
/// `OFTABLE_OUTPUT_INIT`: where ingress `output;` goes.
const OFTABLE_OUTPUT_INIT: u8 = 37;

/// The four 32-bit parts of a UUID (`struct uuid.parts`).
pub fn uuid_parts(u: &Uuid) -> [u32; 4] {
    let b = u.as_bytes();
    let part = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    [part(0), part(4), part(8), part(12)]
}

/// Inputs shared by every logical flow: symbol table, sets and option
/// tables (`struct lflow_ctx_in`).
pub struct LflowInputs {
    symtab: &'static SymbolTable,
    sets: ConstSets,
    dhcp: OptionTable,
    dhcpv6: OptionTable,
    nd_ra: OptionTable,
    events: OptionTable,
}

impl LflowInputs {
    /// Builds the sets and DHCP option tables from the Southbound.  Port
    /// groups keep only the ports local to this chassis
    /// (`port_groups_init` filters them to `local_lports`).
    pub fn new(sb: &Southbound, local: &Local) -> LflowInputs {
        let mut sets = ConstSets::new();
        for a in &sb.address_sets {
            sets.add_address_set(&a.name, &a.addresses);
        }
        for pg in &sb.port_groups {
            let ports: Vec<String> = pg
                .ports
                .iter()
                .filter(|p| local.lports.contains(*p))
                .cloned()
                .collect();
            sets.add_port_group(&pg.name, &ports);
        }
        let mut dhcp = OptionTable::new();
        for o in &sb.dhcp_options {
            if let Some(ty) = OptionType::from_name(&o.type_) {
                dhcp.add(&o.name, o.code as u16, ty);
            }
        }
        let mut dhcpv6 = OptionTable::new();
        for o in &sb.dhcpv6_options {
            if let Some(ty) = OptionType::from_name(&o.type_) {
                dhcpv6.add(&o.name, o.code as u16, ty);
            }
        }
        LflowInputs {
            symtab: ovn_symtab(),
            sets,
            dhcp,
            dhcpv6,
            nd_ra: OptionTable::nd_ra(),
            events: OptionTable::empty_lb_backends(),
        }
    }
}

/// OVN's logical-field symbol table, built once per process (it is
/// constant).
fn ovn_symtab() -> &'static SymbolTable {
    static SYMTAB: std::sync::OnceLock<SymbolTable> = std::sync::OnceLock::new();
    SYMTAB.get_or_init(SymbolTable::ovn)
}

/// Mutable state of a translation run (`struct lflow_ctx_out`).
#[derive(Default)]
pub struct LflowOutputs {
    /// The desired flows.
    pub flows: FlowTable,
    /// OpenFlow groups by id.
    pub groups: ExtendTable,
    /// OpenFlow meters by id.
    pub meters: ExtendTable,
    /// Conjunction ids.
    pub conj_ids: ConjIds,
    /// Logical flows that could not be translated, with the reason.
    pub warnings: Vec<String>,
}

/// Translates every logical flow (`add_logical_flows`).
pub fn add_logical_flows(
    sb: &Southbound,
    local: &Local,
    chassis: &Chassis,
    inputs: &LflowInputs,
    out: &mut LflowOutputs,
) {
    for lflow in sb.logical_flows.values() {
        translate_logical_flow(sb, local, chassis, inputs, lflow, out, None);
    }
}

/// Translates one logical flow on each of its local datapaths
/// (`consider_logical_flow`).
///
/// With `sink`, the flows of each datapath of a datapath group are given
/// to it ([`FlowTable::emit_new`]) as soon as that datapath is done, not
/// when the whole group is: a streamed first install keeps the switch
/// busy meanwhile (issue 9: one ACL over a 1,000-address set on a group
/// of four switches is ~2.4 ms of compute before its first flow
/// otherwise).  Another datapath's flows match another `metadata`, so
/// none of them merges into a flow given out already.
#[allow(clippy::too_many_arguments)]
pub fn translate_logical_flow(
    sb: &Southbound,
    local: &Local,
    chassis: &Chassis,
    inputs: &LflowInputs,
    lflow: &LogicalFlow,
    out: &mut LflowOutputs,
    mut sink: Option<&mut dyn FnMut(&OfFlow)>,
) {
    let mut shared = Shared::default();
    let mut on = |dp: &Uuid, out: &mut LflowOutputs| {
        if let Some(ldp) = sb
            .datapath(dp)
            .and_then(|d| local.datapaths.get(&d.tunnel_key))
        {
            consider_logical_flow(sb, local, chassis, inputs, lflow, ldp, &mut shared, out);
        }
    };
    match (lflow.logical_datapath, lflow.logical_dp_group) {
        (Some(dp), _) => on(&dp, out),
        (None, Some(g)) => {
            if let Some(g) = sb.dp_groups.get(&g) {
                for dp in &g.datapaths {
                    on(dp, out);
                    if let Some(sink) = sink.as_deref_mut() {
                        out.flows.emit_new(sink);
                    }
                }
            }
        }
        (None, None) => {}
    }
}

/// What the datapaths of one logical flow share: its actions, parsed once,
/// and its normalized match unless that depends on the datapath (names a
/// port group); see [`expr::normalized`].
#[derive(Default)]
struct Shared {
    actions: Option<Result<actions::Actions, String>>,
    normalized: Option<expr::Expr>,
}

/// `consider_logical_flow__` for one datapath.
#[allow(clippy::too_many_arguments)]
fn consider_logical_flow(
    sb: &Southbound,
    local: &Local,
    chassis: &Chassis,
    inputs: &LflowInputs,
    lflow: &LogicalFlow,
    ldp: &LocalDatapath,
    shared: &mut Shared,
    out: &mut LflowOutputs,
) {
    if let Some(io_port) = lflow.tags.get("in_out_port") {
        match sb.port(io_port) {
            Some(pb) if local.is_related(ldp.key, pb.tunnel_key) => {}
            _ => return,
        }
    }
    let ingress = lflow.pipeline == "ingress";
    let pipeline = if ingress {
        Pipeline::Ingress
    } else {
        Pipeline::Egress
    };
    let tables = Tables::default();
    let first = if ingress {
        tables.ingress
    } else {
        tables.egress
    };
    let Some(ptable) = u8::try_from(lflow.table_id)
        .ok()
        .filter(|t| *t < LOG_PIPELINE_LEN)
        .map(|t| first + t)
    else {
        out.warnings.push(format!(
            "Logical_Flow {}: table_id {} out of range",
            lflow.uuid, lflow.table_id
        ));
        return;
    };
    let parsed = shared.actions.get_or_insert_with(|| {
        let pctx = ParseContext {
            symtab: inputs.symtab,
            dhcp_opts: Some(&inputs.dhcp),
            dhcpv6_opts: Some(&inputs.dhcpv6),
            nd_ra_opts: Some(&inputs.nd_ra),
            event_opts: Some(&inputs.events),
            pipeline,
            n_tables: LOG_PIPELINE_LEN,
            cur_ltable: ptable - first,
        };
        actions::parse(&lflow.actions, &pctx).map_err(|e| {
            format!(
                "Logical_Flow {}: error parsing actions {:?}: {e}",
                lflow.uuid, lflow.actions
            )
        })
    });
    let acts = match parsed {
        Ok(a) => &*a,
        Err(w) => {
            out.warnings.push(w.clone());
            return;
        }
    };
    let dp_uuid = ldp.uuid;
    let lookup_port = |name: &str| -> Option<u32> {
        if name == "none" {
            return Some(0);
        }
        if let Some(pb) = sb.port(name).filter(|pb| pb.datapath == dp_uuid) {
            return Some(pb.tunnel_key as u32);
        }
        sb.mc_group(&dp_uuid, name).map(|mc| mc.tunnel_key as u32)
    };
    let resident = |name: &str| local.is_resident(sb, name);
    let cctx = CompileContext {
        symtab: inputs.symtab,
        sets: Some(&inputs.sets),
        dp_id: ldp.key,
        lookup_port: &lookup_port,
        is_chassis_resident: &resident,
    };
    let mut matches = match &shared.normalized {
        Some(e) => expr::to_matches(e, &lookup_port),
        None => match expr::normalized(&lflow.match_, acts.prereqs.clone(), &cctx) {
            Ok((e, per_datapath)) => {
                let m = expr::to_matches(&e, &lookup_port);
                if !per_datapath {
                    shared.normalized = Some(e);
                }
                m
            }
            Err(e) => {
                out.warnings.push(format!(
                    "Logical_Flow {}: error parsing match {:?}: {e}",
                    lflow.uuid, lflow.match_
                ));
                return;
            }
        },
    };
    if matches.is_empty() {
        return;
    }
    if matches.n_conjs > 0 {
        let Some(start) = out.conj_ids.alloc(&lflow.uuid, &dp_uuid, matches.n_conjs) else {
            out.warnings.push(format!(
                "Logical_Flow {}: conjunction ids exhausted",
                lflow.uuid
            ));
            return;
        };
        matches.offset_conj_ids(start - 1);
    }

    let ctrl_meter_id = match &lflow.controller_meter {
        Some(name) => out
            .meters
            .assign_id(name)
            .unwrap_or(actions::ofpact::NO_METER),
        None => actions::ofpact::NO_METER,
    };
    let tunnel_ofport = |_: &str| -> Option<u32> { None };
    let common_nat_ct_zone = if sb
        .datapath(&dp_uuid)
        .is_some_and(|d| d.external_ids.contains_key("snat-ct-zone"))
    {
        actions::encode::LOG_SNAT_ZONE
    } else {
        actions::encode::LOG_DNAT_ZONE
    };
    let collector_ids: Vec<u32> = Vec::new();
    let mut ectx = EncodeContext {
        lookup_port: &lookup_port,
        tunnel_ofport: &tunnel_ofport,
        is_switch: ldp.is_switch,
        pipeline,
        tables: Tables {
            output: if ingress {
                OFTABLE_OUTPUT_INIT
            } else {
                tables.output
            },
            ..tables
        },
        common_nat_ct_zone,
        lflow_uuid: uuid_parts(&lflow.uuid),
        dp_key: ldp.key as u32,
        ctrl_meter_id,
        collector_ids: &collector_ids,
        features: chassis.features,
        groups: &mut out.groups,
        meters: &mut out.meters,
    };
    let ofpacts = encode(&acts.actions, &mut ectx);

    let cookie = u64::from(uuid_hash(&lflow.uuid));
    for m in matches.matches {
        let mut of_match = m.of_match;
        of_match.set_metadata(ldp.key as u64);
        if ldp.is_switch {
            let reg = if ingress { 14 } else { 15 };
            if let Some((port, _)) = of_match.get(expr::Slot::Reg(reg)) {
                if port != 0 && !local.is_related(ldp.key, port as i64) {
                    continue;
                }
            }
        }
        let priority = lflow.priority as u16;
        if m.conjunctions.is_empty() {
            out.flows.add(OfFlow {
                table: ptable,
                priority,
                cookie,
                of_match,
                actions: ofpacts.clone(),
            });
        } else {
            let actions = m
                .conjunctions
                .iter()
                .map(|c| OfAction::Conjunction {
                    id: c.id,
                    clause: c.clause,
                    n_clauses: c.n_clauses,
                })
                .collect();
            out.flows.add_or_append(OfFlow {
                table: ptable,
                priority,
                cookie: 0,
                of_match,
                actions,
            });
        }
    }
}
