//! OXM/NXM match fields (`struct ofp_oxm` TLVs) as OpenFlow 1.5 carries
//! them in matches, `set_field` actions and `PACKET_IN2` metadata, with the
//! header constants of the fields OVN uses (OVS 3.1
//! `include/openvswitch/meta-flow.h`, `lib/nx-match.c`).
//!
//! A field is kept generically (class, field number, value, optional mask),
//! so fields this module has no name for round-trip unchanged.

use super::buf::{put_u32, Reader};
use super::WireError;

/// OXM class of OpenFlow basic fields.
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// OXM class of the OpenFlow 1.5 packet registers (`xreg`).
pub const OFPXMC_PACKET_REGS: u16 = 0x8001;
/// Original Nicira class (`NXM_OF_*`).
pub const OFPXMC_NXM_0: u16 = 0x0000;
/// Nicira extension class (`NXM_NX_*`).
pub const OFPXMC_NXM_1: u16 = 0x0001;
/// Experimenter class: a 32-bit experimenter id follows the header.
pub const OFPXMC_EXPERIMENTER: u16 = 0xffff;

/// `(class, field, value bytes)` of the named fields OVN's flows use.
pub mod field {
    /// A named field: OXM class, field number and value width in bytes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Id {
        /// OXM class.
        pub class: u16,
        /// Field number (7 bits).
        pub field: u8,
        /// Value width in bytes.
        pub n_bytes: u8,
    }

    const fn basic(field: u8, n_bytes: u8) -> Id {
        Id {
            class: super::OFPXMC_OPENFLOW_BASIC,
            field,
            n_bytes,
        }
    }

    const fn nx(field: u8, n_bytes: u8) -> Id {
        Id {
            class: super::OFPXMC_NXM_1,
            field,
            n_bytes,
        }
    }

    /// `in_port` (OXM, 32-bit OpenFlow 1.1+ port number).
    pub const IN_PORT: Id = basic(0, 4);
    /// `metadata`.
    pub const METADATA: Id = basic(2, 8);
    /// `eth_dst`.
    pub const ETH_DST: Id = basic(3, 6);
    /// `eth_src`.
    pub const ETH_SRC: Id = basic(4, 6);
    /// `eth_type`.
    pub const ETH_TYPE: Id = basic(5, 2);
    /// `vlan_vid` (with `OFPVID_PRESENT`, 0x1000).
    pub const VLAN_VID: Id = basic(6, 2);
    /// `vlan_pcp`.
    pub const VLAN_PCP: Id = basic(7, 1);
    /// `ip_dscp` (shifted).
    pub const IP_DSCP: Id = basic(8, 1);
    /// `ip_ecn`.
    pub const IP_ECN: Id = basic(9, 1);
    /// `ip_proto`.
    pub const IP_PROTO: Id = basic(10, 1);
    /// `ipv4_src`.
    pub const IPV4_SRC: Id = basic(11, 4);
    /// `ipv4_dst`.
    pub const IPV4_DST: Id = basic(12, 4);
    /// `tcp_src`.
    pub const TCP_SRC: Id = basic(13, 2);
    /// `tcp_dst`.
    pub const TCP_DST: Id = basic(14, 2);
    /// `udp_src`.
    pub const UDP_SRC: Id = basic(15, 2);
    /// `udp_dst`.
    pub const UDP_DST: Id = basic(16, 2);
    /// `sctp_src`.
    pub const SCTP_SRC: Id = basic(17, 2);
    /// `sctp_dst`.
    pub const SCTP_DST: Id = basic(18, 2);
    /// `icmpv4_type`.
    pub const ICMPV4_TYPE: Id = basic(19, 1);
    /// `icmpv4_code`.
    pub const ICMPV4_CODE: Id = basic(20, 1);
    /// `arp_op`.
    pub const ARP_OP: Id = basic(21, 2);
    /// `arp_spa`.
    pub const ARP_SPA: Id = basic(22, 4);
    /// `arp_tpa`.
    pub const ARP_TPA: Id = basic(23, 4);
    /// `arp_sha`.
    pub const ARP_SHA: Id = basic(24, 6);
    /// `arp_tha`.
    pub const ARP_THA: Id = basic(25, 6);
    /// `ipv6_src`.
    pub const IPV6_SRC: Id = basic(26, 16);
    /// `ipv6_dst`.
    pub const IPV6_DST: Id = basic(27, 16);
    /// `ipv6_label` (flow label).
    pub const IPV6_FLABEL: Id = basic(28, 4);
    /// `icmpv6_type`.
    pub const ICMPV6_TYPE: Id = basic(29, 1);
    /// `icmpv6_code`.
    pub const ICMPV6_CODE: Id = basic(30, 1);
    /// `nd_target`.
    pub const ND_TARGET: Id = basic(31, 16);
    /// `nd_sll`.
    pub const ND_SLL: Id = basic(32, 6);
    /// `nd_tll`.
    pub const ND_TLL: Id = basic(33, 6);
    /// `tun_id` (`OXM_OF_TUNNEL_ID`).
    pub const TUNNEL_ID: Id = basic(38, 8);
    /// `tcp_flags` (OpenFlow 1.5).
    pub const TCP_FLAGS: Id = basic(42, 2);
    /// `packet_type` (OpenFlow 1.5).
    pub const PACKET_TYPE: Id = basic(44, 4);
    /// `reg0`..`reg15` (`NXM_NX_REG<n>`).
    pub const fn reg(n: u8) -> Id {
        nx(n, 4)
    }
    /// `xreg0`..`xreg7` (`OXM_OF_PKT_REG<n>`).
    pub const fn xreg(n: u8) -> Id {
        Id {
            class: super::OFPXMC_PACKET_REGS,
            field: n,
            n_bytes: 8,
        }
    }
    /// `xxreg0`..`xxreg3` (`NXM_NX_XXREG<n>`).
    pub const fn xxreg(n: u8) -> Id {
        nx(111 + n, 16)
    }
    /// `ip_frag` (`NXM_NX_IP_FRAG`).
    pub const IP_FRAG: Id = nx(26, 1);
    /// `nw_ttl` (`NXM_NX_IP_TTL`).
    pub const IP_TTL: Id = nx(29, 1);
    /// `tun_src` (`NXM_NX_TUN_IPV4_SRC`).
    pub const TUN_IPV4_SRC: Id = nx(31, 4);
    /// `tun_dst` (`NXM_NX_TUN_IPV4_DST`).
    pub const TUN_IPV4_DST: Id = nx(32, 4);
    /// `pkt_mark`.
    pub const PKT_MARK: Id = nx(33, 4);
    /// `conj_id`.
    pub const CONJ_ID: Id = nx(37, 4);
    /// `tun_metadata<n>` (n < 64); variable width (`n_bytes` here is the
    /// maximum, 124).
    pub const fn tun_metadata(n: u8) -> Id {
        nx(40 + n, 124)
    }
    /// `tun_flags`.
    pub const TUN_FLAGS: Id = nx(104, 2);
    /// `ct_state`.
    pub const CT_STATE: Id = nx(105, 4);
    /// `ct_zone`.
    pub const CT_ZONE: Id = nx(106, 2);
    /// `ct_mark`.
    pub const CT_MARK: Id = nx(107, 4);
    /// `ct_label`.
    pub const CT_LABEL: Id = nx(108, 16);
    /// `ct_nw_proto`.
    pub const CT_NW_PROTO: Id = nx(119, 1);
}

/// One OXM TLV: header (class, field, has-mask, length), then for the
/// experimenter class the experimenter id, then value and mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OxmField {
    /// OXM class.
    pub class: u16,
    /// Field number (7 bits).
    pub field: u8,
    /// Experimenter id, for [`OFPXMC_EXPERIMENTER`] only.
    pub experimenter: Option<u32>,
    /// Value bytes.
    pub value: Vec<u8>,
    /// Mask bytes (same length as `value`), if masked.
    pub mask: Option<Vec<u8>>,
}

impl OxmField {
    /// An exact-match field with `value` in the field's width.
    pub fn exact(id: field::Id, value: &[u8]) -> OxmField {
        OxmField {
            class: id.class,
            field: id.field,
            experimenter: None,
            value: value.to_vec(),
            mask: None,
        }
    }

    /// A field matching `value/mask`, as OVS's `nxm_put` writes it: nothing
    /// for an all-zero mask, an exact match for an all-one mask.
    pub fn masked(id: field::Id, value: &[u8], mask: &[u8]) -> Option<OxmField> {
        if mask.iter().all(|&b| b == 0) {
            return None;
        }
        let mut f = OxmField::exact(id, value);
        if !mask.iter().all(|&b| b == 0xff) {
            f.value = value.iter().zip(mask).map(|(v, m)| v & m).collect();
            f.mask = Some(mask.to_vec());
        }
        Some(f)
    }

    /// Whether this is the named field.
    pub fn is(&self, id: field::Id) -> bool {
        self.class == id.class && self.field == id.field && self.experimenter.is_none()
    }

    /// The 32-bit header (`NXM_HEADER`).
    pub fn header(&self) -> u32 {
        let len = self.payload_len();
        (u32::from(self.class) << 16)
            | (u32::from(self.field & 0x7f) << 9)
            | (u32::from(self.mask.is_some()) << 8)
            | (len as u32 & 0xff)
    }

    fn payload_len(&self) -> usize {
        4 * usize::from(self.experimenter.is_some())
            + self.value.len()
            + self.mask.as_ref().map_or(0, Vec::len)
    }

    /// Parses one field.
    pub fn parse(r: &mut Reader<'_>) -> Result<OxmField, WireError> {
        let header = r.u32("OXM header")?;
        let class = (header >> 16) as u16;
        let field = ((header >> 9) & 0x7f) as u8;
        let has_mask = header & 0x100 != 0;
        let mut len = (header & 0xff) as usize;
        let mut body = r.sub(len, "OXM payload")?;
        let experimenter = if class == OFPXMC_EXPERIMENTER {
            len = len
                .checked_sub(4)
                .ok_or(WireError::BadLength("OXM experimenter field", len))?;
            Some(body.u32("OXM experimenter")?)
        } else {
            None
        };
        if len == 0 || (has_mask && !len.is_multiple_of(2)) {
            return Err(WireError::BadLength("OXM field", len));
        }
        let n = if has_mask { len / 2 } else { len };
        let value = body.bytes(n, "OXM value")?.to_vec();
        let mask = if has_mask {
            Some(body.bytes(n, "OXM mask")?.to_vec())
        } else {
            None
        };
        Ok(OxmField {
            class,
            field,
            experimenter,
            value,
            mask,
        })
    }

    /// Bytes on the wire.
    pub fn buffer_len(&self) -> usize {
        4 + self.payload_len()
    }

    /// Appends the field.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        if self.payload_len() > 0xff || self.value.is_empty() {
            return Err(WireError::BadLength("OXM field", self.payload_len()));
        }
        if self
            .mask
            .as_ref()
            .is_some_and(|m| m.len() != self.value.len())
        {
            return Err(WireError::Invalid("OXM mask and value differ in length"));
        }
        put_u32(out, self.header());
        if let Some(e) = self.experimenter {
            put_u32(out, e);
        }
        out.extend_from_slice(&self.value);
        if let Some(m) = &self.mask {
            out.extend_from_slice(m);
        }
        Ok(())
    }
}

/// An OpenFlow 1.1+ match (`struct ofp11_match_header` + OXM TLVs, padded
/// to 8 bytes).  `match_type` is `OFPMT_OXM` (1) for OpenFlow 1.2+.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The fields, in wire order.
    pub fields: Vec<OxmField>,
}

/// `OFPMT_OXM`.
pub const OFPMT_OXM: u16 = 1;

impl Match {
    /// The catch-all match.
    pub fn new() -> Match {
        Match { fields: Vec::new() }
    }

    /// Parses a match including its padding.
    pub fn parse(r: &mut Reader<'_>) -> Result<Match, WireError> {
        let ty = r.u16("match type")?;
        if ty != OFPMT_OXM {
            return Err(WireError::Unsupported("match type", u32::from(ty)));
        }
        let len = r.u16("match length")? as usize;
        if len < 4 {
            return Err(WireError::BadLength("match", len));
        }
        let mut body = r.sub(len - 4, "match fields")?;
        let pad = super::buf::round8(len) - len;
        r.skip(pad, "match padding")?;
        let mut fields = Vec::new();
        while !body.is_empty() {
            fields.push(OxmField::parse(&mut body)?);
        }
        Ok(Match { fields })
    }

    /// Bytes on the wire, padding included.
    pub fn buffer_len(&self) -> usize {
        super::buf::round8(4 + self.fields.iter().map(OxmField::buffer_len).sum::<usize>())
    }

    /// Appends the match and its padding.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        super::buf::put_u16(out, OFPMT_OXM);
        super::buf::put_u16(out, 0);
        for f in &self.fields {
            f.emit(out)?;
        }
        super::buf::set_len16(out, start, 2)?;
        super::buf::pad8(out, start);
        Ok(())
    }
}

impl Default for Match {
    fn default() -> Match {
        Match::new()
    }
}
