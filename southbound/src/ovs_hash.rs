//! OVS's hash functions (`lib/hash.h`, the generic build distribution
//! packages ship, without SSE 4.2 CRC32) and the iteration order of its
//! string sets (`lib/sset.c` over `lib/hmap.c`), where ovn-controller's
//! output depends on them: conjunction ids start at a hash of the logical
//! flow ([`crate::lflow::conj_ids`]), and a multicast group's copies to
//! remote chassis go out in the order of a set of chassis names
//! ([`crate::physical::mcast`]).

/// OVS `mhash_add`.
fn mhash_add(hash: u32, data: u32) -> u32 {
    let mut hash = hash;
    if data != 0 {
        let d = data
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593);
        hash ^= d;
    }
    hash.rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

/// OVS `mhash_finish`.
fn mhash_finish(mut hash: u32) -> u32 {
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

/// OVS `hash_int(x, basis)` = `hash_2words(x, basis)`.
pub fn hash_int(x: u32, basis: u32) -> u32 {
    mhash_finish(mhash_add(mhash_add(x, 0), basis) ^ 8)
}

/// OVS `hash_bytes(p, n, basis)`: the bytes as little-endian 32-bit words
/// (x86), the last one zero-padded, then the length.
pub fn hash_bytes(bytes: &[u8], basis: u32) -> u32 {
    let mut hash = basis;
    let mut words = bytes.chunks_exact(4);
    for w in &mut words {
        hash = mhash_add(hash, u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut tmp = [0u8; 4];
        tmp[..rest.len()].copy_from_slice(rest);
        hash = mhash_add(hash, u32::from_le_bytes(tmp));
    }
    mhash_finish(hash ^ bytes.len() as u32)
}

/// The order in which `SSET_FOR_EACH` visits a `struct sset` into which
/// `names` were added in this order (`sset_add`: a name already in is not
/// added again).  An sset is an `hmap` keyed by `hash_bytes(name, 0)`:
/// buckets in index order, each a list with the latest insertion first;
/// when it holds more than twice as many nodes as buckets it grows to the
/// power of two `calc_mask` gives (at least four buckets), re-inserting
/// the nodes bucket by bucket, which reverses each list.
pub fn sset_order<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut buckets: Vec<Vec<(u32, &str)>> = vec![Vec::new()];
    let mut n = 0usize;
    for name in names {
        let hash = hash_bytes(name.as_bytes(), 0);
        let mask = buckets.len() - 1;
        if buckets[hash as usize & mask]
            .iter()
            .any(|&(_, x)| x == name)
        {
            continue;
        }
        buckets[hash as usize & mask].insert(0, (hash, name));
        n += 1;
        if n / 2 > mask {
            let new_mask = calc_mask(n);
            if new_mask > mask {
                let mut grown: Vec<Vec<(u32, &str)>> = vec![Vec::new(); new_mask + 1];
                for node in buckets.into_iter().flatten() {
                    grown[node.0 as usize & new_mask].insert(0, node);
                }
                buckets = grown;
            }
        }
    }
    buckets
        .into_iter()
        .flatten()
        .map(|(_, name)| name)
        .collect()
}

/// `calc_mask` of `lib/hmap.c`.
fn calc_mask(capacity: usize) -> usize {
    let mut mask = capacity / 2;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    mask | ((mask & 1) << 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_keep_one_of_each_name_in_hash_order() {
        // One node: one bucket. Two: four buckets, by hash.
        assert_eq!(sset_order(["hv2"]), ["hv2"]);
        let two = sset_order(["hv2", "hv3", "hv2"]);
        assert_eq!(two.len(), 2);
        let mut by_bucket = ["hv2", "hv3"];
        by_bucket.sort_by_key(|n| hash_bytes(n.as_bytes(), 0) & 3);
        if hash_bytes(b"hv2", 0) & 3 != hash_bytes(b"hv3", 0) & 3 {
            assert_eq!(two, by_bucket);
        }
        // Many: every name once, whatever the order.
        let names: Vec<String> = (0..40).map(|i| format!("chassis-{i}")).collect();
        let mut order = sset_order(names.iter().map(String::as_str));
        order.sort();
        let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
        want.sort();
        assert_eq!(order, want);
    }

    #[test]
    fn hash_bytes_pads_the_last_word_and_adds_the_length() {
        // "abcd" is one word; "abc" is the same word but "d" as zero, and
        // its own length.
        assert_ne!(hash_bytes(b"abcd", 0), hash_bytes(b"abc", 0));
        assert_eq!(
            hash_bytes(b"abc", 0),
            mhash_finish(mhash_add(0, u32::from_le_bytes(*b"abc\0")) ^ 3)
        );
    }
}
