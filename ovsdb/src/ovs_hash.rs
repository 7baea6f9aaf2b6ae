//! OVS's hash functions and hash map order (OVS 3.1 `lib/hash.c` in its
//! portable Murmur3 form, little-endian, as distribution packages build it
//! without SSE 4.2; `lib/hmap.c` growth and bucket order; `lib/sset.c`).
//!
//! OVN's output depends on them wherever the C daemons walk a hash map:
//! ovn-northd allocates tunnel keys and orders some flows in the order of
//! its IDL tables (the compiler's `idl_order`), ovn-controller starts
//! conjunction ids at `hash_int` of the logical flow's UUID and sends a
//! multicast group's copies to remote chassis in the order of a set of
//! chassis names (the southbound crate).  Simulated here so that both
//! reproduce those orders.

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

/// OVS `hash_string(s, 0)`.
pub fn hash_string(s: &str) -> u32 {
    hash_bytes(s.as_bytes(), 0)
}

/// OVS `hash_bytes(b, len, basis)`: the bytes as little-endian 32-bit
/// words, the last one zero-padded, then the length.
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

/// OVS `hash_int(x, basis)` = `hash_2words(x, basis)`.
pub fn hash_int(x: u32, basis: u32) -> u32 {
    mhash_finish(mhash_add(mhash_add(x, 0), basis) ^ 8)
}

/// OVS `uuid_hash()`: the first 32-bit word of the UUID.
pub fn uuid_hash(u: &crate::Uuid) -> u32 {
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

    /// `hmap_insert()`: insert at the bucket head, then grow if loaded
    /// (re-inserting bucket by bucket, which reverses each list).
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

    /// Whether `x`, with `hash`, is in.
    pub fn contains(&self, x: &T, hash: u32) -> bool {
        self.buckets[hash as usize & self.mask]
            .iter()
            .any(|(y, _)| y == x)
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

/// The order in which `SSET_FOR_EACH` visits a `struct sset` into which
/// `names` were added in this order (`sset_add`: keyed by
/// `hash_bytes(name, 0)`, a name already in is not added again).
pub fn sset_order<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut set: Hmap<&str> = Hmap::default();
    for name in names {
        let hash = hash_string(name);
        if !set.contains(&name, hash) {
            set.insert(name, hash);
        }
    }
    set.iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_string_matches_ovs() {
        // Murmur3-based hash_bytes() of the empty string is mhash_finish(0).
        assert_eq!(hash_string(""), 0);
        assert_ne!(hash_string("a"), hash_string("b"));
        // "abc" is one zero-padded word, then its length.
        assert_eq!(
            hash_string("abc"),
            mhash_finish(mhash_add(0, u32::from_le_bytes(*b"abc\0")) ^ 3)
        );
    }

    #[test]
    fn ssets_hold_each_name_once() {
        assert_eq!(sset_order(["hv2", "hv2"]), ["hv2"]);
        let names: Vec<String> = (0..40).map(|i| format!("chassis-{i}")).collect();
        let mut order = sset_order(names.iter().map(String::as_str));
        assert_eq!(order.len(), 40);
        order.sort();
        let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
        want.sort();
        assert_eq!(order, want);
        // Two names: four buckets (the table grew at the second), in
        // bucket order.
        let two = sset_order(["hv2", "hv3"]);
        let (a, b) = (hash_string("hv2") & 3, hash_string("hv3") & 3);
        if a != b {
            assert_eq!(two[0], if a < b { "hv2" } else { "hv3" });
        }
    }
}
