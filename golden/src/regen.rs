//! Running real ovn-northd on a corpus entry: recording an `ovn-nbctl`
//! history, replaying an entry's NB through a private northd, and writing
//! the entry's oracle files. The live test and `golden-regen` share this
//! code, so a check is exactly a regeneration compared with what is stored.

use serde_json::{json, Value};

use crate::canon::{blank_lflow_list_uuids, canonical, parse_dump, to_text};
use crate::corpus::{sb_input_text, Entry, Input, SB_INPUT_FILE};
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
    /// What northd reads back from the SB ([`crate::corpus::sb_input_text`]).
    pub sb_input: String,
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
    run_northd_with_sb(transactions, &[])
}

/// [`run_northd`], then the `ovn-sbctl` command lines `sbctl` (SB input as
/// ovn-controller would write it), each followed by a pause for northd to
/// see it and a sync.
pub fn run_northd_with_sb(transactions: &[Value], sbctl: &[String]) -> Result<NorthdOutput> {
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
    for line in sbctl {
        o.sbctl(line)?;
        // The SB change reaches northd on its SB connection; the sync's
        // nb_cfg on its NB connection. Give the first a head start, and
        // sync twice so that a run that missed it is followed by one that
        // saw it.
        std::thread::sleep(std::time::Duration::from_millis(300));
        o.sync()?;
        o.sync()?;
    }
    let tables = parse_dump(&o.dump_sb()?).map_err(OracleError)?;
    let inputs: Vec<ovnflow_compiler::SbInput> = ovnflow_compiler::sb_input::read_all(
        tables
            .iter()
            .flat_map(|(t, rows)| rows.iter().map(move |(u, r)| (t.as_str(), *u, r))),
    );
    Ok(NorthdOutput {
        sb: to_text(&canonical(&tables)),
        lflow_list: blank_lflow_list_uuids(&o.lflow_list()?),
        sb_input: sb_input_text(&inputs),
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
    let out = run_northd_with_sb(&entry.nb_transactions().map_err(e)?, &entry.sbctl_lines())?;
    entry.write("sb.txt", &out.sb).map_err(e)?;
    if !entry.sbctl_lines().is_empty() {
        entry.write(SB_INPUT_FILE, &out.sb_input).map_err(e)?;
    }
    entry.write("lflow-list.txt", &out.lflow_list).map_err(e)
}
