//! Library API example and benchmark: compiles `SWITCHES` switches with
//! `PORTS` VIF ports each, then applies small incremental changes, printing
//! phase timings and SB delta sizes.
//!
//! ```text
//! cargo run --release -p ovnflow-compiler --example scale -- 100 20 [WORKERS]
//! ```

use std::sync::Arc;
use std::time::Instant;

use ovnflow_compiler::{Compiler, Options, RowChange};
use ovsdb::{Atom, Datum, Row, Uuid};

fn switch_row(name: &str, ports: &[Uuid]) -> Row {
    let mut r = Row::new();
    r.insert("name", Datum::scalar(name));
    r.insert("ports", Datum::set(ports.iter().map(|u| Atom::Uuid(*u))));
    r
}

fn port_row(name: &str, mac: u64, ip: u32) -> Row {
    let m = mac.to_be_bytes();
    let addr = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} 10.{}.{}.{}",
        m[2],
        m[3],
        m[4],
        m[5],
        m[6],
        m[7],
        (ip >> 16) & 255,
        (ip >> 8) & 255,
        ip & 255
    );
    let mut r = Row::new();
    r.insert("name", Datum::scalar(name));
    r.insert("addresses", Datum::scalar(addr.as_str()));
    r
}

fn insert(table: &str, uuid: Uuid, row: Row) -> RowChange {
    RowChange::Insert {
        table: table.into(),
        uuid,
        new: Arc::new(row),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let switches = args.first().copied().unwrap_or(10);
    let ports = args.get(1).copied().unwrap_or(10);
    let workers = args.get(2).copied().unwrap_or(1);

    let mut next = 0u128;
    let mut fresh = || {
        next += 1;
        Uuid::from_u128((next << 64) | next)
    };
    let mut batch = Vec::new();
    let mut switch_ids = Vec::new();
    for s in 0..switches {
        let ls = fresh();
        let lsps: Vec<Uuid> = (0..ports).map(|_| fresh()).collect();
        for (p, u) in lsps.iter().enumerate() {
            let n = (s * ports + p) as u64;
            batch.push(insert(
                "Logical_Switch_Port",
                *u,
                port_row(&format!("sw{s}-p{p}"), n + 1, n as u32),
            ));
        }
        batch.push(insert(
            "Logical_Switch",
            ls,
            switch_row(&format!("sw{s}"), &lsps),
        ));
        switch_ids.push((ls, lsps));
    }

    let t = Instant::now();
    let mut c = Compiler::new(Options { workers })?;
    let delta = c.apply(batch)?;
    println!(
        "initial compile: {switches} switches x {ports} ports, {} SB rows inserted in {:?}",
        delta.counts().0,
        t.elapsed()
    );

    // Add one port to the first switch.
    let (ls0, mut lsps0) = switch_ids[0].clone();
    let new_port = fresh();
    let old_ls = switch_row("sw0", &lsps0);
    lsps0.push(new_port);
    let t = Instant::now();
    let delta = c.apply(vec![
        insert(
            "Logical_Switch_Port",
            new_port,
            port_row("sw0-new", 0xfff_fff0, 0xfff0),
        ),
        RowChange::Modify {
            table: "Logical_Switch".into(),
            uuid: ls0,
            old: Arc::new(old_ls),
            new: Arc::new(switch_row("sw0", &lsps0)),
        },
    ])?;
    println!(
        "add one port: {:?} (inserts, modifies, deletes) in {:?}",
        delta.counts(),
        t.elapsed()
    );

    // Delete the last switch with its ports.
    let (ls_last, lsps_last) = switch_ids[switches - 1].clone();
    let mut dels = vec![RowChange::Delete {
        table: "Logical_Switch".into(),
        uuid: ls_last,
        old: Arc::new(switch_row(&format!("sw{}", switches - 1), &lsps_last)),
    }];
    for (p, u) in lsps_last.iter().enumerate() {
        let n = ((switches - 1) * ports + p) as u64;
        dels.push(RowChange::Delete {
            table: "Logical_Switch_Port".into(),
            uuid: *u,
            old: Arc::new(port_row(
                &format!("sw{}-p{p}", switches - 1),
                n + 1,
                n as u32,
            )),
        });
    }
    let t = Instant::now();
    let delta = c.apply(dels)?;
    println!(
        "delete one switch: {:?} (inserts, modifies, deletes) in {:?}",
        delta.counts(),
        t.elapsed()
    );
    println!("SB rows now: {}", c.sb_records().count());
    Ok(())
}
