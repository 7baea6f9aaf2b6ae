//! Monitors: starting one with the newest method the server knows
//! (`monitor_cond_since`, else `monitor_cond`, else `monitor`), which
//! tables and columns it asks for ([`Selection`]) and the server's answer
//! ([`MonitorStart`]).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{ClientError, Connection};
use crate::atom::Uuid;
use crate::rawjson::RawJson;
use crate::replica::UpdateVersion;
use crate::schema::DatabaseSchema;

impl Connection {
    /// Starts a monitor of every column of `tables` (all tables when empty),
    /// with the newest method the server knows: `monitor_cond_since`, else
    /// `monitor_cond`, else `monitor`. Returns the notation, whether the
    /// server still knew `last_txn_id` (`found`: the initial contents are
    /// then only the changes since), the new last id, and the initial contents.
    pub async fn monitor_all(
        &self,
        schema: &DatabaseSchema,
        monitor_id: &str,
        tables: &[&str],
        last_txn_id: Option<Uuid>,
    ) -> Result<MonitorStart, ClientError> {
        self.monitor(schema, monitor_id, &Selection::tables(tables), last_txn_id)
            .await
    }

    /// [`Connection::monitor_all`] of the tables and columns of `selection`.
    pub async fn monitor(
        &self,
        schema: &DatabaseSchema,
        monitor_id: &str,
        selection: &Selection,
        last_txn_id: Option<Uuid>,
    ) -> Result<MonitorStart, ClientError> {
        self.monitor_requests(
            &schema.name,
            monitor_id,
            selection.requests(schema),
            last_txn_id,
        )
        .await
    }

    /// [`Connection::monitor`] with its `monitor-requests` object made
    /// already (e.g. [`Selection::explicit_requests`], for no schema).
    pub async fn monitor_requests(
        &self,
        db: &str,
        monitor_id: &str,
        reqs: serde_json::Map<String, Value>,
        last_txn_id: Option<Uuid>,
    ) -> Result<MonitorStart, ClientError> {
        let reqs = Value::Object(reqs);
        let last = last_txn_id.map_or(Uuid::nil(), |u| u).to_string();
        match self
            .request_raw("monitor_cond_since", json!([db, monitor_id, reqs, last]))
            .await
        {
            Ok(raw) => return monitor_cond_since_reply(raw),
            Err(e) if !unknown_method(&e) => return Err(e),
            Err(_) => {}
        }
        match self
            .request_raw("monitor_cond", json!([db, monitor_id, reqs]))
            .await
        {
            Ok(initial) => {
                return Ok(MonitorStart {
                    version: UpdateVersion::V2,
                    found: false,
                    last_txn_id: None,
                    initial,
                    method: "monitor_cond",
                })
            }
            Err(e) if !unknown_method(&e) => return Err(e),
            Err(_) => {}
        }
        let mut v1 = serde_json::Map::new();
        for (t, r) in reqs.as_object().expect("object") {
            v1.insert(t.clone(), r[0].clone());
        }
        let initial = self
            .request_raw("monitor", json!([db, monitor_id, v1]))
            .await?;
        Ok(MonitorStart {
            version: UpdateVersion::V1,
            found: false,
            last_txn_id: None,
            initial,
            method: "monitor",
        })
    }
}

/// `[found, last-txn-id, table-updates]`, the table-updates kept as text
/// (not even scanned here: whoever parses it checks it).
fn monitor_cond_since_reply(raw: RawJson) -> Result<MonitorStart, ClientError> {
    let bad = || ClientError::Protocol(format!("monitor_cond_since reply: {}", snippet(raw.get())));
    let (found, id, range) = split3(raw.get()).ok_or_else(bad)?;
    let range = raw.locate(&raw.get()[range]).ok_or_else(bad)?;
    Ok(MonitorStart {
        version: UpdateVersion::V2,
        found: found.as_bool().unwrap_or(false),
        last_txn_id: id.as_str().and_then(|s| Uuid::parse_str(s).ok()),
        initial: raw.narrow(range),
        method: "monitor_cond_since",
    })
}

/// At most 60 characters of a text, for messages.
fn snippet(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Splits the JSON array `[a, b, c]`: `a` and `b` parsed, `c` as the
/// range of its text, unparsed.
fn split3(text: &str) -> Option<(Value, Value, std::ops::Range<usize>)> {
    let skip_ws = |pos: usize| pos + (text[pos..].len() - text[pos..].trim_start().len());
    let mut pos = skip_ws(0);
    if !text[pos..].starts_with('[') {
        return None;
    }
    pos += 1;
    let mut first_two = [Value::Null, Value::Null];
    for slot in &mut first_two {
        let mut values = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<Value>();
        *slot = values.next()?.ok()?;
        pos = skip_ws(pos + values.byte_offset());
        if !text[pos..].starts_with(',') {
            return None;
        }
        pos = skip_ws(pos + 1);
    }
    let end = text.trim_end().strip_suffix(']')?.trim_end().len();
    let [a, b] = first_two;
    (pos < end).then_some((a, b, pos..end))
}

/// Which tables and columns a monitor asks for.
///
/// The default ([`Selection::all`]) is every column of every table. A
/// daemon that reads only some columns can ask for just those, as
/// ovn-northd's IDL leaves out the columns it never reads: the server then
/// sends less and the replica builds less. In a replica, the columns left
/// out hold their schema defaults (0, "", empty set…), as in the IDL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Table → its columns (`None`: all of them); empty: every table.
    tables: BTreeMap<String, Option<Vec<String>>>,
    /// The replica's rows leave out empty columns.
    omit_empty: bool,
}

impl Selection {
    /// Every column of every table.
    pub fn all() -> Selection {
        Selection::default()
    }

    /// Every column of `tables` (every table when empty).
    pub fn tables<S: AsRef<str>>(tables: &[S]) -> Selection {
        Selection {
            tables: tables
                .iter()
                .map(|t| (t.as_ref().to_string(), None))
                .collect(),
            omit_empty: false,
        }
    }

    /// The same, for a replica whose rows leave out empty columns
    /// ([`crate::replica::Replica::omit_empty`]).
    pub fn omit_empty(mut self) -> Selection {
        self.omit_empty = true;
        self
    }

    /// Whether a replica fed by this monitor leaves out empty columns.
    pub fn omits_empty(&self) -> bool {
        self.omit_empty
    }

    /// Adds every column of `table`.
    pub fn table(mut self, table: &str) -> Selection {
        self.tables.insert(table.to_string(), None);
        self
    }

    /// Adds `table` with only `columns` (on top of columns already asked
    /// for it; a table already asked for whole stays whole).
    pub fn columns<S: AsRef<str>>(mut self, table: &str, columns: &[S]) -> Selection {
        let entry = self
            .tables
            .entry(table.to_string())
            .or_insert_with(|| Some(Vec::new()));
        if let Some(cols) = entry {
            for c in columns {
                if !cols.iter().any(|x| x == c.as_ref()) {
                    cols.push(c.as_ref().to_string());
                }
            }
        }
        self
    }

    /// The tables asked for only in part, with their columns: what a
    /// replica fed by this monitor keeps of their rows
    /// ([`crate::replica::Replica::with_kept_columns`]).
    pub fn kept_columns(&self) -> crate::replica::KeptColumns {
        self.tables
            .iter()
            .filter_map(|(t, cols)| Some((t.clone(), cols.as_ref()?.iter().cloned().collect())))
            .collect()
    }

    /// True when every column of every table is asked for.
    pub fn is_all(&self) -> bool {
        self.tables.is_empty()
    }

    /// Whether `column` of `table` is asked for.
    pub fn contains(&self, table: &str, column: &str) -> bool {
        if self.tables.is_empty() {
            return true;
        }
        match self.tables.get(table) {
            Some(None) => true,
            Some(Some(cols)) => cols.iter().any(|c| c == column),
            None => false,
        }
    }

    /// The `monitor-requests` object of a selection that names each table
    /// it wants and each of their columns, made without the schema (`None`
    /// for one that asks for every table, or every column of one): what
    /// [`Selection::requests`] makes of it for a schema that has them all.
    pub fn explicit_requests(&self) -> Option<serde_json::Map<String, Value>> {
        if self.tables.is_empty() {
            return None;
        }
        let mut reqs = serde_json::Map::new();
        for (t, cols) in &self.tables {
            let mut cols = cols.clone()?;
            cols.sort();
            reqs.insert(t.clone(), json!([{ "columns": cols }]));
        }
        Some(reqs)
    }

    /// The `monitor-requests` object for `schema`: every column listed
    /// explicitly. Tables and columns the server's schema lacks are left
    /// out with a warning, as ovsdb-cs does when a server is older than
    /// the client.
    pub fn requests(&self, schema: &DatabaseSchema) -> serde_json::Map<String, Value> {
        for (t, cols) in &self.tables {
            match schema.table(t) {
                None => tracing::warn!("{}: no table {t} to monitor", schema.name),
                Some(ts) => {
                    for c in cols.iter().flatten() {
                        if ts.column(c).is_none() {
                            tracing::warn!(
                                "{}: table {t} has no column {c} to monitor",
                                schema.name
                            );
                        }
                    }
                }
            }
        }
        let mut reqs = serde_json::Map::new();
        for (name, t) in &schema.tables {
            if !self.tables.is_empty() && !self.tables.contains_key(name) {
                continue;
            }
            let cols: Vec<&String> = t
                .columns
                .keys()
                .filter(|c| self.contains(name, c))
                .collect();
            reqs.insert(name.clone(), json!([{ "columns": cols }]));
        }
        reqs
    }
}

/// The answer to starting a monitor.
#[derive(Clone, Debug)]
pub struct MonitorStart {
    /// The notation of the initial contents and of later notifications.
    pub version: UpdateVersion,
    /// True if the initial contents are only the changes since the given id.
    pub found: bool,
    /// The server's last transaction id (monitor_cond_since only).
    pub last_txn_id: Option<Uuid>,
    /// The initial contents (a table-updates object), as JSON text: give
    /// it to [`Replica::reset_to_json`] or [`Replica::apply_update_json`].
    ///
    /// [`Replica::reset_to_json`]: crate::replica::Replica::reset_to_json
    /// [`Replica::apply_update_json`]: crate::replica::Replica::apply_update_json
    pub initial: RawJson,
    /// Which method the server accepted.
    pub method: &'static str,
}

fn unknown_method(e: &ClientError) -> bool {
    matches!(e, ClientError::Server(v) if v.as_str() == Some("unknown method") || v.get("error").and_then(Value::as_str) == Some("unknown method"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split3_keeps_the_third_element_as_text() {
        let text = r#" [ true , "a,]b" ,{"T": {"u": [1, "]"]}} ] "#;
        let (a, b, r) = split3(text).unwrap();
        assert_eq!(a, json!(true));
        assert_eq!(b, json!("a,]b"));
        assert_eq!(&text[r], r#"{"T": {"u": [1, "]"]}}"#);
        for bad in [
            "[true, \"x\"]",
            "{}",
            "[true \"x\", {}]",
            "[1, 2, ]",
            "[1, 2, {}",
        ] {
            assert!(split3(bad).is_none(), "{bad}");
        }
        let raw = RawJson::new(r#"[false,"4e0b20f2-9b9b-4c17-8d74-a331eff9070b",{}]"#.into());
        let m = monitor_cond_since_reply(raw).unwrap();
        assert_eq!(m.initial.get(), "{}");
        assert!(!m.found);
        assert!(m.last_txn_id.is_some());
        assert!(monitor_cond_since_reply(RawJson::new("[1]".into())).is_err());
    }
}
