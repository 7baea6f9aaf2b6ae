//! Reading an OVSDB standalone database file, as ovsdb-server writes it.
//!
//! The file is a sequence of records, each a header line
//! `OVSDB JSON <length> <sha1-hex>` followed by `<length>` bytes of JSON and a
//! newline. The first record is the schema; every later record is one
//! committed transaction: `{table: {uuid: row-or-null}, "_date": …,
//! "_comment": …, "_is_diff": true}`. A new row lists its non-default
//! columns; an existing row lists changed columns, as differences when
//! `_is_diff` is true (OVS ≥ 2.15, see [`crate::db::apply_diff`]) and as new
//! values otherwise; `null` deletes. A compacted file has one transaction
//! holding the whole content.
//!
//! A record cut short at the end of the file (a crash while appending) is
//! ignored with a warning, as ovsdb-server does when it opens such a file; a
//! damaged record elsewhere is an error naming the file, the record number
//! and its byte offset. Clustered databases (`OVSDB CLUSTER`) are recognised
//! and rejected with a clear error.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::atom::Uuid;
use crate::datum::Row;
use crate::db::{apply_diff, Database, RowChange};
use crate::schema::DatabaseSchema;

/// Why a database file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct FileError {
    /// The file name.
    pub file: String,
    /// What is wrong, with the record number and byte offset when known.
    pub message: String,
}

/// A database read from a file.
#[derive(Debug)]
pub struct DbFile {
    /// The schema stored in the file.
    pub schema: Arc<DatabaseSchema>,
    /// The content after replaying every complete transaction.
    pub database: Database,
    /// The number of transaction records replayed.
    pub transactions: usize,
    /// Problems that ovsdb-server would tolerate (an incomplete last record).
    pub warnings: Vec<String>,
    /// The changes of each transaction record, when read with [`read_db_history`].
    pub history: Vec<Vec<RowChange>>,
}

/// One raw record: its byte offset and JSON text.
struct Record<'a> {
    offset: usize,
    json: &'a [u8],
}

/// Splits the file into records; a truncated or damaged last record is
/// reported as a warning, a damaged earlier one as an error.
fn records<'a>(
    data: &'a [u8],
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Record<'a>>, FileError> {
    let fail = |offset: usize, n: usize, message: String| FileError {
        file: file.to_string(),
        message: format!("record {n} at byte offset {offset}: {message}"),
    };
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let n = out.len();
        let Some(nl) = data[pos..].iter().position(|&b| b == b'\n') else {
            warnings.push(format!(
                "{file}: ignoring incomplete record {n} at byte offset {pos} (no header line end)"
            ));
            break;
        };
        let header = std::str::from_utf8(&data[pos..pos + nl])
            .map_err(|_| fail(pos, n, "header is not text".into()))?;
        let parts: Vec<&str> = header.split(' ').collect();
        let (len, hash) = match parts.as_slice() {
            ["OVSDB", "JSON", len, hash] => (len, hash),
            ["OVSDB", "CLUSTER", ..] => {
                return Err(fail(pos, n, "this is a clustered database file; read it through its ovsdb-server (ovsdb-tool cluster-to-standalone converts it)".into()))
            }
            _ => return Err(fail(pos, n, format!("bad record header {:?}", truncate(header)))),
        };
        let len: usize = len
            .parse()
            .map_err(|_| fail(pos, n, format!("bad length {len:?}")))?;
        let start = pos + nl + 1;
        let end = start.checked_add(len).filter(|&e| e <= data.len());
        let Some(end) = end else {
            warnings.push(format!(
                "{file}: ignoring incomplete record {n} at byte offset {pos} (file ends inside it)"
            ));
            break;
        };
        let body = &data[start..end];
        let digest = sha1_smol::Sha1::from(body).digest().to_string();
        if !digest.eq_ignore_ascii_case(hash) {
            let msg = format!("SHA-1 mismatch (header says {hash}, content has {digest})");
            if end >= data.len() - 1 {
                warnings.push(format!(
                    "{file}: ignoring damaged last record {n} at byte offset {pos}: {msg}"
                ));
                break;
            }
            return Err(fail(pos, n, msg));
        }
        out.push(Record {
            offset: pos,
            json: body,
        });
        pos = end;
        if data.get(pos) == Some(&b'\n') {
            pos += 1;
        }
    }
    Ok(out)
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Reads a standalone database file.
pub fn read_db_file(path: &Path) -> Result<DbFile, FileError> {
    let data = std::fs::read(path).map_err(|e| FileError {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    read_db_bytes(&data, &path.display().to_string())
}

/// Reads a standalone database from bytes; `name` is used in messages.
pub fn read_db_bytes(data: &[u8], name: &str) -> Result<DbFile, FileError> {
    read(data, name, false)
}

/// Reads a standalone database file and keeps, in [`DbFile::history`], the
/// row changes of every transaction record, in order: the NB as ovn-northd
/// saw it change (northd's tunnel keys depend on that history).
pub fn read_db_history(path: &Path) -> Result<DbFile, FileError> {
    let data = std::fs::read(path).map_err(|e| FileError {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    read(&data, &path.display().to_string(), true)
}

/// [`read_db_history`] on bytes; `name` is used in messages.
pub fn read_db_bytes_history(data: &[u8], name: &str) -> Result<DbFile, FileError> {
    read(data, name, true)
}

fn read(data: &[u8], name: &str, keep_history: bool) -> Result<DbFile, FileError> {
    let mut warnings = Vec::new();
    let recs = records(data, name, &mut warnings)?;
    let Some(first) = recs.first() else {
        return Err(FileError {
            file: name.into(),
            message: "empty file: no schema record".into(),
        });
    };
    let fail = |r: &Record, n: usize, message: String| FileError {
        file: name.to_string(),
        message: format!("record {n} at byte offset {}: {message}", r.offset),
    };
    let schema_json: Value = serde_json::from_slice(first.json)
        .map_err(|e| fail(first, 0, format!("invalid JSON: {e}")))?;
    let schema = Arc::new(
        DatabaseSchema::from_json(&schema_json)
            .map_err(|e| fail(first, 0, format!("bad schema: {e}")))?,
    );
    let mut db = Database::new(schema.clone());
    let mut history = Vec::new();
    for (i, r) in recs.iter().enumerate().skip(1) {
        let v: Value =
            serde_json::from_slice(r.json).map_err(|e| fail(r, i, format!("invalid JSON: {e}")))?;
        let changes = apply_record(&mut db, &v).map_err(|m| fail(r, i, m))?;
        if keep_history {
            history.push(changes);
        }
    }
    Ok(DbFile {
        schema,
        database: db,
        transactions: recs.len() - 1,
        warnings,
        history,
    })
}

/// Replays one transaction record.
fn apply_record(db: &mut Database, v: &Value) -> Result<Vec<RowChange>, String> {
    let mut changes = Vec::new();
    let m = v.as_object().ok_or("transaction record is not an object")?;
    let is_diff = m.get("_is_diff").and_then(Value::as_bool).unwrap_or(false);
    let schema = db.schema().clone();
    for (table, rows) in m {
        if table.starts_with('_') {
            continue;
        }
        let ts = schema
            .table(table)
            .ok_or_else(|| format!("unknown table {table}"))?;
        let rows = rows
            .as_object()
            .ok_or_else(|| format!("table {table}: rows are not an object"))?;
        for (uuid_s, row) in rows {
            let uuid = Uuid::parse_str(uuid_s)
                .map_err(|_| format!("table {table}: bad row UUID {uuid_s:?}"))?;
            let target = db.tables_mut().entry(table.clone()).or_default();
            if row.is_null() {
                if let Some(old) = target.remove(&uuid) {
                    changes.push(RowChange::Delete {
                        table: table.clone(),
                        uuid,
                        old,
                    });
                }
                continue;
            }
            let cols = row
                .as_object()
                .ok_or_else(|| format!("table {table} row {uuid}: row is not an object"))?;
            let old = target.get(&uuid).cloned();
            let mut new: Row = match &old {
                Some(r) => (**r).clone(),
                None => Database::complete_row(ts, Row::new()),
            };
            for (c, dv) in cols {
                let col = ts
                    .column(c)
                    .ok_or_else(|| format!("table {table} row {uuid}: unknown column {c}"))?;
                let d = col
                    .ty
                    .parse_datum(dv)
                    .map_err(|e| format!("table {table} row {uuid} column {c}: {e}"))?;
                let d = match (&old, is_diff) {
                    (Some(_), true) => apply_diff(&col.ty, &new[c], &d),
                    _ => d,
                };
                new.insert(c.clone(), d);
            }
            let new = Arc::new(new);
            target.insert(uuid, new.clone());
            let table = table.clone();
            changes.push(match old {
                Some(old) => RowChange::Modify {
                    table,
                    uuid,
                    old,
                    new,
                },
                None => RowChange::Insert { table, uuid, new },
            });
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> String {
        let h = sha1_smol::Sha1::from(json.as_bytes()).digest().to_string();
        format!("OVSDB JSON {} {h}\n{json}\n", json.len())
    }

    fn schema() -> String {
        crate::schema::nb_schema().to_json().to_string()
    }

    const LS: &str = "4e0b20f2-9b9b-4c17-8d74-a331eff9070b";
    const P1: &str = "15059e66-c91b-4649-8df0-e3de97a234a0";

    fn sample() -> String {
        let t1 = format!(
            r#"{{"Logical_Switch":{{"{LS}":{{"name":"sw0","ports":["uuid","{P1}"]}}}},"_is_diff":true,"Logical_Switch_Port":{{"{P1}":{{"name":"p1"}}}}}}"#
        );
        let t2 = format!(
            r#"{{"Logical_Switch":{{"{LS}":{{"ports":["uuid","{P1}"],"other_config":["map",[["a","1"]]]}}}},"_is_diff":true,"Logical_Switch_Port":{{"{P1}":null}}}}"#
        );
        format!("{}{}{}", record(&schema()), record(&t1), record(&t2))
    }

    #[test]
    fn replays_diffs_and_deletes() {
        let f = read_db_bytes(sample().as_bytes(), "t.db").unwrap();
        assert_eq!(f.transactions, 2);
        let ls = f
            .database
            .get("Logical_Switch", &Uuid::parse_str(LS).unwrap())
            .unwrap();
        assert_eq!(ls["ports"], crate::Datum::empty_set());
        assert_eq!(ls["other_config"], crate::Datum::string_map([("a", "1")]));
        assert!(f.database.table("Logical_Switch_Port").unwrap().is_empty());
        assert!(f.warnings.is_empty());
        assert!(f.history.is_empty(), "history only when asked for");
        let h = read(sample().as_bytes(), "t.db", true).unwrap().history;
        let kinds: Vec<Vec<&str>> = h
            .iter()
            .map(|t| {
                t.iter()
                    .map(|c| match c {
                        RowChange::Insert { .. } => "insert",
                        RowChange::Modify { .. } => "modify",
                        RowChange::Delete { .. } => "delete",
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            kinds,
            vec![vec!["insert", "insert"], vec!["modify", "delete"]]
        );
    }

    #[test]
    fn truncated_tail_is_a_warning_and_damage_inside_an_error() {
        let s = sample();
        let cut = &s.as_bytes()[..s.len() - 20];
        let f = read_db_bytes(cut, "t.db").unwrap();
        assert_eq!(f.transactions, 1);
        assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
        let bad = s.replacen("\"sw0\"", "\"swX\"", 1);
        let e = read_db_bytes(bad.as_bytes(), "t.db").unwrap_err();
        assert!(
            e.to_string().starts_with("t.db: record 1 at byte offset"),
            "{e}"
        );
        assert!(e.to_string().contains("SHA-1 mismatch"), "{e}");
        let e = read_db_bytes(b"garbage\n", "g.db").unwrap_err();
        assert!(e.to_string().contains("bad record header"), "{e}");
        assert!(read_db_bytes(b"", "e.db").is_err());
        let e = read_db_bytes(b"OVSDB CLUSTER 2 x\n{}\n", "c.db").unwrap_err();
        assert!(e.to_string().contains("clustered"), "{e}");
    }
}
