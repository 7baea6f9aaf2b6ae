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
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => out.write_all(lflow_list(compiler.sb_records()).as_bytes())?,
        Format::Json => {
            let mut tables = serde_json::Map::new();
            for (table, rows) in compiler.sb_state() {
                let mut t = serde_json::Map::new();
                for (uuid, row) in rows {
                    let cols: serde_json::Map<String, serde_json::Value> =
                        row.iter().map(|(c, d)| (c.clone(), d.to_json())).collect();
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
