//! The async client against a real private ovsdb-server.
mod common;

use std::time::Duration;

use ovsdb::client::{ClientError, Connection, Options, ReplicaSession, Selection};
use ovsdb::remote::Remote;
use ovsdb::schema::nb_schema;
use ovsdb::typed::TypedRow;
use ovsdb::{Datum, RowChange};
use serde_json::{json, Value};

fn remote(s: &common::Server) -> Remote {
    Remote::parse(&s.remote).unwrap()
}

async fn next_with_timeout(s: &mut ReplicaSession) -> Vec<RowChange> {
    tokio::time::timeout(Duration::from_secs(20), s.next())
        .await
        .expect("no update within 20 s")
        .expect("session error")
}

#[tokio::test]
async fn every_datum_type_round_trips() {
    if !common::need_ovsdb() {
        return;
    }
    let s = common::Server::standalone("ovn-nb.ovsschema");
    let (c, _n) = Connection::connect(&remote(&s), &Options::default())
        .await
        .unwrap();
    assert!(c
        .list_dbs()
        .await
        .unwrap()
        .contains(&"OVN_Northbound".to_string()));
    assert_eq!(&c.get_schema("OVN_Northbound").await.unwrap(), nb_schema());
    let row = json!({
        "name": "p", "type": "localnet", "tag_request": 7, "enabled": false,
        "addresses": ["set", ["00:00:00:00:00:01 10.0.0.1", "unknown"]],
        "options": ["map", [["network_name", "phys"], ["a", "b"]]],
        "dynamic_addresses": ["set", []],
    });
    let r = c
        .transact_checked("OVN_Northbound", vec![
            json!({"op": "insert", "table": "Logical_Switch_Port", "row": row, "uuid-name": "p"}),
            json!({"op": "insert", "table": "Logical_Switch", "row": {"name": "s", "ports": ["named-uuid", "p"]}}),
            json!({"op": "insert", "table": "Meter_Band", "row": {"action": "drop", "rate": 5, "burst_size": 2}, "uuid-name": "b"}),
            json!({"op": "insert", "table": "Meter", "row": {"name": "m", "unit": "pktps", "bands": ["named-uuid", "b"], "fair": true}}),
            json!({"op": "insert", "table": "Logical_Router_Static_Route", "row": {"ip_prefix": "0.0.0.0/0", "nexthop": "1.1.1.1", "route_table": ""}, "uuid-name": "sr"}),
            json!({"op": "insert", "table": "Logical_Router", "row": {"name": "r", "static_routes": ["named-uuid", "sr"]}}),
        ])
        .await
        .unwrap();
    assert_eq!(r.len(), 6);
    let sel = c
        .transact_checked("OVN_Northbound", vec![json!({"op": "select", "table": "Logical_Switch_Port", "where": [["name", "==", "p"]]})])
        .await
        .unwrap();
    let got = &sel[0]["rows"][0];
    let ts = nb_schema().table("Logical_Switch_Port").unwrap();
    for (col, v) in row.as_object().unwrap() {
        let want: Datum = ts.column(col).unwrap().ty.parse_datum(v).unwrap();
        let have: Datum = ts.column(col).unwrap().ty.parse_datum(&got[col]).unwrap();
        assert_eq!(have, want, "column {col}");
    }
    // A server error comes back as an error, and the connection stays usable.
    let e = c
        .transact_checked(
            "OVN_Northbound",
            vec![json!({"op": "insert", "table": "Nope", "row": {}})],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Server(_)), "{e}");
    assert_eq!(c.echo(json!(["x"])).await.unwrap(), json!(["x"]));
}

#[tokio::test]
async fn monitor_follows_commits_and_survives_server_restarts() {
    if !common::need_ovsdb() {
        return;
    }
    let mut s = common::Server::standalone("ovn-nb.ovsschema");
    s.nbctl(&["ls-add", "before"]);
    let opts = Options {
        inactivity_probe: Some(Duration::from_millis(500)),
        ..Options::default()
    };
    let mut sess = ReplicaSession::connect(vec![remote(&s)], "OVN_Northbound", &[], false, opts)
        .await
        .unwrap();
    let initial = next_with_timeout(&mut sess).await;
    assert!(initial
        .iter()
        .any(|c| matches!(c, RowChange::Insert { table, .. } if table == "Logical_Switch")));

    s.nbctl(&["ls-add", "sw0", "--", "lsp-add", "sw0", "p1"]);
    let c = next_with_timeout(&mut sess).await;
    assert_eq!(
        c.iter()
            .filter(|c| matches!(c, RowChange::Insert { .. }))
            .count(),
        2,
        "{c:?}"
    );

    for round in 0..3 {
        s.kill();
        s.start();
        // Changes made right after the restart, possibly before the session is back.
        s.nbctl(&["lsp-add", "sw0", &format!("r{round}")]);
        s.nbctl(&[
            "set",
            "Logical_Switch",
            "sw0",
            &format!("other_config:round={round}"),
        ]);
        let want = common::normalize(&s.dump("OVN_Northbound"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while common::normalize(&sess.replica().database().dump_json()) != want {
            assert!(
                tokio::time::Instant::now() < deadline,
                "replica did not converge in round {round}"
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), sess.next()).await;
        }
    }
    assert!(sess.reconnects() >= 3);
    let sw = sess
        .replica()
        .database()
        .table("Logical_Switch")
        .unwrap()
        .values()
        .find(|r| r["name"] == Datum::scalar("sw0"))
        .unwrap()
        .clone();
    assert_eq!(sw["ports"].len(), 4);
}

#[tokio::test]
async fn single_node_cluster_is_followed() {
    if !common::need_ovsdb() {
        return;
    }
    let s = common::Server::clustered("ovn-nb.ovsschema");
    let mut sess = ReplicaSession::connect(
        vec![remote(&s)],
        "OVN_Northbound",
        &[],
        true,
        Options::default(),
    )
    .await
    .unwrap();
    next_with_timeout(&mut sess).await;
    s.nbctl(&["ls-add", "c"]);
    let c = next_with_timeout(&mut sess).await;
    // ovn-nbctl also creates NB_Global in a fresh database.
    assert!(
        c.iter()
            .any(|c| matches!(c, RowChange::Insert { table, .. } if table == "Logical_Switch")),
        "{c:?}"
    );
    assert!(
        sess.replica().last_txn_id().is_some(),
        "clustered servers send update3 with txn ids"
    );
}

#[tokio::test]
async fn lock_is_handed_over_and_can_be_stolen() {
    if !common::need_ovsdb() {
        return;
    }
    let s = common::Server::standalone("ovn-nb.ovsschema");
    let (c1, _n1) = Connection::connect(&remote(&s), &Options::default())
        .await
        .unwrap();
    let (c2, mut n2) = Connection::connect(&remote(&s), &Options::default())
        .await
        .unwrap();
    assert!(c1.lock("ovn_northd").await.unwrap());
    assert!(!c2.lock("ovn_northd").await.unwrap());
    drop(c1);
    let n = tokio::time::timeout(Duration::from_secs(10), n2.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (n.method.as_str(), &n.params),
        ("locked", &json!(["ovn_northd"]))
    );
    let (c3, _n3) = Connection::connect(&remote(&s), &Options::default())
        .await
        .unwrap();
    assert!(c3.steal("ovn_northd").await.unwrap());
    let n = tokio::time::timeout(Duration::from_secs(10), n2.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n.method, "stolen");
    c3.unlock("ovn_northd").await.unwrap();
}

/// A fake server that sends `reply` to whatever it receives.
async fn fake_server(reply: &'static [u8]) -> (tempfile::TempDir, Remote) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock.write_all(reply).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    });
    (dir, Remote::Unix(path))
}

/// ovn-northd applies `northd_probe_interval` to its open sessions: a
/// connection following a shared interval starts probing once it is set.
#[tokio::test]
async fn a_shared_probe_applies_to_open_connections() {
    let (_dir, r) = fake_server(b"").await; // never answers, not even echo
    let probe = ovsdb::client::ProbeInterval::new(None);
    let opts = Options {
        shared_probe: Some(probe.clone()),
        ..Options::default()
    };
    let (c, _n) = Connection::connect(&r, &opts).await.unwrap();
    let req = c.list_dbs();
    tokio::pin!(req);
    assert!(
        tokio::time::timeout(Duration::from_millis(800), &mut req)
            .await
            .is_err(),
        "without a probe the request waits"
    );
    probe.set(Some(Duration::from_millis(200)));
    let res = tokio::time::timeout(Duration::from_secs(5), &mut req)
        .await
        .expect("the probe ends the wait");
    assert!(
        matches!(&res, Err(ClientError::Disconnected(why)) if why.contains("probe")),
        "{res:?}"
    );
}

#[tokio::test]
async fn malformed_server_input_is_a_clean_error() {
    for reply in [
        &b"this is not json"[..],
        b"{\"id\": 1, \"result\": [1,}",
        b"{\"id\": 99, \"result\": []}{\"id\": 1, \"result\": 5, \"error\": null}",
        b"{\"id\": 1, \"result\": [",
    ] {
        let (_dir, r) = fake_server(reply).await;
        let opts = Options {
            inactivity_probe: Some(Duration::from_millis(300)),
            ..Options::default()
        };
        let (c, _n) = Connection::connect(&r, &opts).await.unwrap();
        let res = tokio::time::timeout(Duration::from_secs(5), c.list_dbs())
            .await
            .expect("no hang");
        assert!(
            res.is_err(),
            "{} gave {res:?}",
            String::from_utf8_lossy(reply)
        );
    }
}

#[tokio::test]
async fn three_member_cluster_leader_is_followed_across_failover() {
    if !common::need_ovsdb() {
        return;
    }
    let mut c = common::Cluster::start("ovn-nb.ovsschema", 3);
    // Wait until the cluster has formed: a write through the whole cluster succeeds.
    c.nbctl(&["--timeout=20", "ls-add", "first"]);
    // Followers first in the list: a leader-only session must skip them.
    let remotes: Vec<Remote> = [1, 2, 0]
        .iter()
        .map(|&i| Remote::parse(&c.members[i].remote).unwrap())
        .collect();
    let mut sess =
        ReplicaSession::connect(remotes, "OVN_Northbound", &[], true, Options::default())
            .await
            .unwrap();
    assert_eq!(
        sess.connection().unwrap().remote().to_string(),
        c.members[0].remote,
        "the creator is the first leader"
    );
    next_with_timeout(&mut sess).await;
    c.kill_member(0);
    c.nbctl(&["--timeout=30", "ls-add", "after-failover"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let names: Vec<String> = sess
            .replica()
            .database()
            .table("Logical_Switch")
            .unwrap()
            .values()
            .filter_map(|r| r["name"].as_str().map(str::to_string))
            .collect();
        if names.contains(&"after-failover".to_string()) {
            assert!(names.contains(&"first".to_string()));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failover: {names:?}"
        );
        let _ = tokio::time::timeout(Duration::from_millis(200), sess.next()).await;
    }
    assert_ne!(
        sess.connection().unwrap().remote().to_string(),
        c.members[0].remote
    );
}

/// A fake server that knows neither `monitor_cond_since` nor `monitor_cond`
/// (as an old ovsdb-server): the client must fall back to `monitor`.
#[tokio::test]
async fn monitor_falls_back_to_older_methods() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut framer = ovsdb::jsonrpc::Framer::default();
        let mut buf = [0u8; 65536];
        loop {
            let n = sock.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            framer.push(&buf[..n]);
            while let Ok(Some(ovsdb::jsonrpc::Message::Request { method, id, .. })) =
                framer.next_message()
            {
                seen2.lock().unwrap().push(method.clone());
                let (result, error) = match method.as_str() {
                    "monitor" => (
                        json!({"Logical_Switch": {"4e0b20f2-9b9b-4c17-8d74-a331eff9070b": {"new": {"name": "old"}}}}),
                        Value::Null,
                    ),
                    _ => (Value::Null, json!("unknown method")),
                };
                let reply = ovsdb::jsonrpc::Message::Response { result, error, id };
                sock.write_all(&reply.to_bytes()).await.unwrap();
            }
        }
    });
    let (c, _n) = Connection::connect(&Remote::Unix(path), &Options::default())
        .await
        .unwrap();
    let start = c
        .monitor_all(nb_schema(), "m", &["Logical_Switch"], None)
        .await
        .unwrap();
    assert_eq!(start.method, "monitor");
    assert_eq!(start.version, ovsdb::replica::UpdateVersion::V1);
    assert_eq!(
        *seen.lock().unwrap(),
        ["monitor_cond_since", "monitor_cond", "monitor"]
    );
    let mut r = ovsdb::replica::Replica::new(std::sync::Arc::new(nb_schema().clone()));
    let changes = r.reset_to_json(start.version, start.initial.get()).unwrap();
    assert_eq!(changes.len(), 1);
}

/// A replica of chosen columns holds the server's values of exactly those
/// columns, the schema default in the others, and no row of the tables
/// left out; later updates keep it so.
#[tokio::test]
async fn selected_columns_only() {
    if !common::need_ovsdb() {
        return;
    }
    let s = common::Server::standalone("ovn-nb.ovsschema");
    s.nbctl(&[
        "ls-add",
        "sw0",
        "--",
        "lsp-add",
        "sw0",
        "p1",
        "--",
        "lsp-set-addresses",
        "p1",
        "00:00:00:00:00:01 10.0.0.1",
    ]);
    s.nbctl(&[
        "set",
        "Logical_Switch",
        "sw0",
        "other_config:subnet=10.0.0.0/24",
        "external_ids:k=v",
    ]);
    s.nbctl(&["lr-add", "r0"]);
    let sel = Selection::all()
        .columns("Logical_Switch", &["name", "ports"])
        .table("Logical_Switch_Port");
    let mut sess = ReplicaSession::connect_selected(
        vec![remote(&s)],
        "OVN_Northbound",
        sel.clone(),
        false,
        Options::default(),
    )
    .await
    .unwrap();
    next_with_timeout(&mut sess).await;
    let expect = |dump: &Value| {
        let mut want = serde_json::Map::new();
        for (t, rows) in dump.as_object().unwrap() {
            if t != "Logical_Switch" && t != "Logical_Switch_Port" {
                continue;
            }
            let ts = nb_schema().table(t).unwrap();
            let mut rm = serde_json::Map::new();
            for (u, row) in rows.as_object().unwrap() {
                // Rows hold the selected columns only.
                let cols = ts
                    .columns
                    .keys()
                    .filter(|c| sel.contains(t, c))
                    .map(|c| (c.clone(), row[c].clone()))
                    .collect();
                rm.insert(u.clone(), Value::Object(cols));
            }
            want.insert(t.clone(), Value::Object(rm));
        }
        Value::Object(want)
    };
    let dump = common::normalize(&s.dump("OVN_Northbound"));
    assert!(dump["Logical_Router"]
        .as_object()
        .is_some_and(|r| r.len() == 1));
    let got = common::normalize(&sess.replica().database().dump_json());
    assert_eq!(got, expect(&dump));
    // An unselected column is not held, and reads as its default in the
    // typed row (the server has `other_config:subnet` set).
    let db = sess.replica().database();
    let (uuid, row) = db.table("Logical_Switch").unwrap().iter().next().unwrap();
    assert!(!row.contains_key("other_config"));
    let ls = ovsdb::nb::LogicalSwitch::from_row(*uuid, row).unwrap();
    assert_eq!(ls.name, "sw0");
    assert!(ls.other_config.is_empty(), "{:?}", ls.other_config);

    s.nbctl(&[
        "lsp-add",
        "sw0",
        "p2",
        "--",
        "set",
        "Logical_Switch",
        "sw0",
        "name=sw1",
    ]);
    let want = expect(&common::normalize(&s.dump("OVN_Northbound")));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while common::normalize(&sess.replica().database().dump_json()) != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica did not converge"
        );
        let _ = tokio::time::timeout(Duration::from_millis(200), sess.next()).await;
    }
}

/// The bundled OVN_Northbound schema, as JSON.
fn bundled_nb() -> Value {
    serde_json::from_str(&std::fs::read_to_string(common::schema_path("ovn-nb.ovsschema")).unwrap())
        .unwrap()
}

/// Makes the bundled NB `schema` another one (version 7.0.99): with a
/// `Logical_Switch` column `color` (`extra`, set to "red" in `row`), or
/// without its `other_config` (left out of `row` too).
fn another_nb_schema(schema: &mut Value, row: &mut Value, extra: bool) {
    schema["version"] = json!("7.0.99");
    schema.as_object_mut().unwrap().remove("cksum");
    let cols = schema["tables"]["Logical_Switch"]["columns"]
        .as_object_mut()
        .unwrap();
    if extra {
        cols.insert("color".into(), json!({"type": "string"}));
        row["color"] = json!("red");
    } else {
        cols.remove("other_config").unwrap();
        row.as_object_mut().unwrap().remove("other_config");
    }
}

/// A standalone server of `schema` holding `row` in `Logical_Switch`, and
/// the directory of its schema file.
fn server_with_switch(schema: &Value, row: &Value) -> (tempfile::TempDir, common::Server) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nb.ovsschema");
    std::fs::write(&file, schema.to_string()).unwrap();
    let s = common::Server::standalone(file.to_str().unwrap());
    s.transact(&json!(["OVN_Northbound", {"op": "insert", "table": "Logical_Switch", "row": row}]));
    (dir, s)
}

/// A selection naming each table and column it wants is asked for before
/// the bundled schema is parsed (a first connection). It is still checked:
/// against a server whose schema lacks a selected column (the early monitor
/// fails), one with a column the bundled schema lacks, and the bundled
/// schema itself with a selected column neither has (the early request
/// named it): each is monitored with the server's own schema, the
/// selected columns it has and no other.
#[tokio::test]
async fn an_explicit_selection_is_checked_against_the_servers_schema() {
    if !common::need_ovsdb() {
        return;
    }
    for case in ["missing", "extra", "unknown"] {
        let mut schema = bundled_nb();
        let mut row = json!({"name": "sw0", "other_config": ["map", [["k", "v"]]]});
        if case != "unknown" {
            another_nb_schema(&mut schema, &mut row, case == "extra");
        }
        let (_dir, s) = server_with_switch(&schema, &row);
        let sel = Selection::all().columns("Logical_Switch", &["name", "other_config", "color"]);
        assert!(sel.explicit_requests().is_some());
        let mut sess = ReplicaSession::connect_selected(
            vec![remote(&s)],
            "OVN_Northbound",
            sel,
            false,
            Options::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
        next_with_timeout(&mut sess).await;
        let db = sess.replica().database();
        assert_eq!(db.schema().version != "7.0.0", case != "unknown", "{case}");
        let (_, got) = db.table("Logical_Switch").unwrap().iter().next().unwrap();
        let mut cols: Vec<&str> = got.keys().collect();
        cols.sort();
        let want: &[&str] = match case {
            "missing" => &["name"],
            "extra" => &["color", "name", "other_config"],
            _ => &["name", "other_config"],
        };
        assert_eq!(cols, want, "{case}");
        assert!(
            db.table("Logical_Router").is_none_or(|t| t.is_empty()),
            "{case}"
        );
    }
}

/// The session sends its monitor request with `get_schema`, for the schema
/// it expects (the bundled one on a first connection). A server whose
/// schema differs is monitored with its own: with a column the bundled
/// schema lacks (the early monitor succeeds but leaves it out) and without
/// one the bundled schema has (the early monitor fails).
#[tokio::test]
async fn a_server_with_another_schema_than_the_bundled_one_is_monitored_by_its_own() {
    if !common::need_ovsdb() {
        return;
    }
    for extra in [true, false] {
        let mut schema = bundled_nb();
        let mut row = json!({"name": "sw0"});
        another_nb_schema(&mut schema, &mut row, extra);
        let (_dir, s) = server_with_switch(&schema, &row);

        let mut sess = ReplicaSession::connect(
            vec![remote(&s)],
            "OVN_Northbound",
            &[],
            false,
            Options::default(),
        )
        .await
        .unwrap();
        next_with_timeout(&mut sess).await;
        let db = sess.replica().database();
        assert_eq!(db.schema().version, "7.0.99");
        assert_ne!(&**db.schema(), nb_schema());
        let (_, got) = db.table("Logical_Switch").unwrap().iter().next().unwrap();
        assert_eq!(
            got.contains_key("color"),
            extra,
            "extra column {extra}: {got:?}"
        );
        assert!(!got.contains_key("other_config") || extra);
        if extra {
            assert_eq!(got["color"].as_str(), Some("red"));
        }
        // Updates follow.
        s.nbctl(&["ls-add", "sw1"]);
        let c = next_with_timeout(&mut sess).await;
        assert!(
            c.iter()
                .any(|c| matches!(c, RowChange::Insert { table, .. } if table == "Logical_Switch")),
            "{c:?}"
        );
    }
}
