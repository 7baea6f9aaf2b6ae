//! The order in which ovn-northd meets new NB rows of one table.
//!
//! northd allocates datapath tunnel keys to new switches in the iteration
//! order of its OVSDB IDL table (`NBREC_LOGICAL_SWITCH_TABLE_FOR_EACH`), an
//! OVS `hmap` keyed by the first 32 bits of the row UUID (`uuid_hash()`).
//! Rows enter that hmap in the iteration order of the JSON object of the
//! monitor update (an OVS `shash`, keyed by `hash_string()` of the UUID
//! text), whose text arrives sorted by UUID. This module simulates that
//! IDL with the OVS hash functions and hmap of [`ovsdb::ovs_hash`],
//! verified against ovn-northd 23.03 on OVS 3.1 (see the tests).

use std::collections::BTreeMap;

use ovsdb::Uuid;

pub use ovsdb::ovs_hash::{final_mask, hash_bytes, hash_string, uuid_hash, Hmap};

/// The rows of one IDL table as northd's IDL holds them.
#[derive(Clone, Debug, Default)]
pub struct IdlTable {
    rows: Hmap<Uuid>,
}

impl IdlTable {
    /// Applies one monitor update: `changed` lists every row of the table in
    /// the update (inserted, modified or deleted), `inserted` and `deleted`
    /// the subsets. Returns the inserted rows in the order northd will iterate
    /// them.
    pub fn update(&mut self, changed: &[Uuid], inserted: &[Uuid], deleted: &[Uuid]) -> Vec<Uuid> {
        for d in deleted {
            self.rows.remove(d, uuid_hash(d));
        }
        // The update's JSON object, parsed in (sorted) text order.
        let mut texts: Vec<String> = changed.iter().map(Uuid::to_string).collect();
        texts.sort();
        texts.dedup();
        let mut object: Hmap<String> = Hmap::default();
        for t in texts {
            let h = hash_string(&t);
            object.insert(t, h);
        }
        let new: std::collections::BTreeSet<Uuid> = inserted.iter().copied().collect();
        for t in object.iter() {
            if let Ok(u) = Uuid::parse_str(t) {
                if new.contains(&u) {
                    self.rows.insert(u, uuid_hash(&u));
                }
            }
        }
        self.rows
            .iter()
            .filter(|u| new.contains(u))
            .copied()
            .collect()
    }
}

/// Assigns each inserted row its rank in northd's iteration order.
pub fn ranks(order: &[Uuid]) -> BTreeMap<Uuid, u32> {
    order
        .iter()
        .enumerate()
        .map(|(i, u)| (*u, i as u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_of(uuids: &[&str]) -> Vec<usize> {
        let us: Vec<Uuid> = uuids.iter().map(|s| Uuid::parse_str(s).unwrap()).collect();
        let mut t = IdlTable::default();
        let got = t.update(&us, &us, &[]);
        got.iter()
            .map(|u| us.iter().position(|x| x == u).unwrap() + 1)
            .collect()
    }

    /// Ten switches created in one transaction by `ovn-nbctl -- ls-add s1 …`;
    /// ovn-northd 23.03 numbered them s4 s1 s3 s10 s8 s5 s9 s6 s7 s2.
    #[test]
    fn matches_northd_for_random_uuids() {
        let us = [
            "4de5f3d8-7cc8-49d7-9696-d0822653c3e1",
            "a30c3637-ad14-4ac8-9c36-66a1f6c2d007",
            "664e6d71-ccc7-4e5b-a2c6-dda22a6a1019",
            "20081050-df8b-4419-aabf-6b965cedb0b5",
            "54404c85-f3af-43b2-894a-4a4f9127122b",
            "7a75e917-d889-426a-89de-6efb353045dd",
            "06542677-d289-4960-9d0f-3aab8c4d1f11",
            "ab4abd7a-ecc7-467f-b816-ae25b53fadbe",
            "d62e3e76-d67d-4b8d-b3aa-ecf01099a7ed",
            "521b60b2-7586-4219-8a63-36f80eb66f02",
        ];
        assert_eq!(order_of(&us), vec![4, 1, 3, 10, 8, 5, 9, 6, 7, 2]);
    }

    /// Twelve switches `00000000-0000-0000-0000-00000000000N` in one
    /// transaction: northd numbered them s3 s4 s11 s12 s10 s2 s6 s9 s1 s8 s5 s7.
    #[test]
    fn matches_northd_for_sequential_uuids() {
        let owned: Vec<String> = (1..=12)
            .map(|i| format!("00000000-0000-0000-0000-{i:012x}"))
            .collect();
        let us: Vec<&str> = owned.iter().map(String::as_str).collect();
        assert_eq!(order_of(&us), vec![3, 4, 11, 12, 10, 2, 6, 9, 1, 8, 5, 7]);
    }
}
