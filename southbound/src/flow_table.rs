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
use std::collections::BTreeMap;
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

/// Key of a desired flow.
type Key = (u8, u16, OfMatch);

/// The desired flows of one chassis.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    flows: BTreeMap<Key, Vec<OfFlow>>,
}

impl FlowTable {
    /// An empty table.
    pub fn new() -> FlowTable {
        FlowTable::default()
    }

    /// Adds a flow (`ofctrl_add_flow`); an identical flow is added once.
    pub fn add(&mut self, flow: OfFlow) {
        let key = (flow.table, flow.priority, flow.of_match.clone());
        let list = self.flows.entry(key).or_default();
        if !list.contains(&flow) {
            list.push(flow);
        }
    }

    /// Adds a conjunction flow, appending its actions to an existing
    /// conjunction flow with the same key (`ofctrl_add_or_append_flow`).
    pub fn add_or_append(&mut self, flow: OfFlow) {
        let key = (flow.table, flow.priority, flow.of_match.clone());
        let list = self.flows.entry(key).or_default();
        match list.iter_mut().find(|f| f.is_conjunction()) {
            Some(existing) => existing.actions.extend(flow.actions),
            None => list.push(flow),
        }
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

    /// Every desired flow (all candidates of each key), in key order.
    pub fn flows(&self) -> impl Iterator<Item = &OfFlow> {
        self.flows.values().flatten()
    }

    /// [`FlowTable::flows`], by value.
    pub fn into_flows(self) -> impl Iterator<Item = OfFlow> {
        self.flows.into_values().flatten()
    }

    /// The installed flows, one per key, in key order (table, priority,
    /// match).
    pub fn installed(&self) -> Vec<&OfFlow> {
        self.flows
            .values()
            .filter_map(|list| list.iter().min_by_key(|f| f.preference()))
            .collect()
    }

    /// Number of installed flows.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether there are no flows.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
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
