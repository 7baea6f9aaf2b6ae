//! OpenFlow 1.5 messages with the Nicira extensions ovn-controller uses, as
//! parse/emit pairs over bytes (OVS 3.1 `lib/ofp-msgs.c` and friends).
//!
//! * [`Message::parse`] decodes exactly one message (see [`frame_len`] to
//!   split a stream); it never panics and names what was wrong.
//! * [`Message::emit`] writes it back; [`Message::buffer_len`] is its size.
//! * Values without a typed form (message types, actions, instructions,
//!   OXM fields, properties) keep their bytes and round-trip unchanged.
//! * Bodies are decoded in the OpenFlow 1.5 layout when the header says
//!   version 0x06; for other versions only `HELLO`, `ERROR` and `ECHO` are
//!   typed (their layout does not depend on the version).

pub mod action;
pub mod buf;
pub mod mods;
pub mod oxm;
pub mod packet;

pub use action::{Action, Instruction};
pub use buf::{Property, Reader};
pub use mods::{Bucket, FlowMod, GroupMod, MeterBand, MeterMod};
pub use oxm::{Match, OxmField};
pub use packet::{PacketIn, PacketIn2, PacketOut};

use buf::{put_u16, put_u32, put_u64, round8};

/// OpenFlow 1.5's wire version.
pub const OFP15_VERSION: u8 = 0x06;

/// Length of the common header (`struct ofp_header`).
pub const HEADER_LEN: usize = 8;

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes end inside the named structure.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The named structure has an impossible length.
    #[error("bad {0} length {1}")]
    BadLength(&'static str, usize),
    /// A value this codec cannot represent.
    #[error("unsupported {0} {1}")]
    Unsupported(&'static str, u32),
    /// Anything else, described.
    #[error("{0}")]
    Invalid(&'static str),
    /// The message does not fit in 65535 bytes.
    #[error("message longer than 65535 bytes")]
    TooLong,
}

/// `OFPT_*` message types (OpenFlow 1.5).
pub mod msg_type {
    /// `OFPT_HELLO`.
    pub const HELLO: u8 = 0;
    /// `OFPT_ERROR`.
    pub const ERROR: u8 = 1;
    /// `OFPT_ECHO_REQUEST`.
    pub const ECHO_REQUEST: u8 = 2;
    /// `OFPT_ECHO_REPLY`.
    pub const ECHO_REPLY: u8 = 3;
    /// `OFPT_EXPERIMENTER`.
    pub const EXPERIMENTER: u8 = 4;
    /// `OFPT_FEATURES_REQUEST`.
    pub const FEATURES_REQUEST: u8 = 5;
    /// `OFPT_FEATURES_REPLY`.
    pub const FEATURES_REPLY: u8 = 6;
    /// `OFPT_PACKET_IN`.
    pub const PACKET_IN: u8 = 10;
    /// `OFPT_PACKET_OUT`.
    pub const PACKET_OUT: u8 = 13;
    /// `OFPT_FLOW_MOD`.
    pub const FLOW_MOD: u8 = 14;
    /// `OFPT_GROUP_MOD`.
    pub const GROUP_MOD: u8 = 15;
    /// `OFPT_BARRIER_REQUEST`.
    pub const BARRIER_REQUEST: u8 = 20;
    /// `OFPT_BARRIER_REPLY`.
    pub const BARRIER_REPLY: u8 = 21;
    /// `OFPT_METER_MOD`.
    pub const METER_MOD: u8 = 29;
    /// `OFPT_BUNDLE_CONTROL`.
    pub const BUNDLE_CONTROL: u8 = 33;
    /// `OFPT_BUNDLE_ADD_MESSAGE`.
    pub const BUNDLE_ADD_MESSAGE: u8 = 34;
}

/// Nicira message subtypes (`NXT_*`).
pub mod nxt {
    /// `NXT_SET_PACKET_IN_FORMAT`.
    pub const SET_PACKET_IN_FORMAT: u32 = 16;
    /// `NXT_SET_CONTROLLER_ID`.
    pub const SET_CONTROLLER_ID: u32 = 20;
    /// `NXT_RESUME`.
    pub const RESUME: u32 = 28;
    /// `NXT_PACKET_IN2`.
    pub const PACKET_IN2: u32 = 30;
}

/// `NXPIF_NXT_PACKET_IN2`: the packet-in format pinctrl asks for.
pub const NXPIF_NXT_PACKET_IN2: u32 = 2;

/// `OFPBCT_*` bundle-control types.
pub mod bundle_ctrl {
    /// Open a bundle.
    pub const OPEN_REQUEST: u16 = 0;
    /// Opened.
    pub const OPEN_REPLY: u16 = 1;
    /// Close a bundle.
    pub const CLOSE_REQUEST: u16 = 2;
    /// Closed.
    pub const CLOSE_REPLY: u16 = 3;
    /// Commit a bundle atomically.
    pub const COMMIT_REQUEST: u16 = 4;
    /// Committed.
    pub const COMMIT_REPLY: u16 = 5;
    /// Discard a bundle.
    pub const DISCARD_REQUEST: u16 = 6;
    /// Discarded.
    pub const DISCARD_REPLY: u16 = 7;
}

/// `OFPBF_ATOMIC`.
pub const OFPBF_ATOMIC: u16 = 1;
/// `OFPBF_ORDERED`.
pub const OFPBF_ORDERED: u16 = 2;

/// `OFPT_FEATURES_REPLY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    /// Datapath id.
    pub datapath_id: u64,
    /// Packets the switch can buffer.
    pub n_buffers: u32,
    /// Number of tables.
    pub n_tables: u8,
    /// Auxiliary connection id.
    pub auxiliary_id: u8,
    /// `OFPC_*` capabilities.
    pub capabilities: u32,
    /// Reserved.
    pub reserved: u32,
}

/// `OFPT_BUNDLE_CONTROL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleControl {
    /// Bundle id.
    pub bundle_id: u32,
    /// One of [`bundle_ctrl`].
    pub ctrl_type: u16,
    /// [`OFPBF_ATOMIC`], [`OFPBF_ORDERED`].
    pub flags: u16,
    /// Properties.
    pub properties: Vec<Property>,
}

/// `OFPT_BUNDLE_ADD_MESSAGE`: one message added to an open bundle.  The
/// inner message's xid is the outer one (OVS checks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleAdd {
    /// Bundle id.
    pub bundle_id: u32,
    /// Flags (as at open).
    pub flags: u16,
    /// The message added.
    pub message: Box<Message>,
    /// Properties.
    pub properties: Vec<Property>,
}

/// A Nicira extension message (`OFPT_EXPERIMENTER` with `NX_VENDOR_ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nicira {
    /// `NXT_SET_PACKET_IN_FORMAT` (`NXPIF_*`).
    SetPacketInFormat(u32),
    /// `NXT_SET_CONTROLLER_ID`.
    SetControllerId(u16),
    /// `NXT_PACKET_IN2`.
    PacketIn2(PacketIn2),
    /// `NXT_RESUME` (same properties as a packet-in).
    Resume(PacketIn2),
    /// Another subtype and the bytes after it.
    Other {
        /// `NXT_*` subtype.
        subtype: u32,
        /// Body.
        body: Vec<u8>,
    },
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `OFPT_HELLO` with its elements (`OFPHET_VERSIONBITMAP` is type 1).
    Hello(Vec<Property>),
    /// `OFPT_ERROR`.
    Error {
        /// `OFPET_*`.
        err_type: u16,
        /// Code within the type.
        code: u16,
        /// Usually the start of the offending request.
        data: Vec<u8>,
    },
    /// `OFPT_ECHO_REQUEST` with its payload.
    EchoRequest(Vec<u8>),
    /// `OFPT_ECHO_REPLY` with the request's payload.
    EchoReply(Vec<u8>),
    /// `OFPT_FEATURES_REQUEST`.
    FeaturesRequest,
    /// `OFPT_FEATURES_REPLY`.
    FeaturesReply(Features),
    /// `OFPT_BARRIER_REQUEST`.
    BarrierRequest,
    /// `OFPT_BARRIER_REPLY`.
    BarrierReply,
    /// `OFPT_FLOW_MOD`.
    FlowMod(FlowMod),
    /// `OFPT_GROUP_MOD`.
    GroupMod(GroupMod),
    /// `OFPT_METER_MOD`.
    MeterMod(MeterMod),
    /// `OFPT_PACKET_IN`.
    PacketIn(PacketIn),
    /// `OFPT_PACKET_OUT`.
    PacketOut(PacketOut),
    /// `OFPT_BUNDLE_CONTROL`.
    BundleControl(BundleControl),
    /// `OFPT_BUNDLE_ADD_MESSAGE`.
    BundleAdd(BundleAdd),
    /// A Nicira extension message.
    Nicira(Nicira),
    /// Any other message: its type and body bytes.
    Unknown {
        /// `OFPT_*`.
        msg_type: u8,
        /// The bytes after the header.
        body: Vec<u8>,
    },
}

/// One OpenFlow message: header fields and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Protocol version.
    pub version: u8,
    /// Transaction id.
    pub xid: u32,
    /// The body.
    pub body: Body,
}

/// The length of the first message in `buf` once all of it is there
/// (`None`: need more bytes), or an error for a length below the header's.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, WireError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if len < HEADER_LEN {
        return Err(WireError::BadLength("message", len));
    }
    Ok((buf.len() >= len).then_some(len))
}

/// The version bitmap hello element (`OFPHET_VERSIONBITMAP`) for `versions`.
pub fn version_bitmap(versions: &[u8]) -> Property {
    let mut bits = 0u32;
    for v in versions {
        if *v < 32 {
            bits |= 1 << v;
        }
    }
    Property::new(1, bits.to_be_bytes().to_vec())
}

impl Message {
    /// A message of OpenFlow 1.5.
    pub fn new(xid: u32, body: Body) -> Message {
        Message {
            version: OFP15_VERSION,
            xid,
            body,
        }
    }

    /// The `OFPT_*` type of the message.
    pub fn msg_type(&self) -> u8 {
        use msg_type::*;
        match &self.body {
            Body::Hello(_) => HELLO,
            Body::Error { .. } => ERROR,
            Body::EchoRequest(_) => ECHO_REQUEST,
            Body::EchoReply(_) => ECHO_REPLY,
            Body::FeaturesRequest => FEATURES_REQUEST,
            Body::FeaturesReply(_) => FEATURES_REPLY,
            Body::BarrierRequest => BARRIER_REQUEST,
            Body::BarrierReply => BARRIER_REPLY,
            Body::FlowMod(_) => FLOW_MOD,
            Body::GroupMod(_) => GROUP_MOD,
            Body::MeterMod(_) => METER_MOD,
            Body::PacketIn(_) => PACKET_IN,
            Body::PacketOut(_) => PACKET_OUT,
            Body::BundleControl(_) => BUNDLE_CONTROL,
            Body::BundleAdd(_) => BUNDLE_ADD_MESSAGE,
            Body::Nicira(_) => EXPERIMENTER,
            Body::Unknown { msg_type, .. } => *msg_type,
        }
    }

    /// Versions a hello offers: its bitmap if it has one, else every
    /// version up to its header's.
    pub fn hello_versions(&self) -> Vec<u8> {
        if let Body::Hello(elements) = &self.body {
            let mut out = Vec::new();
            let mut any = false;
            for e in elements.iter().filter(|e| e.ty == 1) {
                any = true;
                for (i, chunk) in e.data.chunks(4).enumerate() {
                    let mut w = [0u8; 4];
                    w[..chunk.len()].copy_from_slice(chunk);
                    let bits = u32::from_be_bytes(w);
                    for b in 0..32 {
                        if bits & (1 << b) != 0 {
                            if let Ok(v) = u8::try_from(i * 32 + b) {
                                out.push(v);
                            }
                        }
                    }
                }
            }
            if any {
                return out;
            }
        }
        (1..=self.version).collect()
    }

    /// Parses exactly one message: `buf` must be as long as its header
    /// says.
    pub fn parse(buf: &[u8]) -> Result<Message, WireError> {
        Message::parse_at(buf, 0)
    }

    fn parse_at(buf: &[u8], depth: usize) -> Result<Message, WireError> {
        let mut r = Reader::new(buf);
        let version = r.u8("header version")?;
        let ty = r.u8("header type")?;
        let len = r.u16("header length")? as usize;
        let xid = r.u32("header xid")?;
        if len != buf.len() {
            return Err(WireError::BadLength("message", len));
        }
        let body = parse_body(version, ty, &mut r, depth)?;
        if !r.is_empty() {
            return Err(WireError::Invalid("trailing bytes after message body"));
        }
        Ok(Message { version, xid, body })
    }

    /// Bytes on the wire.
    pub fn buffer_len(&self) -> usize {
        self.to_bytes().map_or(0, |b| b.len())
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(64);
        self.emit(&mut out)?;
        Ok(out)
    }

    /// Appends the message.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        out.push(self.version);
        out.push(self.msg_type());
        put_u16(out, 0);
        put_u32(out, self.xid);
        match &self.body {
            Body::Hello(elements) => Property::emit_list(elements, out)?,
            Body::Error {
                err_type,
                code,
                data,
            } => {
                put_u16(out, *err_type);
                put_u16(out, *code);
                out.extend_from_slice(data);
            }
            Body::EchoRequest(d) | Body::EchoReply(d) => out.extend_from_slice(d),
            Body::FeaturesRequest | Body::BarrierRequest | Body::BarrierReply => {}
            Body::FeaturesReply(f) => {
                put_u64(out, f.datapath_id);
                put_u32(out, f.n_buffers);
                out.push(f.n_tables);
                out.push(f.auxiliary_id);
                put_u16(out, 0);
                put_u32(out, f.capabilities);
                put_u32(out, f.reserved);
            }
            Body::FlowMod(m) => m.emit(out)?,
            Body::GroupMod(m) => m.emit(out)?,
            Body::MeterMod(m) => m.emit(out)?,
            Body::PacketIn(p) => p.emit(out)?,
            Body::PacketOut(p) => p.emit(out)?,
            Body::BundleControl(b) => {
                put_u32(out, b.bundle_id);
                put_u16(out, b.ctrl_type);
                put_u16(out, b.flags);
                Property::emit_list(&b.properties, out)?;
            }
            Body::BundleAdd(b) => {
                put_u32(out, b.bundle_id);
                put_u16(out, 0);
                put_u16(out, b.flags);
                let inner = out.len();
                b.message.emit(out)?;
                if !b.properties.is_empty() {
                    buf::pad8(out, inner);
                    Property::emit_list(&b.properties, out)?;
                }
            }
            Body::Nicira(n) => {
                put_u32(out, action::NX_VENDOR_ID);
                match n {
                    Nicira::SetPacketInFormat(f) => {
                        put_u32(out, nxt::SET_PACKET_IN_FORMAT);
                        put_u32(out, *f);
                    }
                    Nicira::SetControllerId(id) => {
                        put_u32(out, nxt::SET_CONTROLLER_ID);
                        out.extend_from_slice(&[0; 6]);
                        put_u16(out, *id);
                    }
                    Nicira::PacketIn2(p) | Nicira::Resume(p) => {
                        let sub = if matches!(n, Nicira::Resume(_)) {
                            nxt::RESUME
                        } else {
                            nxt::PACKET_IN2
                        };
                        put_u32(out, sub);
                        Property::emit_list(&p.properties, out)?;
                    }
                    Nicira::Other { subtype, body } => {
                        put_u32(out, *subtype);
                        out.extend_from_slice(body);
                    }
                }
            }
            Body::Unknown { body, .. } => out.extend_from_slice(body),
        }
        buf::set_len16(out, start, 2)
    }
}

fn parse_body(version: u8, ty: u8, r: &mut Reader<'_>, depth: usize) -> Result<Body, WireError> {
    use msg_type::*;
    let v15 = version == OFP15_VERSION;
    Ok(match ty {
        HELLO => Body::Hello(Property::parse_list(r)?),
        ERROR => {
            let err_type = r.u16("error type")?;
            let code = r.u16("error code")?;
            Body::Error {
                err_type,
                code,
                data: r.rest().to_vec(),
            }
        }
        ECHO_REQUEST => Body::EchoRequest(r.rest().to_vec()),
        ECHO_REPLY => Body::EchoReply(r.rest().to_vec()),
        FEATURES_REQUEST if v15 && r.is_empty() => Body::FeaturesRequest,
        BARRIER_REQUEST if v15 && r.is_empty() => Body::BarrierRequest,
        BARRIER_REPLY if v15 && r.is_empty() => Body::BarrierReply,
        FEATURES_REPLY if v15 => {
            let datapath_id = r.u64("features datapath_id")?;
            let n_buffers = r.u32("features n_buffers")?;
            let n_tables = r.u8("features n_tables")?;
            let auxiliary_id = r.u8("features auxiliary_id")?;
            r.skip(2, "features pad")?;
            let capabilities = r.u32("features capabilities")?;
            let reserved = r.u32("features reserved")?;
            Body::FeaturesReply(Features {
                datapath_id,
                n_buffers,
                n_tables,
                auxiliary_id,
                capabilities,
                reserved,
            })
        }
        FLOW_MOD if v15 => Body::FlowMod(FlowMod::parse(r)?),
        GROUP_MOD if v15 => Body::GroupMod(GroupMod::parse(r)?),
        METER_MOD if v15 => Body::MeterMod(MeterMod::parse(r)?),
        PACKET_IN if v15 => Body::PacketIn(PacketIn::parse(r)?),
        PACKET_OUT if v15 => Body::PacketOut(PacketOut::parse(r)?),
        BUNDLE_CONTROL if v15 => {
            let bundle_id = r.u32("bundle_ctrl bundle_id")?;
            let ctrl_type = r.u16("bundle_ctrl type")?;
            let flags = r.u16("bundle_ctrl flags")?;
            Body::BundleControl(BundleControl {
                bundle_id,
                ctrl_type,
                flags,
                properties: Property::parse_list(r)?,
            })
        }
        BUNDLE_ADD_MESSAGE if v15 && depth == 0 => {
            let bundle_id = r.u32("bundle_add bundle_id")?;
            r.skip(2, "bundle_add pad")?;
            let flags = r.u16("bundle_add flags")?;
            let rest = r.rest();
            let inner_len = match frame_len(rest)? {
                Some(n) => n,
                None => return Err(WireError::Truncated("bundled message")),
            };
            let message = Message::parse_at(&rest[..inner_len], depth + 1)?;
            let mut tail = Reader::new(&rest[inner_len..]);
            let properties = if tail.is_empty() {
                Vec::new()
            } else {
                let pad = round8(inner_len) - inner_len;
                if tail
                    .bytes(pad, "bundle_add padding")?
                    .iter()
                    .any(|&b| b != 0)
                {
                    return Err(WireError::Invalid("non-zero bundle_add padding"));
                }
                let props = Property::parse_list(&mut tail)?;
                if props.is_empty() {
                    return Err(WireError::Invalid("bundle_add padding without properties"));
                }
                props
            };
            Body::BundleAdd(BundleAdd {
                bundle_id,
                flags,
                message: Box::new(message),
                properties,
            })
        }
        EXPERIMENTER if r.remaining() >= 8 => {
            let mut peek = *r;
            let vendor = peek.u32("experimenter id")?;
            if vendor != action::NX_VENDOR_ID {
                return Ok(Body::Unknown {
                    msg_type: ty,
                    body: r.rest().to_vec(),
                });
            }
            let subtype = peek.u32("Nicira subtype")?;
            *r = peek;
            Body::Nicira(parse_nicira(subtype, r)?)
        }
        _ => Body::Unknown {
            msg_type: ty,
            body: r.rest().to_vec(),
        },
    })
}

fn parse_nicira(subtype: u32, r: &mut Reader<'_>) -> Result<Nicira, WireError> {
    Ok(match subtype {
        nxt::SET_PACKET_IN_FORMAT if r.remaining() == 4 => {
            Nicira::SetPacketInFormat(r.u32("packet-in format")?)
        }
        nxt::SET_CONTROLLER_ID if r.remaining() == 8 && r.rest_is_padded(6) => {
            r.skip(6, "controller id pad")?;
            Nicira::SetControllerId(r.u16("controller id")?)
        }
        nxt::PACKET_IN2 | nxt::RESUME => {
            let mut probe = *r;
            match Property::parse_list(&mut probe) {
                Ok(properties) => {
                    *r = probe;
                    let p = PacketIn2 { properties };
                    if subtype == nxt::RESUME {
                        Nicira::Resume(p)
                    } else {
                        Nicira::PacketIn2(p)
                    }
                }
                Err(_) => Nicira::Other {
                    subtype,
                    body: r.rest().to_vec(),
                },
            }
        }
        _ => Nicira::Other {
            subtype,
            body: r.rest().to_vec(),
        },
    })
}
