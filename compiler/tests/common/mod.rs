//! Helpers the compiler's integration tests share.

use std::collections::BTreeMap;
use std::sync::Arc;

use ovnflow_compiler::RowChange;
use ovsdb::{Row, Uuid};

/// Row changes turning `old` into `new`.
pub fn diff(
    old: &BTreeMap<(&'static str, Uuid), Row>,
    new: &BTreeMap<(&'static str, Uuid), Row>,
) -> Vec<RowChange> {
    let mut out = Vec::new();
    for ((t, u), o) in old {
        match new.get(&(t, *u)) {
            None => out.push(RowChange::Delete {
                table: t.to_string(),
                uuid: *u,
                old: Arc::new(o.clone()),
            }),
            Some(n) if n != o => out.push(RowChange::Modify {
                table: t.to_string(),
                uuid: *u,
                old: Arc::new(o.clone()),
                new: Arc::new(n.clone()),
            }),
            _ => {}
        }
    }
    for ((t, u), n) in new {
        if !old.contains_key(&(t, *u)) {
            out.push(RowChange::Insert {
                table: t.to_string(),
                uuid: *u,
                new: Arc::new(n.clone()),
            });
        }
    }
    out
}
