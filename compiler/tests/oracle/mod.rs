//! A private real OVN control plane for tests: NB and SB `ovsdb-server`s and
//! `ovn-northd` in a temporary directory, killed (by pid) on drop.
//!
//! Tests run when the binaries are on PATH; with `CI` set they are required.

pub mod canon;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

/// False (skip) when the OVN binaries are missing and `CI` is unset; panics
/// in CI when they are missing.
pub fn need_ovn() -> bool {
    let have = [
        "ovsdb-server",
        "ovsdb-tool",
        "ovsdb-client",
        "ovn-northd",
        "ovn-nbctl",
    ]
    .iter()
    .all(|b| on_path(b));
    if !have && std::env::var_os("CI").is_some() {
        panic!("CI is set but ovsdb-server/ovn-northd are not on PATH");
    }
    have
}

/// The schemas bundled with the workspace.
fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ovsdb/schemas")
        .join(name)
}

/// A running NB + SB + northd.
pub struct Oracle {
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl Oracle {
    fn cmd(&self, bin: &str) -> Command {
        let mut c = Command::new(bin);
        for var in [
            "OVS_RUNDIR",
            "OVS_LOGDIR",
            "OVS_DBDIR",
            "OVN_RUNDIR",
            "OVN_LOGDIR",
        ] {
            c.env(var, self.dir.path());
        }
        c.env("OVN_NB_DB", format!("unix:{}", self.path("nb.sock")));
        c.env("OVN_SB_DB", format!("unix:{}", self.path("sb.sock")));
        c.stdin(Stdio::null());
        c
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn spawn(&mut self, bin: &str, args: &[String]) {
        let child = self
            .cmd(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        self.children.push(child);
    }

    fn wait_for(&self, file: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.dir.path().join(file).exists() {
            assert!(
                Instant::now() < deadline,
                "{file} did not appear in {}",
                self.dir.path().display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the ovsdb-server listening on `sock` answers.
    fn wait_ready(&self, sock: &str) {
        self.wait_for(sock);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = self
                .cmd("ovsdb-client")
                .args(["list-dbs", &format!("unix:{}", self.path(sock))])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "{sock} does not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the NB and SB ovsdb-servers (see [`Oracle::start_northd`]).
    pub fn start() -> Oracle {
        let dir = tempfile::Builder::new()
            .prefix("ovnflow-oracle")
            .tempdir()
            .expect("temp dir");
        let mut o = Oracle {
            dir,
            children: Vec::new(),
        };
        for (db, sch) in [("nb", "ovn-nb.ovsschema"), ("sb", "ovn-sb.ovsschema")] {
            let st = o
                .cmd("ovsdb-tool")
                .args([
                    "create",
                    &o.path(&format!("{db}.db")),
                    &schema(sch).display().to_string(),
                ])
                .status()
                .expect("ovsdb-tool");
            assert!(st.success(), "ovsdb-tool create {db} failed");
            let args = vec![
                "--no-chdir".to_string(),
                format!("--pidfile={}", o.path(&format!("{db}.pid"))),
                format!("--unixctl={}", o.path(&format!("{db}.ctl"))),
                format!("--remote=punix:{}", o.path(&format!("{db}.sock"))),
                format!("--log-file={}", o.path(&format!("{db}.log"))),
                o.path(&format!("{db}.db")),
            ];
            o.spawn("ovsdb-server", &args);
        }
        o.wait_ready("nb.sock");
        o.wait_ready("sb.sock");
        o
    }

    /// Starts ovn-northd against the two databases.
    pub fn start_northd(&mut self) {
        let args = vec![
            "--no-chdir".to_string(),
            format!("--pidfile={}", self.path("northd.pid")),
            format!("--unixctl={}", self.path("northd.ctl")),
            format!("--log-file={}", self.path("northd.log")),
            format!("--ovnnb-db=unix:{}", self.path("nb.sock")),
            format!("--ovnsb-db=unix:{}", self.path("sb.sock")),
        ];
        self.spawn("ovn-northd", &args);
    }

    /// Runs `ovn-nbctl LINE` (LINE in shell syntax) against the NB.
    pub fn nbctl(&self, line: &str) {
        let out = self
            .cmd("bash")
            .arg("-c")
            .arg(format!(
                "ovn-nbctl --db=unix:{} {line}",
                self.path("nb.sock")
            ))
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "ovn-nbctl {line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs one NB transaction (`ovsdb-client transact`).
    pub fn transact(&self, json: &str) {
        let out = self
            .cmd("ovsdb-client")
            .args(["transact", &format!("unix:{}", self.path("nb.sock")), json])
            .output()
            .expect("ovsdb-client");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && !text.contains("\"error\""),
            "transact failed: {text}"
        );
    }

    /// Waits until northd has processed every NB change.
    pub fn sync(&self) {
        self.nbctl("--wait=sb --timeout=30 sync");
    }

    /// The whole SB as `ovsdb-client dump -f json` prints it.
    pub fn dump_sb(&self) -> String {
        let out = self
            .cmd("ovsdb-client")
            .args([
                "dump",
                "-f",
                "json",
                &format!("unix:{}", self.path("sb.sock")),
                "OVN_Southbound",
            ])
            .output()
            .expect("ovsdb-client");
        assert!(out.status.success(), "ovsdb-client dump failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ovn-sbctl lflow-list`.
    pub fn lflow_list(&self) -> String {
        let out = self
            .cmd("ovn-sbctl")
            .args([&format!("--db=unix:{}", self.path("sb.sock")), "lflow-list"])
            .output()
            .expect("ovn-sbctl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The NB database file (with its full transaction history).
    pub fn nb_db(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nb.db")).expect("nb.db")
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        // Exactly the processes this oracle started.
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
