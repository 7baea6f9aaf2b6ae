//! The controller's first full compute in process, for profiling (issue
//! 9): an `OVN_Southbound` database file (e.g. `ovsdb-client backup` of
//! the controller bench's SB with chassis `hv1` added), a chassis `hv1`
//! with the bench's 100 VIFs bound (`lp{s}x{i}`, s < 4, i < 25), and the
//! engine's streamed full compute with every streamed flow encoded as the
//! bundled `FLOW_MOD` the daemon writes (`CHECK=1`: each also built by
//! the generic message codec, and the bytes compared).
//!
//! ```text
//! southbound/examples/bench_sb.sh /tmp/bench-sb.db   # real ovn-northd
//! cargo run --profile chassis -p ovnflow-southbound --example compute_profile -- /tmp/bench-sb.db [ROUNDS]
//! ```
//!
//! `ACL=1`: instead, after one full compute, the controller bench's ACL
//! change in each round: a new logical flow on `sw0` matching the port
//! group `@pg_all` and the 1,000-address set `$as_big` (1 logical flow →
//! ~1,026 OpenFlow flows), applied and its added flows encoded, then
//! removed again (untimed).

use std::time::Instant;

use ovnflow_southbound::chassis::Chassis;
use ovnflow_southbound::incremental::{ChassisCompute, SbChange};
use ovnflow_southbound::openflow::convert;
use ovnflow_southbound::openflow::wire::{Body, BundleAdd, Message};
use ovnflow_southbound::sbdb::Southbound;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: compute_profile SB.db [ROUNDS]");
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(20);
    // Every streamed message also built by the generic codec and compared.
    let check = std::env::var("CHECK").is_ok();
    let file = ovsdb::file::read_db_file(std::path::Path::new(&path)).expect("SB file");
    let sb = Southbound::from_database(&file.database).expect("SB");
    let mut chassis = Chassis::new("hv1");
    let mut ofport = 1;
    for s in 0..4 {
        for i in 0..25 {
            chassis.vifs.insert(format!("lp{s}x{i}"), ofport);
            ofport += 1;
        }
    }
    chassis.ct_zones = Some(Default::default());
    if std::env::var("ACL").is_ok() {
        return acl_rounds(sb, chassis, rounds);
    }
    let mut times = Vec::new();
    let mut bytes = 0usize;
    for _ in 0..rounds {
        let sb = sb.clone();
        let t = Instant::now();
        let mut out = Vec::with_capacity(4 << 20);
        let mut xid = 0u32;
        let c = ChassisCompute::with_kept_zones_streamed(sb, chassis.clone(), &mut |f| {
            xid += 1;
            let at = out.len();
            convert::emit_bundled_add(f, xid, 1, 3, &mut out).expect("encodable");
            if check {
                // The message as the generic codec builds it.
                let fm = convert::add_flow(f).expect("encodable");
                let add = Body::BundleAdd(BundleAdd {
                    bundle_id: 1,
                    flags: 3,
                    message: Box::new(Message::new(xid, Body::FlowMod(fm))),
                    properties: Vec::new(),
                });
                let generic = Message::new(xid, add).to_bytes().expect("bytes");
                assert_eq!(out[at..], generic[..], "flow {f}");
            }
        });
        times.push(t.elapsed());
        bytes = out.len();
        assert!(c.installed_len() > 0);
        if times.len() == 1 {
            // A digest of the installed table's text, to compare builds.
            let mut lines: Vec<String> = c.installed().map(|f| f.to_string()).collect();
            lines.sort();
            let digest = lines
                .iter()
                .flat_map(|l| l.bytes())
                .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
            println!(
                "{} sources, {} installed flows (text digest {digest:016x}), {} streamed, {bytes} bytes",
                c.last_recomputed,
                c.installed_len(),
                xid
            );
        }
        drop(c);
    }
    println!(
        "full compute + encode: {} ({bytes} bytes)",
        summary(&mut times)
    );
}

/// The controller bench's ACL change, `rounds` times over one compute.
fn acl_rounds(sb: Southbound, chassis: Chassis, rounds: usize) {
    let sw0 = sb
        .datapaths
        .values()
        .find(|dp| dp.external_ids.get("name").map(String::as_str) == Some("sw0"))
        .expect("datapath sw0")
        .uuid;
    let template = sb
        .logical_flows
        .values()
        .find(|lf| lf.match_.contains("$as_big"))
        .expect("a logical flow using $as_big")
        .clone();
    let mut c = ChassisCompute::with_kept_zones(sb, chassis);
    let mut times = Vec::new();
    let mut flows = 0;
    for round in 0..rounds {
        let mut lf = template.clone();
        lf.uuid = ovsdb::Uuid::new_v4();
        lf.logical_datapath = Some(sw0);
        lf.logical_dp_group = None;
        lf.priority = 3000 + round as i64;
        lf.match_ = format!(
            "outport == @pg_all && ip4.src == $as_big && tcp.dst == {}",
            1000 + round
        );
        lf.actions = "next;".to_string();
        let uuid = lf.uuid;
        let t = std::time::Instant::now();
        let delta = c.apply(vec![SbChange::LogicalFlow(uuid, Some(lf))], Vec::new());
        let mut out = Vec::with_capacity(1 << 20);
        for (i, f) in delta.added.iter().enumerate() {
            convert::emit_bundled_add(f, i as u32, 1, 3, &mut out).expect("encodable");
        }
        times.push(t.elapsed());
        flows = delta.added.len();
        // Removed again (not timed): every round starts from the same table.
        c.apply(vec![SbChange::LogicalFlow(uuid, None)], Vec::new());
    }
    println!(
        "ACL change (apply + encode, {flows} flows added): {}",
        summary(&mut times)
    );
}

/// `min, median, max (N rounds)` of the rounds' `times`.
fn summary(times: &mut [std::time::Duration]) -> String {
    times.sort();
    format!(
        "min {:?}, median {:?}, max {:?} ({} rounds)",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        times.len()
    )
}
