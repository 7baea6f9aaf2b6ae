//! A private ovsdb-server for tests: its own temporary directory, socket,
//! pidfile, log and control socket; killed (only it) when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// True when the OVS/OVN binaries are on PATH. In CI (env `CI` set) their
/// absence is a failure, never a skip.
pub fn need_ovsdb() -> bool {
    let ok = Command::new("ovsdb-server")
        .arg("--version")
        .output()
        .is_ok();
    if !ok && std::env::var_os("CI").is_some() {
        panic!("ovsdb-server is not installed, but CI is set: live tests must run in CI");
    }
    if !ok {
        eprintln!("skipping: ovsdb-server not installed");
    }
    ok
}

/// Path of a bundled schema file.
pub fn schema_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(file)
}

/// A running private ovsdb-server.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub sock: PathBuf,
    /// The remote string clients use: `unix:<sock>`.
    pub remote: String,
    pid: Option<u32>,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

impl Server {
    /// A standalone server on a fresh database of `schema_file` (bundled).
    pub fn standalone(schema_file: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db.db");
        run(Command::new("ovsdb-tool")
            .arg("create")
            .arg(&db)
            .arg(schema_path(schema_file)));
        Server::start_on(dir, db)
    }

    /// A single-member RAFT cluster on a fresh database of `schema_file`.
    pub fn clustered(schema_file: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db.db");
        let raft = format!("unix:{}", dir.path().join("raft.sock").display());
        run(Command::new("ovsdb-tool")
            .arg("create-cluster")
            .arg(&db)
            .arg(schema_path(schema_file))
            .arg(&raft));
        Server::start_on(dir, db)
    }

    fn start_on(dir: tempfile::TempDir, db: PathBuf) -> Server {
        let sock = dir.path().join("db.sock");
        let remote = format!("unix:{}", sock.display());
        let mut s = Server {
            dir,
            db,
            sock,
            remote,
            pid: None,
        };
        s.start();
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts (or restarts) the daemon on the same database file.
    pub fn start(&mut self) {
        let _ = std::fs::remove_file(&self.sock);
        run(Command::new("ovsdb-server")
            .arg("--detach")
            .arg("--no-chdir")
            .arg(format!(
                "--pidfile={}",
                self.path("ovsdb-server.pid").display()
            ))
            .arg(format!(
                "--unixctl={}",
                self.path("ovsdb-server.ctl").display()
            ))
            .arg(format!(
                "--log-file={}",
                self.path("ovsdb-server.log").display()
            ))
            .arg(format!("--remote=punix:{}", self.sock.display()))
            .arg(&self.db)
            .env("OVS_RUNDIR", self.dir.path())
            .env("OVS_LOGDIR", self.dir.path())
            .env("OVS_DBDIR", self.dir.path()));
        let pid: u32 = std::fs::read_to_string(self.path("ovsdb-server.pid"))
            .expect("pidfile")
            .trim()
            .parse()
            .expect("pid");
        self.pid = Some(pid);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&self.sock).is_err() {
            assert!(
                Instant::now() < deadline,
                "ovsdb-server did not listen on {}",
                self.sock.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the daemon (SIGKILL), keeping its files.
    pub fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Kills and starts again on the same file.
    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }

    /// `ovsdb-client transact` of a params array; returns the result array.
    pub fn transact(&self, params: &Value) -> Value {
        let out = run(Command::new("ovsdb-client")
            .arg("transact")
            .arg(&self.remote)
            .arg(params.to_string()));
        serde_json::from_str(&out).expect("transact output is JSON")
    }

    /// Runs `ovn-nbctl` against this server.
    pub fn nbctl(&self, args: &[&str]) -> String {
        run(Command::new("ovn-nbctl")
            .arg(format!("--db={}", self.remote))
            .args(args))
    }

    /// The whole content as `{table: {uuid: {column: datum}}}`, from
    /// `ovsdb-client -f json dump` (empty tables left out).
    pub fn dump(&self, db_name: &str) -> Value {
        let out = run(Command::new("ovsdb-client")
            .args(["-f", "json", "dump"])
            .arg(&self.remote)
            .arg(db_name));
        let mut tables = serde_json::Map::new();
        // One JSON object per table: {"caption": "T table", "headings": [...], "data": [[...]]}.
        for line in serde_json::Deserializer::from_str(&out).into_iter::<Value>() {
            let t = line.expect("dump JSON");
            let name = t["caption"]
                .as_str()
                .expect("caption")
                .trim_end_matches(" table")
                .to_string();
            let heads: Vec<&str> = t["headings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap())
                .collect();
            let mut rows = serde_json::Map::new();
            for r in t["data"].as_array().unwrap() {
                let mut row = serde_json::Map::new();
                let mut uuid = String::new();
                for (h, v) in heads.iter().zip(r.as_array().unwrap()) {
                    match *h {
                        "_uuid" => uuid = v[1].as_str().unwrap().to_string(),
                        "_version" => {}
                        h => {
                            row.insert(h.to_string(), v.clone());
                        }
                    }
                }
                rows.insert(uuid, Value::Object(row));
            }
            if !rows.is_empty() {
                tables.insert(name, Value::Object(rows));
            }
        }
        Value::Object(tables)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A RAFT cluster of `n` ovsdb-servers on one schema, each with its own
/// directory entries; member 0 created the cluster and starts as leader.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub members: Vec<Member>,
}

/// One cluster member.
pub struct Member {
    pub db: PathBuf,
    pub sock: PathBuf,
    pub remote: String,
    pub name: String,
    pid: Option<u32>,
}

impl Cluster {
    pub fn start(schema_file: &str, n: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let raft = |i: usize| format!("unix:{}", dir.path().join(format!("s{i}.raft")).display());
        let mut members = Vec::new();
        for i in 0..n {
            let db = dir.path().join(format!("s{i}.db"));
            if i == 0 {
                run(Command::new("ovsdb-tool")
                    .arg("create-cluster")
                    .arg(&db)
                    .arg(schema_path(schema_file))
                    .arg(raft(0)));
            } else {
                let schema: Value = serde_json::from_str(
                    &std::fs::read_to_string(schema_path(schema_file)).unwrap(),
                )
                .unwrap();
                run(Command::new("ovsdb-tool")
                    .arg("join-cluster")
                    .arg(&db)
                    .arg(schema["name"].as_str().unwrap())
                    .arg(raft(i))
                    .arg(raft(0)));
            }
            let sock = dir.path().join(format!("s{i}.sock"));
            let remote = format!("unix:{}", sock.display());
            members.push(Member {
                db,
                sock,
                remote,
                name: format!("s{i}"),
                pid: None,
            });
        }
        let mut c = Cluster { dir, members };
        for i in 0..n {
            c.start_member(i);
        }
        // Joining members are members only once the leader has added them;
        // until then the cluster is the creator alone.
        let deadline = Instant::now() + Duration::from_secs(60);
        for m in &c.members {
            let ctl = c.dir.path().join(format!("{}.ctl", m.name));
            loop {
                let out = Command::new("ovs-appctl")
                    .arg("-t")
                    .arg(&ctl)
                    .args(["cluster/status", "OVN_Northbound"])
                    .output()
                    .expect("ovs-appctl");
                if String::from_utf8_lossy(&out.stdout).contains("Status: cluster member") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} did not join the cluster",
                    m.name
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        c
    }

    pub fn start_member(&mut self, i: usize) {
        let d = self.dir.path().to_path_buf();
        let m = &mut self.members[i];
        let _ = std::fs::remove_file(&m.sock);
        let pidfile = d.join(format!("{}.pid", m.name));
        run(Command::new("ovsdb-server")
            .arg("--detach")
            .arg("--no-chdir")
            .arg(format!("--pidfile={}", pidfile.display()))
            .arg(format!(
                "--unixctl={}",
                d.join(format!("{}.ctl", m.name)).display()
            ))
            .arg(format!(
                "--log-file={}",
                d.join(format!("{}.log", m.name)).display()
            ))
            .arg(format!("--remote=punix:{}", m.sock.display()))
            .arg(&m.db)
            .env("OVS_RUNDIR", &d)
            .env("OVS_LOGDIR", &d)
            .env("OVS_DBDIR", &d));
        m.pid = Some(
            std::fs::read_to_string(&pidfile)
                .unwrap()
                .trim()
                .parse()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&m.sock).is_err() {
            assert!(
                Instant::now() < deadline,
                "member {} did not listen",
                m.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills one member (SIGKILL).
    pub fn kill_member(&mut self, i: usize) {
        if let Some(pid) = self.members[i].pid.take() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    }

    /// The running members' remotes, comma-separated, as OVN tools take them.
    pub fn remotes(&self) -> String {
        self.members
            .iter()
            .filter(|m| m.pid.is_some())
            .map(|m| m.remote.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `ovn-nbctl` against the whole cluster (it finds the leader).
    pub fn nbctl(&self, args: &[&str]) -> String {
        // Retried for up to 30 s while the cluster elects a leader.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new("ovn-nbctl")
                .arg(format!("--db={}", self.remotes()))
                .args(args)
                .output()
                .expect("spawn");
            if out.status.success() {
                return String::from_utf8(out.stdout).expect("utf-8");
            }
            assert!(
                Instant::now() < deadline,
                "ovn-nbctl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
    }
}

/// An NB dump (`{table: {uuid: {column: json}}}`) with every datum
/// re-encoded through its column type, so that two dumps compare as data
/// (set and map order, integer/real spelling) rather than as text.
pub fn normalize(dump: &Value) -> Value {
    let schema = ovsdb::schema::nb_schema();
    let mut out = serde_json::Map::new();
    for (t, rows) in dump.as_object().expect("tables") {
        let ts = schema.table(t).expect("NB table");
        let mut rm = serde_json::Map::new();
        for (u, row) in rows.as_object().expect("rows") {
            let cols: serde_json::Map<String, Value> = row
                .as_object()
                .expect("row")
                .iter()
                .map(|(c, v)| {
                    (
                        c.clone(),
                        ts.column(c)
                            .expect("column")
                            .ty
                            .parse_datum(v)
                            .expect("datum")
                            .to_json(),
                    )
                })
                .collect();
            rm.insert(u.clone(), Value::Object(cols));
        }
        out.insert(t.clone(), Value::Object(rm));
    }
    Value::Object(out)
}
