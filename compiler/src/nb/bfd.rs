//! NB `BFD` rows: bidirectional forwarding detection sessions on router
//! ports (`build_bfd_table()` in northd.c), referenced by static routes'
//! `bfd` column.

use ovsdb::Uuid;

use super::{InputError, NbRecord, Reader};

/// A `BFD` row. Key `uuid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bfd {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `logical_port`: the router port the session runs on.
    pub logical_port: String,
    /// `dst_ip`: the peer's address.
    pub dst_ip: String,
    /// `min_tx`.
    pub min_tx: Option<i64>,
    /// `min_rx`.
    pub min_rx: Option<i64>,
    /// `detect_mult`.
    pub detect_mult: Option<i64>,
    /// `status` (`down`, `init`, `up`, `admin_down`); northd writes
    /// `admin_down` into an empty one.
    pub status: Option<String>,
}

impl Bfd {
    /// The status northd works with: an empty one becomes `admin_down`.
    pub fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("admin_down")
    }

    /// Whether a static route whose next hop is this session's `dst_ip`
    /// is left out (`parsed_routes_add()`): northd turns `admin_down` into
    /// `down` and skips routes whose session is `down`.
    pub fn route_down(&self) -> bool {
        matches!(self.status(), "admin_down" | "down")
    }
}

/// The record of a `BFD` row.
pub(super) fn record(r: &Reader<'_>) -> Result<NbRecord, InputError> {
    Ok(NbRecord::Bfd(Bfd {
        uuid: r.uuid,
        logical_port: r.string("logical_port")?,
        dst_ip: r.string("dst_ip")?,
        min_tx: r.opt_i64("min_tx")?,
        min_rx: r.opt_i64("min_rx")?,
        detect_mult: r.opt_i64("detect_mult")?,
        status: r.opt_string("status")?,
    }))
}
