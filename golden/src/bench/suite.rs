//! The workloads and the order the suite runs them in: for each size, run
//! after run, real ovn-northd, `ovnflow northd` and the in-process
//! compiler in turn (interleaved, so that noise on a shared machine hits
//! all three alike), each run on fresh databases or in a fresh process.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::changes::Nb;
use super::e2e::{self, Daemon, E2eRun};
use super::inproc::InprocRun;
use super::machine::Machine;
use super::memory;
use crate::gen::{K8sShape, OpenstackShape};

/// The size issue 7's targets are stated for.
pub const TARGET_SIZE: &str = "100x100/1000/500";

/// The family of generated NBs a workload belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// Node switches, one cluster router, services, policies.
    #[default]
    K8s,
    /// The same with ovn-kubernetes' per-node gateway routers.
    OvnK8s,
    /// Neutron's tenant routers, networks and floating IPs.
    Openstack,
}

/// One workload size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// E.g. `k8s 100×100/1000/500`.
    pub name: String,
    /// Which generator.
    #[serde(default)]
    pub family: Family,
    /// The OpenStack generator's shape (family `Openstack`).
    #[serde(default)]
    pub openstack: Option<OpenstackShape>,
    /// NB and SB are 3-member RAFT clusters (end to end only).
    #[serde(default)]
    pub raft: bool,
    /// The generator's shape.
    pub nodes: u32,
    /// Pods per node.
    pub pods_per_node: u32,
    /// Services (load balancers in the cluster group).
    pub services: u32,
    /// Backends per service.
    pub backends: u32,
    /// Network policies.
    pub policies: u32,
    /// Whether the daemons are run on it (else in process only).
    pub e2e: bool,
}

impl Workload {
    /// Parses `NODESxPODS/SERVICES/POLICIES` (pods per node), optionally
    /// prefixed `k8s:` or `ovn-k8s:` (with gateway routers), or
    /// `openstack:ROUTERS/NETWORKS/VMS/FIPS` (networks per router, VMs per
    /// network, floating IPs in all).
    pub fn parse(spec: &str, backends: u32, e2e: bool) -> Result<Workload, String> {
        if let Some(rest) = spec.strip_prefix("raft:") {
            let w = Workload::parse(rest, backends, e2e)?;
            return Ok(Workload {
                name: format!("{} on RAFT clusters", w.name),
                raft: true,
                ..w
            });
        }
        if let Some(os) = spec.strip_prefix("openstack:") {
            return Workload::parse_openstack(os, e2e);
        }
        let (family, spec) = match spec.strip_prefix("ovn-k8s:") {
            Some(rest) => (Family::OvnK8s, rest),
            None => (Family::K8s, spec.strip_prefix("k8s:").unwrap_or(spec)),
        };
        let bad = || {
            format!(
                "workload {spec:?}: expected NODESxPODS/SERVICES/POLICIES, e.g. 100x100/1000/500"
            )
        };
        let (np, rest) = spec.split_once('/').ok_or_else(bad)?;
        let (svc, pol) = rest.split_once('/').ok_or_else(bad)?;
        let (n, p) = np.split_once(['x', '×']).ok_or_else(bad)?;
        let num = |s: &str| {
            s.trim()
                .replace([',', '_'], "")
                .parse::<u32>()
                .map_err(|_| bad())
        };
        let w = Workload {
            name: String::new(),
            family,
            openstack: None,
            raft: false,
            nodes: num(n)?,
            pods_per_node: num(p)?,
            services: num(svc)?,
            backends,
            policies: num(pol)?,
            e2e,
        };
        super::changes::check_shape(&w.shape())?;
        let prefix = match family {
            Family::OvnK8s => "ovn-k8s",
            _ => "k8s",
        };
        Ok(Workload {
            name: format!(
                "{prefix} {}×{}/{}/{}",
                w.nodes, w.pods_per_node, w.services, w.policies
            ),
            ..w
        })
    }

    fn parse_openstack(spec: &str, e2e: bool) -> Result<Workload, String> {
        let bad = || {
            format!("workload openstack:{spec:?}: expected openstack:ROUTERS/NETWORKS/VMS/FIPS, e.g. openstack:50/4/10/500")
        };
        let v: Vec<u32> = spec
            .split('/')
            .map(|x| x.trim().parse::<u32>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let [routers, networks_per_router, vms_per_network, fips] = v[..] else {
            return Err(bad());
        };
        let shape = OpenstackShape {
            routers,
            networks_per_router,
            vms_per_network,
            fips,
        };
        Nb::Openstack(shape).check()?;
        Ok(Workload {
            name: format!(
                "openstack {routers}×{networks_per_router}×{vms_per_network}/{fips} FIPs"
            ),
            family: Family::Openstack,
            openstack: Some(shape),
            raft: false,
            nodes: routers,
            pods_per_node: networks_per_router * vms_per_network,
            services: 0,
            backends: 0,
            policies: 0,
            e2e,
        })
    }

    /// The generated NB.
    pub fn nb(&self) -> Nb {
        match (self.family, self.openstack) {
            (Family::Openstack, Some(s)) => Nb::Openstack(s),
            (Family::OvnK8s, _) => Nb::OvnK8s(self.shape()),
            _ => Nb::K8s(self.shape()),
        }
    }

    /// The generator's shape.
    pub fn shape(&self) -> K8sShape {
        K8sShape {
            nodes: self.nodes,
            pods_per_node: self.pods_per_node,
            services: self.services,
            backends: self.backends,
            policies: self.policies,
        }
    }

    /// The spec [`Workload::parse`] reads back.
    pub fn spec(&self) -> String {
        let raft = if self.raft { "raft:" } else { "" };
        let spec = match (self.family, self.openstack) {
            (Family::Openstack, Some(s)) => format!(
                "openstack:{}/{}/{}/{}",
                s.routers, s.networks_per_router, s.vms_per_network, s.fips
            ),
            (family, _) => format!(
                "{}{}x{}/{}/{}",
                if family == Family::OvnK8s {
                    "ovn-k8s:"
                } else {
                    ""
                },
                self.nodes,
                self.pods_per_node,
                self.services,
                self.policies
            ),
        };
        format!("{raft}{spec}")
    }

    /// What the NB holds, in a sentence.
    pub fn describe(&self) -> String {
        let what = match (self.family, self.openstack) {
            (Family::Openstack, Some(s)) => format!(
                "{} VMs: {} tenant routers, each with a distributed gateway port (2 gateway chassis) on one provider network, {} networks of {} VMs per router, SNAT per network, {} floating IPs",
                self.pods(), s.routers, s.networks_per_router, s.vms_per_network, s.fips
            ),
            (family, _) => format!(
                "{} pods on {} node switches{}, {} services × {} backends in one load balancer group, {} network policies",
                self.pods(),
                self.nodes,
                if family == Family::OvnK8s {
                    ", a gateway router per node (join switch, external switch with a localnet port, SNAT, routes)"
                } else {
                    ""
                },
                self.services,
                self.backends,
                self.policies
            ),
        };
        if self.raft {
            format!("{what}; NB and SB each a 3-member RAFT cluster (the daemons get every member, the bench writes to and watches the leaders)")
        } else {
            what
        }
    }

    /// Total pods (VMs for OpenStack).
    pub fn pods(&self) -> u64 {
        u64::from(self.nodes) * u64::from(self.pods_per_node)
    }
}

/// How the suite runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The sizes, smallest first.
    pub workloads: Vec<Workload>,
    /// Runs per size and side.
    pub runs: u32,
    /// Rounds of single changes per run.
    pub rounds: u32,
    /// The `ovnflow` binary for `ovnflow northd`.
    pub ovnflow: PathBuf,
    /// This program, run as `worker` for in-process runs.
    pub worker: PathBuf,
    /// Longest wait for one SB update.
    pub timeout: Duration,
    /// Resident size (kB) at which an in-process worker is stopped.
    pub max_rss_kb: u64,
    /// Longest an in-process worker may run.
    pub worker_timeout: Duration,
    /// The size the targets are judged at.
    pub reference: Option<String>,
}

/// Everything measured at one size.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SizeResult {
    /// The size.
    pub workload: Workload,
    /// Real ovn-northd runs.
    pub northd: Vec<E2eRun>,
    /// `ovnflow northd` runs.
    pub ovnflow: Vec<E2eRun>,
    /// In-process runs.
    pub inproc: Vec<InprocRun>,
    /// Runs that failed, with the reason.
    pub errors: Vec<String>,
}

/// The whole suite's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Where and with what it ran.
    pub machine: Machine,
    /// Runs per size and side.
    pub runs: u32,
    /// Rounds of single changes per run.
    pub rounds: u32,
    /// The command line.
    pub command: String,
    /// How the programs were built: this program's profile and the
    /// `ovnflow` binary used.
    pub build: String,
    /// The size the targets are judged at.
    pub reference: Option<String>,
    /// Per size, smallest first.
    pub sizes: Vec<SizeResult>,
    /// Wall-clock seconds of the whole suite.
    pub elapsed_s: f64,
}

/// Plain progress lines on stderr, with the time since the start.
pub struct Progress {
    start: Instant,
}

impl Progress {
    /// Starts the clock.
    pub fn new() -> Progress {
        Progress {
            start: Instant::now(),
        }
    }

    /// Prints one line.
    pub fn say(&self, msg: &str) {
        eprintln!("[{:7.1}s] {msg}", self.start.elapsed().as_secs_f64());
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

impl Default for Progress {
    fn default() -> Progress {
        Progress::new()
    }
}

/// Runs one in-process measurement in a fresh worker process, killed
/// (and reported) if its resident size passes `cfg.max_rss_kb` or it runs
/// longer than `cfg.worker_timeout`: the machine is shared, and a compile
/// that does not fit is a result, not a reason to take it down.
fn inproc_in_worker(cfg: &Config, w: &Workload) -> Result<InprocRun, String> {
    let mut child = Command::new(&cfg.worker)
        .args(["worker", "--k8s", &w.spec()])
        .args(["--backends", &w.backends.to_string()])
        .args(["--rounds", &cfg.rounds.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", cfg.worker.display()))?;
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = pipe(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = pipe(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let pid = child.id().to_string();
    let mut peak = 0u64;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| format!("worker: {e}"))? {
            break st;
        }
        peak = peak.max(memory::rss_kb(&pid).unwrap_or(0));
        let over_memory = peak > cfg.max_rss_kb;
        let over_time = start.elapsed() > cfg.worker_timeout;
        if over_memory || over_time {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "stopped after {:.0} s: {}",
                start.elapsed().as_secs_f64(),
                if over_memory {
                    format!(
                        "resident size {:.1} GiB passed the cap of {:.1} GiB (--max-rss-gib)",
                        peak as f64 / 1048576.0,
                        cfg.max_rss_kb as f64 / 1048576.0
                    )
                } else {
                    format!("longer than {:?} (--worker-timeout)", cfg.worker_timeout)
                }
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "in-process worker {status}: {}",
            String::from_utf8_lossy(&err).trim()
        ));
    }
    serde_json::from_slice(&out).map_err(|e| format!("in-process worker output: {e}"))
}

fn secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn median_change(changes: impl Iterator<Item = f64>) -> String {
    let mut v: Vec<f64> = changes.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).map_or("-".into(), |m| secs(*m))
}

/// Runs the suite.
pub fn run(cfg: &Config, machine: Machine, command: String, progress: &Progress) -> Results {
    let mut sizes = Vec::new();
    for w in &cfg.workloads {
        let mut r = SizeResult {
            workload: w.clone(),
            northd: Vec::new(),
            ovnflow: Vec::new(),
            inproc: Vec::new(),
            errors: Vec::new(),
        };
        let nb = w.nb();
        for run in 1..=cfg.runs {
            let tag = format!("{} run {run}/{}", w.name, cfg.runs);
            if w.e2e {
                for daemon in [Daemon::Northd, Daemon::Ovnflow(cfg.ovnflow.clone())] {
                    progress.say(&format!("{tag}: {} …", daemon.label()));
                    match e2e::run_once(&daemon, &nb, cfg.rounds, cfg.timeout, w.raft) {
                        Ok(x) => {
                            progress.say(&format!(
                                "{tag}: {}: full compute {}, peak RSS {} MB, {} lflows, single change median {}",
                                daemon.label(),
                                secs(x.full_s),
                                x.rss_end_kb / 1024,
                                x.lflows,
                                median_change(x.changes.iter().map(|c| c.1))
                            ));
                            match daemon {
                                Daemon::Northd => r.northd.push(x),
                                Daemon::Ovnflow(_) => r.ovnflow.push(x),
                            }
                        }
                        Err(e) => {
                            progress.say(&format!("{tag}: {} FAILED: {e}", daemon.label()));
                            r.errors.push(format!("{} run {run}: {e}", daemon.label()));
                        }
                    }
                }
            }
            progress.say(&format!("{tag}: ovnflow in process …"));
            match inproc_in_worker(cfg, w) {
                Ok(x) => {
                    progress.say(&format!(
                        "{tag}: in process: compile {}, peak RSS {} MB, {} lflows, single change median {}",
                        secs(x.compile_s),
                        x.rss_compile_kb / 1024,
                        x.lflows,
                        median_change(x.changes.iter().map(|c| c.1))
                    ));
                    r.inproc.push(x);
                }
                Err(e) => {
                    progress.say(&format!("{tag}: in process FAILED: {e}"));
                    r.errors.push(format!("in process run {run}: {e}"));
                    if !w.e2e {
                        // Nothing else runs at this size; another run
                        // would only fail the same way.
                        break;
                    }
                }
            }
        }
        sizes.push(r);
    }
    Results {
        machine,
        runs: cfg.runs,
        rounds: cfg.rounds,
        command,
        build: format!(
            "ovnflow-bench {} build, ovnflow binary {}",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .and_then(|repo| cfg.ovnflow.strip_prefix(repo).ok())
                .unwrap_or(&cfg.ovnflow)
                .display()
        ),
        reference: cfg.reference.clone(),
        sizes,
        elapsed_s: progress.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_specs() {
        let w = Workload::parse("100x100/1,000/500", 3, true).unwrap();
        assert_eq!(
            (w.nodes, w.pods_per_node, w.services, w.policies),
            (100, 100, 1000, 500)
        );
        assert_eq!(w.name, "k8s 100×100/1000/500");
        assert_eq!(w.spec(), "100x100/1000/500");
        assert_eq!(w.pods(), 10_000);
        assert!(Workload::parse("100x100/1000", 3, true).is_err());
        assert!(Workload::parse("0x1/1/1", 3, true).is_err());
    }
}
