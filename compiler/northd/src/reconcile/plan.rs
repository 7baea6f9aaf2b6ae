//! The operations of one SB transaction, written as JSON text as they are
//! decided (a first full compute writes tens of thousands of rows: no
//! intermediate JSON values are built for them). A plan made with
//! [`Plan::spilling`] hands its text out in pieces as it grows, so that
//! the daemon streams a large transaction to the server while it is still
//! being decided instead of holding it whole.

use ovsdb::rawjson::{write_str, write_uuid, RawOps};
use ovsdb::Uuid;
use serde_json::Value;

use super::binding::BindingUpdate;

/// Takes the pieces of a plan's text ([`Plan::spilling`]).
pub type Spill = Box<dyn FnMut(Vec<u8>) + Send>;

/// Operations for one SB transaction, and how the binding changes once it
/// commits.
#[derive(Default)]
pub struct Plan {
    /// The operations (without the lock assertion); once the plan
    /// [`Plan::spilled`], only the text not handed out yet.
    pub ops: RawOps,
    /// Rows inserted.
    pub inserts: usize,
    /// Rows updated.
    pub updates: usize,
    /// Rows deleted.
    pub deletes: usize,
    /// The binding change once the transaction commits.
    pub binding: BindingUpdate,
    /// Where the text goes once it reaches so many bytes.
    spill: Option<(usize, Spill)>,
    /// Bytes of text handed out.
    spilled: usize,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("ops", &self.ops)
            .field("inserts", &self.inserts)
            .field("updates", &self.updates)
            .field("deletes", &self.deletes)
            .field("binding", &self.binding)
            .field("spilled", &self.spilled)
            .finish_non_exhaustive()
    }
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
    /// An empty plan whose text goes to `sink` each time it reaches `at`
    /// bytes (between operations): the pieces, then what remains in
    /// [`Plan::ops`], are the operations separated by commas.
    pub fn spilling(at: usize, sink: Spill) -> Plan {
        let mut plan = Plan {
            spill: Some((at, sink)),
            ..Plan::default()
        };
        plan.ops.reserve(at + at / 8);
        plan
    }

    /// True when the SB already holds what we want.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Whether some of the text went to the spill sink.
    pub fn spilled(&self) -> bool {
        self.spilled > 0
    }

    /// Bytes of operation text, handed out or not.
    pub fn text_len(&self) -> usize {
        self.spilled + self.ops.text_len()
    }

    /// Hands the text out once it is long enough.
    fn after_push(&mut self) {
        if let Some((at, sink)) = &mut self.spill {
            if self.ops.text_len() >= *at {
                let text = self.ops.take_text();
                self.spilled += text.len();
                sink(text);
                self.ops.reserve(*at + *at / 8);
            }
        }
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
        self.after_push();
    }

    /// An update of `cols` of row `uuid` (nothing when `cols` is empty).
    pub(crate) fn update<'a, D: 'a>(
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
        self.after_push();
    }

    /// A delete of row `uuid`.
    pub(super) fn delete(&mut self, table: &str, uuid: Uuid) {
        self.ops.push_with(|out| {
            op_head(out, "delete", table);
            by_uuid(out, &uuid);
            out.push(b'}');
        });
        self.deletes += 1;
        self.after_push();
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
        self.after_push();
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

    #[test]
    fn spilled_pieces_and_the_rest_are_the_operations() {
        let pieces = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = pieces.clone();
        let mut p = Plan::spilling(
            100,
            Box::new(move |t| sink.lock().unwrap().extend_from_slice(&t)),
        );
        let mut plain = Plan::default();
        for i in 0..20u128 {
            p.delete("T", Uuid::from_u128(i));
            plain.delete("T", Uuid::from_u128(i));
        }
        assert!(p.spilled() && !plain.spilled());
        assert_eq!(p.text_len(), plain.text_len());
        let mut all = pieces.lock().unwrap().clone();
        all.extend(p.ops.take_text());
        assert_eq!(all, plain.ops.as_bytes());
        assert_eq!((p.deletes, p.ops.len()), (20, 20));
    }
}
