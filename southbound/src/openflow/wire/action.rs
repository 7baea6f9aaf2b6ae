//! OpenFlow 1.5 actions and instructions, with the Nicira extension
//! actions OVN uses (OVS 3.1 `lib/ofp-actions.c`).  Actions without a
//! typed variant keep their bytes and round-trip unchanged.

use super::buf::{pad8, put_u16, put_u32, put_u64, round8, set_len16, Property, Reader};
use super::oxm::OxmField;
use super::WireError;

/// The Nicira vendor id (`NX_VENDOR_ID`).
pub const NX_VENDOR_ID: u32 = 0x0000_2320;

const OFPAT_OUTPUT: u16 = 0;
const OFPAT_PUSH_VLAN: u16 = 17;
const OFPAT_POP_VLAN: u16 = 18;
const OFPAT_SET_QUEUE: u16 = 21;
const OFPAT_GROUP: u16 = 22;
const OFPAT_DEC_NW_TTL: u16 = 24;
const OFPAT_SET_FIELD: u16 = 25;
const OFPAT_COPY_FIELD: u16 = 28;
const OFPAT_METER: u16 = 29;
const OFPAT_EXPERIMENTER: u16 = 0xffff;

/// Nicira action subtypes (`enum nx_action_subtype`) with typed variants.
pub mod nxast {
    /// `NXAST_NOTE`.
    pub const NOTE: u16 = 8;
    /// `NXAST_RESUBMIT_TABLE`.
    pub const RESUBMIT_TABLE: u16 = 14;
    /// `NXAST_LEARN`.
    pub const LEARN: u16 = 16;
    /// `NXAST_CONJUNCTION`.
    pub const CONJUNCTION: u16 = 34;
    /// `NXAST_CT`.
    pub const CT: u16 = 35;
    /// `NXAST_NAT`.
    pub const NAT: u16 = 36;
    /// `NXAST_CONTROLLER2`.
    pub const CONTROLLER2: u16 = 37;
    /// `NXAST_CLONE`.
    pub const CLONE: u16 = 42;
}

/// Nested actions deeper than this are refused (OVS limits nesting too).
const MAX_DEPTH: usize = 16;

/// One OpenFlow action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `OFPAT_OUTPUT`: port (32-bit) and maximum length sent to a
    /// controller.
    Output {
        /// OpenFlow 1.1+ port number.
        port: u32,
        /// Bytes to send to the controller.
        max_len: u16,
    },
    /// `OFPAT_PUSH_VLAN` with the TPID.
    PushVlan(u16),
    /// `OFPAT_POP_VLAN`.
    PopVlan,
    /// `OFPAT_SET_QUEUE`.
    SetQueue(u32),
    /// `OFPAT_GROUP`.
    Group(u32),
    /// `OFPAT_DEC_NW_TTL`.
    DecNwTtl,
    /// `OFPAT_SET_FIELD`.
    SetField(OxmField),
    /// `OFPAT_COPY_FIELD` (`move:`/`reg_move`): bits of `src` to `dst`,
    /// both given by their 32-bit OXM headers.
    CopyField {
        /// Bits copied.
        n_bits: u16,
        /// Offset in the source.
        src_offset: u16,
        /// Offset in the destination.
        dst_offset: u16,
        /// Source OXM header.
        src: u32,
        /// Destination OXM header.
        dst: u32,
    },
    /// `OFPAT_METER` (OpenFlow 1.5).
    Meter(u32),
    /// `NXAST_RESUBMIT_TABLE`: `resubmit(in_port,table)`.
    Resubmit {
        /// Port to resubmit as (`OFPP_IN_PORT`, 0xfff8, for the packet's).
        in_port: u16,
        /// Table (255: the current one).
        table: u8,
    },
    /// `NXAST_CONJUNCTION`.
    Conjunction {
        /// Clause, from 0.
        clause: u8,
        /// Number of clauses.
        n_clauses: u8,
        /// Conjunction id.
        id: u32,
    },
    /// `NXAST_CT` with its nested actions.
    Ct(Ct),
    /// `NXAST_NAT`.
    Nat(Nat),
    /// `NXAST_CONTROLLER2` with its properties (max_len, controller id,
    /// reason, userdata, pause, meter id).
    Controller2(Vec<Property>),
    /// `NXAST_CLONE` with its nested actions.
    Clone(Vec<Action>),
    /// `NXAST_NOTE`: the note bytes including trailing padding.
    Note(Vec<u8>),
    /// `NXAST_LEARN`: the fixed part typed, the flow-mod specs as bytes.
    Learn(Learn),
    /// Another Nicira action: subtype and the bytes after it.
    Nicira {
        /// `NXAST_*` subtype.
        subtype: u16,
        /// Body after the subtype, padding included.
        body: Vec<u8>,
    },
    /// Any other action: type and the bytes after type and length.
    Unknown {
        /// Action type.
        action_type: u16,
        /// Body, padding included.
        body: Vec<u8>,
    },
}

/// `NXAST_CT` (`struct nx_action_conntrack`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ct {
    /// `NX_CT_F_COMMIT` (1), `NX_CT_F_FORCE` (2).
    pub flags: u16,
    /// OXM header of the zone source field, or 0 for an immediate zone.
    pub zone_src: u32,
    /// `ofs << 6 | (n_bits - 1)` of the zone source, or the immediate zone.
    pub zone: u16,
    /// Recirculation table (255: none).
    pub recirc_table: u8,
    /// ALG port (0: none).
    pub alg: u16,
    /// Nested actions (`nat`, `exec` set_fields).
    pub actions: Vec<Action>,
}

/// `NXAST_NAT` (`struct nx_action_nat`): flags and the present parts of
/// the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nat {
    /// `NX_NAT_F_SRC` (1), `_DST` (2), `_PERSISTENT` (4), `_PROTO_HASH`
    /// (8), `_PROTO_RANDOM` (16).
    pub flags: u16,
    /// Minimum IPv4 address.
    pub ipv4_min: Option<[u8; 4]>,
    /// Maximum IPv4 address.
    pub ipv4_max: Option<[u8; 4]>,
    /// Minimum IPv6 address.
    pub ipv6_min: Option<[u8; 16]>,
    /// Maximum IPv6 address.
    pub ipv6_max: Option<[u8; 16]>,
    /// Minimum L4 port.
    pub proto_min: Option<u16>,
    /// Maximum L4 port.
    pub proto_max: Option<u16>,
}

/// `NXAST_LEARN` (`struct nx_action_learn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learn {
    /// Idle timeout of learned flows.
    pub idle_timeout: u16,
    /// Hard timeout of learned flows.
    pub hard_timeout: u16,
    /// Priority of learned flows.
    pub priority: u16,
    /// Cookie of learned flows.
    pub cookie: u64,
    /// `NX_LEARN_F_*`.
    pub flags: u16,
    /// Table of learned flows.
    pub table_id: u8,
    /// FIN idle timeout.
    pub fin_idle_timeout: u16,
    /// FIN hard timeout.
    pub fin_hard_timeout: u16,
    /// The flow-mod specs (`struct nx_learn_spec`s), with the action's
    /// trailing padding.
    pub specs: Vec<u8>,
}

/// Parses actions until `r` is empty.
pub fn parse_actions(r: &mut Reader<'_>) -> Result<Vec<Action>, WireError> {
    parse_list(r, 0)
}

fn parse_list(r: &mut Reader<'_>, depth: usize) -> Result<Vec<Action>, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::Invalid("actions nested too deeply"));
    }
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(Action::parse_at(r, depth)?);
    }
    Ok(out)
}

/// Appends `actions`.
pub fn emit_actions(actions: &[Action], out: &mut Vec<u8>) -> Result<(), WireError> {
    actions.iter().try_for_each(|a| a.emit(out))
}

/// Bytes `actions` take on the wire.
pub fn actions_len(actions: &[Action]) -> usize {
    actions.iter().map(Action::buffer_len).sum()
}

fn fixed<const N: usize>(r: &mut Reader<'_>, what: &'static str) -> Result<[u8; N], WireError> {
    let mut a = [0u8; N];
    a.copy_from_slice(r.bytes(N, what)?);
    Ok(a)
}

impl Action {
    /// Parses one action.
    pub fn parse(r: &mut Reader<'_>) -> Result<Action, WireError> {
        Action::parse_at(r, 0)
    }

    fn parse_at(r: &mut Reader<'_>, depth: usize) -> Result<Action, WireError> {
        let ty = r.u16("action type")?;
        let len = r.u16("action length")? as usize;
        if len < 8 || !len.is_multiple_of(8) {
            return Err(WireError::BadLength("action", len));
        }
        let mut b = r.sub(len - 4, "action body")?;
        let whole = b;
        let a = match ty {
            OFPAT_OUTPUT if len == 16 => {
                let port = b.u32("output port")?;
                let max_len = b.u16("output max_len")?;
                Action::Output { port, max_len }
            }
            OFPAT_PUSH_VLAN if len == 8 => Action::PushVlan(b.u16("push_vlan ethertype")?),
            OFPAT_POP_VLAN if len == 8 => Action::PopVlan,
            OFPAT_DEC_NW_TTL if len == 8 => Action::DecNwTtl,
            OFPAT_SET_QUEUE if len == 8 => Action::SetQueue(b.u32("queue id")?),
            OFPAT_GROUP if len == 8 => Action::Group(b.u32("group id")?),
            OFPAT_METER if len == 8 => Action::Meter(b.u32("meter id")?),
            OFPAT_SET_FIELD => {
                let f = OxmField::parse(&mut b)?;
                if round8(4 + f.buffer_len()) != len {
                    return Err(WireError::BadLength("set_field", len));
                }
                Action::SetField(f)
            }
            OFPAT_COPY_FIELD if len == 24 => {
                let n_bits = b.u16("copy_field n_bits")?;
                let src_offset = b.u16("copy_field src_offset")?;
                let dst_offset = b.u16("copy_field dst_offset")?;
                b.skip(2, "copy_field pad")?;
                let src = b.u32("copy_field src")?;
                let dst = b.u32("copy_field dst")?;
                if src >> 16 == 0xffff || dst >> 16 == 0xffff {
                    let mut w = whole;
                    return Ok(Action::Unknown {
                        action_type: ty,
                        body: w.rest().to_vec(),
                    });
                }
                Action::CopyField {
                    n_bits,
                    src_offset,
                    dst_offset,
                    src,
                    dst,
                }
            }
            OFPAT_EXPERIMENTER if len >= 16 => {
                let vendor = b.u32("experimenter id")?;
                if vendor != NX_VENDOR_ID {
                    return Ok(Action::Unknown {
                        action_type: ty,
                        body: [&vendor.to_be_bytes()[..], b.rest()].concat(),
                    });
                }
                let subtype = b.u16("Nicira action subtype")?;
                parse_nicira(subtype, &mut b, depth)?
            }
            _ => Action::Unknown {
                action_type: ty,
                body: b.rest().to_vec(),
            },
        };
        if !b.rest().iter().all(|&x| x == 0) {
            return Err(WireError::Invalid("non-zero action padding"));
        }
        Ok(a)
    }

    /// Bytes on the wire.
    pub fn buffer_len(&self) -> usize {
        let mut v = Vec::new();
        match self.emit(&mut v) {
            Ok(()) => v.len(),
            Err(_) => 0,
        }
    }

    /// Appends the action.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        let simple = |out: &mut Vec<u8>, ty: u16, v: u32| {
            put_u16(out, ty);
            put_u16(out, 8);
            put_u32(out, v);
        };
        match self {
            Action::Output { port, max_len } => {
                put_u16(out, OFPAT_OUTPUT);
                put_u16(out, 16);
                put_u32(out, *port);
                put_u16(out, *max_len);
                out.extend_from_slice(&[0; 6]);
            }
            Action::PushVlan(tpid) => simple(out, OFPAT_PUSH_VLAN, u32::from(*tpid) << 16),
            Action::PopVlan => simple(out, OFPAT_POP_VLAN, 0),
            Action::DecNwTtl => simple(out, OFPAT_DEC_NW_TTL, 0),
            Action::SetQueue(q) => simple(out, OFPAT_SET_QUEUE, *q),
            Action::Group(g) => simple(out, OFPAT_GROUP, *g),
            Action::Meter(m) => simple(out, OFPAT_METER, *m),
            Action::SetField(f) => {
                put_u16(out, OFPAT_SET_FIELD);
                put_u16(out, 0);
                f.emit(out)?;
            }
            Action::CopyField {
                n_bits,
                src_offset,
                dst_offset,
                src,
                dst,
            } => {
                put_u16(out, OFPAT_COPY_FIELD);
                put_u16(out, 24);
                put_u16(out, *n_bits);
                put_u16(out, *src_offset);
                put_u16(out, *dst_offset);
                put_u16(out, 0);
                put_u32(out, *src);
                put_u32(out, *dst);
            }
            Action::Resubmit { in_port, table } => {
                nx_start(out, nxast::RESUBMIT_TABLE);
                put_u16(out, *in_port);
                out.push(*table);
            }
            Action::Conjunction {
                clause,
                n_clauses,
                id,
            } => {
                nx_start(out, nxast::CONJUNCTION);
                out.push(*clause);
                out.push(*n_clauses);
                put_u32(out, *id);
            }
            Action::Ct(ct) => {
                nx_start(out, nxast::CT);
                put_u16(out, ct.flags);
                put_u32(out, ct.zone_src);
                put_u16(out, ct.zone);
                out.push(ct.recirc_table);
                out.extend_from_slice(&[0; 3]);
                put_u16(out, ct.alg);
                emit_actions(&ct.actions, out)?;
            }
            Action::Nat(nat) => {
                nx_start(out, nxast::NAT);
                put_u16(out, 0);
                put_u16(out, nat.flags);
                let mut range = 0u16;
                let bits = [
                    nat.ipv4_min.is_some(),
                    nat.ipv4_max.is_some(),
                    nat.ipv6_min.is_some(),
                    nat.ipv6_max.is_some(),
                    nat.proto_min.is_some(),
                    nat.proto_max.is_some(),
                ];
                for (i, b) in bits.iter().enumerate() {
                    range |= u16::from(*b) << i;
                }
                put_u16(out, range);
                for a in nat.ipv4_min.iter().chain(nat.ipv4_max.iter()) {
                    out.extend_from_slice(a);
                }
                for a in nat.ipv6_min.iter().chain(nat.ipv6_max.iter()) {
                    out.extend_from_slice(a);
                }
                for p in nat.proto_min.iter().chain(nat.proto_max.iter()) {
                    put_u16(out, *p);
                }
            }
            Action::Controller2(props) => {
                nx_start(out, nxast::CONTROLLER2);
                out.extend_from_slice(&[0; 6]);
                Property::emit_list(props, out)?;
            }
            Action::Clone(inner) => {
                nx_start(out, nxast::CLONE);
                out.extend_from_slice(&[0; 6]);
                emit_actions(inner, out)?;
            }
            Action::Note(bytes) => {
                nx_start(out, nxast::NOTE);
                out.extend_from_slice(bytes);
            }
            Action::Learn(l) => {
                nx_start(out, nxast::LEARN);
                put_u16(out, l.idle_timeout);
                put_u16(out, l.hard_timeout);
                put_u16(out, l.priority);
                put_u64(out, l.cookie);
                put_u16(out, l.flags);
                out.push(l.table_id);
                out.push(0);
                put_u16(out, l.fin_idle_timeout);
                put_u16(out, l.fin_hard_timeout);
                out.extend_from_slice(&l.specs);
            }
            Action::Nicira { subtype, body } => {
                nx_start(out, *subtype);
                out.extend_from_slice(body);
            }
            Action::Unknown { action_type, body } => {
                put_u16(out, *action_type);
                put_u16(out, 0);
                out.extend_from_slice(body);
            }
        }
        if out.len() - start < 8 {
            out.resize(start + 8, 0);
        }
        pad8(out, start);
        set_len16(out, start, 2)
    }
}

fn nx_start(out: &mut Vec<u8>, subtype: u16) {
    put_u16(out, OFPAT_EXPERIMENTER);
    put_u16(out, 0);
    put_u32(out, NX_VENDOR_ID);
    put_u16(out, subtype);
}

fn parse_nicira(subtype: u16, b: &mut Reader<'_>, depth: usize) -> Result<Action, WireError> {
    let save = *b;
    let typed = match subtype {
        nxast::RESUBMIT_TABLE if b.remaining() == 6 => {
            let in_port = b.u16("resubmit in_port")?;
            let table = b.u8("resubmit table")?;
            Some(Action::Resubmit { in_port, table })
        }
        nxast::CONJUNCTION if b.remaining() == 6 => {
            let clause = b.u8("conjunction clause")?;
            let n_clauses = b.u8("conjunction n_clauses")?;
            let id = b.u32("conjunction id")?;
            Some(Action::Conjunction {
                clause,
                n_clauses,
                id,
            })
        }
        nxast::CT if b.remaining() >= 14 => {
            let flags = b.u16("ct flags")?;
            let zone_src = b.u32("ct zone_src")?;
            let zone = b.u16("ct zone")?;
            let recirc_table = b.u8("ct recirc_table")?;
            b.skip(3, "ct pad")?;
            let alg = b.u16("ct alg")?;
            let actions = parse_list(b, depth + 1)?;
            Some(Action::Ct(Ct {
                flags,
                zone_src,
                zone,
                recirc_table,
                alg,
                actions,
            }))
        }
        nxast::NAT if b.remaining() >= 6 => {
            b.skip(2, "nat pad")?;
            let flags = b.u16("nat flags")?;
            let range = b.u16("nat range_present")?;
            if range & !0x3f != 0 {
                None
            } else {
                let bit = |i: u16| range & (1 << i) != 0;
                let v4 = |b: &mut Reader<'_>, i| -> Result<_, WireError> {
                    bit(i).then(|| fixed::<4>(b, "nat ipv4")).transpose()
                };
                let ipv4_min = v4(b, 0)?;
                let ipv4_max = v4(b, 1)?;
                let v6 = |b: &mut Reader<'_>, i| -> Result<_, WireError> {
                    bit(i).then(|| fixed::<16>(b, "nat ipv6")).transpose()
                };
                let ipv6_min = v6(b, 2)?;
                let ipv6_max = v6(b, 3)?;
                let proto_min = bit(4).then(|| b.u16("nat proto_min")).transpose()?;
                let proto_max = bit(5).then(|| b.u16("nat proto_max")).transpose()?;
                Some(Action::Nat(Nat {
                    flags,
                    ipv4_min,
                    ipv4_max,
                    ipv6_min,
                    ipv6_max,
                    proto_min,
                    proto_max,
                }))
            }
        }
        nxast::CONTROLLER2 if b.remaining() >= 6 => {
            b.skip(6, "controller2 pad")?;
            Property::parse_list(b).ok().map(Action::Controller2)
        }
        nxast::CLONE if b.remaining() >= 6 => {
            b.skip(6, "clone pad")?;
            Some(Action::Clone(parse_list(b, depth + 1)?))
        }
        nxast::NOTE => Some(Action::Note(b.rest().to_vec())),
        nxast::LEARN if b.remaining() >= 22 => {
            let idle_timeout = b.u16("learn idle_timeout")?;
            let hard_timeout = b.u16("learn hard_timeout")?;
            let priority = b.u16("learn priority")?;
            let cookie = b.u64("learn cookie")?;
            let flags = b.u16("learn flags")?;
            let table_id = b.u8("learn table")?;
            b.skip(1, "learn pad")?;
            let fin_idle_timeout = b.u16("learn fin_idle_timeout")?;
            let fin_hard_timeout = b.u16("learn fin_hard_timeout")?;
            let specs = b.rest().to_vec();
            Some(Action::Learn(Learn {
                idle_timeout,
                hard_timeout,
                priority,
                cookie,
                flags,
                table_id,
                fin_idle_timeout,
                fin_hard_timeout,
                specs,
            }))
        }
        _ => None,
    };
    Ok(match typed {
        Some(a) if b.rest().iter().all(|&x| x == 0) => a,
        _ => {
            *b = save;
            Action::Nicira {
                subtype,
                body: b.rest().to_vec(),
            }
        }
    })
}

/// An OpenFlow 1.1+ instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `OFPIT_GOTO_TABLE`.
    GotoTable(u8),
    /// `OFPIT_WRITE_METADATA`.
    WriteMetadata {
        /// Value.
        metadata: u64,
        /// Bits written.
        mask: u64,
    },
    /// `OFPIT_WRITE_ACTIONS`.
    WriteActions(Vec<Action>),
    /// `OFPIT_APPLY_ACTIONS`.
    ApplyActions(Vec<Action>),
    /// `OFPIT_CLEAR_ACTIONS`.
    ClearActions,
    /// Another instruction: type and the bytes after type and length.
    Unknown {
        /// Instruction type.
        instruction_type: u16,
        /// Body.
        body: Vec<u8>,
    },
}

impl Instruction {
    /// Parses instructions until `r` is empty.
    pub fn parse_list(r: &mut Reader<'_>) -> Result<Vec<Instruction>, WireError> {
        let mut out = Vec::new();
        while !r.is_empty() {
            out.push(Instruction::parse(r)?);
        }
        Ok(out)
    }

    /// Parses one instruction.
    pub fn parse(r: &mut Reader<'_>) -> Result<Instruction, WireError> {
        let ty = r.u16("instruction type")?;
        let len = r.u16("instruction length")? as usize;
        if len < 8 || !len.is_multiple_of(8) {
            return Err(WireError::BadLength("instruction", len));
        }
        let mut b = r.sub(len - 4, "instruction body")?;
        let i = match ty {
            1 if len == 8 => {
                let t = b.u8("goto_table table")?;
                Instruction::GotoTable(t)
            }
            2 if len == 24 => {
                b.skip(4, "write_metadata pad")?;
                let metadata = b.u64("write_metadata value")?;
                let mask = b.u64("write_metadata mask")?;
                Instruction::WriteMetadata { metadata, mask }
            }
            3 | 4 => {
                b.skip(4, "instruction pad")?;
                let actions = parse_actions(&mut b)?;
                if ty == 3 {
                    Instruction::WriteActions(actions)
                } else {
                    Instruction::ApplyActions(actions)
                }
            }
            5 if len == 8 => Instruction::ClearActions,
            _ => Instruction::Unknown {
                instruction_type: ty,
                body: b.rest().to_vec(),
            },
        };
        if !b.rest().iter().all(|&x| x == 0) {
            return Err(WireError::Invalid("non-zero instruction padding"));
        }
        Ok(i)
    }

    /// Bytes on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            Instruction::GotoTable(_) | Instruction::ClearActions => 8,
            Instruction::WriteMetadata { .. } => 24,
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => 8 + actions_len(a),
            Instruction::Unknown { body, .. } => round8(4 + body.len()).max(8),
        }
    }

    /// Appends the instruction.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        match self {
            Instruction::GotoTable(t) => {
                put_u16(out, 1);
                put_u16(out, 8);
                out.extend_from_slice(&[*t, 0, 0, 0]);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                put_u16(out, 2);
                put_u16(out, 24);
                put_u32(out, 0);
                put_u64(out, *metadata);
                put_u64(out, *mask);
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                put_u16(
                    out,
                    if matches!(self, Instruction::WriteActions(_)) {
                        3
                    } else {
                        4
                    },
                );
                put_u16(out, 0);
                put_u32(out, 0);
                emit_actions(a, out)?;
            }
            Instruction::ClearActions => {
                put_u16(out, 5);
                put_u16(out, 8);
                put_u32(out, 0);
            }
            Instruction::Unknown {
                instruction_type,
                body,
            } => {
                put_u16(out, *instruction_type);
                put_u16(out, 0);
                out.extend_from_slice(body);
                if out.len() - start < 8 {
                    out.resize(start + 8, 0);
                }
                pad8(out, start);
            }
        }
        set_len16(out, start, 2)
    }
}
