//! The first compute of a (re)started engine, streamed to the switch as
//! it goes (see [`crate::openflow::installer::FullStream`]): the switch
//! parses the flows while the rest are computed.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::chassis::Chassis;
use crate::flow_table::{ByKey, OfFlow};
use crate::incremental::ChassisCompute;
use crate::openflow::installer::{uses_group_or_meter, FullStream, Installer};
use crate::sbdb::Southbound;

/// A full compute of `chassis` over `view`, its flows streamed into a
/// full install through `installer` when that must (re)connect and can
/// (the stream is then returned, for [`finals`] and
/// [`Installer::finish_full`]).  Over a connection that is up (`ovn-appctl
/// recompute`), only the difference is sent afterwards, as before.
pub(super) async fn compute_streamed(
    installer: &mut Installer,
    view: Southbound,
    chassis: Chassis,
) -> (ChassisCompute, Option<FullStream>) {
    if installer.is_connected() {
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
    let merged: BTreeSet<ByKey> = compute.merged_flows().into_iter().map(ByKey).collect();
    compute
        .installed_shared()
        .filter(|f| uses_group_or_meter(&f.actions) || merged.contains(&ByKey(Arc::clone(f))))
        .map(|f| (Arc::clone(f), usable(f)))
        .collect()
}
