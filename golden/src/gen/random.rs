//! Random NB topologies for the live differential test: switches with VIF,
//! localnet and router ports (addresses, port security, disabled ports,
//! `unknown`), ACLs of every verdict on switches and port groups, address
//! sets, load balancers on switches (directly and through groups, with and
//! without ports, tcp/udp, affinity, empty backends), DHCPv4 options, DNS
//! records, and routers with connected networks, static routes, policies,
//! load balancers, and an external switch reached through a distributed
//! gateway port (gateway chassis or an HA chassis group) or from a gateway
//! router, with SNAT, DNAT and (distributed) floating IPs (some with
//! `add_route`), ECMP routes with symmetric replies, routers peered
//! directly, `gateway_mtu`,
//! IPv6 RA configs, multicast relay and snooping switches, QoS rules, meters
//! (fair and not) for logged ACLs and load-balancer health checks, virtual
//! ports, external ports (HA chassis groups, DHCP through the localnet
//! port), CoPP on switches and routers, template load balancers and
//! forwarding groups. Only features ovnflow claims to reproduce are drawn; row UUIDs
//! are random too, so northd's hash-map orders differ from seed to seed.

use serde_json::{json, Value};

/// A small deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One element of `v`.
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52 & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// A VIF of the topology: its row UUID, name, switch and IPv4 address.
struct Vif {
    uuid: String,
    name: String,
    switch: usize,
    ip: String,
}

fn uuid_set(v: &[String]) -> Value {
    json!([
        "set",
        v.iter().map(|u| json!(["uuid", u])).collect::<Vec<_>>()
    ])
}

fn str_set(v: &[String]) -> Value {
    json!(["set", v])
}

fn map(v: &[(String, String)]) -> Value {
    json!([
        "map",
        v.iter().map(|(k, x)| json!([k, x])).collect::<Vec<_>>()
    ])
}

/// The NB of seed `seed` as one transact params array.
pub fn random_topology(seed: u64) -> Value {
    let mut r = Rng::new(seed);
    let mut ops = vec![json!("OVN_Northbound")];
    let n_sw = 1 + r.below(4);
    let mut sw_ports: Vec<Vec<String>> = vec![Vec::new(); n_sw];
    let mut sw_acls: Vec<Vec<String>> = vec![Vec::new(); n_sw];
    let mut vifs: Vec<Vif> = Vec::new();

    // DHCPv4 options for switch 0's subnet.
    let dhcp = r.uuid();
    ops.push(json!({"op": "insert", "table": "DHCP_Options", "uuid": dhcp, "row": {
        "cidr": "10.0.0.0/24", "options": map(&[
            ("lease_time".into(), "3600".into()), ("router".into(), "10.0.0.1".into()),
            ("server_id".into(), "10.0.0.1".into()), ("server_mac".into(), "0a:00:00:00:00:01".into())])}}));

    for (s, ports) in sw_ports.iter_mut().enumerate() {
        for p in 0..1 + r.below(5) {
            let u = r.uuid();
            let host = 10 + p;
            let mac = format!("0a:00:00:00:{s:02x}:{host:02x}");
            let ip = format!("10.{s}.0.{host}");
            let mut addr = format!("{mac} {ip}");
            if r.chance(30) {
                addr.push_str(&format!(" fd0{s}::{host:x}"));
            }
            let mut addresses = vec![addr.clone()];
            if r.chance(15) {
                addresses.push("unknown".into());
            }
            let ps = if r.chance(50) { vec![addr] } else { Vec::new() };
            let mut row = json!({"name": format!("vif{s}_{p}"), "addresses": str_set(&addresses),
                "port_security": str_set(&ps)});
            if r.chance(10) {
                row["enabled"] = json!(false);
            }
            if s == 0 && r.chance(40) {
                row["dhcpv4_options"] = json!(["uuid", dhcp]);
            }
            ops.push(
                json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": u, "row": row}),
            );
            ports.push(u.clone());
            vifs.push(Vif {
                uuid: u,
                name: format!("vif{s}_{p}"),
                switch: s,
                ip,
            });
        }
        let vif_names: Vec<String> = vifs
            .iter()
            .filter(|v| v.switch == s)
            .map(|v| v.name.clone())
            .collect();
        let has_localnet = r.chance(25);
        if has_localnet {
            let u = r.uuid();
            ops.push(
                json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": u, "row": {
                "name": format!("ln{s}"), "type": "localnet", "addresses": "unknown",
                "options": map(&[("network_name".into(), "phys".into())])}}),
            );
            ports.push(u);
        }
        if r.chance(25) {
            // A virtual port whose parents are some of the switch's VIFs,
            // maybe a port of another switch and an unknown name.
            let mut parents: Vec<String> =
                vif_names.iter().filter(|_| r.chance(60)).cloned().collect();
            if r.chance(20) {
                parents.push("vif0_0".into());
            }
            if r.chance(20) {
                parents.push("nosuchport".into());
            }
            let host = 200 + r.below(2);
            let vip = if r.chance(25) {
                format!("fd0{s}::{host:x}")
            } else {
                format!("10.{s}.0.{host}")
            };
            let u = r.uuid();
            let mut row = json!({"name": format!("virt{s}"), "type": "virtual",
                "options": map(&[("virtual-ip".into(), vip.clone()),
                    ("virtual-parents".into(), parents.join(","))])});
            if r.chance(50) {
                row["addresses"] = json!(format!("0a:00:00:00:{s:02x}:{host:02x} {vip}"));
            }
            ops.push(
                json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": u, "row": row}),
            );
            ports.push(u);
        }
        if has_localnet && r.chance(50) {
            // An external port, usually in an HA chassis group, sometimes
            // with DHCP.
            let u = r.uuid();
            let host = 150;
            let mut row = json!({"name": format!("extp{s}"), "type": "external",
                "addresses": format!("0a:00:00:00:{s:02x}:{host:02x} 10.{s}.0.{host}")});
            if r.chance(75) {
                let mut members = Vec::new();
                for c in 0..1 + r.below(2) {
                    let m = r.uuid();
                    ops.push(
                        json!({"op": "insert", "table": "HA_Chassis", "uuid": m, "row": {
                        "chassis_name": format!("hv{c}"), "priority": 10 + c}}),
                    );
                    members.push(m);
                }
                let g = r.uuid();
                ops.push(
                    json!({"op": "insert", "table": "HA_Chassis_Group", "uuid": g, "row": {
                    "name": format!("extgrp{s}"), "ha_chassis": uuid_set(&members)}}),
                );
                row["ha_chassis_group"] = json!(["uuid", g]);
            }
            if s == 0 && r.chance(60) {
                row["dhcpv4_options"] = json!(["uuid", dhcp]);
            }
            ops.push(
                json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": u, "row": row}),
            );
            ports.push(u);
        }
    }

    // Address sets and port groups.
    let n_as = r.below(3);
    let mut as_names = Vec::new();
    for a in 0..n_as {
        let ips: Vec<String> = (0..1 + r.below(4))
            .map(|_| format!("10.{}.0.{}", r.below(4), 10 + r.below(20)))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let name = format!("as{a}");
        ops.push(
            json!({"op": "insert", "table": "Address_Set", "uuid": r.uuid(), "row": {
            "name": name, "addresses": str_set(&ips)}}),
        );
        as_names.push(name);
    }
    // Meters (some fair) for logged ACLs.
    let mut meter_names = Vec::new();
    for m in 0..r.below(3) {
        let mut bands = Vec::new();
        for _ in 0..1 + r.below(2) {
            let b = r.uuid();
            let mut row = json!({"action": "drop", "rate": 1 + r.below(1000)});
            if r.chance(50) {
                row["burst_size"] = json!(r.below(100));
            }
            ops.push(json!({"op": "insert", "table": "Meter_Band", "uuid": b, "row": row}));
            bands.push(b);
        }
        let name = format!("meter{m}");
        ops.push(
            json!({"op": "insert", "table": "Meter", "uuid": r.uuid(), "row": {
            "name": name, "unit": *r.pick(&["kbps", "pktps"]), "bands": uuid_set(&bands),
            "fair": r.chance(50)}}),
        );
        meter_names.push(name);
    }
    let verdicts = [
        "allow",
        "allow-related",
        "allow-stateless",
        "drop",
        "reject",
    ];
    let acl = |r: &mut Rng, ops: &mut Vec<Value>, m: String| -> String {
        let u = r.uuid();
        let dir = if r.chance(50) {
            "from-lport"
        } else {
            "to-lport"
        };
        let mut row = json!({"priority": 100 * (1 + r.below(10)), "direction": dir,
            "action": *r.pick(&verdicts), "match": m});
        if r.chance(20) {
            row["log"] = json!(true);
            row["name"] = json!(format!("acl{}", r.below(100)));
            if !meter_names.is_empty() && r.chance(60) {
                row["meter"] = json!(r.pick(&meter_names));
            }
        }
        ops.push(json!({"op": "insert", "table": "ACL", "uuid": u, "row": row}));
        u
    };
    for g in 0..r.below(3) {
        let members: Vec<String> = vifs
            .iter()
            .filter(|_| r.chance(40))
            .map(|v| v.uuid.clone())
            .collect();
        let name = format!("pg{g}");
        let mut acls = Vec::new();
        for _ in 0..r.below(3) {
            let m = match r.below(3) {
                0 => format!("inport == @{name} && ip4"),
                1 => format!("outport == @{name} && ip4.src == ${name}_ip4"),
                _ => format!("outport == @{name} && tcp.dst == {}", 80 + r.below(3)),
            };
            acls.push(acl(&mut r, &mut ops, m));
        }
        ops.push(
            json!({"op": "insert", "table": "Port_Group", "uuid": r.uuid(), "row": {
            "name": name, "ports": uuid_set(&members), "acls": uuid_set(&acls)}}),
        );
    }
    for acls in sw_acls.iter_mut() {
        for _ in 0..r.below(3) {
            let m = match (r.below(3), as_names.is_empty()) {
                (0, false) => format!("ip4.src == ${}", r.pick(&as_names)),
                (1, _) => "udp".to_string(),
                _ => format!("ip4 && tcp.dst == {}", 22 + r.below(2)),
            };
            acls.push(acl(&mut r, &mut ops, m));
        }
    }

    // Load balancers on switches, directly or through a group.
    let mut sw_lbs: Vec<Vec<String>> = vec![Vec::new(); n_sw];
    let mut group_lbs = Vec::new();
    let mut all_lbs = Vec::new();
    // Backends already health checked, by (address, protocol): northd keeps
    // one Service_Monitor per backend, and when two load balancers check the
    // same one with different source IPs or options, which one it keeps
    // depends on its hash-map order (see KNOWN_DIFFERENCES.md).
    let mut monitored = std::collections::BTreeSet::new();
    let mut any_template = false;
    for l in 0..r.below(4) {
        let u = r.uuid();
        let proto = *r.pick(&["tcp", "udp"]);
        let backends: Vec<String> = vifs
            .iter()
            .filter(|_| r.chance(30))
            .map(|v| v.ip.clone())
            .collect();
        // A template load balancer: `^VARIABLE` VIPs (of either family)
        // and backends, or explicit backends; northd writes the variables
        // into the flows.
        let template = r.chance(15);
        let mut options = Vec::new();
        let (vip, value) = if template {
            options.push(("template".to_string(), "true".to_string()));
            if r.chance(30) {
                options.push(("address-family".to_string(), "ipv6".to_string()));
            }
            let with_port = r.chance(60);
            let bs: Vec<String> = backends
                .iter()
                .enumerate()
                .map(|(i, b)| match (with_port, r.chance(50)) {
                    (true, true) => format!("^b{l}_{i}:^p{l}"),
                    (true, false) => format!("{b}:8080"),
                    (false, _) => format!("^b{l}_{i}"),
                })
                .collect();
            let vip = if with_port {
                format!("^vip{l}:^port{l}")
            } else {
                format!("^vip{l}")
            };
            (vip, bs.join(","))
        } else if r.chance(60) {
            let bs: Vec<String> = backends.iter().map(|b| format!("{b}:8080")).collect();
            (format!("172.30.0.{}:80", 1 + l), bs.join(","))
        } else {
            (format!("172.30.1.{}", 1 + l), backends.join(","))
        };
        if r.chance(20) {
            options.push(("affinity_timeout".to_string(), "60".to_string()));
        }
        // VIPs without backends reject or raise controller events.
        if backends.is_empty() && r.chance(50) {
            let o = *r.pick(&["reject", "event"]);
            options.push((o.to_string(), "true".to_string()));
        }
        if template && r.chance(30) {
            options.push(("neighbor_responder".to_string(), "all".to_string()));
        }
        any_template |= template;
        // A health check on a VIP with a port: backends mapped to their
        // VIF with a source IP of this load balancer's own.
        let mut health_check = Vec::new();
        let mut mappings = Vec::new();
        if !template && vip.contains(':') && r.chance(40) {
            let hc = r.uuid();
            let mut hc_options = Vec::new();
            if r.chance(50) {
                hc_options.push(("interval".to_string(), "5".to_string()));
            }
            ops.push(
                json!({"op": "insert", "table": "Load_Balancer_Health_Check",
                "uuid": hc, "row": {"vip": vip, "options": map(&hc_options)}}),
            );
            health_check.push(hc);
            for v in vifs.iter().filter(|v| backends.contains(&v.ip)) {
                if r.chance(80) && monitored.insert((v.ip.clone(), proto)) {
                    let src = format!("10.{}.0.{}", v.switch, 240 + l);
                    mappings.push((v.ip.clone(), format!("{}:{src}", v.name)));
                }
            }
        }
        ops.push(
            json!({"op": "insert", "table": "Load_Balancer", "uuid": u, "row": {
            "name": format!("lb{l}"), "protocol": proto, "vips": map(&[(vip, value)]),
            "options": map(&options), "health_check": uuid_set(&health_check),
            "ip_port_mappings": map(&mappings)}}),
        );
        all_lbs.push(u.clone());
        if r.chance(30) {
            group_lbs.push(u);
        } else {
            let s = r.below(n_sw);
            sw_lbs[s].push(u);
        }
    }
    if any_template {
        ops.push(
            json!({"op": "insert", "table": "Chassis_Template_Var", "uuid": r.uuid(), "row": {
            "chassis": "hv1", "variables": map(&[("vip0".into(), "172.30.2.1".into()),
                ("port0".into(), "80".into())])}}),
        );
    }
    let group = r.uuid();
    let group_on: Vec<bool> = (0..n_sw).map(|_| r.chance(50)).collect();
    if !group_lbs.is_empty() {
        ops.push(
            json!({"op": "insert", "table": "Load_Balancer_Group", "uuid": group, "row": {
            "name": "grp", "load_balancer": uuid_set(&group_lbs)}}),
        );
    }

    // Routers: each connects to some switches (one port per switch, the
    // switch's .1), with static routes (some in ECMP groups asking for
    // symmetric replies) and policies; routers 0 and 1 may be peered
    // directly (router port to router port).
    let mut free: Vec<usize> = (0..n_sw).collect();
    let peer_link = r.chance(30);
    for lr in 0..r.below(3) {
        let mut lrps = Vec::new();
        let mut nets = Vec::new();
        if peer_link && lr < 2 {
            let u = r.uuid();
            ops.push(
                json!({"op": "insert", "table": "Logical_Router_Port", "uuid": u, "row": {
                "name": format!("lrp{lr}_peer"), "mac": format!("0a:00:00:04:00:{lr:02x}"),
                "networks": format!("100.64.9.{}/30", 1 + lr),
                "peer": format!("lrp{}_peer", 1 - lr)}}),
            );
            lrps.push(u);
        }
        for _ in 0..1 + r.below(2) {
            if free.is_empty() {
                break;
            }
            let s = free.remove(r.below(free.len()));
            let name = format!("lrp{lr}_{s}");
            let u = r.uuid();
            ops.push(
                json!({"op": "insert", "table": "Logical_Router_Port", "uuid": u, "row": {
                "name": name, "mac": format!("0a:00:00:01:{lr:02x}:{s:02x}"),
                "networks": format!("10.{s}.0.1/24")}}),
            );
            lrps.push(u);
            nets.push(s);
            let lsp = r.uuid();
            ops.push(
                json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": lsp, "row": {
                "name": format!("sw{s}-lr{lr}"), "type": "router", "addresses": "router",
                "options": map(&[("router-port".into(), name)])}}),
            );
            sw_ports[s].push(lsp);
        }
        if nets.is_empty() {
            continue;
        }
        let mut routes = Vec::new();
        for k in 0..r.below(3) {
            let members = if r.chance(30) { 2 } else { 1 };
            let symmetric = members > 1 && r.chance(60);
            for m in 0..members {
                let s = *r.pick(&nets);
                let u = r.uuid();
                let mut row = json!({"ip_prefix": format!("172.16.{k}.0/24"),
                    "nexthop": format!("10.{s}.0.{}", 200 + 10 * m + r.below(5))});
                if symmetric {
                    row["options"] = map(&[("ecmp_symmetric_reply".into(), "true".into())]);
                }
                ops.push(
                    json!({"op": "insert", "table": "Logical_Router_Static_Route",
                    "uuid": u, "row": row}),
                );
                routes.push(u);
            }
        }
        if peer_link && lr < 2 {
            let u = r.uuid();
            ops.push(json!({"op": "insert", "table": "Logical_Router_Static_Route", "uuid": u, "row": {
                "ip_prefix": format!("172.17.{lr}.0/24"), "nexthop": format!("100.64.9.{}", 2 - lr)}}));
            routes.push(u);
        }
        let mut policies = Vec::new();
        for k in 0..r.below(3) {
            let s = *r.pick(&nets);
            let u = r.uuid();
            let action = *r.pick(&["allow", "drop", "reroute"]);
            let mut row = json!({"priority": 100 + k, "match": format!("ip4.src == 10.{s}.0.0/24"),
                "action": action});
            if action == "reroute" {
                row["nexthops"] = json!(format!("10.{s}.0.{}", 200 + r.below(5)));
            }
            ops.push(
                json!({"op": "insert", "table": "Logical_Router_Policy", "uuid": u, "row": row}),
            );
            policies.push(u);
        }
        let gw = gateway(&mut r, &mut ops, lr, &nets, &vifs, &all_lbs);
        lrps.extend(gw.lrp);
        let mut row = json!({
            "name": format!("lr{lr}"), "ports": uuid_set(&lrps), "static_routes": uuid_set(&routes),
            "policies": uuid_set(&policies), "nat": uuid_set(&gw.nats),
            "load_balancer": uuid_set(&gw.lbs), "options": map(&gw.options)});
        if r.chance(20) {
            row["external_ids"] = map(&[("neutron:router_name".into(), format!("router{lr}"))]);
        }
        if r.chance(25) {
            let protos = [
                "arp",
                "arp-resolve",
                "nd-ns",
                "nd-ns-resolve",
                "nd-na",
                "nd-ra-opts",
                "icmp4-error",
                "icmp6-error",
                "tcp-reset",
                "reject",
                "event-elb",
            ];
            let c = copp(
                &mut r,
                &mut ops,
                &format!("coppr{lr}"),
                &protos,
                &meter_names,
            );
            row["copp"] = json!(["uuid", c]);
        }
        ops.push(json!({"op": "insert", "table": "Logical_Router", "uuid": r.uuid(), "row": row}));
    }

    for s in 0..n_sw {
        // QoS rules: DSCP marks and bandwidth limits.
        let mut qos = Vec::new();
        for _ in 0..r.below(3) {
            let u = r.uuid();
            let m = match r.below(4) {
                0 => "ip4".to_string(),
                1 => "tcp".to_string(),
                2 => "udp".to_string(),
                _ => format!("ip4.src == 10.{s}.0.10"),
            };
            let mut action = Vec::new();
            if r.chance(60) {
                action.push(json!(["dscp", r.below(64)]));
            }
            let mut bandwidth = Vec::new();
            if r.chance(50) {
                bandwidth.push(json!(["rate", 1 + r.below(10000)]));
            }
            if r.chance(30) {
                bandwidth.push(json!(["burst", 1 + r.below(1000)]));
            }
            let dir = *r.pick(&["from-lport", "to-lport"]);
            ops.push(json!({"op": "insert", "table": "QoS", "uuid": u, "row": {
                "priority": 100 * (1 + r.below(5)), "direction": dir, "match": m,
                "action": ["map", action], "bandwidth": ["map", bandwidth]}}));
            qos.push(u);
        }
        let mut row = json!({"name": format!("sw{s}"), "ports": uuid_set(&sw_ports[s]),
            "acls": uuid_set(&sw_acls[s]), "load_balancer": uuid_set(&sw_lbs[s]),
            "qos_rules": uuid_set(&qos)});
        if group_on[s] && !group_lbs.is_empty() {
            row["load_balancer_group"] = json!(["uuid", group]);
        }
        if r.chance(20) {
            row["other_config"] = map(&[("mcast_snoop".into(), "true".into())]);
        }
        if r.chance(20) {
            // CoPP: meters (maybe missing) for the switch's controller
            // flows.
            let protos = [
                "dhcpv4-opts",
                "dhcpv6-opts",
                "nd-na",
                "dns",
                "svc-monitor",
                "igmp",
                "reject",
                "event-elb",
            ];
            let c = copp(&mut r, &mut ops, &format!("copp{s}"), &protos, &meter_names);
            row["copp"] = json!(["uuid", c]);
        }
        let children: Vec<String> = vifs
            .iter()
            .filter(|v| v.switch == s)
            .map(|v| v.name.clone())
            .collect();
        if !children.is_empty() && r.chance(20) {
            // One forwarding group, or two with one and two child ports
            // (northd's walk over them ends in either order).
            let counts: Vec<usize> = if children.len() >= 2 && r.chance(40) {
                vec![1, 2]
            } else {
                vec![1 + r.below(children.len().min(3))]
            };
            let mut groups = Vec::new();
            for (g, n) in counts.into_iter().enumerate() {
                let u = r.uuid();
                ops.push(
                    json!({"op": "insert", "table": "Forwarding_Group", "uuid": u, "row": {
                    "name": format!("fg{s}_{g}"), "vip": format!("10.{s}.0.{}", 250 + g),
                    "vmac": format!("0a:00:00:fe:{s:02x}:{g:02x}"), "liveness": r.chance(50),
                    "child_port": str_set(&children[..n])}}),
                );
                groups.push(u);
            }
            row["forwarding_groups"] = uuid_set(&groups);
        }
        if s == 0 && r.chance(30) {
            let dns = r.uuid();
            ops.push(json!({"op": "insert", "table": "DNS", "uuid": dns, "row": {
                "records": map(&[("vm1.example.org".into(), "10.0.0.10".into())])}}));
            row["dns_records"] = json!(["uuid", dns]);
        }
        ops.push(json!({"op": "insert", "table": "Logical_Switch", "uuid": r.uuid(), "row": row}));
    }
    // Fixed MACs: northd picks random ones when they are missing.
    ops.push(
        json!({"op": "insert", "table": "NB_Global", "uuid": r.uuid(), "row": {
        "options": map(&[("svc_monitor_mac".into(), "0a:00:00:00:00:fe".into()),
            ("mac_prefix".into(), "0a:00:00".into())])}}),
    );
    Value::Array(ops)
}

/// A `Copp` row named `name` mapping some of `protos` to meters (mostly
/// existing ones, sometimes a missing one); returns its UUID name.
fn copp(
    r: &mut Rng,
    ops: &mut Vec<Value>,
    name: &str,
    protos: &[&str],
    meter_names: &[String],
) -> String {
    let mut meters = Vec::new();
    for p in protos {
        if r.chance(50) {
            let m = if !meter_names.is_empty() && r.chance(80) {
                r.pick(meter_names).clone()
            } else {
                "nosuchmeter".to_string()
            };
            meters.push((p.to_string(), m));
        }
    }
    let c = r.uuid();
    ops.push(json!({"op": "insert", "table": "Copp", "uuid": c, "row": {
        "name": name, "meters": map(&meters)}}));
    c
}

/// What [`gateway`] adds to a router.
struct Gateway {
    /// The external port (a distributed gateway port unless the router is
    /// a gateway router).
    lrp: Option<String>,
    /// NAT rules.
    nats: Vec<String>,
    /// Load balancers.
    lbs: Vec<String>,
    /// Router options.
    options: Vec<(String, String)>,
}

/// The external side of router `lr` (connected to the switches `nets`), in
/// some topologies: an external switch `ext<lr>` (often with a localnet
/// port) reached through a distributed gateway port (`gateway_chassis` or
/// an `HA_Chassis_Group`) or, on a gateway router (`options:chassis`), a
/// plain port; SNAT for connected subnets, DNAT and floating IPs (often
/// distributed: `logical_port` + `external_mac`), and load balancers.
fn gateway(
    r: &mut Rng,
    ops: &mut Vec<Value>,
    lr: usize,
    nets: &[usize],
    vifs: &[Vif],
    lbs: &[String],
) -> Gateway {
    let mut g = Gateway {
        lrp: None,
        nats: Vec::new(),
        lbs: lbs.iter().filter(|_| r.chance(25)).cloned().collect(),
        options: Vec::new(),
    };
    if r.chance(20) {
        g.options.push(("mcast_relay".into(), "true".into()));
    }
    if !r.chance(60) {
        return g;
    }
    let gw_router = r.chance(30);
    let name = format!("lrp{lr}_gw");
    let ext_ip = format!("172.20.{lr}.1");
    let mut networks = vec![format!("{ext_ip}/24")];
    if r.chance(30) {
        networks.push(format!("fd20:{lr}::1/64"));
    }
    let mut row = json!({"name": name, "mac": format!("0a:00:00:02:{lr:02x}:01"),
        "networks": str_set(&networks)});
    let mut lrp_options = Vec::new();
    if r.chance(30) {
        lrp_options.push(("gateway_mtu".to_string(), "1400".to_string()));
        if r.chance(50) {
            lrp_options.push(("gateway_mtu_bypass".to_string(), "tcp".to_string()));
        }
    }
    row["options"] = map(&lrp_options);
    if networks.len() > 1 && r.chance(50) {
        let mode = *r.pick(&["slaac", "dhcpv6_stateful", "dhcpv6_stateless"]);
        let mut ra = vec![("address_mode".to_string(), mode.to_string())];
        if r.chance(50) {
            ra.push(("send_periodic".to_string(), "true".to_string()));
            ra.push(("mtu".to_string(), "1450".to_string()));
        }
        row["ipv6_ra_configs"] = map(&ra);
    }
    if gw_router {
        g.options
            .push(("chassis".into(), format!("hv{}", r.below(3))));
        if r.chance(30) {
            g.options
                .push(("lb_force_snat_ip".into(), "router_ip".into()));
        }
    } else if r.chance(50) {
        let mut gcs = Vec::new();
        for c in 0..1 + r.below(2) {
            let u = r.uuid();
            ops.push(
                json!({"op": "insert", "table": "Gateway_Chassis", "uuid": u, "row": {
                "name": format!("{name}_hv{c}"), "chassis_name": format!("hv{c}"),
                "priority": 10 - c}}),
            );
            gcs.push(u);
        }
        row["gateway_chassis"] = uuid_set(&gcs);
    } else {
        let mut members = Vec::new();
        for c in 0..1 + r.below(3) {
            let u = r.uuid();
            ops.push(
                json!({"op": "insert", "table": "HA_Chassis", "uuid": u, "row": {
                "chassis_name": format!("hv{c}"), "priority": 30 - 10 * c}}),
            );
            members.push(u);
        }
        let grp = r.uuid();
        ops.push(
            json!({"op": "insert", "table": "HA_Chassis_Group", "uuid": grp, "row": {
            "name": format!("ha{lr}"), "ha_chassis": uuid_set(&members)}}),
        );
        row["ha_chassis_group"] = json!(["uuid", grp]);
    }
    let lrp = r.uuid();
    ops.push(json!({"op": "insert", "table": "Logical_Router_Port", "uuid": lrp, "row": row}));
    g.lrp = Some(lrp);

    // The external switch.
    let mut ports = Vec::new();
    if r.chance(70) {
        let u = r.uuid();
        ops.push(
            json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": u, "row": {
            "name": format!("ext{lr}-ln"), "type": "localnet", "addresses": "unknown",
            "options": map(&[("network_name".into(), "physext".into())])}}),
        );
        ports.push(u);
    }
    let mut opts = vec![("router-port".to_string(), name)];
    if r.chance(60) {
        opts.push(("nat-addresses".into(), "router".into()));
    }
    let u = r.uuid();
    ops.push(
        json!({"op": "insert", "table": "Logical_Switch_Port", "uuid": u, "row": {
        "name": format!("ext{lr}-lr{lr}"), "type": "router", "addresses": "router",
        "options": map(&opts)}}),
    );
    ports.push(u);
    ops.push(
        json!({"op": "insert", "table": "Logical_Switch", "uuid": r.uuid(), "row": {
        "name": format!("ext{lr}"), "ports": uuid_set(&ports)}}),
    );

    // NAT: SNAT per connected subnet, DNAT / floating IPs for some VIFs.
    let mut nat = |r: &mut Rng, ops: &mut Vec<Value>, row: Value| {
        let u = r.uuid();
        ops.push(json!({"op": "insert", "table": "NAT", "uuid": u, "row": row}));
        g.nats.push(u);
    };
    for s in nets {
        if r.chance(70) {
            let ext = if r.chance(70) {
                ext_ip.clone()
            } else {
                format!("172.20.{lr}.{}", 2 + s)
            };
            nat(
                r,
                ops,
                json!({"type": "snat", "external_ip": ext, "logical_ip": format!("10.{s}.0.0/24")}),
            );
        }
    }
    let mut host = 100;
    for v in vifs.iter().filter(|v| nets.contains(&v.switch)) {
        if !r.chance(40) {
            continue;
        }
        host += 1;
        let ext = format!("172.20.{lr}.{host}");
        let mut row = json!({"type": "dnat_and_snat", "external_ip": ext, "logical_ip": v.ip});
        if r.chance(30) {
            row["options"] = map(&[("add_route".into(), "true".into())]);
        }
        match r.below(4) {
            0 => row["type"] = json!("dnat"),
            1 | 2 if !gw_router => {
                row["logical_port"] = json!(v.name);
                row["external_mac"] = json!(format!("0a:00:00:03:{lr:02x}:{host:02x}"));
            }
            _ => {}
        }
        nat(r, ops, row);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_applies_cleanly_and_deterministically() {
        for seed in 0..200 {
            let t = random_topology(seed);
            assert_eq!(t, random_topology(seed));
            ovsdb::transact_file::apply_transact_json(&t, "random")
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }

    #[test]
    fn switches_draw_virtual_external_copp_and_forwarding_groups() {
        let mut seen = std::collections::BTreeMap::<&str, usize>::new();
        for seed in 0..200 {
            let t = random_topology(seed).to_string();
            for (what, needle) in [
                ("virtual port", "\"virtual-parents\""),
                ("external port", "\"type\":\"external\""),
                ("copp", "\"table\":\"Copp\""),
                ("forwarding group", "\"table\":\"Forwarding_Group\""),
                ("template lb", "\"table\":\"Chassis_Template_Var\""),
            ] {
                if t.contains(needle) {
                    *seen.entry(what).or_default() += 1;
                }
            }
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert!(seen.values().all(|n| *n >= 10), "{seen:?}");
    }

    #[test]
    fn routers_draw_gateways_nat_and_load_balancers() {
        let mut seen = std::collections::BTreeMap::<&str, usize>::new();
        for seed in 0..200 {
            let t = random_topology(seed).to_string();
            for (what, needle) in [
                ("gateway chassis", "\"Gateway_Chassis\""),
                ("ha chassis group", "\"HA_Chassis_Group\""),
                ("gateway router", "\"chassis\",\"hv"),
                ("distributed nat", "\"external_mac\""),
                ("snat", "\"snat\""),
                ("router lb", "\"load_balancer\":[\"set\",[[\"uuid\""),
                ("router copp", "\"name\":\"coppr"),
                ("symmetric ecmp", "\"ecmp_symmetric_reply\""),
                ("peered routers", "\"peer\":\"lrp"),
                ("routable nat", "\"add_route\""),
            ] {
                if t.contains(needle) {
                    *seen.entry(what).or_default() += 1;
                }
            }
        }
        assert_eq!(seen.len(), 10, "{seen:?}");
        assert!(seen.values().all(|n| *n >= 10), "{seen:?}");
    }
}
