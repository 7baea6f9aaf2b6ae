//! The canonical text form of a Southbound database, the form in which the
//! corpus stores what real ovn-northd wrote (`sb.txt`) and in which ovnflow's
//! output is compared with it.
//!
//! One line per SB row, `TABLE<TAB>TEXT`, sorted. Row UUIDs (random in
//! northd) are replaced by what identifies the row: a datapath by its
//! `external_ids:name`, a port binding by its `logical_port`, a
//! `Logical_DP_Group` by the sorted names of its datapaths (so a flow on a
//! group is written with the group expanded). `SB_Global:nb_cfg` (a count
//! of `--wait` syncs) and `Datapath_Binding:external_ids:logical-switch`
//! (the NB row UUID, random for `ovn-nbctl` histories) are left out.
//! A `Meter` is written with its bands expanded.
//! Tables without a dedicated form (`Load_Balancer`, `BFD`, …) are
//! written with every column, references replaced the same way, so that
//! nothing northd writes is hidden from the comparison; only `BFD:disc`
//! (random in northd) is left out.

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::{Atom, Datum, Row, Uuid};
use serde_json::Value;

/// SB content: table → row UUID → row.
pub type Tables = BTreeMap<String, BTreeMap<Uuid, Row>>;

/// Canonical SB rows: `(table, text)`, sorted.
pub type Canon = BTreeSet<(String, String)>;

/// Tables about chassis, connections and runtime state that northd does
/// not write from the NB; left out of the canonical form.
const RUNTIME_TABLES: &[&str] = &[
    "Chassis",
    "Chassis_Private",
    "Encap",
    "Connection",
    "SSL",
    "Controller_Event",
    "IGMP_Group",
    "MAC_Binding",
    "FDB",
];

/// Tables with a dedicated canonical form below.
const DEDICATED: &[&str] = &[
    "Datapath_Binding",
    "Port_Binding",
    "Multicast_Group",
    "IP_Multicast",
    "Port_Group",
    "Address_Set",
    "SB_Global",
    "DHCP_Options",
    "DHCPv6_Options",
    "RBAC_Permission",
    "RBAC_Role",
    "DNS",
    "Logical_DP_Group",
    "Logical_Flow",
    "Meter",
    "Meter_Band",
];

/// Parses `ovsdb-client dump -f json` output (one JSON table per line).
pub fn parse_dump(text: &str) -> Result<Tables, String> {
    let mut out = Tables::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("dump line {}: invalid JSON: {e}", n + 1))?;
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
        let rows = out.entry(name.clone()).or_default();
        for data in v["data"].as_array().into_iter().flatten() {
            let mut row = Row::new();
            let mut uuid = Uuid::nil();
            for (h, cell) in headings.iter().zip(data.as_array().into_iter().flatten()) {
                let d = Datum::from_json_untyped(cell)
                    .map_err(|e| format!("dump line {}: table {name} column {h}: {e}", n + 1))?;
                match h.as_str() {
                    "_uuid" => {
                        uuid = d
                            .as_uuid()
                            .ok_or_else(|| format!("table {name}: _uuid is not a UUID"))?
                    }
                    "_version" => {}
                    _ => {
                        row.insert(h.clone(), d);
                    }
                }
            }
            rows.insert(uuid, row);
        }
    }
    Ok(out)
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

/// Names standing for row UUIDs.
struct Names {
    /// Datapath_Binding UUID → `external_ids:name`.
    dp: BTreeMap<Uuid, String>,
    /// Port_Binding UUID → `logical_port`.
    pb: BTreeMap<Uuid, String>,
    /// Logical_DP_Group UUID → sorted datapath names.
    groups: BTreeMap<Uuid, Vec<String>>,
    /// Logical_DP_Group UUID → the `stage-hint`s naming its datapaths' own
    /// NB rows (first 8 hex digits of `logical-switch`/`logical-router`).
    group_hints: BTreeMap<Uuid, BTreeSet<String>>,
}

impl Names {
    fn new(t: &Tables) -> Names {
        let empty = BTreeMap::new();
        let table = |n: &str| t.get(n).unwrap_or(&empty);
        let dp: BTreeMap<Uuid, String> = table("Datapath_Binding")
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
        let pb = table("Port_Binding")
            .iter()
            .map(|(u, r)| (*u, scalar(r, "logical_port")))
            .collect();
        let groups = table("Logical_DP_Group")
            .iter()
            .map(|(u, r)| {
                let mut v: Vec<String> =
                    get(r, "datapaths").iter().map(|a| dp_of(&dp, a)).collect();
                v.sort();
                (*u, v)
            })
            .collect();
        let datapaths = table("Datapath_Binding");
        let own_hint = |a: &Atom| -> Option<String> {
            let ids = smap(datapaths.get(&a.as_uuid()?)?, "external_ids");
            let nb = ids.get("logical-switch").or(ids.get("logical-router"))?;
            Some(nb.chars().take(8).collect())
        };
        let group_hints = table("Logical_DP_Group")
            .iter()
            .map(|(u, r)| {
                (
                    *u,
                    get(r, "datapaths").iter().filter_map(own_hint).collect(),
                )
            })
            .collect();
        Names {
            dp,
            pb,
            groups,
            group_hints,
        }
    }

    fn dp(&self, a: &Atom) -> String {
        dp_of(&self.dp, a)
    }

    /// Any reference: a datapath, port binding or group by its name(s).
    fn any(&self, a: &Atom) -> String {
        let Some(u) = a.as_uuid() else {
            return text(a);
        };
        if let Some(n) = self.dp.get(&u) {
            format!("dp:{n}")
        } else if let Some(n) = self.pb.get(&u) {
            format!("port:{n}")
        } else if let Some(g) = self.groups.get(&u) {
            format!("group:{g:?}")
        } else {
            "<uuid>".into()
        }
    }
}

fn dp_of(dp: &BTreeMap<Uuid, String>, a: &Atom) -> String {
    a.as_uuid()
        .and_then(|u| dp.get(&u).cloned())
        .unwrap_or_else(|| "?".into())
}

/// The canonical rows of an SB.
pub fn canonical(t: &Tables) -> Canon {
    let empty = BTreeMap::new();
    let table = |n: &str| t.get(n).unwrap_or(&empty);
    let names = Names::new(t);
    let mut out = Canon::new();
    let mut put = |t: &str, s: String| {
        out.insert((t.to_string(), s));
    };
    // A meter with its bands expanded (`Meter_Band` is not a root table:
    // it exists only as a meter's band).
    for r in table("Meter").values() {
        let mut bands: Vec<String> = get(r, "bands")
            .iter()
            .map(
                |b| match b.as_uuid().and_then(|u| table("Meter_Band").get(&u)) {
                    Some(band) => format!(
                        "{}/rate={}/burst={}",
                        scalar(band, "action"),
                        scalar(band, "rate"),
                        scalar(band, "burst_size")
                    ),
                    None => "<missing band>".into(),
                },
            )
            .collect();
        bands.sort();
        put(
            "Meter",
            format!(
                "name={} unit={} bands={}",
                scalar(r, "name"),
                scalar(r, "unit"),
                bands.join(",")
            ),
        );
    }
    for r in table("Datapath_Binding").values() {
        let mut ids = smap(r, "external_ids");
        ids.entry("logical-switch".into())
            .and_modify(|v| *v = "<nb>".into());
        put(
            "Datapath_Binding",
            format!("{ids:?} key={}", scalar(r, "tunnel_key")),
        );
    }
    for r in table("Port_Binding").values() {
        let dp = get(r, "datapath")
            .first()
            .map(|a| names.dp(a))
            .unwrap_or_default();
        let mut fields: Vec<String> = [
            "logical_port",
            "tunnel_key",
            "type",
            "mac",
            "port_security",
            "parent_port",
            "tag",
            "nat_addresses",
        ]
        .iter()
        .map(|c| format!("{c}={}", scalar(r, c)))
        .collect();
        fields.push(format!("options={:?}", smap(r, "options")));
        fields.push(format!("external_ids={:?}", smap(r, "external_ids")));
        // The HA chassis group by name, only when set (entries without
        // groups keep their form).
        if let Some(g) = get(r, "ha_chassis_group").first().and_then(|a| a.as_uuid()) {
            let name = table("HA_Chassis_Group")
                .get(&g)
                .map(|row| scalar(row, "name"))
                .unwrap_or_else(|| "<missing>".into());
            fields.push(format!("ha_chassis_group={name}"));
        }
        put("Port_Binding", format!("dp={dp} {}", fields.join(" ")));
    }
    for r in table("Multicast_Group").values() {
        let dp = get(r, "datapath")
            .first()
            .map(|a| names.dp(a))
            .unwrap_or_default();
        let mut ports: Vec<String> = get(r, "ports")
            .iter()
            .filter_map(|a| a.as_uuid())
            .map(|u| names.pb.get(&u).cloned().unwrap_or_default())
            .collect();
        ports.sort();
        put(
            "Multicast_Group",
            format!(
                "dp={dp} name={} key={} ports={ports:?}",
                scalar(r, "name"),
                scalar(r, "tunnel_key")
            ),
        );
    }
    for r in table("IP_Multicast").values() {
        let dp = get(r, "datapath")
            .first()
            .map(|a| names.dp(a))
            .unwrap_or_default();
        let fields: Vec<String> = [
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
        ]
        .iter()
        .map(|c| format!("{c}={}", scalar(r, c)))
        .collect();
        put("IP_Multicast", format!("dp={dp} {}", fields.join(" ")));
    }
    for r in table("Port_Group").values() {
        let mut ports: Vec<String> = get(r, "ports").iter().map(text).collect();
        ports.sort();
        put(
            "Port_Group",
            format!("name={} ports={ports:?}", scalar(r, "name")),
        );
    }
    for r in table("Address_Set").values() {
        let mut addrs: Vec<String> = get(r, "addresses").iter().map(text).collect();
        addrs.sort();
        put(
            "Address_Set",
            format!("name={} addresses={addrs:?}", scalar(r, "name")),
        );
    }
    // `nb_cfg` counts `--wait` syncs, which the oracle does and a compile of
    // a transaction file does not see.
    for r in table("SB_Global").values() {
        put(
            "SB_Global",
            format!(
                "options={:?} ipsec={}",
                smap(r, "options"),
                scalar(r, "ipsec")
            ),
        );
    }
    for t in ["DHCP_Options", "DHCPv6_Options"] {
        for r in table(t).values() {
            put(
                t,
                format!(
                    "{} {} {}",
                    scalar(r, "code"),
                    scalar(r, "name"),
                    scalar(r, "type")
                ),
            );
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
        put("RBAC_Permission", fields.join(" "));
    }
    for r in table("RBAC_Role").values() {
        let perms: BTreeMap<String, String> = r
            .get("permissions")
            .map(|d| {
                d.pairs()
                    .iter()
                    .map(|(k, v)| {
                        let t = v.as_uuid().and_then(|u| perm_table.get(&u).cloned());
                        (text(k), t.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        put(
            "RBAC_Role",
            format!("name={} permissions={perms:?}", scalar(r, "name")),
        );
    }
    for r in table("DNS").values() {
        let mut dps: Vec<String> = get(r, "datapaths").iter().map(|a| names.dp(a)).collect();
        dps.sort();
        put(
            "DNS",
            format!(
                "datapaths={dps:?} records={:?} external_ids={:?}",
                smap(r, "records"),
                smap(r, "external_ids")
            ),
        );
    }
    for g in names.groups.values() {
        put("Logical_DP_Group", format!("{g:?}"));
    }
    for r in table("Logical_Flow").values() {
        let mut external_ids = smap(r, "external_ids");
        // A datapath-level flow shared by several datapaths keeps the hint
        // of the datapath northd met first, and keeps it while the row
        // lives: for datapaths already in the SB that depends on the SB's
        // random row UUIDs and on the history (KNOWN_DIFFERENCES.md). Such
        // a hint is written as "one of the group's own datapaths".
        if let Some(g) = get(r, "logical_dp_group").first().and_then(Atom::as_uuid) {
            let own = names.group_hints.get(&g);
            if let Some(h) = external_ids.get_mut("stage-hint") {
                if own.is_some_and(|own| own.contains(h.as_str())) {
                    *h = "<a datapath of the group>".into();
                }
            }
        }
        let on = match (
            get(r, "logical_datapath").first(),
            get(r, "logical_dp_group").first(),
        ) {
            (Some(dp), _) => format!("dp={}", names.dp(dp)),
            (None, Some(g)) => {
                format!("group={:?}", g.as_uuid().and_then(|u| names.groups.get(&u)))
            }
            (None, None) => "nowhere".into(),
        };
        put(
            "Logical_Flow",
            format!(
                "{on} {} table={} priority={} match=({}) actions=({}) external_ids={:?} tags={:?} meter={}",
                scalar(r, "pipeline"),
                scalar(r, "table_id"),
                scalar(r, "priority"),
                scalar(r, "match"),
                scalar(r, "actions"),
                external_ids,
                smap(r, "tags"),
                scalar(r, "controller_meter"),
            ),
        );
    }
    for (name, rows) in t {
        if DEDICATED.contains(&name.as_str()) || RUNTIME_TABLES.contains(&name.as_str()) {
            continue;
        }
        for r in rows.values() {
            if name == "BFD" {
                // `disc` is drawn at random by northd (`1 + random_uint32()`).
                let mut r = r.clone();
                r.remove("disc");
                put(name, generic(&r, &names));
            } else {
                put(name, generic(r, &names));
            }
        }
    }
    out
}

/// Every column of a row, references by name, sets sorted.
fn generic(r: &Row, names: &Names) -> String {
    let cols: Vec<String> = r
        .iter()
        .filter(|(_, d)| !d.is_empty())
        .map(|(c, d)| {
            if d.is_map() {
                let m: BTreeMap<String, String> = d
                    .pairs()
                    .iter()
                    .map(|(k, v)| (names.any(k), names.any(v)))
                    .collect();
                format!("{c}={m:?}")
            } else {
                let mut v: Vec<String> = d.atoms().iter().map(|a| names.any(a)).collect();
                v.sort();
                format!("{c}={}", v.join(","))
            }
        })
        .collect();
    cols.join(" ")
}

/// The canonical rows as text: one `TABLE<TAB>TEXT` line each, sorted.
pub fn to_text(rows: &Canon) -> String {
    rows.iter().map(|(t, r)| format!("{t}\t{r}\n")).collect()
}

/// Reads the text of [`to_text`] back.
pub fn from_text(text: &str) -> Result<Canon, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| {
            l.split_once('\t')
                .map(|(t, r)| (t.to_string(), r.to_string()))
                .ok_or_else(|| format!("line {}: no TAB after the table name", n + 1))
        })
        .collect()
}

/// The comparison section of a canonical row: its table, and for a logical
/// flow its table and stage (`Logical_Flow ls_in_acl`).
pub fn section(row: &(String, String)) -> String {
    if row.0 != "Logical_Flow" {
        return row.0.clone();
    }
    let key = "\"stage-name\": \"";
    let stage = row
        .1
        .find(key)
        .map(|i| &row.1[i + key.len()..])
        .and_then(|s| s.split('"').next())
        .unwrap_or("?");
    format!("Logical_Flow {stage}")
}

/// `ovn-sbctl lflow-list` text with the datapath UUIDs of its
/// `Datapath: NAME (UUID)  Pipeline: …` headers blanked.
pub fn blank_lflow_list_uuids(text: &str) -> String {
    text.lines()
        .map(|l| {
            match (
                l.starts_with("Datapath:"),
                l.find(" ("),
                l.find(")  Pipeline"),
            ) {
                (true, Some(a), Some(b)) if a < b => format!("{} (<uuid>{}", &l[..a], &l[b..]),
                _ => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump() -> String {
        [
            r#"{"caption":"Datapath_Binding table","data":[[["uuid","00000000-0000-0000-0000-0000000000d1"],0,["map",[["name","sw0"],["logical-switch","x"]]],5]],"headings":["_uuid","_version","external_ids","tunnel_key"]}"#,
            r#"{"caption":"Logical_DP_Group table","data":[[["uuid","00000000-0000-0000-0000-0000000000a1"],["set",[["uuid","00000000-0000-0000-0000-0000000000d1"]]]]],"headings":["_uuid","datapaths"]}"#,
            r#"{"caption":"Logical_Flow table","data":[[["uuid","00000000-0000-0000-0000-0000000000f1"],"next;",["map",[["stage-name","ls_in_acl"]]],["set",[]],["uuid","00000000-0000-0000-0000-0000000000a1"],"1","ingress",1,0]],"headings":["_uuid","actions","external_ids","logical_datapath","logical_dp_group","match","pipeline","priority","table_id"]}"#,
            r#"{"caption":"Load_Balancer table","data":[[["uuid","00000000-0000-0000-0000-0000000000b1"],["uuid","00000000-0000-0000-0000-0000000000a1"],"lb0"]],"headings":["_uuid","datapath_group","name"]}"#,
            r#"{"caption":"Chassis table","data":[[["uuid","00000000-0000-0000-0000-0000000000c1"],"hv1"]],"headings":["_uuid","name"]}"#,
        ]
        .join("\n")
    }

    #[test]
    fn uuids_become_names_and_groups_expand() {
        let c = canonical(&parse_dump(&dump()).unwrap());
        let text = to_text(&c);
        assert!(text.contains(
            "Datapath_Binding\t{\"logical-switch\": \"<nb>\", \"name\": \"sw0\"} key=5\n"
        ));
        assert!(text.contains("Logical_Flow\tgroup=Some([\"sw0\"]) ingress table=0 priority=1"));
        assert!(text.contains("Load_Balancer\tdatapath_group=group:[\"sw0\"] name=lb0\n"));
        assert!(!text.contains("hv1"), "runtime tables are left out");
        assert!(!text.contains("0000-0000"), "no UUID survives: {text}");
        assert_eq!(from_text(&text).unwrap(), c);
    }

    /// A flow on the group of two switches with `hint` as its stage-hint.
    fn shared_flow(hint: &str) -> Canon {
        let dump = [
            r#"{"caption":"Datapath_Binding table","data":[[["uuid","00000000-0000-0000-0000-0000000000d1"],["map",[["name","sw0"],["logical-switch","f18d31a5-0000-4000-8000-000000000001"]]],5],[["uuid","00000000-0000-0000-0000-0000000000d2"],["map",[["name","sw1"],["logical-switch","e841b51d-0000-4000-8000-000000000002"]]],6]],"headings":["_uuid","external_ids","tunnel_key"]}"#.to_string(),
            r#"{"caption":"Logical_DP_Group table","data":[[["uuid","00000000-0000-0000-0000-0000000000a1"],["set",[["uuid","00000000-0000-0000-0000-0000000000d1"],["uuid","00000000-0000-0000-0000-0000000000d2"]]]]],"headings":["_uuid","datapaths"]}"#.to_string(),
            format!(r#"{{"caption":"Logical_Flow table","data":[[["uuid","00000000-0000-0000-0000-0000000000f1"],"next;",["map",[["stage-hint","{hint}"],["stage-name","ls_in_pre_hairpin"]]],["set",[]],["uuid","00000000-0000-0000-0000-0000000000a1"],"ip && ct.trk","ingress",100,14]],"headings":["_uuid","actions","external_ids","logical_datapath","logical_dp_group","match","pipeline","priority","table_id"]}}"#),
        ]
        .join("\n");
        canonical(&parse_dump(&dump).unwrap())
    }

    #[test]
    fn shared_flows_hint_at_any_of_their_own_datapaths() {
        // Either switch's own hint: the same canonical row.
        assert_eq!(shared_flow("f18d31a5"), shared_flow("e841b51d"));
        // A hint naming another row is compared as it is.
        assert_ne!(shared_flow("f18d31a5"), shared_flow("12345678"));
        assert!(to_text(&shared_flow("12345678")).contains("12345678"));
    }

    #[test]
    fn sections_split_logical_flows_by_stage() {
        let c = canonical(&parse_dump(&dump()).unwrap());
        let s: BTreeSet<String> = c.iter().map(section).collect();
        assert!(s.contains("Logical_Flow ls_in_acl"));
        assert!(s.contains("Load_Balancer"));
    }

    #[test]
    fn lflow_list_headers_lose_their_uuids() {
        let t = "Datapath: sw0 (0b1c-22)  Pipeline: ingress\n  table=0 (x), priority=1, match=(1), action=(next;)";
        assert_eq!(
            blank_lflow_list_uuids(t),
            "Datapath: sw0 (<uuid>)  Pipeline: ingress\n  table=0 (x), priority=1, match=(1), action=(next;)"
        );
    }

    #[test]
    fn bad_dump_is_an_error_naming_the_line() {
        let e = parse_dump("{\"caption\":\"X table\"}\nnot json").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }
}
