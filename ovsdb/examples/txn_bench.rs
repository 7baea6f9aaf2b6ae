//! Benchmark of the in-memory transaction executor (`ovsdb::txn`) on a
//! large NB database: applying a transact file (one transaction inserting
//! everything), then single changes as a CMS makes them (add a port to a
//! switch, delete it again, add an ACL to a port group), each its own
//! transaction, median of the rounds.
//!
//! ```sh
//! cargo run --release -p ovnflow-golden --bin golden-gen -- k8s --nodes 100 --pods 100 \
//!     --services 1000 --backends 3 --policies 500 > /tmp/nb.json
//! cargo run --release -p ovsdb --example txn_bench -- /tmp/nb.json [ROUNDS]
//! ```

use std::time::Instant;

use ovsdb::txn::{transact, TxnContext};
use serde_json::{json, Value};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: txn_bench NB.json [ROUNDS]")?;
    let rounds: usize = args
        .next()
        .map_or(Ok(50), |r| r.parse())
        .map_err(|e| format!("{e}"))?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let t = Instant::now();
    let mut db = ovsdb::transact_file::apply_transact_json(&v, &path).map_err(|e| e.to_string())?;
    println!(
        "transact file applied: {} rows in {:.1} ms",
        db.len(),
        ms(t)
    );
    let name_of = |table: &str| -> Result<String, String> {
        db.table(table)
            .and_then(|rows| rows.values().next())
            .and_then(|r| r.get("name"))
            .and_then(|d| d.to_json().as_str().map(str::to_string))
            .ok_or(format!("no {table} with a name"))
    };
    let (switch, pg) = (name_of("Logical_Switch")?, name_of("Port_Group")?);
    let ctx = TxnContext::default();
    let mut times: [Vec<f64>; 3] = Default::default();
    for i in 0..rounds {
        let add = json!([
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p",
             "row": {"name": format!("bench-p{i}"), "addresses": "0a:58:0a:f4:00:99 10.244.0.153"}},
            {"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", switch]],
             "mutations": [["ports", "insert", ["named-uuid", "p"]]]}
        ]);
        let del = |u: &Value| {
            json!([{"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", switch]],
                    "mutations": [["ports", "delete", u]]}])
        };
        let acl = json!([
            {"op": "insert", "table": "ACL", "uuid-name": "a",
             "row": {"priority": 1000 + i, "direction": "to-lport", "match": format!("tcp.dst == {}", 1000 + i), "action": "allow-related"}},
            {"op": "mutate", "table": "Port_Group", "where": [["name", "==", pg]],
             "mutations": [["acls", "insert", ["named-uuid", "a"]]]}
        ]);
        let t = Instant::now();
        let out = transact(&mut db, add.as_array().unwrap(), &ctx);
        times[0].push(ms(t));
        let uuid = out.results[0]["uuid"].clone();
        check(&out, "add port")?;
        let t = Instant::now();
        let out = transact(&mut db, del(&uuid).as_array().unwrap(), &ctx);
        times[1].push(ms(t));
        check(&out, "delete port")?;
        let t = Instant::now();
        let out = transact(&mut db, acl.as_array().unwrap(), &ctx);
        times[2].push(ms(t));
        check(&out, "add ACL")?;
    }
    for (label, mut t) in ["add port", "delete port", "add ACL"]
        .into_iter()
        .zip(times)
    {
        t.sort_by(f64::total_cmp);
        println!(
            "{label}: median {:.3} ms over {rounds} transactions",
            t[t.len() / 2]
        );
    }
    Ok(())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn check(out: &ovsdb::txn::TxnOutcome, what: &str) -> Result<(), String> {
    match &out.error {
        Some(e) => Err(format!("{what}: {e}")),
        None if out.changes.is_empty() => Err(format!("{what}: nothing changed")),
        None => Ok(()),
    }
}
