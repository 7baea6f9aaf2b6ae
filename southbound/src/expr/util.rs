//! Small formatting and bit helpers shared by the expression modules, each
//! reproducing the OVS function named in its doc comment.

use std::fmt::Write as _;

/// `0x`-prefixed hexadecimal without leading zeros, or `0`
/// (OVS `ds_put_hex` / `mf_format_subvalue`).
pub(crate) fn format_hex(v: u128) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        let digits = format!("{v:x}");
        // ds_put_hex prints whole bytes: the first byte without padding.
        format!("0x{digits}")
    }
}

/// Dotted-quad IPv4 (`IP_FMT`).
pub(crate) fn format_ipv4(v: u32) -> String {
    let b = v.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// Ethernet address `xx:xx:xx:xx:xx:xx` (`ETH_ADDR_FMT`).
pub(crate) fn format_mac(v: u64) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

/// IPv6 text as glibc `inet_ntop(AF_INET6)` writes it: the first longest
/// run (length ≥ 2) of zero groups becomes `::`, and IPv4-compatible
/// (`::a.b.c.d`) and IPv4-mapped (`::ffff:a.b.c.d`) addresses end in
/// dotted-quad form.
pub(crate) fn format_ipv6(v: u128) -> String {
    let words: Vec<u16> = (0..8).map(|i| (v >> (112 - 16 * i)) as u16).collect();
    let mut best: Option<(usize, usize)> = None;
    let mut cur: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            cur = Some(match cur {
                Some((base, len)) => (base, len + 1),
                None => (i, 1),
            });
        } else if let Some(c) = cur.take() {
            if best.is_none_or(|b| c.1 > b.1) {
                best = Some(c);
            }
        }
    }
    if let Some(c) = cur {
        if best.is_none_or(|b| c.1 > b.1) {
            best = Some(c);
        }
    }
    let best = best.filter(|b| b.1 >= 2);
    let mut s = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some((base, len)) = best {
            if i >= base && i < base + len {
                if i == base {
                    s.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6 {
            if let Some((0, len)) = best {
                if len == 6 || (len == 5 && words[5] == 0xffff) {
                    let _ = write!(s, "{}", format_ipv4(v as u32));
                    return s;
                }
            }
        }
        let _ = write!(s, "{:x}", words[i]);
        i += 1;
    }
    if let Some((base, len)) = best {
        if base + len == 8 {
            s.push(':');
        }
    }
    s
}

/// If `mask` is a CIDR prefix mask, its prefix length (`ipv6_is_cidr`).
pub(crate) fn ipv6_cidr_bits(mask: u128) -> Option<u32> {
    let inv = !mask;
    if inv & inv.wrapping_add(1) == 0 {
        Some(mask.leading_ones())
    } else {
        None
    }
}

/// Number of significant bits of `v` (`mf_subvalue_width`).
pub(crate) fn bit_width(v: u128) -> u32 {
    128 - v.leading_zeros()
}

/// A mask of the low `n` bits.
pub(crate) fn low_bits(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

/// If the 1-bits of `mask` within `[0, width)` form one contiguous run,
/// returns `(start, n_bits)`; otherwise `(0, 0)` (`find_bitwise_range`).
pub(crate) fn bitwise_range(mask: u128, width: u32) -> (u32, u32) {
    let m = mask & low_bits(width);
    if m == 0 {
        return (0, 0);
    }
    let start = m.trailing_zeros();
    let shifted = m >> start;
    let n = shifted.trailing_ones();
    if n >= 128 || shifted >> n == 0 {
        (start, n)
    } else {
        (0, 0)
    }
}

/// Intersects two value/mask pairs; `None` if they conflict
/// (`mf_subvalue_intersect`).
pub(crate) fn intersect(av: u128, am: u128, bv: u128, bm: u128) -> Option<(u128, u128)> {
    if (av ^ bv) & am & bm != 0 {
        None
    } else {
        Some((av | bv, am | bm))
    }
}

/// Hashes a `u64` that is a hash already (FNV of a match): one multiply
/// to spread its bits, instead of SipHash over it.
#[derive(Default)]
pub(crate) struct PreHashed(u64);

impl std::hash::Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
}

/// A map keyed by such hashes.
pub(crate) type HashIndex<V> =
    std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<PreHashed>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_text_matches_glibc_inet_ntop() {
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("::2", "::2"),
            ("ff00::1234", "ff00::1234"),
            (
                "2001:db8:85a3::8a2e:370:7334",
                "2001:db8:85a3::8a2e:370:7334",
            ),
            ("::ffff:192.0.2.128", "::ffff:192.0.2.128"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("1::", "1::"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
            ("ff02::1:ff00:0", "ff02::1:ff00:0"),
        ];
        for (input, want) in cases {
            let v = u128::from(input.parse::<std::net::Ipv6Addr>().unwrap());
            assert_eq!(format_ipv6(v), want, "{input}");
        }
    }

    #[test]
    fn bitwise_range_finds_single_runs_only() {
        assert_eq!(bitwise_range(0xff00, 16), (8, 8));
        assert_eq!(bitwise_range(0x1, 1), (0, 1));
        assert_eq!(bitwise_range(0x101, 16), (0, 0));
        assert_eq!(bitwise_range(u128::MAX, 128), (0, 128));
        assert_eq!(bitwise_range(0, 16), (0, 0));
    }
}
