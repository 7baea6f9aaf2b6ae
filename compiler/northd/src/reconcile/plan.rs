//! The operations of one SB transaction, written as JSON text as they are
//! decided (a first full compute writes tens of thousands of rows: no
//! intermediate JSON values are built for them).

use ovsdb::rawjson::{write_str, write_uuid, RawOps};
use ovsdb::Uuid;
use serde_json::Value;

use super::binding::BindingUpdate;

/// Operations for one SB transaction, and how the binding changes once it
/// commits.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The operations (without the lock assertion).
    pub ops: RawOps,
    /// Rows inserted.
    pub inserts: usize,
    /// Rows updated.
    pub updates: usize,
    /// Rows deleted.
    pub deletes: usize,
    /// The binding change once the transaction commits.
    pub binding: BindingUpdate,
}

/// Writes `{"op":OP,"table":TABLE,`.
fn op_head(out: &mut Vec<u8>, op: &str, table: &str) {
    out.extend_from_slice(b"{\"op\":\"");
    out.extend_from_slice(op.as_bytes());
    out.extend_from_slice(b"\",\"table\":");
    write_str(out, table);
}

/// Writes `,"where":[["_uuid","==",["uuid",U]]]`.
fn by_uuid(out: &mut Vec<u8>, uuid: &Uuid) {
    out.extend_from_slice(b",\"where\":[[\"_uuid\",\"==\",");
    write_uuid(out, uuid);
    out.extend_from_slice(b"]]");
}

/// Writes a JSON object of columns; `write` appends one datum.
fn row_object<'a, D: 'a>(
    out: &mut Vec<u8>,
    cols: impl IntoIterator<Item = (&'a str, D)>,
    mut write: impl FnMut(&mut Vec<u8>, D),
) {
    out.push(b'{');
    for (i, (c, d)) in cols.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, c);
        out.push(b':');
        write(out, d);
    }
    out.push(b'}');
}

impl Plan {
    /// True when the SB already holds what we want.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations as JSON values (tests, diagnostics).
    pub fn op_values(&self) -> Vec<Value> {
        self.ops.to_values()
    }

    /// An insert of row `uuid` with `cols`; `write` appends one datum.
    pub(super) fn insert<'a, D: 'a>(
        &mut self,
        table: &str,
        uuid: Uuid,
        cols: impl IntoIterator<Item = (&'a str, D)>,
        write: impl FnMut(&mut Vec<u8>, D),
    ) {
        self.ops.push_with(|out| {
            op_head(out, "insert", table);
            out.extend_from_slice(b",\"uuid\":\"");
            out.extend_from_slice(uuid.to_string().as_bytes());
            out.extend_from_slice(b"\",\"row\":");
            row_object(out, cols, write);
            out.push(b'}');
        });
        self.inserts += 1;
    }

    /// An update of `cols` of row `uuid` (nothing when `cols` is empty).
    pub(super) fn update<'a, D: 'a>(
        &mut self,
        table: &str,
        uuid: Uuid,
        cols: Vec<(&'a str, D)>,
        write: impl FnMut(&mut Vec<u8>, D),
    ) {
        if cols.is_empty() {
            return;
        }
        self.ops.push_with(|out| {
            op_head(out, "update", table);
            by_uuid(out, &uuid);
            out.extend_from_slice(b",\"row\":");
            row_object(out, cols, write);
            out.push(b'}');
        });
        self.updates += 1;
    }

    /// A delete of row `uuid`.
    pub(super) fn delete(&mut self, table: &str, uuid: Uuid) {
        self.ops.push_with(|out| {
            op_head(out, "delete", table);
            by_uuid(out, &uuid);
            out.push(b'}');
        });
        self.deletes += 1;
    }

    /// A mutation deleting `gone` from set column `column` of row `uuid`.
    pub(super) fn remove_refs(&mut self, table: &str, uuid: Uuid, column: &str, gone: &[Uuid]) {
        self.ops.push_with(|out| {
            op_head(out, "mutate", table);
            by_uuid(out, &uuid);
            out.extend_from_slice(b",\"mutations\":[[");
            write_str(out, column);
            out.extend_from_slice(b",\"delete\",");
            // Always the ["set", …] form, as a mutation of a set column.
            out.extend_from_slice(b"[\"set\",[");
            for (i, u) in gone.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_uuid(out, u);
            }
            out.extend_from_slice(b"]]]]}");
        });
        self.updates += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::Datum;
    use serde_json::json;

    #[test]
    fn operations_are_valid_json() {
        let u = Uuid::from_u128(7);
        let mut p = Plan::default();
        let d = Datum::scalar(3i64);
        p.insert("T", u, [("a", &d)], |o, d| d.write_json(o));
        p.update("T", u, vec![("a", &d)], |o, d| d.write_json(o));
        p.update::<&Datum>("T", u, vec![], |o, d| d.write_json(o));
        p.delete("T", u);
        p.remove_refs("M", u, "refs", &[u]);
        let w = json!([["_uuid", "==", ["uuid", u.to_string()]]]);
        assert_eq!(
            p.op_values(),
            vec![
                json!({"op": "insert", "table": "T", "uuid": u.to_string(), "row": {"a": 3}}),
                json!({"op": "update", "table": "T", "where": w, "row": {"a": 3}}),
                json!({"op": "delete", "table": "T", "where": w}),
                json!({"op": "mutate", "table": "M", "where": w,
                    "mutations": [["refs", "delete", ["set", [["uuid", u.to_string()]]]]]}),
            ]
        );
        assert_eq!((p.inserts, p.updates, p.deletes), (1, 2, 1));
    }
}
