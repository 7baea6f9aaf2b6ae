//! The machine and the versions a run measured: cores, memory, CPU,
//! kernel, the OVN/OVS binaries' own version lines, and ovnflow's git
//! commit.

use std::process::Command;

use serde::{Deserialize, Serialize};

/// Where and with what the suite ran.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Machine {
    /// Logical cores available to the process.
    pub cores: usize,
    /// `MemTotal` in GiB.
    pub ram_gib: f64,
    /// CPU model name.
    pub cpu: String,
    /// `uname -sr`.
    pub kernel: String,
    /// `ovn-northd --version`, first line.
    pub ovn: String,
    /// `ovsdb-server --version`, first line.
    pub ovs: String,
    /// ovnflow's git commit (`git describe --always --dirty`).
    pub ovnflow: String,
    /// UTC time of the run (`date -u`).
    pub date: String,
    /// The 1-minute load average when the run started (other work on the
    /// machine shows here).
    pub load: f64,
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| format!("unknown ({cmd} not found)"))
}

impl Machine {
    /// Reads the machine this process runs on.
    pub fn detect() -> Machine {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram_kb: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            ram_gib: ram_kb / (1024.0 * 1024.0),
            cpu,
            kernel: first_line("uname", &["-sr"]),
            ovn: first_line("ovn-northd", &["--version"]),
            ovs: first_line("ovsdb-server", &["--version"]),
            ovnflow: first_line("git", &["-C", repo, "describe", "--always", "--dirty"]),
            date: first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            load: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next()?.parse().ok())
                .unwrap_or(0.0),
        }
    }
}
