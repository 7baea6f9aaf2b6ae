//! Rendering of `rules::lb`: which load balancers apply to which switches
//! (`build_lbs()`: directly and through load balancer groups), the switches
//! with VIPs (`ls_has_lb_vip()`), each load balancer's flows on its switches,
//! and the SB `Load_Balancer` rows (`sync_lbs()`).

use ovsdb::Uuid;

use super::dp_group::SetName;
use super::lb_health::HealthInfo;
use super::lflow::{union_dps, Dps};
use super::NbIn;
use crate::dataflow::{arrange_shared, split_by, Coll, Named, NamedSet, Ops, Rec};
use crate::ids;
use crate::nb::{LoadBalancer, NbKind, NbRecord, Switch};
use crate::rules::copp::Copp;
use crate::rules::lb::{health, switch, switch::lb_flows, template, vip::ParsedLb};
use crate::rules::Lflow;
use crate::sb::{self, SbRecord};

/// What load balancers contribute to the rest of the dataflow.
pub(super) struct LbOutputs<'s> {
    /// Switches (NB UUID) with a load balancer that has a VIP; distinct.
    pub has_lb_vip: Coll<'s, Uuid>,
    /// The load balancers' flows, each once, on the named set of the
    /// switches with keys it applies to.
    pub flows: Coll<'s, (SetName, Lflow)>,
    /// The flows that take a switch's CoPP meter, one per switch.
    pub metered: Coll<'s, (Dps, Lflow)>,
    /// SB `Load_Balancer` rows, with the set their `datapath_group` holds
    /// (the field itself is filled in with the set's group row).
    pub rows: Coll<'s, (SetName, sb::LoadBalancer)>,
    /// The members of the sets named (SB datapath UUIDs, sorted).
    pub sets: Coll<'s, (SetName, Dps)>,
}

/// Load balancers on switches. `bound` are the switches holding a tunnel
/// key (those with a `Datapath_Binding`).
///
/// As northd (`build_lswitch_flows_for_lb()` over `lb->nb_ls_map`), each
/// load balancer's flows are built once and carry the set of its switches;
/// only `(load balancer, switch)` UUID pairs fan out per switch.
pub(super) fn render_lbs<'s>(
    nb: NbIn<'s>,
    switches: Coll<'s, (Uuid, Switch)>,
    bound: Coll<'s, Uuid>,
    health_info: Coll<'s, (Uuid, HealthInfo)>,
    copps: Coll<'s, (Uuid, Copp)>,
) -> LbOutputs<'s> {
    let lbs: Coll<'s, (Uuid, LoadBalancer)> =
        nb.of(NbKind::LoadBalancer).flat_map_rec(|r| match r {
            NbRecord::LoadBalancer(lb) => Some((lb.uuid, lb)),
            _ => None,
        });
    let direct: Coll<'s, (Uuid, Uuid)> = nb.of(NbKind::SwitchLb).flat_map_rec(|r| match r {
        NbRecord::SwitchLb(l) => Some((l.target, l.owner)),
        _ => None,
    });
    let switch_groups: Coll<'s, (Uuid, Uuid)> =
        nb.of(NbKind::SwitchLbGroup).flat_map_rec(|r| match r {
            NbRecord::SwitchLbGroup(l) => Some((l.target, l.owner)),
            _ => None,
        });
    let group_lbs: Coll<'s, (Uuid, Uuid)> = nb.of(NbKind::LbGroupLb).flat_map_rec(|r| match r {
        NbRecord::LbGroupLb(l) => Some((l.owner, l.target)),
        _ => None,
    });
    // Groups and load balancers named by existing switches: `(ls, x)`.
    let switch_uuids = switches.map_rec(|(u, _)| u);
    let switch_groups = switch_groups
        .map_rec(|(g, ls)| (ls, g))
        .semijoin_named("lb: groups of existing switches", switch_uuids.clone());
    let direct = direct
        .map_rec(|(lb, ls)| (ls, lb))
        .semijoin_named("lb: direct on existing switches", switch_uuids);

    // Switches with a load balancer that has VIPs, directly or in one of
    // their groups: decided per group, not per (load balancer, switch).
    let with_vips = lbs
        .clone()
        .flat_map_rec(|(u, lb)| (!lb.vips.is_empty()).then_some(u));
    let groups_with_vip = group_lbs
        .clone()
        .map_rec(|(g, lb)| (lb, g))
        .semijoin_named("lb: group members with VIPs", with_vips.clone())
        .map_rec(|(_, g)| g)
        .distinct_named("lb: groups with VIPs");
    let has_lb_vip = switch_groups
        .clone()
        .map_rec(|(ls, g)| (g, ls))
        .semijoin_named("lb: switch groups with VIPs", groups_with_vip)
        .map_rec(|(_, ls)| ls)
        .concat(
            direct
                .clone()
                .map_rec(|(ls, lb)| (lb, ls))
                .semijoin_named("lb: direct with VIPs", with_vips)
                .map_rec(|(_, ls)| ls),
        )
        .distinct_named("lb: switches with VIPs");

    // Each group's switches that have datapaths (northd's `nb_ls_map` of
    // its load balancers), collected once per group.
    let group_dps: Coll<'s, (Uuid, Dps)> = switch_groups
        .semijoin_named("lb: groups on switches with keys", bound.clone())
        .map_rec(|(ls, g)| (g, ids::datapath_uuid(ls)))
        .group_named("lb: group datapaths", |_, vals, out| {
            let dps: Vec<Uuid> = vals.iter().map(|(dp, _)| **dp).collect();
            out.push((Dps::from(dps), 1));
        });
    // How each load balancer reaches switches with datapaths: directly,
    // or through a group that has some (which switches is not needed).
    let sources: Coll<'s, (Uuid, Source)> = direct
        .semijoin_named("lb: direct on switches with keys", bound)
        .map_rec(|(ls, lb)| (lb, Source::Switch(ids::datapath_uuid(ls))))
        .concat(
            group_lbs
                .semijoin_named(
                    "lb: groups reaching switches x members",
                    group_dps.clone().map_rec(|(g, _)| g),
                )
                .map_rec(|(g, lb)| (lb, Source::Group(g))),
        );
    // The name of each load balancer's set of switches: its group's when
    // it reaches switches through one group alone (a group's load
    // balancers then share one set, which keeps its row as switches join
    // the group), else its own.
    let named = sources.group_named("lb: set names", |lb, vals, out| {
        let sources: Vec<Source> = vals.iter().map(|(s, _)| (*s).clone()).collect();
        let name = match sources.as_slice() {
            [Source::Group(g)] => SetName::LbGroup(*g),
            _ => SetName::Lb(*lb),
        };
        out.push(((name, sources), 1));
    });
    let names = arrange_shared(
        named.clone().map_rec(|(lb, (name, _))| (lb, name)),
        "lb: set name by load balancer",
    );
    // The members of the sets named: a group's switches; the union of a
    // load balancer's sources.
    let [by_group, own] = split_by(named, |(_, (name, _)): &(Uuid, (SetName, Vec<Source>))| {
        usize::from(matches!(name, SetName::Lb(_)))
    });
    let group_sets = group_dps
        .clone()
        .semijoin_named(
            "lb: groups naming sets",
            by_group
                .flat_map_rec(|(_, (name, _))| match name {
                    SetName::LbGroup(g) => Some(g),
                    _ => None,
                })
                .distinct_named("lb: groups naming sets (distinct)"),
        )
        .map_rec(|(g, dps)| (SetName::LbGroup(g), dps));
    let own_sources = own.flat_map_rec(|(lb, (_, sources))| {
        sources
            .into_iter()
            .map(move |s| (lb, s))
            .collect::<Vec<_>>()
    });
    let own_sets = own_sources
        .clone()
        .flat_map_rec(|(lb, s)| match s {
            Source::Group(g) => Some((g, lb)),
            Source::Switch(_) => None,
        })
        .join_map_named("lb: own sets x group switches", group_dps, |_, lb, dps| {
            (*lb, dps.clone())
        })
        .concat(own_sources.flat_map_rec(|(lb, s)| match s {
            Source::Switch(dp) => Some((lb, Dps::from([dp]))),
            Source::Group(_) => None,
        }))
        .group_named("lb: own set members", |_, vals, out| {
            // A switch reaching the load balancer twice counts once.
            out.push((union_dps(vals.iter().map(|(d, _)| *d)), 1));
        })
        .map_rec(|(lb, dps)| (SetName::Lb(lb), dps));
    let sets = group_sets.concat(own_sets);

    // A load balancer's flows do not depend on its switches: built once
    // per load balancer, placed on its set (a switch joining or leaving
    // parses nothing again, and changes no flow).
    let parsed = parse_with_health(lbs.clone().map_rec(|(u, lb)| (u, (u, lb))), health_info);
    let all_flows = parsed
        .flat_map_rec(|(u, lb)| {
            lb_flows(&lb)
                .into_iter()
                .map(move |(copp, f)| (u, (copp.map(str::to_string), f)))
        })
        .join_map_shared("lb: flows x set name", &names, move |_, a, name| {
            let (copp, f) = a.clone();
            (name.clone(), (copp, f))
        });
    let [plain, metered] = split_by(
        all_flows,
        |(_, (copp, _)): &(SetName, (Option<String>, Lflow))| usize::from(copp.is_some()),
    );
    let flows = plain.map_rec(|(name, (_, f))| (name, f));
    let metered = metered.join_map_named(
        "lb: metered flows x set members",
        sets.clone(),
        |_, (copp, f), dps| (dps.clone(), copp.clone(), f.clone()),
    );
    let metered = metered_flows(metered, copps);

    // SB rows: one per load balancer applied to a switch with a datapath,
    // naming its set (its group row is filled in by `dp_group`).
    let rows = lbs.join_map_shared("lb: rows x set name", &names, |_, lb, name| {
        (name.clone(), sb_row(lb))
    });
    LbOutputs {
        has_lb_vip,
        flows,
        metered,
        rows,
        sets,
    }
}

/// How a load balancer reaches a switch.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Source {
    /// Through this load balancer group (NB UUID).
    Group(Uuid),
    /// Directly, on the switch with this SB datapath UUID.
    Switch(Uuid),
}

/// The load-balancer flows that take a CoPP meter (`copp: Some(proto)`),
/// one per switch with the switch's meter for the protocol, if any: only
/// these (rare: events, rejects of VIPs without backends) fan out per
/// switch.
fn metered_flows<'s>(
    flows: Coll<'s, (Dps, Option<String>, Lflow)>,
    copps: Coll<'s, (Uuid, Copp)>,
) -> Coll<'s, (Dps, Lflow)> {
    let per_switch = flows.flat_map_rec(|(dps, copp, f)| match copp {
        None => Vec::new(),
        Some(proto) => dps
            .iter()
            .map(|dp| ((*dp, proto.clone()), f.clone()))
            .collect(),
    });
    let meters = copps.flat_map_rec(|(owner, copp)| {
        let dp = ids::datapath_uuid(owner);
        copp.into_iter()
            .map(move |(proto, meter)| ((dp, proto), meter))
    });
    per_switch.outer_join_map_named(
        "lb: metered flows x switch meters",
        meters,
        move |k, a, b| {
            let ((dp, proto), f, meter) = (k.clone(), a.clone(), b.clone());
            let f = match proto.as_str() {
                "reject" => switch::metered_reject(f, meter),
                _ => Lflow {
                    meter: Some(meter),
                    ..f
                },
            };
            (Dps::from([dp]), f)
        },
        |(dp, _), f| (Dps::from([*dp]), f.clone()),
    )
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
    (K, ParsedLb): Rec,
    ((K, LoadBalancer), HealthInfo): Rec,
{
    applied.outer_join_map_named(
        "lb: applied x health checks",
        health_info,
        move |_, a, b| {
            let ((key, lb), (hcs, monitored)) = (a.clone(), b.clone());
            let mut p = ParsedLb::new(&lb);
            health::attach_health_checks(&mut p, lb.protocol.as_deref(), &hcs);
            health::mark_monitored(&mut p, &monitored);
            (key, p)
        },
        |_, (key, lb)| (key.clone(), ParsedLb::new(lb)),
    )
}

/// The SB `Load_Balancer` row of `lb`, but its `datapath_group` (nil: the
/// group row of its switches, which `dp_group` decides).
fn sb_row(lb: &LoadBalancer) -> sb::LoadBalancer {
    let mut options = lb.options.clone();
    options.retain(|(k, _)| k != "hairpin_orig_tuple");
    options.push(("hairpin_orig_tuple".to_string(), "true".to_string()));
    options.sort();
    sb::LoadBalancer {
        uuid: ids::derive("Load_Balancer", &[lb.uuid.as_bytes()]),
        name: lb.name.clone(),
        vips: if template::is_template(lb) {
            template::sb_vips(lb, &ParsedLb::new(lb).vips)
        } else {
            lb.vips.clone()
        },
        protocol: lb.protocol.clone(),
        datapath_group: Uuid::nil(),
        options,
        external_ids: vec![("lb_id".to_string(), lb.uuid.to_string())],
    }
}

/// SB `Chassis_Template_Var` rows, one per NB row (`sync_template_vars()`).
pub(super) fn render_template_vars<'s>(nb: NbIn<'s>) -> Coll<'s, SbRecord> {
    nb.of(NbKind::ChassisTemplateVar).flat_map_rec(|r| match r {
        NbRecord::ChassisTemplateVar(tv) => Some(SbRecord::ChassisTemplateVar(
            template::template_var_row(&tv),
        )),
        _ => None,
    })
}
