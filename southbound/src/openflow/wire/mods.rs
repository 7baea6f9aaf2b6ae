//! State-changing messages: `OFPT_FLOW_MOD`, `OFPT_GROUP_MOD` and
//! `OFPT_METER_MOD` in their OpenFlow 1.5 layouts (`struct ofp11_flow_mod`
//! with `importance`, `struct ofp15_group_mod`, `struct ofp13_meter_mod`).

use super::action::{emit_actions, parse_actions, Action, Instruction};
use super::buf::{put_u16, put_u32, put_u64, set_len16, Property, Reader};
use super::oxm::Match;
use super::WireError;

/// `OFPFC_*` flow-mod commands.
pub mod flow_command {
    /// Add (or replace an identical-match flow).
    pub const ADD: u8 = 0;
    /// Modify all matching flows.
    pub const MODIFY: u8 = 1;
    /// Modify the flow with this exact match and priority.
    pub const MODIFY_STRICT: u8 = 2;
    /// Delete all matching flows.
    pub const DELETE: u8 = 3;
    /// Delete the flow with this exact match and priority.
    pub const DELETE_STRICT: u8 = 4;
}

/// `OFPTT_ALL`: every table (deletes).
pub const OFPTT_ALL: u8 = 0xff;
/// `OFPP_ANY` as a 32-bit port: no port restriction.
pub const OFPP_ANY: u32 = 0xffff_ffff;
/// `OFPG_ANY`/`OFPG_ALL`: no group restriction, or every group.
pub const OFPG_ALL: u32 = 0xffff_fffc;
/// `OFPG_ANY`.
pub const OFPG_ANY: u32 = 0xffff_ffff;
/// `OFPM_ALL`: every meter.
pub const OFPM_ALL: u32 = 0xffff_ffff;
/// `OFP_NO_BUFFER`.
pub const NO_BUFFER: u32 = 0xffff_ffff;

/// `OFPT_FLOW_MOD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMod {
    /// Cookie (new flows) or cookie to match (modify/delete).
    pub cookie: u64,
    /// Cookie bits to match (modify/delete).
    pub cookie_mask: u64,
    /// Table, or [`OFPTT_ALL`] for deletes.
    pub table_id: u8,
    /// One of [`flow_command`].
    pub command: u8,
    /// Idle timeout.
    pub idle_timeout: u16,
    /// Hard timeout.
    pub hard_timeout: u16,
    /// Priority.
    pub priority: u16,
    /// Buffered packet, or [`NO_BUFFER`].
    pub buffer_id: u32,
    /// Output-port restriction for deletes.
    pub out_port: u32,
    /// Output-group restriction for deletes.
    pub out_group: u32,
    /// `OFPFF_*` flags.
    pub flags: u16,
    /// Eviction importance.
    pub importance: u16,
    /// The match.
    pub of_match: Match,
    /// The instructions.
    pub instructions: Vec<Instruction>,
}

impl FlowMod {
    /// A flow mod with OVS's defaults for `command` (what `ovs-ofctl
    /// add-flow` sends): no cookie mask, no buffer, any port and group.
    pub fn new(command: u8) -> FlowMod {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            table_id: 0,
            command,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 0x8000,
            buffer_id: NO_BUFFER,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            flags: 0,
            importance: 0,
            of_match: Match::new(),
            instructions: Vec::new(),
        }
    }

    /// The apply-actions of the flow (empty when it has none).
    pub fn apply_actions(&self) -> &[Action] {
        self.instructions
            .iter()
            .find_map(|i| match i {
                Instruction::ApplyActions(a) => Some(a.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }

    pub(super) fn parse(r: &mut Reader<'_>) -> Result<FlowMod, WireError> {
        let cookie = r.u64("flow_mod cookie")?;
        let cookie_mask = r.u64("flow_mod cookie_mask")?;
        let table_id = r.u8("flow_mod table_id")?;
        let command = r.u8("flow_mod command")?;
        let idle_timeout = r.u16("flow_mod idle_timeout")?;
        let hard_timeout = r.u16("flow_mod hard_timeout")?;
        let priority = r.u16("flow_mod priority")?;
        let buffer_id = r.u32("flow_mod buffer_id")?;
        let out_port = r.u32("flow_mod out_port")?;
        let out_group = r.u32("flow_mod out_group")?;
        let flags = r.u16("flow_mod flags")?;
        let importance = r.u16("flow_mod importance")?;
        let of_match = Match::parse(r)?;
        let instructions = Instruction::parse_list(r)?;
        Ok(FlowMod {
            cookie,
            cookie_mask,
            table_id,
            command,
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port,
            out_group,
            flags,
            importance,
            of_match,
            instructions,
        })
    }

    pub(super) fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        self.emit_head(out);
        self.of_match.emit(out)?;
        self.instructions.iter().try_for_each(|i| i.emit(out))
    }

    /// The fixed part of the message body, up to the match (also written
    /// by the streamed encoder, `openflow::convert::emit_add_flow`, which
    /// writes the match and instructions itself).
    pub(in crate::openflow) fn emit_head(&self, out: &mut Vec<u8>) {
        put_u64(out, self.cookie);
        put_u64(out, self.cookie_mask);
        out.push(self.table_id);
        out.push(self.command);
        put_u16(out, self.idle_timeout);
        put_u16(out, self.hard_timeout);
        put_u16(out, self.priority);
        put_u32(out, self.buffer_id);
        put_u32(out, self.out_port);
        put_u32(out, self.out_group);
        put_u16(out, self.flags);
        put_u16(out, self.importance);
    }
}

/// `OFPGC15_*` group-mod commands.
pub mod group_command {
    /// Add a group.
    pub const ADD: u16 = 0;
    /// Replace a group's buckets.
    pub const MODIFY: u16 = 1;
    /// Delete a group ([`super::OFPG_ALL`]: all).
    pub const DELETE: u16 = 2;
}

/// `OFPGT11_*` group types.
pub mod group_type {
    /// All buckets.
    pub const ALL: u8 = 0;
    /// One bucket, selected.
    pub const SELECT: u8 = 1;
    /// One bucket.
    pub const INDIRECT: u8 = 2;
    /// Fast failover.
    pub const FAST_FAILOVER: u8 = 3;
}

/// One OpenFlow 1.5 bucket (`struct ofp15_bucket`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Bucket id.
    pub bucket_id: u32,
    /// Actions.
    pub actions: Vec<Action>,
    /// Properties (`OFPGBPT15_WEIGHT` 0, `_WATCH_PORT` 1, `_WATCH_GROUP` 2).
    pub properties: Vec<Property>,
}

/// `OFPT_GROUP_MOD` (OpenFlow 1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMod {
    /// One of [`group_command`].
    pub command: u16,
    /// One of [`group_type`].
    pub group_type: u8,
    /// Group id.
    pub group_id: u32,
    /// Bucket the command applies to (`OFPG15_BUCKET_ALL` 0xffffffff).
    pub command_bucket_id: u32,
    /// Buckets.
    pub buckets: Vec<Bucket>,
    /// Group properties (e.g. the NTR selection-method experimenter
    /// property).
    pub properties: Vec<Property>,
}

impl GroupMod {
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<GroupMod, WireError> {
        let command = r.u16("group_mod command")?;
        let group_type = r.u8("group_mod type")?;
        r.skip(1, "group_mod pad")?;
        let group_id = r.u32("group_mod group_id")?;
        let buckets_len = r.u16("group_mod bucket_array_len")? as usize;
        r.skip(2, "group_mod pad")?;
        let command_bucket_id = r.u32("group_mod command_bucket_id")?;
        let mut b = r.sub(buckets_len, "group_mod buckets")?;
        let mut buckets = Vec::new();
        while !b.is_empty() {
            let len = b.u16("bucket length")? as usize;
            let actions_len = b.u16("bucket action_array_len")? as usize;
            if len < 8 || actions_len > len - 8 {
                return Err(WireError::BadLength("bucket", len));
            }
            let bucket_id = b.u32("bucket_id")?;
            let mut body = b.sub(len - 8, "bucket body")?;
            let actions = parse_actions(&mut body.sub(actions_len, "bucket actions")?)?;
            let properties = Property::parse_list(&mut body)?;
            buckets.push(Bucket {
                bucket_id,
                actions,
                properties,
            });
        }
        let properties = Property::parse_list(r)?;
        Ok(GroupMod {
            command,
            group_type,
            group_id,
            command_bucket_id,
            buckets,
            properties,
        })
    }

    pub(super) fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        put_u16(out, self.command);
        out.push(self.group_type);
        out.push(0);
        put_u32(out, self.group_id);
        put_u16(out, 0);
        put_u16(out, 0);
        put_u32(out, self.command_bucket_id);
        let buckets_start = out.len();
        for bucket in &self.buckets {
            let bstart = out.len();
            put_u16(out, 0);
            put_u16(out, 0);
            put_u32(out, bucket.bucket_id);
            emit_actions(&bucket.actions, out)?;
            let alen = u16::try_from(out.len() - bstart - 8).map_err(|_| WireError::TooLong)?;
            out[bstart + 2..bstart + 4].copy_from_slice(&alen.to_be_bytes());
            Property::emit_list(&bucket.properties, out)?;
            set_len16(out, bstart, 0)?;
        }
        let blen = u16::try_from(out.len() - buckets_start).map_err(|_| WireError::TooLong)?;
        out[start + 8..start + 10].copy_from_slice(&blen.to_be_bytes());
        Property::emit_list(&self.properties, out)
    }
}

/// `OFPMC13_*` meter-mod commands.
pub mod meter_command {
    /// Add a meter.
    pub const ADD: u16 = 0;
    /// Modify a meter.
    pub const MODIFY: u16 = 1;
    /// Delete a meter ([`super::OFPM_ALL`]: all).
    pub const DELETE: u16 = 2;
}

/// `OFPMF13_*` meter flags.
pub mod meter_flags {
    /// Rates in kb/s.
    pub const KBPS: u16 = 1;
    /// Rates in packets/s.
    pub const PKTPS: u16 = 2;
    /// Bands have burst sizes.
    pub const BURST: u16 = 4;
    /// Collect statistics.
    pub const STATS: u16 = 8;
}

/// One meter band (`struct ofp13_meter_band_header` and its type-specific
/// tail: 4 bytes of padding for drop, precedence level for DSCP remark).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterBand {
    /// `OFPMBT13_DROP` (1), `_DSCP_REMARK` (2), `_EXPERIMENTER` (0xffff).
    pub band_type: u16,
    /// Rate.
    pub rate: u32,
    /// Burst size.
    pub burst_size: u32,
    /// The bytes after the burst size.
    pub tail: Vec<u8>,
}

/// `OFPT_METER_MOD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterMod {
    /// One of [`meter_command`].
    pub command: u16,
    /// [`meter_flags`].
    pub flags: u16,
    /// Meter id.
    pub meter_id: u32,
    /// Bands.
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<MeterMod, WireError> {
        let command = r.u16("meter_mod command")?;
        let flags = r.u16("meter_mod flags")?;
        let meter_id = r.u32("meter_mod meter_id")?;
        let mut bands = Vec::new();
        while !r.is_empty() {
            let band_type = r.u16("meter band type")?;
            let len = r.u16("meter band length")? as usize;
            if len < 12 || !len.is_multiple_of(8) {
                return Err(WireError::BadLength("meter band", len));
            }
            let rate = r.u32("meter band rate")?;
            let burst_size = r.u32("meter band burst_size")?;
            let tail = r.bytes(len - 12, "meter band tail")?.to_vec();
            bands.push(MeterBand {
                band_type,
                rate,
                burst_size,
                tail,
            });
        }
        Ok(MeterMod {
            command,
            flags,
            meter_id,
            bands,
        })
    }

    pub(super) fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        put_u16(out, self.command);
        put_u16(out, self.flags);
        put_u32(out, self.meter_id);
        for b in &self.bands {
            let start = out.len();
            put_u16(out, b.band_type);
            put_u16(out, 0);
            put_u32(out, b.rate);
            put_u32(out, b.burst_size);
            out.extend_from_slice(&b.tail);
            if !(out.len() - start).is_multiple_of(8) {
                return Err(WireError::BadLength("meter band", out.len() - start));
            }
            set_len16(out, start, 2)?;
        }
        Ok(())
    }
}
