//! Nodus networks: each `Network` and `ProviderNetwork` becomes a logical
//! switch named after it, with `other_config:subnet` (so northd's IPAM
//! checks the static addresses for duplicates; `excludeIps` only keeps
//! addresses from this bridge's allocation, see [`NetAlloc`]). A network with a gateway is attached to the
//! Nodus router `ovn4nfv-master` by `nodus-rtos-<net>` (the gateway
//! addresses) and `nodus-stor-<net>`. A provider network also gets a
//! localnet port `nodus-localnet-<net>` with `network_name=<net>` (the
//! key of `ovn-bridge-mappings`, see [`crate::node`]) and, for `VLAN`,
//! the VLAN as `tag_request` — OVN tags and untags on the bridge, so the
//! node attaches the NIC itself, not a subinterface.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;
use k8s_openapi::api::core::v1::Node;

use super::crd::{IpSubnet, ProviderNetworkSpec, Route};
use crate::error::{Error, Result, Source};
use crate::manifest::{Objects, Sourced};
use crate::model::{Nb, NbRow, RowId};
use crate::names::mac_from_ip;

/// Owner of the Nodus router.
pub const OWNER: &str = "Nodus";
/// The Nodus router's name (ovn4nfv's `ovn4nfv-master`).
pub const ROUTER: &str = "ovn4nfv-master";

/// The router port of a network.
pub fn router_port(net: &str) -> String {
    format!("nodus-rtos-{net}")
}

/// One subnet of a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    /// The CIDR.
    pub cidr: Ipv4Network,
    /// The router address, if routed.
    pub gateway: Option<Ipv4Addr>,
}

/// How a provider network reaches the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// The VLAN, for `VLAN` networks.
    pub vlan: Option<u16>,
    /// The node NIC.
    pub interface: String,
    /// The nodes the network is on.
    pub nodes: BTreeSet<String>,
}

/// A network as pods and chains see it.
#[derive(Clone, Debug)]
pub struct NetInfo {
    /// `Network` or `ProviderNetwork`.
    pub kind: &'static str,
    /// The name (= the switch name).
    pub name: String,
    /// Where it was read.
    pub source: Source,
    /// Its subnets, in spec order.
    pub subnets: Vec<Subnet>,
    /// Addresses never handed out.
    pub excluded: BTreeSet<Ipv4Addr>,
    /// Routes for pods: destination and next hop.
    pub routes: Vec<(Ipv4Network, Ipv4Addr)>,
    /// The switch.
    pub switch: RowId,
    /// Provider wiring, for provider networks.
    pub provider: Option<Provider>,
}

impl NetInfo {
    /// The first gateway (the next hop of routes through the router).
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.subnets.iter().find_map(|s| s.gateway)
    }

    /// The subnet holding `ip`.
    pub fn subnet_of(&self, ip: Ipv4Addr) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.cidr.contains(ip))
    }

    /// Whether `net` lies inside one of the subnets (directly connected).
    pub fn connects(&self, net: Ipv4Network) -> bool {
        self.subnets
            .iter()
            .any(|s| s.cidr.contains(net.network()) && s.cidr.contains(net.broadcast()))
    }
}

/// What the networks produce.
#[derive(Clone, Debug, Default)]
pub struct Networks {
    /// The Nodus router, when some network is routed.
    pub router: Option<RowId>,
    /// Networks by name.
    pub nets: BTreeMap<String, NetInfo>,
}

fn invalid(kind: &str, name: &str, src: &Source, field: &str, msg: impl Into<String>) -> Error {
    Error::Invalid {
        at: Box::new(src.clone()),
        kind: kind.into(),
        name: name.into(),
        field: field.into(),
        message: msg.into(),
    }
}

/// Parses an IPv4 CIDR whose host bits are clear.
pub fn parse_cidr(s: &str) -> std::result::Result<Ipv4Network, String> {
    let net: Ipv4Network = s
        .trim()
        .parse()
        .map_err(|e| format!("invalid CIDR {s:?}: {e}"))?;
    if net.network() != net.ip() {
        return Err(format!(
            "{s}: host bits set (the network is {})",
            net.network()
        ));
    }
    Ok(net)
}

/// Parses an IPv4 address, optionally with a `/prefix` (which is dropped).
pub fn parse_ip(s: &str) -> std::result::Result<Ipv4Addr, String> {
    let ip = s.split('/').next().unwrap_or(s).trim();
    ip.parse()
        .map_err(|e| format!("invalid IPv4 address {s:?}: {e}"))
}

struct Common<'a> {
    kind: &'static str,
    name: &'a str,
    source: &'a Source,
    cni_type: &'a str,
    subnets: &'a [IpSubnet],
    ipv6: Option<&'a Vec<IpSubnet>>,
    routes: Option<&'a Vec<Route>>,
}

/// A network's checked subnets, excluded addresses and routes.
type Validated = (
    Vec<Subnet>,
    BTreeSet<Ipv4Addr>,
    Vec<(Ipv4Network, Ipv4Addr)>,
);

fn validate(c: &Common) -> Result<Validated> {
    let bad = |field: &str, m: String| invalid(c.kind, c.name, c.source, field, m);
    if c.cni_type != "ovn4nfv" {
        return Err(bad(
            "spec.cniType",
            format!("{:?}: expected \"ovn4nfv\"", c.cni_type),
        ));
    }
    if c.ipv6.is_some_and(|v| !v.is_empty()) {
        return Err(bad(
            "spec.ipv6Subnets",
            "IPv6 is not supported yet (IPv4 single-stack only)".into(),
        ));
    }
    if c.subnets.is_empty() {
        return Err(bad(
            "spec.ipv4Subnets",
            "at least one subnet is required".into(),
        ));
    }
    let mut subnets: Vec<Subnet> = Vec::new();
    let mut excluded = BTreeSet::new();
    for (i, s) in c.subnets.iter().enumerate() {
        let f = |x: &str| format!("spec.ipv4Subnets[{i}].{x}");
        let cidr = parse_cidr(&s.subnet).map_err(|m| bad(&f("subnet"), m))?;
        if cidr.prefix() > 30 {
            return Err(bad(
                &f("subnet"),
                format!("{cidr}: too small (at most /30)"),
            ));
        }
        if let Some(o) = subnets.iter().find(|o| crate::ipam::overlaps(o.cidr, cidr)) {
            return Err(bad(&f("subnet"), format!("{cidr} overlaps {}", o.cidr)));
        }
        let gateway = match s
            .gateway
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            None => None,
            Some(g) => {
                let ip = parse_ip(g).map_err(|m| bad(&f("gateway"), m))?;
                if let Some((_, p)) = g.split_once('/') {
                    if p.trim().parse::<u8>().ok() != Some(cidr.prefix()) {
                        return Err(bad(
                            &f("gateway"),
                            format!(
                                "{g}: the prefix differs from the subnet's /{}",
                                cidr.prefix()
                            ),
                        ));
                    }
                }
                if !usable(cidr, ip) {
                    return Err(bad(
                        &f("gateway"),
                        format!("{ip} is not a host address of {cidr}"),
                    ));
                }
                Some(ip)
            }
        };
        for tok in s
            .exclude_ips
            .as_deref()
            .unwrap_or("")
            .split([' ', ','])
            .filter(|t| !t.is_empty())
        {
            let (a, b) = match tok.split_once("..") {
                Some((a, b)) => (a, b),
                None => (tok, tok),
            };
            let a = parse_ip(a).map_err(|m| bad(&f("excludeIps"), m))?;
            let b = parse_ip(b).map_err(|m| bad(&f("excludeIps"), m))?;
            if !cidr.contains(a) || !cidr.contains(b) || u32::from(a) > u32::from(b) {
                return Err(bad(
                    &f("excludeIps"),
                    format!("{tok}: not an address or ascending range inside {cidr}"),
                ));
            }
            for x in u32::from(a)..=u32::from(b) {
                excluded.insert(Ipv4Addr::from(x));
            }
        }
        subnets.push(Subnet { cidr, gateway });
    }
    let mut routes = Vec::new();
    for (i, r) in c.routes.into_iter().flatten().enumerate() {
        let dst = parse_cidr(&r.dst).map_err(|m| bad(&format!("spec.routes[{i}].dst"), m))?;
        let gw = match &r.gw {
            Some(g) => parse_ip(g).map_err(|m| bad(&format!("spec.routes[{i}].gw"), m))?,
            None => subnets.iter().find_map(|s| s.gateway).ok_or_else(|| {
                bad(
                    &format!("spec.routes[{i}].gw"),
                    "no gw and the network has no gateway".into(),
                )
            })?,
        };
        if !subnets.iter().any(|s| s.cidr.contains(gw)) {
            return Err(bad(
                &format!("spec.routes[{i}].gw"),
                format!("{gw} is not on the network"),
            ));
        }
        routes.push((dst, gw));
    }
    Ok((subnets, excluded, routes))
}

/// Whether `ip` is a host address of `net` (not network nor broadcast).
pub fn usable(net: Ipv4Network, ip: Ipv4Addr) -> bool {
    net.contains(ip) && ip != net.network() && ip != net.broadcast()
}

/// Whether a Nodus node selector (`all`/`any`, or `specific` with
/// `key=value` labels, a bare `key` meaning the label exists) picks a node.
pub fn selects(
    selector: &str,
    labels: &[String],
    node: &Node,
) -> std::result::Result<bool, String> {
    let have = node.metadata.labels.clone().unwrap_or_default();
    match selector {
        "all" | "any" => Ok(true),
        "specific" => {
            if labels.is_empty() {
                return Err("\"specific\" needs nodeLabelList".into());
            }
            Ok(labels.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => have.get(k.trim()).map(String::as_str) == Some(v.trim()),
                None => have.contains_key(l.trim()),
            }))
        }
        other => Err(format!("{other:?}: expected \"all\" or \"specific\"")),
    }
}

/// The provider wiring of a provider network: VLAN, NIC and the nodes its
/// selector picks.
pub fn provider(
    spec: &ProviderNetworkSpec,
    nodes: &BTreeMap<String, Sourced<Node>>,
) -> std::result::Result<Provider, (String, String)> {
    let pick = |sel: &str, labels: &Option<Vec<String>>, field: &str| {
        let labels = labels.clone().unwrap_or_default();
        let mut out = BTreeSet::new();
        for (n, node) in nodes {
            if selects(sel, &labels, &node.obj).map_err(|m| (field.to_string(), m))? {
                out.insert(n.clone());
            }
        }
        Ok::<_, (String, String)>(out)
    };
    let check_if = |s: &str, field: &str| {
        if s.is_empty() || s.len() > 15 || s.contains(['/', ' ']) {
            Err((
                field.to_string(),
                format!("{s:?}: not a network interface name"),
            ))
        } else {
            Ok(())
        }
    };
    match spec.provider_net_type.as_str() {
        "VLAN" => {
            let v = spec
                .vlan
                .as_ref()
                .ok_or_else(|| ("spec.vlan".to_string(), "required for VLAN".to_string()))?;
            let id = match &v.vlan_id {
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i64::from(*i),
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => {
                    s.trim().parse::<i64>().unwrap_or(-1)
                }
            };
            if !(1..=4094).contains(&id) {
                return Err((
                    "spec.vlan.vlanId".into(),
                    format!("{:?}: not a VLAN id (1-4094)", v.vlan_id),
                ));
            }
            check_if(
                &v.provider_interface_name,
                "spec.vlan.providerInterfaceName",
            )?;
            Ok(Provider {
                vlan: Some(id as u16),
                interface: v.provider_interface_name.clone(),
                nodes: pick(
                    &v.vlan_node_selector,
                    &v.node_label_list,
                    "spec.vlan.vlanNodeSelector",
                )?,
            })
        }
        "DIRECT" => {
            let d = spec
                .direct
                .as_ref()
                .ok_or_else(|| ("spec.direct".to_string(), "required for DIRECT".to_string()))?;
            check_if(
                &d.provider_interface_name,
                "spec.direct.providerInterfaceName",
            )?;
            Ok(Provider {
                vlan: None,
                interface: d.provider_interface_name.clone(),
                nodes: pick(
                    &d.direct_node_selector,
                    &d.node_label_list,
                    "spec.direct.directNodeSelector",
                )?,
            })
        }
        other => Err((
            "spec.providerNetType".into(),
            format!("{other:?}: expected \"VLAN\" or \"DIRECT\""),
        )),
    }
}

/// Builds the networks' switches, the router and the localnet ports.
pub fn build(nb: &mut Nb, objs: &Objects) -> Result<Networks> {
    let mut out = Networks::default();
    let mut all: Vec<(Common, Option<Provider>)> = Vec::new();
    for (name, n) in &objs.networks {
        let s = &n.obj.spec;
        all.push((
            Common {
                kind: "Network",
                name,
                source: &n.source,
                cni_type: &s.cni_type,
                subnets: &s.ipv4_subnets,
                ipv6: s.ipv6_subnets.as_ref(),
                routes: s.routes.as_ref(),
            },
            None,
        ));
    }
    for (name, n) in &objs.provider_networks {
        let s = &n.obj.spec;
        let p = provider(s, &objs.nodes)
            .map_err(|(f, m)| invalid("ProviderNetwork", name, &n.source, &f, m))?;
        all.push((
            Common {
                kind: "ProviderNetwork",
                name,
                source: &n.source,
                cni_type: &s.cni_type,
                subnets: &s.ipv4_subnets,
                ipv6: s.ipv6_subnets.as_ref(),
                routes: s.routes.as_ref(),
            },
            Some(p),
        ));
    }
    // Validate everything, and routed subnets must not overlap each other.
    type Checked<'a> = (
        Common<'a>,
        Vec<Subnet>,
        BTreeSet<Ipv4Addr>,
        Vec<(Ipv4Network, Ipv4Addr)>,
        Option<Provider>,
    );
    let mut checked: Vec<Checked> = Vec::new();
    for (c, p) in all {
        let (subnets, excluded, routes) = validate(&c)?;
        for s in &subnets {
            for (oc, osubs, _, _, _) in &checked {
                if let Some(o) = osubs.iter().find(|o| crate::ipam::overlaps(o.cidr, s.cidr)) {
                    return Err(invalid(
                        c.kind,
                        c.name,
                        c.source,
                        "spec.ipv4Subnets",
                        format!("{} overlaps {} of {} {}", s.cidr, o.cidr, oc.kind, oc.name),
                    ));
                }
            }
        }
        checked.push((c, subnets, excluded, routes, p));
    }
    if checked.is_empty() {
        return Ok(out);
    }
    let routed = checked
        .iter()
        .any(|(_, subs, _, _, _)| subs.iter().any(|s| s.gateway.is_some()));
    let mut router_ports = Vec::new();
    for (c, subnets, excluded, routes, provider) in checked {
        let owner = format!("{}/{}", c.kind, c.name);
        let k = |part: &str| format!("{owner}#{part}");
        let mut ports = Vec::new();
        let gws: Vec<String> = subnets
            .iter()
            .filter_map(|s| s.gateway.map(|g| format!("{g}/{}", s.cidr.prefix())))
            .collect();
        if let Some(first) = subnets.iter().find_map(|s| s.gateway) {
            let rp = router_port(c.name);
            router_ports.push(
                nb.add(
                    NbRow::new("Logical_Router_Port", k("rtos"))
                        .str("name", &rp)
                        .str("mac", mac_from_ip(first))
                        .strs("networks", gws),
                ),
            );
            ports.push(
                nb.add(
                    NbRow::new("Logical_Switch_Port", k("stor"))
                        .str("name", format!("nodus-stor-{}", c.name))
                        .str("type", "router")
                        .strs("addresses", ["router"])
                        .map("options", [("router-port", rp)]),
                ),
            );
        }
        if let Some(p) = &provider {
            let mut ln = NbRow::new("Logical_Switch_Port", k("localnet"))
                .str("name", format!("nodus-localnet-{}", c.name))
                .str("type", "localnet")
                .strs("addresses", ["unknown"])
                .map("options", [("network_name", c.name)]);
            if let Some(v) = p.vlan {
                ln = ln.int("tag_request", i64::from(v));
            }
            ports.push(nb.add(ln));
        }
        let other = vec![("subnet".to_string(), subnets[0].cidr.to_string())];
        // No exclude_ips: every address is static (this bridge allocates),
        // and northd warns "Duplicate IP set" for a static address in
        // exclude_ips, which Nodus allows for fixed addresses.
        let switch = nb.add(
            NbRow::new("Logical_Switch", k("switch"))
                .str("name", c.name)
                .map("other_config", other)
                .refs("ports", ports),
        );
        out.nets.insert(
            c.name.to_string(),
            NetInfo {
                kind: c.kind,
                name: c.name.to_string(),
                source: c.source.clone(),
                subnets,
                excluded,
                routes,
                switch,
                provider,
            },
        );
    }
    if routed {
        out.router = Some(
            nb.add(
                NbRow::new("Logical_Router", format!("{OWNER}#router"))
                    .str("name", ROUTER)
                    .refs("ports", router_ports),
            ),
        );
    }
    Ok(out)
}

/// Hands out the addresses of one network: fixed ones first, then the
/// lowest free host address of the first subnet with room, skipping the
/// gateways and excluded addresses.
#[derive(Debug)]
pub struct NetAlloc<'a> {
    net: &'a NetInfo,
    taken: BTreeMap<Ipv4Addr, String>,
}

impl<'a> NetAlloc<'a> {
    /// A new allocator.
    pub fn new(net: &'a NetInfo) -> Self {
        NetAlloc {
            net,
            taken: BTreeMap::new(),
        }
    }

    fn why_not(&self, ip: Ipv4Addr) -> Option<String> {
        let Some(s) = self.net.subnet_of(ip) else {
            let all: Vec<String> = self
                .net
                .subnets
                .iter()
                .map(|s| s.cidr.to_string())
                .collect();
            return Some(format!(
                "{ip} is outside the subnets of network {} ({})",
                self.net.name,
                all.join(", ")
            ));
        };
        if !usable(s.cidr, ip) {
            return Some(format!("{ip} is not a host address of {}", s.cidr));
        }
        if s.gateway == Some(ip) {
            return Some(format!("{ip} is the gateway of network {}", self.net.name));
        }
        if let Some(o) = self.taken.get(&ip) {
            return Some(format!("{ip} is already assigned to {o}"));
        }
        None
    }

    /// Reserves a fixed address for `owner`. Excluded addresses may be
    /// fixed (as OVN's `exclude_ips`, they are only kept from allocation).
    pub fn reserve(&mut self, ip: Ipv4Addr, owner: &str) -> std::result::Result<(), String> {
        if let Some(m) = self.why_not(ip) {
            return Err(m);
        }
        self.taken.insert(ip, owner.to_string());
        Ok(())
    }

    /// The lowest free address, for `owner`.
    pub fn allocate(&mut self, owner: &str) -> Option<Ipv4Addr> {
        for s in &self.net.subnets {
            let first = u32::from(s.cidr.network()) + 1;
            let last = u32::from(s.cidr.broadcast());
            for x in first..last {
                let ip = Ipv4Addr::from(x);
                if !self.net.excluded.contains(&ip) && self.why_not(ip).is_none() {
                    self.taken.insert(ip, owner.to_string());
                    return Some(ip);
                }
            }
        }
        None
    }
}
