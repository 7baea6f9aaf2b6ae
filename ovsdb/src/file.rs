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

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::atom::Uuid;
use crate::datum::Row;
use crate::db::{Database, RowChange, Rows};
use crate::de::{overlay_row, Columns, ColumnsSeed, RowKey, RowTemplate, TableKey};
use crate::schema::{DatabaseSchema, TableSchema};

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
    /// The header's SHA-1 when it is still to be checked: a large last
    /// record (a compacted file's whole content) is checked on another
    /// thread while it is parsed.
    unchecked: Option<&'a str>,
}

/// Records from this size on are checked while they are parsed.
const CHECK_WHILE_PARSING: usize = 1 << 20;

/// Checks a record's SHA-1 against its header's.
fn check_sha1(body: &[u8], hash: &str) -> Result<(), String> {
    let digest = sha1_smol::Sha1::from(body).digest().to_string();
    if digest.eq_ignore_ascii_case(hash) {
        Ok(())
    } else {
        Err(format!(
            "SHA-1 mismatch (header says {hash}, content has {digest})"
        ))
    }
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
        let last = end >= data.len() - 1;
        let hash: &str = hash;
        let unchecked = (last && body.len() >= CHECK_WHILE_PARSING).then_some(hash);
        if unchecked.is_none() {
            if let Err(msg) = check_sha1(body, hash) {
                if last {
                    warnings.push(format!(
                        "{file}: ignoring damaged last record {n} at byte offset {pos}: {msg}"
                    ));
                    break;
                }
                return Err(fail(pos, n, msg));
            }
        }
        out.push(Record {
            offset: pos,
            json: body,
            unchecked,
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
    if let Some(hash) = first.unchecked {
        check_sha1(first.json, hash).map_err(|m| fail(first, 0, m))?;
    }
    let mut db = Database::new(schema.clone());
    let mut history = Vec::new();
    let mut transactions = 0;
    for (i, r) in recs.iter().enumerate().skip(1) {
        let parsed = match r.unchecked {
            None => parse_record(&schema, &db, r.json),
            Some(hash) => {
                let (checked, parsed) = std::thread::scope(|s| {
                    let check = s.spawn(|| check_sha1(r.json, hash));
                    let parsed = parse_record(&schema, &db, r.json);
                    let checked = check
                        .join()
                        .unwrap_or_else(|_| Err("SHA-1 check failed".into()));
                    (checked, parsed)
                });
                if let Err(msg) = checked {
                    warnings.push(format!(
                        "{name}: ignoring damaged last record {i} at byte offset {}: {msg}",
                        r.offset
                    ));
                    break;
                }
                parsed
            }
        }
        .map_err(|m| fail(r, i, m))?;
        let changes = apply_record(&mut db, parsed, keep_history);
        if keep_history {
            history.push(changes);
        }
        transactions += 1;
    }
    Ok(DbFile {
        schema,
        database: db,
        transactions,
        warnings,
        history,
    })
}

/// Parses one transaction record straight from its bytes into rows,
/// against the content `db` has before it.
fn parse_record<'s>(
    schema: &'s DatabaseSchema,
    db: &Database,
    json: &[u8],
) -> Result<ParsedRecord<'s>, String> {
    let mut d = serde_json::Deserializer::from_slice(json);
    RecordSeed { schema, db }
        .deserialize(&mut d)
        .and_then(|r| d.end().map(|()| r))
        .map_err(|e| e.to_string())
}

/// Replays one parsed transaction record; returns its changes when `keep`
/// (else none).
fn apply_record(db: &mut Database, record: ParsedRecord<'_>, keep: bool) -> Vec<RowChange> {
    let mut changes = Vec::new();
    for (ts, rows) in record.tables {
        let Some(target) = db.tables_mut().get_mut(&ts.name) else {
            continue;
        };
        for (uuid, row) in rows {
            let (old, new) = match row {
                RecordRow::Delete => match target.remove(&uuid) {
                    Some(old) => (Some(old), None),
                    None => continue,
                },
                RecordRow::New(new) => {
                    let new = Arc::new(new);
                    (target.insert(uuid, new.clone()), Some(new))
                }
                RecordRow::Changed(cols) => {
                    let Some(old) = target.get(&uuid).cloned() else {
                        continue;
                    };
                    let new = Arc::new(overlay_row(&old, cols, record.is_diff, false));
                    target.insert(uuid, new.clone());
                    (Some(old), Some(new))
                }
            };
            if !keep {
                continue;
            }
            let table = ts.name.clone();
            changes.push(match (old, new) {
                (Some(old), Some(new)) => RowChange::Modify {
                    table,
                    uuid,
                    old,
                    new,
                },
                (None, Some(new)) => RowChange::Insert { table, uuid, new },
                (Some(old), None) => RowChange::Delete { table, uuid, old },
                (None, None) => continue,
            });
        }
    }
    changes
}

/// One transaction record as parsed, before it is applied (whether
/// changes are differences is known only once `_is_diff` has been read,
/// which may come after the tables).
struct ParsedRecord<'s> {
    is_diff: bool,
    tables: Vec<(&'s TableSchema, Vec<(Uuid, RecordRow<'s>)>)>,
}

/// One row of a transaction record.
enum RecordRow<'s> {
    /// `null`: the row is deleted.
    Delete,
    /// A row the database does not have yet, completed with defaults.
    New(Row),
    /// Columns of a row the database has: new values or differences.
    Changed(Columns<'s>),
}

/// `{table: {uuid: row-or-null}, "_date": …, "_comment": …, "_is_diff": …}`.
struct RecordSeed<'s, 'd> {
    schema: &'s DatabaseSchema,
    db: &'d Database,
}

impl<'de, 's> DeserializeSeed<'de> for RecordSeed<'s, '_> {
    type Value = ParsedRecord<'s>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 's> Visitor<'de> for RecordSeed<'s, '_> {
    type Value = ParsedRecord<'s>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a transaction record (an object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = ParsedRecord {
            is_diff: false,
            tables: Vec::new(),
        };
        while let Some(key) = map.next_key_seed(MemberSeed(self.schema))? {
            match key {
                Member::IsDiff => {
                    out.is_diff = map.next_value::<Value>()?.as_bool().unwrap_or(false)
                }
                Member::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
                Member::Table(ts) => {
                    let rows = map.next_value_seed(RecordTableSeed {
                        ts,
                        rows: self.db.table(&ts.name),
                    })?;
                    out.tables.push((ts, rows));
                }
            }
        }
        Ok(out)
    }
}

/// A member of a transaction record.
enum Member<'s> {
    /// A table's rows.
    Table(&'s TableSchema),
    /// `_is_diff`.
    IsDiff,
    /// Another member starting with `_` (`_date`, `_comment`).
    Other,
}

struct MemberSeed<'s>(&'s DatabaseSchema);

impl<'de, 's> DeserializeSeed<'de> for MemberSeed<'s> {
    type Value = Member<'s>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 's> Visitor<'de> for MemberSeed<'s> {
    type Value = Member<'s>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        if s == "_is_diff" {
            Ok(Member::IsDiff)
        } else if s.starts_with('_') {
            Ok(Member::Other)
        } else {
            TableKey {
                schema: self.0,
                unknown: "unknown table",
            }
            .visit_str(s)
            .map(Member::Table)
        }
    }
}

/// The rows of one table in a record: `{uuid: row-or-null}`.
struct RecordTableSeed<'s, 'd> {
    ts: &'s TableSchema,
    /// The table's rows before the record.
    rows: Option<&'d Rows>,
}

impl<'de, 's> DeserializeSeed<'de> for RecordTableSeed<'s, '_> {
    type Value = Vec<(Uuid, RecordRow<'s>)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 's> Visitor<'de> for RecordTableSeed<'s, '_> {
    type Value = Vec<(Uuid, RecordRow<'s>)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}: rows (an object)", self.ts.name)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let ts = self.ts;
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
        let template = RowTemplate::new(ts);
        while let Some(uuid) = map.next_key_seed(RowKey { table: &ts.name })? {
            let exists = self.rows.is_some_and(|r| r.contains_key(&uuid));
            let row = map.next_value_seed(RecordRowSeed {
                ts,
                template: &template,
                uuid,
                exists,
            })?;
            out.push((uuid, row));
        }
        Ok(out)
    }
}

/// One row of a record: `null` or `{column: datum…}`.
struct RecordRowSeed<'a, 't> {
    ts: &'a TableSchema,
    template: &'t RowTemplate,
    uuid: Uuid,
    exists: bool,
}

impl<'de, 'a> DeserializeSeed<'de> for RecordRowSeed<'a, '_> {
    type Value = RecordRow<'a>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, 'a> Visitor<'de> for RecordRowSeed<'a, '_> {
    type Value = RecordRow<'a>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "table {} row {}: a row object or null",
            self.ts.name, self.uuid
        )
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RecordRow::Delete)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RecordRow::Delete)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let cols = ColumnsSeed {
            table: self.ts,
            row: self.uuid,
        }
        .deserialize(d)?;
        Ok(if self.exists {
            RecordRow::Changed(cols)
        } else {
            RecordRow::New(self.template.complete(cols))
        })
    }
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
    fn is_diff_may_come_after_the_tables() {
        // ovsdb-server writes members in hash order: `_is_diff` can follow
        // the rows it applies to.
        let t1 = format!(
            r#"{{"Logical_Switch":{{"{LS}":{{"name":"sw0","other_config":["map",[["a","1"],["b","2"]]]}}}}}}"#
        );
        let t2 = format!(
            r#"{{"Logical_Switch":{{"{LS}":{{"other_config":["map",[["a","1"],["c","3"]]]}}}},"_date":1,"_is_diff":true}}"#
        );
        let t3 = format!(
            r#"{{"Logical_Switch":{{"{LS}":{{"other_config":["map",[["z","9"]]]}}}},"_date":2}}"#
        );
        let text = format!("{}{}{}", record(&schema()), record(&t1), record(&t2));
        let f = read_db_bytes(text.as_bytes(), "t.db").unwrap();
        let ls = f
            .database
            .get("Logical_Switch", &Uuid::parse_str(LS).unwrap())
            .unwrap();
        assert_eq!(
            ls["other_config"],
            crate::Datum::string_map([("b", "2"), ("c", "3")])
        );
        let text = format!("{text}{}", record(&t3));
        let f = read_db_bytes(text.as_bytes(), "t.db").unwrap();
        let ls = f
            .database
            .get("Logical_Switch", &Uuid::parse_str(LS).unwrap())
            .unwrap();
        assert_eq!(
            ls["other_config"],
            crate::Datum::string_map([("z", "9")]),
            "without _is_diff a column is replaced"
        );
        assert_eq!(ls["name"], crate::Datum::scalar("sw0"));
        let bad = format!(r#"{{"Logical_Switch":{{"{LS}":{{"name":7}}}}}}"#);
        let e = read_db_bytes(
            format!("{}{}", record(&schema()), record(&bad)).as_bytes(),
            "t.db",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(&format!(
                "t.db: record 1 at byte offset {}: table Logical_Switch row {LS} column name: expected string",
                record(&schema()).len()
            )),
            "{e}"
        );
    }

    #[test]
    fn a_large_last_record_is_checked_while_it_is_parsed() {
        let rows: Vec<String> = (0..12_000u128)
            .map(|i| {
                format!(
                    r#""{}":{{"name":"sw{i}","other_config":["map",[["k","{}"]]]}}"#,
                    Uuid::from_u128(i + 1),
                    "x".repeat(60)
                )
            })
            .collect();
        let big = format!(
            r#"{{"Logical_Switch":{{{}}},"_is_diff":true}}"#,
            rows.join(",")
        );
        assert!(big.len() >= CHECK_WHILE_PARSING);
        let good = format!("{}{}", record(&schema()), record(&big));
        let f = read_db_bytes(good.as_bytes(), "t.db").unwrap();
        assert_eq!((f.database.len(), f.transactions), (12_000, 1));
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        for damage in ["\"swX\"", "\"sw7 "] {
            let bad = good.replacen("\"sw7\"", damage, 1);
            let f = read_db_bytes(bad.as_bytes(), "t.db").unwrap();
            assert_eq!((f.database.len(), f.transactions), (0, 0));
            assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
            assert!(f.warnings[0].contains("SHA-1 mismatch"), "{:?}", f.warnings);
        }
        let inside = format!(
            "{}{}{}",
            record(&schema()),
            record(&big).replacen("\"sw7\"", "\"swX\"", 1),
            record("{}")
        );
        let e = read_db_bytes(inside.as_bytes(), "t.db").unwrap_err();
        assert!(e.to_string().contains("SHA-1 mismatch"), "{e}");
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
