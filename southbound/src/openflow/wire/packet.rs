//! Packets between switch and controller: `OFPT_PACKET_IN` and
//! `OFPT_PACKET_OUT` (OpenFlow 1.5 layouts), and the property list of
//! `NXT_PACKET_IN2`/`NXT_RESUME` that ovn-controller's pinctrl receives and
//! sends (OVS 3.1 `lib/ofp-packet.c`).

use super::action::{actions_len, emit_actions, parse_actions, Action};
use super::buf::{put_u16, put_u32, put_u64, Property, Reader};
use super::oxm::{Match, OxmField};
use super::WireError;

/// `OFPT_PACKET_OUT` (`struct ofp15_packet_out`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketOut {
    /// Buffered packet, or `NO_BUFFER` with the packet in `data`.
    pub buffer_id: u32,
    /// Packet metadata (`in_port`, registers, ...).
    pub of_match: Match,
    /// Actions.
    pub actions: Vec<Action>,
    /// The packet.
    pub data: Vec<u8>,
}

impl PacketOut {
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<PacketOut, WireError> {
        let buffer_id = r.u32("packet_out buffer_id")?;
        let alen = r.u16("packet_out actions_len")? as usize;
        r.skip(2, "packet_out pad")?;
        let of_match = Match::parse(r)?;
        let actions = parse_actions(&mut r.sub(alen, "packet_out actions")?)?;
        Ok(PacketOut {
            buffer_id,
            of_match,
            actions,
            data: r.rest().to_vec(),
        })
    }

    pub(super) fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        put_u32(out, self.buffer_id);
        let alen = u16::try_from(actions_len(&self.actions)).map_err(|_| WireError::TooLong)?;
        put_u16(out, alen);
        put_u16(out, 0);
        self.of_match.emit(out)?;
        emit_actions(&self.actions, out)?;
        out.extend_from_slice(&self.data);
        Ok(())
    }
}

/// `OFPT_PACKET_IN` (`struct ofp12_packet_in` with the OpenFlow 1.3+
/// cookie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    /// Buffer id, or `NO_BUFFER`.
    pub buffer_id: u32,
    /// Full length of the packet.
    pub total_len: u16,
    /// Reason (`OFPR_*`).
    pub reason: u8,
    /// Table of the flow that sent the packet.
    pub table_id: u8,
    /// Cookie of that flow.
    pub cookie: u64,
    /// Packet metadata.
    pub of_match: Match,
    /// The packet.
    pub data: Vec<u8>,
}

impl PacketIn {
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<PacketIn, WireError> {
        let buffer_id = r.u32("packet_in buffer_id")?;
        let total_len = r.u16("packet_in total_len")?;
        let reason = r.u8("packet_in reason")?;
        let table_id = r.u8("packet_in table_id")?;
        let cookie = r.u64("packet_in cookie")?;
        let of_match = Match::parse(r)?;
        r.skip(2, "packet_in pad")?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            of_match,
            data: r.rest().to_vec(),
        })
    }

    pub(super) fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        put_u32(out, self.buffer_id);
        put_u16(out, self.total_len);
        out.push(self.reason);
        out.push(self.table_id);
        put_u64(out, self.cookie);
        self.of_match.emit(out)?;
        put_u16(out, 0);
        out.extend_from_slice(&self.data);
        Ok(())
    }
}

/// `NXPINT_*` property types of `NXT_PACKET_IN2` and `NXT_RESUME`.
pub mod pin_prop {
    /// The packet.
    pub const PACKET: u16 = 0;
    /// Full packet length (u32).
    pub const FULL_LEN: u16 = 1;
    /// Buffer id (u32).
    pub const BUFFER_ID: u16 = 2;
    /// Table id (u8).
    pub const TABLE_ID: u16 = 3;
    /// Cookie (u64).
    pub const COOKIE: u16 = 4;
    /// Reason (u8).
    pub const REASON: u16 = 5;
    /// Packet metadata as OXM fields.
    pub const METADATA: u16 = 6;
    /// Controller action userdata.
    pub const USERDATA: u16 = 7;
    /// Continuation (paused packets).
    pub const CONTINUATION: u16 = 8;
}

/// `NXT_PACKET_IN2` (and `NXT_RESUME`): a property list; accessors
/// decode the properties pinctrl reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn2 {
    /// The properties, in order.
    pub properties: Vec<Property>,
}

impl PacketIn2 {
    fn prop(&self, ty: u16) -> Option<&[u8]> {
        self.properties
            .iter()
            .find(|p| p.ty == ty)
            .map(|p| p.data.as_slice())
    }

    /// The packet.
    pub fn packet(&self) -> Option<&[u8]> {
        self.prop(pin_prop::PACKET)
    }

    /// The userdata of the `controller(userdata=...)` action.
    pub fn userdata(&self) -> Option<&[u8]> {
        self.prop(pin_prop::USERDATA)
    }

    /// The table of the flow that sent the packet.
    pub fn table_id(&self) -> Option<u8> {
        self.prop(pin_prop::TABLE_ID)
            .and_then(|d| d.first().copied())
    }

    /// The cookie of the flow that sent the packet.
    pub fn cookie(&self) -> Option<u64> {
        let d = self.prop(pin_prop::COOKIE)?;
        // The 8-byte cookie is aligned at offset 4 of the data.
        let b: [u8; 8] = d.get(4..12)?.try_into().ok()?;
        Some(u64::from_be_bytes(b))
    }

    /// The packet's metadata fields (registers, metadata, in_port...).
    pub fn metadata(&self) -> Result<Vec<OxmField>, WireError> {
        let Some(d) = self.prop(pin_prop::METADATA) else {
            return Ok(Vec::new());
        };
        let mut r = Reader::new(d);
        let mut out = Vec::new();
        while !r.is_empty() {
            out.push(OxmField::parse(&mut r)?);
        }
        Ok(out)
    }
}
