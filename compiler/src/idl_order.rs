//! The order in which ovn-northd meets new NB rows of one table.
//!
//! northd allocates datapath tunnel keys to new switches in the iteration
//! order of its OVSDB IDL table (`NBREC_LOGICAL_SWITCH_TABLE_FOR_EACH`), an
//! OVS `hmap` keyed by the first 32 bits of the row UUID (`uuid_hash()`).
//! Rows enter that hmap in the iteration order of the JSON object of the
//! monitor update (an OVS `shash`, keyed by `hash_string()` of the UUID
//! text), whose text arrives sorted by UUID. This module simulates those
//! OVS 3.1 data structures (lib/hash.c `hash_bytes()` in its portable
//! Murmur3 form, lib/hmap.c growth and bucket order), verified against
//! ovn-northd 23.03 on OVS 3.1 (see the tests).

use std::collections::BTreeMap;

use ovsdb::Uuid;

fn mhash_add(hash: u32, data: u32) -> u32 {
    let mut h = hash;
    if data != 0 {
        let d = data
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593);
        h ^= d;
    }
    h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
}

fn mhash_finish(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// OVS `hash_string(s, 0)` (portable build, little-endian).
pub fn hash_string(s: &str) -> u32 {
    hash_bytes(s.as_bytes(), 0)
}

/// OVS `hash_bytes(b, len, basis)` (portable build, little-endian).
pub fn hash_bytes(b: &[u8], basis: u32) -> u32 {
    let mut h = basis;
    let mut chunks = b.chunks_exact(4);
    for c in &mut chunks {
        h = mhash_add(h, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 4];
        w[..rest.len()].copy_from_slice(rest);
        h = mhash_add(h, u32::from_le_bytes(w));
    }
    mhash_finish(h ^ b.len() as u32)
}

/// OVS `uuid_hash()`: the first 32-bit word of the UUID.
pub fn uuid_hash(u: &Uuid) -> u32 {
    let b = u.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn calc_mask(capacity: usize) -> usize {
    let mut mask = capacity / 2;
    for s in [1, 2, 4, 8, 16, 32] {
        mask |= mask >> s;
    }
    mask | ((mask & 1) << 1)
}

/// The mask of an hmap after `n` insertions into an empty one.
pub fn final_mask(n: usize) -> usize {
    let mut mask = 0;
    for k in 1..=n {
        if k / 2 > mask {
            mask = mask.max(calc_mask(k));
        }
    }
    mask
}

/// An OVS `hmap` reduced to what decides iteration order.
#[derive(Clone, Debug)]
pub struct Hmap<T> {
    mask: usize,
    /// Buckets, each listed head first.
    buckets: Vec<Vec<(T, u32)>>,
    n: usize,
}

impl<T: Clone + PartialEq> Default for Hmap<T> {
    fn default() -> Self {
        Hmap {
            mask: 0,
            buckets: vec![Vec::new()],
            n: 0,
        }
    }
}

impl<T: Clone + PartialEq> Hmap<T> {
    fn insert_fast(&mut self, x: T, hash: u32) {
        self.buckets[hash as usize & self.mask].insert(0, (x, hash));
        self.n += 1;
    }

    /// `hmap_insert()`: insert at the bucket head, then grow if loaded.
    pub fn insert(&mut self, x: T, hash: u32) {
        self.insert_fast(x, hash);
        if self.n / 2 > self.mask {
            let new_mask = calc_mask(self.n);
            if new_mask > self.mask {
                let old = std::mem::take(&mut self.buckets);
                self.mask = new_mask;
                self.buckets = vec![Vec::new(); new_mask + 1];
                self.n = 0;
                for (y, h) in old.into_iter().flatten() {
                    self.insert_fast(y, h);
                }
            }
        }
    }

    /// `hmap_remove()` (never shrinks).
    pub fn remove(&mut self, x: &T, hash: u32) {
        let b = &mut self.buckets[hash as usize & self.mask];
        if let Some(i) = b.iter().position(|(y, _)| y == x) {
            b.remove(i);
            self.n -= 1;
        }
    }

    /// Iteration order (`HMAP_FOR_EACH`).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.buckets.iter().flatten().map(|(x, _)| x)
    }
}

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

    #[test]
    fn hash_string_matches_ovs() {
        // Murmur3-based hash_bytes() of the empty string is mhash_finish(0).
        assert_eq!(hash_string(""), 0);
        assert_ne!(hash_string("a"), hash_string("b"));
    }
}
