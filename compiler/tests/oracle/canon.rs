//! Canonical SB rows for comparison: row UUIDs replaced by what identifies
//! the rows (datapath names, logical port names, datapath-name sets), so
//! that two SBs with different random UUIDs compare equal when their
//! content is.

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::{Atom, Datum, Row, Uuid};
use serde_json::Value;

/// SB content: table → UUID → row.
pub type Tables = BTreeMap<String, BTreeMap<Uuid, Row>>;

/// Parses `ovsdb-client dump -f json` output (one JSON table per line).
pub fn parse_dump(text: &str) -> Tables {
    let mut out = Tables::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("dump line is JSON");
        let name = v["caption"]
            .as_str()
            .unwrap_or("")
            .split(' ')
            .next()
            .unwrap_or("")
            .to_string();
        let headings: Vec<String> = v["headings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str().map(String::from))
            .collect();
        let rows = out.entry(name).or_default();
        for data in v["data"].as_array().into_iter().flatten() {
            let mut row = Row::new();
            let mut uuid = Uuid::nil();
            for (h, cell) in headings.iter().zip(data.as_array().into_iter().flatten()) {
                let d = Datum::from_json_untyped(cell).expect("datum");
                match h.as_str() {
                    "_uuid" => uuid = d.as_uuid().expect("_uuid"),
                    "_version" => {}
                    _ => {
                        row.insert(h.clone(), d);
                    }
                }
            }
            rows.insert(uuid, row);
        }
    }
    out
}

fn get<'a>(row: &'a Row, col: &str) -> &'a [Atom] {
    row.get(col).map(Datum::atoms).unwrap_or(&[])
}

fn text(a: &Atom) -> String {
    a.as_str()
        .map(String::from)
        .unwrap_or_else(|| a.to_string())
}

fn smap(row: &Row, col: &str) -> BTreeMap<String, String> {
    row.get(col)
        .map(|d| d.pairs().iter().map(|(k, v)| (text(k), text(v))).collect())
        .unwrap_or_default()
}

fn scalar(row: &Row, col: &str) -> String {
    get(row, col).iter().map(text).collect::<Vec<_>>().join(",")
}

/// Canonical rows of the tables the compiler writes, as `(table, text)`.
pub fn canonical(t: &Tables) -> BTreeSet<(String, String)> {
    let empty = BTreeMap::new();
    let table = |n: &str| t.get(n).unwrap_or(&empty);
    let dp_name: BTreeMap<Uuid, String> = table("Datapath_Binding")
        .iter()
        .map(|(u, r)| {
            (
                *u,
                smap(r, "external_ids")
                    .get("name")
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect();
    let name_of = |a: &Atom| {
        a.as_uuid()
            .and_then(|u| dp_name.get(&u).cloned())
            .unwrap_or_else(|| "?".into())
    };
    let pb_name: BTreeMap<Uuid, String> = table("Port_Binding")
        .iter()
        .map(|(u, r)| (*u, scalar(r, "logical_port")))
        .collect();
    let groups: BTreeMap<Uuid, Vec<String>> = table("Logical_DP_Group")
        .iter()
        .map(|(u, r)| {
            let mut v: Vec<String> = get(r, "datapaths").iter().map(name_of).collect();
            v.sort();
            (*u, v)
        })
        .collect();
    let mut out = BTreeSet::new();
    for (u, r) in table("Datapath_Binding") {
        let mut ids = smap(r, "external_ids");
        ids.entry("logical-switch".into())
            .and_modify(|v| *v = "<nb>".into());
        let _ = u;
        out.insert((
            "Datapath_Binding".into(),
            format!("{ids:?} key={}", scalar(r, "tunnel_key")),
        ));
    }
    for r in table("Port_Binding").values() {
        let dp = get(r, "datapath").first().map(name_of).unwrap_or_default();
        let mut fields: Vec<String> = Vec::new();
        for c in [
            "logical_port",
            "tunnel_key",
            "type",
            "mac",
            "port_security",
            "parent_port",
            "tag",
            "nat_addresses",
        ] {
            fields.push(format!("{c}={}", scalar(r, c)));
        }
        fields.push(format!("options={:?}", smap(r, "options")));
        fields.push(format!("external_ids={:?}", smap(r, "external_ids")));
        out.insert((
            "Port_Binding".into(),
            format!("dp={dp} {}", fields.join(" ")),
        ));
    }
    for r in table("Multicast_Group").values() {
        let dp = get(r, "datapath").first().map(name_of).unwrap_or_default();
        let mut ports: Vec<String> = get(r, "ports")
            .iter()
            .filter_map(|a| a.as_uuid())
            .map(|u| pb_name.get(&u).cloned().unwrap_or_default())
            .collect();
        ports.sort();
        out.insert((
            "Multicast_Group".into(),
            format!(
                "dp={dp} name={} key={} ports={ports:?}",
                scalar(r, "name"),
                scalar(r, "tunnel_key")
            ),
        ));
    }
    for r in table("IP_Multicast").values() {
        let dp = get(r, "datapath").first().map(name_of).unwrap_or_default();
        let cols = [
            "enabled",
            "querier",
            "table_size",
            "idle_timeout",
            "query_interval",
            "query_max_resp",
            "eth_src",
            "ip4_src",
            "ip6_src",
            "seq_no",
        ];
        let fields: Vec<String> = cols
            .iter()
            .map(|c| format!("{c}={}", scalar(r, c)))
            .collect();
        out.insert((
            "IP_Multicast".into(),
            format!("dp={dp} {}", fields.join(" ")),
        ));
    }
    for r in table("Port_Group").values() {
        let mut ports: Vec<String> = get(r, "ports").iter().map(text).collect();
        ports.sort();
        out.insert((
            "Port_Group".into(),
            format!("name={} ports={ports:?}", scalar(r, "name")),
        ));
    }
    for r in table("Address_Set").values() {
        let mut addrs: Vec<String> = get(r, "addresses").iter().map(text).collect();
        addrs.sort();
        out.insert((
            "Address_Set".into(),
            format!("name={} addresses={addrs:?}", scalar(r, "name")),
        ));
    }
    // `nb_cfg` counts `--wait` syncs, which the oracle does and a compile of
    // a transaction file does not see.
    for r in table("SB_Global").values() {
        out.insert((
            "SB_Global".into(),
            format!(
                "options={:?} ipsec={}",
                smap(r, "options"),
                scalar(r, "ipsec")
            ),
        ));
    }
    for t in ["DHCP_Options", "DHCPv6_Options"] {
        for r in table(t).values() {
            out.insert((
                t.into(),
                format!(
                    "{} {} {}",
                    scalar(r, "code"),
                    scalar(r, "name"),
                    scalar(r, "type")
                ),
            ));
        }
    }
    let perm_table: BTreeMap<Uuid, String> = table("RBAC_Permission")
        .iter()
        .map(|(u, r)| (*u, scalar(r, "table")))
        .collect();
    for r in table("RBAC_Permission").values() {
        let fields: Vec<String> = ["table", "authorization", "insert_delete", "update"]
            .iter()
            .map(|c| format!("{c}={}", scalar(r, c)))
            .collect();
        out.insert(("RBAC_Permission".into(), fields.join(" ")));
    }
    for r in table("RBAC_Role").values() {
        let perms: BTreeMap<String, String> = r
            .get("permissions")
            .map(|d| {
                d.pairs()
                    .iter()
                    .map(|(k, v)| {
                        (
                            text(k),
                            v.as_uuid()
                                .and_then(|u| perm_table.get(&u).cloned())
                                .unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.insert((
            "RBAC_Role".into(),
            format!("name={} permissions={perms:?}", scalar(r, "name")),
        ));
    }
    for r in table("DNS").values() {
        let mut dps: Vec<String> = get(r, "datapaths").iter().map(name_of).collect();
        dps.sort();
        out.insert((
            "DNS".into(),
            format!(
                "datapaths={dps:?} records={:?} external_ids={:?}",
                smap(r, "records"),
                smap(r, "external_ids")
            ),
        ));
    }
    for g in groups.values() {
        out.insert(("Logical_DP_Group".into(), format!("{g:?}")));
    }
    for r in table("Logical_Flow").values() {
        let on = match (
            get(r, "logical_datapath").first(),
            get(r, "logical_dp_group").first(),
        ) {
            (Some(dp), _) => format!("dp={}", name_of(dp)),
            (None, Some(g)) => format!("group={:?}", g.as_uuid().and_then(|u| groups.get(&u))),
            (None, None) => "nowhere".into(),
        };
        out.insert((
            "Logical_Flow".into(),
            format!(
                "{on} {} table={} priority={} match=({}) actions=({}) external_ids={:?} tags={:?} meter={}",
                scalar(r, "pipeline"),
                scalar(r, "table_id"),
                scalar(r, "priority"),
                scalar(r, "match"),
                scalar(r, "actions"),
                smap(r, "external_ids"),
                smap(r, "tags"),
                scalar(r, "controller_meter"),
            ),
        ));
    }
    out
}

/// The per-table comparison: (identical, missing from ours, extra in ours).
pub fn report(
    oracle: &BTreeSet<(String, String)>,
    ours: &BTreeSet<(String, String)>,
) -> BTreeMap<String, (usize, usize, usize)> {
    let mut r: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for x in oracle.intersection(ours) {
        r.entry(x.0.clone()).or_default().0 += 1;
    }
    for x in oracle.difference(ours) {
        r.entry(x.0.clone()).or_default().1 += 1;
    }
    for x in ours.difference(oracle) {
        r.entry(x.0.clone()).or_default().2 += 1;
    }
    r
}
