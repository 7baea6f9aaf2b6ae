//! Benchmark: loading a replica of a large NB database, side by side with
//! `ovsdb-client dump` of the same database, in one run.
//!
//! ```sh
//! cargo run --release -p ovnflow-golden --bin golden-gen -- k8s --nodes 100 --pods 100 \
//!     --services 1000 --backends 3 --policies 500 > /tmp/nb.json
//! cargo run --release -p ovsdb --example load_bench -- /tmp/nb.json [RUNS]
//! ```
//!
//! Measures (median, min and max of RUNS runs, interleaved so that any
//! drift of the machine weighs on every measure alike):
//! - `ovsdb-client dump` of the server (text and JSON): a process that
//!   connects, fetches everything and prints it;
//! - the **server reply floor**: a client that connects, sends the same
//!   `monitor_cond_since` request as ours and only reads bytes, timed to
//!   the first and to the last byte of the reply. No client can load the
//!   replica faster than the last byte arrives;
//! - a `ReplicaSession` from the live server until its replica holds the
//!   whole database (connect, `_Server` check and schema, monitor, parse,
//!   build); and the same session against a fake server that replays the
//!   real server's answers at once (our side of a session, socket
//!   included, without the server's thinking);
//! - our side alone, on the captured reply bytes: framing, the JSON
//!   tokenizer alone (the parse floor), the old route through a
//!   `serde_json::Value` tree, and parsing straight into the replica; with
//!   heap allocations counted;
//! - reading the standalone `.db` file (compacted: one record), with its
//!   parts (reading the file, SHA-1 of the record);
//! - applying the transact file with our executor.
//!
//! Needs ovsdb-server, ovsdb-tool, ovsdb-client and ovs-appctl on PATH.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ovsdb::client::{Connection, Options, ReplicaSession, Selection};
use ovsdb::jsonrpc::Framer;
use ovsdb::remote::Remote;
use ovsdb::replica::{Replica, UpdateVersion};
use ovsdb::schema::nb_schema;
use serde_json::{json, Value};

/// Counts heap allocations (all threads).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(l.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(new as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and bytes allocated while `f` runs (its result dropped
/// outside the count).
fn allocations<T>(f: impl FnOnce() -> T) -> (u64, u64) {
    let (a, b) = (
        ALLOCS.load(Ordering::Relaxed),
        ALLOC_BYTES.load(Ordering::Relaxed),
    );
    let r = f();
    let out = (
        ALLOCS.load(Ordering::Relaxed) - a,
        ALLOC_BYTES.load(Ordering::Relaxed) - b,
    );
    drop(r);
    out
}

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

/// Times `f`; what it returns is dropped after the clock stops (freeing
/// a loaded database is not part of loading it).
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            let r = std::hint::black_box(f());
            let elapsed = t.elapsed();
            drop(r);
            elapsed
        })
        .collect()
}

/// The request our sessions send: every column of every NB table.
fn monitor_request(id: &str) -> Vec<u8> {
    let reqs = Selection::all().requests(nb_schema());
    let msg = json!({"id": 1, "method": "monitor_cond_since",
        "params": ["OVN_Northbound", id, reqs, "00000000-0000-0000-0000-000000000000"]});
    serde_json::to_vec(&msg).expect("request")
}

/// One floor run: connect, send the monitor request, read `len` bytes
/// (or, when `len` is `None`, up to the end of the first message, whose
/// bytes are returned). Times to the first and the last byte.
fn floor_run(sock: &Path, len: Option<usize>) -> (Duration, Duration, Vec<u8>) {
    let t = Instant::now();
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("connect");
    s.write_all(&monitor_request("floor")).expect("send");
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = Vec::new();
    let mut total = 0;
    let mut first = None;
    let mut framer = Framer::new(1 << 30);
    loop {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "server closed the connection");
        first.get_or_insert_with(|| t.elapsed());
        total += n;
        match len {
            Some(l) if total >= l => break,
            Some(_) => {}
            None => {
                framer.push(&buf[..n]);
                got.extend_from_slice(&buf[..n]);
                if framer.next_frame().expect("framing").is_some() {
                    break;
                }
            }
        }
    }
    (first.expect("a byte"), t.elapsed(), got)
}

/// One request to the real server, answered synchronously: its result.
fn raw_call(sock: &Path, method: &str, params: Value) -> Value {
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("connect");
    let msg = json!({"id": 1, "method": method, "params": params});
    s.write_all(&serde_json::to_vec(&msg).expect("request"))
        .expect("send");
    let mut framer = Framer::new(1 << 30);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "server closed the connection");
        framer.push(&buf[..n]);
        if let Some(frame) = framer.next_frame().expect("framing") {
            let mut v: Value = serde_json::from_slice(&frame).expect("reply JSON");
            return v["result"].take();
        }
    }
}

/// A server that answers each request with the result the real server
/// gave to the same method, at once: a session against it costs only our
/// side (and the socket).
fn replay_server(path: std::path::PathBuf, results: Vec<(&'static str, String)>) {
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            let mut framer = Framer::new(1 << 30);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                framer.push(&buf[..n]);
                while let Ok(Some(m)) = framer.next_message() {
                    if let ovsdb::jsonrpc::Message::Request { method, id, .. } = m {
                        let result = results
                            .iter()
                            .find(|(m, _)| *m == method)
                            .map_or("null", |(_, r)| r.as_str());
                        let _ = s.write_all(format!("{{\"id\":{id},\"result\":").as_bytes());
                        let _ = s.write_all(result.as_bytes());
                        let _ = s.write_all(b",\"error\":null}");
                    }
                }
            }
        }
    });
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
    let env = |c: &mut Command| {
        for v in [
            "OVS_RUNDIR",
            "OVS_LOGDIR",
            "OVS_DBDIR",
            "OVN_RUNDIR",
            "OVN_LOGDIR",
        ] {
            c.env(v, d);
        }
    };
    let db = d.join("nb.db");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/ovn-nb.ovsschema");
    run(Command::new("ovsdb-tool")
        .arg("create")
        .arg(&db)
        .arg(&schema));
    let sock = d.join("nb.sock");
    let mut server = Command::new("ovsdb-server");
    env(&mut server);
    run(server
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
    let params: Value =
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
    let mut compact = Command::new("ovs-appctl");
    env(&mut compact);
    run(compact
        .arg("-t")
        .arg(d.join("nb.ctl"))
        .arg("ovsdb-server/compact"));
    let db_bytes = std::fs::metadata(&db).expect("db").len();

    // The reply's bytes, once, for our side alone and for the floor's length.
    let (_, _, reply) = floor_run(&sock, None);
    let reply_len = reply.len();

    // The same answers, replayed at once by a fake server.
    let results = vec![
        (
            "transact",
            raw_call(
                &sock,
                "transact",
                json!(["_Server", {"op": "select", "table": "Database",
                    "where": [["name", "==", "OVN_Northbound"]],
                    "columns": ["model", "connected", "leader"]}]),
            )
            .to_string(),
        ),
        (
            "get_schema",
            raw_call(&sock, "get_schema", json!(["OVN_Northbound"])).to_string(),
        ),
        (
            "monitor_cond_since",
            serde_json::from_slice::<Value>(&reply).expect("reply JSON")["result"].to_string(),
        ),
    ];
    let replay_sock = d.join("replay.sock");
    replay_server(replay_sock.clone(), results);
    let replay_remote = Remote::Unix(replay_sock);
    let session = |remote: &Remote| {
        rt.block_on(async {
            let mut s = ReplicaSession::connect(
                vec![remote.clone()],
                "OVN_Northbound",
                &[],
                false,
                // A loaded machine's server may think for longer than the
                // probe; the probe is not what is measured.
                Options {
                    inactivity_probe: None,
                    ..Options::default()
                },
            )
            .await
            .expect("connect");
            let n = s.next().await.expect("initial contents").len();
            (n, s)
        })
    };
    let dump_cmd = |json: bool| {
        let mut c = Command::new("ovsdb-client");
        env(&mut c);
        if json {
            c.args(["-f", "json"]);
        }
        c.arg("dump")
            .arg(&remote)
            .arg("OVN_Northbound")
            .stdout(Stdio::null());
        c
    };
    let mut rows = 0;
    let (mut dump, mut dump_json, mut replica, mut replayed) = (vec![], vec![], vec![], vec![]);
    let (mut first_byte, mut last_byte) = (vec![], vec![]);
    for _ in 0..runs {
        dump.extend(time(1, || dump_cmd(false).status().expect("dump")));
        dump_json.extend(time(1, || dump_cmd(true).status().expect("dump")));
        let (first, last, _) = floor_run(&sock, Some(reply_len));
        first_byte.push(first);
        last_byte.push(last);
        // Let the server notice the closed connection.
        std::thread::sleep(Duration::from_millis(20));
        replica.extend(time(1, || {
            let (n, s) = session(&r);
            rows = n;
            s
        }));
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
        replayed.extend(time(1, || session(&replay_remote)));
        // Let the dropped session's tasks run to completion (closing its socket).
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
    }

    // Our side alone, on the captured reply.
    let schema = Arc::new(nb_schema().clone());
    let text = std::str::from_utf8(&reply).expect("UTF-8 reply");
    let updates_text = {
        let v: Value = serde_json::from_str(text).expect("reply JSON");
        assert_eq!(
            v["result"].as_array().map(Vec::len),
            Some(3),
            "{}",
            &text[..200]
        );
        v["result"][2].to_string()
    };
    let framing = time(runs, || {
        let mut f = Framer::new(1 << 30);
        for chunk in reply.chunks(256 * 1024) {
            f.push(chunk);
        }
        f.next_frame().expect("frame").expect("whole").len()
    });
    let tokenize = time(runs, || {
        serde_json::from_slice::<serde::de::IgnoredAny>(&reply).expect("JSON")
    });
    let value_tree = time(runs, || {
        serde_json::from_slice::<Value>(&reply).expect("JSON")
    });
    let build_new = || {
        let mut replica = Replica::new(schema.clone());
        replica
            .reset_to_json(UpdateVersion::V2, &updates_text)
            .expect("replica")
    };
    let parse_build = time(runs, build_new);
    let (build_allocs, build_bytes) = allocations(build_new);
    let (tree_allocs, tree_bytes) =
        allocations(|| serde_json::from_slice::<Value>(&reply).expect("JSON"));

    // The .db file and its parts.
    let file = time(runs, || ovsdb::file::read_db_file(&db).expect("read .db"));
    let (file_allocs, file_bytes) =
        allocations(|| ovsdb::file::read_db_file(&db).expect("read .db"));
    let file_read = time(runs, || std::fs::read(&db).expect("read"));
    let data = std::fs::read(&db).expect("read");
    let sha = time(runs, || sha1_smol::Sha1::from(&data[..]).digest());
    let transact = time(runs, || {
        ovsdb::transact_file::read_transact_file(Path::new(input)).expect("apply")
    });

    println!("NB: {rows} rows, transact JSON {:.2} MB, compacted .db {:.2} MB, monitor reply {:.2} MB; one transaction committing it all (our client → ovsdb-server) took {:.0} ms",
        json_bytes as f64 / 1e6, db_bytes as f64 / 1e6, reply_len as f64 / 1e6, commit.as_secs_f64() * 1e3);
    println!("runs: {runs}; times in ms as median (min–max)\n");
    println!("| measure | median | min | max | vs ovsdb-client dump |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let (base, _, _) = stats(dump.clone());
    for (name, v) in [
        ("ovsdb-client dump (text, real OVS 3.1)", dump),
        ("ovsdb-client -f json dump (real OVS 3.1)", dump_json),
        (
            "server reply floor: monitor_cond_since to the first byte",
            first_byte,
        ),
        (
            "server reply floor: monitor_cond_since to the last byte",
            last_byte,
        ),
        (
            "ovnflow replica from live ovsdb-server (whole session)",
            replica,
        ),
        (
            "  our side alone: the same session against a server replaying its answers",
            replayed,
        ),
        ("  our side alone: framing the reply", framing),
        (
            "  our side alone: JSON tokenizer only (parse floor)",
            tokenize,
        ),
        (
            "  our side alone: old route, reply → serde_json::Value",
            value_tree,
        ),
        (
            "  our side alone: parse straight into the replica",
            parse_build,
        ),
        ("ovnflow replica from the .db file", file),
        ("  of which: reading the file", file_read),
        ("  of which: SHA-1 of the file's bytes", sha),
        ("ovnflow executor on the transact file", transact),
    ] {
        let (m, lo, hi) = stats(v);
        println!("| {name} | {m:.1} | {lo:.1} | {hi:.1} | {:.2}× |", m / base);
    }
    println!();
    println!(
        "heap allocations: parse straight into the replica {build_allocs} ({:.1} MB); \
         reply → serde_json::Value alone {tree_allocs} ({:.1} MB); .db file {file_allocs} ({:.1} MB)",
        build_bytes as f64 / 1e6,
        tree_bytes as f64 / 1e6,
        file_bytes as f64 / 1e6
    );
}

struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.0).status();
    }
}
