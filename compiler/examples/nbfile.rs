//! Benchmark on an NB file: compiles an NB given as a transact params
//! array (`golden-gen k8s … > nb.json`), then runs batches that each touch
//! one switch port (its `external_ids`, alternately set and cleared): one
//! dataflow epoch with the smallest input, close to what every batch costs
//! whatever it holds (an empty batch skips the dataflow). Prints phase
//! timings and the peak resident size.
//!
//! ```text
//! golden-gen k8s --nodes 30 --pods 100 --services 300 --backends 3 --policies 150 > nb.json
//! cargo run --release -p ovnflow-compiler --example nbfile -- nb.json [TOUCH_BATCHES]
//! ```

use std::time::Instant;

use std::sync::Arc;

use ovnflow_compiler::{Compiler, Options, RowChange};
use ovsdb::atom::Atom;
use ovsdb::datum::Datum;

/// `VmHWM` of this process, MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: nbfile NB.json [TOUCH_BATCHES]")?;
    let touches: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let t = Instant::now();
    let db = ovsdb::transact_file::apply_transact_json(&json, &path)?;
    drop(json);
    println!(
        "NB: {} rows loaded in {:.3} s, peak RSS {:.0} MB",
        db.len(),
        t.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
    let t = Instant::now();
    let mut c = Compiler::compile_database(&db, Options::default())?;
    println!(
        "compile: {} SB rows in {:.3} s, peak RSS {:.0} MB",
        c.sb_records().count(),
        t.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
    let (uuid, plain) = db
        .table("Logical_Switch_Port")
        .and_then(|rows| rows.iter().next())
        .map(|(u, r)| (*u, r.clone()))
        .ok_or("the NB has no Logical_Switch_Port")?;
    let mut touched = (*plain).clone();
    touched.insert(
        "external_ids".to_string(),
        Datum::Map(vec![(
            Atom::String("nbfile-touch".to_string()),
            Atom::String("1".to_string()),
        )]),
    );
    let touched = Arc::new(touched);
    let mut times = Vec::new();
    for i in 0..touches {
        let (old, new) = if i % 2 == 0 {
            (plain.clone(), touched.clone())
        } else {
            (touched.clone(), plain.clone())
        };
        let t = Instant::now();
        c.apply(vec![RowChange::Modify {
            table: "Logical_Switch_Port".to_string(),
            uuid,
            old,
            new,
        }])?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    if let Some(median) = times.get(times.len() / 2) {
        println!("port touch batch: median {median:.2} ms over {touches}");
    }
    Ok(())
}
