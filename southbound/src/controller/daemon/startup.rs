//! The start-up timeline (issue 9): from `run` to the first `nb_cfg`
//! acknowledgement, each step is logged once with the time since start,
//! so that waiting (for the switch, the databases) and working can be
//! told apart in the log.

use std::collections::BTreeMap;
use std::time::Instant;

use ovsdb::client::{Connection, Options};
use ovsdb::remote::Remote;
use ovsdb::{AtomType, Datum};
use serde_json::json;

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
    let ids = &results.first()?["rows"][0]["external_ids"];
    let ids = Datum::from_json(ids, AtomType::String, Some(AtomType::String)).ok()?;
    ovsdb::typed::map(&ids).ok()
}
