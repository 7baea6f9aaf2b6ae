//! The chassis compute API is incremental and exact: random sequences of
//! SB edits (logical flows, port bindings, address-set members, port-group
//! members, MAC bindings) and local binds applied with
//! `ChassisCompute::apply` give exactly the installed table of a fresh
//! `openflow()` compile of the same content, and the returned deltas turn
//! the previous table into the new one.

use std::collections::BTreeMap;

use ovnflow_southbound::chassis::{Chassis, Tunnel, TunnelType};
use ovnflow_southbound::flow_table::OfFlow;
use ovnflow_southbound::incremental::{ChassisCompute, LocalChange, SbChange};
use ovnflow_southbound::sbdb::Southbound;
use ovsdb::sb::{
    AddressSet, Chassis as SbChassis, DatapathBinding, Encap, Fdb, LogicalDpGroup, LogicalFlow,
    MacBinding, MulticastGroup, PortBinding, PortGroup,
};
use ovsdb::Uuid;
use proptest::prelude::*;

const N_PORTS: usize = 6;
const DP: u128 = 0xd0;
const HV1: u128 = 0xc1;
const HV2: u128 = 0xc2;
const FLOOD: u128 = 0xf1;
/// A second datapath (`ls2`, port `q0`), and a datapath group of `ls`
/// (and `ls2`).
const DP2: u128 = 0xd2;
const GROUP: u128 = 0x9a;
const Q0: u128 = 0x2000;

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn port_uuid(i: usize) -> Uuid {
    uuid(0x1000 + i as u128)
}

fn port_name(i: usize) -> String {
    format!("p{i}")
}

/// Logical-flow templates: (pipeline, table, priority, match, actions);
/// `{p}` is a port name.
const TEMPLATES: &[(&str, i64, i64, &str, &str)] = &[
    ("ingress", 0, 50, "inport == \"{p}\"", "next;"),
    ("egress", 9, 100, "outport == \"{p}\"", "output;"),
    ("ingress", 5, 80, "ip4.src == $as1", "drop;"),
    ("ingress", 6, 90, "inport == @pg1 && ip4", "next;"),
    (
        "egress",
        4,
        1001,
        "outport == @pg1 && ip4.src == $as1 && tcp.dst == {80, 443}",
        "next;",
    ),
    (
        "ingress",
        24,
        50,
        "eth.dst == 00:00:00:00:00:0{k}",
        "outport = \"{p}\"; output;",
    ),
    (
        "ingress",
        24,
        70,
        "eth.mcast",
        "outport = \"_MC_flood\"; output;",
    ),
    (
        "ingress",
        7,
        60,
        "is_chassis_resident(\"{p}\") && ip6",
        "next;",
    ),
    // A group per backend: removing the flow frees its group id.
    (
        "ingress",
        12,
        110,
        "ip4.dst == 10.0.0.100 && tcp.dst == 80",
        "ct_lb_mark(backends=10.0.0.{k}:80);",
    ),
];

/// The content being edited: the model from which a fresh Southbound is
/// built for the reference compile.
#[derive(Clone, Debug, Default)]
struct Model {
    lflows: BTreeMap<Uuid, LogicalFlow>,
    ports: BTreeMap<Uuid, PortBinding>,
    as1: Vec<String>,
    pg1: Vec<String>,
    macs: BTreeMap<Uuid, MacBinding>,
    fdbs: BTreeMap<Uuid, Fdb>,
    flood: MulticastGroup,
    next_lflow: u128,
    /// Logical flow UUIDs share their first 32 bits (so their conjunction
    /// ids collide and move on in allocation order, which differs between
    /// an incremental run and a fresh compile); by default they differ
    /// there, as random UUIDs do.
    colliding_uuids: bool,
    /// The chassis rows (hv1, hv2) deleted.
    chassis_gone: [bool; 2],
    /// How the chassis rows are named (see [`chassis_row`]).
    renamed: [u8; 2],
    /// `ls2`'s tunnel key, if it exists.
    dp2: Option<i64>,
    /// Whether the datapath group holds `ls2` (if it exists).
    group_dp2: bool,
    /// Port `q0` on `ls2`, if it exists: whether it is bound here.
    q0: Option<bool>,
}

fn base_sb() -> Southbound {
    let mut sb = Southbound::default();
    sb.datapaths.insert(
        uuid(DP),
        DatapathBinding {
            uuid: uuid(DP),
            tunnel_key: 1,
            external_ids: [("logical-switch".to_string(), "ls".to_string())].into(),
            ..Default::default()
        },
    );
    for c in 0..2 {
        let (row, encap) = chassis_row(c, 0);
        sb.encaps.insert(encap.uuid, encap);
        sb.chassis.insert(row.uuid, row);
    }
    sb
}

/// Chassis `c` (0: hv1, this chassis; 1: hv2) and its encap, named
/// `hv1`/`hv2` (`renamed` 0), with hostname `host1`/`host2` (1), or
/// named `hv1x`/`hv2x` (2: no longer this chassis, or no longer the one
/// the tunnel goes to); the hostname is the name unless said.
fn chassis_row(c: usize, renamed: u8) -> (SbChassis, Encap) {
    let (u, name, ip) = [(HV1, "hv1", "127.0.0.1"), (HV2, "hv2", "127.0.0.2")][c];
    let encap = uuid(u + 0x100);
    let (row_name, hostname) = match renamed {
        0 => (name.to_string(), name.to_string()),
        1 => (name.to_string(), format!("host{}", c + 1)),
        _ => (format!("{name}x"), name.to_string()),
    };
    let row = SbChassis {
        uuid: uuid(u),
        name: row_name,
        hostname,
        encaps: vec![encap],
        ..Default::default()
    };
    let encap = Encap {
        uuid: encap,
        chassis_name: name.to_string(),
        ip: ip.to_string(),
        type_: "geneve".to_string(),
        ..Default::default()
    };
    (row, encap)
}

/// `ls2`.
fn dp2(key: i64) -> DatapathBinding {
    DatapathBinding {
        uuid: uuid(DP2),
        tunnel_key: key,
        external_ids: [("logical-switch".to_string(), "ls2".to_string())].into(),
        ..Default::default()
    }
}

impl Model {
    fn new() -> Model {
        let mut m = Model {
            flood: MulticastGroup {
                uuid: uuid(FLOOD),
                datapath: uuid(DP),
                name: "_MC_flood".to_string(),
                tunnel_key: 32768,
                ..Default::default()
            },
            next_lflow: 0x10_0000,
            ..Model::default()
        };
        for i in 0..3 {
            m.ports.insert(port_uuid(i), m.port(i, None));
        }
        m.flood.ports = m.ports.keys().copied().collect();
        m
    }

    fn port(&self, i: usize, chassis: Option<Uuid>) -> PortBinding {
        let mac = format!("00:00:00:00:00:0{}", i + 1);
        PortBinding {
            uuid: port_uuid(i),
            logical_port: port_name(i),
            datapath: uuid(DP),
            tunnel_key: i as i64 + 1,
            chassis,
            mac: vec![format!("{mac} 10.0.0.{}", i + 1)],
            port_security: if i.is_multiple_of(2) {
                vec![format!("{mac} 10.0.0.{}", i + 1)]
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }

    fn sb(&self) -> Southbound {
        let mut sb = base_sb();
        sb.logical_flows = self.lflows.clone();
        sb.port_bindings = self.ports.clone();
        sb.mc_groups = [(self.flood.uuid, self.flood.clone())].into();
        sb.address_sets = vec![self.address_set()];
        sb.port_groups = vec![self.port_group()];
        sb.mac_bindings = self.macs.values().cloned().collect();
        sb.fdbs = self.fdbs.values().cloned().collect();
        sb.dp_groups.insert(uuid(GROUP), self.group());
        if let Some(key) = self.dp2 {
            sb.datapaths.insert(uuid(DP2), dp2(key));
        }
        if let Some(pb) = self.q0() {
            sb.port_bindings.insert(pb.uuid, pb);
        }
        for c in 0..2 {
            let (row, encap) = chassis_row(c, self.renamed[c]);
            sb.chassis.remove(&row.uuid);
            sb.encaps.remove(&encap.uuid);
            if !self.chassis_gone[c] {
                sb.chassis.insert(row.uuid, row);
                sb.encaps.insert(encap.uuid, encap);
            }
        }
        sb.reindex();
        sb
    }

    fn group(&self) -> LogicalDpGroup {
        let mut datapaths = vec![uuid(DP)];
        if self.group_dp2 && self.dp2.is_some() {
            datapaths.push(uuid(DP2));
        }
        LogicalDpGroup {
            uuid: uuid(GROUP),
            datapaths,
        }
    }

    /// `q0`, bound here by the SB too (if hv1's row exists).
    fn q0(&self) -> Option<PortBinding> {
        let here = self.q0?;
        Some(PortBinding {
            uuid: uuid(Q0),
            logical_port: "q0".to_string(),
            datapath: uuid(DP2),
            tunnel_key: 1,
            chassis: (here && !self.chassis_gone[0]).then_some(uuid(HV1)),
            mac: vec!["00:00:00:00:03:01 10.0.3.1".to_string()],
            ..Default::default()
        })
    }

    fn address_set(&self) -> AddressSet {
        AddressSet {
            uuid: uuid(0xa5),
            name: "as1".to_string(),
            addresses: self.as1.clone(),
        }
    }

    fn port_group(&self) -> PortGroup {
        PortGroup {
            uuid: uuid(0x96),
            name: "1_pg1".to_string(),
            ports: self.pg1.clone(),
        }
    }
}

#[derive(Clone, Debug)]
enum Edit {
    AddLflow(usize, usize),
    RemoveLflow(usize),
    AddPort(usize),
    RemovePort(usize),
    /// Bind the port here (a local interface), or on hv2.
    Bind(usize, bool),
    Unbind(usize),
    AsMember(u8, bool),
    PgMember(usize, bool),
    MacBinding(usize, bool),
    Fdb(usize, bool),
    /// Chassis hv1 (ours) or hv2 deleted (with its encap; the ports bound
    /// there lose their `chassis`, a weak reference) or back.
    ChassisGone(usize, bool),
    /// Chassis hv1 or hv2 renamed (see [`chassis_row`]).
    Rename(usize, u8),
    /// A port's `requested-chassis` option: hostname `host1`, name `hv2`,
    /// or none.
    Request(usize, u8),
    /// A logical flow on the datapath group.
    AddGroupLflow(usize, usize),
    /// `ls2` with tunnel key 2 or 3, or (`None`) deleted (with `q0`; the
    /// group loses it, a weak reference).
    Dp2(Option<i64>),
    /// The datapath group holds `ls2`, or not.
    GroupDp2(bool),
    /// `q0` on `ls2`, bound here (its VIF here) or not, or deleted.
    Q0(Option<bool>),
    /// The tunnel to hv2 (its OVS port), or none.
    Tunnel(bool),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (0..TEMPLATES.len(), 0..N_PORTS).prop_map(|(t, p)| Edit::AddLflow(t, p)),
        1 => (0..100usize).prop_map(Edit::RemoveLflow),
        1 => (0..N_PORTS).prop_map(Edit::AddPort),
        1 => (0..N_PORTS).prop_map(Edit::RemovePort),
        2 => (0..N_PORTS, any::<bool>()).prop_map(|(p, here)| Edit::Bind(p, here)),
        1 => (0..N_PORTS).prop_map(Edit::Unbind),
        2 => (1..5u8, any::<bool>()).prop_map(|(a, add)| Edit::AsMember(a, add)),
        2 => (0..N_PORTS, any::<bool>()).prop_map(|(p, add)| Edit::PgMember(p, add)),
        1 => (0..N_PORTS, any::<bool>()).prop_map(|(p, add)| Edit::MacBinding(p, add)),
        1 => (0..N_PORTS, any::<bool>()).prop_map(|(p, add)| Edit::Fdb(p, add)),
        1 => (0..2usize, any::<bool>()).prop_map(|(c, gone)| Edit::ChassisGone(c, gone)),
        1 => (0..2usize, 0..3u8).prop_map(|(c, r)| Edit::Rename(c, r)),
        1 => (0..N_PORTS, 0..3u8).prop_map(|(p, r)| Edit::Request(p, r)),
        2 => (0..TEMPLATES.len(), 0..N_PORTS).prop_map(|(t, p)| Edit::AddGroupLflow(t, p)),
        1 => prop::option::of(2..4i64).prop_map(Edit::Dp2),
        1 => any::<bool>().prop_map(Edit::GroupDp2),
        1 => prop::option::of(any::<bool>()).prop_map(Edit::Q0),
        1 => any::<bool>().prop_map(Edit::Tunnel),
    ]
}

/// Applies an edit to the model and the chassis; returns the changes.
fn apply(m: &mut Model, ch: &mut Chassis, e: &Edit) -> (Vec<SbChange>, Vec<LocalChange>) {
    let mut sbc = Vec::new();
    let mut lc = Vec::new();
    match *e {
        Edit::AddLflow(t, p) | Edit::AddGroupLflow(t, p) => {
            let on_group = matches!(e, Edit::AddGroupLflow(..));
            let (pipeline, table, prio, mat, act) = TEMPLATES[t];
            let fill = |s: &str| {
                s.replace("{p}", &port_name(p))
                    .replace("{k}", &(p + 1).to_string())
            };
            let spread = if m.colliding_uuids {
                0
            } else {
                (m.next_lflow + 1) << 96
            };
            let u = uuid(spread | (m.next_lflow * 0x1_0000_0001 + 0x5a5a_0000));
            m.next_lflow += 1;
            let lf = LogicalFlow {
                uuid: u,
                logical_datapath: (!on_group).then_some(uuid(DP)),
                logical_dp_group: on_group.then_some(uuid(GROUP)),
                pipeline: pipeline.to_string(),
                table_id: table,
                priority: prio,
                match_: fill(mat),
                actions: fill(act),
                ..Default::default()
            };
            m.lflows.insert(u, lf.clone());
            sbc.push(SbChange::LogicalFlow(u, Some(lf)));
        }
        Edit::RemoveLflow(i) => {
            if let Some(u) = m.lflows.keys().nth(i % m.lflows.len().max(1)).copied() {
                m.lflows.remove(&u);
                sbc.push(SbChange::LogicalFlow(u, None));
            }
        }
        Edit::AddPort(i) => {
            let pb = m.port(i, None);
            m.ports.insert(pb.uuid, pb.clone());
            sbc.push(SbChange::PortBinding(pb.uuid, Some(Box::new(pb))));
            m.flood.ports = m.ports.keys().copied().collect();
            sbc.push(SbChange::McGroup(m.flood.uuid, Some(m.flood.clone())));
        }
        Edit::RemovePort(i) => {
            if m.ports.remove(&port_uuid(i)).is_some() {
                sbc.push(SbChange::PortBinding(port_uuid(i), None));
                m.flood.ports = m.ports.keys().copied().collect();
                sbc.push(SbChange::McGroup(m.flood.uuid, Some(m.flood.clone())));
            }
        }
        Edit::Bind(i, here) => {
            if m.ports.contains_key(&port_uuid(i)) {
                let c = usize::from(!here);
                let chassis = uuid([HV1, HV2][c]);
                let pb = PortBinding {
                    // A reference to a deleted row is no reference.
                    chassis: (!m.chassis_gone[c]).then_some(chassis),
                    ..m.ports[&port_uuid(i)].clone()
                };
                m.ports.insert(pb.uuid, pb.clone());
                sbc.push(SbChange::PortBinding(pb.uuid, Some(Box::new(pb))));
                if here {
                    ch.vifs.insert(port_name(i), i as u16 + 1);
                    lc.push(LocalChange::BindVif(port_name(i), i as u16 + 1));
                } else if ch.vifs.remove(&port_name(i)).is_some() {
                    lc.push(LocalChange::UnbindVif(port_name(i)));
                }
            }
        }
        Edit::Unbind(i) => {
            if let Some(pb) = m.ports.get_mut(&port_uuid(i)) {
                pb.chassis = None;
                sbc.push(SbChange::PortBinding(pb.uuid, Some(Box::new(pb.clone()))));
            }
            if ch.vifs.remove(&port_name(i)).is_some() {
                lc.push(LocalChange::UnbindVif(port_name(i)));
            }
        }
        Edit::AsMember(a, add) => {
            let ip = format!("10.0.0.{a}");
            m.as1.retain(|x| *x != ip);
            if add {
                m.as1.push(ip);
                m.as1.sort();
            }
            sbc.push(SbChange::AddressSet("as1".into(), Some(m.address_set())));
        }
        Edit::PgMember(p, add) => {
            m.pg1.retain(|x| *x != port_name(p));
            if add {
                m.pg1.push(port_name(p));
                m.pg1.sort();
            }
            sbc.push(SbChange::PortGroup("1_pg1".into(), Some(m.port_group())));
        }
        Edit::MacBinding(p, add) => {
            let u = uuid(0x7000 + p as u128);
            if add {
                let mb = MacBinding {
                    uuid: u,
                    datapath: uuid(DP),
                    logical_port: port_name(p),
                    ip: format!("10.0.1.{}", p + 1),
                    mac: format!("00:00:00:00:01:0{}", p + 1),
                    ..Default::default()
                };
                m.macs.insert(u, mb.clone());
                sbc.push(SbChange::MacBinding(u, Some(mb)));
            } else if m.macs.remove(&u).is_some() {
                sbc.push(SbChange::MacBinding(u, None));
            }
        }
        Edit::Fdb(p, add) => {
            // A MAC learned on port p (key p + 1) of the datapath (key 1).
            let u = uuid(0x8000 + p as u128);
            if add {
                let f = Fdb {
                    uuid: u,
                    dp_key: 1,
                    port_key: p as i64 + 1,
                    mac: format!("00:00:00:00:02:0{}", p + 1),
                };
                m.fdbs.insert(u, f.clone());
                sbc.push(SbChange::Fdb(u, Some(f)));
            } else if m.fdbs.remove(&u).is_some() {
                sbc.push(SbChange::Fdb(u, None));
            }
        }
        Edit::ChassisGone(c, gone) => {
            if m.chassis_gone[c] != gone {
                m.chassis_gone[c] = gone;
                let (row, encap) = chassis_row(c, m.renamed[c]);
                if gone {
                    for pb in m
                        .ports
                        .values_mut()
                        .filter(|pb| pb.chassis == Some(row.uuid))
                    {
                        pb.chassis = None;
                        sbc.push(SbChange::PortBinding(pb.uuid, Some(Box::new(pb.clone()))));
                    }
                    sbc.push(SbChange::Chassis(row.uuid, None));
                    sbc.push(SbChange::Encap(encap.uuid, None));
                } else {
                    sbc.push(SbChange::Encap(encap.uuid, Some(encap)));
                    sbc.push(SbChange::Chassis(row.uuid, Some(row)));
                }
            }
        }
        Edit::Rename(c, r) => {
            m.renamed[c] = r;
            if !m.chassis_gone[c] {
                let (row, _) = chassis_row(c, r);
                sbc.push(SbChange::Chassis(row.uuid, Some(row)));
            }
        }
        Edit::Dp2(key) => {
            let had = m.dp2.is_some();
            if key.is_none() && had {
                if m.q0.take().is_some() {
                    sbc.push(SbChange::PortBinding(uuid(Q0), None));
                    if ch.vifs.remove("q0").is_some() {
                        lc.push(LocalChange::UnbindVif("q0".into()));
                    }
                }
                m.dp2 = None;
                if m.group_dp2 {
                    sbc.push(SbChange::DpGroup(uuid(GROUP), Some(m.group())));
                }
                sbc.push(SbChange::Datapath(uuid(DP2), None));
            } else if let Some(k) = key {
                m.dp2 = Some(k);
                sbc.push(SbChange::Datapath(uuid(DP2), Some(dp2(k))));
                if !had && m.group_dp2 {
                    sbc.push(SbChange::DpGroup(uuid(GROUP), Some(m.group())));
                }
            }
        }
        Edit::GroupDp2(with) => {
            m.group_dp2 = with;
            sbc.push(SbChange::DpGroup(uuid(GROUP), Some(m.group())));
        }
        Edit::Q0(q) => {
            if m.dp2.is_some() {
                m.q0 = q;
                let pb = m.q0();
                sbc.push(SbChange::PortBinding(uuid(Q0), pb.map(Box::new)));
                if q == Some(true) {
                    ch.vifs.insert("q0".into(), 99);
                    lc.push(LocalChange::BindVif("q0".into(), 99));
                } else if ch.vifs.remove("q0").is_some() {
                    lc.push(LocalChange::UnbindVif("q0".into()));
                }
            }
        }
        Edit::Tunnel(up) => {
            let tun = up.then_some(Tunnel {
                ofport: 100,
                kind: TunnelType::Geneve,
            });
            match &tun {
                Some(t) => ch.tunnels.insert("hv2".into(), *t),
                None => ch.tunnels.remove("hv2"),
            };
            lc.push(LocalChange::Tunnel("hv2".into(), tun));
        }
        Edit::Request(i, r) => {
            if let Some(pb) = m.ports.get_mut(&port_uuid(i)) {
                match r {
                    0 => pb
                        .options
                        .insert("requested-chassis".into(), "host1".into()),
                    1 => pb.options.insert("requested-chassis".into(), "hv2".into()),
                    _ => pb.options.remove("requested-chassis"),
                };
                sbc.push(SbChange::PortBinding(pb.uuid, Some(Box::new(pb.clone()))));
            }
        }
    }
    (sbc, lc)
}

/// A flow's key (table, priority, match) as text.
fn flow_key(f: &OfFlow) -> String {
    format!("{} {} {}", f.table, f.priority, f.of_match)
}

/// Flow text with group ids replaced by the group's definition.
fn text(f: &OfFlow, group: &dyn Fn(u32) -> Option<String>) -> String {
    let s = f.to_string();
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find("group:") {
        out.push_str(&rest[..i + 6]);
        rest = &rest[i + 6..];
        let n = rest.chars().take_while(char::is_ascii_digit).count();
        let id: u32 = rest[..n].parse().unwrap_or(0);
        out.push_str(&format!("{{{}}}", group(id).unwrap_or_default()));
        rest = &rest[n..];
    }
    out.push_str(rest);
    out
}

/// The engine's installed table as sorted flow texts.
fn engine_table(engine: &ChassisCompute) -> Vec<String> {
    let mut t: Vec<String> = engine
        .installed()
        .map(|f| text(f, &|id| engine.groups().name(id).map(String::from)))
        .collect();
    t.sort();
    t
}

/// The table of a from-scratch compile of `sb` for `ch`, as sorted flow
/// texts.
fn fresh_table(sb: &Southbound, ch: &Chassis) -> Vec<String> {
    let fresh = ovnflow_southbound::openflow(sb, ch);
    let mut t: Vec<String> = fresh
        .flows
        .installed()
        .into_iter()
        .map(|f| text(f, &|id| fresh.groups.name(id).map(String::from)))
        .collect();
    t.sort();
    t
}

fn chassis() -> Chassis {
    let mut ch = Chassis::new("hv1");
    ch.tunnels.insert(
        "hv2".to_string(),
        Tunnel {
            ofport: 100,
            kind: TunnelType::Geneve,
        },
    );
    ch
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_fresh(edits in prop::collection::vec(edit(), 1..25)) {
        let mut model = Model::new();
        let mut ch = chassis();
        let mut engine = ChassisCompute::new(model.sb(), ch.clone());
        let mut shown: BTreeMap<String, OfFlow> = engine
            .installed()
            .map(|f| (flow_key(f), f.clone()))
            .collect();
        for e in &edits {
            let (sbc, lc) = apply(&mut model, &mut ch, e);
            let delta = engine.apply(sbc, lc);
            // The delta turns the previous table into the new one.
            for f in &delta.removed {
                let k = flow_key(f);
                let old = shown.remove(&k);
                prop_assert_eq!(old.as_ref(), Some(&**f), "removed unknown flow");
            }
            for f in &delta.added {
                let k = flow_key(f);
                prop_assert!(shown.insert(k, (**f).clone()).is_none(), "added over a flow");
            }
            let mut applied: Vec<String> = shown
                .values()
                .map(|f| text(f, &|id| engine.groups().name(id).map(String::from)))
                .collect();
            applied.sort();
            let expected = fresh_table(&model.sb(), &ch);
            prop_assert_eq!(&engine_table(&engine), &expected, "after {:?}", e);
            prop_assert_eq!(&applied, &expected);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// With zones assigned by the engine (as the controller runs it), the
    /// table equals a fresh compile with the same zones, every user has a
    /// zone, and users keep theirs across changes.
    #[test]
    fn kept_zones_equal_fresh(edits in prop::collection::vec(edit(), 1..25)) {
        let mut model = Model::new();
        let mut ch = chassis();
        ch.ct_zones = Some(BTreeMap::new());
        let mut engine = ChassisCompute::with_kept_zones(model.sb(), ch.clone());
        for e in &edits {
            let before = engine.chassis().ct_zones.clone().unwrap_or_default();
            let (sbc, lc) = apply(&mut model, &mut ch, e);
            engine.apply(sbc, lc);
            let zones = engine.chassis().ct_zones.clone().unwrap_or_default();
            for (user, z) in &zones {
                if let Some(old) = before.get(user) {
                    prop_assert_eq!(old, z, "{} changed zone", user);
                }
            }
            let mut fresh_ch = ch.clone();
            fresh_ch.ct_zones = Some(zones.clone());
            let mut users_ch = ch.clone();
            users_ch.ct_zones = None;
            let users = ovnflow_southbound::local::Local::compute(&model.sb(), &users_ch).ct_zones;
            prop_assert_eq!(
                users.keys().collect::<Vec<_>>(),
                zones.keys().collect::<Vec<_>>()
            );
            let expected = fresh_table(&model.sb(), &fresh_ch);
            prop_assert_eq!(&engine_table(&engine), &expected, "after {:?}", e);
        }
    }

    /// A streamed full compute (the controller's start) gives out every
    /// flow, a datapath group's datapath by datapath: the last flow given
    /// out at each key, with the merged flows given again at the end (as
    /// the installer's last bundle does), is the installed table.
    #[test]
    fn streamed_flows_make_the_installed_table(edits in prop::collection::vec(edit(), 0..25)) {
        let mut model = Model::new();
        let mut ch = chassis();
        ch.ct_zones = Some(BTreeMap::new());
        for e in &edits {
            apply(&mut model, &mut ch, e);
        }
        let mut last: BTreeMap<String, OfFlow> = BTreeMap::new();
        let engine = ChassisCompute::with_kept_zones_streamed(model.sb(), ch.clone(), &mut |f| {
            last.insert(flow_key(f), f.clone());
        });
        for f in engine.merged_flows() {
            last.insert(flow_key(&f), (*f).clone());
        }
        let mut streamed: Vec<String> = last
            .values()
            .map(|f| text(f, &|id| engine.groups().name(id).map(String::from)))
            .collect();
        streamed.sort();
        prop_assert_eq!(streamed, engine_table(&engine));
    }
}

/// A change to one logical flow recomputes only that flow.
#[test]
fn one_lflow_change_recomputes_one_source() {
    let mut model = Model::new();
    let mut ch = chassis();
    let (sbc, lc) = apply(&mut model, &mut ch, &Edit::Bind(0, true));
    let mut engine = ChassisCompute::new(model.sb(), ch.clone());
    engine.apply(sbc, lc);
    for t in 1..TEMPLATES.len() {
        let (sbc, lc) = apply(&mut model, &mut ch, &Edit::AddLflow(t, 0));
        engine.apply(sbc, lc);
    }
    let (sbc, lc) = apply(&mut model, &mut ch, &Edit::AddLflow(0, 0));
    let delta = engine.apply(sbc, lc);
    assert_eq!(engine.last_recomputed, 1);
    // `inport == "p0"` on the bound p0: one new flow in table 8.
    assert_eq!(delta.removed.len(), 0);
    assert_eq!(delta.added.len(), 1, "{delta:?}");
    assert_eq!(delta.added[0].table, 8);
}

/// CI failure of stop 16 (proptest minimal input): two conjunctive
/// logical flows whose conjunction ids collide, the second added after the
/// address set and port group were filled, must not share ids (each
/// source was translated with an allocator of its own).
#[test]
fn colliding_conjunction_ids_stay_distinct() {
    let edits = [
        Edit::AddLflow(4, 0),
        Edit::Bind(0, true),
        Edit::AsMember(1, true),
        Edit::AsMember(2, true),
        Edit::PgMember(0, true),
        Edit::AddLflow(4, 0),
        Edit::AsMember(3, true),
        Edit::AsMember(1, false),
    ];
    let mut model = Model::new();
    model.colliding_uuids = true;
    let mut ch = chassis();
    let mut engine = ChassisCompute::new(model.sb(), ch.clone());
    for e in &edits {
        let (sbc, lc) = apply(&mut model, &mut ch, e);
        engine.apply(sbc, lc);
        let ours = engine_table(&engine);
        let expected = fresh_table(&model.sb(), &ch);
        let o: Vec<_> = ours.iter().filter(|s| !expected.contains(s)).collect();
        let x: Vec<_> = expected.iter().filter(|s| !ours.contains(s)).collect();
        assert!(
            o.is_empty() && x.is_empty(),
            "after {e:?}\nours only: {o:#?}\nfresh only: {x:#?}"
        );
    }
}

/// The echo of our own claim (`Port_Binding.chassis` set to us, with
/// `up`, on a port whose VIF is here already) changes no flow and
/// recomputes no logical flow — neither those naming the port nor those
/// using a port group it is in (issue 9: 418 sources in the controller
/// bench) — only the port's physical flows and its multicast group.
#[test]
fn claim_echo_recomputes_no_logical_flow() {
    let mut run = Run::new(Model::new());
    run.apply_all(&[
        Edit::PgMember(0, true),
        Edit::AddLflow(0, 0),
        Edit::AddLflow(1, 0),
        Edit::AddLflow(3, 0),
        Edit::AddLflow(4, 0),
        Edit::AddLflow(7, 1),
    ]);
    let Run {
        mut model,
        mut ch,
        mut engine,
    } = run;
    // The VIF appears: bound here before the SB says so.
    ch.vifs.insert(port_name(0), 1);
    engine.apply(Vec::new(), vec![LocalChange::BindVif(port_name(0), 1)]);
    let before: Vec<OfFlow> = engine.installed().cloned().collect();
    // The claim's echo.
    let pb = model.ports.get_mut(&port_uuid(0)).expect("p0");
    pb.chassis = Some(uuid(HV1));
    pb.up = Some(true);
    let change = SbChange::PortBinding(pb.uuid, Some(Box::new(pb.clone())));
    let delta = engine.apply(vec![change], Vec::new());
    assert!(
        delta.added.is_empty() && delta.removed.is_empty(),
        "{delta:?}"
    );
    assert_eq!(engine.last_recomputed, 2, "p0's physical flows, _MC_flood");
    let after: Vec<OfFlow> = engine.installed().cloned().collect();
    assert_eq!(before, after);
    // Another chassis claiming a port resident here by `chassis` alone
    // (p1, no VIF here) changes `is_chassis_resident("p1")`.
    let pb = model.ports.get_mut(&port_uuid(1)).expect("p1");
    pb.chassis = Some(uuid(HV1));
    let change = SbChange::PortBinding(pb.uuid, Some(Box::new(pb.clone())));
    engine.apply(vec![change], Vec::new());
    assert!(engine.last_recomputed > 2);
    assert_eq!(engine_table(&engine), fresh_table(&model.sb(), &ch));
}

/// Our own chassis row appearing (the echo of the registration a
/// controller commits at start, while its first compute runs without it)
/// recomputes only the ports that refer to it, not every source as
/// ovn-controller does; likewise another chassis joining, leaving or being
/// renamed (issue 9: a full recompute of the bench's 984 sources after
/// every start).
#[test]
fn chassis_rows_recompute_only_their_ports() {
    let mut model = Model::new();
    model.chassis_gone[0] = true;
    let mut run = Run::new(model);
    run.apply_all(&[
        Edit::PgMember(0, true),
        Edit::AddLflow(0, 0),
        Edit::AddLflow(4, 0),
        Edit::AddLflow(7, 1),
        Edit::Bind(0, true),
        Edit::Bind(1, false),
        Edit::Bind(2, true),
        Edit::Request(2, 0),
    ]);
    run.recomputes_at_most(&[
        // Ours appears: nothing refers to it yet.
        (Edit::ChassisGone(0, false), 0),
        // Its hostname becomes the one p2 requests: p2 is bound here now
        // (its physical and port-security flows, the neighbours, the
        // flood group).
        (Edit::Rename(0, 1), 4),
        // hv2, where p1 is bound, is renamed (p1's sources and the
        // logical flow naming it), leaves (p1's physical flows and the
        // flood group, with p1's `chassis` cleared) and comes back.
        (Edit::Rename(1, 2), 5),
        (Edit::ChassisGone(1, true), 2),
        (Edit::ChassisGone(1, false), 0),
    ]);
}

/// A datapath that is not local here (another node's switch joining, as
/// ovn-kubernetes adds one per node), its ports and the datapath groups
/// that gain it recompute only what is on them, not every source; it
/// becoming local (a port of it bound here) is a full recompute, as in
/// ovn-controller.
#[test]
fn foreign_datapaths_recompute_only_their_sources() {
    let mut run = Run::new(Model::new());
    run.apply_all(&[
        Edit::Bind(0, true),
        Edit::AddLflow(0, 0),
        Edit::AddLflow(4, 0),
        Edit::AddGroupLflow(1, 0),
        Edit::AddGroupLflow(5, 1),
    ]);
    run.recomputes_at_most(&[
        // ls2 appears, with a port bound elsewhere: nothing of it is here.
        (Edit::Dp2(Some(2)), 0),
        (Edit::Q0(Some(false)), 3),
        // The group gains ls2: its two logical flows.
        (Edit::GroupDp2(true), 2),
        // ls2's key changes: its port and the group's flows.
        (Edit::Dp2(Some(3)), 5),
        // q0 bound here: ls2 becomes local.
        (Edit::Q0(Some(true)), usize::MAX),
        (Edit::Q0(None), usize::MAX),
        // ls2 goes (the group loses it).
        (Edit::Dp2(None), 2),
    ]);
}

/// A model, the chassis and an engine started from them, edited together.
struct Run {
    model: Model,
    ch: Chassis,
    engine: ChassisCompute,
}

impl Run {
    fn new(model: Model) -> Run {
        let ch = chassis();
        let engine = ChassisCompute::new(model.sb(), ch.clone());
        Run { model, ch, engine }
    }

    /// Applies each edit to the model, the chassis and the engine.
    fn apply_all(&mut self, edits: &[Edit]) {
        for e in edits {
            let (sbc, lc) = apply(&mut self.model, &mut self.ch, e);
            self.engine.apply(sbc, lc);
        }
    }

    /// Applies each edit, then checks that at most so many sources were
    /// recomputed and that the table equals a fresh compile.
    fn recomputes_at_most(&mut self, steps: &[(Edit, usize)]) {
        for (e, at_most) in steps {
            self.apply_all(std::slice::from_ref(e));
            let n = self.engine.last_recomputed;
            assert!(n <= *at_most, "{e:?}: {n} sources recomputed");
            assert_eq!(
                engine_table(&self.engine),
                fresh_table(&self.model.sb(), &self.ch),
                "{e:?}"
            );
        }
    }
}
