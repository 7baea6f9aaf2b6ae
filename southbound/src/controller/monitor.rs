//! What the controller monitors of its two databases, as ovn-controller
//! 23.03 registers its IDL tables and columns (`ctrl_register_ovs_idl`
//! for the Open_vSwitch database; the `ovsdb_idl_omit` calls of `main`
//! for the Southbound, which leave out `external_ids` almost everywhere).
//!
//! A table or column left out is neither sent by the server nor held in
//! the replica, nor in the typed rows built from it: the start has less to
//! receive and parse, and the process less to keep (issue 9).  Columns
//! left out read as their schema default, so only columns that nothing in
//! the controller reads may be left out; nothing writes a row back whole
//! from its typed value, so none is cleared by omission.

use ovsdb::client::Selection;
use ovsdb::sb;
use ovsdb::typed::TypedRow;
use ovsdb::vswitch;

/// `T`'s columns, all of them, or all but `external_ids`.
fn add<T: TypedRow>(sel: Selection, external_ids: bool) -> Selection {
    let cols: Vec<&str> = T::COLUMNS
        .iter()
        .copied()
        .filter(|c| external_ids || *c != "external_ids")
        .collect();
    sel.columns(T::TABLE, &cols)
}

/// The Southbound monitor: the tables the controller reads.
///
/// * What the flows are computed from ([`crate::sbdb::Southbound`], and
///   [`super::sb_changes`] for its changes);
/// * `Chassis_Private` (registration, `nb_cfg`), `DNS` (DNS answers),
///   `Controller_Event` (`trigger_event` sequence numbers) and
///   `Service_Monitor` (health checks), read by the chassis duties.
///
/// `external_ids` is kept only where something reads it:
/// `Datapath_Binding` (`logical-switch`, `snat-ct-zone`, `interconn-ts`),
/// `DNS` (`dns_id`) and `Chassis` (kept whole, as ovn-controller does);
/// on `Logical_Flow` it is a good part of each row (`source`,
/// `stage-name`, `stage-hint`).  Tables nothing reads (`Connection`,
/// `SSL`, `RBAC_*`, `Gateway_Chassis`, `IP_Multicast`, `IGMP_Group`,
/// `BFD`, `Mirror`, `Chassis_Template_Var`) are not monitored.
pub fn southbound() -> Selection {
    let s = Selection::all();
    // Flow inputs.
    let s = add::<sb::DatapathBinding>(s, true);
    let s = add::<sb::PortBinding>(s, false);
    let s = add::<sb::LogicalFlow>(s, false);
    let s = add::<sb::LogicalDpGroup>(s, false);
    let s = add::<sb::MulticastGroup>(s, false);
    let s = add::<sb::AddressSet>(s, false);
    let s = add::<sb::PortGroup>(s, false);
    let s = add::<sb::Chassis>(s, true);
    let s = add::<sb::Encap>(s, false);
    let s = add::<sb::HaChassisGroup>(s, false);
    let s = add::<sb::HaChassis>(s, false);
    let s = add::<sb::LoadBalancer>(s, false);
    let s = add::<sb::MacBinding>(s, false);
    let s = add::<sb::StaticMacBinding>(s, false);
    let s = add::<sb::Fdb>(s, false);
    let s = add::<sb::Meter>(s, false);
    let s = add::<sb::MeterBand>(s, false);
    let s = add::<sb::DhcpOptions>(s, false);
    let s = add::<sb::Dhcpv6Options>(s, false);
    let s = add::<sb::SbGlobal>(s, false);
    // Chassis duties.
    let s = add::<sb::ChassisPrivate>(s, false);
    let s = add::<sb::Dns>(s, true);
    let s = add::<sb::ControllerEvent>(s, false);
    add::<sb::ServiceMonitor>(s, false)
}

/// The Open_vSwitch monitor: the settings, and the bridges' ports and
/// interfaces with only the columns [`super::ovs::OvsView`] and the
/// chassis duties read.  Interface `statistics`, `status` and the like,
/// which ovs-vswitchd rewrites every few seconds, are left out (each
/// rewrite would otherwise wake the controller for a run).
pub fn open_vswitch() -> Selection {
    Selection::all()
        .columns(
            vswitch::OpenVswitch::TABLE,
            &["bridges", "external_ids", "iface_types"],
        )
        .columns(
            vswitch::Bridge::TABLE,
            &["name", "ports", "external_ids", "datapath_type"],
        )
        .columns(
            vswitch::Port::TABLE,
            &["name", "interfaces", "external_ids"],
        )
        .columns(
            vswitch::Interface::TABLE,
            &["name", "type", "options", "ofport", "external_ids"],
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::schema::{sb_schema, vswitch_schema, DatabaseSchema};

    fn columns(sel: &Selection, schema: &DatabaseSchema, table: &str) -> Option<Vec<String>> {
        let reqs = sel.requests(schema);
        let cols = reqs.get(table)?[0]["columns"].as_array()?.clone();
        Some(
            cols.iter()
                .map(|c| c.as_str().unwrap_or_default().to_string())
                .collect(),
        )
    }

    #[test]
    fn southbound_leaves_out_unread_tables_and_external_ids() {
        let schema = sb_schema();
        let sel = southbound();
        for t in [
            "Connection",
            "SSL",
            "RBAC_Role",
            "RBAC_Permission",
            "Gateway_Chassis",
            "IP_Multicast",
            "IGMP_Group",
            "BFD",
            "Mirror",
            "Chassis_Template_Var",
        ] {
            assert!(schema.table(t).is_some(), "{t}");
            assert_eq!(columns(&sel, schema, t), None, "{t}");
        }
        assert_eq!(sel.requests(schema).len(), schema.tables.len() - 10);
        let lflow = columns(&sel, schema, "Logical_Flow").unwrap();
        assert!(!lflow.iter().any(|c| c == "external_ids"));
        assert_eq!(
            lflow.len(),
            schema.table("Logical_Flow").unwrap().columns.len() - 1
        );
        for t in ["Datapath_Binding", "DNS", "Chassis"] {
            let cols = columns(&sel, schema, t).unwrap();
            assert_eq!(cols.len(), schema.table(t).unwrap().columns.len(), "{t}");
        }
        for t in [
            "Port_Binding",
            "Load_Balancer",
            "SB_Global",
            "Chassis_Private",
        ] {
            let cols = columns(&sel, schema, t).unwrap();
            assert!(!cols.iter().any(|c| c == "external_ids"), "{t}");
            assert_eq!(
                cols.len(),
                schema.table(t).unwrap().columns.len() - 1,
                "{t}"
            );
        }
        let mac = columns(&sel, schema, "MAC_Binding").unwrap();
        assert_eq!(
            mac.len(),
            schema.table("MAC_Binding").unwrap().columns.len()
        );
    }

    #[test]
    fn open_vswitch_asks_only_for_columns_the_schema_has() {
        let schema = vswitch_schema();
        let sel = open_vswitch();
        let reqs = sel.requests(schema);
        assert_eq!(
            reqs.keys().map(String::as_str).collect::<Vec<_>>(),
            ["Bridge", "Interface", "Open_vSwitch", "Port"]
        );
        for (t, n) in [
            ("Open_vSwitch", 3),
            ("Bridge", 4),
            ("Port", 3),
            ("Interface", 5),
        ] {
            let cols = columns(&sel, schema, t).unwrap();
            assert_eq!(cols.len(), n, "{t}: {cols:?}");
            for c in &cols {
                assert!(schema.table(t).unwrap().column(c).is_some(), "{t}.{c}");
            }
        }
    }
}
