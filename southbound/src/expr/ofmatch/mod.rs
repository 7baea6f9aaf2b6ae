//! An OpenFlow match over the fields OVN logical flows use, and its text
//! form exactly as `ovs-ofctl` prints it (OVS 3.1 `match_format`).
//!
//! Values are kept per member of OVS `struct flow` ([`Slot`]); several
//! logical fields share one member as in OVS (e.g. `ip4.src` and `arp.spa`
//! are both `nw_src`; `icmp4.type` and `tcp.src` are both `tp_src`).

use std::fmt;

mod format;

use super::symtab::Field;
use super::util::low_bits;

/// A member of OVS `struct flow` that a match constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Slot {
    PktMark,
    ConjId,
    CtState,
    CtMark,
    CtLabel,
    DlType,
    /// Register `regN`, N < 16.
    Reg(u8),
    Metadata,
    VlanTci,
    DlSrc,
    DlDst,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    NwSrc,
    NwDst,
    NwProto,
    ArpSha,
    ArpTha,
    NwTos,
    NwTtl,
    NwFrag,
    TpSrc,
    TpDst,
    NdTarget,
    TcpFlags,
    /// OpenFlow ingress port (physical flows).
    InPort,
    /// Tunnel id (physical flows).
    TunId,
    /// Geneve option `tun_metadata0` (physical flows).
    TunMetadata0,
}

/// Number of distinct slots (`Reg(0)`..`Reg(15)` counted one by one).
const N_SLOTS: usize = 44;

impl Slot {
    /// Its number in [`Slot`]'s order (`Reg(n)` is 6 + n).
    fn id(self) -> u8 {
        use Slot::*;
        match self {
            PktMark => 0,
            ConjId => 1,
            CtState => 2,
            CtMark => 3,
            CtLabel => 4,
            DlType => 5,
            Reg(n) => {
                debug_assert!(n < 16, "reg{n}");
                6 + (n & 15)
            }
            Metadata => 22,
            VlanTci => 23,
            DlSrc => 24,
            DlDst => 25,
            Ipv6Src => 26,
            Ipv6Dst => 27,
            Ipv6Label => 28,
            NwSrc => 29,
            NwDst => 30,
            NwProto => 31,
            ArpSha => 32,
            ArpTha => 33,
            NwTos => 34,
            NwTtl => 35,
            NwFrag => 36,
            TpSrc => 37,
            TpDst => 38,
            NdTarget => 39,
            TcpFlags => 40,
            InPort => 41,
            TunId => 42,
            TunMetadata0 => 43,
        }
    }
}

/// The slot of each id ([`Slot::id`]) and its width in bytes (that of the
/// OVS `struct flow` member).
const SLOTS: [(Slot, u8); N_SLOTS] = {
    use Slot::*;
    [
        (PktMark, 4),
        (ConjId, 4),
        (CtState, 4),
        (CtMark, 4),
        (CtLabel, 16),
        (DlType, 2),
        (Reg(0), 4),
        (Reg(1), 4),
        (Reg(2), 4),
        (Reg(3), 4),
        (Reg(4), 4),
        (Reg(5), 4),
        (Reg(6), 4),
        (Reg(7), 4),
        (Reg(8), 4),
        (Reg(9), 4),
        (Reg(10), 4),
        (Reg(11), 4),
        (Reg(12), 4),
        (Reg(13), 4),
        (Reg(14), 4),
        (Reg(15), 4),
        (Metadata, 8),
        (VlanTci, 2),
        (DlSrc, 6),
        (DlDst, 6),
        (Ipv6Src, 16),
        (Ipv6Dst, 16),
        (Ipv6Label, 4),
        (NwSrc, 4),
        (NwDst, 4),
        (NwProto, 1),
        (ArpSha, 6),
        (ArpTha, 6),
        (NwTos, 1),
        (NwTtl, 1),
        (NwFrag, 1),
        (TpSrc, 2),
        (TpDst, 2),
        (NdTarget, 16),
        (TcpFlags, 2),
        (InPort, 2),
        (TunId, 8),
        (TunMetadata0, 4),
    ]
};

/// The longest entry: slot id, then value and mask of the widest slot.
const MAX_ENTRY: usize = 1 + 2 * 16;

/// Width in bytes of the slot numbered `id`.
fn width(id: u8) -> usize {
    usize::from(SLOTS[usize::from(id)].1)
}

fn read_be(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u128::from(b))
}

/// A match: for each constrained slot, `(value, mask)` with value ⊆ mask.
///
/// Held packed (issue 9: ~10,000 flows per chassis are kept): one byte
/// string of entries `[slot id, value, mask]`, value and mask big-endian
/// in the slot's width, sorted by slot.  Byte order over this string is
/// the order of the slots' `(slot, (value, mask))` list (an entry's
/// width depends only on its slot), so matches sort as a sorted map of
/// their slots would.  One small allocation, cheap to clone, hash and
/// compare — flows are keyed by their match in the engine and installer.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfMatch {
    bytes: Vec<u8>,
}

impl fmt::Debug for OfMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.slots().map(|(s, v, m)| (s, (v, m))))
            .finish()
    }
}

/// A match unpacked into one entry per slot, for reading many slots
/// (encoding, printing) without a scan per slot.
pub struct Dense {
    vals: [(u128, u128); N_SLOTS],
    present: u64,
}

impl Dense {
    /// The constraint on one slot, if any (as [`OfMatch::get`]).
    pub fn get(&self, slot: Slot) -> Option<(u128, u128)> {
        let id = usize::from(slot.id());
        (self.present & (1 << id) != 0).then(|| self.vals[id])
    }

    /// The constraint on one slot, `(0, 0)` if none.
    pub fn value(&self, slot: Slot) -> (u128, u128) {
        self.vals[usize::from(slot.id())]
    }
}

/// The slot entries of a packed match, in order.
struct Entries<'a> {
    rest: &'a [u8],
}

impl Iterator for Entries<'_> {
    type Item = (Slot, u128, u128);

    fn next(&mut self) -> Option<(Slot, u128, u128)> {
        let (&id, rest) = self.rest.split_first()?;
        let w = width(id);
        let (v, rest) = rest.split_at(w);
        let (m, rest) = rest.split_at(w);
        self.rest = rest;
        Some((SLOTS[usize::from(id)].0, read_be(v), read_be(m)))
    }
}

const IP_DSCP_MASK: u128 = 0xfc;
const IP_ECN_MASK: u128 = 0x03;

impl OfMatch {
    /// The catch-all match.
    pub fn new() -> OfMatch {
        OfMatch::default()
    }

    /// The match unpacked for reading many slots.
    pub fn dense(&self) -> Dense {
        let mut d = Dense {
            vals: [(0, 0); N_SLOTS],
            present: 0,
        };
        let mut rest = &self.bytes[..];
        while let Some((&id, r)) = rest.split_first() {
            let w = width(id);
            d.vals[usize::from(id)] = (read_be(&r[..w]), read_be(&r[w..2 * w]));
            d.present |= 1 << id;
            rest = &r[2 * w..];
        }
        d
    }

    /// The constrained slots, in order, as `(slot, value, mask)`.
    pub fn slots(&self) -> impl Iterator<Item = (Slot, u128, u128)> + '_ {
        Entries { rest: &self.bytes }
    }

    /// A cheap hash of the match (FNV-1a over the packed bytes), for
    /// finding identical matches in a batch.
    pub fn fast_hash(&self) -> u64 {
        self.bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// The packed form (see [`OfMatch`]): equal matches have equal bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Where the entry of slot `id` is (`Ok`: its offset) or would go
    /// (`Err`).
    fn find(&self, id: u8) -> Result<usize, usize> {
        let mut i = 0;
        while let Some(&at) = self.bytes.get(i) {
            if at == id {
                return Ok(i);
            }
            if at > id {
                return Err(i);
            }
            i += 1 + 2 * width(at);
        }
        Err(i)
    }

    /// The constraint on one slot, if any.
    pub fn get(&self, slot: Slot) -> Option<(u128, u128)> {
        let id = slot.id();
        let i = self.find(id).ok()?;
        let w = width(id);
        let v = &self.bytes[i + 1..i + 1 + w];
        let m = &self.bytes[i + 1 + w..i + 1 + 2 * w];
        Some((read_be(v), read_be(m)))
    }

    /// A copy with room for `entries` more slot entries of any width, so
    /// that constraining it does not reallocate (a clause flow is its
    /// conjunction's base match plus one slot, then its datapath's
    /// `metadata`).
    pub fn clone_with_room(&self, entries: usize) -> OfMatch {
        let mut bytes = Vec::with_capacity(self.bytes.len() + entries * MAX_ENTRY);
        bytes.extend_from_slice(&self.bytes);
        OfMatch { bytes }
    }

    /// Gives back the room the slots grew into (a flow kept in the
    /// desired table holds its match for long).
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// Sets a slot to `value/mask`, replacing any constraint (mask 0 removes
    /// it).  Bits beyond the slot's width are not kept.
    pub fn set_slot(&mut self, slot: Slot, value: u128, mask: u128) {
        let id = slot.id();
        let w = width(id);
        let full = if w == 16 {
            u128::MAX
        } else {
            (1u128 << (8 * w)) - 1
        };
        debug_assert!(mask & !full == 0, "{slot:?} mask {mask:#x} too wide");
        let mask = mask & full;
        let value = value & mask;
        let place = self.find(id);
        if mask == 0 {
            if let Ok(i) = place {
                self.bytes.drain(i..i + 1 + 2 * w);
            }
            return;
        }
        let v = value.to_be_bytes();
        let m = mask.to_be_bytes();
        let mut buf = [0u8; MAX_ENTRY];
        buf[0] = id;
        buf[1..1 + w].copy_from_slice(&v[16 - w..]);
        buf[1 + w..1 + 2 * w].copy_from_slice(&m[16 - w..]);
        let entry = &buf[..1 + 2 * w];
        match place {
            // An entry's width depends only on its slot: replaced in place.
            Ok(i) => self.bytes[i..i + entry.len()].copy_from_slice(entry),
            Err(i) => {
                self.bytes.extend_from_slice(entry);
                self.bytes[i..].rotate_right(entry.len());
            }
        }
    }

    /// Replaces only the `bits` of a slot (for slots shared by two fields).
    fn set_slot_bits(&mut self, slot: Slot, value: u128, bits: u128) {
        let (v, m) = self.get(slot).unwrap_or((0, 0));
        self.set_slot(slot, (v & !bits) | (value & bits), m | bits);
    }

    /// Sets `conj_id` (OVS `match_set_conj_id`).
    pub fn set_conj_id(&mut self, id: u32) {
        self.set_slot(Slot::ConjId, u128::from(id), u128::from(u32::MAX));
    }

    /// The `conj_id` this match requires, if any (a conjunctive match's
    /// action flow).
    pub fn conj_id(&self) -> Option<u32> {
        self.get(Slot::ConjId).map(|(v, _)| v as u32)
    }

    /// Sets `metadata`, i.e. the logical datapath.
    pub fn set_metadata(&mut self, metadata: u64) {
        self.set_slot(Slot::Metadata, u128::from(metadata), u128::from(u64::MAX));
    }

    /// Replaces the whole of `field` with `value/mask` (OVS
    /// `mf_mask_subfield` followed by `mf_set`).  As in OVS, a mask that is
    /// neither all-zero nor all-one bytes is ignored on fields that cannot be
    /// masked.
    pub fn set_field(&mut self, field: Field, value: u128, mask: u128) {
        let n_bytes = field.n_bits().div_ceil(8);
        let full = low_bits(n_bytes * 8);
        let (value, mask) = (value & full, mask & full);
        if mask != full && mask != 0 && !field.maskable() {
            return;
        }
        // A mask covering the whole field is exact: OVS encodes it so, and
        // `ovs-ofctl dump-flows` shows it so (e.g. `ipv6_label=0x12345`).
        let exact = mask == full || mask == low_bits(field.n_bits());
        let exact_or = |m: u128| if exact { m } else { mask };
        use Field::*;
        match field {
            Reg(n) => self.set_slot(Slot::Reg(n), value, mask),
            Xreg(n) | Xxreg(n) => {
                let (first, count) = match field {
                    Xreg(_) => (2 * n, 2u8),
                    _ => (4 * n, 4u8),
                };
                for i in 0..count {
                    let shift = 32 * u32::from(count - 1 - i);
                    let m = (mask >> shift) & 0xffff_ffff;
                    self.set_slot(Slot::Reg(first + i), (value >> shift) & 0xffff_ffff, m);
                }
            }
            Metadata => self.set_slot(Slot::Metadata, value, mask),
            PktMark => self.set_slot(Slot::PktMark, value, mask),
            CtState => self.set_slot(Slot::CtState, value & 0xff, mask & 0xff),
            CtMark => self.set_slot(Slot::CtMark, value, mask),
            CtLabel => self.set_slot(Slot::CtLabel, value, mask),
            EthSrc => self.set_slot(Slot::DlSrc, value, mask),
            EthDst => self.set_slot(Slot::DlDst, value, mask),
            EthType => self.set_slot(Slot::DlType, value, mask),
            VlanTci => self.set_slot(Slot::VlanTci, value, mask),
            IpProto => self.set_slot(Slot::NwProto, value, mask),
            IpDscpShifted => self.set_slot_bits(Slot::NwTos, value << 2, IP_DSCP_MASK),
            IpEcn => self.set_slot_bits(Slot::NwTos, value, IP_ECN_MASK),
            IpTtl => self.set_slot(Slot::NwTtl, value, mask),
            IpFrag => self.set_slot(Slot::NwFrag, value, mask),
            Ipv4Src | ArpSpa => self.set_slot(Slot::NwSrc, value, mask),
            Ipv4Dst | ArpTpa => self.set_slot(Slot::NwDst, value, mask),
            Ipv6Src => self.set_slot(Slot::Ipv6Src, value, mask),
            Ipv6Dst => self.set_slot(Slot::Ipv6Dst, value, mask),
            Ipv6Label => self.set_slot(Slot::Ipv6Label, value, exact_or(0xffff_ffff)),
            Icmpv4Type | Icmpv6Type | TcpSrc | UdpSrc | SctpSrc => {
                self.set_slot(Slot::TpSrc, value, exact_or(0xffff))
            }
            Icmpv4Code | Icmpv6Code | TcpDst | UdpDst | SctpDst => {
                self.set_slot(Slot::TpDst, value, exact_or(0xffff))
            }
            ArpOp => self.set_slot(Slot::NwProto, value & 0xff, 0xff),
            ArpSha | NdSll => self.set_slot(Slot::ArpSha, value, mask),
            ArpTha | NdTll => self.set_slot(Slot::ArpTha, value, mask),
            NdTarget => self.set_slot(Slot::NdTarget, value, mask),
            TcpFlags => self.set_slot(Slot::TcpFlags, value, exact_or(0xffff)),
            InPort => self.set_slot(Slot::InPort, value & 0xffff, 0xffff),
            TunId => self.set_slot(Slot::TunId, value, mask),
            TunMetadata0 => self.set_slot(Slot::TunMetadata0, value, mask),
        }
    }

    /// Whether a packet whose slot values are given by `packet` matches.
    pub fn matches(&self, packet: &dyn Fn(Slot) -> u128) -> bool {
        self.slots().all(|(slot, v, m)| packet(slot) & m == v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slots as the former representation held them: a sorted list of
    /// `(slot, (value, mask))`.
    fn listed(m: &OfMatch) -> Vec<(Slot, (u128, u128))> {
        m.slots().map(|(s, v, k)| (s, (v, k))).collect()
    }

    /// A deterministic pseudo-random match over a few slots, with values
    /// from a small range so that equal and prefix-equal matches occur.
    fn random_match(seed: &mut u64) -> OfMatch {
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        let mut m = OfMatch::new();
        for _ in 0..next() % 5 {
            let (slot, w) = SLOTS[(next() % N_SLOTS as u64) as usize];
            let full = if w == 16 {
                u128::MAX
            } else {
                (1u128 << (8 * w)) - 1
            };
            let mask = match next() % 3 {
                0 => full,
                1 => full & 0xff,
                _ => full & u128::from(next()),
            };
            m.set_slot(slot, u128::from(next() % 4) << (next() % 3), mask);
        }
        m
    }

    #[test]
    fn packed_matches_order_as_their_slot_lists() {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let ms: Vec<OfMatch> = (0..400).map(|_| random_match(&mut seed)).collect();
        for a in &ms {
            for b in &ms {
                assert_eq!(a.cmp(b), listed(a).cmp(&listed(b)), "{a:?} vs {b:?}");
                assert_eq!(a == b, listed(a) == listed(b));
            }
        }
    }

    #[test]
    fn set_slot_replaces_and_removes() {
        let mut m = OfMatch::new();
        m.set_metadata(5);
        m.set_slot(Slot::Reg(14), 3, 0xffff_ffff);
        m.set_slot(Slot::DlType, 0x800, 0xffff);
        m.set_conj_id(9);
        assert_eq!(
            listed(&m),
            vec![
                (Slot::ConjId, (9, 0xffff_ffff)),
                (Slot::DlType, (0x800, 0xffff)),
                (Slot::Reg(14), (3, 0xffff_ffff)),
                (Slot::Metadata, (5, u128::from(u64::MAX))),
            ]
        );
        m.set_slot(Slot::Reg(14), 0x1ff, 0xff);
        assert_eq!(m.get(Slot::Reg(14)), Some((0xff, 0xff)));
        m.set_slot(Slot::ConjId, 0, 0);
        m.set_slot(Slot::NwSrc, 0, 0);
        assert_eq!(m.get(Slot::ConjId), None);
        assert_eq!(listed(&m).len(), 3);
        assert_eq!(m.to_string(), "ip,reg14=0xff/0xff,metadata=0x5");
    }
}
