//! What northd writes back to the Northbound database:
//! - `NB_Global.options` (`ovnnb_db_run()`): `mac_prefix` (random when
//!   missing or invalid), `svc_monitor_mac` (random when missing or
//!   invalid), `max_tunid`, `northd_internal_version`;
//! - `NB_Global.sb_cfg`/`sb_cfg_timestamp` once the SB holds `nb_cfg`,
//!   `nb_cfg_timestamp` when it is copied, and `hv_cfg`/`hv_cfg_timestamp`,
//!   the least `Chassis_Private.nb_cfg` of non-remote chassis
//!   (`update_sequence_numbers()` in ovn-northd.c);
//! - `Logical_Switch_Port.up` from the SB `Port_Binding`
//!   (`handle_port_binding_changes()`);
//! - `BFD.status` (`build_bfd_table()`, `parsed_routes_add()`,
//!   `bfd_cleanup_connections()`), as the compiler computes it
//!   ([`Cycle::bfd`]).
//!
//! Only those columns are written, each only when it differs.

use std::collections::{BTreeMap, HashMap, HashSet};

use ovnflow_compiler::rules::global::{MAX_TUNID, NORTHD_INTERNAL_VERSION};
use ovsdb::rawjson::RawOps;
use ovsdb::{Atom, Datum, Row, RowChange, Uuid};
use serde_json::json;

use crate::mirror::Mirror;
use crate::reconcile::Plan;

/// Parses `xx:xx:xx:xx:xx:xx`.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        mac[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

/// `eth_addr_random()`: a random unicast, locally administered address.
fn random_mac() -> [u8; 6] {
    let b = *uuid::Uuid::new_v4().as_bytes();
    let mut mac = [b[0], b[1], b[2], b[3], b[4], b[5]];
    mac[0] &= !0x01;
    mac[0] |= 0x02;
    mac
}

fn mac_text(m: &[u8]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `set_mac_prefix()`: the first three octets of `given` (scanned as
/// `%x:%x:%x`), unless all zero.
fn valid_prefix(given: &str) -> Option<String> {
    let parts: Vec<&str> = given.split(':').take(3).collect();
    if parts.len() < 3 {
        return None;
    }
    let mut v = [0u8; 3];
    for (i, p) in parts.iter().enumerate() {
        let digits: String = p.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        if digits.is_empty() {
            return None;
        }
        v[i] = u8::from_str_radix(&digits[digits.len().saturating_sub(2)..], 16).ok()?;
    }
    (v != [0, 0, 0]).then(|| mac_text(&v))
}

fn col<'a>(row: &'a Row, c: &str) -> Option<&'a Datum> {
    row.get(c)
}

fn int(row: &Row, c: &str) -> i64 {
    col(row, c).and_then(|d| d.as_i64()).unwrap_or(0)
}

/// State kept across iterations: the random values picked (so that they
/// are picked once), the cells written and not yet seen back, and which
/// ports' `up` may have changed since the last plan.
#[derive(Debug, Default)]
pub struct Feedback {
    mac_prefix: Option<String>,
    svc_monitor_mac: Option<String>,
    written: HashMap<(&'static str, Uuid, &'static str), Datum>,
    /// Names of the ports whose `up` may have changed since the last plan
    /// (from the row changes seen by [`Feedback::observe`]); `None`: every
    /// port is looked at (start, reconnection, chassis changes).
    dirty: Option<HashSet<String>>,
    /// NB `Logical_Switch_Port` rows by name.
    lsps: HashMap<String, Rows>,
    /// SB `Port_Binding` rows by `logical_port`.
    bindings: HashMap<String, Rows>,
}

/// The string in `column` of `row`.
fn name_of<'a>(row: &'a Row, column: &str) -> Option<&'a str> {
    col(row, column).and_then(|d| d.as_str())
}

/// The rows holding one name, in UUID order (nearly always one: a
/// vector, not a tree node per name).
#[derive(Debug, Default)]
struct Rows(Vec<Uuid>);

impl Rows {
    fn insert(&mut self, u: Uuid) {
        if let Err(i) = self.0.binary_search(&u) {
            self.0.insert(i, u);
        }
    }

    fn remove(&mut self, u: &Uuid) {
        if let Ok(i) = self.0.binary_search(u) {
            self.0.remove(i);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn last(&self) -> Option<&Uuid> {
        self.0.last()
    }
}

/// Keeps `index` (name → rows) up to date with one row change.
fn reindex(index: &mut HashMap<String, Rows>, column: &str, change: &RowChange) {
    let (uuid, old, new) = match change {
        RowChange::Insert { uuid, new, .. } => (uuid, None, Some(new)),
        RowChange::Modify { uuid, old, new, .. } => (uuid, Some(old), Some(new)),
        RowChange::Delete { uuid, old, .. } => (uuid, Some(old), None),
    };
    if let Some(name) = old.and_then(|r| name_of(r, column)) {
        if let Some(set) = index.get_mut(name) {
            set.remove(uuid);
            if set.is_empty() {
                index.remove(name);
            }
        }
    }
    if let Some(name) = new.and_then(|r| name_of(r, column)) {
        index.entry(name.to_string()).or_default().insert(*uuid);
    }
}

/// Inputs of one iteration besides the databases.
#[derive(Clone, Debug, Default)]
pub struct Cycle {
    /// The NB `BFD` status northd leaves per session `(logical_port,
    /// dst_ip)` (the compiler's `sb::Bfd::nb_status`).
    pub bfd: BTreeMap<(String, String), String>,
    /// `nb_cfg` the SB is known to hold (northd's `cur_cfg`), if any.
    pub sb_cfg: Option<i64>,
    /// The SB transaction of this iteration copied a new `nb_cfg`.
    pub copied_nb_cfg: bool,
    /// Wall-clock time of the iteration start (ms).
    pub now_ms: i64,
}

/// Cells to write: (table, uuid) → column → value.
type Cells = BTreeMap<(&'static str, Uuid), BTreeMap<&'static str, Datum>>;

impl Feedback {
    /// Records `desired` for a cell unless the NB holds it or it was
    /// already written and is not back yet.
    fn want(
        &mut self,
        cells: &mut Cells,
        table: &'static str,
        uuid: Uuid,
        column: &'static str,
        current: Option<&Datum>,
        desired: Datum,
    ) {
        let key = (table, uuid, column);
        // Rows of the daemon's replicas leave out empty columns
        // ([`ovsdb::replica::Replica::omit_empty`]): missing is empty.
        if current.map_or(desired.is_empty(), |c| c.same_value(&desired)) {
            self.written.remove(&key);
            return;
        }
        if self.written.get(&key) == Some(&desired) {
            return;
        }
        self.written.insert(key, desired.clone());
        cells
            .entry((table, uuid))
            .or_default()
            .insert(column, desired);
    }

    /// Takes note of row changes applied to the NB (`nb == true`) or SB
    /// mirror: the ports they touch are looked at by the next plan.
    pub fn observe(&mut self, nb: bool, changes: &[RowChange]) {
        for ch in changes {
            // While a full scan is pending, the scan rebuilds the indexes
            // from the mirrors: nothing to keep up to date until then.
            let Some(dirty) = self.dirty.as_mut() else {
                return;
            };
            let column = match (nb, ch.table()) {
                (true, "Logical_Switch_Port") => "name",
                (false, "Port_Binding") => "logical_port",
                // `port-up-notif` decides for every port of the chassis.
                (false, "Chassis") => {
                    self.dirty = None;
                    return;
                }
                _ => continue,
            };
            let old = match ch {
                RowChange::Modify { old, .. } | RowChange::Delete { old, .. } => Some(old),
                RowChange::Insert { .. } => None,
            };
            for row in [old, ch.new_row()].into_iter().flatten() {
                if let Some(name) = name_of(row, column) {
                    dirty.insert(name.to_string());
                }
            }
            let index = if nb {
                &mut self.lsps
            } else {
                &mut self.bindings
            };
            reindex(index, column, ch);
        }
    }

    /// Makes the next plan look at every port (after a mirror was replaced
    /// wholesale).
    pub fn rescan(&mut self) {
        self.dirty = None;
    }

    /// The `NB_Global.options` northd wants, from the current ones.
    fn options(&mut self, current: Option<&Datum>) -> Datum {
        let mut opts: BTreeMap<String, String> = current
            .map(|d| {
                d.pairs()
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let prefix = match opts.get("mac_prefix").and_then(|p| valid_prefix(p)) {
            Some(p) => p,
            None => self
                .mac_prefix
                .get_or_insert_with(|| mac_text(&random_mac()[..3]))
                .clone(),
        };
        opts.insert("mac_prefix".into(), prefix);
        if opts
            .get("svc_monitor_mac")
            .and_then(|m| parse_mac(m))
            .is_none()
        {
            let mac = self
                .svc_monitor_mac
                .get_or_insert_with(|| mac_text(&random_mac()))
                .clone();
            opts.insert("svc_monitor_mac".into(), mac);
        }
        opts.insert("max_tunid".into(), MAX_TUNID.to_string());
        opts.insert(
            "northd_internal_version".into(),
            NORTHD_INTERNAL_VERSION.into(),
        );
        Datum::string_map(opts)
    }

    /// The NB operations of one iteration (empty when the NB is up to date).
    ///
    /// The operations are written as JSON text straight away: after a full
    /// compute they set `up` on every port (10,000 on the k8s 100×100
    /// benchmark), and as JSON values they were the daemon's largest
    /// allocation besides the compiler and the replicas, at its peak.
    pub fn plan(&mut self, nb: &Mirror, sb: &Mirror, cycle: Cycle) -> RawOps {
        let mut cells = Cells::new();
        let mut plan = Plan::default();
        match nb.table("NB_Global").iter().next() {
            None => {
                // northd creates the row (`nbrec_nb_global_insert()`).
                let options = self.options(None);
                plan.ops.push(&json!({"op": "insert", "table": "NB_Global",
                    "row": {"options": options.to_json()}}));
            }
            Some((uuid, g)) => self.global(&mut cells, *uuid, g, sb, &cycle),
        }
        self.ports_up(&mut cells, nb, sb);
        self.bfd_status(&mut cells, nb, &cycle);
        for ((table, uuid), row) in cells {
            plan.update(table, uuid, row.into_iter().collect(), |out, d| {
                d.write_json(out)
            });
        }
        plan.ops
    }

    /// `BFD.status` of every NB session the compiler has an SB row for.
    fn bfd_status(&mut self, cells: &mut Cells, nb: &Mirror, cycle: &Cycle) {
        for (uuid, row) in nb.table("BFD") {
            let key = |c: &str| {
                col(row, c)
                    .and_then(|d| d.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let Some(status) = cycle.bfd.get(&(key("logical_port"), key("dst_ip"))) else {
                continue;
            };
            let desired = Datum::set([Atom::from(status.as_str())]);
            self.want(cells, "BFD", *uuid, "status", col(row, "status"), desired);
        }
    }

    fn global(&mut self, cells: &mut Cells, uuid: Uuid, g: &Row, sb: &Mirror, cycle: &Cycle) {
        let t = "NB_Global";
        let options = self.options(col(g, "options"));
        self.want(cells, t, uuid, "options", col(g, "options"), options);
        let nb_cfg = int(g, "nb_cfg");
        if cycle.copied_nb_cfg {
            cells
                .entry((t, uuid))
                .or_default()
                .insert("nb_cfg_timestamp", Datum::scalar(cycle.now_ms));
        }
        if let Some(cfg) = cycle.sb_cfg.filter(|c| *c != 0) {
            if int(g, "sb_cfg") != cfg
                && self.written.get(&(t, uuid, "sb_cfg")) != Some(&Datum::scalar(cfg))
            {
                self.want(
                    cells,
                    t,
                    uuid,
                    "sb_cfg",
                    col(g, "sb_cfg"),
                    Datum::scalar(cfg),
                );
                cells
                    .entry((t, uuid))
                    .or_default()
                    .insert("sb_cfg_timestamp", Datum::scalar(cycle.now_ms));
            }
        }
        // hv_cfg: the least nb_cfg among chassis, remote ones skipped.
        let mut hv_cfg = nb_cfg;
        let mut hv_ts = 0i64;
        for cp in sb.table("Chassis_Private").values() {
            let remote = col(cp, "chassis")
                .and_then(|d| d.as_uuid())
                .and_then(|c| sb.get("Chassis", &c))
                .and_then(|ch| {
                    col(ch, "other_config")
                        .and_then(|o| o.get_str("is-remote"))
                        .map(|v| v == "true")
                })
                .unwrap_or(false);
            if remote {
                continue;
            }
            let (cfg, ts) = (int(cp, "nb_cfg"), int(cp, "nb_cfg_timestamp"));
            let delta = cfg.wrapping_sub(hv_cfg);
            if cfg < hv_cfg || delta > i64::from(i32::MAX) {
                hv_cfg = cfg;
                hv_ts = ts;
            } else if cfg == hv_cfg && ts > hv_ts {
                hv_ts = ts;
            }
        }
        if int(g, "hv_cfg") != hv_cfg {
            self.want(
                cells,
                t,
                uuid,
                "hv_cfg",
                col(g, "hv_cfg"),
                Datum::scalar(hv_cfg),
            );
            cells
                .entry((t, uuid))
                .or_default()
                .insert("hv_cfg_timestamp", Datum::scalar(hv_ts));
        }
    }

    /// `Logical_Switch_Port.up`: router ports are up; others when bound to
    /// a chassis, and, if that chassis reports port-up notifications
    /// (`other_config:port-up-notif`), once ovn-controller set
    /// `Port_Binding.up`.
    ///
    /// Only the ports named in row changes since the last plan are looked
    /// at, or all of them after [`Feedback::rescan`] (the indexes are then
    /// rebuilt from the mirrors).
    fn ports_up(&mut self, cells: &mut Cells, nb: &Mirror, sb: &Mirror) {
        let names: Vec<String> = match self.dirty.replace(HashSet::new()) {
            Some(dirty) => dirty.into_iter().collect(),
            None => {
                self.lsps.clear();
                self.bindings.clear();
                for (table, column, index, m) in [
                    ("Logical_Switch_Port", "name", &mut self.lsps, nb),
                    ("Port_Binding", "logical_port", &mut self.bindings, sb),
                ] {
                    for (u, r) in m.table(table) {
                        if let Some(n) = name_of(r, column) {
                            index.entry(n.to_string()).or_default().insert(*u);
                        }
                    }
                }
                self.bindings.keys().cloned().collect()
            }
        };
        for name in names {
            // A name held by several ports: the last in UUID order, as a
            // map filled in table order keeps.
            let lsp = self.lsps.get(&name).and_then(|s| s.last());
            let pb = self.bindings.get(&name).and_then(|s| s.last());
            let (Some(lsp_uuid), Some(pb_uuid)) = (lsp, pb) else {
                continue;
            };
            let (Some(lsp), Some(pb)) = (
                nb.get("Logical_Switch_Port", lsp_uuid),
                sb.get("Port_Binding", pb_uuid),
            ) else {
                continue;
            };
            let lsp_uuid = *lsp_uuid;
            let router = col(lsp, "type").and_then(|d| d.as_str()) == Some("router");
            let up = if router {
                true
            } else if let Some(ch) = col(pb, "chassis").and_then(|d| d.as_uuid()) {
                let notif = sb
                    .get("Chassis", &ch)
                    .and_then(|c| col(c, "other_config"))
                    .and_then(|o| o.get_str("port-up-notif"))
                    == Some("true");
                if notif {
                    col(pb, "up").and_then(|d| d.as_bool()).unwrap_or(false)
                } else {
                    true
                }
            } else {
                false
            };
            let desired = Datum::set([Atom::Boolean(up)]);
            self.want(
                cells,
                "Logical_Switch_Port",
                lsp_uuid,
                "up",
                col(lsp, "up"),
                desired,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::RowChange;
    use serde_json::Value;
    use std::sync::Arc;

    fn mirror(rows: Vec<(&str, Uuid, Row)>) -> Mirror {
        let mut m = Mirror::default();
        let ch: Vec<RowChange> = rows
            .into_iter()
            .map(|(t, u, r)| RowChange::Insert {
                table: t.to_string(),
                uuid: u,
                new: Arc::new(r),
            })
            .collect();
        m.apply(&ch);
        m
    }

    #[test]
    fn prefixes_are_normalized_and_invalid_ones_replaced() {
        assert_eq!(valid_prefix("0a:0:00").as_deref(), Some("0a:00:00"));
        assert_eq!(valid_prefix("00:00:00"), None);
        assert_eq!(valid_prefix("zz"), None);
        let m = random_mac();
        assert_eq!(m[0] & 0x03, 0x02);
    }

    #[test]
    fn sb_cfg_and_ports_are_reported_once() {
        let g = Uuid::from_u128(1);
        let lsp = Uuid::from_u128(2);
        let ch = Uuid::from_u128(3);
        let nb = mirror(vec![
            (
                "NB_Global",
                g,
                Row::from([
                    ("nb_cfg".to_string(), Datum::scalar(3i64)),
                    (
                        "options".to_string(),
                        Datum::string_map([
                            ("mac_prefix", "0a:00:00"),
                            ("svc_monitor_mac", "0a:00:00:00:00:fe"),
                            ("max_tunid", "16711680"),
                            ("northd_internal_version", NORTHD_INTERNAL_VERSION),
                        ]),
                    ),
                    ("hv_cfg".to_string(), Datum::scalar(3i64)),
                ]),
            ),
            (
                "Logical_Switch_Port",
                lsp,
                Row::from([("name".to_string(), Datum::scalar("p1"))]),
            ),
        ]);
        let sb = mirror(vec![
            (
                "Port_Binding",
                Uuid::from_u128(9),
                Row::from([
                    ("logical_port".to_string(), Datum::scalar("p1")),
                    ("chassis".to_string(), Datum::scalar(ch)),
                ]),
            ),
            ("Chassis", ch, Row::new()),
        ]);
        let mut f = Feedback::default();
        let cycle = Cycle {
            sb_cfg: Some(3),
            copied_nb_cfg: false,
            now_ms: 42,
            bfd: BTreeMap::new(),
        };
        let ops = f.plan(&nb, &sb, cycle.clone()).to_values();
        assert_eq!(ops.len(), 2, "{ops:?}");
        let of = |t: &str| ops.iter().find(|o| o["table"] == t).unwrap();
        assert_eq!(of("NB_Global")["row"]["sb_cfg"], json!(3));
        assert_eq!(of("NB_Global")["row"]["sb_cfg_timestamp"], json!(42));
        assert_eq!(of("Logical_Switch_Port")["row"]["up"], json!(true));
        // Not seen back yet: not written again.
        assert!(f.plan(&nb, &sb, cycle).is_empty());
    }

    /// After the first (full) plan only observed ports are looked at, and
    /// what that finds equals a full scan of the same mirrors.
    #[test]
    fn observed_changes_give_what_a_full_scan_gives() {
        let ch = Uuid::from_u128(3);
        let lsp_row = |name: &str, up: bool| {
            Arc::new(Row::from([
                ("name".to_string(), Datum::scalar(name)),
                ("up".to_string(), Datum::set([Atom::Boolean(up)])),
            ]))
        };
        let pb_row = |name: &str, bound: bool| {
            let mut r = Row::from([("logical_port".to_string(), Datum::scalar(name))]);
            if bound {
                r.insert("chassis".to_string(), Datum::scalar(ch));
            }
            Arc::new(r)
        };
        let mut nb = Mirror::default();
        let mut sb = Mirror::default();
        let mut f = Feedback::default();
        let mut nb_changes = Vec::new();
        let mut sb_changes = vec![RowChange::Insert {
            table: "Chassis".into(),
            uuid: ch,
            new: Arc::new(Row::new()),
        }];
        for i in 0..4u128 {
            nb_changes.push(RowChange::Insert {
                table: "Logical_Switch_Port".into(),
                uuid: Uuid::from_u128(100 + i),
                new: lsp_row(&format!("p{i}"), true),
            });
            sb_changes.push(RowChange::Insert {
                table: "Port_Binding".into(),
                uuid: Uuid::from_u128(200 + i),
                new: pb_row(&format!("p{i}"), true),
            });
        }
        for (m, is_nb, ch) in [(&mut nb, true, &nb_changes), (&mut sb, false, &sb_changes)] {
            m.apply(ch);
            f.observe(is_nb, ch);
        }
        let cycle = Cycle::default();
        let ports = |ops: RawOps| -> Vec<Value> {
            ops.to_values()
                .into_iter()
                .filter(|o| o["table"] == "Logical_Switch_Port")
                .collect()
        };
        assert!(ports(f.plan(&nb, &sb, cycle.clone())).is_empty());
        // p2 loses its chassis.
        let unbind = vec![RowChange::Modify {
            table: "Port_Binding".into(),
            uuid: Uuid::from_u128(202),
            old: pb_row("p2", true),
            new: pb_row("p2", false),
        }];
        sb.apply(&unbind);
        f.observe(false, &unbind);
        let incremental = ports(f.plan(&nb, &sb, cycle.clone()));
        assert_eq!(incremental.len(), 1, "{incremental:?}");
        assert_eq!(incremental[0]["row"]["up"], json!(false));
        assert_eq!(
            ports(Feedback::default().plan(&nb, &sb, cycle.clone())),
            incremental
        );
        // Nothing observed since: nothing looked at, nothing written again.
        assert!(ports(f.plan(&nb, &sb, cycle)).is_empty());
    }
}
