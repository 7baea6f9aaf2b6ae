//! Load-balancer hairpin flows, OpenFlow tables 68 and 70, as
//! ovn-controller 23.03 builds them for every load balancer with a local
//! datapath (`consider_lb_hairpin_flows`, controller/lflow.c:1434-1970):
//!
//! * table 68 (`chk_lb_hairpin()`), per VIP and backend: traffic already
//!   load balanced (`ct_mark.natted`, or `ct_label.natted` when SB_Global
//!   `options:lb_hairpin_use_ct_mark=false`) from a backend to itself sets
//!   `MLF_LOOKUP_LB_HAIRPIN` and learns the reply into table 69;
//! * table 70 (`ct_snat_to_vip`), per VIP: SNAT to the VIP, or to
//!   `options:hairpin_snat_ip` on each local datapath of the load balancer
//!   (priority 200 instead of 100; 10 less without an L4 port).
//!
//! Only load balancers with `options:hairpin_orig_tuple=true` (what
//! ovn-northd 23.03 always sets) are translated: the original destination
//! is then in `reg1`/`xxreg1` and `reg2`.  Older ones would need matches on
//! the conntrack original tuple (`ct_nw_dst`...), which this crate's
//! matches do not model; they are reported as warnings.  Template load
//! balancers (`options:template=true`) are reported too.

use std::net::IpAddr;

use ovsdb::sb::LoadBalancer;

use crate::actions::mf::Subfield;
use crate::actions::ofpact::{Learn, LearnSpec, Nat};
use crate::actions::OfAction;
use crate::addresses::{extract_ip_address, lb_vip, LbVip};
use crate::expr::symtab::Field;
use crate::expr::OfMatch;
use crate::flow_table::{FlowTable, OfFlow};
use crate::local::Local;
use crate::physical::load;
use crate::sbdb::Southbound;
use ovsdb::ovs_hash::uuid_hash;

/// `OFTABLE_CHK_LB_HAIRPIN`.
pub const CHK_LB_HAIRPIN: u8 = 68;
/// `OFTABLE_CHK_LB_HAIRPIN_REPLY`.
pub const CHK_LB_HAIRPIN_REPLY: u8 = 69;
/// `OFTABLE_CT_SNAT_HAIRPIN`.
pub const CT_SNAT_HAIRPIN: u8 = 70;
/// `MLF_LOOKUP_LB_HAIRPIN_BIT`.
const LOOKUP_LB_HAIRPIN_BIT: u32 = 7;
/// `OVN_CT_NATTED`.
const CT_NATTED: u128 = 2;

/// A parsed Southbound load balancer (`struct ovn_controller_lb`).
struct ControllerLb<'a> {
    row: &'a LoadBalancer,
    vips: Vec<LbVip>,
    proto: u8,
    snat_v4: Option<u32>,
    snat_v6: Option<u128>,
}

impl<'a> ControllerLb<'a> {
    fn new(row: &'a LoadBalancer) -> ControllerLb<'a> {
        let vips = row.vips.iter().filter_map(|(k, v)| lb_vip(k, v)).collect();
        let proto = match row.protocol.as_deref() {
            Some("udp") => 17,
            Some("sctp") => 132,
            _ => 6,
        };
        let snat = row
            .options
            .get("hairpin_snat_ip")
            .and_then(|s| extract_ip_address(s));
        ControllerLb {
            row,
            vips,
            proto,
            snat_v4: snat.as_ref().and_then(|s| s.ipv4.first()).map(|n| n.addr),
            snat_v6: snat.as_ref().and_then(|s| s.ipv6.first()).map(|n| n.addr),
        }
    }

    fn cookie(&self) -> u64 {
        u64::from(uuid_hash(&self.row.uuid))
    }

    /// The SNAT address for a VIP: `hairpin_snat_ip` of its family, else
    /// the VIP.
    fn snat_ip(&self, vip: &IpAddr) -> (IpAddr, bool) {
        match vip {
            IpAddr::V4(_) => match self.snat_v4 {
                Some(a) => (IpAddr::V4(a.into()), true),
                None => (*vip, false),
            },
            IpAddr::V6(_) => match self.snat_v6 {
                Some(a) => (IpAddr::V6(a.into()), true),
                None => (*vip, false),
            },
        }
    }
}

fn ip_value(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

/// The original destination of load-balanced traffic, as ovn-northd
/// stores it: `reg1` (IPv4) or `xxreg1` (IPv6), and `reg2[0..15]` (port).
fn match_orig_dst(m: &mut OfMatch, vip: &LbVip, proto: u8) {
    match vip.vip {
        IpAddr::V4(_) => {
            m.set_field(Field::EthType, 0x0800, 0xffff);
            m.set_field(Field::Reg(1), ip_value(&vip.vip), 0xffff_ffff);
        }
        IpAddr::V6(_) => {
            m.set_field(Field::EthType, 0x86dd, 0xffff);
            m.set_field(Field::Xxreg(1), ip_value(&vip.vip), u128::MAX);
        }
    }
    if vip.port != 0 {
        m.set_field(Field::IpProto, u128::from(proto), 0xff);
        m.set_field(Field::Reg(2), u128::from(vip.port), 0xffff);
    }
}

/// `add_lb_vip_hairpin_reply_action`: learn the reply direction into
/// table 69.
fn reply_learn(lb: &ControllerLb<'_>, snat: &IpAddr, has_l4_port: bool) -> OfAction {
    let whole = Subfield::whole;
    let (ip_src, ip_dst, eth_type) = match snat {
        IpAddr::V4(_) => (Field::Ipv4Src, Field::Ipv4Dst, 0x0800),
        IpAddr::V6(_) => (Field::Ipv6Src, Field::Ipv6Dst, 0x86dd),
    };
    let mut specs = vec![
        LearnSpec::MatchField {
            dst: whole(Field::Metadata),
            src: whole(Field::Metadata),
        },
        LearnSpec::MatchImmediate {
            dst: whole(Field::EthType),
            value: eth_type,
        },
        LearnSpec::MatchField {
            dst: whole(ip_src),
            src: whole(ip_src),
        },
        LearnSpec::MatchImmediate {
            dst: whole(ip_dst),
            value: ip_value(snat),
        },
    ];
    if has_l4_port {
        let (src, dst) = match lb.proto {
            17 => (Field::UdpSrc, Field::UdpDst),
            132 => (Field::SctpSrc, Field::SctpDst),
            _ => (Field::TcpSrc, Field::TcpDst),
        };
        specs.push(LearnSpec::MatchImmediate {
            dst: whole(Field::IpProto),
            value: u128::from(lb.proto),
        });
        specs.push(LearnSpec::MatchField {
            dst: whole(src),
            src: whole(dst),
        });
    } else {
        specs.push(LearnSpec::MatchField {
            dst: whole(Field::IpProto),
            src: whole(Field::IpProto),
        });
    }
    specs.push(LearnSpec::LoadImmediate {
        dst: Subfield {
            field: Field::Reg(10),
            ofs: LOOKUP_LB_HAIRPIN_BIT,
            n_bits: 1,
        },
        value: 1,
    });
    OfAction::Learn(Learn {
        table_id: CHK_LB_HAIRPIN_REPLY,
        idle_timeout: 0,
        hard_timeout: 0,
        delete_learned: true,
        cookie: lb.cookie(),
        specs,
    })
}

/// `add_lb_vip_hairpin_flows`: one table 68 flow per backend.
fn vip_hairpin_flows(lb: &ControllerLb<'_>, vip: &LbVip, use_ct_mark: bool, flows: &mut FlowTable) {
    for (bip, bport) in &vip.backends {
        let mut m = OfMatch::new();
        match_orig_dst(
            &mut m,
            &LbVip {
                port: 0,
                ..vip.clone()
            },
            lb.proto,
        );
        let (src, dst) = match bip {
            IpAddr::V4(_) => (Field::Ipv4Src, Field::Ipv4Dst),
            IpAddr::V6(_) => (Field::Ipv6Src, Field::Ipv6Dst),
        };
        m.set_field(src, ip_value(bip), u128::MAX);
        m.set_field(dst, ip_value(bip), u128::MAX);
        if *bport != 0 {
            m.set_field(Field::IpProto, u128::from(lb.proto), 0xff);
            m.set_field(Field::TcpDst, u128::from(*bport), 0xffff);
            m.set_field(Field::Reg(2), u128::from(vip.port), 0xffff);
        }
        if use_ct_mark {
            m.set_field(Field::CtMark, CT_NATTED, CT_NATTED);
        } else {
            m.set_field(Field::CtLabel, CT_NATTED, CT_NATTED);
        }
        let (snat, _) = lb.snat_ip(&vip.vip);
        flows.add(OfFlow {
            table: CHK_LB_HAIRPIN,
            priority: 100,
            cookie: lb.cookie(),
            of_match: m,
            actions: vec![
                load(Field::Reg(10), 1, LOOKUP_LB_HAIRPIN_BIT, 1),
                reply_learn(lb, &snat, *bport != 0),
            ],
        });
    }
}

/// `add_lb_ct_snat_hairpin_vip_flow`: the table 70 flow(s) of a VIP.
fn vip_snat_flows(
    sb: &Southbound,
    local: &Local,
    lb: &ControllerLb<'_>,
    vip: &LbVip,
    flows: &mut FlowTable,
) {
    let (snat, per_dp) = lb.snat_ip(&vip.vip);
    let actions = vec![OfAction::Ct {
        commit: true,
        table: None,
        zone: Subfield {
            field: Field::Reg(12),
            ofs: 0,
            n_bits: 16,
        },
        nat: Some(Nat {
            src: Some(true),
            addr: Some(snat),
            ports: None,
        }),
        exec: Vec::new(),
    }];
    let mut m = OfMatch::new();
    match_orig_dst(&mut m, vip, lb.proto);
    let lower = if vip.port == 0 { 10 } else { 0 };
    let mut add = |m: &OfMatch, priority: u16| {
        flows.add(OfFlow {
            table: CT_SNAT_HAIRPIN,
            priority: priority - lower,
            cookie: lb.cookie(),
            of_match: m.clone(),
            actions: actions.clone(),
        })
    };
    if !per_dp {
        add(&m, 100);
        return;
    }
    for dp in lb_datapaths(sb, lb.row) {
        if let Some(key) = sb.datapath(&dp).map(|d| d.tunnel_key) {
            if local.datapaths.contains_key(&key) {
                m.set_metadata(key as u64);
                add(&m, 200);
            }
        }
    }
}

/// The datapaths of a load balancer: `datapaths`, then its group's.
fn lb_datapaths(sb: &Southbound, lb: &LoadBalancer) -> Vec<ovsdb::Uuid> {
    let mut dps = lb.datapaths.clone();
    if let Some(g) = lb.datapath_group.and_then(|g| sb.dp_groups.get(&g)) {
        dps.extend(g.datapaths.iter().copied());
    }
    dps
}

/// `lb_is_local`: one of its datapaths is local.
pub fn lb_is_local(sb: &Southbound, local: &Local, lb: &LoadBalancer) -> bool {
    lb_datapaths(sb, lb)
        .iter()
        .filter_map(|dp| sb.datapath(dp))
        .any(|d| local.datapaths.contains_key(&d.tunnel_key))
}

/// `consider_lb_hairpin_flows` for one load balancer (which must be
/// local).  Returns a warning for load balancers that are not translated.
pub fn consider_lb_hairpin_flows(
    sb: &Southbound,
    local: &Local,
    row: &LoadBalancer,
    flows: &mut FlowTable,
) -> Option<String> {
    let flag = |k: &str| {
        row.options
            .get(k)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    };
    if flag("template") {
        return Some(format!(
            "Load_Balancer {}: template load balancers are not supported",
            row.uuid
        ));
    }
    if !flag("hairpin_orig_tuple") {
        return Some(format!(
            "Load_Balancer {}: no options:hairpin_orig_tuple=true (ovn-northd \
             before 21.06?): its hairpin flows are not generated",
            row.uuid
        ));
    }
    let use_ct_mark = sb
        .global_options
        .get("lb_hairpin_use_ct_mark")
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
    let lb = ControllerLb::new(row);
    for vip in &lb.vips {
        vip_hairpin_flows(&lb, vip, use_ct_mark, flows);
    }
    for vip in &lb.vips {
        vip_snat_flows(sb, local, &lb, vip, flows);
    }
    None
}
