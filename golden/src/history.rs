//! An NB database file's transaction history as transactions that replay it
//! exactly.
//!
//! An `ovn-nbctl` scenario gets random row UUIDs from ovsdb-server, and
//! northd's tunnel keys and flow hints depend on the order in which it met
//! the rows, so the corpus keeps the NB database file of one run (`nb.db`,
//! every committed transaction). To rerun real northd on that very history,
//! each record becomes one `transact` whose inserts carry the recorded row
//! UUIDs (`"uuid"` in an insert, an ovsdb-server extension), whose updates
//! and deletes name rows by `_uuid`, and which is applied after northd has
//! caught up with the previous one.
//!
//! Records are read here rather than through `ovsdb::file` because the
//! replay needs each record as operations on the columns it names, not as
//! the rows it results in.

use std::collections::BTreeMap;

use ovsdb::schema::{ColumnType, DatabaseSchema};
use ovsdb::{Row, Uuid};
use serde_json::{json, Map, Value};

/// NB_Global columns that count syncs (`ovn-nbctl --wait`) and northd's
/// progress; a replay has its own, so they are not replayed.
const CFG_COLUMNS: &[&str] = &[
    "nb_cfg",
    "nb_cfg_timestamp",
    "sb_cfg",
    "sb_cfg_timestamp",
    "hv_cfg",
    "hv_cfg_timestamp",
];

fn replayed(table: &str, column: &str) -> bool {
    !(table == "NB_Global" && CFG_COLUMNS.contains(&column))
}

/// Whether OVSDB stores differences (not new values) for a column.
fn composite(ty: &ColumnType) -> bool {
    ty.max.is_none_or(|m| m > 1)
}

/// The JSON texts of a database file's records (`OVSDB JSON LEN SHA1`
/// header lines, each followed by LEN bytes of JSON).
fn records(data: &str, name: &str) -> Result<Vec<Value>, String> {
    let bytes = data.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let n = out.len();
        let nl = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("{name}: record {n}: header has no line end"))?;
        let header = &data[pos..pos + nl];
        let len: usize = match header.split(' ').collect::<Vec<_>>().as_slice() {
            ["OVSDB", "JSON", len, _] => len
                .parse()
                .map_err(|_| format!("{name}: record {n}: bad length in {header:?}"))?,
            _ => return Err(format!("{name}: record {n}: bad header {header:?}")),
        };
        let start = pos + nl + 1;
        let body = bytes
            .get(start..start + len)
            .ok_or_else(|| format!("{name}: record {n}: file ends inside it"))?;
        out.push(
            serde_json::from_slice(body)
                .map_err(|e| format!("{name}: record {n}: invalid JSON: {e}"))?,
        );
        pos = start + len;
        if bytes.get(pos) == Some(&b'\n') {
            pos += 1;
        }
    }
    Ok(out)
}

/// Every replayed transaction of an NB `.db` file's history, in order; a
/// record that only bumps `nb_cfg` (a sync) replays nothing and is left out.
pub fn transactions(db_file: &str, name: &str) -> Result<Vec<Value>, String> {
    let recs = records(db_file, name)?;
    let schema_json = recs
        .first()
        .ok_or_else(|| format!("{name}: empty file: no schema record"))?;
    let schema =
        DatabaseSchema::from_json(schema_json).map_err(|e| format!("{name}: schema: {e}"))?;
    let mut rows: BTreeMap<(String, Uuid), Row> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, rec) in recs.iter().enumerate().skip(1) {
        let t =
            transaction(&schema, &mut rows, rec).map_err(|e| format!("{name}: record {i}: {e}"))?;
        out.extend(t);
    }
    Ok(out)
}

/// The transaction of one record, given (and updating) the current rows.
fn transaction(
    schema: &DatabaseSchema,
    rows: &mut BTreeMap<(String, Uuid), Row>,
    rec: &Value,
) -> Result<Option<Value>, String> {
    let rec = rec.as_object().ok_or("record is not an object")?;
    let is_diff = rec.get("_is_diff").and_then(Value::as_bool) == Some(true);
    let mut ops = vec![json!(schema.name)];
    for (table, trows) in rec.iter().filter(|(t, _)| !t.starts_with('_')) {
        let ts = schema
            .table(table)
            .ok_or_else(|| format!("unknown table {table}"))?;
        let trows = trows.as_object().ok_or("rows are not an object")?;
        for (u, row) in trows {
            let uuid = Uuid::parse_str(u).map_err(|_| format!("bad row UUID {u:?}"))?;
            let by_uuid = json!([["_uuid", "==", ["uuid", u]]]);
            let key = (table.clone(), uuid);
            if row.is_null() {
                rows.remove(&key);
                ops.push(json!({"op": "delete", "table": table, "where": by_uuid}));
                continue;
            }
            let cols = row.as_object().ok_or("row is not an object")?;
            let old = rows.get(&key).cloned();
            let mut new = old.clone().unwrap_or_default();
            let mut changed = Map::new();
            for (c, v) in cols {
                let ty = &ts
                    .column(c)
                    .ok_or_else(|| format!("table {table}: unknown column {c}"))?
                    .ty;
                let d = ty
                    .parse_datum(v)
                    .map_err(|e| format!("table {table} row {u} column {c}: {e}"))?;
                let value = match old.as_ref().and_then(|o| o.get(c)) {
                    Some(prev) if is_diff && composite(ty) => ovsdb::db::apply_diff(ty, prev, &d),
                    _ => d,
                };
                if replayed(table, c) && old.as_ref().and_then(|o| o.get(c)) != Some(&value) {
                    changed.insert(c.clone(), value.to_json());
                }
                new.insert(c.clone(), value);
            }
            rows.insert(key, new);
            match old {
                None => {
                    ops.push(json!({"op": "insert", "table": table, "uuid": u, "row": changed}))
                }
                Some(_) if !changed.is_empty() => ops.push(
                    json!({"op": "update", "table": table, "where": by_uuid, "row": changed}),
                ),
                Some(_) => {}
            }
        }
    }
    Ok((ops.len() > 1).then_some(Value::Array(ops)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(v: &Value) -> String {
        let s = v.to_string();
        format!("OVSDB JSON {} 0\n{s}\n", s.len())
    }

    const P: &str = "15059e66-c91b-4649-8df0-e3de97a234a0";
    const G: &str = "4e0b20f2-9b9b-4c17-8d74-a331eff9070b";

    fn file(recs: &[Value]) -> String {
        let mut s = record(&ovsdb::schema::nb_schema().to_json());
        for r in recs {
            s.push_str(&record(r));
        }
        s
    }

    #[test]
    fn inserts_keep_uuids_and_optional_columns_take_new_values() {
        let f = file(&[
            json!({"Logical_Switch_Port": {P: {"name": "p", "addresses": "a"}}}),
            json!({"_is_diff": true, "Logical_Switch_Port": {P: {"up": false}}}),
            json!({"_is_diff": true, "Logical_Switch_Port": {P: {"up": true, "addresses": ["set", ["a", "b"]]}}}),
            json!({"Logical_Switch_Port": {P: null}}),
        ]);
        let t = transactions(&f, "t.db").unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[0][1]["op"], "insert");
        assert_eq!(t[0][1]["uuid"], P);
        assert_eq!(t[1][1]["row"], json!({"up": false}));
        // `up` is replaced (OVS sends the new value), `addresses` is a
        // set difference: "a" leaves, "b" comes.
        assert_eq!(t[2][1]["row"], json!({"up": true, "addresses": "b"}));
        assert_eq!(t[3][1]["op"], "delete");
    }

    #[test]
    fn a_sync_alone_replays_nothing() {
        let f = file(&[
            json!({"NB_Global": {G: {"options": ["map", [["mac_prefix", "0a:00:00"]]]}}}),
            json!({"_is_diff": true, "NB_Global": {G: {"nb_cfg": 1}}}),
        ]);
        let t = transactions(&f, "t.db").unwrap();
        assert_eq!(t.len(), 1, "{t:?}");
    }

    #[test]
    fn damage_is_an_error_naming_the_record() {
        let mut f = file(&[json!({"Logical_Switch_Port": {P: {"name": "p"}}})]);
        f.push_str("OVSDB JSON 99 0\n{}");
        let e = transactions(&f, "t.db").unwrap_err();
        assert!(e.contains("t.db: record 2"), "{e}");
    }
}
