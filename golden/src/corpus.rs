//! The checked-in corpus: `corpus/<name>/`, one directory per entry.
//!
//! - `nb.nbctl` (one `ovn-nbctl` command line per NB transaction, `#`
//!   comments) or `nb.json` (one transact params array with explicit row
//!   UUIDs): the input;
//! - `nb.db`: for `nb.nbctl` entries, the NB database file of the run that
//!   recorded the history (row UUIDs are random in ovsdb-server, and
//!   northd's output depends on them and on the order of transactions);
//! - `sb.txt`: the SB real ovn-northd 23.03 wrote, in the form of
//!   [`crate::canon`];
//! - `lflow-list.txt`: its `ovn-sbctl lflow-list`, datapath UUIDs blanked;
//! - `status.txt`: which sections ovnflow reproduces today ([`crate::status`]);
//! - `sb.sbctl` (optional): `ovn-sbctl` command lines run after the NB, as
//!   ovn-controller would write the SB (chassis, port claims, monitor
//!   status), and `sb-input.json`: what northd reads back from the SB after
//!   them (`ovnflow_compiler::sb_input` records, one JSON per line), the
//!   input ovnflow is given.

use std::path::{Path, PathBuf};

use ovnflow_compiler::{Compiler, SbInput};
use ovsdb::RowChange;
use serde_json::Value;

/// The file holding an entry's SB input.
pub const SB_INPUT_FILE: &str = "sb-input.json";

/// SB input records as stored: one JSON per line, sorted.
pub fn sb_input_text(inputs: &[SbInput]) -> String {
    let mut lines: Vec<String> = inputs
        .iter()
        .map(|i| serde_json::to_string(i).unwrap_or_default())
        .collect();
    lines.sort();
    lines.into_iter().map(|l| l + "\n").collect()
}

/// Parses [`sb_input_text`]'s form; errors name the line.
pub fn parse_sb_input(text: &str) -> Result<Vec<SbInput>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}

/// Gives `c` the SB input as the corpus entries recorded it: the learned
/// multicast groups one at a time, in address order. ovn-controller writes
/// the groups it learns one by one, each seen by a northd run of its own,
/// and the new group of a run takes the lowest free tunnel key; the
/// entries' `sb.sbctl` create them in address order.
pub fn feed_sb_input(c: &mut Compiler, inputs: Vec<SbInput>) {
    let (mut igmp, mut given): (Vec<SbInput>, Vec<SbInput>) = inputs
        .into_iter()
        .partition(|i| matches!(i, SbInput::Igmp(_)));
    igmp.sort();
    c.set_sb_inputs(given.clone());
    for g in igmp {
        given.push(g);
        c.set_sb_inputs(given.clone());
    }
}

/// The input of a corpus entry.
#[derive(Debug, Clone)]
pub enum Input {
    /// `nb.nbctl`: the script text.
    Nbctl(String),
    /// `nb.json`: one transaction.
    Json(Value),
}

/// One corpus entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The directory name.
    pub name: String,
    /// The directory.
    pub dir: PathBuf,
    /// Its input.
    pub input: Input,
}

/// `golden/corpus/` of this checkout.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every entry under `dir`, sorted by name; a directory without an input
/// file is an error naming it.
pub fn entries(dir: &Path) -> Result<Vec<Entry>, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| Entry::open(d)).collect()
}

/// The entries named in `names` (all when empty).
pub fn select(names: &[String]) -> Result<Vec<Entry>, String> {
    let all = entries(&corpus_dir())?;
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|e| &e.name == n)
                .cloned()
                .ok_or_else(|| format!("no corpus entry {n:?} in {}", corpus_dir().display()))
        })
        .collect()
}

impl Entry {
    /// Reads the entry in directory `dir`.
    pub fn open(dir: &Path) -> Result<Entry, String> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let read = |f: &str| std::fs::read_to_string(dir.join(f));
        let input = if let Ok(s) = read("nb.nbctl") {
            Input::Nbctl(s)
        } else if let Ok(s) = read("nb.json") {
            let v = serde_json::from_str(&s).map_err(|e| {
                format!(
                    "{}/nb.json line {} column {}: {e}",
                    dir.display(),
                    e.line(),
                    e.column()
                )
            })?;
            Input::Json(v)
        } else {
            return Err(format!("{}: no nb.nbctl or nb.json", dir.display()));
        };
        Ok(Entry {
            name,
            dir: dir.to_path_buf(),
            input,
        })
    }

    /// Reads a file of the entry.
    pub fn read(&self, file: &str) -> Result<String, String> {
        std::fs::read_to_string(self.dir.join(file))
            .map_err(|e| format!("{}/{file}: {e}", self.dir.display()))
    }

    /// Writes a file of the entry.
    pub fn write(&self, file: &str, text: &str) -> Result<(), String> {
        std::fs::write(self.dir.join(file), text)
            .map_err(|e| format!("{}/{file}: {e}", self.dir.display()))
    }

    /// The command lines of an `nb.nbctl` script (comments and blank lines
    /// dropped).
    pub fn nbctl_lines(&self) -> Vec<String> {
        match &self.input {
            Input::Nbctl(s) => s
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect(),
            Input::Json(_) => Vec::new(),
        }
    }

    /// The command lines of the entry's `sb.sbctl`, if any (comments and
    /// blank lines dropped).
    pub fn sbctl_lines(&self) -> Vec<String> {
        self.read("sb.sbctl")
            .map(|s| {
                s.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The SB input recorded in `sb-input.json` (none when the entry has no
    /// such file).
    pub fn sb_input(&self) -> Result<Vec<SbInput>, String> {
        if !self.dir.join(SB_INPUT_FILE).exists() {
            return Ok(Vec::new());
        }
        parse_sb_input(&self.read(SB_INPUT_FILE)?)
            .map_err(|e| format!("{}/{SB_INPUT_FILE}: {e}", self.dir.display()))
    }

    /// The NB as ovnflow consumes it: batches of row changes, in order (a
    /// `nb.json` is one batch; an `nb.nbctl` entry is the history in `nb.db`).
    pub fn nb_batches(&self) -> Result<Vec<Vec<RowChange>>, String> {
        match &self.input {
            Input::Json(v) => {
                let db = ovsdb::transact_file::apply_transact_json(
                    v,
                    &format!("{}/nb.json", self.dir.display()),
                )
                .map_err(|e| e.to_string())?;
                Ok(vec![db.to_changes()])
            }
            Input::Nbctl(_) => {
                let text = self.read("nb.db")?;
                let file = ovsdb::file::read_db_bytes_history(
                    text.as_bytes(),
                    &format!("{}/nb.db", self.dir.display()),
                )
                .map_err(|e| e.to_string())?;
                Ok(file.history)
            }
        }
    }

    /// The NB as real northd is fed it: transactions, each applied after
    /// northd caught up with the previous one, the first before northd starts.
    pub fn nb_transactions(&self) -> Result<Vec<Value>, String> {
        match &self.input {
            Input::Json(v) => Ok(vec![v.clone()]),
            Input::Nbctl(_) => crate::history::transactions(
                &self.read("nb.db")?,
                &format!("{}/nb.db", self.dir.display()),
            ),
        }
    }
}
