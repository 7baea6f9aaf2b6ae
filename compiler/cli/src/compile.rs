//! `ovnflow compile [NB]`: compiles a Northbound database and prints the
//! Southbound logical flows as `ovn-sbctl lflow-list` does (or the SB rows as
//! JSON with `--format json`).

use std::io::Write;

use anyhow::{Context, Result};
use ovnflow_compiler::{lflow_list::lflow_list, Compiler, Options};

/// The NB topology compiled when no NB is given: two switches with VIF ports.
const BUNDLED_EXAMPLE: &str = include_str!("../../examples/data/two-switches.json");

/// Output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `ovn-sbctl lflow-list` text.
    Text,
    /// The compiled SB tables as JSON: `{table: {uuid: row}}`.
    Json,
}

/// Flags of `ovnflow compile`.
///
/// A `.db` file is read with its transaction history and replayed one NB
/// transaction at a time, as ovn-northd saw them (tunnel keys depend on
/// that history); a transact file is applied to an empty NB by the ovsdb
/// crate's executor and compiled as one transaction.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The NB database: an OVSDB `.db` file, a transact JSON file, or a
    /// `unix:PATH` / `tcp:HOST:PORT` remote. Without it, a bundled example
    /// topology is compiled.
    pub nb: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Number of dataflow worker threads.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: u16,
    /// Instead of printing the flows, compare them with what another northd
    /// wrote and print a per-section (SB table, logical flow stage) report of
    /// identical, missing and extra rows; exit non-zero when they differ.
    /// FILE is an SB `.db` file, a canonical SB text (golden `sb.txt`) or
    /// `ovn-sbctl lflow-list` output.
    #[arg(long, value_name = "FILE")]
    pub diff_against: Option<String>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let (source, changes) = match args.nb.as_deref() {
        None => (
            "bundled example".to_string(),
            vec![{
                let v: serde_json::Value = serde_json::from_str(BUNDLED_EXAMPLE)?;
                ovsdb::transact_file::apply_transact_json(&v, "bundled example")?.to_changes()
            }],
        ),
        Some(remote)
            if remote.starts_with("unix:")
                || remote.starts_with("tcp:")
                || remote.starts_with("ssl:") =>
        {
            (remote.to_string(), vec![live_nb(remote)?])
        }
        Some(path) => {
            let text = std::fs::read(path).with_context(|| format!("{path}: cannot read"))?;
            if text.starts_with(b"OVSDB ") {
                // The transaction history of a `.db` file is kept: northd's
                // tunnel keys depend on it.
                let file = ovsdb::file::read_db_bytes_history(&text, path)?;
                for w in &file.warnings {
                    eprintln!("warning: {w}");
                }
                (path.to_string(), file.history)
            } else {
                // A transact file, run by the ovsdb crate's executor.
                let db = ovsdb::transact_file::read_transact_file(std::path::Path::new(path))?;
                (path.to_string(), vec![db.to_changes()])
            }
        }
    };
    // A `.db` file is replayed one NB transaction at a time, as ovn-northd
    // saw it: tunnel keys depend on that history.
    let mut compiler = Compiler::new(Options {
        workers: args.workers as usize,
    })?;
    for (i, txn) in changes.into_iter().enumerate() {
        compiler
            .apply(txn)
            .with_context(|| format!("{source}: transaction {}", i + 1))?;
    }
    if let Some(file) = &args.diff_against {
        return diff_against(&compiler, file);
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => out.write_all(lflow_list(compiler.sb_records()).as_bytes())?,
        Format::Json => {
            let mut tables = serde_json::Map::new();
            for (table, rows) in compiler.sb_state() {
                let mut t = serde_json::Map::new();
                for (uuid, row) in rows {
                    let cols: serde_json::Map<String, serde_json::Value> = row
                        .iter()
                        .map(|(c, d)| (c.to_string(), d.to_json()))
                        .collect();
                    t.insert(uuid.to_string(), serde_json::Value::Object(cols));
                }
                tables.insert(table, serde_json::Value::Object(t));
            }
            serde_json::to_writer_pretty(&mut out, &serde_json::Value::Object(tables))?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `--diff-against FILE`: the per-section comparison of our SB with FILE's.
fn diff_against(compiler: &Compiler, file: &str) -> Result<()> {
    use ovnflow_golden::canon::{blank_lflow_list_uuids, canonical, from_text, Canon, Tables};
    let data = std::fs::read(file).with_context(|| format!("{file}: cannot read"))?;
    let ours = canonical(&compiler.sb_state().into_iter().collect());
    let our_lflows = blank_lflow_list_uuids(&lflow_list(compiler.sb_records()));
    let text = String::from_utf8_lossy(&data);
    let cmp = if data.starts_with(b"OVSDB ") {
        let db = ovsdb::file::read_db_bytes(&data, file)?.database;
        let tables: Tables = db
            .tables()
            .iter()
            .map(|(t, rows)| {
                let rows = rows.iter().map(|(u, r)| (*u, (**r).clone())).collect();
                (t.clone(), rows)
            })
            .collect();
        ovnflow_golden::status::compare(&canonical(&tables), &ours, "", "")
    } else if text.lines().next().is_some_and(|l| l.contains('\t')) {
        let theirs = from_text(&text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        ovnflow_golden::status::compare(&theirs, &ours, "", "")
    } else {
        let theirs = blank_lflow_list_uuids(&text);
        ovnflow_golden::status::compare(&Canon::new(), &Canon::new(), &theirs, &our_lflows)
    };
    print!("{}", cmp.report(None));
    let (mut missing, mut extra) = (0, 0);
    for c in cmp.sections.values() {
        missing += c.missing;
        extra += c.extra;
    }
    if missing + extra > 0 {
        anyhow::bail!("{file}: {missing} rows missing, {extra} extra");
    }
    Ok(())
}

/// The current content of a live NB (`unix:`/`tcp:` remotes, comma-separated
/// for a cluster), as one batch of inserts. Unlike a `.db` file, a live
/// server has no history: tunnel keys are allocated as a northd starting
/// fresh on this content would allocate them.
fn live_nb(remote: &str) -> Result<Vec<ovsdb::RowChange>> {
    let remotes = ovsdb::remote::Remote::parse_list(remote)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let opts = ovsdb::client::Options::default();
        let mut session =
            ovsdb::client::ReplicaSession::connect(remotes, "OVN_Northbound", &[], false, opts)
                .await
                .with_context(|| format!("{remote}: cannot read the Northbound database"))?;
        session
            .next()
            .await
            .with_context(|| format!("{remote}: monitor failed"))
    })
}
