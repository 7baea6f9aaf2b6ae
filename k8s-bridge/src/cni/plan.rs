//! What a pod's interfaces look like, read from the NB the bridge wrote
//! (manifests mode): the pod's logical switch ports are the rows whose
//! ownership key starts with `Pod/<namespace>/<name>#`.

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use ovsdb::{Atom, Database};

use crate::model::OWNER_KEY;
use crate::nodus::attach::keys;

/// One interface to create in the pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface {
    /// The name inside the pod.
    pub ifname: String,
    /// The logical switch port (`external_ids:iface-id` on the OVS side).
    pub lsp: String,
    /// The MAC.
    pub mac: String,
    /// Addresses with prefix (the default interface dual-stack: IPv4
    /// and IPv6).
    pub addrs: Vec<IpNetwork>,
    /// The network's gateways (one per family).
    pub gateways: Vec<IpAddr>,
    /// Whether the default route goes this way.
    pub default_route: bool,
    /// Extra routes.
    pub routes: Vec<(IpNetwork, IpAddr)>,
    /// Whether Multus asks for it (then it is plugged by its own call).
    pub multus: bool,
}

fn ext<'a>(row: &'a ovsdb::Row, key: &str) -> Option<&'a str> {
    row.get("external_ids")?.get_str(key)
}

/// Parses `DST via GW,…`.
pub fn parse_routes(s: &str) -> Result<Vec<(IpNetwork, IpAddr)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (d, g) = r
                .split_once(" via ")
                .ok_or_else(|| format!("route {r:?}: expected \"DST via GW\""))?;
            let d: IpNetwork = d.trim().parse().map_err(|e| format!("route {r:?}: {e}"))?;
            let g: IpAddr = g.trim().parse().map_err(|e| format!("route {r:?}: {e}"))?;
            Ok((d, g))
        })
        .collect()
}

/// The pod's interfaces, the default one (named `default_ifname`) first,
/// then the others by name. An empty list means the NB has no port for
/// the pod (not translated yet, or not scheduled there).
pub fn pod_interfaces(
    db: &Database,
    namespace: &str,
    name: &str,
    default_ifname: &str,
) -> Result<Vec<Iface>, String> {
    let prefix = format!("Pod/{namespace}/{name}#");
    let mut out: Vec<(bool, Iface)> = Vec::new();
    let Some(lsps) = db.table("Logical_Switch_Port") else {
        return Ok(Vec::new());
    };
    for (uuid, row) in lsps.iter() {
        let Some(key) = ext(row, OWNER_KEY).filter(|k| k.starts_with(&prefix)) else {
            continue;
        };
        let lsp = row
            .get("name")
            .and_then(|d| d.as_str())
            .unwrap_or_default()
            .to_string();
        let bad = |m: String| format!("logical switch port {lsp}: {m}");
        let addr = row
            .get("addresses")
            .and_then(|d| d.atoms().first().and_then(Atom::as_str).map(str::to_string))
            .ok_or_else(|| bad("no addresses".into()))?;
        let mut parts = addr.split_whitespace();
        let mac = parts.next().unwrap_or_default();
        let ips: Vec<IpAddr> = parts
            .map(|ip| ip.parse().map_err(|e| bad(format!("{ip:?}: {e}"))))
            .collect::<Result<_, _>>()?;
        if ips.is_empty() {
            return Err(bad(format!("addresses {addr:?}: expected \"MAC IP [IP]\"")));
        }
        let routes = parse_routes(ext(row, keys::ROUTES).unwrap_or("")).map_err(bad)?;
        let is_default = key.ends_with("#port");
        let iface = if is_default {
            // The default network: prefix and gateway from the switch
            // subnet (IPv4) and IPv6 prefix (always a /64).
            let sw = db
                .table("Logical_Switch")
                .into_iter()
                .flat_map(|t| t.values())
                .find(|sw| {
                    sw.get("ports")
                        .is_some_and(|p| p.atoms().iter().any(|a| a.as_uuid() == Some(*uuid)))
                });
            let oc = |k: &str| -> Option<String> {
                sw?.get("other_config")?.get_str(k).map(str::to_string)
            };
            let mut nets: Vec<IpNetwork> = Vec::new();
            if let Some(subnet) = oc("subnet") {
                nets.push(
                    subnet
                        .parse()
                        .map_err(|e| bad(format!("subnet {subnet:?}: {e}")))?,
                );
            }
            if let Some(p) = oc("ipv6_prefix") {
                nets.push(
                    format!("{p}/64")
                        .parse()
                        .map_err(|e| bad(format!("ipv6_prefix {p:?}: {e}")))?,
                );
            }
            let mut addrs = Vec::new();
            let mut gateways = Vec::new();
            for ip in &ips {
                let net = nets
                    .iter()
                    .find(|n| n.is_ipv6() == ip.is_ipv6())
                    .ok_or_else(|| {
                        bad(format!(
                            "its switch has no other_config:{} for {ip}",
                            if ip.is_ipv6() {
                                "ipv6_prefix"
                            } else {
                                "subnet"
                            }
                        ))
                    })?;
                addrs.push(IpNetwork::new(*ip, net.prefix()).map_err(|e| bad(e.to_string()))?);
                gateways.push(crate::ipam::nth_ip(*net, 1));
            }
            Iface {
                ifname: default_ifname.to_string(),
                lsp: lsp.clone(),
                mac: mac.to_string(),
                addrs,
                gateways,
                default_route: ext(row, keys::DEFAULT_ROUTE) != Some("false"),
                routes,
                multus: false,
            }
        } else {
            let ifname = ext(row, keys::IFNAME)
                .ok_or_else(|| bad(format!("no external_ids:{}", keys::IFNAME)))?
                .to_string();
            let a = ext(row, keys::IP_ADDRESS)
                .ok_or_else(|| bad(format!("no external_ids:{}", keys::IP_ADDRESS)))?;
            // `IP/prefix`, one per family, comma-separated; each must be
            // one of the port's addresses.
            let addrs: Vec<IpNetwork> = a
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| {
                    let n: IpNetwork = x.parse().map_err(|e| bad(format!("{x:?}: {e}")))?;
                    if !ips.contains(&n.ip()) {
                        return Err(bad(format!("{x:?} is not in addresses {addr:?}")));
                    }
                    Ok(n)
                })
                .collect::<Result<_, _>>()?;
            let gateways: Vec<IpAddr> = ext(row, keys::GATEWAY)
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(|g| g.parse().map_err(|e| bad(format!("gateway {g:?}: {e}"))))
                .collect::<Result<_, _>>()?;
            Iface {
                ifname,
                lsp: lsp.clone(),
                mac: mac.to_string(),
                addrs,
                gateways,
                default_route: ext(row, keys::DEFAULT_ROUTE) == Some("true"),
                routes,
                multus: ext(row, keys::VIA) == Some("multus"),
            }
        };
        out.push((!is_default, iface));
    }
    out.sort_by(|a, b| (a.0, &a.1.ifname).cmp(&(b.0, &b.1.ifname)));
    Ok(out.into_iter().map(|(_, i)| i).collect())
}
