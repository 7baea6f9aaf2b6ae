//! Nodus networks: each `Network` and `ProviderNetwork` becomes a logical
//! switch named after it, with `other_config:subnet` (its first IPv4
//! subnet, so northd's IPAM checks the static addresses for duplicates)
//! and `other_config:ipv6_prefix` (its first IPv6 subnet, when that is a
//! /64, as ovn-kubernetes marks IPv6 switches); `excludeIps` only keeps
//! addresses from this bridge's allocation, see [`NetAlloc`]. A network
//! with a gateway is attached to the Nodus router `ovn4nfv-master` by
//! `nodus-rtos-<net>` (every gateway with its prefix, IPv4 first; the MAC
//! from the first IPv4 gateway, else the first IPv6 one, as
//! `util.IPAddrToHWAddr`) and `nodus-stor-<net>`. A provider network also
//! gets a localnet port `nodus-localnet-<net>` with `network_name=<net>`
//! (the key of `ovn-bridge-mappings`, see [`crate::node`]) and, for
//! `VLAN`, the VLAN as `tag_request` — OVN tags and untags on the bridge,
//! so the node attaches the NIC itself, not a subinterface.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{IpNetwork, Ipv4Network};
use k8s_openapi::api::core::v1::Node;

use super::crd::{IpSubnet, ProviderNetworkSpec, Route};
use crate::error::{Error, Result, Source};
use crate::manifest::{Objects, Sourced};
use crate::model::{Nb, NbRow, RowId};
use crate::names::mac_from_addr;

pub use super::alloc::NetAlloc;
pub use super::subnets::{
    parse_cidr, parse_cidr6, parse_ip, parse_ip_any, usable, usable6, Subnet, Subnet6,
};

/// Owner of the Nodus router.
pub const OWNER: &str = "Nodus";
/// The Nodus router's name (ovn4nfv's `ovn4nfv-master`).
pub const ROUTER: &str = "ovn4nfv-master";

/// The router port of a network.
pub fn router_port(net: &str) -> String {
    format!("nodus-rtos-{net}")
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
    /// Its IPv4 subnets, in spec order.
    pub subnets: Vec<Subnet>,
    /// Its IPv6 subnets, in spec order.
    pub subnets6: Vec<Subnet6>,
    /// IPv4 addresses never handed out.
    pub excluded: BTreeSet<Ipv4Addr>,
    /// IPv6 ranges never handed out (first, last).
    pub excluded6: Vec<(Ipv6Addr, Ipv6Addr)>,
    /// Routes for pods: destination and next hop (same family).
    pub routes: Vec<(IpNetwork, IpAddr)>,
    /// The switch.
    pub switch: RowId,
    /// Provider wiring, for provider networks.
    pub provider: Option<Provider>,
}

impl NetInfo {
    /// The first IPv4 gateway (the next hop of routes through the router).
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.subnets.iter().find_map(|s| s.gateway)
    }

    /// The first IPv6 gateway.
    pub fn gateway6(&self) -> Option<Ipv6Addr> {
        self.subnets6.iter().find_map(|s| s.gateway)
    }

    /// The IPv4 subnet holding `ip`.
    pub fn subnet_of(&self, ip: Ipv4Addr) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.cidr.contains(ip))
    }

    /// The IPv6 subnet holding `ip`.
    pub fn subnet6_of(&self, ip: Ipv6Addr) -> Option<&Subnet6> {
        self.subnets6.iter().find(|s| s.cidr.contains(ip))
    }

    /// Every subnet, IPv4 first, as text (for messages).
    pub fn subnet_list(&self) -> String {
        let v4 = self.subnets.iter().map(|s| s.cidr.to_string());
        let v6 = self.subnets6.iter().map(|s| s.cidr.to_string());
        v4.chain(v6).collect::<Vec<_>>().join(", ")
    }

    /// Whether `net` lies inside one of the IPv4 subnets (directly connected).
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

/// One network's spec, whichever kind it is.
struct Common<'a> {
    kind: &'static str,
    name: &'a str,
    source: &'a Source,
    cni_type: &'a str,
    subnets: &'a [IpSubnet],
    ipv6: Option<&'a Vec<IpSubnet>>,
    routes: Option<&'a Vec<Route>>,
}

/// Whether two networks' subnets share an address: (this network's
/// subnet, the other's), the first such pair.
fn overlap(a: &NetInfo, b: &super::subnets::Validated) -> Option<(String, String, &'static str)> {
    for s in &b.subnets {
        if let Some(o) = a
            .subnets
            .iter()
            .find(|o| crate::ipam::overlaps(o.cidr, s.cidr))
        {
            return Some((s.cidr.to_string(), o.cidr.to_string(), "spec.ipv4Subnets"));
        }
    }
    for s in &b.subnets6 {
        if let Some(o) = a
            .subnets6
            .iter()
            .find(|o| o.cidr.contains(s.cidr.network()) || s.cidr.contains(o.cidr.network()))
        {
            return Some((s.cidr.to_string(), o.cidr.to_string(), "spec.ipv6Subnets"));
        }
    }
    None
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
    if all.is_empty() {
        return Ok(out);
    }
    let mut router_ports = Vec::new();
    let mut routed = false;
    for (c, provider) in all {
        let bad = |field: &str, m: String| invalid(c.kind, c.name, c.source, field, m);
        if c.cni_type != "ovn4nfv" {
            return Err(bad(
                "spec.cniType",
                format!("{:?}: expected \"ovn4nfv\"", c.cni_type),
            ));
        }
        let v = super::subnets::validate(
            c.subnets,
            c.ipv6.map(Vec::as_slice).unwrap_or_default(),
            c.routes.map(Vec::as_slice).unwrap_or_default(),
        )
        .map_err(|(f, m)| bad(&f, m))?;
        // Subnets must not overlap another network's.
        for o in out.nets.values() {
            if let Some((mine, theirs, field)) = overlap(o, &v) {
                return Err(bad(
                    field,
                    format!("{mine} overlaps {theirs} of {} {}", o.kind, o.name),
                ));
            }
        }
        let owner = format!("{}/{}", c.kind, c.name);
        let k = |part: &str| format!("{owner}#{part}");
        let mut ports = Vec::new();
        let gws: Vec<String> = v
            .subnets
            .iter()
            .filter_map(|s| s.gateway.map(|g| format!("{g}/{}", s.cidr.prefix())))
            .chain(
                v.subnets6
                    .iter()
                    .filter_map(|s| s.gateway.map(|g| format!("{g}/{}", s.cidr.prefix()))),
            )
            .collect();
        let first_gw = v
            .subnets
            .iter()
            .find_map(|s| s.gateway.map(IpAddr::V4))
            .or_else(|| v.subnets6.iter().find_map(|s| s.gateway.map(IpAddr::V6)));
        if let Some(first) = first_gw {
            routed = true;
            let rp = router_port(c.name);
            router_ports.push(
                nb.add(
                    NbRow::new("Logical_Router_Port", k("rtos"))
                        .str("name", &rp)
                        .str("mac", mac_from_addr(first))
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
            if let Some(vlan) = p.vlan {
                ln = ln.int("tag_request", i64::from(vlan));
            }
            ports.push(nb.add(ln));
        }
        let mut other = Vec::new();
        if let Some(s) = v.subnets.first() {
            other.push(("subnet".to_string(), s.cidr.to_string()));
        }
        if let Some(s) = v.subnets6.first().filter(|s| s.cidr.prefix() == 64) {
            other.push(("ipv6_prefix".to_string(), s.cidr.network().to_string()));
        }
        // No exclude_ips: every address is static (this bridge allocates),
        // and northd warns "Duplicate IP set" for a static address in
        // exclude_ips, which Nodus allows for fixed addresses.
        let mut sw = NbRow::new("Logical_Switch", k("switch")).str("name", c.name);
        if !other.is_empty() {
            sw = sw.map("other_config", other);
        }
        let switch = nb.add(sw.refs("ports", ports));
        out.nets.insert(
            c.name.to_string(),
            NetInfo {
                kind: c.kind,
                name: c.name.to_string(),
                source: c.source.clone(),
                subnets: v.subnets,
                subnets6: v.subnets6,
                excluded: v.excluded,
                excluded6: v.excluded6,
                routes: v.routes,
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
