//! Native DHCPv4 and DHCPv6 (`ls_in_dhcp_options`, `ls_in_dhcp_response`,
//! and the `ls_out_acl` priority-34000 bypasses): `build_dhcpv4_action()`,
//! `build_dhcpv6_action()`, `build_dhcpv4_options_flows()`,
//! `build_dhcpv6_options_flows()`,
//! `build_lswitch_dhcp_options_and_response()` and `build_acls()` in
//! northd.c. External ports get their requests through the switch's
//! localnet ports, only where they are resident
//! ([`super::external_port`]).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::addr::LportAddresses;
use super::{Lflow, PortCtx};
use crate::nb::{smap_get_bool, DhcpOptions};
use crate::stage::Stage;

/// `ip_parse_masked()`: `IP`, `IP/PLEN` or `IP/MASK`.
fn parse_masked(cidr: &str) -> Option<(u32, u32)> {
    let (ip, mask) = match cidr.split_once('/') {
        None => (cidr, None),
        Some((ip, m)) => (ip, Some(m)),
    };
    let ip = u32::from(ip.trim().parse::<Ipv4Addr>().ok()?);
    let mask = match mask {
        None => u32::MAX,
        Some(m) => match m.parse::<u32>() {
            Ok(0) => 0,
            Ok(n) if n <= 32 => u32::MAX << (32 - n),
            Ok(_) => return None,
            Err(_) => u32::from(m.parse::<Ipv4Addr>().ok()?),
        },
    };
    Some((ip, mask))
}

/// `ipv6_parse_masked()`: `IP`, `IP/PLEN` or `IP/MASK`.
fn parse_masked6(cidr: &str) -> Option<(u128, u128)> {
    let (ip, mask) = match cidr.split_once('/') {
        None => (cidr, None),
        Some((ip, m)) => (ip, Some(m)),
    };
    let ip = u128::from(ip.trim().parse::<Ipv6Addr>().ok()?);
    let mask = match mask {
        None => u128::MAX,
        Some(m) => match m.parse::<u32>() {
            Ok(0) => 0,
            Ok(n) if n <= 128 => u128::MAX << (128 - n),
            Ok(_) => return None,
            Err(_) => u128::from(m.parse::<Ipv6Addr>().ok()?),
        },
    };
    Some((ip, mask))
}

/// `in6_generate_lla()`: the EUI-64 link-local address of a MAC.
fn link_local(mac: &str) -> Option<Ipv6Addr> {
    let m = crate::rules::addr::parse_mac(mac)?;
    let b: Vec<u8> = m
        .split(':')
        .filter_map(|x| u8::from_str_radix(x, 16).ok())
        .collect();
    let o = [
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        b[0] ^ 0x02,
        b[1],
        b[2],
        0xff,
        0xfe,
        b[3],
        b[4],
        b[5],
    ];
    Some(Ipv6Addr::from(o))
}

/// The `put_dhcp_opts` action, the reply action and the renewal match for
/// `offer_ip` (`build_dhcpv4_action()`), when the options allow it.
fn dhcpv4_action(
    p: &PortCtx,
    opts: &DhcpOptions,
    offer_ip: &str,
) -> Option<(String, String, String)> {
    let (host, mask) = parse_masked(&opts.cidr)?;
    let offer = u32::from(offer_ip.parse::<Ipv4Addr>().ok()?);
    if (offer ^ host) & mask != 0 {
        return None;
    }
    let (server_ip, server_mac, _lease) = (
        opts.option("server_id")?,
        opts.option("server_mac")?,
        opts.option("lease_time")?,
    );
    let mut options: std::collections::BTreeMap<&str, String> = opts
        .options
        .iter()
        .filter(|(k, _)| k != "server_mac")
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    options.insert("netmask", Ipv4Addr::from(mask).to_string());
    if let Some(h) = p.lsp.option("hostname") {
        options.insert("hostname", h.to_string());
    }
    let mut list = vec![format!("offerip = {}", Ipv4Addr::from(offer))];
    list.extend(options.iter().map(|(k, v)| format!("{k} = {v}")));
    let options_action = format!("reg0[3] = put_dhcp_opts({}); next;", list.join(", "));
    let response = format!(
        "eth.dst = eth.src; eth.src = {server_mac}; ip4.src = {server_ip}; udp.src = 67; udp.dst = 68; \
         outport = inport; flags.loopback = 1; output;"
    );
    let renew = format!(
        "ip4.src == {} && ip4.dst == {{{server_ip}, 255.255.255.255}}",
        Ipv4Addr::from(offer)
    );
    Some((options_action, response, renew))
}

/// The `put_dhcpv6_opts` and reply actions for `offer_ip`
/// (`build_dhcpv6_action()`), when the options allow it.
fn dhcpv6_action(opts: &DhcpOptions, offer_ip: &str) -> Option<(String, String)> {
    let (host, mask) = parse_masked6(&opts.cidr)?;
    let offer: Ipv6Addr = offer_ip.parse().ok()?;
    if (u128::from(offer) ^ host) & mask != 0 {
        return None;
    }
    let server_mac = opts.option("server_id")?;
    let server_ip = link_local(server_mac)?;
    let mut list = Vec::new();
    if !smap_get_bool(&opts.options, "dhcpv6_stateless", false) {
        list.push(format!("ia_addr = {offer}"));
    }
    let rest = opts.options.iter().filter(|(k, _)| k != "dhcpv6_stateless");
    list.extend(rest.map(|(k, v)| format!("{k} = {v}")));
    let options = format!("reg0[3] = put_dhcpv6_opts({}); next;", list.join(", "));
    let response = format!(
        "eth.dst = eth.src; eth.src = {server_mac}; ip6.dst = ip6.src; ip6.src = {server_ip}; \
         udp.src = 547; udp.dst = 546; outport = inport; flags.loopback = 1; output;"
    );
    Some((options, response))
}

/// Where a port's DHCP requests come from: its own `inport` (key, name),
/// or for an external port each localnet port, with the
/// `is_chassis_resident(port)` condition.
struct Inport<'a> {
    key: String,
    name: &'a str,
    resident: Option<String>,
}

impl Inport<'_> {
    /// ` && is_chassis_resident(port)` for external ports.
    fn suffix(&self) -> String {
        self.resident
            .as_ref()
            .map(|k| format!(" && is_chassis_resident({k})"))
            .unwrap_or_default()
    }
}

/// For an enabled, non-router port with DHCP options: for each of its
/// addresses, the first IPv4 address inside the DHCPv4 options' CIDR gets
/// `ls_in_dhcp_options` priority 100 (discover and renew) and
/// `ls_in_dhcp_response` priority 100, and the first IPv6 address inside
/// the DHCPv6 options' CIDR gets the solicit and response flows. External
/// ports (with an HA chassis group, on a switch with localnet ports) get
/// them once per localnet port, conditioned on residence.
pub fn dhcp_options_and_response(p: &PortCtx, out: &mut Vec<Lflow>) {
    let lsp = &p.lsp;
    if !lsp.is_enabled() || lsp.type_ == "router" {
        return;
    }
    if p.dhcpv4.is_none() && p.dhcpv6.is_none() {
        return;
    }
    let inports: Vec<Inport<'_>> = if lsp.type_ == "external" {
        if !super::external_port::serves_dhcp(p) {
            return;
        }
        let ext = p.external.as_ref().expect("serves_dhcp checked it");
        ext.localnet_ports
            .iter()
            .map(|ln| Inport {
                key: super::addr::json_key(ln),
                name: ln,
                resident: Some(p.json_key()),
            })
            .collect()
    } else {
        vec![Inport {
            key: p.json_key(),
            name: &lsp.name,
            resident: None,
        }]
    };
    for a in p.lsp_addrs() {
        for inport in &inports {
            if let Some(opts) = &p.dhcpv4 {
                dhcpv4_flows(p, opts, inport, &a, out);
            }
            if let Some(opts) = &p.dhcpv6 {
                dhcpv6_flows(opts, p, inport, &a, out);
            }
        }
    }
}

/// `build_dhcpv4_options_flows()` for one address entry.
fn dhcpv4_flows(
    p: &PortCtx,
    opts: &DhcpOptions,
    inport: &Inport<'_>,
    a: &LportAddresses,
    out: &mut Vec<Lflow>,
) {
    let (key, res) = (&inport.key, inport.suffix());
    let Some((options, response, renew)) = a.ipv4.iter().find_map(|ip| dhcpv4_action(p, opts, ip))
    else {
        return;
    };
    let ea = &a.ea_s;
    let flow = |stage, m: String, action: &str, line| {
        Lflow::new(p.ls, stage, 100, &m, action, line)
            .io_port(inport.name)
            .hint(opts.uuid)
    };
    let meter = super::copp::meter(&p.copp, "dhcpv4-opts");
    let discover = format!(
        "inport == {key} && eth.src == {ea} && ip4.src == 0.0.0.0 && ip4.dst == 255.255.255.255 && \
         udp.src == 68 && udp.dst == 67{res}"
    );
    out.push(flow(Stage::LsInDhcpOptions, discover, &options, 8172).meter(meter.clone()));
    let renewal = format!(
        "inport == {key} && eth.src == {ea} && {renew} && udp.src == 68 && udp.dst == 67{res}"
    );
    out.push(flow(Stage::LsInDhcpOptions, renewal, &options, 8200).meter(meter));
    let reply = format!(
        "inport == {key} && eth.src == {ea} && ip4 && udp.src == 68 && udp.dst == 67 && reg0[3]{res}"
    );
    out.push(flow(Stage::LsInDhcpResponse, reply, &response, 8224));
}

/// `build_dhcpv6_options_flows()` for one address entry.
fn dhcpv6_flows(
    opts: &DhcpOptions,
    p: &PortCtx,
    inport: &Inport<'_>,
    a: &LportAddresses,
    out: &mut Vec<Lflow>,
) {
    let (key, res) = (&inport.key, inport.suffix());
    let Some((options, response)) = a.ipv6.iter().find_map(|(ip, _)| dhcpv6_action(opts, ip))
    else {
        return;
    };
    let m = format!(
        "inport == {key} && eth.src == {} && ip6.dst == ff02::1:2 && udp.src == 546 && udp.dst == 547{res}",
        a.ea_s
    );
    let flow = |stage, m: &str, action: &str, line| {
        Lflow::new(p.ls, stage, 100, m, action, line)
            .io_port(inport.name)
            .hint(opts.uuid)
    };
    let meter = super::copp::meter(&p.copp, "dhcpv6-opts");
    out.push(flow(Stage::LsInDhcpOptions, &m, &options, 8264).meter(meter));
    out.push(flow(
        Stage::LsInDhcpResponse,
        &format!("{m} && reg0[3]"),
        &response,
        8277,
    ));
}

/// `ls_out_acl` priority 34000 (`build_acls()`): let replies of
/// ovn-controller's DHCP servers reach a (non-external) port with complete
/// DHCPv4 options, or DHCPv6 options with a server MAC, committing them to
/// conntrack when the switch has stateful ACLs.
pub fn acl_dhcp_reply(p: &PortCtx, out: &mut Vec<Lflow>) {
    if p.lsp.type_ == "external" {
        return;
    }
    let action = if p.has_stateful_acl || p.has_lb_vip {
        "ct_commit; next;"
    } else {
        "next;"
    };
    let name = &p.lsp.name;
    if let Some(opts) = &p.dhcpv4 {
        let server = (
            opts.option("server_id"),
            opts.option("server_mac"),
            opts.option("lease_time"),
        );
        if let (Some(server_id), Some(server_mac), Some(_)) = server {
            let m = format!(
                "outport == \"{name}\" && eth.src == {server_mac} && ip4.src == {server_id} && udp && \
                 udp.src == 67 && udp.dst == 68"
            );
            out.push(
                Lflow::new(p.ls, Stage::LsOutAcl, 34000, &m, action, 6940)
                    .io_port(name)
                    .hint(opts.uuid),
            );
        }
    }
    if let Some(opts) = &p.dhcpv6 {
        let server = opts
            .option("server_id")
            .and_then(|mac| link_local(mac).map(|lla| (mac, lla)));
        if let Some((mac, lla)) = server {
            let m = format!(
                "outport == \"{name}\" && eth.src == {mac} && ip6.src == {lla} && udp && udp.src == 547 && \
                 udp.dst == 546"
            );
            out.push(
                Lflow::new(p.ls, Stage::LsOutAcl, 34000, &m, action, 6967)
                    .io_port(name)
                    .hint(opts.uuid),
            );
        }
    }
}
