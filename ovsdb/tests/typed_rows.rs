//! Typed rows generated from the schemas convert to and from generic rows.
use std::sync::Arc;

use ovsdb::nb::{Acl, LogicalSwitch, LogicalSwitchPort, NbGlobal};
use ovsdb::sb::{DatapathBinding, LogicalFlow, PortBinding};
use ovsdb::schema::{nb_schema, sb_schema};
use ovsdb::txn::{transact, TxnContext};
use ovsdb::typed::TypedRow;
use ovsdb::{Database, Datum, Row, Uuid};
use serde_json::json;

/// Every table of a schema: its defaults survive `from_row` → `to_row`.
macro_rules! default_round_trip {
    ($schema:expr, $($ty:ty),*) => {$(
        let ts = $schema.table(<$ty>::TABLE).expect("table exists");
        let row = Database::complete_row(ts, Row::new());
        let typed = <$ty>::from_row(Uuid::nil(), &row).unwrap();
        let back = typed.to_row();
        assert_eq!(back.keys().collect::<Vec<_>>(), ts.columns.keys().collect::<Vec<_>>(), "{}", <$ty>::TABLE);
        for (c, d) in &back {
            // Sets with at least one required element default to one default atom in
            // ovsdb-server; the typed default is the empty Vec.
            if ts.columns[c].ty.min == 1 && ts.columns[c].ty.max != Some(1) { continue; }
            assert_eq!(d, &row[c], "{} {c}", <$ty>::TABLE);
        }
    )*};
}

#[test]
fn defaults_round_trip() {
    {
        use ovsdb::nb::*;
        default_round_trip!(
            nb_schema(),
            Acl,
            AddressSet,
            Bfd,
            ChassisTemplateVar,
            Connection,
            Copp,
            DhcpOptions,
            Dns,
            ForwardingGroup,
            GatewayChassis,
            HaChassis,
            HaChassisGroup,
            LoadBalancer,
            LoadBalancerGroup,
            LoadBalancerHealthCheck,
            LogicalRouter,
            LogicalRouterPolicy,
            LogicalRouterPort,
            LogicalRouterStaticRoute,
            LogicalSwitch,
            LogicalSwitchPort,
            Meter,
            MeterBand,
            Mirror,
            Nat,
            NbGlobal,
            PortGroup,
            Qos,
            Ssl,
            StaticMacBinding
        );
    }
    {
        use ovsdb::sb::*;
        default_round_trip!(
            sb_schema(),
            AddressSet,
            Chassis,
            ChassisPrivate,
            DatapathBinding,
            Encap,
            LogicalFlow,
            LogicalDpGroup,
            MacBinding,
            MulticastGroup,
            PortBinding,
            PortGroup,
            SbGlobal,
            LoadBalancer,
            ServiceMonitor,
            Fdb,
            Meter,
            Dns
        );
    }
}

#[test]
fn sample_rows_round_trip_through_the_executor() {
    let mut db = Database::new(Arc::new(nb_schema().clone()));
    let out = transact(
        &mut db,
        &[
            json!({"op": "insert", "table": "ACL", "uuid-name": "a", "row": {"priority": 1001, "direction": "to-lport", "match": "ip4", "action": "allow-related", "log": true, "name": "n", "options": ["map", [["apply-after-lb", "true"]]]}}),
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "row": {"name": "p1", "type": "localnet", "tag_request": 5, "addresses": ["set", ["unknown", "00:00:00:00:00:01"]], "enabled": false}}),
            json!({"op": "insert", "table": "Logical_Switch", "row": {"name": "sw", "ports": ["named-uuid", "p"], "acls": ["named-uuid", "a"], "other_config": ["map", [["mcast_snoop", "true"]]]}}),
            json!({"op": "insert", "table": "NB_Global", "row": {"nb_cfg": 4}}),
        ],
        &TxnContext::default(),
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    let (lu, lrow) = db.table("Logical_Switch").unwrap().iter().next().unwrap();
    let ls = LogicalSwitch::from_row(*lu, lrow).unwrap();
    assert_eq!(ls.name, "sw");
    assert_eq!(
        ls.other_config.get("mcast_snoop").map(String::as_str),
        Some("true")
    );
    assert_eq!(ls.ports.len(), 1);
    assert_eq!(&ls.to_row(), &**lrow);
    let (pu, prow) = db
        .table("Logical_Switch_Port")
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let p = LogicalSwitchPort::from_row(*pu, prow).unwrap();
    assert_eq!(
        (p.type_.as_str(), p.tag_request, p.enabled),
        ("localnet", Some(5), Some(false))
    );
    assert_eq!(
        p.addresses,
        vec!["00:00:00:00:00:01".to_string(), "unknown".to_string()]
    );
    assert_eq!(&p.to_row(), &**prow);
    let (au, arow) = db.table("ACL").unwrap().iter().next().unwrap();
    let a = Acl::from_row(*au, arow).unwrap();
    assert_eq!(
        (a.match_.as_str(), a.priority, a.log, a.name.as_deref()),
        ("ip4", 1001, true, Some("n"))
    );
    let g = db.table("NB_Global").unwrap().iter().next().unwrap();
    assert_eq!(NbGlobal::from_row(*g.0, g.1).unwrap().nb_cfg, 4);
}

#[test]
fn wrong_types_name_table_row_and_column() {
    let mut row = Row::new();
    row.insert("name", Datum::scalar(5i64));
    let e = LogicalSwitch::from_row(Uuid::nil(), &row).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "table Logical_Switch row {} column name: unexpected value 5",
            Uuid::nil()
        )
    );
    row.insert("name", Datum::set(["a".into(), "b".into()]));
    assert!(LogicalSwitch::from_row(Uuid::nil(), &row)
        .unwrap_err()
        .message
        .contains("exactly one"));
}

#[test]
fn sb_types_are_as_the_compiler_expects() {
    let f = LogicalFlow::default();
    let _: (
        &Option<Uuid>,
        &Option<Uuid>,
        &String,
        &i64,
        &String,
        &String,
    ) = (
        &f.logical_datapath,
        &f.logical_dp_group,
        &f.pipeline,
        &f.priority,
        &f.match_,
        &f.actions,
    );
    let d = DatapathBinding::default();
    let _: &i64 = &d.tunnel_key;
    let p = PortBinding::default();
    let _: (&String, &Uuid, &Option<i64>) = (&p.logical_port, &p.datapath, &p.tag);
}
