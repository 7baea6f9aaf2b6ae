//! Incrementality: random NB edit sequences applied one batch at a time must
//! leave the same SB as compiling the final NB from scratch (tunnel keys
//! aside, which northd keeps sticky across history: for them we check
//! validity and stability instead).

use std::collections::{BTreeMap, BTreeSet};

use ovnflow_compiler::sb_input::{SbIgmpGroup, SbMonitor, SbPort};
use ovnflow_compiler::{Compiler, Options, SbInput, SbRecord};
use ovsdb::{Atom, Datum, Row, Uuid};
use proptest::prelude::*;

mod common;
use common::diff;

#[derive(Clone, Debug)]
struct PortSpec {
    addresses: Vec<&'static str>,
    port_security: Vec<&'static str>,
    type_: &'static str,
    enabled: Option<bool>,
}

#[derive(Clone, Debug)]
struct AclSpec {
    from_lport: bool,
    action: &'static str,
    priority: i64,
    log: bool,
    /// Index into [`METER_NAMES`] (none past its end).
    meter: usize,
}

/// Meter names ACLs may log through (`m3` never exists).
const METER_NAMES: &[&str] = &["m1", "m2", "m3"];

#[derive(Clone, Debug)]
struct QosSpec {
    from_lport: bool,
    priority: i64,
    dscp: Option<i64>,
    rate: Option<i64>,
    burst: Option<i64>,
}

#[derive(Clone, Debug)]
struct MeterSpec {
    fair: bool,
    rate: i64,
    burst: i64,
}

#[derive(Clone, Debug)]
struct LbSpec {
    vips: Vec<(&'static str, &'static str)>,
    protocol: Option<&'static str>,
    options: Vec<(&'static str, &'static str)>,
    /// A health check on `10.0.0.100:80`, backends mapped to the first and
    /// last port.
    health: bool,
}

#[derive(Clone, Debug)]
struct RouteSpec {
    prefix: &'static str,
    nexthop: &'static str,
    src_ip: bool,
    route_table: &'static str,
    /// `options:ecmp_symmetric_reply=true`.
    symmetric: bool,
}

#[derive(Clone, Debug)]
struct PolicySpec {
    priority: i64,
    action: &'static str,
    nexthops: Vec<&'static str>,
}

#[derive(Clone, Debug)]
struct NatSpec {
    type_: &'static str,
    external_ip: &'static str,
    logical_ip: &'static str,
    /// `logical_port` and `external_mac` (distributed NAT).
    distributed: bool,
}

#[derive(Clone, Debug)]
enum Op {
    /// A NAT rule on a router.
    AddNat(usize, NatSpec),
    DelNat(usize),
    /// A load balancer applied to a router.
    AttachRouterLb(usize, usize),
    DetachRouterLbs(usize),
    /// A router port's gateway: none, `gateway_chassis` (two layouts, so
    /// that switching between them moves the gateway chassis), or an
    /// `HA_Chassis_Group`.
    SetGateway(usize, u8),
    /// A router becomes a gateway router (`options:chassis`) or stops
    /// being one.
    SetGatewayRouter(usize, bool),
    AddLb(LbSpec),
    DelLb(usize),
    ModifyLb(usize, LbSpec),
    /// Applies a load balancer to a switch, directly or through the group.
    AttachLb(usize, usize, bool),
    /// Removes a switch's load balancers and groups.
    DetachLbs(usize),
    AddRouter,
    DelRouter(usize),
    /// A QoS rule on a switch.
    AddQos(usize, QosSpec),
    DelQos(usize),
    /// Creates or replaces the meter named `METER_NAMES[i]`.
    SetMeter(usize, MeterSpec),
    DelMeter(usize),
    /// NB_Global with `svc_monitor_mac` (health checks need it) or none.
    SetGlobal(bool),
    /// The chassis template variables of `hv1`: one of two variable sets,
    /// or no row.
    SetTemplateVars(Option<bool>),
    /// A router port on a router with one of the network sets.
    AddLrp(usize, usize),
    DelLrp(usize),
    /// A switch port of type router on a switch, connected to a router port.
    Connect(usize, usize),
    AddRoute(usize, RouteSpec),
    DelRoute(usize),
    AddPolicy(usize, PolicySpec),
    DelPolicy(usize),
    /// An ACL on a switch (`to_pg == false`) or on a port group.
    AddAcl(usize, bool, AclSpec),
    DelAcl(usize),
    /// A port group with some of the existing ports.
    AddPortGroup(Vec<usize>),
    DelPortGroup(usize),
    AddSwitch {
        vlan_passthru: bool,
    },
    DelSwitch(usize),
    AddPort(usize, PortSpec),
    DelPort(usize),
    ModifyPort(usize, PortSpec),
    ClearAll,
    /// SB input: a port's binding as ovn-controller leaves it (up, bound to
    /// a chassis, virtual parent: another port), replacing the previous.
    SetSbPort(usize, bool, bool, Option<usize>),
    /// SB input: the status of the monitor of a port's backend (IP index,
    /// udp), or none.
    SetSbMonitor(usize, usize, bool, Option<usize>),
    /// SB input: the `IGMP_Group` row of (datapath: switch or router
    /// index, [`IGMP_ADDRESSES`] index, chassis) with these ports (none:
    /// no row).
    SetSbIgmp(usize, usize, bool, Vec<usize>),
    /// A router relays multicast (`options:mcast_relay`) or not.
    SetRelay(usize, bool),
    /// A router port floods multicast (`options:mcast_flood`) or not.
    SetLrpFlood(usize, bool),
}

/// `IGMP_Group:address` values: routed and link-local IPv4, routable and
/// link-scope IPv6, all-hosts, multicast routers, unparsable.
const IGMP_ADDRESSES: &[&str] = &[
    "239.1.1.1",
    "239.1.1.2",
    "224.0.0.5",
    "ff0e::1",
    "ff02::1:3",
    "ff02::1",
    "mrouters",
    "bogus",
];

/// `Service_Monitor:status` values.
const MONITOR_STATUS: &[&str] = &["online", "offline", "error"];

fn port_spec() -> impl Strategy<Value = PortSpec> {
    let addresses = prop::sample::subsequence(
        vec![
            "00:00:00:00:00:01 10.0.0.1",
            "00:00:00:00:00:02 10.0.0.2 fd00::2",
            "unknown",
            "router",
            "00:00:00:00:00:03",
        ],
        0..3,
    );
    let ps = prop::sample::subsequence(
        vec!["00:00:00:00:00:01 10.0.0.1/24", "00:00:00:00:00:09"],
        0..2,
    );
    let ty = prop::sample::select(vec![
        "", "", "", "localnet", "router", "vtep", "external", "virtual",
    ]);
    let enabled = prop::sample::select(vec![None, Some(true), Some(false)]);
    (addresses, ps, ty, enabled).prop_map(|(addresses, port_security, type_, enabled)| PortSpec {
        addresses,
        port_security,
        type_,
        enabled,
    })
}

const NETWORKS: &[&[&str]] = &[
    &["10.0.0.1/24"],
    &["10.0.1.1/24", "fd00::1/64"],
    &["20.0.0.1/24"],
    &[],
];

fn route_spec() -> impl Strategy<Value = RouteSpec> {
    (
        prop::sample::select(vec!["30.0.0.0/24", "0.0.0.0/0", "40.0.0.0/16", "fd10::/64"]),
        prop::sample::select(vec![
            "10.0.0.2", "10.0.1.3", "20.0.0.9", "discard", "fd00::5",
        ]),
        any::<bool>(),
        prop::sample::select(vec!["", "", "rtb1"]),
        any::<bool>(),
    )
        .prop_map(
            |(prefix, nexthop, src_ip, route_table, symmetric)| RouteSpec {
                prefix,
                nexthop,
                src_ip,
                route_table,
                symmetric,
            },
        )
}

fn policy_spec() -> impl Strategy<Value = PolicySpec> {
    (
        prop::sample::select(vec![100i64, 200, 300]),
        prop::sample::select(vec!["allow", "drop", "reroute", "reroute"]),
        prop::sample::subsequence(vec!["10.0.0.5", "20.0.0.5", "10.0.1.5"], 1..3),
    )
        .prop_map(|(priority, action, nexthops)| PolicySpec {
            priority,
            action,
            nexthops,
        })
}

fn acl_spec() -> impl Strategy<Value = AclSpec> {
    let action = prop::sample::select(vec![
        "allow",
        "allow-related",
        "allow-stateless",
        "drop",
        "reject",
    ]);
    (any::<bool>(), action, 0i64..3, any::<bool>(), 0usize..5).prop_map(
        |(from_lport, action, p, log, meter)| AclSpec {
            from_lport,
            action,
            priority: p * 100,
            log,
            meter,
        },
    )
}

fn qos_spec() -> impl Strategy<Value = QosSpec> {
    (
        any::<bool>(),
        0i64..3,
        prop::option::of(0i64..64),
        prop::option::of(1i64..5000),
        prop::option::of(1i64..500),
    )
        .prop_map(|(from_lport, p, dscp, rate, burst)| QosSpec {
            from_lport,
            priority: p * 100,
            dscp,
            rate,
            burst,
        })
}

fn meter_spec() -> impl Strategy<Value = MeterSpec> {
    (any::<bool>(), 1i64..1000, 0i64..100).prop_map(|(fair, rate, burst)| MeterSpec {
        fair,
        rate,
        burst,
    })
}

fn lb_spec() -> impl Strategy<Value = LbSpec> {
    let vips = prop::sample::subsequence(
        vec![
            ("10.0.0.100:80", "10.0.0.1:8080,10.0.0.2:8080"),
            ("10.0.0.101", "10.0.0.1"),
            ("10.0.0.102:80", ""),
            ("[fd00::100]:80", "[fd00::1]:80"),
            ("10.0.0.103:80", "10.0.0.1"),
            // Valid only in template load balancers.
            ("^vip:^vport", "^b1:^p1,^b2:8080"),
            ("^vip2", ""),
        ],
        0..3,
    );
    let protocol = prop::sample::select(vec![None, Some("tcp"), Some("udp"), Some("sctp")]);
    let options = prop::sample::subsequence(
        vec![
            ("affinity_timeout", "60"),
            ("reject", "true"),
            ("event", "true"),
            ("template", "true"),
            ("address-family", "ipv6"),
        ],
        0..3,
    );
    (vips, protocol, options, any::<bool>()).prop_map(|(vips, protocol, options, health)| LbSpec {
        vips,
        protocol,
        options,
        health,
    })
}

fn nat_spec() -> impl Strategy<Value = NatSpec> {
    prop::sample::select(vec![
        ("snat", "20.0.0.100", "10.0.0.0/24", false),
        ("snat", "20.0.0.1", "10.0.1.0/24", false),
        ("dnat_and_snat", "20.0.0.101", "10.0.0.1", true),
        ("dnat_and_snat", "20.0.0.102", "10.0.0.2", false),
        ("dnat", "20.0.0.103", "10.0.0.3", false),
        ("dnat_and_snat", "fd00::100", "fd00::2", false),
        ("snat", "10.0.0.100", "10.0.1.0/24", false),
    ])
    .prop_map(|(type_, external_ip, logical_ip, distributed)| NatSpec {
        type_,
        external_ip,
        logical_ip,
        distributed,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => ((0usize..4), nat_spec()).prop_map(|(r, n)| Op::AddNat(r, n)),
        1 => (0usize..8).prop_map(Op::DelNat),
        2 => ((0usize..4), (0usize..4)).prop_map(|(r, l)| Op::AttachRouterLb(r, l)),
        1 => (0usize..4).prop_map(Op::DetachRouterLbs),
        2 => ((0usize..8), (0u8..4)).prop_map(|(p, m)| Op::SetGateway(p, m)),
        1 => ((0usize..4), any::<bool>()).prop_map(|(r, g)| Op::SetGatewayRouter(r, g)),
        2 => lb_spec().prop_map(Op::AddLb),
        1 => (0usize..4).prop_map(Op::DelLb),
        1 => ((0usize..4), lb_spec()).prop_map(|(i, s)| Op::ModifyLb(i, s)),
        3 => ((0usize..8), (0usize..4), any::<bool>()).prop_map(|(s, l, g)| Op::AttachLb(s, l, g)),
        1 => (0usize..8).prop_map(Op::DetachLbs),
        2 => ((0usize..8), any::<bool>(), acl_spec()).prop_map(|(i, pg, a)| Op::AddAcl(i, pg, a)),
        1 => (0usize..8).prop_map(Op::DelAcl),
        1 => prop::collection::vec(0usize..16, 0..4).prop_map(Op::AddPortGroup),
        1 => (0usize..4).prop_map(Op::DelPortGroup),
        2 => any::<bool>().prop_map(|vlan_passthru| Op::AddSwitch { vlan_passthru }),
        1 => (0usize..8).prop_map(Op::DelSwitch),
        4 => ((0usize..8), port_spec()).prop_map(|(s, p)| Op::AddPort(s, p)),
        1 => (0usize..16).prop_map(Op::DelPort),
        2 => ((0usize..16), port_spec()).prop_map(|(p, s)| Op::ModifyPort(p, s)),
        1 => Just(Op::ClearAll),
        1 => Just(Op::AddRouter),
        1 => (0usize..4).prop_map(Op::DelRouter),
        2 => ((0usize..4), (0..NETWORKS.len())).prop_map(|(r, n)| Op::AddLrp(r, n)),
        1 => (0usize..8).prop_map(Op::DelLrp),
        2 => ((0usize..8), (0usize..8)).prop_map(|(l, s)| Op::Connect(l, s)),
        2 => ((0usize..4), route_spec()).prop_map(|(r, x)| Op::AddRoute(r, x)),
        1 => (0usize..8).prop_map(Op::DelRoute),
        2 => ((0usize..4), policy_spec()).prop_map(|(r, x)| Op::AddPolicy(r, x)),
        1 => (0usize..8).prop_map(Op::DelPolicy),
        2 => ((0usize..8), qos_spec()).prop_map(|(i, q)| Op::AddQos(i, q)),
        1 => (0usize..8).prop_map(Op::DelQos),
        2 => ((0usize..2), meter_spec()).prop_map(|(i, m)| Op::SetMeter(i, m)),
        1 => (0usize..2).prop_map(Op::DelMeter),
        1 => any::<bool>().prop_map(Op::SetGlobal),
        1 => prop::option::of(any::<bool>()).prop_map(Op::SetTemplateVars),
        2 => ((0usize..16), any::<bool>(), any::<bool>(), prop::option::of(0usize..16))
            .prop_map(|(p, up, ch, parent)| Op::SetSbPort(p, up, ch, parent)),
        2 => ((0usize..16), (0usize..2), any::<bool>(), prop::option::of(0usize..3))
            .prop_map(|(p, ip, udp, st)| Op::SetSbMonitor(p, ip, udp, st)),
        3 => ((0usize..12), (0..IGMP_ADDRESSES.len()), any::<bool>(), prop::collection::vec(0usize..16, 0..3))
            .prop_map(|(d, a, ch, ports)| Op::SetSbIgmp(d, a, ch, ports)),
        1 => ((0usize..4), any::<bool>()).prop_map(|(r, on)| Op::SetRelay(r, on)),
        1 => ((0usize..8), any::<bool>()).prop_map(|(p, on)| Op::SetLrpFlood(p, on)),
    ]
}

/// The NB as the test models it.
#[derive(Default, Clone)]
struct Model {
    next: u128,
    switches: BTreeMap<Uuid, (String, bool, Vec<Uuid>)>,
    ports: BTreeMap<Uuid, (String, PortSpec)>,
    /// ACLs with their owner (switch or port group).
    acls: BTreeMap<Uuid, (Uuid, AclSpec)>,
    port_groups: BTreeMap<Uuid, (String, Vec<Uuid>)>,
    lbs: BTreeMap<Uuid, LbSpec>,
    /// The one load balancer group: its UUID and load balancers.
    lb_group: Option<(Uuid, BTreeSet<Uuid>)>,
    /// Per switch: its load balancers, and whether it uses the group.
    switch_lbs: BTreeMap<Uuid, (BTreeSet<Uuid>, bool)>,
    routers: BTreeMap<Uuid, String>,
    /// Router ports: (router, name, network set).
    lrps: BTreeMap<Uuid, (Uuid, String, usize)>,
    routes: BTreeMap<Uuid, (Uuid, RouteSpec)>,
    policies: BTreeMap<Uuid, (Uuid, PolicySpec)>,
    /// Switch ports of type router: their router port's name.
    router_port_of: BTreeMap<Uuid, String>,
    /// QoS rules with their switch.
    qos: BTreeMap<Uuid, (Uuid, QosSpec)>,
    /// Meters by name index: their UUID and spec.
    meters: BTreeMap<usize, (Uuid, MeterSpec)>,
    /// The NB_Global row exists.
    global: bool,
    /// NAT rules and their router.
    nats: BTreeMap<Uuid, (Uuid, NatSpec)>,
    /// Load balancers applied to routers.
    router_lbs: BTreeMap<Uuid, BTreeSet<Uuid>>,
    /// Router ports' gateway layout (see [`Op::SetGateway`]).
    gateways: BTreeMap<Uuid, u8>,
    /// Gateway routers.
    gateway_routers: BTreeSet<Uuid>,
    /// The `Chassis_Template_Var` row of `hv1` and its variable set.
    template_vars: Option<(Uuid, bool)>,
    /// What ovn-controller wrote into the SB (by port name; monitors by
    /// port name, IP and protocol).
    sb_ports: BTreeMap<String, SbPort>,
    sb_monitors: BTreeMap<(String, String, String), SbMonitor>,
    /// Learned multicast groups by (datapath, address, chassis).
    sb_igmp: BTreeMap<(Uuid, usize, bool), SbIgmpGroup>,
    /// Routers with `mcast_relay=true`.
    relay: BTreeSet<Uuid>,
    /// Router ports with `mcast_flood=true`.
    lrp_flood: BTreeSet<Uuid>,
}

/// The CoPP row of every switch.
const COPP: Uuid = Uuid::from_u128(0xc0bb_0000_0000_0000_0000_0000_0000_0001);

/// The HA chassis group of external ports.
const EXT_GROUP: Uuid = Uuid::from_u128(0xe7e7_0000_0000_0000_0000_0000_0000_0001);

/// The UUID of the `i`th row a router port's gateway layout needs.
fn gateway_row(lrp: Uuid, i: u128) -> Uuid {
    Uuid::from_u128(lrp.as_u128() ^ (0x5a5a_0000_0000_0000_0000 | (i + 1)))
}

fn strings(v: &[&str]) -> Datum {
    Datum::set(v.iter().map(|s| Atom::String((*s).to_string())))
}

impl Model {
    fn fresh(&mut self) -> Uuid {
        self.next += 1;
        // Spread the first 32 bits so that hash order and UUID order differ.
        Uuid::from_u128((self.next.wrapping_mul(0x9e37_79b9) << 96) | self.next)
    }

    fn apply(&mut self, op: &Op) {
        let sw: Vec<Uuid> = self.switches.keys().copied().collect();
        let ps: Vec<Uuid> = self.ports.keys().copied().collect();
        let pgs: Vec<Uuid> = self.port_groups.keys().copied().collect();
        let acls: Vec<Uuid> = self.acls.keys().copied().collect();
        let lbs: Vec<Uuid> = self.lbs.keys().copied().collect();
        let lrs: Vec<Uuid> = self.routers.keys().copied().collect();
        let lrps: Vec<Uuid> = self.lrps.keys().copied().collect();
        let pick = |v: &[Uuid], i: usize| (!v.is_empty()).then(|| v[i % v.len()]);
        match op {
            Op::SetSbPort(p, up, chassis, parent) => {
                let name = |i: usize| {
                    pick(&ps, i)
                        .map(|u| self.ports[&u].0.clone())
                        .unwrap_or_else(|| format!("gone{i}"))
                };
                let rec = SbPort {
                    name: name(*p),
                    up: *up,
                    chassis: *chassis,
                    virtual_parent: parent.map(name),
                };
                if *up || *chassis || rec.virtual_parent.is_some() {
                    self.sb_ports.insert(rec.name.clone(), rec);
                } else {
                    self.sb_ports.remove(&rec.name);
                }
            }
            Op::SetSbIgmp(d, a, chassis, ports) => {
                // Datapaths: the switches, then the routers (ovn-controller
                // only writes switches; northd must not choke on others).
                let dps: Vec<Uuid> = sw.iter().chain(lrs.iter()).copied().collect();
                let Some(dp) = pick(&dps, *d) else { return };
                let key = (dp, *a, *chassis);
                let mut names: Vec<String> = ports
                    .iter()
                    .filter_map(|i| pick(&ps, *i).map(|u| self.ports[&u].0.clone()))
                    .collect();
                names.sort();
                names.dedup();
                if names.is_empty() {
                    self.sb_igmp.remove(&key);
                } else {
                    self.sb_igmp.insert(
                        key,
                        SbIgmpGroup {
                            datapath: dp,
                            address: IGMP_ADDRESSES[*a].to_string(),
                            ports: names,
                        },
                    );
                }
            }
            Op::SetRelay(r, on) => {
                if let Some(lr) = pick(&lrs, *r) {
                    if *on {
                        self.relay.insert(lr);
                    } else {
                        self.relay.remove(&lr);
                    }
                }
            }
            Op::SetLrpFlood(p, on) => {
                if let Some(lrp) = pick(&lrps, *p) {
                    if *on {
                        self.lrp_flood.insert(lrp);
                    } else {
                        self.lrp_flood.remove(&lrp);
                    }
                }
            }
            Op::SetSbMonitor(p, ip, udp, status) => {
                let port = pick(&ps, *p)
                    .map(|u| self.ports[&u].0.clone())
                    .unwrap_or_else(|| "gone".into());
                let ip = ["10.0.0.1", "10.0.0.2"][*ip % 2].to_string();
                let protocol = if *udp { "udp" } else { "tcp" }.to_string();
                let key = (port.clone(), ip.clone(), protocol.clone());
                match status {
                    Some(st) => {
                        self.sb_monitors.insert(
                            key,
                            SbMonitor {
                                ip,
                                port: 8080,
                                protocol,
                                logical_port: port,
                                status: MONITOR_STATUS[*st % MONITOR_STATUS.len()].into(),
                            },
                        );
                    }
                    None => {
                        self.sb_monitors.remove(&key);
                    }
                }
            }
            Op::AddNat(i, spec) => {
                if let Some(lr) = pick(&lrs, *i) {
                    let u = self.fresh();
                    self.nats.insert(u, (lr, spec.clone()));
                }
            }
            Op::DelNat(i) => {
                let v: Vec<Uuid> = self.nats.keys().copied().collect();
                if let Some(x) = pick(&v, *i) {
                    self.nats.remove(&x);
                }
            }
            Op::AttachRouterLb(r, l) => {
                if let (Some(lr), Some(lb)) = (pick(&lrs, *r), pick(&lbs, *l)) {
                    self.router_lbs.entry(lr).or_default().insert(lb);
                }
            }
            Op::DetachRouterLbs(r) => {
                if let Some(lr) = pick(&lrs, *r) {
                    self.router_lbs.remove(&lr);
                }
            }
            Op::SetGateway(p, mode) => {
                if let Some(lrp) = pick(&lrps, *p) {
                    if *mode == 0 {
                        self.gateways.remove(&lrp);
                    } else {
                        self.gateways.insert(lrp, *mode);
                    }
                }
            }
            Op::SetGatewayRouter(r, on) => {
                if let Some(lr) = pick(&lrs, *r) {
                    if *on {
                        self.gateway_routers.insert(lr);
                    } else {
                        self.gateway_routers.remove(&lr);
                    }
                }
            }
            Op::AddLb(spec) => {
                let u = self.fresh();
                self.lbs.insert(u, spec.clone());
            }
            Op::DelLb(i) if !lbs.is_empty() => {
                self.lbs.remove(&lbs[i % lbs.len()]);
            }
            Op::ModifyLb(i, spec) if !lbs.is_empty() => {
                self.lbs.insert(lbs[i % lbs.len()], spec.clone());
            }
            Op::AttachLb(s, l, via_group) if !sw.is_empty() && !lbs.is_empty() => {
                let (s, l) = (sw[s % sw.len()], lbs[l % lbs.len()]);
                if *via_group {
                    if self.lb_group.is_none() {
                        let g = self.fresh();
                        self.lb_group = Some((g, BTreeSet::new()));
                    }
                    if let Some((_, members)) = &mut self.lb_group {
                        members.insert(l);
                    }
                    self.switch_lbs.entry(s).or_default().1 = true;
                } else {
                    self.switch_lbs.entry(s).or_default().0.insert(l);
                }
            }
            Op::DetachLbs(s) if !sw.is_empty() => {
                self.switch_lbs.remove(&sw[s % sw.len()]);
            }
            Op::AddRouter => {
                let u = self.fresh();
                self.routers.insert(u, format!("lr{}", self.next));
            }
            Op::DelRouter(i) => {
                if let Some(lr) = pick(&lrs, *i) {
                    self.routers.remove(&lr);
                }
            }
            Op::AddLrp(i, n) => {
                if let Some(lr) = pick(&lrs, *i) {
                    let u = self.fresh();
                    self.lrps.insert(u, (lr, format!("lrp{}", self.next), *n));
                }
            }
            Op::DelLrp(i) => {
                if let Some(p) = pick(&lrps, *i) {
                    self.lrps.remove(&p);
                }
            }
            Op::Connect(l, s) => {
                if let (Some(lrp), Some(ls)) = (pick(&lrps, *l), pick(&sw, *s)) {
                    let name = self.lrps[&lrp].1.clone();
                    let u = self.fresh();
                    let spec = PortSpec {
                        addresses: vec!["router"],
                        port_security: vec![],
                        type_: "router",
                        enabled: None,
                    };
                    self.ports.insert(u, (format!("p{}", self.next), spec));
                    self.router_port_of.insert(u, name);
                    if let Some(sw) = self.switches.get_mut(&ls) {
                        sw.2.push(u);
                    }
                }
            }
            Op::AddRoute(i, spec) => {
                if let Some(lr) = pick(&lrs, *i) {
                    let u = self.fresh();
                    self.routes.insert(u, (lr, spec.clone()));
                }
            }
            Op::DelRoute(i) => {
                let v: Vec<Uuid> = self.routes.keys().copied().collect();
                if let Some(x) = pick(&v, *i) {
                    self.routes.remove(&x);
                }
            }
            Op::AddPolicy(i, spec) => {
                if let Some(lr) = pick(&lrs, *i) {
                    let u = self.fresh();
                    self.policies.insert(u, (lr, spec.clone()));
                }
            }
            Op::DelPolicy(i) => {
                let v: Vec<Uuid> = self.policies.keys().copied().collect();
                if let Some(x) = pick(&v, *i) {
                    self.policies.remove(&x);
                }
            }
            Op::AddAcl(i, to_pg, spec) => {
                let owners = if *to_pg { &pgs } else { &sw };
                if !owners.is_empty() {
                    let owner = owners[i % owners.len()];
                    let u = self.fresh();
                    self.acls.insert(u, (owner, spec.clone()));
                }
            }
            Op::DelAcl(i) if !acls.is_empty() => {
                self.acls.remove(&acls[i % acls.len()]);
            }
            Op::AddPortGroup(members) => {
                let u = self.fresh();
                let mut ports: Vec<Uuid> = if ps.is_empty() {
                    Vec::new()
                } else {
                    members.iter().map(|m| ps[m % ps.len()]).collect()
                };
                ports.sort();
                ports.dedup();
                self.port_groups
                    .insert(u, (format!("pg{}", self.next), ports));
            }
            Op::DelPortGroup(i) if !pgs.is_empty() => {
                let pg = pgs[i % pgs.len()];
                self.port_groups.remove(&pg);
                self.acls.retain(|_, (owner, _)| *owner != pg);
            }
            Op::AddSwitch { vlan_passthru } => {
                let u = self.fresh();
                self.switches
                    .insert(u, (format!("sw{}", self.next), *vlan_passthru, Vec::new()));
            }
            Op::DelSwitch(i) if !sw.is_empty() => {
                let u = sw[i % sw.len()];
                if let Some((_, _, ports)) = self.switches.remove(&u) {
                    for p in ports {
                        self.ports.remove(&p);
                    }
                }
            }
            Op::AddPort(i, spec) if !sw.is_empty() => {
                let s = sw[i % sw.len()];
                let u = self.fresh();
                self.ports
                    .insert(u, (format!("p{}", self.next), spec.clone()));
                if let Some(sw) = self.switches.get_mut(&s) {
                    sw.2.push(u);
                }
            }
            Op::DelPort(i) if !ps.is_empty() => {
                let p = ps[i % ps.len()];
                self.ports.remove(&p);
                for sw in self.switches.values_mut() {
                    sw.2.retain(|x| *x != p);
                }
            }
            Op::ModifyPort(i, spec) if !ps.is_empty() => {
                let p = ps[i % ps.len()];
                if let Some(port) = self.ports.get_mut(&p) {
                    port.1 = spec.clone();
                }
            }
            Op::AddQos(i, spec) => {
                if let Some(ls) = pick(&sw, *i) {
                    let u = self.fresh();
                    self.qos.insert(u, (ls, spec.clone()));
                }
            }
            Op::DelQos(i) => {
                let v: Vec<Uuid> = self.qos.keys().copied().collect();
                if let Some(x) = pick(&v, *i) {
                    self.qos.remove(&x);
                }
            }
            Op::SetMeter(i, spec) => {
                let u = self.fresh();
                self.meters.insert(*i, (u, spec.clone()));
            }
            Op::DelMeter(i) => {
                self.meters.remove(i);
            }
            Op::SetGlobal(on) => self.global = *on,
            Op::SetTemplateVars(set) => {
                // The row is kept (its variables modified) while it exists.
                self.template_vars = match (*set, self.template_vars) {
                    (None, _) => None,
                    (Some(v), Some((u, _))) => Some((u, v)),
                    (Some(v), None) => Some((self.fresh(), v)),
                };
            }
            Op::ClearAll => {
                self.qos.clear();
                self.meters.clear();
                self.global = false;
                self.lbs.clear();
                self.lb_group = None;
                self.switch_lbs.clear();
                self.switches.clear();
                self.ports.clear();
                self.acls.clear();
                self.port_groups.clear();
                self.routers.clear();
            }
            _ => {}
        }
        // Router ports, routes and policies die with their router.
        let routers = &self.routers;
        self.lrps.retain(|_, (lr, _, _)| routers.contains_key(lr));
        self.routes.retain(|_, (lr, _)| routers.contains_key(lr));
        self.policies.retain(|_, (lr, _)| routers.contains_key(lr));
        self.nats.retain(|_, (lr, _)| routers.contains_key(lr));
        self.router_lbs.retain(|lr, _| routers.contains_key(lr));
        self.gateway_routers.retain(|lr| routers.contains_key(lr));
        let lrps = &self.lrps;
        self.gateways.retain(|p, _| lrps.contains_key(p));
        let lbs = &self.lbs;
        for set in self.router_lbs.values_mut() {
            set.retain(|l| lbs.contains_key(l));
        }
        let ports = &self.ports;
        self.router_port_of.retain(|p, _| ports.contains_key(p));
        // Weak references and garbage collection, as ovsdb-server does them:
        // port groups forget deleted ports, ACLs die with their owner.
        let ports = &self.ports;
        for pg in self.port_groups.values_mut() {
            pg.1.retain(|p| ports.contains_key(p));
        }
        let (switches, pgs) = (&self.switches, &self.port_groups);
        self.acls
            .retain(|_, (owner, _)| switches.contains_key(owner) || pgs.contains_key(owner));
        self.qos.retain(|_, (ls, _)| switches.contains_key(ls));
        // Deleting a load balancer removes it from switches and the group
        // (as `ovn-nbctl lb-del` does); a deleted switch's references go.
        let lbs = &self.lbs;
        if let Some((_, members)) = &mut self.lb_group {
            members.retain(|l| lbs.contains_key(l));
        }
        self.switch_lbs.retain(|s, _| switches.contains_key(s));
        for (direct, _) in self.switch_lbs.values_mut() {
            direct.retain(|l| lbs.contains_key(l));
        }
    }

    /// The SB input the model holds.
    fn sb_inputs(&self) -> Vec<SbInput> {
        self.sb_ports
            .values()
            .cloned()
            .map(SbInput::Port)
            .chain(self.sb_monitors.values().cloned().map(SbInput::Monitor))
            .chain(self.sb_igmp.values().cloned().map(SbInput::Igmp))
            .collect()
    }

    fn acls_of(&self, owner: Uuid) -> Datum {
        Datum::set(
            self.acls
                .iter()
                .filter(|(_, (o, _))| *o == owner)
                .map(|(u, _)| Atom::Uuid(*u)),
        )
    }

    fn rows(&self) -> BTreeMap<(&'static str, Uuid), Row> {
        let mut out = BTreeMap::new();
        for (u, (owner, spec)) in &self.acls {
            let mut r = Row::new();
            let dir = if spec.from_lport {
                "from-lport"
            } else {
                "to-lport"
            };
            let pg = self.port_groups.get(owner).map(|(n, _)| n.clone());
            let m = match (&pg, spec.from_lport) {
                (Some(n), true) => format!("inport == @{n} && ip4"),
                (Some(n), false) => format!("outport == @{n} && ip4.src == ${n}_ip4"),
                (None, _) => "tcp.dst == 22".to_string(),
            };
            r.insert("direction", Datum::scalar(dir));
            r.insert("action", Datum::scalar(spec.action));
            r.insert("priority", Datum::scalar(spec.priority));
            r.insert("match", Datum::scalar(m.as_str()));
            r.insert("log", Datum::scalar(spec.log));
            let meter = METER_NAMES.get(spec.meter).copied();
            r.insert("meter", Datum::set(meter.map(Atom::from)));
            out.insert(("ACL", *u), r);
        }
        for (u, (name, ports)) in &self.port_groups {
            let mut r = Row::new();
            r.insert("name", Datum::scalar(name.as_str()));
            r.insert("ports", Datum::set(ports.iter().map(|p| Atom::Uuid(*p))));
            r.insert("acls", self.acls_of(*u));
            out.insert(("Port_Group", *u), r);
        }
        for (u, (name, vlan, ports)) in &self.switches {
            let mut r = Row::new();
            r.insert("name", Datum::scalar(name.as_str()));
            r.insert("acls", self.acls_of(*u));
            r.insert("ports", Datum::set(ports.iter().map(|p| Atom::Uuid(*p))));
            let oc: Vec<(&str, &str)> = if *vlan {
                vec![("vlan-passthru", "true")]
            } else {
                vec![]
            };
            r.insert("other_config", Datum::string_map(oc));
            // Every switch has the one CoPP row, whose meters come and go.
            r.insert("copp", Datum::set([Atom::Uuid(COPP)]));
            r.insert(
                "qos_rules",
                Datum::set(
                    self.qos
                        .iter()
                        .filter(|(_, (ls, _))| ls == u)
                        .map(|(q, _)| Atom::Uuid(*q)),
                ),
            );
            let (direct, group) = self.switch_lbs.get(u).cloned().unwrap_or_default();
            r.insert(
                "load_balancer",
                Datum::set(direct.iter().map(|l| Atom::Uuid(*l))),
            );
            let groups = self.lb_group.iter().filter(|_| group);
            r.insert(
                "load_balancer_group",
                Datum::set(groups.map(|(g, _)| Atom::Uuid(*g))),
            );
            out.insert(("Logical_Switch", *u), r);
        }
        if !self.switches.is_empty() || !self.routers.is_empty() {
            let mut c = Row::new();
            c.insert("name", Datum::scalar("copp"));
            c.insert(
                "meters",
                Datum::string_map(vec![
                    ("reject", "m1"),
                    ("dhcpv4-opts", "m2"),
                    ("nd-na", "m2"),
                    ("svc-monitor", "m1"),
                    ("dns", "m3"),
                    ("event-elb", "m2"),
                    ("arp", "m1"),
                    ("nd-ns-resolve", "m2"),
                    ("icmp4-error", "m1"),
                    ("tcp-reset", "m2"),
                ]),
            );
            out.insert(("Copp", COPP), c);
        }
        if let Some((u, second)) = self.template_vars {
            let vars = if second {
                vec![("vip", "10.0.0.200"), ("vport", "8080")]
            } else {
                vec![("vip", "10.0.0.100"), ("vport", "80"), ("b1", "10.0.0.1")]
            };
            let mut r = Row::new();
            r.insert("chassis", Datum::scalar("hv1"));
            r.insert("variables", Datum::string_map(vars));
            out.insert(("Chassis_Template_Var", u), r);
        }
        for (u, spec) in &self.lbs {
            let mut r = Row::new();
            r.insert("name", Datum::scalar(format!("lb-{u}").as_str()));
            r.insert("vips", Datum::string_map(spec.vips.clone()));
            r.insert("protocol", Datum::set(spec.protocol.map(Atom::from)));
            r.insert("options", Datum::string_map(spec.options.clone()));
            let hc = Uuid::from_u128(u.as_u128() ^ (1 << 64));
            let names: Vec<&str> = self.ports.values().map(|(n, _)| n.as_str()).collect();
            let mut mappings = Vec::new();
            if let (true, Some(first), Some(last)) = (spec.health, names.first(), names.last()) {
                mappings.push(("10.0.0.1", format!("{first}:10.0.0.254")));
                mappings.push(("10.0.0.2", format!("{last}:10.0.0.253")));
                let mut h = Row::new();
                h.insert("vip", Datum::scalar("10.0.0.100:80"));
                h.insert("options", Datum::string_map(vec![("interval", "5")]));
                out.insert(("Load_Balancer_Health_Check", hc), h);
            }
            r.insert(
                "health_check",
                Datum::set((spec.health && !names.is_empty()).then_some(Atom::Uuid(hc))),
            );
            r.insert(
                "ip_port_mappings",
                Datum::string_map(mappings.iter().map(|(k, v)| (*k, v.as_str()))),
            );
            out.insert(("Load_Balancer", *u), r);
        }
        for (u, (_, q)) in &self.qos {
            let mut r = Row::new();
            let dir = if q.from_lport {
                "from-lport"
            } else {
                "to-lport"
            };
            r.insert("direction", Datum::scalar(dir));
            r.insert("priority", Datum::scalar(q.priority));
            r.insert("match", Datum::scalar("ip4"));
            let ints = |v: Vec<(&str, Option<i64>)>| {
                Datum::map(
                    v.into_iter()
                        .filter_map(|(k, x)| x.map(|x| (Atom::from(k), Atom::from(x)))),
                )
            };
            r.insert("action", ints(vec![("dscp", q.dscp)]));
            r.insert(
                "bandwidth",
                ints(vec![("rate", q.rate), ("burst", q.burst)]),
            );
            out.insert(("QoS", *u), r);
        }
        for (i, (u, m)) in &self.meters {
            let band = Uuid::from_u128(u.as_u128() ^ (2 << 64));
            let mut r = Row::new();
            r.insert("name", Datum::scalar(METER_NAMES[*i]));
            r.insert("unit", Datum::scalar("pktps"));
            r.insert("fair", Datum::scalar(m.fair));
            r.insert("bands", Datum::set([Atom::Uuid(band)]));
            out.insert(("Meter", *u), r);
            let mut b = Row::new();
            b.insert("action", Datum::scalar("drop"));
            b.insert("rate", Datum::scalar(m.rate));
            b.insert("burst_size", Datum::scalar(m.burst));
            out.insert(("Meter_Band", band), b);
        }
        if self.global {
            let mut r = Row::new();
            r.insert(
                "options",
                Datum::string_map(vec![("svc_monitor_mac", "0a:00:00:00:00:fe")]),
            );
            out.insert(("NB_Global", Uuid::from_u128(0xaa)), r);
        }
        if let Some((g, members)) = &self.lb_group {
            let mut r = Row::new();
            r.insert("name", Datum::scalar("grp"));
            r.insert(
                "load_balancer",
                Datum::set(members.iter().map(|l| Atom::Uuid(*l))),
            );
            out.insert(("Load_Balancer_Group", *g), r);
        }
        for (u, (name, spec)) in &self.ports {
            let mut r = Row::new();
            r.insert("name", Datum::scalar(name.as_str()));
            r.insert("type", Datum::scalar(spec.type_));
            r.insert("addresses", strings(&spec.addresses));
            r.insert("port_security", strings(&spec.port_security));
            r.insert("enabled", Datum::set(spec.enabled.map(Atom::from)));
            let rp = self
                .router_port_of
                .get(u)
                .map(String::as_str)
                .unwrap_or("lrp");
            // Virtual ports name every port as a parent (ports come and go,
            // and only those on the same switch count); external ports are
            // in one HA chassis group.
            let parents: Vec<&str> = self.ports.values().map(|(n, _)| n.as_str()).collect();
            let parents = parents.join(",");
            let opts: Vec<(&str, &str)> = match spec.type_ {
                "router" => vec![("router-port", rp)],
                "virtual" => vec![("virtual-ip", "10.0.0.2"), ("virtual-parents", &parents)],
                _ => vec![],
            };
            r.insert("options", Datum::string_map(opts));
            let external = spec.type_ == "external";
            r.insert(
                "ha_chassis_group",
                Datum::set(external.then_some(Atom::Uuid(EXT_GROUP))),
            );
            if external {
                let mut g = Row::new();
                g.insert("name", Datum::scalar("ext-grp"));
                out.insert(("HA_Chassis_Group", EXT_GROUP), g);
            }
            out.insert(("Logical_Switch_Port", *u), r);
        }
        for (u, name) in &self.routers {
            let of = |v: Vec<Uuid>| Datum::set(v.into_iter().map(Atom::Uuid));
            let mut r = Row::new();
            r.insert("name", Datum::scalar(name.as_str()));
            r.insert(
                "ports",
                of(self
                    .lrps
                    .iter()
                    .filter(|(_, x)| x.0 == *u)
                    .map(|(k, _)| *k)
                    .collect()),
            );
            r.insert(
                "static_routes",
                of(self
                    .routes
                    .iter()
                    .filter(|(_, x)| x.0 == *u)
                    .map(|(k, _)| *k)
                    .collect()),
            );
            r.insert(
                "policies",
                of(self
                    .policies
                    .iter()
                    .filter(|(_, x)| x.0 == *u)
                    .map(|(k, _)| *k)
                    .collect()),
            );
            r.insert(
                "nat",
                of(self
                    .nats
                    .iter()
                    .filter(|(_, x)| x.0 == *u)
                    .map(|(k, _)| *k)
                    .collect()),
            );
            r.insert(
                "load_balancer",
                of(self
                    .router_lbs
                    .get(u)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default()),
            );
            let mut opts: Vec<(&str, &str)> = if self.gateway_routers.contains(u) {
                vec![("chassis", "hv1")]
            } else {
                vec![]
            };
            if self.relay.contains(u) {
                opts.push(("mcast_relay", "true"));
            }
            r.insert("options", Datum::string_map(opts));
            // Routers share the switches' CoPP row.
            r.insert("copp", Datum::set([Atom::Uuid(COPP)]));
            out.insert(("Logical_Router", *u), r);
        }
        for (u, (_, name, n)) in &self.lrps {
            let mut r = Row::new();
            r.insert("name", Datum::scalar(name.as_str()));
            let mac = format!("00:00:00:00:ff:{:02x}", u.as_u128() as u8);
            r.insert("mac", Datum::scalar(mac.as_str()));
            r.insert("networks", strings(NETWORKS[*n]));
            if self.lrp_flood.contains(u) {
                r.insert("options", Datum::string_map([("mcast_flood", "true")]));
            }
            let chassis: &[(&str, i64)] = match self.gateways.get(u) {
                Some(1) => &[("hv1", 20), ("hv2", 10)],
                Some(2) => &[("hv2", 20)],
                Some(3) => &[("hv1", 30), ("hv3", 10)],
                _ => &[],
            };
            let mut rows = Vec::new();
            for (i, (c, prio)) in chassis.iter().enumerate() {
                let g = gateway_row(*u, i as u128);
                let mut x = Row::new();
                x.insert("chassis_name", Datum::scalar(*c));
                x.insert("priority", Datum::scalar(*prio));
                let table = if self.gateways.get(u) == Some(&3) {
                    "HA_Chassis"
                } else {
                    x.insert("name", Datum::scalar(format!("{name}-{c}").as_str()));
                    "Gateway_Chassis"
                };
                out.insert((table, g), x);
                rows.push(Atom::Uuid(g));
            }
            if self.gateways.get(u) == Some(&3) {
                let g = gateway_row(*u, 99);
                let mut x = Row::new();
                x.insert("name", Datum::scalar(format!("ha-{name}").as_str()));
                x.insert("ha_chassis", Datum::set(rows));
                out.insert(("HA_Chassis_Group", g), x);
                r.insert("ha_chassis_group", Datum::set([Atom::Uuid(g)]));
            } else {
                r.insert("gateway_chassis", Datum::set(rows));
            }
            out.insert(("Logical_Router_Port", *u), r);
        }
        for (u, (_, x)) in &self.nats {
            let mut r = Row::new();
            r.insert("type", Datum::scalar(x.type_));
            r.insert("external_ip", Datum::scalar(x.external_ip));
            r.insert("logical_ip", Datum::scalar(x.logical_ip));
            if x.distributed {
                r.insert("logical_port", Datum::scalar("p1"));
                r.insert("external_mac", Datum::scalar("00:00:00:00:aa:01"));
            }
            out.insert(("NAT", *u), r);
        }
        for (u, (_, x)) in &self.routes {
            let mut r = Row::new();
            r.insert("ip_prefix", Datum::scalar(x.prefix));
            r.insert("nexthop", Datum::scalar(x.nexthop));
            let policy = if x.src_ip { "src-ip" } else { "dst-ip" };
            r.insert("policy", Datum::scalar(policy));
            r.insert("route_table", Datum::scalar(x.route_table));
            if x.symmetric {
                r.insert(
                    "options",
                    Datum::string_map(vec![("ecmp_symmetric_reply", "true")]),
                );
            }
            out.insert(("Logical_Router_Static_Route", *u), r);
        }
        for (u, (_, x)) in &self.policies {
            let mut r = Row::new();
            r.insert("priority", Datum::scalar(x.priority));
            r.insert("match", Datum::scalar("ip4.src == 10.0.0.0/8"));
            r.insert("action", Datum::scalar(x.action));
            let nh: &[&str] = if x.action == "reroute" {
                &x.nexthops
            } else {
                &[]
            };
            r.insert("nexthops", strings(nh));
            out.insert(("Logical_Router_Policy", *u), r);
        }
        out
    }
}

/// SB records with the history-dependent columns blanked: tunnel keys of
/// datapaths and ports (and port group names, which embed them), and the
/// `source`/`stage-hint`/`in_out_port` of flows.
fn without_keys(c: &Compiler) -> BTreeSet<SbRecord> {
    c.sb_records()
        .cloned()
        .map(|r| match r {
            SbRecord::DatapathBinding(mut d) => {
                d.tunnel_key = 0;
                SbRecord::DatapathBinding(d)
            }
            SbRecord::PortBinding(mut p) => {
                p.tunnel_key = 0;
                SbRecord::PortBinding(p)
            }
            // Learned multicast groups' keys depend on history too.
            SbRecord::MulticastGroup(mut g) if g.tunnel_key >= 32774 => {
                g.tunnel_key = 0;
                SbRecord::MulticastGroup(g)
            }
            // Named after the datapath's tunnel key.
            SbRecord::PortGroup(mut g) => {
                g.name = g
                    .name
                    .split_once('_')
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_default();
                g.uuid = Uuid::nil();
                SbRecord::PortGroup(g)
            }
            // Set when northd inserts the row, then kept (history).
            SbRecord::LogicalFlow(mut f) => {
                f.source = 0;
                f.hint = None;
                f.io_port = None;
                // Symmetric ECMP flows name their port's tunnel key.
                if f.match_.contains("ecmp_reply_port") || f.actions.contains("ecmp_reply_port") {
                    f.match_ = blank_reply_port(&f.match_).into();
                    f.actions = blank_reply_port(&f.actions).into();
                    f.uuid = Uuid::nil();
                }
                SbRecord::LogicalFlow(f)
            }
            other => other,
        })
        .collect()
}

/// `text` with the port tunnel keys after `ecmp_reply_port` blanked.
fn blank_reply_port(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("ecmp_reply_port") {
        let (head, tail) = rest.split_at(i + "ecmp_reply_port".len());
        out.push_str(head);
        let digits = tail.trim_start_matches([' ', '=']);
        out.push_str(&tail[..tail.len() - digits.len()]);
        rest = digits.trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('K');
    }
    out.push_str(rest);
    out
}

/// Tunnel keys: unique per key space.
fn check_keys(c: &Compiler) -> Result<(), TestCaseError> {
    let mut dp_keys = BTreeSet::new();
    let mut port_keys = BTreeSet::new();
    let mut group_keys = BTreeSet::new();
    for r in c.sb_records() {
        match r {
            SbRecord::DatapathBinding(d) => prop_assert!(
                dp_keys.insert(d.tunnel_key),
                "duplicate dp key {}",
                d.tunnel_key
            ),
            SbRecord::PortBinding(p) => {
                prop_assert!(p.tunnel_key >= 1 && p.tunnel_key < 32768);
                prop_assert!(
                    port_keys.insert((p.datapath, p.tunnel_key)),
                    "duplicate port key {}",
                    p.tunnel_key
                );
            }
            SbRecord::MulticastGroup(g) => {
                prop_assert!(g.tunnel_key >= 32768 && g.tunnel_key != 32773);
                prop_assert!(
                    group_keys.insert((g.datapath, g.tunnel_key)),
                    "duplicate multicast group key {}",
                    g.tunnel_key
                );
            }
            _ => {}
        }
    }
    Ok(())
}

fn keys_of(c: &Compiler) -> BTreeMap<(&'static str, Uuid), u32> {
    c.sb_records()
        .filter_map(|r| match r {
            SbRecord::DatapathBinding(d) => Some((("dp", d.uuid), d.tunnel_key)),
            SbRecord::PortBinding(p) => Some((("pb", p.uuid), p.tunnel_key)),
            SbRecord::MulticastGroup(g) => Some((("mc", g.uuid), g.tunnel_key)),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_from_scratch(batches in prop::collection::vec(prop::collection::vec(op(), 1..4), 1..12)) {
        let mut model = Model::default();
        let mut inc = Compiler::new(Options::default()).unwrap();
        for batch in &batches {
            let before = model.rows();
            for op in batch {
                model.apply(op);
            }
            let after = model.rows();
            let keys_before = keys_of(&inc);
            inc.apply(diff(&before, &after)).unwrap();
            inc.set_sb_inputs(model.sb_inputs());
            check_keys(&inc)?;
            // Keys of surviving datapaths and ports never move.
            for (k, v) in keys_of(&inc) {
                if let Some(old) = keys_before.get(&k) {
                    prop_assert_eq!(*old, v, "tunnel key of {:?} moved", k);
                }
            }
        }
        let rows = model.rows();
        let mut scratch = Compiler::compile_rows(rows.iter().map(|((t, u), r)| (*t, *u, r)), Options::default()).unwrap();
        scratch.set_sb_inputs(model.sb_inputs());
        let (a, b) = (without_keys(&inc), without_keys(&scratch));
        let only_inc: Vec<_> = a.difference(&b).collect();
        let only_scratch: Vec<_> = b.difference(&a).collect();
        prop_assert!(only_inc.is_empty() && only_scratch.is_empty(), "incremental only: {only_inc:#?}\nfrom scratch only: {only_scratch:#?}");
    }
}

#[test]
fn deleting_everything_leaves_an_empty_sb() {
    let mut model = Model::default();
    let mut c = Compiler::new(Options::default()).unwrap();
    let before = model.rows();
    model.apply(&Op::AddSwitch {
        vlan_passthru: false,
    });
    let spec = PortSpec {
        addresses: vec!["00:00:00:00:00:01 10.0.0.1"],
        port_security: vec![],
        type_: "",
        enabled: None,
    };
    model.apply(&Op::AddPort(0, spec));
    let mid = model.rows();
    let delta = c.apply(diff(&before, &mid)).unwrap();
    assert!(
        delta.counts().0 > 50,
        "expected the baseline flows, got {:?}",
        delta.counts()
    );
    model.apply(&Op::ClearAll);
    let delta = c.apply(diff(&mid, &model.rows())).unwrap();
    // Only the constant rows (DHCP options, RBAC) remain.
    let left: Vec<&str> = c
        .sb_records()
        .map(|r| r.table())
        .filter(|t| !t.starts_with("DHCP") && !t.starts_with("RBAC"))
        .collect();
    assert_eq!(left, Vec::<&str>::new());
    assert_eq!(delta.counts().0, 0);
    assert!(delta.counts().2 > 50);
}

#[test]
fn port_group_address_sets_follow_the_group() {
    let mut model = Model::default();
    let mut c = Compiler::new(Options::default()).unwrap();
    let sets = |c: &Compiler| {
        c.sb_records()
            .filter_map(|r| match r {
                SbRecord::AddressSet(a) => Some(a.name.clone()),
                _ => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    };
    let before = model.rows();
    model.apply(&Op::AddPortGroup(vec![]));
    c.apply(diff(&before, &model.rows())).unwrap();
    assert_eq!(sets(&c), vec!["pg1_ip4", "pg1_ip6"]);
    let mid = model.rows();
    model.apply(&Op::DelPortGroup(0));
    c.apply(diff(&mid, &model.rows())).unwrap();
    assert_eq!(sets(&c), Vec::<String>::new());
}

#[test]
fn router_edits_reach_the_router_pipeline() {
    let mut model = Model::default();
    let mut c = Compiler::new(Options::default()).unwrap();
    let routing = |c: &Compiler| -> Vec<String> {
        let mut v: Vec<String> = c
            .sb_records()
            .filter_map(|r| match r {
                SbRecord::LogicalFlow(f) if f.stage.name() == "lr_in_ip_routing" => {
                    Some(f.match_.to_string())
                }
                _ => None,
            })
            .collect();
        v.sort();
        v
    };
    let step = |model: &mut Model, c: &mut Compiler, ops: &[Op]| {
        let before = model.rows();
        for op in ops {
            model.apply(op);
        }
        c.apply(diff(&before, &model.rows())).unwrap();
    };
    step(
        &mut model,
        &mut c,
        &[
            Op::AddSwitch {
                vlan_passthru: false,
            },
            Op::AddRouter,
            Op::AddLrp(0, 0),
            Op::Connect(0, 0),
        ],
    );
    let connected = routing(&c);
    assert!(connected.contains(&"ip4.dst == 10.0.0.0/24".to_string()));
    let route = RouteSpec {
        prefix: "30.0.0.0/24",
        nexthop: "10.0.0.2",
        src_ip: false,
        route_table: "",
        symmetric: false,
    };
    step(&mut model, &mut c, &[Op::AddRoute(0, route)]);
    assert!(routing(&c).contains(&"reg7 == 0 && ip4.dst == 30.0.0.0/24".to_string()));
    step(&mut model, &mut c, &[Op::DelRoute(0)]);
    assert_eq!(routing(&c), connected);
    step(&mut model, &mut c, &[Op::DelRouter(0)]);
    assert!(routing(&c).is_empty());
}

#[test]
fn health_checks_qos_and_meters_follow_edits() {
    let mut model = Model::default();
    let mut c = Compiler::new(Options::default()).unwrap();
    let step = |model: &mut Model, c: &mut Compiler, ops: &[Op]| {
        let before = model.rows();
        for op in ops {
            model.apply(op);
        }
        c.apply(diff(&before, &model.rows())).unwrap();
    };
    let count = |c: &Compiler, table: &str| c.sb_records().filter(|r| r.table() == table).count();
    let meters = |c: &Compiler| {
        let mut v: Vec<String> = c
            .sb_records()
            .filter_map(|r| match r {
                SbRecord::Meter(m) => Some(m.name.split("__").next().unwrap_or("").to_string()),
                _ => None,
            })
            .collect();
        v.sort();
        v
    };
    let port = PortSpec {
        addresses: vec!["00:00:00:00:00:01 10.0.0.1"],
        port_security: vec![],
        type_: "",
        enabled: None,
    };
    let lb = LbSpec {
        vips: vec![("10.0.0.100:80", "10.0.0.1:8080,10.0.0.2:8080")],
        protocol: None,
        options: vec![],
        health: true,
    };
    step(
        &mut model,
        &mut c,
        &[
            Op::AddSwitch {
                vlan_passthru: false,
            },
            Op::AddPort(0, port.clone()),
            Op::AddPort(0, port),
            Op::AddLb(lb),
            Op::AttachLb(0, 0, false),
        ],
    );
    // No svc_monitor_mac: nothing is monitored.
    assert_eq!(count(&c, "Service_Monitor"), 0);
    step(&mut model, &mut c, &[Op::SetGlobal(true)]);
    assert_eq!(count(&c, "Service_Monitor"), 2);
    step(&mut model, &mut c, &[Op::SetGlobal(false)]);
    assert_eq!(count(&c, "Service_Monitor"), 0);

    let acl = AclSpec {
        from_lport: true,
        action: "allow",
        priority: 100,
        log: true,
        meter: 0,
    };
    let fair = MeterSpec {
        fair: true,
        rate: 10,
        burst: 0,
    };
    step(
        &mut model,
        &mut c,
        &[Op::AddAcl(0, false, acl), Op::SetMeter(0, fair.clone())],
    );
    assert_eq!(meters(&c), vec!["m1", "m1"]);
    step(
        &mut model,
        &mut c,
        &[Op::SetMeter(
            0,
            MeterSpec {
                fair: false,
                ..fair
            },
        )],
    );
    assert_eq!(meters(&c), vec!["m1"]);
    step(&mut model, &mut c, &[Op::DelMeter(0)]);
    assert!(meters(&c).is_empty());

    let qos = QosSpec {
        from_lport: true,
        priority: 100,
        dscp: Some(10),
        rate: Some(100),
        burst: None,
    };
    let qos_flows = |c: &Compiler| {
        c.sb_records()
            .filter(|r| match r {
                SbRecord::LogicalFlow(f) => f.priority == 100 && &*f.match_ == "ip4",
                _ => false,
            })
            .count()
    };
    step(&mut model, &mut c, &[Op::AddQos(0, qos)]);
    assert_eq!(qos_flows(&c), 2);
    step(&mut model, &mut c, &[Op::DelQos(0)]);
    assert_eq!(qos_flows(&c), 0);
}

#[test]
fn gateway_nat_and_router_lb_edits_reach_the_sb() {
    let mut model = Model::default();
    let mut c = Compiler::new(Options::default()).unwrap();
    let step = |model: &mut Model, c: &mut Compiler, ops: &[Op]| {
        let before = model.rows();
        for op in ops {
            model.apply(op);
        }
        c.apply(diff(&before, &model.rows())).unwrap();
    };
    // The chassis of the HA chassis group(s), by name.
    let ha = |c: &Compiler| -> BTreeSet<(String, i64)> {
        c.sb_records()
            .filter_map(|r| match r {
                SbRecord::HaChassis(h) => Some((h.chassis_name.clone(), h.priority)),
                _ => None,
            })
            .collect()
    };
    let cr_ports = |c: &Compiler| -> Vec<String> {
        c.sb_records()
            .filter_map(|r| match r {
                SbRecord::PortBinding(p) if p.type_ == "chassisredirect" => {
                    Some(p.logical_port.clone())
                }
                _ => None,
            })
            .collect()
    };
    let stage = |c: &Compiler, name: &str| -> usize {
        c.sb_records()
            .filter(|r| match r {
                SbRecord::LogicalFlow(f) => f.stage.name() == name,
                _ => false,
            })
            .count()
    };
    step(
        &mut model,
        &mut c,
        &[
            Op::AddSwitch {
                vlan_passthru: false,
            },
            Op::AddRouter,
            Op::AddLrp(0, 2),
            Op::Connect(0, 0),
            Op::SetGateway(0, 1),
        ],
    );
    let lrp = model.lrps.values().next().unwrap().1.clone();
    assert_eq!(cr_ports(&c), vec![format!("cr-{lrp}")]);
    assert_eq!(
        ha(&c),
        BTreeSet::from([("hv1".to_string(), 20), ("hv2".to_string(), 10)])
    );
    // Moving the gateway chassis replaces the group's chassis.
    step(&mut model, &mut c, &[Op::SetGateway(0, 2)]);
    assert_eq!(ha(&c), BTreeSet::from([("hv2".to_string(), 20)]));
    step(&mut model, &mut c, &[Op::SetGateway(0, 3)]);
    assert_eq!(
        ha(&c),
        BTreeSet::from([("hv1".to_string(), 30), ("hv3".to_string(), 10)])
    );
    // NAT on the distributed gateway port: SNAT flows come and go.
    let snat_default = stage(&c, "lr_out_snat");
    let snat = NatSpec {
        type_: "snat",
        external_ip: "20.0.0.100",
        logical_ip: "10.0.0.0/24",
        distributed: false,
    };
    step(&mut model, &mut c, &[Op::AddNat(0, snat)]);
    assert!(stage(&c, "lr_out_snat") > snat_default);
    step(&mut model, &mut c, &[Op::DelNat(0)]);
    assert_eq!(stage(&c, "lr_out_snat"), snat_default);
    // A router load balancer adds DNAT flows; detaching removes them.
    let dnat_default = stage(&c, "lr_in_dnat");
    let lb = LbSpec {
        vips: vec![("20.0.0.50:80", "10.0.0.1:8080")],
        protocol: Some("tcp"),
        options: vec![],
        health: false,
    };
    step(
        &mut model,
        &mut c,
        &[Op::AddLb(lb), Op::AttachRouterLb(0, 0)],
    );
    assert!(stage(&c, "lr_in_dnat") > dnat_default);
    step(&mut model, &mut c, &[Op::DetachRouterLbs(0)]);
    assert_eq!(stage(&c, "lr_in_dnat"), dnat_default);
    // No gateway: no chassisredirect port, no HA rows.
    step(&mut model, &mut c, &[Op::SetGateway(0, 0)]);
    assert!(cr_ports(&c).is_empty());
    assert!(ha(&c).is_empty());
    assert!(!c
        .sb_records()
        .any(|r| matches!(r, SbRecord::HaChassisGroup(_))));
}
