//! A load balancer as northd sees it: its VIPs and backends parsed the way
//! `ovn_northd_lb_create()` (lib/lb.c) parses them, with the same rejections.
//!
//! Template load balancers (`options:template=true`) are parsed by
//! [`super::template`]: their VIPs and backends are chassis template
//! variables (`^NAME`) that ovn-controller expands, kept as text.

use std::net::IpAddr;

use ovsdb::Uuid;

use crate::nb::{smap_get_bool, LoadBalancer};

/// One backend of a VIP (`struct ovn_lb_backend`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Backend {
    /// The address as northd prints it (`ss_format_address_nobracks()`),
    /// or a template variable (`ip_str`).
    pub ip: String,
    /// The port as a number (`None` when the VIP has none, and always for
    /// template backends, whose `backend->port` stays 0).
    pub port: Option<u16>,
    /// The port as written (`port_str`): the number, or for template
    /// backends whatever follows the `:` (a `^PORT` variable or a number).
    pub port_str: Option<String>,
    /// A service monitor checks this backend (`backend_nb->health_check`,
    /// see [`super::health`]).
    pub monitored: bool,
}

/// One VIP of a load balancer (`struct ovn_lb_vip` with its
/// `ovn_northd_lb_vip`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vip {
    /// The `vips` key as written (what `Load_Balancer_Health_Check.vip` names).
    pub key: String,
    /// The VIP address as northd prints it (`vip_str`), or a template
    /// variable.
    pub ip: String,
    /// IPv6 (else IPv4): `lb_vip->address_family`, for templates from
    /// `options:address-family`.
    pub ipv6: bool,
    /// `IN6_IS_ADDR_V4MAPPED(&lb_vip->vip)`: an explicit IPv4 VIP. Template
    /// VIPs never parse an address, so northd treats them as IPv6 wherever
    /// it tests the address instead of the family (affinity flows, the
    /// `ips_v4`/`ips_v6` sets of routers).
    pub v4_mapped: bool,
    /// The VIP port as written (`port_str`); a port of 0 counts as none, as
    /// in northd. For templates a `^PORT` variable or a number.
    pub port: Option<String>,
    /// The parsed backends.
    pub backends: Vec<Backend>,
    /// The `vips` value as written: `ct_lb_mark(backends=…)` uses it verbatim.
    pub backend_ips: String,
    /// The options of the `Load_Balancer_Health_Check` naming this VIP
    /// (`lb_vip_nb->lb_health_check`), see [`super::health`].
    pub health_check: Option<Vec<(String, String)>>,
}

impl Vip {
    /// The backends `build_lb_vip_actions()` balances to, as the
    /// `ct_lb_mark(backends=…)` list: all of them as written, or only the
    /// monitored ones (`backend_nb->health_check`), each `IP:PORT`, when the
    /// VIP is health checked. `None` when there is none: the VIP then drops
    /// or rejects.
    pub fn active_backends(&self) -> Option<String> {
        match &self.health_check {
            Some(_) => {
                let active: Vec<String> = self
                    .backends
                    .iter()
                    .filter(|b| b.monitored)
                    .map(|b| match self.ipv6 {
                        true => format!("[{}]:{}", b.ip, b.port.unwrap_or(0)),
                        false => format!("{}:{}", b.ip, b.port.unwrap_or(0)),
                    })
                    .collect();
                (!active.is_empty()).then(|| active.join(","))
            }
            None => (!self.backends.is_empty()).then(|| self.backend_ips.clone()),
        }
    }

    /// `VIP:PORT` (brackets around the VIP of an IPv6 family), or the bare
    /// VIP, as `build_empty_lb_event_flow()` names it.
    pub fn with_port(&self) -> String {
        match &self.port {
            Some(p) if self.ipv6 => format!("[{}]:{p}", self.ip),
            Some(p) => format!("{}:{p}", self.ip),
            None => self.ip.clone(),
        }
    }

    /// The affinity flows (`build_lb_affinity_ls_flows()`,
    /// `build_lb_affinity_lr_flows()`) take the VIP for IPv6 unless it is a
    /// parsed IPv4 address: template VIPs always count as IPv6 there.
    pub fn affinity_v6(&self) -> bool {
        !self.v4_mapped
    }

    /// `VIP:PORT` as the affinity flows write it (brackets when
    /// [`Vip::affinity_v6`]), or the bare VIP.
    pub fn affinity_with_port(&self) -> String {
        match &self.port {
            Some(p) if self.affinity_v6() => format!("[{}]:{p}", self.ip),
            Some(p) => format!("{}:{p}", self.ip),
            None => self.ip.clone(),
        }
    }

    /// `ip4` or `ip6`.
    pub fn ip_match(&self) -> &'static str {
        if self.ipv6 {
            "ip6"
        } else {
            "ip4"
        }
    }
}

/// A load balancer with its VIPs parsed (`struct ovn_northd_lb`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParsedLb {
    /// NB row UUID.
    pub uuid: Uuid,
    /// `lb->proto`: `tcp` (also when the column is empty), `udp` or `sctp`.
    pub proto: String,
    /// `options:event`: trigger a controller event for VIPs without backends.
    pub controller_event: bool,
    /// `options:reject`: reject (instead of drop) traffic to VIPs without
    /// backends.
    pub reject: bool,
    /// `options:affinity_timeout`, capped at 65535; 0 means no affinity.
    pub affinity_timeout: u32,
    /// `selection_fields` as `hash_fields` text (`tp_src`/`tp_dst` named
    /// after the protocol), when set.
    pub selection_fields: Option<String>,
    /// `options:template`: VIPs and backends are chassis template variables.
    pub template: bool,
    /// `options:skip_snat`: routers do not force-SNAT this load balancer's
    /// traffic (`lb->skip_snat`).
    pub skip_snat: bool,
    /// `options:add_route` (`lb->routable`; never for templates).
    pub routable: bool,
    /// `options:neighbor_responder` (`lb->neigh_mode`).
    pub neigh_mode: NeighMode,
    /// The VIPs that parse, in `vips` key order.
    pub vips: Vec<Vip>,
    /// Why the other VIPs were skipped (northd logs these as warnings).
    pub warnings: Vec<String>,
}

impl ParsedLb {
    /// Parses `lb` as `ovn_northd_lb_create()` does.
    pub fn new(lb: &LoadBalancer) -> ParsedLb {
        let protocol = lb.protocol.as_deref().unwrap_or("");
        let proto = match protocol {
            "udp" | "sctp" => protocol,
            _ => "tcp",
        };
        let template = smap_get_bool(&lb.options, "template", false);
        let option = |k: &str| lb.options.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let affinity_timeout = option("affinity_timeout")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(0, |t| t.min(u16::MAX as u64) as u32);
        let selection_fields = (!lb.selection_fields.is_empty()).then(|| {
            let proto = (!protocol.is_empty()).then_some(protocol);
            lb.selection_fields
                .iter()
                .map(|f| match (f.as_str(), proto) {
                    ("tp_src", Some(p)) => format!("{p}_src"),
                    ("tp_dst", Some(p)) => format!("{p}_dst"),
                    _ => f.clone(),
                })
                .collect::<Vec<_>>()
                .join(",")
        });
        let mut vips = Vec::new();
        let mut warnings = Vec::new();
        let family_v6 = super::template::address_family_v6(lb);
        for (key, value) in &lb.vips {
            let parsed = if template {
                super::template::parse_vip(key, value, family_v6)
            } else {
                parse_vip(key, value)
            };
            match parsed {
                Ok(v) => vips.push(v),
                Err(e) => warnings.push(format!("Failed to initialize LB VIP: {e}")),
            }
        }
        ParsedLb {
            uuid: lb.uuid,
            proto: proto.to_string(),
            controller_event: smap_get_bool(&lb.options, "event", false),
            reject: smap_get_bool(&lb.options, "reject", false),
            affinity_timeout,
            selection_fields,
            template,
            skip_snat: smap_get_bool(&lb.options, "skip_snat", false),
            routable: !template && smap_get_bool(&lb.options, "add_route", false),
            neigh_mode: NeighMode::new(option("neighbor_responder").map(String::as_str), template),
            vips,
            warnings,
        }
    }
}

/// Which VIPs routers answer ARP/ND for (`enum lb_neighbor_responder_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NeighMode {
    /// `reachable`: VIPs inside a router port's subnet (the default).
    Reachable,
    /// `all`: every VIP.
    All,
    /// `none`: no VIP (the default for templates).
    None,
}

impl NeighMode {
    /// `ovn_lb_get_neigh_mode()`: an unknown mode, or `reachable` on a
    /// template load balancer, falls back to the default.
    fn new(mode: Option<&str>, template: bool) -> NeighMode {
        let default = if template {
            NeighMode::None
        } else {
            NeighMode::Reachable
        };
        match mode {
            Some("reachable") if !template => NeighMode::Reachable,
            Some("all") => NeighMode::All,
            Some("none") => NeighMode::None,
            _ => default,
        }
    }
}

/// `ip_address_and_port_from_lb_key()`: `IP`, `IP:PORT` or `[IP6]:PORT`
/// (`inet_parse_active()` with no default port).
pub fn parse_ip_port(s: &str) -> Option<(IpAddr, Option<u16>)> {
    let colons = s.chars().filter(|c| *c == ':').count();
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else if colons > 1 {
        (s, None)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None | Some("") => 0,
        Some(p) => p.parse::<u16>().ok()?,
    };
    let ip: IpAddr = if host.contains(':') {
        IpAddr::V6(host.parse().ok()?)
    } else {
        IpAddr::V4(host.parse().ok()?)
    };
    Some((ip, (port != 0).then_some(port)))
}

/// `ovn_lb_vip_init_explicit()`: one `vips` entry, or northd's error text.
fn parse_vip(key: &str, value: &str) -> Result<Vip, String> {
    let Some((ip, port)) = parse_ip_port(key) else {
        return Err(format!(
            "{key}: should be an IP address (or an IP address and a port number with : as a separator)."
        ));
    };
    let ipv6 = ip.is_ipv6();
    let backends = parse_backends(value, ipv6, port.is_some(), &ip.to_string())?;
    Ok(Vip {
        key: key.to_string(),
        ip: ip.to_string(),
        ipv6,
        v4_mapped: !ipv6,
        port: port.map(|p| p.to_string()),
        backends,
        backend_ips: value.to_string(),
        health_check: None,
    })
}

/// `ovn_lb_backends_init_explicit()`: the backends of a VIP of family
/// `ipv6` (printed `vip` in errors), with ports when `with_port`; one bad
/// backend fails the whole VIP.
pub(super) fn parse_backends(
    value: &str,
    ipv6: bool,
    with_port: bool,
    vip: &str,
) -> Result<Vec<Backend>, String> {
    let needs_port = "should be an IP address and a port number with : as a separator";
    let mut backends = Vec::new();
    let mut errors = Vec::new();
    for token in value.split(',').filter(|t| !t.is_empty()) {
        match parse_ip_port(token) {
            None if with_port => errors.push(format!("{token}: {needs_port}")),
            None => errors.push(format!("{token}: should be an IP address")),
            Some((b, _)) if b.is_ipv6() != ipv6 => errors.push(format!(
                "{token}: IP address family is different from VIP {vip}"
            )),
            Some((_, None)) if with_port => errors.push(format!("{token}: {needs_port}")),
            Some((_, Some(_))) if !with_port => {
                errors.push(format!("{token}: should be an IP address"))
            }
            Some((b, bport)) => backends.push(Backend {
                ip: b.to_string(),
                port: bport,
                port_str: bport.map(|p| p.to_string()),
                monitored: false,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(format!("{}.", errors.join(", ")));
    }
    Ok(backends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vip_keys_parse_as_inet_parse_active() {
        let v4 = "10.0.0.1".parse().unwrap();
        assert_eq!(parse_ip_port("10.0.0.1"), Some((v4, None)));
        assert_eq!(parse_ip_port("10.0.0.1:80"), Some((v4, Some(80))));
        assert_eq!(parse_ip_port("10.0.0.1:0"), Some((v4, None)));
        assert_eq!(parse_ip_port("10.0.0.1:65536"), None);
        assert_eq!(parse_ip_port("10.0.0.01"), None);
        let v6 = "fd00::1".parse().unwrap();
        assert_eq!(parse_ip_port("fd00::1"), Some((v6, None)));
        assert_eq!(parse_ip_port("[fd00::1]:8080"), Some((v6, Some(8080))));
        assert_eq!(parse_ip_port("[fd00::1]"), Some((v6, None)));
        assert_eq!(
            parse_ip_port("fd00::1:80"),
            Some(("fd00::1:80".parse().unwrap(), None))
        );
    }

    #[test]
    fn a_bad_backend_drops_the_whole_vip() {
        let err = parse_vip("10.0.0.1:80", "10.0.0.2:80,10.0.0.3").unwrap_err();
        assert_eq!(
            err,
            "10.0.0.3: should be an IP address and a port number with : as a separator."
        );
        let err = parse_vip("10.0.0.1", "fd00::2").unwrap_err();
        assert_eq!(
            err,
            "fd00::2: IP address family is different from VIP 10.0.0.1."
        );
        let ok = parse_vip("[fd00::1]:80", "[fd00::2]:8080,,[fd00::3]:8080").unwrap();
        assert_eq!(ok.backends.len(), 2);
        assert_eq!(ok.backend_ips, "[fd00::2]:8080,,[fd00::3]:8080");
    }
}
