//! Identifiers: deterministic SB row UUIDs and tunnel-key allocation.
//!
//! ovn-northd lets ovsdb-server pick random UUIDs for the rows it inserts; we
//! derive them from what identifies each row instead (the NB row for a
//! `Datapath_Binding`, the whole flow for a `Logical_Flow`, …), so a row keeps
//! its UUID for as long as it is unchanged, across batches and restarts.

use ovsdb::Uuid;

/// A version-8 (custom) UUID from a 128-bit hash of `kind` and `parts`,
/// each part length-prefixed so that different splits hash differently.
///
/// The hash reads 8 bytes at a time into two independent lanes, each
/// mixed by a folded 64×64→128-bit multiply (wyhash's "mum"), and ends
/// with one cross-mix per lane. It is not cryptographic; what matters is
/// that distinct rows get distinct UUIDs (128 bits: no collision in
/// practice) and that it is cheap: `Hash128` runs over the match and
/// actions of every logical flow (once, for its grouping key, whose hash
/// then names its row).
pub fn derive(kind: &str, parts: &[&[u8]]) -> Uuid {
    let mut h = Hash128::new();
    h.part(kind.as_bytes());
    for p in parts {
        h.part(p);
    }
    uuid::Builder::from_custom_bytes(h.finish()).into_uuid()
}

/// The two-lane hash state of [`derive`], also used where a fast 64-bit
/// hash of long values is wanted (a logical flow's grouping key, a set of
/// datapaths).
pub(crate) struct Hash128 {
    a: u64,
    b: u64,
}

/// Folded multiply: the xor of the 128-bit product's halves.
#[inline(always)]
fn mum(x: u64, y: u64) -> u64 {
    let r = (x as u128).wrapping_mul(y as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Hash128 {
    const K0: u64 = 0xa076_1d64_78bd_642f;
    const K1: u64 = 0xe703_7ed1_a0b4_28db;
    const K2: u64 = 0x8ebc_6af0_9c88_c6e3;
    const K3: u64 = 0x5899_65cc_7537_4cc3;

    pub(crate) fn new() -> Hash128 {
        Hash128 {
            a: Self::K0,
            b: Self::K1,
        }
    }

    /// Eats one 64-bit word (callers of fixed-size items).
    #[inline(always)]
    pub(crate) fn word(&mut self, w: u64) {
        self.a = mum(self.a ^ w, Self::K2);
        self.b = mum(self.b ^ w.rotate_left(29), Self::K3);
    }

    /// Eats `bytes` with its length first.
    pub(crate) fn part(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(w));
        }
    }

    /// The first 64 bits of [`Hash128::finish`].
    pub(crate) fn finish64(self) -> u64 {
        self.finish_words()[0]
    }

    /// The 128-bit hash, big-endian.
    pub(crate) fn finish(self) -> [u8; 16] {
        let [hi, lo] = self.finish_words();
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&hi.to_be_bytes());
        out[8..].copy_from_slice(&lo.to_be_bytes());
        out
    }

    /// The 128-bit hash as two words, the first 64 bits first.
    pub(crate) fn finish_words(self) -> [u64; 2] {
        let hi = mum(self.a ^ Self::K1, self.b ^ Self::K2);
        let lo = mum(self.b ^ Self::K3, self.a ^ Self::K0);
        let hi = mum(hi ^ lo.rotate_left(17), Self::K3);
        let lo = mum(lo ^ hi.rotate_left(41), Self::K2);
        [hi, lo]
    }
}

/// SB `Datapath_Binding` UUID of the NB switch or router `nb`.
pub fn datapath_uuid(nb: Uuid) -> Uuid {
    derive("Datapath_Binding", &[nb.as_bytes()])
}

/// SB `Port_Binding` UUID of the NB logical port named `name`
/// (northd matches Port_Bindings by `logical_port`).
pub fn port_binding_uuid(name: &str) -> Uuid {
    derive("Port_Binding", &[name.as_bytes()])
}

/// SB `Multicast_Group` UUID of group `name` on NB datapath `dp`.
pub fn multicast_group_uuid(dp: Uuid, name: &str) -> Uuid {
    derive("Multicast_Group", &[dp.as_bytes(), name.as_bytes()])
}

/// The key owner standing for the chassisredirect port (`cr-<name>`) of
/// the distributed gateway port with NB UUID `lrp` (it has no NB row).
pub fn cr_port_owner(lrp: Uuid) -> Uuid {
    derive("chassisredirect", &[lrp.as_bytes()])
}

/// SB `HA_Chassis_Group` UUID of the group named `name` (northd finds its
/// groups by name).
pub fn ha_chassis_group_uuid(name: &str) -> Uuid {
    derive("HA_Chassis_Group", &[name.as_bytes()])
}

/// SB `HA_Chassis` UUID of chassis `chassis` with `priority` in group
/// `group`.
pub fn ha_chassis_uuid(group: &str, chassis: &str, priority: i64) -> Uuid {
    derive(
        "HA_Chassis",
        &[
            group.as_bytes(),
            chassis.as_bytes(),
            &priority.to_le_bytes(),
        ],
    )
}

/// SB `Logical_DP_Group` UUID of a sorted set of SB datapath UUIDs.
pub fn dp_group_uuid(datapaths: &[Uuid]) -> Uuid {
    let bytes: Vec<u8> = datapaths.iter().flat_map(|u| *u.as_bytes()).collect();
    derive("Logical_DP_Group", &[&bytes])
}

/// One candidate for a tunnel key within one key space.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyRequest<T> {
    /// The order in which northd would meet this candidate among new ones.
    pub order: T,
    /// Identity of the owner (NB row UUID).
    pub owner: Uuid,
    /// Explicitly requested key (`requested-tnl-key`).
    pub requested: Option<u32>,
    /// The key the owner holds in the current SB, if any.
    pub previous: Option<u32>,
}

/// Where `ovn_allocate_tnlid()` starts searching for a free key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// From the bottom of the range on every run (`build_datapaths()`: a local
    /// `hint = 0`), i.e. lowest free keys.
    Zero,
    /// After the highest key requested or kept in this run
    /// (`ovn_port_add_tnlid()` raises `od->port_key_hint`), wrapping around.
    MaxAssigned,
}

/// Assigns tunnel keys as northd 23.03 does (`build_datapaths()` /
/// `build_ports()` with `ovn_allocate_tnlid()`):
/// 1. explicitly requested keys, first come first served, previously bound
///    owners first;
/// 2. owners keep their previous key unless it is now taken;
/// 3. the rest get the next free key after the hint in `min..=max`
///    (wrapping around), in `order`; each allocation moves the hint.
///
/// Owners for which no key is left are omitted (northd deletes them).
pub fn allocate<T: Ord + Clone>(
    candidates: &[KeyRequest<T>],
    min: u32,
    max: u32,
    hint: Hint,
) -> Vec<(Uuid, u32)> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut taken: BTreeSet<u32> = BTreeSet::new();
    let mut assigned: BTreeMap<Uuid, u32> = BTreeMap::new();
    // "both" (present in SB) before "nb_only", each in northd's order.
    let mut ordered: Vec<&KeyRequest<T>> = candidates.iter().collect();
    ordered.sort_by(|a, b| {
        (a.previous.is_none(), &a.order, a.owner).cmp(&(b.previous.is_none(), &b.order, b.owner))
    });
    for c in &ordered {
        if let Some(k) = c.requested {
            if taken.insert(k) {
                assigned.insert(c.owner, k);
            }
        }
    }
    for c in &ordered {
        if let (false, Some(k)) = (assigned.contains_key(&c.owner), c.previous) {
            if taken.insert(k) {
                assigned.insert(c.owner, k);
            }
        }
    }
    let mut hint = match hint {
        Hint::Zero => 0,
        Hint::MaxAssigned => assigned.values().copied().max().unwrap_or(0),
    };
    let size = u64::from(max - min) + 1;
    for c in &ordered {
        if assigned.contains_key(&c.owner) {
            continue;
        }
        // next_tnlid(): hint + 1, wrapping from max to min.
        let start = if hint < min || hint >= max {
            0
        } else {
            u64::from(hint - min) + 1
        };
        let found = (0..size)
            .map(|i| min + ((start + i) % size) as u32)
            .take_while(|k| *k != hint)
            .find(|k| !taken.contains(k));
        let Some(k) = found else { break };
        taken.insert(k);
        assigned.insert(c.owner, k);
        hint = k;
    }
    assigned.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn req(
        order: u32,
        owner: u128,
        requested: Option<u32>,
        previous: Option<u32>,
    ) -> KeyRequest<u32> {
        KeyRequest {
            order,
            owner: u(owner),
            requested,
            previous,
        }
    }

    #[test]
    fn new_owners_get_lowest_free_keys_in_order() {
        let got = allocate(
            &[
                req(2, 1, None, None),
                req(1, 2, None, Some(2)),
                req(0, 3, None, None),
            ],
            1,
            10,
            Hint::Zero,
        );
        assert_eq!(got, vec![(u(1), 3), (u(2), 2), (u(3), 1)]);
    }

    #[test]
    fn requested_key_wins_over_previous_holder() {
        let got = allocate(
            &[req(0, 1, None, Some(5)), req(1, 2, Some(5), None)],
            1,
            10,
            Hint::Zero,
        );
        assert_eq!(got, vec![(u(1), 1), (u(2), 5)]);
    }

    #[test]
    fn exhausted_space_omits_owner() {
        let got = allocate(
            &[req(0, 1, None, None), req(1, 2, None, None)],
            1,
            1,
            Hint::Zero,
        );
        assert_eq!(got, vec![(u(1), 1)]);
    }

    /// Ports: a deleted port's key is not reused while higher keys exist.
    #[test]
    fn port_keys_continue_after_the_highest_kept_key() {
        let got = allocate(
            &[
                req(0, 1, None, Some(1)),
                req(0, 3, None, Some(3)),
                req(0, 4, None, None),
            ],
            1,
            10,
            Hint::MaxAssigned,
        );
        assert_eq!(got, vec![(u(1), 1), (u(3), 3), (u(4), 4)]);
        let wrap = allocate(
            &[req(0, 1, None, Some(3)), req(0, 2, None, None)],
            1,
            3,
            Hint::MaxAssigned,
        );
        assert_eq!(wrap, vec![(u(1), 3), (u(2), 1)]);
    }

    #[test]
    fn derived_uuids_differ_by_part_split() {
        assert_ne!(derive("x", &[b"ab", b"c"]), derive("x", &[b"a", b"bc"]));
        assert_eq!(datapath_uuid(u(7)), datapath_uuid(u(7)));
        // Trailing zero bytes are not padding: the length tells them apart.
        assert_ne!(derive("x", &[b"a"]), derive("x", &[b"a\0"]));
        assert_ne!(derive("x", &[]), derive("y", &[]));
    }

    #[test]
    fn derived_uuids_do_not_collide_on_similar_inputs() {
        use std::collections::HashSet;
        let mut seen = HashSet::new();
        for i in 0u32..20_000 {
            let m = format!(
                "inport == \"lsp{i}\" && eth.src == 0a:00:00:00:{:02x}:{:02x}",
                i >> 8,
                i & 0xff
            );
            assert!(seen.insert(derive("Logical_Flow", &[m.as_bytes(), b"next;"])));
            assert!(seen.insert(derive("Logical_Flow", &[&i.to_be_bytes()])));
        }
    }
}
