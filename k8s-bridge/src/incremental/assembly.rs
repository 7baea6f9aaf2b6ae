//! Putting the per-object translations ("parts") together into one
//! desired NB, and telling which rows changed. A part is the [`Nb`] one
//! object's translation builds: its own rows, and the references it adds
//! to rows of other parts ([`Nb::contrib`]: a pod's port on its node
//! switch, a load balancer in a group). A row's final content is its
//! emitting part's row plus every contribution to it. When several parts
//! emit the same row (pod-selector address sets shared by policies with
//! the same selector), the first part in [`Unit`] order wins, as the
//! first policy in name order creates the set in a full translation; the
//! Nodus part re-emits the default ports of pods it gives routes to, and
//! wins over their pod parts the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Nb, NbRow, RowId};

/// A part of the translation: one object, or a group translated together.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// The cluster-wide topology.
    Cluster,
    /// All nodes (subnets and join addresses are allocated in name order).
    Nodes,
    /// Nodus and Multus: networks, extra pod interfaces and chains (their
    /// addresses are allocated across all pods; before [`Unit::Pod`] so the
    /// default ports it amends win).
    Nodus,
    /// One pod's port.
    Pod(String),
    /// One namespace's address set.
    Namespace(String),
    /// One Service's load balancers.
    Service(String),
    /// One NetworkPolicy's port group, ACLs and pod-selector address sets.
    Policy(String),
    /// One namespace's default-deny port groups.
    Deny(String),
}

/// The parts and the indexes that assemble them.
#[derive(Default)]
pub struct Assembly {
    parts: HashMap<Unit, Nb>,
    emitters: HashMap<RowId, BTreeSet<Unit>>,
    contrib: HashMap<RowId, BTreeMap<&'static str, BTreeMap<RowId, u32>>>,
    /// Rows whose content may have changed since the last [`Assembly::materialize`].
    dirty: BTreeSet<RowId>,
}

impl Assembly {
    /// Forgets every part; the rows of `nb` are marked for re-examination.
    pub fn clear(&mut self, nb: &Nb) {
        self.parts.clear();
        self.emitters.clear();
        self.contrib.clear();
        self.dirty.extend(nb.rows.keys().cloned());
    }

    /// Replaces a unit's part (an empty part removes it).
    pub fn replace(&mut self, unit: Unit, part: Nb) {
        if let Some(old) = self.parts.remove(&unit) {
            if old == part {
                self.parts.insert(unit, old);
                return;
            }
            for id in old.rows.keys() {
                if let Some(e) = self.emitters.get_mut(id) {
                    e.remove(&unit);
                    if e.is_empty() {
                        self.emitters.remove(id);
                    }
                }
                self.dirty.insert(id.clone());
            }
            for ((to, col), refs) in old.contrib {
                if let Some(cols) = self.contrib.get_mut(&to) {
                    if let Some(c) = cols.get_mut(col) {
                        for r in refs {
                            if let Some(n) = c.get_mut(&r) {
                                *n -= 1;
                                if *n == 0 {
                                    c.remove(&r);
                                }
                            }
                        }
                        if c.is_empty() {
                            cols.remove(col);
                        }
                    }
                    if cols.is_empty() {
                        self.contrib.remove(&to);
                    }
                }
                self.dirty.insert(to);
            }
        }
        if part.rows.is_empty() && part.contrib.is_empty() {
            return;
        }
        for id in part.rows.keys() {
            self.emitters
                .entry(id.clone())
                .or_default()
                .insert(unit.clone());
            self.dirty.insert(id.clone());
        }
        for ((to, col), refs) in &part.contrib {
            let c = self
                .contrib
                .entry(to.clone())
                .or_default()
                .entry(col)
                .or_default();
            for r in refs {
                *c.entry(r.clone()).or_default() += 1;
            }
            self.dirty.insert(to.clone());
        }
        self.parts.insert(unit, part);
    }

    /// The row a unit's part emits.
    pub fn row(&self, unit: &Unit, id: &RowId) -> Option<&NbRow> {
        self.parts.get(unit)?.rows.get(id)
    }

    /// The status lines of a unit's part.
    pub fn status(&self, unit: &Unit) -> Vec<String> {
        self.parts
            .get(unit)
            .map(|p| p.status.clone())
            .unwrap_or_default()
    }

    /// Brings the dirty rows of `nb` up to date; returns the rows that
    /// really changed (added, removed or different).
    pub fn materialize(&mut self, nb: &mut Nb) -> BTreeSet<RowId> {
        let mut changed = BTreeSet::new();
        for id in std::mem::take(&mut self.dirty) {
            let first = self.emitters.get(&id).and_then(|e| e.iter().next());
            let row = first
                .and_then(|u| self.parts.get(u)?.rows.get(&id))
                .map(|r| {
                    let mut r = r.clone();
                    if let Some(cols) = self.contrib.get(&id) {
                        for (col, refs) in cols {
                            r.add_refs(col, refs.keys().cloned());
                        }
                    }
                    r
                });
            match row {
                Some(r) => {
                    if nb.rows.get(&id) != Some(&r) {
                        nb.rows.insert(id.clone(), r);
                        changed.insert(id);
                    }
                }
                None => {
                    if nb.rows.remove(&id).is_some() {
                        changed.insert(id);
                    }
                }
            }
        }
        changed
    }
}
