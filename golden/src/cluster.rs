//! Clustered (RAFT) ovsdb-servers for tests and benchmarks: `n` members of
//! one database in a private directory, each with its own socket, control
//! socket, pid file and log, killed on drop. Members can be killed and
//! started again to exercise leader changes, as a 3-member OVN control
//! plane sees them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::oracle::{schema_path, OracleError};

type Result<T> = std::result::Result<T, OracleError>;

fn fail<T>(msg: String) -> Result<T> {
    Err(OracleError(msg))
}

/// A RAFT cluster of ovsdb-servers serving one database.
pub struct Cluster {
    dir: tempfile::TempDir,
    /// The database name (`OVN_Northbound`, `OVN_Southbound`).
    pub db: String,
    members: Vec<Option<u32>>,
    prefix: String,
}

impl Cluster {
    /// Creates and starts a cluster of `n` members on a fresh database of
    /// the bundled schema `schema_file` (e.g. `ovn-sb.ovsschema`); returns
    /// once every member has joined. `prefix` names the members' files
    /// (`PREFIX0.sock`, …).
    pub fn start(schema_file: &str, prefix: &str, n: usize) -> Result<Cluster> {
        let dir = tempfile::Builder::new()
            .prefix("ovnflow-raft")
            .tempdir()
            .map_err(|e| OracleError(format!("temp dir: {e}")))?;
        let schema: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(schema_path(schema_file))
                .map_err(|e| OracleError(format!("{schema_file}: {e}")))?,
        )
        .map_err(|e| OracleError(format!("{schema_file}: {e}")))?;
        let db = schema["name"].as_str().unwrap_or_default().to_string();
        let mut c = Cluster {
            dir,
            db,
            members: vec![None; n],
            prefix: prefix.to_string(),
        };
        for i in 0..n {
            let file = c.file(i, "db");
            let mut cmd = Command::new("ovsdb-tool");
            if i == 0 {
                cmd.arg("create-cluster")
                    .arg(&file)
                    .arg(schema_path(schema_file))
                    .arg(c.raft(0));
            } else {
                cmd.arg("join-cluster")
                    .arg(&file)
                    .arg(&c.db)
                    .arg(c.raft(i))
                    .arg(c.raft(0));
            }
            run(&mut cmd)?;
        }
        for i in 0..n {
            c.start_member(i)?;
        }
        // A joining member is a member once the leader has added it.
        let deadline = Instant::now() + Duration::from_secs(60);
        for i in 0..n {
            while !c.status(i).contains("Status: cluster member") {
                if Instant::now() > deadline {
                    return fail(format!("{}{i} did not join the cluster", c.prefix));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(c)
    }

    /// The private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, i: usize, ext: &str) -> PathBuf {
        self.dir.path().join(format!("{}{i}.{ext}", self.prefix))
    }

    fn raft(&self, i: usize) -> String {
        format!("unix:{}", self.file(i, "raft").display())
    }

    /// The remote of member `i`.
    pub fn remote(&self, i: usize) -> String {
        format!("unix:{}", self.file(i, "sock").display())
    }

    /// Every member's remote, comma-separated, as OVN daemons take them
    /// (also those of members that are down: clients skip them).
    pub fn remotes(&self) -> String {
        (0..self.members.len())
            .map(|i| self.remote(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The remotes of the running members only.
    pub fn live_remotes(&self) -> String {
        (0..self.members.len())
            .filter(|i| self.members[*i].is_some())
            .map(|i| self.remote(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts member `i` on its database file.
    pub fn start_member(&mut self, i: usize) -> Result<()> {
        let _ = std::fs::remove_file(self.file(i, "sock"));
        let pidfile = self.file(i, "pid");
        let d = self.dir.path();
        run(Command::new("ovsdb-server")
            .arg("--detach")
            .arg("--no-chdir")
            .arg(format!("--pidfile={}", pidfile.display()))
            .arg(format!("--unixctl={}", self.file(i, "ctl").display()))
            .arg(format!("--log-file={}", self.file(i, "log").display()))
            .arg(format!("--remote=punix:{}", self.file(i, "sock").display()))
            .arg(self.file(i, "db"))
            .env("OVS_RUNDIR", d)
            .env("OVS_LOGDIR", d)
            .env("OVS_DBDIR", d))?;
        let pid = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        self.members[i] = pid;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(self.file(i, "sock")).is_err() {
            if Instant::now() > deadline {
                return fail(format!("{}{i} does not listen", self.prefix));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Kills member `i` (SIGKILL: no goodbye to the cluster).
    pub fn kill_member(&mut self, i: usize) {
        if let Some(pid) = self.members[i].take() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// `cluster/status` of member `i` (empty when it does not answer).
    pub fn status(&self, i: usize) -> String {
        Command::new("ovs-appctl")
            .arg("-t")
            .arg(self.file(i, "ctl"))
            .args(["cluster/status", &self.db])
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The running member that is the leader, waiting up to `secs` for an
    /// election.
    pub fn leader(&self, secs: u64) -> Option<usize> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let found = (0..self.members.len())
                .filter(|i| self.members[*i].is_some())
                .find(|i| self.status(*i).contains("Role: leader"));
            if found.is_some() || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A standalone copy of the database (`ovsdb-client backup` from a
    /// running member), in the file format `ovsdb::file` reads.
    pub fn backup(&self) -> Result<String> {
        let i = (0..self.members.len())
            .find(|i| self.members[*i].is_some())
            .ok_or_else(|| OracleError("no member running".into()))?;
        let out = Command::new("ovsdb-client")
            .args(["backup", &self.remote(i), &self.db])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| OracleError(format!("ovsdb-client backup: {e}")))?;
        if !out.status.success() {
            return fail(format!(
                "ovsdb-client backup: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The database with its history, as a standalone database file's text:
    /// a running member's file converted by `ovsdb-tool
    /// cluster-to-standalone` (one record per committed transaction, as
    /// long as the cluster has not compacted its log).
    pub fn history(&self) -> Result<String> {
        let i = (0..self.members.len())
            .find(|i| self.members[*i].is_some())
            .ok_or_else(|| OracleError("no member running".into()))?;
        let copy = self.dir.path().join("history-in.db");
        let out = self.dir.path().join("history-out.db");
        let _ = std::fs::remove_file(&out);
        std::fs::copy(self.file(i, "db"), &copy)
            .map_err(|e| OracleError(format!("copy {}: {e}", copy.display())))?;
        run(Command::new("ovsdb-tool")
            .arg("cluster-to-standalone")
            .arg(&out)
            .arg(&copy))?;
        std::fs::read_to_string(&out).map_err(|e| OracleError(format!("{}: {e}", out.display())))
    }

    /// `ovsdb-client dump -f json` of the database from a running member.
    pub fn dump(&self) -> Result<String> {
        let i = (0..self.members.len())
            .find(|i| self.members[*i].is_some())
            .ok_or_else(|| OracleError("no member running".into()))?;
        let out = Command::new("ovsdb-client")
            .args(["dump", "-f", "json", &self.remote(i), &self.db])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| OracleError(format!("ovsdb-client dump: {e}")))?;
        if !out.status.success() {
            return fail(format!(
                "ovsdb-client dump: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| OracleError(format!("{cmd:?}: {e}")))?;
    if !out.status.success() {
        return fail(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}
