//! Southbound monitor updates as input of the incremental engine
//! ([`crate::incremental::ChassisCompute`]), as ovn-controller 23.03's
//! engine nodes see them: each changed row goes to the handler of its
//! table (`lflow_handle_changed_flows`, `..._ref`, `physical_handle_*`,
//! `lflow_handle_changed_mac_bindings`, `..._fdbs`, `..._lbs`), tables that feed no
//! flow (`Chassis_Private`, `Connection`, `Controller_Event`, …) are
//! ignored, `SB_Global` counts only when its `options` change (its
//! `nb_cfg` moves with every `--wait`), and a change to a table without a
//! handler (HA groups, meters, DHCP options, …) asks for a full recompute
//! from the whole Southbound.

use ovsdb::db::RowChange;
use ovsdb::sb::{
    AddressSet, Chassis as ChassisRow, DatapathBinding, Encap, Fdb, LoadBalancer, LogicalDpGroup,
    LogicalFlow, MacBinding, MulticastGroup, PortBinding, PortGroup, SbGlobal,
};

use super::{typed_row, ControllerError};
use crate::incremental::SbChange;

/// The tables [`crate::sbdb::Southbound`] reads: a change elsewhere
/// cannot change a flow.
const FLOW_TABLES: &[&str] = &[
    "Datapath_Binding",
    "Port_Binding",
    "Logical_Flow",
    "Logical_DP_Group",
    "Multicast_Group",
    "Address_Set",
    "Port_Group",
    "Chassis",
    "Encap",
    "HA_Chassis_Group",
    "HA_Chassis",
    "Load_Balancer",
    "MAC_Binding",
    "Static_MAC_Binding",
    "FDB",
    "Meter",
    "Meter_Band",
    "DHCP_Options",
    "DHCPv6_Options",
    "SB_Global",
];

/// What a batch of Southbound row changes means for the flows.
#[derive(Debug, Default)]
pub struct Classified {
    /// Row changes the engine handles incrementally.
    pub changes: Vec<SbChange>,
    /// Whether a change needs a full recompute.
    pub full: bool,
}

impl Classified {
    /// Whether nothing that feeds the flows changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && !self.full
    }
}

/// Sorts `changes` out (see the module documentation).
pub fn classify(changes: &[RowChange]) -> Result<Classified, ControllerError> {
    let mut out = Classified::default();
    for c in changes {
        let (table, uuid, old, new) = match c {
            RowChange::Insert { table, uuid, new } => (table, *uuid, None, Some(&**new)),
            RowChange::Modify {
                table,
                uuid,
                old,
                new,
            } => (table, *uuid, Some(&**old), Some(&**new)),
            RowChange::Delete { table, uuid, old } => (table, *uuid, Some(&**old), None),
        };
        match table.as_str() {
            "Logical_Flow" => out.changes.push(SbChange::LogicalFlow(
                uuid,
                typed_row::<LogicalFlow>(uuid, new)?,
            )),
            "Port_Binding" => out.changes.push(SbChange::PortBinding(
                uuid,
                typed_row::<PortBinding>(uuid, new)?.map(Box::new),
            )),
            "Multicast_Group" => out.changes.push(SbChange::McGroup(
                uuid,
                typed_row::<MulticastGroup>(uuid, new)?,
            )),
            "MAC_Binding" => out.changes.push(SbChange::MacBinding(
                uuid,
                typed_row::<MacBinding>(uuid, new)?,
            )),
            "FDB" => out
                .changes
                .push(SbChange::Fdb(uuid, typed_row::<Fdb>(uuid, new)?)),
            "Load_Balancer" => out.changes.push(SbChange::LoadBalancer(
                uuid,
                typed_row::<LoadBalancer>(uuid, new)?,
            )),
            "Chassis" => out
                .changes
                .push(SbChange::Chassis(uuid, typed_row::<ChassisRow>(uuid, new)?)),
            "Encap" => out
                .changes
                .push(SbChange::Encap(uuid, typed_row::<Encap>(uuid, new)?)),
            "Logical_DP_Group" => out.changes.push(SbChange::DpGroup(
                uuid,
                typed_row::<LogicalDpGroup>(uuid, new)?,
            )),
            "Datapath_Binding" => out.changes.push(SbChange::Datapath(
                uuid,
                typed_row::<DatapathBinding>(uuid, new)?,
            )),
            "Address_Set" => {
                let old = typed_row::<AddressSet>(uuid, old)?;
                let new = typed_row::<AddressSet>(uuid, new)?;
                if let Some(o) = old.filter(|o| new.as_ref().is_none_or(|n| n.name != o.name)) {
                    out.changes.push(SbChange::AddressSet(o.name, None));
                }
                if let Some(n) = new {
                    out.changes
                        .push(SbChange::AddressSet(n.name.clone(), Some(n)));
                }
            }
            "Port_Group" => {
                let old = typed_row::<PortGroup>(uuid, old)?;
                let new = typed_row::<PortGroup>(uuid, new)?;
                if let Some(o) = old.filter(|o| new.as_ref().is_none_or(|n| n.name != o.name)) {
                    out.changes.push(SbChange::PortGroup(o.name, None));
                }
                if let Some(n) = new {
                    out.changes
                        .push(SbChange::PortGroup(n.name.clone(), Some(n)));
                }
            }
            "SB_Global" => {
                let old = typed_row::<SbGlobal>(uuid, old)?.map(|g| g.options);
                let new = typed_row::<SbGlobal>(uuid, new)?.map(|g| g.options);
                if old != new {
                    out.full = true;
                }
            }
            t if FLOW_TABLES.contains(&t) => out.full = true,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use ovsdb::typed::TypedRow;
    use ovsdb::{Row, Uuid};

    fn global(nb_cfg: i64, options: &[(&str, &str)]) -> Arc<Row> {
        let g = SbGlobal {
            uuid: Uuid::from_u128(1),
            nb_cfg,
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            ..SbGlobal::from_row(Uuid::from_u128(1), &Row::default()).unwrap()
        };
        Arc::new(g.to_row())
    }

    #[test]
    fn nb_cfg_alone_changes_no_flow_but_options_do() {
        let modify = |old, new| RowChange::Modify {
            table: "SB_Global".into(),
            uuid: Uuid::from_u128(1),
            old,
            new,
        };
        let c = classify(&[modify(global(1, &[]), global(2, &[]))]).unwrap();
        assert!(c.is_empty());
        let c = classify(&[modify(global(1, &[]), global(1, &[("a", "b")]))]).unwrap();
        assert!(c.full);
        let c = classify(&[RowChange::Delete {
            table: "Chassis_Private".into(),
            uuid: Uuid::from_u128(2),
            old: Arc::new(Row::default()),
        }])
        .unwrap();
        assert!(c.is_empty());
    }

    #[test]
    fn chassis_and_encaps_have_handlers_ha_chassis_not() {
        let delete = |table: &str| RowChange::Delete {
            table: table.into(),
            uuid: Uuid::from_u128(2),
            old: Arc::new(Row::default()),
        };
        let c = classify(&[delete("Encap"), delete("Chassis")]).unwrap();
        assert!(!c.full);
        assert!(matches!(
            c.changes[..],
            [SbChange::Encap(_, None), SbChange::Chassis(_, None)]
        ));
        let c = classify(&[delete("HA_Chassis")]).unwrap();
        assert!(c.full);
    }
}
