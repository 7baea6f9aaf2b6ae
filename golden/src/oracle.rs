//! A private real OVN control plane: NB and SB `ovsdb-server`s and
//! `ovn-northd` 23.03 in a temporary directory, every daemon told to keep
//! its sockets, pid files, control sockets and logs there, and killed (by
//! the pid we started) on drop.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the oracle failed: the command or file and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleError(pub String);

impl fmt::Display for OracleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OracleError {}

/// Oracle results.
pub type Result<T> = std::result::Result<T, OracleError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(OracleError(msg.into()))
}

/// The binaries the oracle runs.
pub const BINARIES: &[&str] = &[
    "ovsdb-server",
    "ovsdb-tool",
    "ovsdb-client",
    "ovn-northd",
    "ovn-nbctl",
    "ovn-sbctl",
];

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

/// Whether live tests run: true when the OVN binaries are on PATH. With
/// `CI` set they are required, and their absence is an error (a live test
/// must fail, not skip, in CI).
pub fn available() -> Result<bool> {
    let missing: Vec<&str> = BINARIES.iter().copied().filter(|b| !on_path(b)).collect();
    if missing.is_empty() {
        Ok(true)
    } else if std::env::var_os("CI").is_some() {
        err(format!("CI is set but {} not on PATH", missing.join(", ")))
    } else {
        Ok(false)
    }
}

/// The OVSDB schemas bundled with the workspace (`ovsdb/schemas/`).
pub fn schema_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ovsdb/schemas")
        .join(file)
}

/// A running NB + SB ovsdb-server pair, and northd once started.
pub struct Oracle {
    dir: tempfile::TempDir,
    /// The daemons started, with the name each was started as.
    children: Vec<(String, Child)>,
}

impl Oracle {
    /// Starts the NB and SB ovsdb-servers on fresh databases (northd is
    /// started by [`Oracle::start_northd`], so that a first transaction can
    /// go in before northd sees the NB).
    pub fn start() -> Result<Oracle> {
        let dir = tempfile::Builder::new()
            .prefix("ovnflow-golden")
            .tempdir()
            .map_err(|e| OracleError(format!("temp dir: {e}")))?;
        let mut o = Oracle {
            dir,
            children: Vec::new(),
        };
        for (db, sch) in [("nb", "ovn-nb.ovsschema"), ("sb", "ovn-sb.ovsschema")] {
            let create = o
                .cmd("ovsdb-tool")
                .args(["create", &o.path(&format!("{db}.db"))])
                .arg(schema_path(sch))
                .output();
            check("ovsdb-tool create", create)?;
            let args = vec![
                "--no-chdir".to_string(),
                format!("--pidfile={}", o.path(&format!("{db}.pid"))),
                format!("--unixctl={}", o.path(&format!("{db}.ctl"))),
                format!("--remote=punix:{}", o.path(&format!("{db}.sock"))),
                format!("--log-file={}", o.path(&format!("{db}.log"))),
                o.path(&format!("{db}.db")),
            ];
            o.spawn("ovsdb-server", &args)?;
        }
        o.wait_ready("nb.sock")?;
        o.wait_ready("sb.sock")?;
        Ok(o)
    }

    /// The private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

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

    fn spawn(&mut self, bin: &str, args: &[String]) -> Result<()> {
        let child = self
            .cmd(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| OracleError(format!("cannot start {bin}: {e}")))?;
        self.children.push((bin.to_string(), child));
        Ok(())
    }

    /// Waits until the ovsdb-server listening on `sock` answers.
    fn wait_ready(&self, sock: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = self.dir.path().join(sock).exists()
                && self
                    .cmd("ovsdb-client")
                    .args(["list-dbs", &format!("unix:{}", self.path(sock))])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                return err(format!("{sock} does not answer in {}", self.path("")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts ovn-northd against the two databases.
    pub fn start_northd(&mut self) -> Result<()> {
        self.start_daemon(Path::new("ovn-northd"), &[], "northd")
            .map(drop)
    }

    /// Starts a northd-compatible daemon: `program` with `pre_args` (e.g.
    /// `ovnflow` and `["northd"]`) and ovn-northd's flags pointing at the
    /// two databases, its pid file, control socket and log named `name.*`
    /// in the private directory. Returns its process id (it runs in the
    /// foreground, so this is the daemon itself; killed on drop).
    pub fn start_daemon(&mut self, program: &Path, pre_args: &[&str], name: &str) -> Result<u32> {
        let mut args: Vec<String> = pre_args.iter().map(|a| a.to_string()).collect();
        args.extend([
            "--no-chdir".to_string(),
            format!("--pidfile={}", self.path(&format!("{name}.pid"))),
            format!("--unixctl={}", self.path(&format!("{name}.ctl"))),
            format!("--log-file={}", self.path(&format!("{name}.log"))),
            format!("--ovnnb-db={}", self.nb_remote()),
            format!("--ovnsb-db={}", self.sb_remote()),
        ]);
        let child = self
            .cmd(&program.display().to_string())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| OracleError(format!("cannot start {}: {e}", program.display())))?;
        let pid = child.id();
        self.children.push((name.to_string(), child));
        Ok(pid)
    }

    /// One line per daemon started: its name, pid and whether it still runs
    /// (for failure reports: a daemon that died says why the rest waited).
    pub fn daemons(&self) -> String {
        self.children
            .iter()
            .map(|(name, c)| format!("{name} (pid {}): {}\n", c.id(), process_state(c.id())))
            .collect()
    }

    /// The NB server's remote, `unix:…/nb.sock`.
    pub fn nb_remote(&self) -> String {
        format!("unix:{}", self.path("nb.sock"))
    }

    /// The SB server's remote, `unix:…/sb.sock`.
    pub fn sb_remote(&self) -> String {
        format!("unix:{}", self.path("sb.sock"))
    }

    /// Runs `ovn-nbctl LINE` (LINE in shell syntax, so `$(…)` works; the NB
    /// is named by `OVN_NB_DB`, which keeps the temp path out of the
    /// transaction's comment).
    pub fn nbctl(&self, line: &str) -> Result<String> {
        let out = self
            .cmd("bash")
            .arg("-c")
            .arg(format!("ovn-nbctl {line}"))
            .output();
        check(&format!("ovn-nbctl {line}"), out)
    }

    /// Runs `ovn-sbctl LINE` (shell syntax, like [`Oracle::nbctl`]): SB
    /// input that ovn-controller would write (chassis, port claims,
    /// monitor status).
    pub fn sbctl(&self, line: &str) -> Result<String> {
        let out = self
            .cmd("bash")
            .arg("-c")
            .arg(format!("ovn-sbctl {line}"))
            .output();
        check(&format!("ovn-sbctl {line}"), out)
    }

    /// Runs one NB transaction (a transact params array), sent as a JSON-RPC
    /// `transact` request straight to the NB server's socket: a transaction
    /// of any size (a benchmark-scale NB is several MB, more than a command
    /// line may hold).
    pub fn transact(&self, params: &serde_json::Value) -> Result<()> {
        let reply = self.rpc("nb.sock", "transact", params)?;
        let text = reply.to_string();
        if text.contains("\"error\"") {
            return err(format!("transact: {}", trim(&text)));
        }
        Ok(())
    }

    /// One JSON-RPC request on the server socket `sock`; answers the
    /// server's `echo` probes while waiting, returns the reply's `result`
    /// (or its `error` as an error).
    fn rpc(
        &self,
        sock: &str,
        method: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        use std::io::Write;
        use std::os::unix::net::UnixStream;
        let path = self.path(sock);
        let fail = |what: &str, e: &dyn fmt::Display| OracleError(format!("{path}: {what}: {e}"));
        let mut stream = UnixStream::connect(&path).map_err(|e| fail("connect", &e))?;
        let request = serde_json::json!({"id": 0, "method": method, "params": params});
        stream
            .write_all(request.to_string().as_bytes())
            .map_err(|e| fail("write", &e))?;
        let reader = stream.try_clone().map_err(|e| fail("clone", &e))?;
        let messages = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader))
            .into_iter::<serde_json::Value>();
        for msg in messages {
            let msg = msg.map_err(|e| fail("read", &e))?;
            if msg.get("method").and_then(|m| m.as_str()) == Some("echo") {
                let id = msg.get("id").cloned().unwrap_or(serde_json::Value::Null);
                let params = msg.get("params").cloned().unwrap_or_default();
                let reply = serde_json::json!({"id": id, "result": params, "error": null});
                stream
                    .write_all(reply.to_string().as_bytes())
                    .map_err(|e| fail("write", &e))?;
                continue;
            }
            if msg.get("id") != Some(&serde_json::json!(0)) {
                continue;
            }
            return match msg.get("error") {
                Some(e) if !e.is_null() => err(format!("{method} on {path}: {e}")),
                _ => Ok(msg.get("result").cloned().unwrap_or_default()),
            };
        }
        err(format!(
            "{path}: connection closed before the {method} reply"
        ))
    }

    /// Waits until northd has processed every NB change so far.
    pub fn sync(&self) -> Result<()> {
        self.nbctl("--wait=sb --timeout=900 sync").map(drop)
    }

    /// The whole SB as `ovsdb-client dump -f json` prints it.
    pub fn dump_sb(&self) -> Result<String> {
        self.dump("sb.sock", "OVN_Southbound")
    }

    /// The whole NB as `ovsdb-client dump -f json` prints it.
    pub fn dump_nb(&self) -> Result<String> {
        self.dump("nb.sock", "OVN_Northbound")
    }

    fn dump(&self, sock: &str, db: &str) -> Result<String> {
        let out = self
            .cmd("ovsdb-client")
            .args(["dump", "-f", "json"])
            .arg(format!("unix:{}", self.path(sock)))
            .arg(db)
            .output();
        check("ovsdb-client dump", out)
    }

    /// `ovn-sbctl lflow-list`.
    pub fn lflow_list(&self) -> Result<String> {
        let out = self.cmd("ovn-sbctl").arg("lflow-list").output();
        check("ovn-sbctl lflow-list", out)
    }

    /// The NB database file, with its whole transaction history.
    pub fn nb_db(&self) -> Result<String> {
        std::fs::read_to_string(self.dir.path().join("nb.db"))
            .map_err(|e| OracleError(format!("{}: {e}", self.path("nb.db"))))
    }
}

fn trim(s: &str) -> String {
    s.chars().take(2000).collect()
}

fn check(what: &str, out: std::io::Result<std::process::Output>) -> Result<String> {
    let out = out.map_err(|e| OracleError(format!("{what}: {e}")))?;
    if !out.status.success() {
        return err(format!(
            "{what}: {}: {}",
            out.status,
            trim(&String::from_utf8_lossy(&out.stderr))
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `running`, or `exited` for a process that is gone or a zombie (a child
/// not yet reaped), read from `/proc`.
pub fn process_state(pid: u32) -> &'static str {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat)
            if !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z') =>
        {
            "running"
        }
        _ => "exited",
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        // Exactly the processes this oracle started.
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
