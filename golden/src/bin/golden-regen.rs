//! Regenerates the oracle files of corpus entries from a private, real
//! ovn-northd 23.03 (`golden/regen.sh` runs it).
//!
//! `golden-regen [--record] [NAME…]`

use clap::Parser;
use ovnflow_golden::{corpus, regen};

#[derive(Parser)]
#[command(
    about = "Regenerate golden/corpus/<NAME>/{sb.txt,lflow-list.txt} (and nb.db) with real ovn-northd"
)]
struct Cli {
    /// Re-record the nb.db history of nb.nbctl entries (new random row
    /// UUIDs); without it an existing nb.db is replayed as it is.
    #[arg(long)]
    record: bool,
    /// Entries to regenerate (all when none).
    names: Vec<String>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let run = || -> Result<(), String> {
        if !ovnflow_golden::oracle::available().map_err(|e| e.to_string())? {
            return Err(format!(
                "the OVN binaries ({}) are not on PATH",
                ovnflow_golden::oracle::BINARIES.join(", ")
            ));
        }
        for e in corpus::select(&cli.names)? {
            eprintln!("regenerating {}", e.name);
            regen::regenerate(&e, cli.record).map_err(|x| format!("{}: {x}", e.name))?;
        }
        Ok(())
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("golden-regen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
