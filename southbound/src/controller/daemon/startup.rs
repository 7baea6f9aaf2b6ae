//! The start-up timeline (issue 9): from `run` to the first `nb_cfg`
//! acknowledgement, each step is logged once with the time since start,
//! so that waiting (for the switch, the databases) and working can be
//! told apart in the log.

use std::collections::BTreeMap;
use std::time::Instant;

use ovsdb::client::{Connection, Options};
use ovsdb::remote::Remote;
use serde_json::{json, Value};

/// Milestones of the start, logged until the first acknowledgement.
#[derive(Debug)]
pub(super) struct Startup {
    t0: Instant,
    done: bool,
}

impl Startup {
    /// The timeline of a start beginning now.
    pub(super) fn new() -> Startup {
        Startup {
            t0: Instant::now(),
            done: false,
        }
    }

    /// Whether the start is over (the first acknowledgement was written).
    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    /// Logs `what` with the time since start, while starting.
    pub(super) fn mark(&self, what: impl FnOnce() -> String) {
        if !self.done {
            tracing::info!(
                "startup +{:.1} ms: {}",
                self.t0.elapsed().as_secs_f64() * 1000.0,
                what()
            );
        }
    }

    /// Logs `what` and ends the timeline.
    pub(super) fn finish(&mut self, what: impl FnOnce() -> String) {
        self.mark(what);
        self.done = true;
    }
}

/// `Open_vSwitch:external_ids`, read with one `select` on a connection of
/// its own (closed after): what the Southbound connection needs, before
/// the monitor of the local database is set up.  `None` if that fails
/// (the settings then come from the monitor, as they do anyway).
pub(super) async fn external_ids(remotes: &[Remote]) -> Option<BTreeMap<String, String>> {
    let (conn, _notes) = Connection::connect(remotes.first()?, &Options::default())
        .await
        .ok()?;
    let select = json!({"op": "select", "table": "Open_vSwitch", "where": [],
        "columns": ["external_ids"]});
    let results = conn.transact("Open_vSwitch", vec![select]).await.ok()?;
    string_map(&results.first()?["rows"][0]["external_ids"])
}

/// An OVSDB `["map", [[k, v], ...]]` of strings.
fn string_map(v: &Value) -> Option<BTreeMap<String, String>> {
    match v.as_array()?.as_slice() {
        [tag, pairs] if tag == "map" => pairs
            .as_array()?
            .iter()
            .map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string())))
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_maps_as_ovsdb_writes_them() {
        let m = string_map(&json!([
            "map",
            [["system-id", "hv1"], ["ovn-remote", "unix:/sb"]]
        ]));
        assert_eq!(
            m,
            Some(BTreeMap::from([
                ("ovn-remote".to_string(), "unix:/sb".to_string()),
                ("system-id".to_string(), "hv1".to_string()),
            ]))
        );
        assert_eq!(string_map(&json!(["map", []])), Some(BTreeMap::new()));
        assert_eq!(string_map(&json!(["set", []])), None);
        assert_eq!(string_map(&json!(["map", [["k", 1]]])), None);
    }
}
