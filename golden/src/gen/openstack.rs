//! OpenStack-shaped Northbound databases, as networking-ovn (Neutron's ML2/OVN
//! driver) lays them out in outline: one provider (external) network with a
//! localnet port, tenant routers each with a distributed gateway port on it
//! (two `Gateway_Chassis`), tenant networks behind each router, SNAT for
//! every tenant subnet and floating IPs as distributed `dnat_and_snat`
//! rules (`logical_port` + `external_mac`). Routers carry the options Neutron
//! sets on every router (`always_learn_from_arp_request=false`,
//! `dynamic_neigh_routers=true`: routers on the provider network learn each
//! other's MACs by ARP instead of one static flow per pair of routers).

use serde_json::{json, Value};

use super::k8s::ipv4;

/// The size of a generated topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpenstackShape {
    /// Tenant routers.
    pub routers: u32,
    /// Tenant networks (switches) per router.
    pub networks_per_router: u32,
    /// VMs (logical switch ports) per network.
    pub vms_per_network: u32,
    /// Floating IPs in all, given to the VMs in order (router by router), so
    /// that the last routers may have none (and their gateway ports
    /// `always-redirect`).
    pub fips: u32,
}

/// A deterministic row UUID: `kind` and a serial number. Kinds: 1 provider
/// localnet port, 2 gateway chassis, 3 gateway port, 4 provider router port,
/// 5 tenant router port, 6 VM port, 7 NAT, 8 tenant switch router port,
/// 9 tenant switch, 10 static route, 11 router, 12 provider switch,
/// 13 `NB_Global`.
pub fn uuid(kind: u32, n: u32) -> String {
    format!("{kind:08x}-0000-4000-a000-{n:012x}")
}

fn mac(prefix: u32, n: u32) -> String {
    format!(
        "fa:16:3e:{:02x}:{:02x}:{:02x}",
        prefix & 255,
        (n >> 8) & 255,
        n & 255
    )
}

/// 172.24.0.0/16: routers' gateway addresses from .0.10, floating IPs from
/// .128.0.
const EXT_NET: u32 = (172 << 24) + (24 << 16);

/// A set of row references.
pub(super) fn set(uuids: &[String]) -> Value {
    json!([
        "set",
        uuids.iter().map(|u| json!(["uuid", u])).collect::<Vec<_>>()
    ])
}

/// The NB as a transact params array with an explicit UUID for every row,
/// children inserted before the rows referring to them.
pub fn openstack(shape: &OpenstackShape) -> Value {
    let mut ops = vec![json!("OVN_Northbound")];
    let mut insert = |table: &str, uuid: &str, row: Value| {
        ops.push(json!({"op": "insert", "table": table, "uuid": uuid, "row": row}));
    };
    let nets = shape.networks_per_router;
    let vms = shape.vms_per_network;
    // Provider network: localnet port plus one router port per router.
    let mut ext_ports = vec![uuid(1, 0)];
    insert(
        "Logical_Switch_Port",
        &uuid(1, 0),
        json!({"name": "provnet-ext", "type": "localnet", "addresses": "unknown",
               "options": ["map", [["network_name", "physnet1"]]]}),
    );
    let mut fip = 0u32;
    for r in 0..shape.routers {
        let gw_name = format!("lrp-gw-r{r}");
        let gw_ip = ipv4(EXT_NET + 10 + r);
        // Two gateway chassis, their priorities alternating per router.
        let mut gcs = Vec::new();
        for (i, c) in ["gw1", "gw2"].iter().enumerate() {
            let u = uuid(2, r * 2 + i as u32);
            let prio = if (r + i as u32).is_multiple_of(2) {
                2
            } else {
                1
            };
            insert(
                "Gateway_Chassis",
                &u,
                json!({"name": format!("{gw_name}_{c}"), "chassis_name": c, "priority": prio}),
            );
            gcs.push(u);
        }
        let gw_lrp = uuid(3, r);
        insert(
            "Logical_Router_Port",
            &gw_lrp,
            json!({"name": gw_name, "mac": mac(0xff, r), "networks": format!("{gw_ip}/16"),
                   "gateway_chassis": set(&gcs)}),
        );
        let ext_lsp = uuid(4, r);
        insert(
            "Logical_Switch_Port",
            &ext_lsp,
            json!({"name": format!("provnet-r{r}"), "type": "router", "addresses": "router",
                   "options": ["map", [["router-port", gw_name], ["nat-addresses", "router"]]]}),
        );
        ext_ports.push(ext_lsp);
        let mut lrps = vec![gw_lrp];
        let mut nats = Vec::new();
        for n in 0..nets {
            let net = r * nets + n;
            // 10.<net / 256>.<net % 256>.0/24 tenant subnets.
            let base = (10 << 24) + (net << 8);
            let subnet = format!("{}/24", ipv4(base));
            let lrp_name = format!("lrp-r{r}-n{n}");
            let lrp = uuid(5, net);
            insert(
                "Logical_Router_Port",
                &lrp,
                json!({"name": lrp_name, "mac": mac(0xfe, net),
                       "networks": format!("{}/24", ipv4(base + 1))}),
            );
            lrps.push(lrp);
            let mut ports = Vec::new();
            for k in 0..vms {
                let vm = net * vms + k;
                let name = format!("vm-r{r}-n{n}-{k}");
                let ip = ipv4(base + 10 + k);
                let addr = format!("{} {ip}", mac(0x10 + (vm >> 16), vm));
                let u = uuid(6, vm);
                insert(
                    "Logical_Switch_Port",
                    &u,
                    json!({"name": name, "addresses": addr, "port_security": addr,
                           "external_ids": ["map", [["neutron:device_owner", "compute:nova"]]]}),
                );
                ports.push(u);
                if fip < shape.fips {
                    let nat = uuid(7, 1 << 20 | fip);
                    insert(
                        "NAT",
                        &nat,
                        json!({"type": "dnat_and_snat", "external_ip": ipv4(EXT_NET + (128 << 8) + fip),
                               "logical_ip": ip, "logical_port": name,
                               "external_mac": mac(0x20 + (fip >> 16), fip)}),
                    );
                    nats.push(nat);
                    fip += 1;
                }
            }
            let rp = uuid(8, net);
            insert(
                "Logical_Switch_Port",
                &rp,
                json!({"name": format!("rp-r{r}-n{n}"), "type": "router", "addresses": "router",
                       "options": ["map", [["router-port", lrp_name]]]}),
            );
            ports.push(rp);
            insert(
                "Logical_Switch",
                &uuid(9, net),
                json!({"name": format!("neutron-net-r{r}-n{n}"), "ports": set(&ports),
                       "external_ids": ["map", [["neutron:network_name", format!("net-r{r}-n{n}")]]]}),
            );
            let snat = uuid(7, net);
            insert(
                "NAT",
                &snat,
                json!({"type": "snat", "external_ip": gw_ip, "logical_ip": subnet}),
            );
            nats.push(snat);
        }
        let route = uuid(10, r);
        insert(
            "Logical_Router_Static_Route",
            &route,
            json!({"ip_prefix": "0.0.0.0/0", "nexthop": ipv4(EXT_NET + 1)}),
        );
        insert(
            "Logical_Router",
            &uuid(11, r),
            json!({"name": format!("neutron-router-{r}"), "ports": set(&lrps), "nat": set(&nats),
                   "static_routes": set(&[route]),
                   "options": ["map", [["always_learn_from_arp_request", "false"],
                                       ["dynamic_neigh_routers", "true"]]],
                   "external_ids": ["map", [["neutron:router_name", format!("router{r}")]]]}),
        );
    }
    insert(
        "Logical_Switch",
        &uuid(12, 0),
        json!({"name": "neutron-ext", "ports": set(&ext_ports),
               "external_ids": ["map", [["neutron:network_name", "public"]]]}),
    );
    insert(
        "NB_Global",
        &uuid(13, 0),
        json!({"options": ["map", [["svc_monitor_mac", "fa:16:3e:00:00:fe"], ["mac_prefix", "fa:16:3e"]]]}),
    );
    Value::Array(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_cleanly_with_the_expected_rows() {
        let shape = OpenstackShape {
            routers: 3,
            networks_per_router: 2,
            vms_per_network: 3,
            fips: 7,
        };
        let db = ovsdb::transact_file::apply_transact_json(&openstack(&shape), "gen").unwrap();
        let n = |t: &str| db.table(t).unwrap().len();
        assert_eq!(n("Logical_Router"), 3);
        assert_eq!(n("Logical_Switch"), 3 * 2 + 1);
        assert_eq!(n("Logical_Router_Port"), 3 * (2 + 1));
        assert_eq!(n("Gateway_Chassis"), 3 * 2);
        assert_eq!(n("Logical_Switch_Port"), 1 + 3 + 3 * 2 * (3 + 1));
        assert_eq!(n("NAT"), 3 * 2 + 7);
        assert_eq!(openstack(&shape), openstack(&shape), "deterministic");
    }
}
