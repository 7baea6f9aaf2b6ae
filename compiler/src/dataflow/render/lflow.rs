//! Rendering of `rules` logical flows: runs the per-switch and per-port flow
//! rules, then merges identical flows across datapaths the way northd 23.03
//! does (`do_ovn_lflow_add()` keyed on stage, priority, match, actions and
//! meter; `build_lflows()` turning multi-datapath flows into a
//! `Logical_DP_Group`, one group row per distinct datapath set).

use std::collections::HashMap;
use std::sync::Arc;

use ovsdb::Uuid;

use super::dp_group::{self, Placement, Reach, SetName, Target};
use crate::dataflow::{arrange_shared, flat_map_net, split_by, Coll, Named, Ops, Shared};
use crate::ids;
use crate::rules::acl::AclCtx;
use crate::rules::{self, Lflow, PortCtx, SwitchCtx};
use crate::sb::{LogicalFlow, SbRecord};
use crate::stage::Stage;

/// What makes two `ovn_lflow_add()` calls one row: stage, priority, match,
/// actions and meter.
type FlowFields = (Stage, u16, Arc<str>, Arc<str>, Option<String>);

/// Grouping key of a flow ([`FlowFields`]), led by a hash of the fields.
/// Shared (`Arc`): the grouping's input and output arrangements and the
/// records between them hold one copy of the strings, and so does the SB
/// row ([`LogicalFlow::match_`], [`LogicalFlow::actions`]).
///
/// Keys are ordered by the hash first, the fields deciding only between
/// equal hashes: sorting, merging and grouping hundreds of thousands of
/// keys then compares integers instead of long matches that share their
/// first words (most of a compile from scratch went to `memcmp` there).
/// Two keys are equal exactly when their fields are (the hash is a
/// function of them), so the grouping is the same; only the order in which
/// the keys are visited changes, and nothing downstream depends on it
/// (each key's row is computed from that key's flows alone).
///
/// The hash is [`ids::Hash128`] (faster than SipHash over long matches),
/// computed once per flow record: its first 64 bits are what the key
/// hashes to (`Hash`), so the grouping's hash map and the exchange
/// between workers do not hash the fields again, and all 128 bits name
/// the flow's SB row ([`flow_row`] derives the row's UUID from them and
/// the datapath instead of hashing the match and actions a second time).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FlowKey {
    /// The first 64 bits of the fields' hash (the same in every worker
    /// and run).
    hash: u64,
    /// The other 64 bits.
    low: u64,
    /// The fields.
    fields: Arc<FlowFields>,
}

impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Equal keys have equal fields, hence equal hashes.
        state.write_u64(self.hash);
    }
}

impl FlowKey {
    fn new(fields: FlowFields) -> FlowKey {
        let (stage, priority, match_, actions, meter) = &fields;
        let mut h = ids::Hash128::new();
        h.part(stage.name().as_bytes());
        h.part(&priority.to_be_bytes());
        h.part(match_.as_bytes());
        h.part(actions.as_bytes());
        if let Some(m) = meter {
            h.part(m.as_bytes());
        }
        let [hash, low] = h.finish_words();
        FlowKey {
            hash,
            low,
            fields: Arc::new(fields),
        }
    }
}
/// Per-call details: `(origin, source line, stage hint, io port)`.
/// The names are shared (`Arc`) with the flow's other records and its SB row.
type FlowMeta = (
    (u8, u32, Option<Arc<str>>),
    u32,
    Option<Uuid>,
    Option<Arc<str>>,
);

/// A set of datapaths (SB UUIDs, sorted, distinct), shared (`Arc`) by the
/// records that carry it: a load balancer's hundreds of switches are not
/// copied into each of its flows.
pub(super) type Dps = Arc<[Uuid]>;

/// The one-datapath sets of the datapaths met so far, by NB UUID: a
/// datapath's flows share one set (and its SB UUID is derived once), not
/// one per flow. Forgotten when it grows past [`SingleDps::MAX`] (deleted
/// datapaths are never removed one by one).
#[derive(Default)]
struct SingleDps(HashMap<Uuid, Dps>);

impl SingleDps {
    const MAX: usize = 1 << 16;

    fn get(&mut self, nb: Uuid) -> Dps {
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0
            .entry(nb)
            .or_insert_with(|| Dps::from([ids::datapath_uuid(nb)]))
            .clone()
    }
}

/// The union of datapath sets, each sorted and distinct: the set itself
/// (shared) when there is one.
pub(super) fn union_dps<'a>(sets: impl IntoIterator<Item = &'a Dps>) -> Dps {
    let mut sets = sets.into_iter();
    let Some(first) = sets.next() else {
        return Dps::from(Vec::new());
    };
    let Some(second) = sets.next() else {
        return first.clone();
    };
    let mut dps: Vec<Uuid> = first.iter().chain(second.iter()).copied().collect();
    for s in sets {
        dps.extend(s.iter().copied());
    }
    dps.sort_unstable();
    dps.dedup();
    Dps::from(dps)
}

/// Flows added once with a datapath group (`ovn_lflow_add_with_dp_group()`),
/// and the named datapath sets ([`SetName`]) flows and other SB rows name.
pub(super) struct GroupedFlows<'s> {
    /// The datapaths (all with keys) and the flow.
    pub flows: Coll<'s, (Dps, Lflow)>,
    /// Flows on the members of a named set.
    pub named: Coll<'s, (SetName, Lflow)>,
    /// The members of every named set (SB datapath UUIDs, sorted).
    pub sets: Coll<'s, (SetName, Dps)>,
}

/// Flows built per datapath outside the switch/port/ACL rules (routers,
/// QoS, load balancer health checks).
pub(super) struct OtherFlows<'s> {
    /// Flows on any datapath: those on datapaths without a tunnel key are
    /// dropped.
    pub flows: Coll<'s, Lflow>,
    /// Flows already known to be on datapaths with tunnel keys (the
    /// routers' own, built only from router contexts with a key): they
    /// skip the semijoin with the keyed datapaths, which would arrange
    /// them all (most router flows) for nothing.
    pub keyed: Coll<'s, Lflow>,
}

pub(super) fn render_lflows<'s>(
    switches: Coll<'s, SwitchCtx>,
    ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    acls: Coll<'s, AclCtx>,
    other: OtherFlows<'s>,
    grouped: GroupedFlows<'s>,
    dp_keys: Coll<'s, (Uuid, u32)>,
    dp_order: Coll<'s, (Uuid, u32)>,
) -> (Coll<'s, SbRecord>, Shared<'s, SetName, Placement>) {
    // Datapath order keyed by SB datapath UUID, as flows name datapaths.
    let dp_order = dp_order.map_rec(|(nb, pos)| (ids::datapath_uuid(nb), pos));
    let bound = dp_keys.map_rec(|(dp, _)| dp);
    // Switch-level flows depend on the switch's context, not on which
    // switch it is (but for their datapath, and the hint of the flows
    // `lb_hairpin()` hints with the switch): built once per class of
    // switches with equal contexts, with the class's switches as
    // datapaths. A switch joining a class adds its datapath to the flows'
    // sets; it builds no flows of its own.
    let switch_flows = switches
        .map_rec(|s| (s.uuid, s))
        .semijoin_named("lflows: switches with keys", bound.clone())
        .map_rec(|(u, mut class)| {
            class.uuid = Uuid::nil();
            (class, u)
        })
        .group_named("lflows: switches by context", |_, vals, out| {
            let members: Vec<Uuid> = vals.iter().map(|(u, _)| **u).collect();
            out.push((members, 1));
        })
        .flat_map_rec(|(class, members)| class_flows(&class, &members));
    // A port's context is replaced whole when a part changes (its peer
    // router's NAT): only the flows that differ go on.
    let port_flows = flat_map_net(
        ports.semijoin_named("lflows: ports on switches with keys", bound.clone()),
        "port flows",
        |(_, p)| rules::port_flows(&p),
    );
    let acl_flows = acls
        .map_rec(|a| (a.ls, a))
        .semijoin_named("lflows: acls on switches with keys", bound.clone())
        .flat_map_rec(|(_, a)| rules::acl_flows(&a));
    // Shared (`Arc`) while arranged: the arrangement's merges move
    // pointers, not whole flows.
    let other_flows = other
        .flows
        .map_rec(|f| (f.dp, Arc::new(f)))
        .semijoin_named("lflows: other flows on datapaths with keys", bound)
        .map_rec(|(_, f)| Arc::unwrap_or_clone(f));
    let keyed = |reach: Reach, f: Lflow| -> (FlowKey, (Reach, FlowMeta)) {
        (
            FlowKey::new((f.stage, f.priority, f.match_, f.actions, f.meter)),
            (reach, (f.origin, f.source, f.hint, f.io_port)),
        )
    };
    let mut single = SingleDps::default();
    let by_key: Coll<'s, (FlowKey, (Reach, FlowMeta))> = port_flows
        .concatenate([acl_flows, other_flows, other.keyed])
        .map_rec(move |f: Lflow| {
            let dps = single.get(f.dp);
            keyed(Reach::Dps(dps), f)
        })
        .concatenate([
            grouped
                .flows
                .concat(switch_flows)
                .map_rec(move |(dps, f)| keyed(Reach::Dps(dps), f)),
            grouped
                .named
                .map_rec(move |(name, f)| keyed(Reach::Named(name), f)),
        ]);
    // Per key: the datapaths, and the flow details northd keeps (those of
    // the first `ovn_lflow_add()` call). When datapath-level calls with
    // different details compete, which came first depends on the order of
    // northd's datapaths hmap: those keys are resolved below with
    // `dp_order`.
    // Most keys end on one datapath, uncontested: their rows are made
    // straight from the grouping's output; only the others (contested, on
    // several datapaths or on named sets) go on as records.
    let direct = |t: &(Target, FlowMeta, Vec<(Uuid, FlowMeta)>)| match t {
        (Target::Dps(dps), _, candidates) if dps.len() == 1 && candidates.is_empty() => {
            Some(dps[0])
        }
        _ => None,
    };
    let (direct_rows, merged) = by_key.group_split_named(
        "lflows by key",
        |_, vals, out| {
            let target = Target::merge(vals.iter().map(|((reach, _), _)| reach));
            let first = vals.iter().map(|((reach, m), _)| (m, reach)).min();
            let Some((first_meta, _)) = first else { return };
            // Datapath-level flows and ACL flows (`build_acls()` runs per
            // switch) are added datapath by datapath, in the datapaths hmap's
            // order. (Flows on named sets, load balancers', are of neither.)
            let class = first_meta.0 .0;
            let per_dp = |reach: &Reach| match reach {
                Reach::Dps(dps) => Some(dps.clone()),
                Reach::Named(_) => None,
            };
            let contested = (class == 0 || class == 2)
                && vals.iter().any(|((_, m), _)| {
                    m.0 .0 == class
                        && (m.1, m.2, &m.3) != (first_meta.1, first_meta.2, &first_meta.3)
                });
            let candidates: Vec<(Uuid, FlowMeta)> = if contested {
                vals.iter()
                    .filter(|((_, m), _)| m.0 .0 == class)
                    .filter_map(|((reach, m), _)| per_dp(reach).map(|dps| (dps, m)))
                    .flat_map(|(dps, m)| dps.iter().map(|dp| (*dp, m.clone())).collect::<Vec<_>>())
                    .collect()
            } else {
                Vec::new()
            };
            out.push(((target, first_meta.clone(), candidates), 1));
        },
        move |key, t| {
            direct(t).map(|dp| SbRecord::LogicalFlow(flow_row(key, Some(dp), None, t.1.clone())))
        },
        move |key, t| direct(t).is_none().then(|| (key.clone(), t.clone())),
    );
    // Keys without candidates (nearly all) go straight on; the contested
    // ones are resolved against the datapath order.
    let [uncontested, contested_keys] = split_by(merged, |(_, (_, _, candidates))| {
        usize::from(!candidates.is_empty())
    });
    let contested = contested_keys
        .clone()
        .flat_map_rec(|(key, (_, _, candidates))| {
            candidates
                .into_iter()
                .map(move |(dp, m)| (dp, (key.clone(), m)))
        })
        .join_map_named(
            "lflows: contested x datapath order",
            dp_order,
            move |_, a, b| {
                let ((key, meta), pos) = (a.clone(), b.clone());
                (key, (pos, meta))
            },
        )
        .group_named("lflows: first datapath", |_, vals, out| {
            // Within a datapath: datapath-level calls by source line; ACL
            // flows in the order `build_acls()` meets the ACLs (by UUID).
            let order = |pos: u32, m: &FlowMeta| {
                let acl = (m.0 .0 == 2).then_some(m.2);
                (pos, acl, m.1)
            };
            if let Some(((_, meta), _)) = vals.iter().min_by_key(|((pos, m), _)| order(*pos, m)) {
                out.push((meta.clone(), 1));
            }
        });
    let uncontested = uncontested.map_rec(|(key, (target, meta, _))| (key, (target, meta)));
    let resolved = contested_keys
        .map_rec(|(key, (target, _, _))| (key, target))
        .join_named("lflows: contested x first", contested);
    let sets = arrange_shared(grouped.sets.clone(), "lflows: named sets");
    let merged = dp_group::resolve_mixed(uncontested.concat(resolved), &sets);
    // Flows on one datapath name it; the others name their set, whose
    // group row says where they go.
    let [one, several] = split_by(merged, |(_, (t, _)): &(FlowKey, (Target, FlowMeta))| {
        usize::from(!matches!(t, Target::Dps(dps) if dps.len() == 1))
    });
    let one = one.flat_map_rec(|(key, (target, meta))| match target {
        Target::Dps(dps) => Some(SbRecord::LogicalFlow(flow_row(
            &key,
            Some(dps[0]),
            None,
            meta,
        ))),
        _ => None,
    });
    let several = several.flat_map_rec(|(key, (target, meta))| match target {
        Target::Dps(dps) => Some((dp_group::members_of(dps), (key, meta))),
        Target::Named(name) => Some((name, (key, meta))),
        Target::Mixed(..) => None,
    });
    let unions = several.clone().flat_map_rec(|(name, _)| match name {
        SetName::Members(m) => Some(m),
        _ => None,
    });
    let (groups, placements) = dp_group::render_groups(grouped.sets, unions);
    let several = several.join_map_shared(
        "lflows: x datapath group",
        &placements,
        |_, (key, meta), p| {
            SbRecord::LogicalFlow(match p.single {
                Some(dp) => flow_row(key, Some(dp), None, meta.clone()),
                None => flow_row(key, None, Some(p.group), meta.clone()),
            })
        },
    );
    (one.concatenate([direct_rows, several, groups]), placements)
}

/// The switch-level flows of the switches `members` (NB UUIDs) that share
/// the context `class` (whose `uuid` is nil): each once with all of them
/// as datapaths, but the flows hinted with their own switch, once per
/// switch.
fn class_flows(class: &SwitchCtx, members: &[Uuid]) -> Vec<(Dps, Lflow)> {
    let mut dps: Vec<Uuid> = members.iter().map(|u| ids::datapath_uuid(*u)).collect();
    dps.sort_unstable();
    let dps = Dps::from(dps);
    let mut out = Vec::new();
    for f in rules::switch_flows(class) {
        if f.hint == Some(class.uuid) {
            for u in members {
                let own = Lflow {
                    dp: *u,
                    hint: Some(*u),
                    ..f.clone()
                };
                out.push((Dps::from([ids::datapath_uuid(*u)]), own));
            }
        } else {
            out.push((dps.clone(), f));
        }
    }
    out
}

/// The `Logical_Flow` row of a merged flow on datapath `dp`, or on the
/// datapaths of group `group`.
fn flow_row(key: &FlowKey, dp: Option<Uuid>, group: Option<Uuid>, meta: FlowMeta) -> LogicalFlow {
    let (stage, priority, match_, actions, meter) = &*key.fields;
    let (stage, priority) = (*stage, *priority);
    let (_origin, source, hint, io_port) = meta;
    let (logical_datapath, logical_dp_group) = (dp, group);
    // A flow on one datapath is identified by (datapath, key); a flow on a
    // group by its key alone (there is one per key), so that a group
    // gaining or losing members modifies the row, as northd does. The key
    // stands for its fields by their 128-bit hash.
    let owner = logical_datapath.unwrap_or_default();
    let uuid = ids::derive(
        "Logical_Flow",
        &[
            owner.as_bytes(),
            &key.hash.to_be_bytes(),
            &key.low.to_be_bytes(),
        ],
    );
    LogicalFlow {
        uuid,
        logical_datapath,
        logical_dp_group,
        stage,
        priority,
        match_: match_.clone(),
        actions: actions.clone(),
        source,
        hint,
        io_port,
        controller_meter: meter.clone(),
    }
}
