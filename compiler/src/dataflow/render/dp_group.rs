//! `Logical_DP_Group` rows: the datapath sets flows and load balancers
//! share (northd 23.03's `build_lflows()` and `sync_lbs()`: one group row
//! per distinct set of datapaths).
//!
//! Flows placed on a set that other rows define (a load balancer group's
//! switches) carry the set's **name**, not its members: the members are
//! attached once, to the group row. A node switch joining the cluster's
//! load balancer group then modifies that one row (its `datapaths`)
//! instead of every flow of every load balancer in the group, which is
//! what a group keyed by its members would take (a new row, and each flow
//! rewritten to point at it). The SB holds the same content either way:
//! one group row per distinct set, each flow on the same datapaths;
//! ovn-controller 23.03 re-reads the flows of a group whose `datapaths`
//! change (its `Logical_DP_Group` input is a no-op handler because the
//! IDL marks the referencing flows as changed).
//!
//! Every set, named or met only as the union of a flow's datapaths, ends
//! in one grouping by members; the row's UUID is derived from the least
//! name the set has ([`SetName`]'s order prefers load balancer groups),
//! so a set keeps its UUID as long as that name keeps naming it, whatever
//! its members become.

use ovsdb::Uuid;

use super::lflow::{union_dps, Dps};
use crate::dataflow::{arrange_shared, split_by, Coll, Named, Ops, Shared};
use crate::ids;
use crate::sb::{LogicalDpGroup, SbRecord};

/// A datapath set named by its members, led by their hash: sets of
/// hundreds of datapaths are compared by hash first, then (equal hashes)
/// by address, and by members only when both differ.
#[derive(Clone, Debug)]
pub(crate) struct Members {
    hash: u64,
    dps: Dps,
}

impl PartialEq for Members {
    fn eq(&self, other: &Members) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Members {}

impl std::hash::Hash for Members {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Equal sets have equal hashes.
        self.hash.hash(state);
    }
}

impl PartialOrd for Members {
    fn partial_cmp(&self, other: &Members) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Members {
    fn cmp(&self, other: &Members) -> std::cmp::Ordering {
        self.hash.cmp(&other.hash).then_with(|| {
            if std::sync::Arc::ptr_eq(&self.dps, &other.dps) {
                std::cmp::Ordering::Equal
            } else {
                self.dps.cmp(&other.dps)
            }
        })
    }
}

impl Members {
    pub(super) fn new(dps: Dps) -> Members {
        // [`ids::Hash128`] two words per UUID: sets of hundreds of
        // datapaths are hashed once per merged flow.
        let mut h = ids::Hash128::new();
        h.word(dps.len() as u64);
        for u in dps.iter() {
            let (hi, lo) = u.as_u64_pair();
            h.word(hi);
            h.word(lo);
        }
        Members {
            hash: h.finish64(),
            dps,
        }
    }
}

/// The name of a datapath set. Ordered: the least name of a set decides
/// its group's UUID, and the names that last longest come first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SetName {
    /// The switches (with datapaths) of the load balancer group with this
    /// NB UUID: the set of the load balancers reaching switches through
    /// that group alone.
    LbGroup(Uuid),
    /// The switches of the load balancer with this NB UUID (reached
    /// directly, or through several groups).
    Lb(Uuid),
    /// A set met as the union of a merged flow's datapaths.
    Members(Members),
}

impl SetName {
    /// The UUID of the group row of a set whose least name is `self`.
    /// Sets named by members alone keep the UUID they always had.
    fn group_uuid(&self) -> Uuid {
        match self {
            SetName::LbGroup(g) => ids::derive("Logical_DP_Group", &[b"lb-group", g.as_bytes()]),
            SetName::Lb(lb) => ids::derive("Logical_DP_Group", &[b"lb", lb.as_bytes()]),
            SetName::Members(m) => ids::dp_group_uuid(&m.dps),
        }
    }
}

/// Where the flows and rows naming a set go: its group row, and its one
/// datapath when it has one member (a flow on one datapath names the
/// datapath, not a group).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Placement {
    /// The `Logical_DP_Group` row's UUID.
    pub group: Uuid,
    /// The only datapath, for a set of one.
    pub single: Option<Uuid>,
}

/// Where a flow record applies before identical flows are merged.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Reach {
    /// These datapaths (one, for most flows).
    Dps(Dps),
    /// The members of a named set.
    Named(SetName),
}

/// Where a merged flow applies.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Target {
    /// The union of its records' datapaths.
    Dps(Dps),
    /// The members of one named set (all its records named it).
    Named(SetName),
    /// Records naming sets and records with datapaths (or naming several
    /// sets): the union of `.0` and the named sets' members, which only
    /// [`resolve_mixed`] knows.
    Mixed(Dps, Vec<SetName>),
}

impl Target {
    /// The target of a key's records, `reaches` in order.
    pub(super) fn merge<'a>(reaches: impl Iterator<Item = &'a Reach> + Clone) -> Target {
        let mut names: Vec<&SetName> = reaches
            .clone()
            .filter_map(|r| match r {
                Reach::Named(n) => Some(n),
                Reach::Dps(_) => None,
            })
            .collect();
        names.dedup();
        let mut dps = reaches
            .filter_map(|r| match r {
                Reach::Dps(d) => Some(d),
                Reach::Named(_) => None,
            })
            .peekable();
        match (names.as_slice(), dps.peek().is_some()) {
            ([], _) => Target::Dps(union_dps(dps)),
            ([name], false) => Target::Named((*name).clone()),
            _ => Target::Mixed(union_dps(dps), names.into_iter().cloned().collect()),
        }
    }
}

/// Turns the [`Target::Mixed`] flows of `merged` into [`Target::Dps`]
/// ones with the named sets' members (`sets`) added; the others pass.
/// Rare (a load balancer flow equal to another load balancer's on other
/// switches): only these records follow their sets' members.
pub(super) fn resolve_mixed<'s, K, M>(
    merged: Coll<'s, (K, (Target, M))>,
    sets: &Shared<'s, SetName, Dps>,
) -> Coll<'s, (K, (Target, M))>
where
    K: crate::dataflow::Rec + std::hash::Hash,
    M: crate::dataflow::Rec + std::hash::Hash,
{
    let [settled, mixed] = split_by(merged, |(_, (t, _)): &(K, (Target, M))| {
        usize::from(matches!(t, Target::Mixed(..)))
    });
    let unions = mixed
        .clone()
        .flat_map_rec(|(key, (t, _))| match t {
            Target::Mixed(_, names) => names
                .into_iter()
                .map(|n| (n, key.clone()))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .join_map_shared("lflows: mixed names x members", sets, |_, key, dps| {
            (key.clone(), dps.clone())
        })
        .concat(mixed.clone().flat_map_rec(|(key, (t, _))| match t {
            Target::Mixed(dps, _) => Some((key, dps)),
            _ => None,
        }))
        .group_named("lflows: mixed datapaths", |_, vals, out| {
            out.push((union_dps(vals.iter().map(|(d, _)| *d)), 1));
        });
    let resolved = mixed
        .map_rec(|(key, (_, meta))| (key, meta))
        .join_map_named("lflows: mixed x datapaths", unions, |key, meta, dps| {
            (key.clone(), (Target::Dps(dps.clone()), meta.clone()))
        });
    settled.concat(resolved)
}

/// What the grouping by members says of a set: where each of its names
/// goes, and its row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Grouped {
    /// A name of the set and where its flows and rows go.
    Name(SetName, Placement),
    /// The set's row has this UUID.
    Row(Uuid),
}

/// The group rows of every set named in `sets` or `unions` (the members of
/// merged flows on several datapaths, one record per flow), and where the
/// flows and rows naming each set go. A set's row is derived from its
/// least name: the sets of `sets` keep their row when their members
/// change.
pub(super) fn render_groups<'s>(
    sets: Coll<'s, (SetName, Dps)>,
    unions: Coll<'s, Members>,
) -> (Coll<'s, SbRecord>, Shared<'s, SetName, Placement>) {
    let by_members = sets
        .map_rec(|(name, dps)| (Members::new(dps), name))
        .concat(unions.map_rec(|m| (m.clone(), SetName::Members(m))))
        .group_named("datapath groups", |members, names, out| {
            // Names arrive in order: the first is the least.
            let Some((least, _)) = names.first() else {
                return;
            };
            let group = least.group_uuid();
            let single = match &members.dps[..] {
                [one] => Some(*one),
                _ => None,
            };
            for (name, _) in names {
                out.push((
                    Grouped::Name((*name).clone(), Placement { group, single }),
                    1,
                ));
            }
            out.push((Grouped::Row(group), 1));
        });
    let [named, rows] = split_by(by_members, |(_, g): &(Members, Grouped)| {
        usize::from(matches!(g, Grouped::Row(_)))
    });
    let placements = named.flat_map_rec(|(_, g)| match g {
        Grouped::Name(name, placement) => Some((name, placement)),
        Grouped::Row(_) => None,
    });
    let rows = rows.flat_map_rec(|(members, g)| match g {
        Grouped::Row(uuid) => Some(SbRecord::LogicalDpGroup(LogicalDpGroup {
            uuid,
            datapaths: members.dps.to_vec(),
        })),
        Grouped::Name(..) => None,
    });
    (rows, arrange_shared(placements, "datapath groups by name"))
}

/// The set named by its members `dps`.
pub(super) fn members_of(dps: Dps) -> SetName {
    SetName::Members(Members::new(dps))
}
