//! Running real ovn-northd on a corpus entry: recording an `ovn-nbctl`
//! history, replaying an entry's NB through a private northd, and writing
//! the entry's oracle files. The live test and `golden-regen` share this
//! code, so a check is exactly a regeneration compared with what is stored.

use serde_json::{json, Value};

use crate::canon::{blank_lflow_list_uuids, canonical, parse_dump, to_text};
use crate::corpus::{Entry, Input};
use crate::oracle::{Oracle, OracleError, Result};

/// The NB_Global every recorded history starts from. `svc_monitor_mac` and
/// `mac_prefix` are set because northd picks random ones when they are
/// missing (and writes them back to the NB).
pub fn initial_nb_global() -> Value {
    json!(["OVN_Northbound", {"op": "insert", "table": "NB_Global",
        "uuid": "00000000-0000-4000-8000-0000000000aa",
        "row": {"options": ["map", [["svc_monitor_mac", "0a:00:00:00:00:fe"], ["mac_prefix", "0a:00:00"]]]}}])
}

/// What real northd wrote for an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NorthdOutput {
    /// The SB, canonical text ([`crate::canon::to_text`]).
    pub sb: String,
    /// `ovn-sbctl lflow-list`, datapath UUIDs blanked.
    pub lflow_list: String,
}

/// Runs an `nb.nbctl` script against a private NB with northd running
/// (the NB_Global of [`initial_nb_global`] goes in first) and returns the
/// NB database file: the recorded history.
pub fn record_history(lines: &[String]) -> Result<String> {
    let mut o = Oracle::start()?;
    o.transact(&initial_nb_global())?;
    o.start_northd()?;
    for line in lines {
        o.nbctl(line)?;
    }
    o.sync()?;
    o.nb_db()
}

/// Feeds `transactions` to a private northd, the first before northd
/// starts (so that northd meets it whole, as one NB snapshot), each later
/// one after northd has processed the previous one, and returns what northd
/// wrote.
pub fn run_northd(transactions: &[Value]) -> Result<NorthdOutput> {
    let mut o = Oracle::start()?;
    let mut txns = transactions.iter();
    if let Some(first) = txns.next() {
        o.transact(first)?;
    }
    o.start_northd()?;
    o.sync()?;
    for t in txns {
        o.transact(t)?;
        o.sync()?;
    }
    let tables = parse_dump(&o.dump_sb()?).map_err(OracleError)?;
    Ok(NorthdOutput {
        sb: to_text(&canonical(&tables)),
        lflow_list: blank_lflow_list_uuids(&o.lflow_list()?),
    })
}

/// Regenerates an entry's oracle files: records its `nb.db` history first
/// when it is an `nb.nbctl` entry and `record` is set or it has none, then
/// writes `sb.txt` and `lflow-list.txt` from a northd replay of the NB.
pub fn regenerate(entry: &Entry, record: bool) -> Result<()> {
    let e = |m: String| OracleError(m);
    if let Input::Nbctl(_) = entry.input {
        if record || !entry.dir.join("nb.db").exists() {
            let db = record_history(&entry.nbctl_lines())?;
            entry.write("nb.db", &db).map_err(e)?;
        }
    }
    let out = run_northd(&entry.nb_transactions().map_err(e)?)?;
    entry.write("sb.txt", &out.sb).map_err(e)?;
    entry.write("lflow-list.txt", &out.lflow_list).map_err(e)
}
