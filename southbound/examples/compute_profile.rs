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

use std::time::Instant;

use ovnflow_southbound::chassis::Chassis;
use ovnflow_southbound::incremental::ChassisCompute;
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
    times.sort();
    println!(
        "full compute + encode: min {:?}, median {:?}, max {:?} ({} rounds, {bytes} bytes)",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        times.len()
    );
}
