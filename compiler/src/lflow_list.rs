//! The text format of `ovn-sbctl lflow-list` (utilities/ovn-sbctl.c,
//! `cmd_lflow_list()`, OVN 23.03): flows expanded per datapath (a flow with a
//! datapath group is listed under each member), sorted by datapath name,
//! datapath UUID, pipeline (ingress first), table, priority (descending),
//! match and actions; a `Datapath:` header whenever the datapath or pipeline
//! changes.

use std::collections::BTreeMap;
use std::fmt::Write;

use ovsdb::Uuid;

use crate::sb::{DatapathBinding, LogicalFlow, SbRecord};

fn ext<'a>(ids: &'a [(String, String)], key: &str) -> Option<&'a str> {
    ids.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `print_datapath_name()`: `"name"`, `"name" aka "name2"`, or nothing.
fn datapath_name(dp: Option<&DatapathBinding>) -> String {
    let ids: &[(String, String)] = dp.map(|d| d.external_ids.as_slice()).unwrap_or(&[]);
    match (ext(ids, "name"), ext(ids, "name2")) {
        (Some(n), Some(n2)) => format!("\"{n}\" aka \"{n2}\""),
        (Some(n), None) | (None, Some(n)) => format!("\"{n}\""),
        (None, None) => String::new(),
    }
}

/// Renders the `Logical_Flow` rows of `records` as `ovn-sbctl lflow-list` does.
pub fn lflow_list<'a>(records: impl IntoIterator<Item = &'a SbRecord>) -> String {
    let mut dps: BTreeMap<Uuid, &DatapathBinding> = BTreeMap::new();
    let mut groups: BTreeMap<Uuid, &[Uuid]> = BTreeMap::new();
    let mut flows: Vec<&LogicalFlow> = Vec::new();
    for r in records {
        match r {
            SbRecord::DatapathBinding(d) => {
                dps.insert(d.uuid, d);
            }
            SbRecord::LogicalDpGroup(g) => {
                groups.insert(g.uuid, &g.datapaths);
            }
            SbRecord::LogicalFlow(f) => flows.push(f),
            _ => {}
        }
    }
    // (datapath name, datapath uuid, flow)
    let mut rows: Vec<(&str, Uuid, &LogicalFlow)> = Vec::new();
    for f in flows {
        let mut members: Vec<Uuid> = f.logical_datapath.into_iter().collect();
        if let Some(g) = f.logical_dp_group.and_then(|g| groups.get(&g)) {
            members.extend(g.iter().copied());
        }
        for dp in members {
            let name = dps
                .get(&dp)
                .and_then(|d| ext(&d.external_ids, "name"))
                .unwrap_or("");
            rows.push((name, dp, f));
        }
    }
    rows.sort_by(|(an, ad, a), (bn, bd, b)| {
        an.cmp(bn)
            .then(ad.cmp(bd))
            .then((a.pipeline() != "ingress").cmp(&(b.pipeline() != "ingress")))
            .then(a.table_id().cmp(&b.table_id()))
            .then(b.priority.cmp(&a.priority))
            .then(a.match_.as_bytes().cmp(b.match_.as_bytes()))
            .then(a.actions.as_bytes().cmp(b.actions.as_bytes()))
    });
    let mut out = String::new();
    let mut prev: Option<(Uuid, &str)> = None;
    for (_, dp, f) in rows {
        if prev != Some((dp, f.pipeline())) {
            let _ = writeln!(
                out,
                "Datapath: {} ({dp})  Pipeline: {}",
                datapath_name(dps.get(&dp).copied()),
                f.pipeline()
            );
            prev = Some((dp, f.pipeline()));
        }
        let _ = writeln!(
            out,
            "  table={:<2}({:<19}), priority={:<5}, match=({}), action=({})",
            f.table_id(),
            f.stage.name(),
            f.priority,
            f.match_,
            f.actions
        );
    }
    out
}
