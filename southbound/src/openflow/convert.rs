//! From the crate's flow representation ([`OfFlow`]: an [`OfMatch`] and
//! [`OfAction`]s) to OpenFlow 1.5 messages, byte for byte as OVS 3.1
//! encodes the same flow for ovn-controller or `ovs-ofctl -O OpenFlow15`:
//!
//! * matches in `nx_put_raw` order, registers as 64-bit `xreg`s, a
//!   `packet_type` field first when nothing implies Ethernet;
//! * actions as `ofpacts_put_openflow_actions(OFP15_VERSION)` writes them,
//!   inside one `OFPIT_APPLY_ACTIONS` instruction (none for a drop).

use crate::actions::mf::{n_bytes, of15_class_field, Subfield};
use crate::actions::ofpact::{Learn, LearnSpec, NO_METER};
use crate::actions::{ofwire, OfAction};
use crate::expr::ofmatch::{Dense, Slot};
use crate::expr::symtab::Field;
use crate::expr::OfMatch;
use crate::flow_table::OfFlow;

use super::wire::action::{parse_actions, Action, NX_VENDOR_ID};
use super::wire::buf::{put_u16, put_u32, put_u64, set_len16, Reader};
use super::wire::mods::{
    flow_command, group_command, meter_command, FlowMod, GroupMod, MeterMod, OFPG_ALL, OFPM_ALL,
};
use super::wire::oxm::{field as f, field::Id, Match, OxmField, OFPMT_OXM};
use super::wire::{msg_type, Instruction, WireError, OFP15_VERSION};

/// Why a flow cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// An action has no OpenFlow 1.5 encoding here (named in ovs-ofctl
    /// syntax).
    #[error("cannot encode `{0}' in OpenFlow 1.5")]
    Unsupported(String),
    /// The encoded bytes are not a valid action list.
    #[error("encoding of `{0}': {1}")]
    Wire(String, WireError),
}

fn bytes_of(v: u128, n: usize) -> Vec<u8> {
    v.to_be_bytes()[16 - n..].to_vec()
}

/// Where `nxm_put` writes a match's fields: a list of [`OxmField`]s, or
/// the wire bytes directly ([`emit_add_flow`]).
trait Put {
    /// `nxm_put`: nothing for an all-zero mask, exact for all-one.
    fn put(&mut self, id: Id, vm: (u128, u128));

    fn exact(&mut self, id: Id, v: u128) {
        self.put(id, (v, u128::MAX));
    }
}

struct MatchBuilder {
    fields: Vec<OxmField>,
}

impl Put for MatchBuilder {
    fn put(&mut self, id: Id, (v, m): (u128, u128)) {
        let n = usize::from(id.n_bytes);
        if let Some(fld) = OxmField::masked(id, &bytes_of(v, n), &bytes_of(m, n)) {
            self.fields.push(fld);
        }
    }
}

/// The OXM fields written straight into a message, as
/// [`OxmField::masked`] and [`OxmField::emit`] would write them.
struct MatchBytes<'a> {
    out: &'a mut Vec<u8>,
}

impl Put for MatchBytes<'_> {
    fn put(&mut self, id: Id, (v, m): (u128, u128)) {
        let n = usize::from(id.n_bytes);
        let full = if n >= 16 {
            u128::MAX
        } else {
            (1u128 << (8 * n)) - 1
        };
        let (v, m) = (v & full, m & full);
        if m == 0 {
            return;
        }
        let masked = m != full;
        let len = if masked { 2 * n } else { n };
        let header = (u32::from(id.class) << 16)
            | (u32::from(id.field & 0x7f) << 9)
            | (u32::from(masked) << 8)
            | len as u32;
        put_u32(self.out, header);
        if masked {
            self.out.extend_from_slice(&(v & m).to_be_bytes()[16 - n..]);
            self.out.extend_from_slice(&m.to_be_bytes()[16 - n..]);
        } else {
            self.out.extend_from_slice(&v.to_be_bytes()[16 - n..]);
        }
    }
}

/// Converts a 16-bit OpenFlow port to the 32-bit form of OpenFlow 1.1+
/// (`ofputil_port_to_ofp11`): reserved ports move to 0xffffff00 and up.
pub fn port_to_ofp11(port: u16) -> u32 {
    if port >= 0xff00 {
        u32::from(port) + 0xffff_0000
    } else {
        u32::from(port)
    }
}

/// The match as OVS 3.1's `oxm_put_match(OFP15_VERSION)` writes it.
pub fn encode_match(m: &OfMatch) -> Match {
    let mut b = MatchBuilder { fields: Vec::new() };
    put_match(m, &mut b);
    Match { fields: b.fields }
}

/// [`encode_match`]'s fields, in its order, to `b`.
fn put_match(m: &OfMatch, b: &mut impl Put) {
    let m = &m.dense();
    let get = |s| m.value(s);
    if let Some((id, _)) = m.get(Slot::ConjId) {
        b.put(f::CONJ_ID, (id, u128::MAX));
    }
    if let Some((port, _)) = m.get(Slot::InPort) {
        let p = port_to_ofp11(port as u16);
        b.put(f::IN_PORT, (u128::from(p), u128::MAX));
    }
    b.put(f::ETH_SRC, get(Slot::DlSrc));
    b.put(f::ETH_DST, get(Slot::DlDst));
    b.put(f::ETH_TYPE, get(Slot::DlType));
    let (tci, tci_mask) = get(Slot::VlanTci);
    let (vid, vid_mask) = (tci & 0x1fff, tci_mask & 0x1fff);
    if vid_mask == 0x1fff {
        b.exact(f::VLAN_VID, vid);
    } else {
        b.put(f::VLAN_VID, (vid, vid_mask));
    }
    if vid != 0 && tci_mask & 0xe000 != 0 {
        b.exact(f::VLAN_PCP, tci >> 13);
    }
    let dl_type = m.get(Slot::DlType).map_or(0, |(v, _)| v as u16);
    if dl_type == 0x0800 || dl_type == 0x86dd {
        encode_ip(m, dl_type, &mut *b);
    } else if dl_type == 0x0806 || dl_type == 0x8035 {
        if let Some((op, _)) = m.get(Slot::NwProto) {
            b.exact(f::ARP_OP, op);
        }
        b.put(f::ARP_SPA, get(Slot::NwSrc));
        b.put(f::ARP_TPA, get(Slot::NwDst));
        b.put(f::ARP_SHA, get(Slot::ArpSha));
        b.put(f::ARP_THA, get(Slot::ArpTha));
    }
    for i in 0..8u8 {
        let (hi, hm) = get(Slot::Reg(2 * i));
        let (lo, lm) = get(Slot::Reg(2 * i + 1));
        b.put(f::xreg(i), ((hi << 32) | lo, (hm << 32) | lm));
    }
    b.put(f::PKT_MARK, get(Slot::PktMark));
    b.put(f::CT_STATE, get(Slot::CtState));
    b.put(f::CT_MARK, get(Slot::CtMark));
    b.put(f::CT_LABEL, get(Slot::CtLabel));
    b.put(f::METADATA, get(Slot::Metadata));
}

/// `nxm_put_ip`.
fn encode_ip(m: &Dense, dl_type: u16, b: &mut impl Put) {
    let get = |s| m.value(s);
    if dl_type == 0x0800 {
        b.put(f::IPV4_SRC, get(Slot::NwSrc));
        b.put(f::IPV4_DST, get(Slot::NwDst));
    } else {
        b.put(f::IPV6_SRC, get(Slot::Ipv6Src));
        b.put(f::IPV6_DST, get(Slot::Ipv6Dst));
    }
    let (frag, frag_mask) = get(Slot::NwFrag);
    let frag_mask = if frag_mask & 3 == 3 {
        0xff
    } else {
        frag_mask & 3
    };
    b.put(f::IP_FRAG, (frag & 3, frag_mask));
    let (tos, tos_mask) = get(Slot::NwTos);
    if tos_mask & 0xfc != 0 {
        b.exact(f::IP_DSCP, tos >> 2);
    }
    if tos_mask & 0x03 != 0 {
        b.exact(f::IP_ECN, tos & 3);
    }
    if let Some((ttl, _)) = m.get(Slot::NwTtl) {
        b.exact(f::IP_TTL, ttl);
    }
    b.put(f::IPV6_FLABEL, get(Slot::Ipv6Label));
    let Some((proto, _)) = m.get(Slot::NwProto) else {
        return;
    };
    b.exact(f::IP_PROTO, proto);
    let (tp_src, tp_dst) = (get(Slot::TpSrc), get(Slot::TpDst));
    match (dl_type, proto) {
        (_, 6) => {
            b.put(f::TCP_SRC, tp_src);
            b.put(f::TCP_DST, tp_dst);
            b.put(f::TCP_FLAGS, get(Slot::TcpFlags));
        }
        (_, 17) => {
            b.put(f::UDP_SRC, tp_src);
            b.put(f::UDP_DST, tp_dst);
        }
        (_, 132) => {
            b.put(f::SCTP_SRC, tp_src);
            b.put(f::SCTP_DST, tp_dst);
        }
        (0x0800, 1) | (0x86dd, 58) => {
            let (ty, code) = if proto == 1 {
                (f::ICMPV4_TYPE, f::ICMPV4_CODE)
            } else {
                (f::ICMPV6_TYPE, f::ICMPV6_CODE)
            };
            if tp_src.1 != 0 {
                b.exact(ty, tp_src.0);
            }
            if tp_dst.1 != 0 {
                b.exact(code, tp_dst.0);
            }
            // `is_nd`: ICMPv6 code 0, type neighbor solicit/advert.
            if proto == 58 && tp_dst.0 == 0 && (tp_src.0 == 135 || tp_src.0 == 136) {
                b.put(f::ND_TARGET, get(Slot::NdTarget));
                if tp_src.0 == 135 {
                    b.put(f::ND_SLL, get(Slot::ArpSha));
                } else {
                    b.put(f::ND_TLL, get(Slot::ArpTha));
                }
            }
        }
        _ => {}
    }
}

/// The oldest NXM/OXM header of `field` (`nx_put_header(..., 0, false)`),
/// as `learn` specs carry them.
fn nxm_v0_header(field: Field) -> u32 {
    use Field::*;
    let (class, code, n) = match field {
        InPort => (0, 0, 2),
        EthDst => (0, 1, 6),
        EthSrc => (0, 2, 6),
        EthType => (0, 3, 2),
        VlanTci => (0, 4, 2),
        IpProto => (0, 6, 1),
        Ipv4Src => (0, 7, 4),
        Ipv4Dst => (0, 8, 4),
        TcpSrc => (0, 9, 2),
        TcpDst => (0, 10, 2),
        UdpSrc => (0, 11, 2),
        UdpDst => (0, 12, 2),
        Icmpv4Type => (0, 13, 1),
        Icmpv4Code => (0, 14, 1),
        ArpOp => (0, 15, 2),
        ArpSpa => (0, 16, 4),
        ArpTpa => (0, 17, 4),
        ArpSha => (1, 17, 6),
        ArpTha => (1, 18, 6),
        Ipv6Src => (1, 19, 16),
        Ipv6Dst => (1, 20, 16),
        Icmpv6Type => (1, 21, 1),
        Icmpv6Code => (1, 22, 1),
        NdTarget => (1, 23, 16),
        NdSll => (1, 24, 6),
        NdTll => (1, 25, 6),
        other => {
            let (c, code) = of15_class_field(other);
            (c, code, n_bytes(other))
        }
    };
    (u32::from(class) << 16) | (u32::from(code) << 9) | n
}

/// `NXAST_LEARN` as `encode_LEARN` writes it (priority
/// `OFP_DEFAULT_PRIORITY`, the learned flows' cookie,
/// `NX_LEARN_F_DELETE_LEARNED` = 2).
fn learn_bytes(l: &Learn, out: &mut Vec<u8>) {
    let start = out.len();
    put_u16(out, 0xffff);
    put_u16(out, 0);
    put_u32(out, NX_VENDOR_ID);
    put_u16(out, 16);
    put_u16(out, l.idle_timeout);
    put_u16(out, l.hard_timeout);
    put_u16(out, 0x8000);
    put_u64(out, l.cookie);
    put_u16(out, if l.delete_learned { 2 } else { 0 });
    out.push(l.table_id);
    out.push(0);
    put_u16(out, 0);
    put_u16(out, 0);
    let field = |out: &mut Vec<u8>, s: &Subfield| {
        put_u32(out, nxm_v0_header(s.field));
        put_u16(out, s.ofs as u16);
    };
    let imm = |out: &mut Vec<u8>, v: u128, n_bits: u32| {
        let n = (n_bits.div_ceil(16) * 2) as usize;
        out.extend_from_slice(&v.to_be_bytes()[16 - n.min(16)..]);
    };
    for spec in &l.specs {
        match spec {
            LearnSpec::MatchField { dst, src } => {
                put_u16(out, dst.n_bits as u16);
                field(out, src);
                field(out, dst);
            }
            LearnSpec::MatchImmediate { dst, value } => {
                put_u16(out, (1 << 13) | dst.n_bits as u16);
                imm(out, *value, dst.n_bits);
                field(out, dst);
            }
            LearnSpec::LoadImmediate { dst, value } => {
                put_u16(out, (1 << 13) | (1 << 11) | dst.n_bits as u16);
                imm(out, *value, dst.n_bits);
                field(out, dst);
            }
        }
    }
    while !(out.len() - start).is_multiple_of(8) {
        out.push(0);
    }
    let len = (out.len() - start) as u16;
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// The OpenFlow 1.5 actions for `actions`.
pub fn encode_actions(actions: &[OfAction]) -> Result<Vec<Action>, ConvertError> {
    let mut out = Vec::with_capacity(actions.len());
    for a in actions {
        out.push(encode_action(a)?);
    }
    Ok(out)
}

fn encode_action(a: &OfAction) -> Result<Action, ConvertError> {
    Ok(match a {
        OfAction::Output(port) => Action::Output {
            port: port_to_ofp11(*port),
            // `output:CONTROLLER` sends whole packets.
            max_len: if *port == 0xfffd { u16::MAX } else { 0 },
        },
        OfAction::Conjunction {
            id,
            clause,
            n_clauses,
        } => Action::Conjunction {
            clause: *clause,
            n_clauses: *n_clauses,
            id: *id,
        },
        OfAction::StripVlan => Action::PopVlan,
        OfAction::PushVlan(tpid) => Action::PushVlan(*tpid),
        OfAction::SetVlanVid(vid) => {
            Action::SetField(OxmField::exact(f::VLAN_VID, &(0x1000 | vid).to_be_bytes()))
        }
        OfAction::Clone(inner) => Action::Clone(encode_actions(inner)?),
        // `encode_CONTROLLER`: nothing Nicira-specific is a plain output.
        OfAction::Controller {
            userdata,
            pause: false,
            meter_id: NO_METER,
        } if userdata.is_empty() => Action::Output {
            port: port_to_ofp11(0xfffd),
            max_len: u16::MAX,
        },
        // `struct nx_action_check_pkt_larger`: length, then the result bit
        // as offset and NXM header.
        OfAction::CheckPktLarger { pkt_len, dst } => {
            let mut body = Vec::new();
            put_u16(&mut body, *pkt_len);
            put_u16(&mut body, dst.ofs as u16);
            put_u32(&mut body, nxm_v0_header(dst.field));
            body.extend_from_slice(&[0; 4]);
            Action::Nicira { subtype: 49, body }
        }
        OfAction::Sample {
            probability,
            collector_set_id,
            obs_domain_id,
            obs_point_id,
        } => {
            let mut body = Vec::new();
            put_u16(&mut body, *probability);
            put_u32(&mut body, *collector_set_id);
            put_u32(&mut body, *obs_domain_id);
            put_u32(&mut body, *obs_point_id);
            Action::Nicira { subtype: 29, body }
        }
        OfAction::Learn(l) => {
            let mut bytes = Vec::new();
            learn_bytes(l, &mut bytes);
            reparse(a, &bytes)?
        }
        other => {
            let mut bytes = Vec::new();
            ofwire::put_actions(std::slice::from_ref(other), &mut bytes)
                .map_err(|_| ConvertError::Unsupported(other.to_string()))?;
            reparse(other, &bytes)?
        }
    })
}

fn reparse(a: &OfAction, bytes: &[u8]) -> Result<Action, ConvertError> {
    let mut list =
        parse_actions(&mut Reader::new(bytes)).map_err(|e| ConvertError::Wire(a.to_string(), e))?;
    match (list.pop(), list.is_empty()) {
        (Some(x), true) => Ok(x),
        _ => Err(ConvertError::Wire(
            a.to_string(),
            WireError::Invalid("not exactly one action"),
        )),
    }
}

/// The instructions of a flow: one apply-actions, or none for a drop
/// (`ofpacts_put_openflow_instructions`).
pub fn encode_instructions(actions: &[OfAction]) -> Result<Vec<Instruction>, ConvertError> {
    let acts = encode_actions(actions)?;
    Ok(if acts.is_empty() {
        Vec::new()
    } else {
        vec![Instruction::ApplyActions(acts)]
    })
}

/// `OFPFC_ADD` of `flow`.
pub fn add_flow(flow: &OfFlow) -> Result<FlowMod, ConvertError> {
    let mut fm = FlowMod::new(flow_command::ADD);
    fm.cookie = flow.cookie;
    fm.table_id = flow.table;
    fm.priority = flow.priority;
    fm.of_match = encode_match(&flow.of_match);
    fm.instructions = encode_instructions(&flow.actions)?;
    Ok(fm)
}

/// The body of [`add_flow`]'s message, written straight into `out`
/// (byte for byte what [`FlowMod`] emits for it, without building the
/// match's field list first): the streamed full install encodes ~10,000
/// flows this way.
pub fn emit_add_flow(flow: &OfFlow, out: &mut Vec<u8>) -> Result<(), ConvertError> {
    let instructions = encode_instructions(&flow.actions)?;
    FlowMod {
        cookie: flow.cookie,
        table_id: flow.table,
        priority: flow.priority,
        ..FlowMod::new(flow_command::ADD)
    }
    .emit_head(out);
    let start = out.len();
    put_u16(out, OFPMT_OXM);
    put_u16(out, 0);
    put_match(&flow.of_match, &mut MatchBytes { out: &mut *out });
    let len = out.len() - start;
    out[start + 2..start + 4].copy_from_slice(&(len as u16).to_be_bytes());
    super::wire::buf::pad8(out, start);
    for i in &instructions {
        i.emit(out)
            .map_err(|e| ConvertError::Wire(flow.to_string(), e))?;
    }
    Ok(())
}

/// The `OFPT_BUNDLE_ADD_MESSAGE` (xid `xid`, bundle `bundle_id`, `flags`)
/// of the `OFPT_FLOW_MOD` [`add_flow`] makes, appended to `out` as
/// [`super::wire::Message::emit`] writes it; nothing is appended on error.
pub fn emit_bundled_add(
    flow: &OfFlow,
    xid: u32,
    bundle_id: u32,
    flags: u16,
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    let start = out.len();
    let header = |out: &mut Vec<u8>, ty: u8| {
        out.push(OFP15_VERSION);
        out.push(ty);
        put_u16(out, 0);
        put_u32(out, xid);
    };
    header(out, msg_type::BUNDLE_ADD_MESSAGE);
    put_u32(out, bundle_id);
    put_u16(out, 0);
    put_u16(out, flags);
    let inner = out.len();
    header(out, msg_type::FLOW_MOD);
    let r = emit_add_flow(flow, out).and_then(|()| {
        set_len16(out, inner, 2)
            .and_then(|()| set_len16(out, start, 2))
            .map_err(|e| ConvertError::Wire(flow.to_string(), e))
    });
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// `OFPFC_MODIFY_STRICT` of `flow`'s actions.
pub fn modify_flow(flow: &OfFlow) -> Result<FlowMod, ConvertError> {
    let mut fm = add_flow(flow)?;
    fm.command = flow_command::MODIFY_STRICT;
    fm.cookie = 0;
    Ok(fm)
}

/// `OFPFC_DELETE_STRICT` of the flow with `flow`'s table, priority and
/// match.
pub fn delete_flow(flow: &OfFlow) -> FlowMod {
    let mut fm = FlowMod::new(flow_command::DELETE_STRICT);
    fm.table_id = flow.table;
    fm.priority = flow.priority;
    fm.of_match = encode_match(&flow.of_match);
    fm
}

/// `OFPFC_DELETE` of every flow in every table (`ovs-ofctl del-flows`).
pub fn delete_all_flows() -> FlowMod {
    let mut fm = FlowMod::new(flow_command::DELETE);
    fm.table_id = super::wire::mods::OFPTT_ALL;
    fm.priority = 0;
    fm
}

/// `OFPGC_DELETE` of every group (`ovs-ofctl del-groups`).
pub fn delete_all_groups() -> GroupMod {
    GroupMod {
        command: group_command::DELETE,
        group_type: 0,
        group_id: OFPG_ALL,
        command_bucket_id: 0xffff_ffff,
        buckets: Vec::new(),
        properties: Vec::new(),
    }
}

/// `OFPMC_DELETE` of every meter (`ovs-ofctl del-meters`).
pub fn delete_all_meters() -> MeterMod {
    MeterMod {
        command: meter_command::DELETE,
        flags: 0,
        meter_id: OFPM_ALL,
        bands: Vec::new(),
    }
}
