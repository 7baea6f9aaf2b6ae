//! Conjunction id allocation (`controller/lflow-conj-ids.c`, 23.03): each
//! (logical flow, datapath) pair asks for `n` consecutive ids starting at
//! `hash_int(uuid_hash(lflow), uuid_hash(dp))` so ids are stable across
//! recomputes; taken ranges move to the next free one, 0 is never used.
//! The incremental engine keeps one allocator for the chassis and frees a
//! logical flow's ranges before translating it again
//! (`lflow_conj_ids_free`), so two logical flows never share an id.

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::ovs_hash::{hash_int, uuid_hash};
use ovsdb::Uuid;

/// The allocated conjunction ids of one chassis.
#[derive(Debug, Clone, Default)]
pub struct ConjIds {
    used: BTreeSet<u32>,
    /// Each logical flow's ranges (start, length).
    owned: BTreeMap<Uuid, Vec<(u32, u32)>>,
}

impl ConjIds {
    /// Allocates `n` consecutive ids for `(lflow, dp)`; returns the first,
    /// or `None` if ids are exhausted (`lflow_conj_ids_alloc`).
    pub fn alloc(&mut self, lflow: &Uuid, dp: &Uuid, n: u32) -> Option<u32> {
        if n == 0 {
            return None;
        }
        let mut start = hash_int(uuid_hash(lflow), uuid_hash(dp)).max(1);
        let initial_id = start;
        let mut initial = true;
        loop {
            start = start.max(1);
            let mut available = true;
            let mut id = start;
            for _ in 0..n {
                if id == 0 {
                    // Wrapped around: the range must be contiguous.
                    available = false;
                    break;
                }
                if !initial && id == initial_id {
                    return None;
                }
                initial = false;
                if self.used.contains(&id) {
                    available = false;
                    break;
                }
                id = id.wrapping_add(1);
            }
            if available {
                self.used.extend((0..n).map(|i| start + i));
                self.owned.entry(*lflow).or_default().push((start, n));
                return Some(start);
            }
            start = id.wrapping_add(1);
        }
    }
}

impl ConjIds {
    /// Gives back every range `lflow` holds.
    pub fn free(&mut self, lflow: &Uuid) {
        for (start, n) in self.owned.remove(lflow).unwrap_or_default() {
            for id in start..start + n {
                self.used.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The start ids themselves are checked against a real ovn-controller by
    // `compiler/cli/tests/flows_live.rs` (the acls entry has conjunctive
    // ACL matches; conjunction ids are compared unnormalized).

    #[test]
    fn taken_ranges_move_on() {
        let mut ids = ConjIds::default();
        let l = Uuid::from_u128(1);
        let d = Uuid::from_u128(2);
        let want = hash_int(uuid_hash(&l), uuid_hash(&d));
        ids.used.insert(want + 1);
        assert_eq!(ids.alloc(&l, &d, 2), Some(want + 2));
    }

    #[test]
    fn freed_ranges_are_reused() {
        let mut ids = ConjIds::default();
        let (a, b, d) = (Uuid::from_u128(1), Uuid::from_u128(3), Uuid::from_u128(2));
        // Same first 32 bits: same start, so b moves past a.
        let sa = ids.alloc(&a, &d, 2).unwrap();
        let sb = ids.alloc(&b, &d, 1).unwrap();
        assert_eq!(sb, sa + 2);
        ids.free(&a);
        assert_eq!(ids.alloc(&a, &d, 1), Some(sa));
        ids.free(&b);
        ids.free(&a);
        assert!(ids.used.is_empty() && ids.owned.is_empty());
    }
}
