//! Rendering of `rules::lb`: which load balancers apply to which switches
//! (`build_lbs()`: directly and through load balancer groups), the switches
//! with VIPs (`ls_has_lb_vip()`), each load balancer's flows on its switches,
//! and the SB `Load_Balancer` rows (`sync_lbs()`).

use ovsdb::Uuid;

use super::lb_health::HealthInfo;
use crate::dataflow::{Coll, Named, NamedSet, Rec};
use crate::ids;
use crate::nb::{LoadBalancer, NbRecord, Switch};
use crate::rules::lb::{health, switch::lb_flows, vip::ParsedLb};
use crate::rules::Lflow;
use crate::sb::{self, SbRecord};

/// What load balancers contribute to the rest of the dataflow.
pub(super) struct LbOutputs<'s> {
    /// Switches (NB UUID) with a load balancer that has a VIP; distinct.
    pub has_lb_vip: Coll<'s, Uuid>,
    /// The load balancers' flows, one per (flow, switch).
    pub flows: Coll<'s, Lflow>,
    /// SB `Load_Balancer` rows.
    pub rows: Coll<'s, SbRecord>,
    /// The datapath sets (SB UUIDs, sorted) the rows' groups hold.
    pub groups: Coll<'s, Vec<Uuid>>,
}

/// Load balancers on switches. `bound` are the switches holding a tunnel
/// key (those with a `Datapath_Binding`).
pub(super) fn render_lbs<'s>(
    nb: Coll<'s, NbRecord>,
    switches: Coll<'s, (Uuid, Switch)>,
    bound: Coll<'s, Uuid>,
    health_info: Coll<'s, (Uuid, HealthInfo)>,
) -> LbOutputs<'s> {
    let lbs: Coll<'s, (Uuid, LoadBalancer)> = nb.clone().flat_map(|r| match r {
        NbRecord::LoadBalancer(lb) => Some((lb.uuid, lb)),
        _ => None,
    });
    let direct: Coll<'s, (Uuid, Uuid)> = nb.clone().flat_map(|r| match r {
        NbRecord::SwitchLb(l) => Some((l.target, l.owner)),
        _ => None,
    });
    let switch_groups: Coll<'s, (Uuid, Uuid)> = nb.clone().flat_map(|r| match r {
        NbRecord::SwitchLbGroup(l) => Some((l.target, l.owner)),
        _ => None,
    });
    let group_lbs: Coll<'s, (Uuid, Uuid)> = nb.flat_map(|r| match r {
        NbRecord::LbGroupLb(l) => Some((l.owner, l.target)),
        _ => None,
    });
    // (lb, ls): the load balancer applies to the switch.
    let via_groups = switch_groups
        .join_named("lb: switch groups x group members", group_lbs)
        .map(|(_, (ls, lb))| (lb, ls));
    let lb_ls = direct
        .concat(via_groups)
        .map(|(lb, ls)| (ls, lb))
        .semijoin_named("lb: on existing switches", switches.map(|(u, _)| u))
        .map(|(ls, lb)| (lb, ls))
        .distinct_named("lb: load balancer x switch");
    let with_lb = lb_ls.join_named("lb: applied x row", lbs);

    let has_lb_vip = with_lb
        .clone()
        .flat_map(|(_, (ls, lb))| (!lb.vips.is_empty()).then_some(ls))
        .distinct_named("lb: switches with VIPs");

    let parsed = parse_with_health(
        with_lb
            .clone()
            .map(|(lb_uuid, (ls, lb))| (lb_uuid, (ls, lb))),
        health_info,
    );
    let flows = parsed.flat_map(|(ls, lb)| lb_flows(&lb, ls));

    // SB rows: one per load balancer applied to a switch with a datapath,
    // its switches as a datapath group.
    let rows_and_groups = with_lb
        .map(|(lb_uuid, (ls, lb))| (ls, (lb_uuid, lb)))
        .semijoin_named("lb rows: switches with keys", bound)
        .map(|(ls, (lb_uuid, lb))| ((lb_uuid, lb), ids::datapath_uuid(ls)))
        .group_named("lb rows: datapaths", |_, vals, out| {
            let dps: Vec<Uuid> = vals.iter().map(|(dp, _)| **dp).collect();
            out.push((dps, 1));
        });
    let groups = rows_and_groups.clone().map(|(_, dps)| dps);
    let rows = rows_and_groups.map(|((_, lb), dps)| SbRecord::LoadBalancer(sb_row(&lb, &dps)));
    LbOutputs {
        has_lb_vip,
        flows,
        rows,
        groups,
    }
}

/// `(key, parsed)` for each `(lb, (key, row))`, with the load balancer's
/// health checks attached and its monitored backends marked where it has
/// any: `build_lb_vip_actions()` balances a health-checked VIP to its
/// monitored backends only, on switches and routers alike.
pub(super) fn parse_with_health<'s, K>(
    applied: Coll<'s, (Uuid, (K, LoadBalancer))>,
    health_info: Coll<'s, (Uuid, HealthInfo)>,
) -> Coll<'s, (K, ParsedLb)>
where
    K: Rec,
    (K, LoadBalancer): Rec,
    ((K, LoadBalancer), HealthInfo): Rec,
{
    let checked = applied
        .clone()
        .join_named("lb: applied x health checks", health_info.clone())
        .map(|(_, ((key, lb), (hcs, monitored)))| {
            let mut p = ParsedLb::new(&lb);
            health::attach_health_checks(&mut p, lb.protocol.as_deref(), &hcs);
            health::mark_monitored(&mut p, &monitored);
            (key, p)
        });
    let unchecked = applied
        .antijoin_named(
            "lb: applied without health checks",
            health_info.map(|(lb, _)| lb),
        )
        .map(|(_, (key, lb))| (key, ParsedLb::new(&lb)));
    checked.concat(unchecked)
}

/// The SB `Load_Balancer` row of `lb` on datapaths `dps` (sorted SB UUIDs).
fn sb_row(lb: &LoadBalancer, dps: &[Uuid]) -> sb::LoadBalancer {
    let mut options = lb.options.clone();
    options.retain(|(k, _)| k != "hairpin_orig_tuple");
    options.push(("hairpin_orig_tuple".to_string(), "true".to_string()));
    options.sort();
    sb::LoadBalancer {
        uuid: ids::derive("Load_Balancer", &[lb.uuid.as_bytes()]),
        name: lb.name.clone(),
        vips: lb.vips.clone(),
        protocol: lb.protocol.clone(),
        datapath_group: ids::dp_group_uuid(dps),
        options,
        external_ids: vec![("lb_id".to_string(), lb.uuid.to_string())],
    }
}
