//! Load balancer health checks (`ovn_lb_get_health_check()` in lib/lb.c,
//! `ovn_lb_svc_create()`, `build_lb_vip_actions()` and
//! `build_lswitch_arp_nd_service_monitor()` in northd.c).
//!
//! A VIP is health checked when a `Load_Balancer_Health_Check` of its load
//! balancer names it (not for sctp or template load balancers). Each of
//! its backends with an `ip_port_mappings` entry `PORT:SRC_IP` whose port is
//! an enabled switch port gets an SB `Service_Monitor`, and only those
//! backends are load balanced to; the monitor's source IP gets an ARP/ND
//! responder on the port's switch (also for a disabled port).
//!
//! `Service_Monitor:status` is ovn-controller's (read back from the SB,
//! [`crate::sb_input`]): a backend whose monitor reports anything but
//! `online` is left out of `ct_lb_mark` ([`alive`]); with no status (no
//! chassis) every monitored backend counts as alive. northd turns an
//! `online` monitor of a port that is not up (SB `Port_Binding:up`) into
//! `offline`, in the SB and for the flows of the same run.

use std::net::IpAddr;

use ovsdb::Uuid;

use super::vip::ParsedLb;
use crate::ids;
use crate::nb::{LbHealthCheck, LoadBalancer};
use crate::rules::Lflow;
use crate::sb;
use crate::stage::Stage;

/// Sets each VIP's health check: the first of `hcs` (in the load
/// balancer's `health_check` order) whose `vip` is the VIP's key.
pub fn attach_health_checks(lb: &mut ParsedLb, proto_column: Option<&str>, hcs: &[LbHealthCheck]) {
    if hcs.is_empty() || proto_column == Some("sctp") || lb.template {
        return;
    }
    for vip in &mut lb.vips {
        vip.health_check = hcs
            .iter()
            .find(|h| h.vip == vip.key)
            .map(|h| h.options.clone());
    }
}

/// A backend of a health-checked VIP with a usable `ip_port_mappings`
/// entry (`backend_nb->op` may still be missing: see [`MappedBackend::port`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MappedBackend {
    /// The load balancer.
    pub lb: Uuid,
    /// Index of the VIP in [`ParsedLb::vips`].
    pub vip: usize,
    /// Index of the backend in the VIP's backends.
    pub backend: usize,
    /// The VIP is IPv6.
    pub ipv6: bool,
    /// The backend address.
    pub ip: String,
    /// The backend port (0 when none).
    pub port: u16,
    /// The port named by the mapping (a switch port if it exists).
    pub logical_port: String,
    /// The monitor's source address, as northd prints it.
    pub src_ip: String,
    /// `tcp` or `udp` (the load balancer's protocol, tcp when empty).
    pub protocol: String,
    /// The health check's options.
    pub options: Vec<(String, String)>,
}

/// `inet_parse_address()` then `ss_format_address_nobracks()`: an IPv4 or
/// (optionally bracketed) IPv6 address.
fn parse_src_ip(s: &str) -> Option<String> {
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    let ip: IpAddr = if bare.contains(':') {
        IpAddr::V6(bare.parse().ok()?)
    } else {
        IpAddr::V4(bare.parse().ok()?)
    };
    Some(ip.to_string())
}

/// The backends of `lb`'s health-checked VIPs that `ip_port_mappings` maps
/// to a port and a valid source IP (key `IP`, or `[IP]` for IPv6; value
/// `PORT:SRC_IP` split at the first colon).
pub fn mapped_backends(lb: &ParsedLb, nb: &LoadBalancer) -> Vec<MappedBackend> {
    let protocol = match nb.protocol.as_deref() {
        None | Some("") => "tcp",
        Some(p) => p,
    };
    let mut out = Vec::new();
    for (vi, vip) in lb.vips.iter().enumerate() {
        let Some(options) = &vip.health_check else {
            continue;
        };
        for (bi, b) in vip.backends.iter().enumerate() {
            let key = if vip.ipv6 {
                format!("[{}]", b.ip)
            } else {
                b.ip.clone()
            };
            let Some((_, value)) = nb.ip_port_mappings.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            let Some((port, src)) = value.split_once(':') else {
                continue;
            };
            let Some(src_ip) = parse_src_ip(src) else {
                continue;
            };
            out.push(MappedBackend {
                lb: lb.uuid,
                vip: vi,
                backend: bi,
                ipv6: vip.ipv6,
                ip: b.ip.clone(),
                port: b.port.unwrap_or(0),
                logical_port: port.to_string(),
                src_ip,
                protocol: protocol.to_string(),
                options: options.clone(),
            });
        }
    }
    out
}

/// Whether `build_lb_vip_actions()` balances to a monitored backend whose
/// monitor has `status`: no status yet, or `online`.
pub fn alive(status: Option<&str>) -> bool {
    status.is_none_or(|s| s == "online")
}

/// Marks the backends `(vip, backend)` that have a service monitor.
pub fn mark_monitored(lb: &mut ParsedLb, monitored: &[(usize, usize)]) {
    for &(v, b) in monitored {
        if let Some(backend) = lb.vips.get_mut(v).and_then(|vip| vip.backends.get_mut(b)) {
            backend.monitored = true;
        }
    }
}

/// `build_lswitch_arp_nd_service_monitor()`: `ls_in_arp_rsp` priority 110
/// answers ARP (IPv4 VIP) or ND (IPv6 VIP) for the monitor's source IP
/// with `svc_monitor_mac`, on the switch `ls` of the backend's port.
pub fn arp_nd_responder(ls: Uuid, m: &MappedBackend, svc_mac: &str) -> Lflow {
    let src = &m.src_ip;
    let (mat, act) = if m.ipv6 {
        (
            format!("nd_ns && nd.target == {src}"),
            format!(
                "nd_na {{ eth.dst = eth.src; eth.src = {svc_mac}; ip6.src = {src}; nd.target = {src}; nd.tll = {svc_mac}; outport = inport; flags.loopback = 1; output; }};"
            ),
        )
    } else {
        (
            format!("arp.tpa == {src} && arp.op == 1"),
            format!(
                "eth.dst = eth.src; eth.src = {svc_mac}; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = {svc_mac}; arp.tpa = arp.spa; arp.spa = {src}; outport = inport; flags.loopback = 1; output;"
            ),
        )
    };
    let mut f = Lflow::new(ls, Stage::LsInArpRsp, 110, &mat, &act, 8790).hint(m.lb);
    f.origin = (3, 0, None);
    f
}

/// The SB `Service_Monitor` of a monitored backend
/// (`create_or_get_service_mon()`: one row per backend IP, port, protocol
/// and logical port).
pub fn service_monitor(m: &MappedBackend, svc_mac: &str) -> sb::ServiceMonitor {
    let port = m.port.to_be_bytes();
    sb::ServiceMonitor {
        uuid: ids::derive(
            "Service_Monitor",
            &[
                m.ip.as_bytes(),
                &port,
                m.protocol.as_bytes(),
                m.logical_port.as_bytes(),
            ],
        ),
        ip: m.ip.clone(),
        protocol: m.protocol.clone(),
        port: m.port,
        logical_port: m.logical_port.clone(),
        src_mac: svc_mac.to_string(),
        src_ip: m.src_ip.clone(),
        options: m.options.clone(),
        status: None,
        reported: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(
        vips: &[(&str, &str)],
        mappings: &[(&str, &str)],
        protocol: Option<&str>,
    ) -> LoadBalancer {
        LoadBalancer {
            uuid: Uuid::nil(),
            name: "lb".into(),
            vips: vips
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            protocol: protocol.map(str::to_string),
            options: Vec::new(),
            selection_fields: Vec::new(),
            ip_port_mappings: mappings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            health_check: Vec::new(),
        }
    }

    fn hc(vip: &str) -> LbHealthCheck {
        LbHealthCheck {
            uuid: Uuid::nil(),
            vip: vip.into(),
            options: vec![("interval".into(), "5".into())],
        }
    }

    #[test]
    fn only_mapped_backends_of_checked_vips() {
        let nb = lb(
            &[
                ("10.0.0.1:80", "10.0.0.2:80,10.0.0.3:80"),
                ("10.0.0.9:80", "10.0.0.2:80"),
            ],
            &[("10.0.0.2", "p2:10.0.0.254"), ("10.0.0.3", "p3:bad")],
            None,
        );
        let mut p = ParsedLb::new(&nb);
        attach_health_checks(&mut p, None, &[hc("10.0.0.1:80")]);
        let m = mapped_backends(&p, &nb);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].logical_port.as_str(), m[0].src_ip.as_str()),
            ("p2", "10.0.0.254")
        );
        assert_eq!((m[0].protocol.as_str(), m[0].port), ("tcp", 80));
    }

    #[test]
    fn ipv6_keys_are_bracketed_and_sctp_is_never_checked() {
        let nb = lb(
            &[("[fd00::1]:80", "[fd00::2]:80")],
            &[("[fd00::2]", "p:[fd00::fe]")],
            None,
        );
        let mut p = ParsedLb::new(&nb);
        attach_health_checks(&mut p, None, &[hc("[fd00::1]:80")]);
        let m = mapped_backends(&p, &nb);
        assert_eq!(m[0].src_ip, "fd00::fe");
        let f = arp_nd_responder(Uuid::nil(), &m[0], "0a:00:00:00:00:fe");
        assert_eq!(&*f.match_, "nd_ns && nd.target == fd00::fe");
        let mut p = ParsedLb::new(&nb);
        attach_health_checks(&mut p, Some("sctp"), &[hc("[fd00::1]:80")]);
        assert!(mapped_backends(&p, &nb).is_empty());
    }
}
