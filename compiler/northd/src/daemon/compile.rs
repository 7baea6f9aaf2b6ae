//! Feeding the compiler: NB changes and the SB columns northd reads back,
//! the `nb_cfg` it wants copied, and (re)building it from the whole NB
//! with the tunnel keys the SB already holds, so that rows another northd
//! wrote keep their keys.

use std::collections::BTreeMap;
use std::time::Instant;

use ovnflow_compiler::{Compiler, Options};
use ovsdb::{Row, RowChange, Uuid};

use super::Daemon;
use crate::mirror::Mirror;

/// Tunnel keys: `(datapath owner, key)`, `(datapath owner, port owner,
/// key)` and learned multicast groups' `(datapath owner, name, key)`.
type Keys = (
    Vec<(Uuid, u32)>,
    Vec<(Uuid, Uuid, u32)>,
    Vec<(Uuid, String, u32)>,
);

/// `SB_Global.nb_cfg` as the compiler wants it.
fn wanted_cfg(c: &Compiler) -> Option<i64> {
    c.sb_table("SB_Global").find_map(|r| match r {
        ovnflow_compiler::SbRecord::SbGlobal(g) => Some(g.nb_cfg),
        _ => None,
    })
}

/// The tunnel keys the SB holds, by NB owner: datapaths by
/// `external_ids:logical-switch`/`logical-router`, ports by name through
/// the NB (for [`Compiler::adopt_keys`]).
pub(super) fn sb_keys(nb: &Mirror, sb: &Mirror) -> Keys {
    let key = |r: &Row| {
        r.get("tunnel_key")
            .and_then(|d| d.as_i64())
            .and_then(|k| u32::try_from(k).ok())
    };
    let mut dp_owner: BTreeMap<Uuid, Uuid> = BTreeMap::new();
    let mut dps = Vec::new();
    for (u, r) in sb.table("Datapath_Binding") {
        let ids = r.get("external_ids");
        let owner = ids
            .and_then(|d| {
                d.get_str("logical-switch")
                    .or_else(|| d.get_str("logical-router"))
            })
            .and_then(|s| Uuid::parse_str(s).ok());
        if let (Some(o), Some(k)) = (owner, key(r)) {
            dp_owner.insert(*u, o);
            dps.push((o, k));
        }
    }
    let mut port_owner: BTreeMap<&str, Uuid> = BTreeMap::new();
    for t in ["Logical_Switch_Port", "Logical_Router_Port"] {
        for (u, r) in nb.table(t) {
            if let Some(n) = r.get("name").and_then(|d| d.as_str()) {
                port_owner.insert(n, *u);
            }
        }
    }
    let mut ports = Vec::new();
    for r in sb.table("Port_Binding").values() {
        let dp = r
            .get("datapath")
            .and_then(|d| d.as_uuid())
            .and_then(|d| dp_owner.get(&d));
        let port = r
            .get("logical_port")
            .and_then(|d| d.as_str())
            .and_then(|n| port_owner.get(n));
        if let (Some(dp), Some(p), Some(k)) = (dp, port, key(r)) {
            ports.push((*dp, *p, k));
        }
    }
    let mut groups = Vec::new();
    for r in sb.table("Multicast_Group").values() {
        let dp = r
            .get("datapath")
            .and_then(|d| d.as_uuid())
            .and_then(|d| dp_owner.get(&d));
        let name = r.get("name").and_then(|d| d.as_str());
        match (dp, name, key(r)) {
            (Some(dp), Some(n), Some(k)) if k >= ovnflow_compiler::rules::igmp::GROUP_KEY_MIN => {
                groups.push((*dp, n.to_string(), k));
            }
            _ => {}
        }
    }
    (dps, ports, groups)
}

impl Daemon {
    /// Follows `SB_Global.nb_cfg` as the compiler wants it (the NB's
    /// `nb_cfg`, which northd copies).
    fn note_cfg(&mut self) {
        self.target_cfg = self.compiler.as_ref().and_then(wanted_cfg);
    }

    pub(super) fn compile(&mut self, changes: Vec<RowChange>) {
        if changes.is_empty() {
            return;
        }
        let Some(c) = self.compiler.as_mut() else {
            return;
        };
        if self.rebuild {
            return;
        }
        let t = Instant::now();
        match c.apply_touched(changes) {
            Ok(touched) => {
                let elapsed = t.elapsed();
                self.stats(|s| {
                    s.time("compile", elapsed);
                    s.add("nb_change_sets", 1);
                });
                // The NB BFD status northd writes back follows the
                // compiler's BFD rows (which may change no SB column).
                self.feedback_due |= touched.iter().any(|((table, _), _)| *table == "BFD");
                self.pending.add_touched(touched, t);
                self.note_cfg();
            }
            Err(e) => {
                tracing::error!("Northbound database cannot be compiled: {e}");
                self.stats(|s| s.add("nb_compile_errors", 1));
                self.rebuild = true;
            }
        }
    }

    /// Feeds SB changes to the compiler: the columns northd reads back
    /// from the SB (`ovnflow_compiler::sb_input`; nothing for our own rows).
    pub(super) fn compile_sb(&mut self, changes: &[RowChange]) {
        let Some(c) = self.compiler.as_mut() else {
            return;
        };
        if self.rebuild {
            return;
        }
        let t = Instant::now();
        let delta = c.apply_sb(changes);
        if delta.is_empty() {
            return;
        }
        let elapsed = t.elapsed();
        self.stats(|s| {
            s.time("compile", elapsed);
            s.add("sb_input_change_sets", 1);
        });
        self.feedback_due |= delta.changes.iter().any(|c| c.table() == "BFD");
        self.pending.add_rows(delta.changes, t);
        self.note_cfg();
    }

    /// (Re)builds the compiler from the whole NB, with the SB's tunnel keys.
    pub(super) fn build_compiler(&mut self) {
        let t = Instant::now();
        let mut c = match Compiler::new(Options {
            workers: self.n_threads,
        }) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot start the compiler: {e}");
                return;
            }
        };
        let (dps, ports, groups) = sb_keys(&self.nb, &self.sb);
        c.adopt_keys(dps, ports, groups);
        c.apply_sb(&self.sb.to_changes());
        match c.load(self.nb.to_changes()) {
            Ok(()) => {
                self.target_cfg = wanted_cfg(&c);
                self.rebuild = false;
                self.compiler = Some(c);
                let elapsed = t.elapsed();
                self.stats(|s| {
                    s.time("full_compile", elapsed);
                    s.add("recompute", 1);
                });
                tracing::info!(
                    "compiled the Northbound database from scratch in {:.1} ms",
                    elapsed.as_secs_f64() * 1000.0
                );
            }
            Err(e) => {
                tracing::error!("Northbound database cannot be compiled: {e}");
                self.compiler = None;
                self.rebuild = true;
            }
        }
        self.pending.clear();
        self.need_full = true;
    }
}
