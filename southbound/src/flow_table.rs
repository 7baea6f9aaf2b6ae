//! The desired OpenFlow table of one chassis, as ovn-controller's
//! `controller/ofctrl.c` (23.03) keeps it and installs it.
//!
//! * Flows are keyed by `(table, priority, match)`.
//! * Conjunction flows (`ofctrl_add_or_append_flow`) with the same key are
//!   merged: their `conjunction(...)` actions are concatenated.
//! * When several desired flows share a key, one is installed
//!   (`link_installed_to_desired`, `flow_is_preferred`): a flow with real
//!   actions ("allow") beats a drop, which beats a conjunction flow; among
//!   equals the first added wins.  ovn-controller adds flows in hash-table
//!   order; we add them in UUID order, so only that tie-break can differ.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use crate::actions::{OfAction, OfActions};
use crate::expr::OfMatch;

/// One OpenFlow flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfFlow {
    /// OpenFlow table.
    pub table: u8,
    /// Priority.
    pub priority: u16,
    /// Cookie (ovn-controller uses the first 32 bits of the SB row's UUID).
    pub cookie: u64,
    /// Match.
    pub of_match: OfMatch,
    /// Actions (empty: drop).
    pub actions: Vec<OfAction>,
}

impl OfFlow {
    /// Whether every action is `conjunction(...)` (a clause flow).
    pub fn is_conjunction(&self) -> bool {
        !self.actions.is_empty()
            && self
                .actions
                .iter()
                .all(|a| matches!(a, OfAction::Conjunction { .. }))
    }

    /// The conjunction ids of its `conjunction(...)` actions.
    pub fn conjunction_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.actions.iter().filter_map(|a| match a {
            OfAction::Conjunction { id, .. } => Some(*id),
            _ => None,
        })
    }

    /// Rank for `flow_is_preferred`: lower is preferred.
    fn preference(&self) -> u8 {
        if self.actions.is_empty() {
            1
        } else if self.is_conjunction() {
            2
        } else {
            0
        }
    }
}

/// A shared flow ordered and compared by its key `(table, priority,
/// match)` alone: a set of these is a map from key to flow that stores the
/// key once, inside the flow.
#[derive(Debug, Clone)]
pub struct ByKey(pub Arc<OfFlow>);

impl ByKey {
    fn key(&self) -> (u8, u16, &OfMatch) {
        (self.0.table, self.0.priority, &self.0.of_match)
    }
}

impl PartialEq for ByKey {
    fn eq(&self, other: &ByKey) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ByKey {}

impl PartialOrd for ByKey {
    fn partial_cmp(&self, other: &ByKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByKey {
    fn cmp(&self, other: &ByKey) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for OfFlow {
    /// The flow as `ovs-ofctl dump-flows --no-stats` prints it:
    /// ` cookie=0x…, table=N, priority=P,MATCH actions=…` (cookie and table
    /// left out when 0).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(" ")?;
        if self.cookie != 0 {
            write!(f, "cookie={:#x}, ", self.cookie)?;
        }
        if self.table != 0 {
            write!(f, "table={}, ", self.table)?;
        }
        write!(f, "priority={}", self.priority)?;
        let m = self.of_match.to_string();
        if !m.is_empty() {
            write!(f, ",{m}")?;
        }
        let actions = OfActions(self.actions.clone()).to_string();
        write!(f, " actions={}", installed_text(&actions))
    }
}

/// Action text as the switch reports it back: ovn-controller sends
/// `dec_ttl` as `NXAST_DEC_TTL_CNT_IDS` with no controller ids (OVS
/// `encode_DEC_TTL` with `n_controllers == 0`), which `ovs-ofctl` prints as
/// `dec_ttl()`; OVN's own vectors (no wire round trip) print `dec_ttl`.
fn installed_text(actions: &str) -> String {
    const DEC_TTL: &str = "dec_ttl";
    let mut out = String::with_capacity(actions.len() + 2);
    let mut rest = actions;
    while let Some(i) = rest.find(DEC_TTL) {
        let end = i + DEC_TTL.len();
        let starts_action = i == 0 || matches!(rest.as_bytes()[i - 1], b',' | b'(');
        out.push_str(&rest[..end]);
        if starts_action && !rest[end..].starts_with('(') {
            out.push_str("()");
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Orders flows by key `(table, priority, match)`.
fn key_order(a: &OfFlow, b: &OfFlow) -> Ordering {
    (a.table, a.priority, &a.of_match).cmp(&(b.table, b.priority, &b.of_match))
}

fn same_key(a: &OfFlow, b: &OfFlow) -> bool {
    a.table == b.table && a.priority == b.priority && a.of_match == b.of_match
}

fn key_hash(f: &OfFlow) -> u64 {
    f.of_match.fast_hash() ^ (u64::from(f.table) << 56) ^ (u64::from(f.priority) << 32)
}

/// No flow (end of a hash chain).
const NONE: usize = usize::MAX;

/// The desired flows of one chassis.
///
/// Held in the order added, with the flows of one key found by hash (a
/// chain per hash): adding costs no ordered-map search and no copy of the
/// match as a key; the key order is made once, when the flows are read.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    /// The flows, in the order added.
    list: Vec<OfFlow>,
    /// Key hash → the flow last added with a key of that hash.
    index: crate::expr::util::HashIndex<usize>,
    /// Per flow, the flow added before it with a key of the same hash.
    chain: Vec<usize>,
    /// Number of distinct keys.
    keys: usize,
    /// The flows [`FlowTable::emit_new`] gave out so far: the first
    /// `emitted` of `list`.
    emitted: usize,
    /// Flows given out and changed since (conjunction actions appended),
    /// to be given out again.
    revised: Vec<usize>,
}

impl FlowTable {
    /// An empty table.
    pub fn new() -> FlowTable {
        FlowTable::default()
    }

    /// The flows with `flow`'s key, newest first.
    fn at_key<'a>(&'a self, flow: &'a OfFlow, h: u64) -> impl Iterator<Item = usize> + 'a {
        let mut at = self.index.get(&h).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            while at != NONE {
                let i = at;
                at = self.chain[i];
                if same_key(&self.list[i], flow) {
                    return Some(i);
                }
            }
            None
        })
    }

    fn push(&mut self, flow: OfFlow, h: u64, new_key: bool) {
        if new_key {
            self.keys += 1;
        }
        self.chain
            .push(self.index.insert(h, self.list.len()).unwrap_or(NONE));
        self.list.push(flow);
    }

    /// Adds a flow (`ofctrl_add_flow`); an identical flow is added once.
    pub fn add(&mut self, flow: OfFlow) {
        let h = key_hash(&flow);
        let mut new_key = true;
        for i in self.at_key(&flow, h) {
            if self.list[i] == flow {
                return;
            }
            new_key = false;
        }
        self.push(flow, h, new_key);
    }

    /// Adds a conjunction flow, appending its actions to an existing
    /// conjunction flow with the same key (`ofctrl_add_or_append_flow`).
    pub fn add_or_append(&mut self, flow: OfFlow) {
        let h = key_hash(&flow);
        let mut new_key = true;
        // The first added of the conjunction flows at the key.
        let mut first = None;
        for i in self.at_key(&flow, h) {
            new_key = false;
            if self.list[i].is_conjunction() {
                first = Some(i);
            }
        }
        match first {
            Some(i) => {
                self.list[i].actions.extend(flow.actions);
                if i < self.emitted {
                    self.revised.push(i);
                }
            }
            None => self.push(flow, h, new_key),
        }
    }

    /// Gives `sink` the flows added since the last call, in the order
    /// added: a streamed first install sends flows as they come (see
    /// [`crate::openflow::installer::FullStream`]).
    pub fn emit_new(&mut self, sink: &mut dyn FnMut(&OfFlow)) {
        for f in &self.list[self.emitted..] {
            sink(f);
        }
        self.emitted = self.list.len();
    }

    /// The flows [`FlowTable::emit_new`] gave out that changed after
    /// (conjunction actions appended at their key), as they are now.
    pub fn revised(&self) -> impl Iterator<Item = &OfFlow> {
        let mut idx = self.revised.clone();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| &self.list[i])
    }

    /// Adds a flow as ovn-controller would have: conjunction clause flows
    /// are merged with [`FlowTable::add_or_append`], others added.
    pub fn merge(&mut self, flow: OfFlow) {
        if flow.cookie == 0 && flow.is_conjunction() {
            self.add_or_append(flow);
        } else {
            self.add(flow);
        }
    }

    /// The positions of the flows in key order (stable: in the order
    /// added within a key).
    fn sorted(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.list.len()).collect();
        idx.sort_by(|&a, &b| key_order(&self.list[a], &self.list[b]));
        idx
    }

    /// Every desired flow (all candidates of each key), in key order.
    pub fn flows(&self) -> impl Iterator<Item = &OfFlow> {
        self.sorted().into_iter().map(|i| &self.list[i])
    }

    /// [`FlowTable::flows`], by value.
    pub fn into_flows(self) -> impl Iterator<Item = OfFlow> {
        let mut list = self.list;
        list.sort_by(key_order);
        list.into_iter()
    }

    /// The installed flows, one per key, in key order (table, priority,
    /// match).
    pub fn installed(&self) -> Vec<&OfFlow> {
        self.sorted()
            .chunk_by(|&a, &b| same_key(&self.list[a], &self.list[b]))
            .filter_map(|at_key| {
                at_key
                    .iter()
                    .map(|&k| &self.list[k])
                    .min_by_key(|f| f.preference())
            })
            .collect()
    }

    /// Number of installed flows.
    pub fn len(&self) -> usize {
        self.keys
    }

    /// Whether there are no flows.
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// The installed flows as `ovs-ofctl dump-flows --no-stats` lines,
    /// sorted by table, then priority (highest first), then text — the
    /// order `ovs-ofctl --sort=priority`-like tools and diffs expect.
    pub fn dump(&self) -> Vec<String> {
        let mut lines: Vec<(u8, u16, String)> = self
            .installed()
            .into_iter()
            .map(|f| (f.table, f.priority, f.to_string()))
            .collect();
        lines.sort_by(|a, b| {
            (a.0, std::cmp::Reverse(a.1), &a.2).cmp(&(b.0, std::cmp::Reverse(b.1), &b.2))
        });
        lines.into_iter().map(|(_, _, l)| l).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Field;

    /// A flow in table 40 matching `reg0 == v`, with `actions`.
    fn flow(v: u128, cookie: u64, actions: Vec<OfAction>) -> OfFlow {
        let mut m = OfMatch::new();
        m.set_field(Field::Reg(0), v, u128::from(u32::MAX));
        OfFlow {
            table: 40,
            priority: 100,
            cookie,
            of_match: m,
            actions,
        }
    }

    fn clause(v: u128, id: u32) -> OfFlow {
        let conj = OfAction::Conjunction {
            id,
            clause: 0,
            n_clauses: 2,
        };
        flow(v, 0, vec![conj])
    }

    fn given_out(t: &mut FlowTable) -> Vec<OfFlow> {
        let mut out = Vec::new();
        t.emit_new(&mut |f| out.push(f.clone()));
        out
    }

    /// Each flow is given out once, by the first call after it was added,
    /// in the order added; one given out and then changed is reported by
    /// `revised` as it is now.
    #[test]
    fn emit_new_gives_each_flow_once_and_reports_later_changes() {
        let mut t = FlowTable::new();
        assert!(given_out(&mut t).is_empty());
        t.merge(flow(2, 7, vec![OfAction::Output(1)]));
        t.merge(clause(1, 5));
        assert_eq!(
            given_out(&mut t),
            vec![flow(2, 7, vec![OfAction::Output(1)]), clause(1, 5)]
        );
        assert!(given_out(&mut t).is_empty());
        assert_eq!(t.revised().count(), 0);
        // A new key, then a clause appended to the one given out.
        t.merge(clause(3, 5));
        t.merge(clause(1, 6));
        assert_eq!(given_out(&mut t), vec![clause(3, 5)]);
        let mut both = clause(1, 5);
        both.actions.extend(clause(1, 6).actions);
        assert_eq!(t.revised().cloned().collect::<Vec<_>>(), vec![both]);
        // Appending to a clause not given out yet is no revision.
        t.merge(clause(4, 5));
        t.merge(clause(4, 6));
        assert_eq!(t.revised().count(), 1);
        assert_eq!(given_out(&mut t).len(), 1);
    }
}
