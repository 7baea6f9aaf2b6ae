//! Fidelity against the real ovn-northd 23.03: every scenario in
//! `tests/scenarios/` is run through a private northd. A `*.nbctl` scenario
//! has one `ovn-nbctl` command line per line, each its own NB transaction;
//! our compiler replays the same NB transaction history from the NB `.db`
//! file. A `*.json` scenario is one NB transaction (transact JSON with
//! explicit row UUIDs), which our compiler applies as one batch. The SB tables the
//! compiler writes must be identical (modulo row UUIDs), and so must the
//! `ovn-sbctl lflow-list` text (modulo datapath UUIDs).
//!
//! What northd wrote is also checked in, under `golden/corpus/<scenario>/`
//! (`nb.db`: the NB history northd read; `sb.txt`: its SB in canonical
//! form; `lflow-list.txt`: its `ovn-sbctl lflow-list`). The live test checks
//! that those files are current (`GOLDEN_REGEN=1` rewrites them:
//! `golden/regen.sh`), and `scenarios_match_golden_files` compares ours
//! with them without OVN installed.
//!
//! A scenario whose header has `# known-difference: WHY` documents a case we
//! do not reproduce yet (listed in golden/KNOWN_DIFFERENCES.md): its
//! differences are printed, and the test fails if it unexpectedly matches
//! (so that the marker gets removed).

mod oracle;

use std::collections::BTreeMap;
use std::path::Path;

use oracle::canon::{canonical, parse_dump, report, Tables};
use ovnflow_compiler::{lflow_list::lflow_list, Compiler, Options};

/// Datapath UUIDs differ by construction; blank them in headers.
fn blank_uuids(text: &str) -> String {
    text.lines()
        .map(|l| {
            match (
                l.starts_with("Datapath:"),
                l.find(" ("),
                l.find(")  Pipeline"),
            ) {
                (true, Some(a), Some(b)) if a < b => format!("{} (<uuid>{}", &l[..a], &l[b..]),
                _ => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn golden_dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../golden/corpus")
        .join(name)
}

/// The canonical rows as text, one `table<TAB>row` line each, sorted.
fn canonical_text(rows: &std::collections::BTreeSet<(String, String)>) -> String {
    rows.iter().map(|(t, r)| format!("{t}\t{r}\n")).collect()
}

/// Ours against the checked-in oracle output, without OVN: every scenario
/// with golden files is compiled from the NB northd read and compared.
#[test]
fn scenarios_match_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    names.sort();
    for f in names
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "nbctl" || e == "json"))
    {
        let name = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let script = std::fs::read_to_string(f).expect("scenario");
        let known = script.lines().any(|l| l.starts_with("# known-difference:"));
        let golden = golden_dir(&name);
        let (Ok(sb), Ok(lflows), Ok(nb)) = (
            std::fs::read_to_string(golden.join("sb.txt")),
            std::fs::read_to_string(golden.join("lflow-list.txt")),
            std::fs::read_to_string(golden.join("nb.db")),
        ) else {
            failures.push(format!(
                "{name}: no golden files in golden/corpus/{name}; run golden/regen.sh"
            ));
            continue;
        };
        let (tables, text) = ours(&nb);
        let mine = canonical_text(&canonical(&tables));
        let same = mine == sb && blank_uuids(&text) == lflows;
        let theirs: std::collections::BTreeSet<&str> = sb.lines().collect();
        let ours_set: std::collections::BTreeSet<&str> = mine.lines().collect();
        eprintln!(
            "golden {name}: identical {}  missing {}  extra {}",
            theirs.intersection(&ours_set).count(),
            theirs.difference(&ours_set).count(),
            ours_set.difference(&theirs).count()
        );
        for x in theirs.difference(&ours_set).take(20) {
            eprintln!("  MISSING {x}");
        }
        for x in ours_set.difference(&theirs).take(20) {
            eprintln!("  EXTRA   {x}");
        }
        match (known, same) {
            (false, false) => failures.push(format!(
                "{name}: SB differs from the checked-in oracle output"
            )),
            (true, true) => failures.push(format!(
                "{name}: matches now; drop its known-difference marker"
            )),
            _ => {}
        }
        checked += 1;
    }
    assert!(checked > 0, "no golden files checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

fn ours(nb_db: &str) -> (Tables, String) {
    let mut c = Compiler::new(Options::default()).expect("compiler");
    let file = ovsdb::file::read_db_bytes_history(nb_db.as_bytes(), "nb.db").expect("nb.db");
    for txn in file.history {
        c.apply(txn).expect("apply");
    }
    let text = lflow_list(c.sb_records());
    (c.sb_state().into_iter().collect(), text)
}

#[test]
fn scenarios_match_northd() {
    if !oracle::need_ovn() {
        eprintln!("skipping: OVN binaries not on PATH");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "nbctl" || e == "json"))
    {
        let name = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let script = std::fs::read_to_string(f).expect("scenario");
        let known = script
            .lines()
            .find_map(|l| l.strip_prefix("# known-difference:"))
            .map(str::trim);
        let mut o = oracle::Oracle::start();
        let single_txn = f.extension().is_some_and(|e| e == "json");
        // A transaction file goes in before northd starts, so that northd
        // meets it whole (and does not create its own NB_Global first).
        if single_txn {
            o.transact(&script);
        }
        o.start_northd();
        for line in script.lines().filter(|_| !single_txn) {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                o.nbctl(line);
            }
        }
        o.sync();
        let theirs = canonical(&parse_dump(&o.dump_sb()));
        let their_text = blank_uuids(&o.lflow_list());
        let golden = golden_dir(&name);
        let files = [
            ("sb.txt", canonical_text(&theirs)),
            ("lflow-list.txt", their_text.clone()),
            ("nb.db", o.nb_db()),
        ];
        if std::env::var_os("GOLDEN_REGEN").is_some() {
            std::fs::create_dir_all(&golden).expect("golden dir");
            for (f, text) in &files {
                std::fs::write(golden.join(f), text).expect("write golden file");
            }
        } else if single_txn {
            // With explicit row UUIDs, northd's output is the same on every
            // run: the checked-in files must be current. (An ovn-nbctl
            // history gets random UUIDs, which reorder northd's tunnel keys;
            // its checked-in nb.db and sb.txt are a consistent pair of one run.)
            for (f, text) in &files[..2] {
                let stored = std::fs::read_to_string(golden.join(f)).unwrap_or_default();
                if &stored != text {
                    failures.push(format!(
                        "{name}: golden/corpus/{name}/{f} is stale; run golden/regen.sh"
                    ));
                }
            }
        }
        let (tables, text) = if single_txn {
            let mut c = Compiler::new(Options::default()).expect("compiler");
            let v: serde_json::Value = serde_json::from_str(&script).expect("transact json");
            let nb =
                ovsdb::transact_file::apply_transact_json(&v, "scenario").expect("transact json");
            c.apply(nb.to_changes()).expect("apply");
            let text = lflow_list(c.sb_records());
            (c.sb_state().into_iter().collect(), text)
        } else {
            ours(&o.nb_db())
        };
        let mine = canonical(&tables);
        let per_table: BTreeMap<_, _> = report(&theirs, &mine);
        eprintln!("scenario {name}:");
        for (t, (same, missing, extra)) in &per_table {
            eprintln!("  {t:<18} identical {same:>4}  missing {missing:>3}  extra {extra:>3}");
        }
        for x in theirs.difference(&mine) {
            eprintln!("  MISSING {} {}", x.0, x.1);
        }
        for x in mine.difference(&theirs) {
            eprintln!("  EXTRA   {} {}", x.0, x.1);
        }
        let same = theirs == mine && their_text == blank_uuids(&text);
        match (known, same) {
            (None, false) => failures.push(format!("{name}: SB differs from northd")),
            (Some(why), true) => failures.push(format!(
                "{name}: matches northd now; drop `known-difference: {why}`"
            )),
            (Some(why), false) => eprintln!("  (known difference: {why})"),
            (None, true) => {}
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
