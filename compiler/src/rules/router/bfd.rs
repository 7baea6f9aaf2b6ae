//! SB `BFD` rows from the NB `BFD` table (`build_bfd_table()` in
//! northd.c). The BFD flows are with the stages they belong to:
//! [`super::ip_input::bfd`] and the BFD routes of [`super::routing`].
//!
//! northd draws `disc` at random (`1 + random_uint32()`); we derive it from
//! the session's port and destination, so it is stable but not northd's.
//! `src_port` is the lowest free port from 49152, allocated in the order
//! of the NB rows (held across batches like a tunnel key).
//!
//! The status northd works with is the NB one (`admin_down` when empty),
//! unless the SB row (read back, [`crate::sb_input`]) reports another and
//! neither is `admin_down`: then ovn-controller's ([`effective_status`]).
//! It is the SB row's status and decides whether routes through the
//! session are kept; what northd writes back to the NB is
//! [`nb_status`].

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

/// `build_bfd_table()`: the status of NB session `nb_status` (`None` when
/// empty) given its SB row's (`None` when there is no SB row yet). An
/// `admin_down` on either side makes the NB status win (and be copied to
/// the SB); otherwise ovn-controller's SB status is copied to the NB.
pub fn effective_status(nb_status: Option<&str>, sb_status: Option<&str>) -> String {
    let nb = nb_status.unwrap_or("admin_down");
    match sb_status {
        Some(sb) if sb != nb && nb != "admin_down" && sb != "admin_down" => sb.to_string(),
        _ => nb.to_string(),
    }
}

/// The status northd leaves in the NB `BFD` row after a run: the
/// [`effective_status`] `status`, turned `down` from `admin_down` when a
/// static route reaches the session (`parsed_routes_add()`), and
/// `admin_down` when the SB row already existed and no route reaches it
/// (`bfd_cleanup_connections()`).
pub fn nb_status(status: &str, referenced: bool, sb_exists: bool) -> String {
    if referenced && status == "admin_down" {
        "down".into()
    } else if sb_exists && !referenced && status != "admin_down" {
        "admin_down".into()
    } else {
        status.into()
    }
}

/// The SB row of NB session `b` (its status already the
/// [`effective_status`]) holding UDP source port `src_port`; `nb_status`
/// is what northd writes back to the NB row, `reported` the status the SB
/// row holds (SB input) if it exists.
pub fn sb_row(b: &Bfd, src_port: u32, nb_status: String, reported: Option<String>) -> SbRecord {
    let uuid = ids::derive("BFD", &[b.logical_port.as_bytes(), b.dst_ip.as_bytes()]);
    let disc = 1 + i64::from(u32::from_be_bytes({
        let x = ids::derive(
            "BFD disc",
            &[b.logical_port.as_bytes(), b.dst_ip.as_bytes()],
        );
        let bytes = x.as_bytes();
        [bytes[0], bytes[1], bytes[2], bytes[3]]
    }));
    SbRecord::Bfd(Box::new(sb::Bfd {
        uuid,
        logical_port: b.logical_port.clone(),
        dst_ip: b.dst_ip.clone(),
        src_port,
        disc,
        min_tx: b.min_tx.unwrap_or(DEF_MIN_TX),
        min_rx: b.min_rx.unwrap_or(DEF_MIN_RX),
        detect_mult: b.detect_mult.unwrap_or(DEF_DETECT_MULT),
        status: b.status().to_string(),
        nb_status,
        reported,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_build_bfd_table() {
        assert_eq!(effective_status(None, None), "admin_down");
        assert_eq!(effective_status(Some("up"), Some("down")), "down");
        assert_eq!(
            effective_status(Some("admin_down"), Some("up")),
            "admin_down"
        );
        assert_eq!(effective_status(Some("up"), Some("admin_down")), "up");
        assert_eq!(nb_status("admin_down", true, false), "down");
        assert_eq!(nb_status("up", false, true), "admin_down");
        assert_eq!(nb_status("up", false, false), "up");
        assert_eq!(nb_status("up", true, true), "up");
    }
}
