//! SB `Datapath_Binding` for logical switches (`build_datapaths()`,
//! `ovn_datapath_update_external_ids()` in northd.c).

use crate::ids;
use crate::nb::Switch;
use crate::sb::DatapathBinding;

/// Datapath tunnel keys: `OVN_MIN_DP_KEY_LOCAL`..=`OVN_MAX_DP_KEY_LOCAL`
/// (no VXLAN chassis: `OVN_MAX_DP_KEY - OVN_MAX_DP_GLOBAL_NUM`).
pub const DP_KEY_MIN: u32 = 1;
/// See [`DP_KEY_MIN`].
pub const DP_KEY_MAX: u32 = ((1 << 24) - 1) - ((1 << 16) - 1);

/// The `Datapath_Binding` of a switch holding `tunnel_key`: `external_ids`
/// `logical-switch` (NB UUID), `name`, `name2` (from
/// `external_ids:neutron:network_name` when non-empty) and `interconn-ts`.
pub fn datapath_binding(sw: &Switch, tunnel_key: u32) -> DatapathBinding {
    let mut ids = vec![
        ("logical-switch".to_string(), sw.uuid.to_string()),
        ("name".to_string(), sw.name.clone()),
    ];
    if let Some(n) = sw.network_name.as_ref().filter(|n| !n.is_empty()) {
        ids.push(("name2".to_string(), n.clone()));
    }
    if let Some(ts) = &sw.interconn_ts {
        ids.push(("interconn-ts".to_string(), ts.clone()));
    }
    ids.sort();
    DatapathBinding {
        uuid: ids::datapath_uuid(sw.uuid),
        tunnel_key,
        external_ids: ids,
    }
}
