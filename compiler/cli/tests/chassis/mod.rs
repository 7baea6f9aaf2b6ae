//! A real userspace OVN chassis for end-to-end tests, next to golden's
//! oracle (NB/SB ovsdb-servers and ovn-northd): an Open_vSwitch
//! ovsdb-server, ovs-vswitchd with a `netdev` (userspace) integration
//! bridge and ovn-controller, everything in the oracle's private
//! directory. ovs-vswitchd runs in its own network namespace (the
//! "host"), so its tap devices and the pods' veth host ends cannot clash
//! with anybody else's; pods are network namespaces. All names carry a
//! per-process prefix, and [`Chassis`]'s Drop kills exactly the daemons it
//! started and deletes exactly the namespaces it created.
//!
//! Packet tools work without binaries: a thread enters a namespace with
//! `setns(2)` and opens a raw ICMP or TCP socket there.

#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovnflow_golden::oracle::Oracle;

/// The running chassis.
pub struct Chassis {
    /// The oracle (NB, SB, northd); its directory holds everything.
    pub oracle: Oracle,
    /// Name prefix of namespaces and the bridge.
    pub prefix: String,
    /// The integration bridge.
    pub bridge: String,
    /// The host namespace (where ovs-vswitchd and the veth host ends live).
    pub host_ns: String,
    children: Vec<(String, Child)>,
    namespaces: Vec<String>,
}

fn sh(prog: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{prog} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits up to `secs` for `f` to hold.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

impl Chassis {
    /// Starts the control plane and a chassis named `system_id`.
    pub fn start(system_id: &str) -> Result<Chassis, String> {
        Chassis::start_with(system_id, true)
    }

    /// [`Chassis::start`], with ovn-controller started only if
    /// `ovn_controller` (else the chassis waits for one).
    pub fn start_with(system_id: &str, ovn_controller: bool) -> Result<Chassis, String> {
        Chassis::start_full(system_id, ovn_controller, true)
    }

    /// [`Chassis::start_with`], with real ovn-northd started only if
    /// `real_northd` (else the test starts its own northd).
    pub fn start_full(
        system_id: &str,
        ovn_controller: bool,
        real_northd: bool,
    ) -> Result<Chassis, String> {
        let mut oracle = Oracle::start().map_err(|e| e.to_string())?;
        if real_northd {
            oracle.start_northd().map_err(|e| e.to_string())?;
        }
        let prefix = format!("ovf{}", std::process::id() % 100_000);
        let mut c = Chassis {
            oracle,
            bridge: format!("{prefix}-int"),
            host_ns: format!("{prefix}-host"),
            prefix,
            children: Vec::new(),
            namespaces: Vec::new(),
        };
        let host = c.host_ns.clone();
        c.add_netns(&host)?;
        let dir = c.dir();
        let p = |n: &str| dir.join(n).display().to_string();
        sh(
            "ovsdb-tool",
            &[
                "create",
                &p("conf.db"),
                "/usr/share/openvswitch/vswitch.ovsschema",
            ],
        )?;
        c.spawn(
            None,
            "ovsdb-server",
            &[
                "--no-chdir".into(),
                format!("--pidfile={}", p("ovsdb-vs.pid")),
                format!("--unixctl={}", p("ovsdb-vs.ctl")),
                format!("--log-file={}", p("ovsdb-vs.log")),
                format!("--remote=punix:{}", p("db.sock")),
                p("conf.db"),
            ],
        )?;
        if !wait_for(20, || {
            dir.join("db.sock").exists() && c.vsctl(&["--no-wait", "init"]).is_ok()
        }) {
            return Err("Open_vSwitch ovsdb-server does not answer".into());
        }
        c.spawn(
            Some(&host),
            "ovs-vswitchd",
            &[
                format!("unix:{}", p("db.sock")),
                "--no-chdir".into(),
                "--disable-system-route".into(),
                format!("--pidfile={}", p("ovs-vswitchd.pid")),
                format!("--unixctl={}", p("ovs-vswitchd.ctl")),
                format!("--log-file={}", p("ovs-vswitchd.log")),
            ],
        )?;
        let sb = format!("unix:{}", p("sb.sock"));
        let br = c.bridge.clone();
        c.vsctl(&[
            "--",
            "set",
            "Open_vSwitch",
            ".",
            &format!("external_ids:system-id={system_id}"),
            &format!("external_ids:hostname={system_id}"),
            &format!("external_ids:ovn-remote=\"{sb}\""),
            "external_ids:ovn-encap-type=geneve",
            "external_ids:ovn-encap-ip=127.0.0.1",
            &format!("external_ids:ovn-bridge={br}"),
            "external_ids:ovn-bridge-datapath-type=netdev",
            "--",
            "--may-exist",
            "add-br",
            &br,
            "--",
            "set",
            "Bridge",
            &br,
            "datapath_type=netdev",
            "fail-mode=secure",
            "other-config:disable-in-band=true",
        ])?;
        if !ovn_controller {
            return Ok(c);
        }
        c.start_ovn_controller()?;
        Ok(c)
    }

    /// Starts real ovn-controller and waits until the chassis is in the SB.
    pub fn start_ovn_controller(&mut self) -> Result<(), String> {
        let system_id = self
            .vsctl(&["get", "Open_vSwitch", ".", "external_ids:system-id"])?
            .trim()
            .trim_matches('"')
            .to_string();
        self.wait_sb_global()?;
        self.spawn_ovn_controller()?;
        let c = self;
        let registered = wait_for(30, || {
            c.sbctl(&["--bare", "--columns=name", "list", "Chassis"])
                .is_ok_and(|o| o.lines().any(|l| l.trim() == system_id))
        });
        if !registered {
            return Err(format!(
                "chassis {system_id} never registered:\n{}",
                c.logs()
            ));
        }
        Ok(())
    }

    /// Waits until northd has written the `SB_Global` row: ovn-controller
    /// 23.03 dereferences it as soon as its OpenFlow connection is up and
    /// dies (SIGSEGV) when there is none, so in any real deployment northd
    /// wrote it first.
    fn wait_sb_global(&self) -> Result<(), String> {
        let has_global = wait_for(30, || {
            self.sbctl(&["--bare", "--columns=_uuid", "list", "SB_Global"])
                .is_ok_and(|o| !o.trim().is_empty())
        });
        if !has_global {
            return Err(format!(
                "no SB_Global row after 30 s: northd never wrote the SB\n{}",
                self.logs()
            ));
        }
        Ok(())
    }

    /// Starts real ovn-controller and returns at once (it needs the
    /// `SB_Global` row: see [`Chassis::wait_sb_global`]).
    pub fn spawn_ovn_controller(&mut self) -> Result<(), String> {
        let dir = self.dir();
        let p = |n: &str| dir.join(n).display().to_string();
        self.spawn(
            None,
            "ovn-controller",
            &[
                format!("unix:{}", p("db.sock")),
                "--no-chdir".into(),
                format!("--pidfile={}", p("ovn-controller.pid")),
                format!("--log-file={}", p("ovn-controller.log")),
            ],
        )
    }

    /// Kills (SIGTERM) and reaps the daemons started as `bin`.
    pub fn stop(&mut self, bin: &str) {
        for (name, child) in &mut self.children {
            if name == bin {
                // SAFETY: signalling a child we started and did not reap.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
                let _ = child.wait();
            }
        }
        self.children.retain(|(name, _)| name != bin);
    }

    /// Starts `bin` with `args` in the chassis' environment, as a daemon
    /// killed on drop.
    pub fn start_daemon(&mut self, bin: &str, args: &[String]) -> Result<(), String> {
        self.spawn(None, bin, args)
    }

    /// The private directory.
    pub fn dir(&self) -> PathBuf {
        self.oracle.dir().to_path_buf()
    }

    /// `unix:` remote of a socket in the directory.
    pub fn remote(&self, sock: &str) -> String {
        format!("unix:{}", self.dir().join(sock).display())
    }

    fn env(&self, cmd: &mut Command) {
        for v in [
            "OVS_RUNDIR",
            "OVS_LOGDIR",
            "OVS_DBDIR",
            "OVN_RUNDIR",
            "OVN_LOGDIR",
        ] {
            cmd.env(v, self.dir());
        }
    }

    fn spawn(&mut self, netns: Option<&str>, bin: &str, args: &[String]) -> Result<(), String> {
        let mut cmd = match netns {
            // `ip netns exec` execs the daemon: the child's pid is the daemon's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, bin]);
                c
            }
            None => Command::new(bin),
        };
        self.env(&mut cmd);
        let child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {bin}: {e}"))?;
        self.children.push((bin.to_string(), child));
        Ok(())
    }

    /// Waits until ovs-vswitchd's revalidators have made a full pass over
    /// the datapath flows (`revalidator/wait`). A barrier (what `--wait=hv`
    /// waits for) only says the OpenFlow tables changed; the datapath's
    /// cached flows follow asynchronously, so packets may take the old
    /// path for a moment on a loaded machine (seen: two echoes answered
    /// after the ports were deleted and `--wait=hv` had returned).
    pub fn revalidated(&self) {
        let out = Command::new("ovs-appctl")
            .arg("-t")
            .arg(self.dir().join("ovs-vswitchd.ctl"))
            .args(["revalidator/wait"])
            .output()
            .expect("ovs-appctl");
        assert!(
            out.status.success(),
            "revalidator/wait: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `ovs-vsctl` on the chassis' database.
    pub fn vsctl(&self, args: &[&str]) -> Result<String, String> {
        let db = format!("--db={}", self.remote("db.sock"));
        let mut all = vec![db.as_str(), "--timeout=30"];
        all.extend_from_slice(args);
        let mut cmd = Command::new("ovs-vsctl");
        self.env(&mut cmd);
        let out = cmd.args(&all).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ovn-sbctl` on the SB.
    pub fn sbctl(&self, args: &[&str]) -> Result<String, String> {
        let db = format!("--db={}", self.remote("sb.sock"));
        let mut all = vec![db.as_str()];
        all.extend_from_slice(args);
        let mut cmd = Command::new("ovn-sbctl");
        self.env(&mut cmd);
        let out = cmd.args(&all).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Creates a network namespace (deleted on drop), loopback up.
    pub fn add_netns(&mut self, name: &str) -> Result<(), String> {
        sh("ip", &["netns", "add", name])?;
        self.namespaces.push(name.to_string());
        sh("ip", &["-n", name, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// The namespace of a pod.
    pub fn pod_ns(&self, pod: &str) -> String {
        format!("{}-{pod}", self.prefix)
    }

    /// The tails of the daemons' logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut s = String::from("--- daemons\n");
        s.push_str(&self.oracle.daemons());
        for (name, c) in &self.children {
            s.push_str(&format!(
                "{name} (pid {}): {}\n",
                c.id(),
                ovnflow_golden::oracle::process_state(c.id())
            ));
        }
        for f in [
            "ovn-controller.log",
            "ovs-vswitchd.log",
            "northd.log",
            "ovnflow-northd.log",
        ] {
            let text = std::fs::read_to_string(self.dir().join(f)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            s.push_str(&format!("--- {f}\n"));
            for l in &lines[lines.len().saturating_sub(15)..] {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Chassis {
    fn drop(&mut self) {
        for (_, c) in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A raw socket (`SOCK_RAW`) of address family `family` for `protocol`,
/// in the calling thread's network namespace, whose receives give up after
/// 100 ms so that callers poll against deadlines of their own.
pub fn raw_socket(family: i32, protocol: i32) -> OwnedFd {
    // SAFETY: a new descriptor, owned by the returned value; the option
    // value outlives the call.
    unsafe {
        let fd = libc::socket(family, libc::SOCK_RAW | libc::SOCK_CLOEXEC, protocol);
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        let sock = OwnedFd::from_raw_fd(fd);
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        );
        sock
    }
}

/// Runs `f` on a thread inside the named network namespace.
pub fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let file = File::open(Path::new("/var/run/netns").join(ns)).expect("netns exists");
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns on a valid fd; affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("netns thread")
    })
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sends `count` ICMP echo requests from namespace `ns` to `dst`, one at
/// a time, each waiting up to `wait` for its reply; returns how many
/// replies came back.
pub fn ping(ns: &str, dst: Ipv4Addr, count: u16, wait: Duration) -> u16 {
    in_ns(ns, || {
        // SAFETY: plain socket calls on a descriptor owned here.
        unsafe {
            let sock = raw_socket(libc::AF_INET, libc::IPPROTO_ICMP);
            let fd = sock.as_raw_fd();
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as u16;
            addr.sin_addr.s_addr = u32::from(dst).to_be();
            let id = (std::process::id() & 0xffff) as u16;
            let mut ok = 0;
            for seq in 0..count {
                let mut pkt = vec![8u8, 0, 0, 0];
                pkt.extend_from_slice(&id.to_be_bytes());
                pkt.extend_from_slice(&seq.to_be_bytes());
                pkt.extend_from_slice(b"ovnflow-e2e-ping-payload");
                let c = checksum(&pkt);
                pkt[2..4].copy_from_slice(&c.to_be_bytes());
                libc::sendto(
                    fd,
                    pkt.as_ptr().cast(),
                    pkt.len(),
                    0,
                    (&addr as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                );
                let deadline = Instant::now() + wait;
                let mut buf = [0u8; 1500];
                while Instant::now() < deadline {
                    let n = libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0);
                    if n < 20 {
                        continue;
                    }
                    let n = n as usize;
                    let ihl = usize::from(buf[0] & 0x0f) * 4;
                    let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
                    if n >= ihl + 8
                        && src == dst
                        && buf[ihl] == 0
                        && buf[ihl + 4..ihl + 6] == id.to_be_bytes()
                        && buf[ihl + 6..ihl + 8] == seq.to_be_bytes()
                    {
                        ok += 1;
                        break;
                    }
                }
            }
            ok
        }
    })
}

/// Sends `count` ICMPv6 echo requests from namespace `ns` to `dst`, one
/// at a time, each waiting up to `wait` for its reply; returns how many
/// replies came back. (The kernel computes ICMPv6 checksums on raw
/// ICMPv6 sockets.)
pub fn ping6(ns: &str, dst: Ipv6Addr, count: u16, wait: Duration) -> u16 {
    in_ns(ns, || {
        // SAFETY: plain socket calls on a descriptor owned here.
        unsafe {
            let sock = raw_socket(libc::AF_INET6, libc::IPPROTO_ICMPV6);
            let fd = sock.as_raw_fd();
            let mut addr: libc::sockaddr_in6 = std::mem::zeroed();
            addr.sin6_family = libc::AF_INET6 as u16;
            addr.sin6_addr.s6_addr = dst.octets();
            let id = (std::process::id() & 0xffff) as u16;
            let mut ok = 0;
            for seq in 0..count {
                let mut pkt = vec![128u8, 0, 0, 0];
                pkt.extend_from_slice(&id.to_be_bytes());
                pkt.extend_from_slice(&seq.to_be_bytes());
                pkt.extend_from_slice(b"ovnflow-e2e-ping6-payload");
                libc::sendto(
                    fd,
                    pkt.as_ptr().cast(),
                    pkt.len(),
                    0,
                    (&addr as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as u32,
                );
                let deadline = Instant::now() + wait;
                let mut buf = [0u8; 1500];
                while Instant::now() < deadline {
                    let mut from: libc::sockaddr_in6 = std::mem::zeroed();
                    let mut len = std::mem::size_of::<libc::sockaddr_in6>() as u32;
                    let n = libc::recvfrom(
                        fd,
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        0,
                        (&mut from as *mut libc::sockaddr_in6).cast(),
                        &mut len,
                    );
                    if n < 8 {
                        continue;
                    }
                    if Ipv6Addr::from(from.sin6_addr.s6_addr) == dst
                        && buf[0] == 129
                        && buf[4..6] == id.to_be_bytes()
                        && buf[6..8] == seq.to_be_bytes()
                    {
                        ok += 1;
                        break;
                    }
                }
            }
            ok
        }
    })
}

/// A TCP server in namespace `ns` on `port` that answers every
/// connection with `reply` (runs until the process exits).
pub fn tcp_server(ns: &str, port: u16, reply: &str) {
    tcp_server_at(ns, Ipv4Addr::UNSPECIFIED.into(), port, reply)
}

/// A TCP server on `ip:port` in namespace `ns` answering `reply` to every
/// connection (`::` for IPv6).
pub fn tcp_server_at(ns: &str, ip: IpAddr, port: u16, reply: &str) {
    let listener = in_ns(ns, || TcpListener::bind((ip, port)).expect("bind"));
    let reply = reply.to_string();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(reply.as_bytes());
        }
    });
}

/// Connects from namespace `ns` to `addr`; returns what the server sent.
pub fn tcp_get(ns: &str, addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    in_ns(ns, || {
        let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        let mut out = String::new();
        s.read_to_string(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    })
}

/// Packet counters of an interface in a namespace: (rx, tx).
pub fn counters(ns: &str, ifname: &str) -> (u64, u64) {
    let out = sh("ip", &["-n", ns, "-s", "-j", "link", "show", "dev", ifname]).expect("ip -s link");
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j");
    let st = &v[0]["stats64"];
    (
        st["rx"]["packets"].as_u64().unwrap_or(0),
        st["tx"]["packets"].as_u64().unwrap_or(0),
    )
}

/// Runs a command inside a namespace (`ip netns exec`).
pub fn ns_exec(ns: &str, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    sh("ip", &all)
}

/// Whether a live test can run: root, the oracle's binaries
/// (ovsdb-server, ovn-northd, the ctl tools), the chassis's
/// (ovs-vswitchd, ovn-controller, ovs-vsctl, ip) and `extra` on `PATH`.
/// With `CI` set a missing piece fails the test (`test` names it);
/// otherwise the test says why it skips.
pub fn runnable(test: &str, extra: &[&str]) -> bool {
    let on_path = |b: &&str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(b).is_file()))
    };
    let mut missing: Vec<&str> = ["ovs-vswitchd", "ovn-controller", "ovs-vsctl", "ip"]
        .iter()
        .chain(extra)
        .filter(|b| !on_path(b))
        .copied()
        .collect();
    match ovnflow_golden::oracle::available() {
        Ok(true) => {}
        Ok(false) => missing.push("ovsdb-server/ovn-northd"),
        Err(e) => panic!("{e}"),
    }
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    if missing.is_empty() && root {
        return true;
    }
    let why = format!("missing {missing:?}, root: {root}");
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the {test} test cannot run: {why}"
    );
    eprintln!("skipped: {why}");
    false
}

impl Chassis {
    /// Runs `ovn-nbctl line` against the oracle's NB; panics with the
    /// daemons' logs when it fails.
    pub fn nbctl_ok(&self, line: &str) -> String {
        self.oracle
            .nbctl(line)
            .unwrap_or_else(|e| panic!("ovn-nbctl {line}: {e}\n{}", self.logs()))
    }
}

/// Runs the CNI plugin `ovnflow` (path given: `CARGO_BIN_EXE_ovnflow`) in
/// the host namespace for pod `ns/pod`'s interface `ifname`, as a
/// container runtime would (`CNI_*` environment, network configuration
/// on stdin): whether it succeeded, and its stdout (the CNI result).
pub fn cni(
    c: &Chassis,
    ovnflow: &str,
    cmd: &str,
    (ns, pod): (&str, &str),
    ifname: &str,
) -> (bool, String) {
    let conf = serde_json::json!({
        "cniVersion": "1.0.0", "name": "ovnflow", "type": "ovnflow",
        "ovs_db": c.remote("db.sock"), "ovnnb_db": c.remote("nb.sock"),
        "bridge": c.bridge,
    });
    let mut child = Command::new("ip")
        .args(["netns", "exec", &c.host_ns, ovnflow])
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", format!("{}-{ns}-{pod}", c.prefix))
        .env("CNI_NETNS", format!("/var/run/netns/{}", c.pod_ns(pod)))
        .env("CNI_IFNAME", ifname)
        .env("CNI_PATH", "/opt/cni/bin")
        .env(
            "CNI_ARGS",
            format!("IgnoreUnknown=1;K8S_POD_NAMESPACE={ns};K8S_POD_NAME={pod}"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ip netns exec ovnflow");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(conf.to_string().as_bytes())
        .expect("CNI configuration written");
    let out = child.wait_with_output().expect("CNI plugin output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
