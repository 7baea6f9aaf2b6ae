//! What a pod's interfaces look like, read from the NB the bridge wrote
//! (manifests mode): the pod's logical switch ports are the rows whose
//! ownership key starts with `Pod/<namespace>/<name>#`.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;
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
    /// Address and prefix.
    pub addr: Ipv4Network,
    /// The network's gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Whether the default route goes this way.
    pub default_route: bool,
    /// Extra routes.
    pub routes: Vec<(Ipv4Network, Ipv4Addr)>,
    /// Whether Multus asks for it (then it is plugged by its own call).
    pub multus: bool,
}

fn ext<'a>(row: &'a ovsdb::Row, key: &str) -> Option<&'a str> {
    row.get("external_ids")?.get_str(key)
}

/// Parses `DST via GW,…`.
pub fn parse_routes(s: &str) -> Result<Vec<(Ipv4Network, Ipv4Addr)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (d, g) = r
                .split_once(" via ")
                .ok_or_else(|| format!("route {r:?}: expected \"DST via GW\""))?;
            let d: Ipv4Network = d.trim().parse().map_err(|e| format!("route {r:?}: {e}"))?;
            let g: Ipv4Addr = g.trim().parse().map_err(|e| format!("route {r:?}: {e}"))?;
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
        let (Some(mac), Some(ip)) = (parts.next(), parts.next()) else {
            return Err(bad(format!("addresses {addr:?}: expected \"MAC IP\"")));
        };
        let ip: Ipv4Addr = ip.parse().map_err(|e| bad(format!("{ip:?}: {e}")))?;
        let routes = parse_routes(ext(row, keys::ROUTES).unwrap_or("")).map_err(bad)?;
        let is_default = key.ends_with("#port");
        let iface = if is_default {
            // The default network: prefix and gateway from the switch subnet.
            let subnet = db
                .table("Logical_Switch")
                .into_iter()
                .flat_map(|t| t.values())
                .find(|sw| {
                    sw.get("ports")
                        .is_some_and(|p| p.atoms().iter().any(|a| a.as_uuid() == Some(*uuid)))
                })
                .and_then(|sw| {
                    sw.get("other_config")?
                        .get_str("subnet")
                        .map(str::to_string)
                })
                .ok_or_else(|| bad("its switch has no other_config:subnet".into()))?;
            let net: Ipv4Network = subnet
                .parse()
                .map_err(|e| bad(format!("subnet {subnet:?}: {e}")))?;
            Iface {
                ifname: default_ifname.to_string(),
                lsp: lsp.clone(),
                mac: mac.to_string(),
                addr: Ipv4Network::new(ip, net.prefix()).map_err(|e| bad(e.to_string()))?,
                gateway: Some(crate::ipam::nth(net, 1)),
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
            let net: Ipv4Network = a.parse().map_err(|e| bad(format!("{a:?}: {e}")))?;
            let gateway = match ext(row, keys::GATEWAY) {
                Some(g) => Some(g.parse().map_err(|e| bad(format!("gateway {g:?}: {e}")))?),
                None => None,
            };
            Iface {
                ifname,
                lsp: lsp.clone(),
                mac: mac.to_string(),
                addr: Ipv4Network::new(ip, net.prefix()).map_err(|e| bad(e.to_string()))?,
                gateway,
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
