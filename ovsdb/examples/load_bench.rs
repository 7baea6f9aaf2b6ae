//! Benchmark: loading a replica of a large NB database, side by side with
//! `ovsdb-client dump` of the same database, in one run.
//!
//! ```sh
//! cargo run --release -p ovnflow-golden --bin golden-gen -- k8s --nodes 100 --pods 100 \
//!     --services 1000 --backends 3 --policies 500 > /tmp/nb.json
//! cargo run --release -p ovsdb --example load_bench -- /tmp/nb.json [RUNS]
//! ```
//!
//! Measures (median, min and max of RUNS runs): a `ReplicaSession` from a
//! live ovsdb-server until its replica holds the whole database; reading
//! the standalone `.db` file (compacted) with `ovsdb::file`; applying the
//! transact file with our executor; and `ovsdb-client dump` of the same
//! server (a process that connects, fetches everything and prints it).
//! Needs ovsdb-server, ovsdb-tool and ovsdb-client on PATH.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ovsdb::client::{Connection, Options, ReplicaSession};
use ovsdb::remote::Remote;
use ovsdb::replica::Replica;
use ovsdb::schema::nb_schema;
use std::sync::Arc;

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(v[v.len() / 2]), ms(v[0]), ms(v[v.len() - 1]))
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(input) = args.get(1) else {
        eprintln!("usage: load_bench NB.json [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let json_bytes = std::fs::metadata(input).expect("input file").len();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let db = d.join("nb.db");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/ovn-nb.ovsschema");
    run(Command::new("ovsdb-tool")
        .arg("create")
        .arg(&db)
        .arg(&schema));
    let sock = d.join("nb.sock");
    run(Command::new("ovsdb-server")
        .args(["--detach", "--no-chdir"])
        .arg(format!("--pidfile={}", d.join("nb.pid").display()))
        .arg(format!("--unixctl={}", d.join("nb.ctl").display()))
        .arg(format!("--log-file={}", d.join("nb.log").display()))
        .arg(format!("--remote=punix:{}", sock.display()))
        .arg(&db));
    let remote = format!("unix:{}", sock.display());
    let pid = std::fs::read_to_string(d.join("nb.pid"))
        .expect("pid")
        .trim()
        .to_string();
    let _guard = KillOnDrop(pid);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let r = Remote::parse(&remote).expect("remote");
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(input).expect("read input")).expect("JSON");
    let ops = params.as_array().expect("transact params array")[1..].to_vec();
    let t = Instant::now();
    rt.block_on(async {
        let (c, _) = Connection::connect(&r, &Options::default())
            .await
            .expect("connect");
        c.transact_checked("OVN_Northbound", ops)
            .await
            .expect("transact");
    });
    let commit = t.elapsed();
    run(Command::new("ovs-appctl")
        .arg("-t")
        .arg(d.join("nb.ctl"))
        .arg("ovsdb-server/compact"));
    let db_bytes = std::fs::metadata(&db).expect("db").len();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let r = Remote::parse(&remote).expect("remote");
    let schema = nb_schema();
    let mut rows = 0;
    let mut reply = None;
    let (mut dump, mut dump_json, mut replica, mut monitor) = (vec![], vec![], vec![], vec![]);
    // Interleaved, so that any drift of the server over time weighs on
    // every measure alike.
    for _ in 0..runs {
        dump.extend(time(1, || {
            Command::new("ovsdb-client")
                .arg("dump")
                .arg(&remote)
                .arg("OVN_Northbound")
                .stdout(Stdio::null())
                .status()
                .expect("dump")
        }));
        dump_json.extend(time(1, || {
            Command::new("ovsdb-client")
                .args(["-f", "json", "dump"])
                .arg(&remote)
                .arg("OVN_Northbound")
                .stdout(Stdio::null())
                .status()
                .expect("dump")
        }));
        replica.extend(time(1, || {
            rt.block_on(async {
                let mut s = ReplicaSession::connect(
                    vec![r.clone()],
                    "OVN_Northbound",
                    &[],
                    false,
                    Options::default(),
                )
                .await
                .expect("connect");
                rows = s.next().await.expect("initial contents").len();
            })
        }));
        // Let the dropped session's tasks run to completion (closing its socket).
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
        monitor.extend(time(1, || {
            rt.block_on(async {
                let (c, _n) = Connection::connect(&r, &Options::default())
                    .await
                    .expect("connect");
                reply = Some(
                    c.monitor_all(schema, "bench", &[], None)
                        .await
                        .expect("monitor"),
                );
            })
        }));
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
    }
    let reply = reply.expect("at least one run");
    let build = time(runs, || {
        let mut replica = Replica::new(Arc::new(schema.clone()));
        replica
            .reset_to(reply.version, &reply.initial)
            .expect("replica")
    });
    let file = time(runs, || ovsdb::file::read_db_file(&db).expect("read .db"));
    let transact = time(runs, || {
        ovsdb::transact_file::read_transact_file(Path::new(input)).expect("apply")
    });

    println!("NB: {rows} rows, transact JSON {:.2} MB, compacted .db {:.2} MB; one transaction committing it all (our client → ovsdb-server) took {:.0} ms",
        json_bytes as f64 / 1e6, db_bytes as f64 / 1e6, commit.as_secs_f64() * 1e3);
    println!("runs: {runs}; times in ms as median (min–max)\n");
    println!("| measure | median | min | max | vs ovsdb-client dump |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let (base, _, _) = stats(dump.clone());
    for (name, v) in [
        ("ovsdb-client dump (text, real OVS 3.1)", dump),
        ("ovsdb-client -f json dump (real OVS 3.1)", dump_json),
        (
            "ovnflow replica from live ovsdb-server (whole session)",
            replica,
        ),
        (
            "  of which: ovsdb-server answering monitor_cond_since",
            monitor,
        ),
        ("  of which: building the replica from the reply", build),
        ("ovnflow replica from the .db file", file),
        ("ovnflow executor on the transact file", transact),
    ] {
        let (m, lo, hi) = stats(v);
        println!("| {name} | {m:.1} | {lo:.1} | {hi:.1} | {:.2}× |", m / base);
    }
}

struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.0).status();
    }
}
