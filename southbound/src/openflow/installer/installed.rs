//! The flows the switch holds, by key, with the `conj_id`s their matches
//! require counted: whether a change brings a new conjunction (whose
//! clause flows no packet can reach before it commits, see
//! [`super::Installer::sync_changes`]) is then answered per id, not by a
//! walk over the whole table on every change.

use std::collections::{BTreeSet, HashMap};

use crate::flow_table::ByKey;

/// The installed flows by key (table, priority, match).
#[derive(Debug, Default)]
pub(super) struct Installed {
    by_key: BTreeSet<ByKey>,
    /// How many installed flows match on each `conj_id`.
    conj_ids: HashMap<u32, usize>,
}

impl Installed {
    /// The flows of `by_key`, counted.
    pub(super) fn new(by_key: BTreeSet<ByKey>) -> Installed {
        let mut conj_ids = HashMap::new();
        for k in &by_key {
            if let Some(id) = k.0.of_match.conj_id() {
                *conj_ids.entry(id).or_insert(0) += 1;
            }
        }
        Installed { by_key, conj_ids }
    }

    pub(super) fn clear(&mut self) {
        self.by_key.clear();
        self.conj_ids.clear();
    }

    pub(super) fn get(&self, k: &ByKey) -> Option<&ByKey> {
        self.by_key.get(k)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &ByKey> {
        self.by_key.iter()
    }

    /// Installs `k`, or replaces the flow with its key (whose match, and
    /// so `conj_id`, is the same).
    pub(super) fn replace(&mut self, k: ByKey) {
        let id = k.0.of_match.conj_id();
        if self.by_key.replace(k).is_none() {
            if let Some(id) = id {
                *self.conj_ids.entry(id).or_insert(0) += 1;
            }
        }
    }

    pub(super) fn remove(&mut self, k: &ByKey) {
        if let Some(old) = self.by_key.take(k) {
            if let Some(id) = old.0.of_match.conj_id() {
                if let Some(n) = self.conj_ids.get_mut(&id) {
                    *n -= 1;
                    if *n == 0 {
                        self.conj_ids.remove(&id);
                    }
                }
            }
        }
    }

    /// Whether an installed flow matches on `conj_id` `id`.
    pub(super) fn has_conj_id(&self, id: u32) -> bool {
        self.conj_ids.contains_key(&id)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::expr::ofmatch::OfMatch;
    use crate::flow_table::OfFlow;

    fn flow(priority: u16, conj_id: Option<u32>, cookie: u64) -> ByKey {
        let mut of_match = OfMatch::new();
        of_match.set_metadata(1);
        if let Some(id) = conj_id {
            of_match.set_conj_id(id);
        }
        ByKey(Arc::new(OfFlow {
            table: 44,
            priority,
            cookie,
            of_match,
            actions: Vec::new(),
        }))
    }

    #[test]
    fn counts_conj_ids_through_replace_and_remove() {
        let mut t = Installed::new([flow(1, Some(7), 0), flow(2, Some(7), 0)].into());
        assert!(t.has_conj_id(7));
        // Same key again: still two flows with conj_id 7.
        t.replace(flow(1, Some(7), 1));
        t.remove(&flow(1, Some(7), 0));
        assert!(t.has_conj_id(7));
        t.remove(&flow(2, Some(7), 0));
        assert!(!t.has_conj_id(7));
        // Removing what is not there changes nothing.
        t.remove(&flow(2, Some(7), 0));
        t.replace(flow(3, Some(8), 0));
        t.replace(flow(4, None, 0));
        assert!(t.has_conj_id(8) && !t.has_conj_id(7));
        assert_eq!(t.iter().count(), 2);
        t.clear();
        assert!(!t.has_conj_id(8) && t.iter().next().is_none());
    }
}
