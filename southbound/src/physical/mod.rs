//! Physical flows of one chassis, as ovn-controller 23.03's
//! `controller/physical.c` builds them (`physical_run`):
//!
//! * [`ports`]: per port binding (`consider_port_binding`) — table 0
//!   classification of local VIFs, tables 40/41/64 local delivery common
//!   flows, table 65 output, patch ports entering the peer datapath,
//!   chassisredirect ports, localnet ports through a bridge mapping;
//! * [`mcast`]: multicast groups fanned out to local ports (table 40) and
//!   patch ports (table 39) (`consider_mc_group`);
//! * [`defaults`]: the catch-all flows of tables 0, 37–41, 64 and 65.
//!
//! * [`tunnels`]: tunnel receive (table 0) and output to remote chassis
//!   (table 39).

pub mod defaults;
pub mod mcast;
pub mod ports;
pub mod tunnels;

use crate::actions::OfAction;
use crate::expr::symtab::Field;
use crate::expr::OfMatch;

/// `OFTABLE_PHY_TO_LOG`.
pub const PHY_TO_LOG: u8 = 0;
/// `OFTABLE_LOG_INGRESS_PIPELINE`.
pub const LOG_INGRESS: u8 = 8;
/// `OFTABLE_OUTPUT_LARGE_PKT_DETECT`.
pub const OUTPUT_LARGE_PKT_DETECT: u8 = 37;
/// `OFTABLE_OUTPUT_LARGE_PKT_PROCESS`.
pub const OUTPUT_LARGE_PKT_PROCESS: u8 = 38;
/// `OFTABLE_REMOTE_OUTPUT`.
pub const REMOTE_OUTPUT: u8 = 39;
/// `OFTABLE_LOCAL_OUTPUT`.
pub const LOCAL_OUTPUT: u8 = 40;
/// `OFTABLE_CHECK_LOOPBACK`.
pub const CHECK_LOOPBACK: u8 = 41;
/// `OFTABLE_LOG_EGRESS_PIPELINE`.
pub const LOG_EGRESS: u8 = 42;
/// `OFTABLE_SAVE_INPORT`.
pub const SAVE_INPORT: u8 = 64;
/// `OFTABLE_LOG_TO_PHY`.
pub const LOG_TO_PHY: u8 = 65;

/// `MLF_ALLOW_LOOPBACK`.
pub const MLF_ALLOW_LOOPBACK: u32 = 1 << 0;
/// `MLF_RCV_FROM_RAMP`.
pub const MLF_RCV_FROM_RAMP: u32 = 1 << 1;
/// `MLF_LOCAL_ONLY`.
pub const MLF_LOCAL_ONLY: u32 = 1 << 4;
/// `MLF_NESTED_CONTAINER`.
pub const MLF_NESTED_CONTAINER: u32 = 1 << 5;
/// `MLF_LOCALPORT`.
pub const MLF_LOCALPORT: u32 = 1 << 10;

/// `put_load(value, field, ofs, n_bits)`: a `set_field` of some bits.
pub fn load(field: Field, value: u64, ofs: u32, n_bits: u32) -> OfAction {
    let mask = if n_bits >= 128 {
        u128::MAX
    } else {
        ((1u128 << n_bits) - 1) << ofs
    };
    OfAction::SetField {
        field,
        value: (u128::from(value) << ofs) & mask,
        mask,
    }
}

/// `put_load` of a whole 32-bit register.
pub fn load_reg(reg: u8, value: u64) -> OfAction {
    load(Field::Reg(reg), value, 0, 32)
}

/// A match on `reg10` bits (`match_set_reg_masked(MFF_LOG_FLAGS)`).
pub fn match_flags(m: &mut OfMatch, value: u32, mask: u32) {
    m.set_field(Field::Reg(10), u128::from(value), u128::from(mask));
}

/// `match_outport_dp_and_port_keys`: `metadata=dp, reg15=port`.
pub fn match_outport(dp_key: i64, port_key: i64) -> OfMatch {
    let mut m = OfMatch::new();
    m.set_metadata(dp_key as u64);
    m.set_field(Field::Reg(15), port_key as u128 & 0xffff_ffff, 0xffff_ffff);
    m
}

/// `put_zones_ofpacts`: load the port's CT zone and its datapath's DNAT
/// and SNAT zones (those that are allocated).
pub fn zone_loads((ct, dnat, snat): (u32, u32, u32), out: &mut Vec<OfAction>) {
    if ct != 0 {
        out.push(load_reg(13, u64::from(ct)));
    }
    if dnat != 0 {
        out.push(load_reg(11, u64::from(dnat)));
    }
    if snat != 0 {
        out.push(load_reg(12, u64::from(snat)));
    }
}
