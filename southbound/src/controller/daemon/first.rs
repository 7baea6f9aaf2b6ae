//! The first compute of a (re)started engine, streamed to the switch as
//! it goes (see [`crate::openflow::installer::FullStream`]): the switch
//! parses the flows while the rest are computed.

use std::sync::Arc;

use crate::chassis::Chassis;
use crate::flow_table::OfFlow;
use crate::incremental::ChassisCompute;
use crate::openflow::installer::{uses_group_or_meter, FullStream, Installer};
use crate::sbdb::Southbound;

/// A full compute of `chassis` over `view`, its flows streamed into a
/// full install through `installer` when the switch's table is not known
/// (no connection, or one made ahead that saw no sync yet) and can
/// (the stream is then returned, for [`finals`] and
/// [`Installer::finish_full`]).  Over a connection that is up (`ovn-appctl
/// recompute`), only the difference is sent afterwards, as before.
pub(super) async fn compute_streamed(
    installer: &mut Installer,
    view: Southbound,
    chassis: Chassis,
) -> (ChassisCompute, Option<FullStream>) {
    if installer.has_table() {
        return (ChassisCompute::with_kept_zones(view, chassis), None);
    }
    match installer.begin_full().await {
        Ok(mut s) => {
            let c = ChassisCompute::with_kept_zones_streamed(view, chassis, &mut |f| {
                s.flow(installer, f)
            });
            (c, Some(s))
        }
        Err(e) => {
            tracing::debug!("full install not streamed: {e}");
            (ChassisCompute::with_kept_zones(view, chassis), None)
        }
    }
}

/// What a streamed install adds (or, `false`: deletes) at the end: the
/// flows merged from several at their key, and those held back for their
/// groups or meters; with whether each can be installed.
pub(super) fn finals(
    compute: &ChassisCompute,
    usable: impl Fn(&Arc<OfFlow>) -> bool,
) -> Vec<(Arc<OfFlow>, bool)> {
    // Both in key order, the merged flows among the installed ones (the
    // same allocations): one walk, no lookups.
    let merged = compute.merged_flows();
    let mut next = merged.iter().peekable();
    compute
        .installed_shared()
        .filter(|f| {
            let is_merged = next.next_if(|m| Arc::ptr_eq(m, f)).is_some();
            is_merged || uses_group_or_meter(&f.actions)
        })
        .map(|f| (Arc::clone(f), usable(f)))
        .collect()
}
