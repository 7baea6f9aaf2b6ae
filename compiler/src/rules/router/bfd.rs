//! SB `BFD` rows from the NB `BFD` table (`build_bfd_table()` in
//! northd.c). The BFD flows are with the stages they belong to:
//! [`super::ip_input::bfd`] and the BFD routes of [`super::routing`].
//!
//! northd draws `disc` at random (`1 + random_uint32()`); we derive it from
//! the session's port and destination, so it is stable but not northd's.
//! `src_port` is the lowest free port from 49152, allocated in the order
//! of the NB rows (held across batches like a tunnel key).

use crate::ids;
use crate::nb::Bfd;
use crate::sb::{self, SbRecord};

/// Lowest BFD UDP source port (`BFD_UDP_SRC_PORT_START`, RFC 5881).
pub const SRC_PORT_MIN: u32 = 49152;
/// Highest source port northd allocates
/// (`BFD_UDP_SRC_PORT_START + BFD_UDP_SRC_PORT_LEN - 1`).
pub const SRC_PORT_MAX: u32 = 65534;

/// `BFD_DEF_MINTX`, `BFD_DEF_MINRX` (ms) and `BFD_DEF_DETECT_MULT`.
const DEF_MIN_TX: i64 = 1000;
const DEF_MIN_RX: i64 = 1000;
const DEF_DETECT_MULT: i64 = 5;

/// The SB row of NB session `b` holding UDP source port `src_port`. Its
/// status is the NB one (`admin_down` when empty): without ovn-controller
/// reporting a status, northd copies the NB status to the SB.
pub fn sb_row(b: &Bfd, src_port: u32) -> SbRecord {
    let uuid = ids::derive("BFD", &[b.logical_port.as_bytes(), b.dst_ip.as_bytes()]);
    let disc = 1 + i64::from(u32::from_be_bytes({
        let x = ids::derive(
            "BFD disc",
            &[b.logical_port.as_bytes(), b.dst_ip.as_bytes()],
        );
        let bytes = x.as_bytes();
        [bytes[0], bytes[1], bytes[2], bytes[3]]
    }));
    SbRecord::Bfd(sb::Bfd {
        uuid,
        logical_port: b.logical_port.clone(),
        dst_ip: b.dst_ip.clone(),
        src_port,
        disc,
        min_tx: b.min_tx.unwrap_or(DEF_MIN_TX),
        min_rx: b.min_rx.unwrap_or(DEF_MIN_RX),
        detect_mult: b.detect_mult.unwrap_or(DEF_DETECT_MULT),
        status: b.status().to_string(),
    })
}
