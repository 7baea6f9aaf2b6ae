//! What `ovn-appctl` reads from a running controller: a snapshot the
//! daemon publishes after each run, formatted as ovn-controller 23.03's
//! unixctl commands print it (`ct-zone-list`: `USER ZONE` lines;
//! `group-table-list`/`meter-table-list`: `SPEC: ID` lines sorted by spec;
//! `connection-status`: `connected`/`not connected`), plus `stats`, our
//! compile and install timings.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Timings and counters of the controller's runs.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Runs (SB/OVS change or `recompute`) that computed the flow table.
    pub runs: u64,
    /// Runs that sent at least one flow mod.
    pub installs: u64,
    /// Full resyncs (after (re)connecting to the switch).
    pub full_resyncs: u64,
    /// Flows in the desired table.
    pub flows: usize,
    /// Last run: reading the SB snapshot.
    pub last_read: Duration,
    /// Last run: computing the flow table.
    pub last_compute: Duration,
    /// Last run: installing the difference (bundle + barrier).
    pub last_install: Duration,
    /// Maximum compute time.
    pub max_compute: Duration,
    /// Maximum install time.
    pub max_install: Duration,
    /// Sum of compute times.
    pub total_compute: Duration,
    /// Sum of install times.
    pub total_install: Duration,
    /// Flow mods sent in total: adds, modifies, deletes.
    pub flow_mods: (u64, u64, u64),
    /// Flow mods of the last run: adds, modifies, deletes.
    pub last_flow_mods: (usize, usize, usize),
    /// The last `nb_cfg` acknowledged.
    pub nb_cfg: i64,
    /// Packet-ins received, and `MAC_Binding` writes they caused.
    pub packet_ins: u64,
    /// `MAC_Binding` rows written.
    pub mac_bindings: u64,
    /// ARP requests sent for `arp { ... }` packet-ins.
    pub arp_requests: u64,
    /// Paused packets resumed (`put_dhcp_opts`, ...).
    pub resumes: u64,
    /// Buffered packets re-injected once their next hop's MAC was known.
    pub buffered_sent: u64,
    /// Packets built for packet-ins (ICMP errors, TCP resets, SCTP aborts).
    pub packets_out: u64,
    /// `FDB`, virtual `Port_Binding` and `Controller_Event` writes.
    pub sb_writes: u64,
    /// Flows left out because their group could not be encoded.
    pub skipped_flows: usize,
    /// Sources (logical flows, ports, ...) recomputed by the last run.
    pub last_recomputed: usize,
}

/// The published state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Conntrack zones by user.
    pub ct_zones: BTreeMap<String, u32>,
    /// Groups: spec → id.
    pub groups: BTreeMap<String, u32>,
    /// Meters: spec → id.
    pub meters: BTreeMap<String, u32>,
    /// Whether the SB session is up.
    pub sb_connected: bool,
    /// Timings and counters.
    pub stats: Stats,
}

/// Shared between the daemon and its control socket.
pub type Status = Arc<Mutex<Snapshot>>;

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

impl Snapshot {
    /// `ct-zone-list`.
    pub fn ct_zone_list(&self) -> String {
        self.ct_zones.iter().fold(String::new(), |mut s, (u, z)| {
            let _ = writeln!(s, "{u} {z}");
            s
        })
    }

    fn ext_list(t: &BTreeMap<String, u32>) -> String {
        t.iter().fold(String::new(), |mut s, (n, id)| {
            let _ = writeln!(s, "{n}: {id}");
            s
        })
    }

    /// `group-table-list`.
    pub fn group_table_list(&self) -> String {
        Self::ext_list(&self.groups)
    }

    /// `meter-table-list`.
    pub fn meter_table_list(&self) -> String {
        Self::ext_list(&self.meters)
    }

    /// `connection-status`.
    pub fn connection_status(&self) -> String {
        if self.sb_connected {
            "connected\n".into()
        } else {
            "not connected\n".into()
        }
    }

    /// `stats`.
    pub fn stats(&self) -> String {
        let s = &self.stats;
        let avg = |t: Duration| {
            if s.runs == 0 {
                Duration::ZERO
            } else {
                t / s.runs as u32
            }
        };
        let mut o = String::new();
        let _ = writeln!(o, "runs: {}", s.runs);
        let _ = writeln!(
            o,
            "installs: {} (full resyncs: {})",
            s.installs, s.full_resyncs
        );
        let _ = writeln!(o, "desired flows: {}", s.flows);
        let _ = writeln!(
            o,
            "flows left out (group not encodable): {}",
            s.skipped_flows
        );
        let _ = writeln!(
            o,
            "sources recomputed by the last run: {}",
            s.last_recomputed
        );
        let _ = writeln!(
            o,
            "compute: last {} (SB read {}), avg {}, max {}",
            ms(s.last_compute),
            ms(s.last_read),
            ms(avg(s.total_compute)),
            ms(s.max_compute)
        );
        let _ = writeln!(
            o,
            "install: last {}, avg {}, max {}",
            ms(s.last_install),
            ms(avg(s.total_install)),
            ms(s.max_install)
        );
        let _ = writeln!(
            o,
            "flow mods: last {} add, {} modify, {} delete; total {} add, {} modify, {} delete",
            s.last_flow_mods.0,
            s.last_flow_mods.1,
            s.last_flow_mods.2,
            s.flow_mods.0,
            s.flow_mods.1,
            s.flow_mods.2
        );
        let _ = writeln!(o, "nb_cfg acknowledged: {}", s.nb_cfg);
        let _ = writeln!(
            o,
            "packet-ins: {}, MAC_Binding writes: {}, ARP requests sent: {}, resumed: {}, buffered packets sent: {}",
            s.packet_ins, s.mac_bindings, s.arp_requests, s.resumes, s.buffered_sent
        );
        let _ = writeln!(
            o,
            "ICMP errors/resets/aborts sent: {}, FDB/vport/event writes: {}",
            s.packets_out, s.sb_writes
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_print_like_ovn_controller() {
        let mut s = Snapshot::default();
        s.ct_zones.insert("lp1".into(), 1);
        s.groups.insert("type=select,bucket=x".into(), 1);
        assert_eq!(s.ct_zone_list(), "lp1 1\n");
        assert_eq!(s.group_table_list(), "type=select,bucket=x: 1\n");
        assert_eq!(s.connection_status(), "not connected\n");
        assert!(s.stats().contains("runs: 0"));
    }
}
