//! Actions that allocate OpenFlow groups or meters (`ct_lb`, `select`,
//! `fwd_group`, `set_meter`) and those that emit `learn` actions
//! (`commit_ecmp_nh`, `commit_lb_aff`).  Group and meter specifications are
//! the same text ovn-controller installs, so the ids they get match.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{resolve, EncodeContext, Tables, LOG_FLAGS, LOG_OUTPORT};
use crate::actions::ast::{CtLb, CtLbFlag, LbAff};
use crate::actions::format::ip_text;
use crate::actions::mf::{mf_name, Subfield};
use crate::actions::ofpact::{Learn, LearnSpec, Nat, OfAction};
use crate::expr::parser::FieldRef;
use crate::expr::symtab::Field;

/// `ct_lb` / `ct_lb_mark` (`encode_ct_lb`).
pub(super) fn encode_ct_lb(lb: &CtLb, ctx: &mut EncodeContext<'_>, out: &mut Vec<OfAction>) {
    let recirc = lb.ltable.wrapping_add(ctx.first_ptable(ctx.pipeline));
    let zone_field = ctx.ct_zone();
    if lb.dsts.is_empty() {
        out.push(OfAction::Ct {
            commit: false,
            table: Some(recirc),
            zone: super::zone(zone_field),
            nat: Some(Nat {
                src: None,
                addr: None,
                ports: None,
            }),
            exec: Vec::new(),
        });
        return;
    }
    let zone_reg = match zone_field {
        Field::Reg(n) => n,
        _ => 13,
    };
    let flag_reg = if lb.mark { "ct_mark" } else { "ct_label" };
    let flag_value = match lb.flag {
        CtLbFlag::SkipSnat => Some("4/4"),
        CtLbFlag::ForceSnat => Some("8/8"),
        CtLbFlag::None => None,
    };
    let mut s = format!(
        "type=select,selection_method={}",
        if lb.hash_fields.is_some() {
            "hash"
        } else {
            "dp_hash"
        }
    );
    if let Some(h) = &lb.hash_fields {
        let _ = write!(s, ",fields({h})");
    }
    for (bucket, d) in lb.dsts.iter().enumerate() {
        let bracket = d.addr.is_ipv6() && d.port != 0;
        let _ = write!(
            s,
            ",bucket=bucket_id={bucket},weight:100,actions=ct(nat(dst={}{}{}",
            if bracket { "[" } else { "" },
            ip_text(&d.addr),
            if bracket { "]" } else { "" }
        );
        if d.port != 0 {
            let _ = write!(s, ":{}", d.port);
        }
        let _ = write!(
            s,
            "),commit,table={recirc},zone=NXM_NX_REG{zone_reg}[0..15],exec(set_field:2/2->{flag_reg}"
        );
        if let Some(v) = flag_value {
            let _ = write!(s, ",set_field:{v}->{flag_reg}");
        }
        s.push_str("))");
    }
    if let Some(id) = ctx.groups.assign_id(&s) {
        out.push(OfAction::Group(id));
    }
}

/// `dst = select(...)` (`encode_SELECT`).
pub(super) fn encode_select(
    dst: &FieldRef,
    dsts: &[(u16, u16)],
    ltable: u8,
    ctx: &mut EncodeContext<'_>,
    out: &mut Vec<OfAction>,
) {
    let table = ltable.wrapping_add(ctx.first_ptable(ctx.pipeline));
    let mut s = String::from("type=select,selection_method=dp_hash");
    if ctx.features.dp_hash_l4_sym {
        s.push_str(",selection_method_param=0x100000000");
    }
    let sf = resolve(dst);
    for (bucket, (id, weight)) in dsts.iter().enumerate() {
        let _ = write!(
            s,
            ",bucket=bucket_id={bucket},weight:{weight},actions=load:{id}->{}[{}..{}],resubmit(,{table})",
            mf_name(sf.field),
            sf.ofs,
            sf.ofs + sf.n_bits - 1
        );
    }
    if let Some(id) = ctx.groups.assign_id(&s) {
        out.push(OfAction::Group(id));
    }
}

/// `fwd_group(...)` (`encode_FWD_GROUP`); nothing if a port is unknown.
pub(super) fn encode_fwd_group(
    liveness: bool,
    child_ports: &[String],
    ctx: &mut EncodeContext<'_>,
    out: &mut Vec<OfAction>,
) {
    if child_ports.is_empty() {
        return;
    }
    let mut s = String::from("type=select,selection_method=dp_hash");
    for port in child_ports {
        let Some(key) = (ctx.lookup_port)(port) else {
            return;
        };
        s.push_str(",bucket=");
        if liveness {
            let Some(ofport) = (ctx.tunnel_ofport)(port) else {
                return;
            };
            let _ = write!(s, "watch_port:{ofport},");
        }
        // OVN prints the tunnel key in decimal after "0x".
        let reg = match LOG_OUTPORT {
            Field::Reg(n) => n,
            _ => 15,
        };
        let _ = write!(
            s,
            "load=0x{key}->NXM_NX_REG{reg}[0..15],resubmit(,{})",
            ctx.tables.output
        );
    }
    if let Some(id) = ctx.groups.assign_id(&s) {
        out.push(OfAction::Group(id));
    }
}

/// `set_meter(rate[, burst])` (`encode_SET_METER`).
pub(super) fn encode_set_meter(
    rate: u64,
    burst: u64,
    ctx: &mut EncodeContext<'_>,
    out: &mut Vec<OfAction>,
) {
    let u = ctx.lflow_uuid;
    let uuid = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:04x}{:08x}",
        u[0],
        u[1] >> 16,
        u[1] & 0xffff,
        u[2] >> 16,
        u[2] & 0xffff,
        u[3]
    );
    let name = if burst != 0 {
        format!(
            "__string: uuid {uuid} kbps burst stats bands=type=drop rate={rate} burst_size={burst}"
        )
    } else {
        format!("__string: uuid {uuid} kbps stats bands=type=drop rate={rate}")
    };
    if let Some(id) = ctx.meters.assign_id(&name) {
        out.push(OfAction::Meter(id));
    }
}

fn whole(field: Field) -> Subfield {
    Subfield::whole(field)
}

/// A learn source field: OVN sets only the field, so OVS sees zero bits.
fn src(field: Field) -> Subfield {
    Subfield {
        field,
        ofs: 0,
        n_bits: 0,
    }
}

fn l4_fields(proto: u8) -> (Field, Field) {
    match proto {
        17 => (Field::UdpSrc, Field::UdpDst),
        132 => (Field::SctpSrc, Field::SctpDst),
        _ => (Field::TcpSrc, Field::TcpDst),
    }
}

fn flag_bit(bit: u32) -> Subfield {
    Subfield {
        field: LOG_FLAGS,
        ofs: bit,
        n_bits: 1,
    }
}

/// One of the two `learn` actions of `commit_ecmp_nh`
/// (`commit_ecmp_learn_action`): `nw_conn` learns the forward direction
/// into the ECMP next-hop MAC table, otherwise the reverse direction into
/// the ECMP next-hop table.
pub(super) fn ecmp_learn(nw_conn: bool, ipv6: bool, proto: u8, t: &Tables) -> OfAction {
    let (ip_src, ip_dst) = if ipv6 {
        (Field::Ipv6Src, Field::Ipv6Dst)
    } else {
        (Field::Ipv4Src, Field::Ipv4Dst)
    };
    let (l4_src, l4_dst) = l4_fields(proto);
    let pick = |same: Field, other: Field| if nw_conn { same } else { other };
    let mut specs = vec![LearnSpec::MatchField {
        dst: whole(Field::Metadata),
        src: src(Field::Metadata),
    }];
    if nw_conn {
        specs.push(LearnSpec::MatchField {
            dst: whole(Field::EthSrc),
            src: src(Field::EthSrc),
        });
    }
    specs.extend([
        LearnSpec::MatchImmediate {
            dst: whole(Field::EthType),
            value: if ipv6 { 0x86dd } else { 0x0800 },
        },
        LearnSpec::MatchField {
            dst: whole(ip_src),
            src: src(pick(ip_src, ip_dst)),
        },
        LearnSpec::MatchField {
            dst: whole(ip_dst),
            src: src(pick(ip_dst, ip_src)),
        },
        LearnSpec::MatchImmediate {
            dst: whole(Field::IpProto),
            value: u128::from(proto),
        },
        LearnSpec::MatchField {
            dst: whole(l4_src),
            src: src(pick(l4_src, l4_dst)),
        },
        LearnSpec::MatchField {
            dst: whole(l4_dst),
            src: src(pick(l4_dst, l4_src)),
        },
        LearnSpec::LoadImmediate {
            dst: flag_bit(super::MLF_LOOKUP_COMMIT_ECMP_NH_BIT),
            value: 1,
        },
    ]);
    OfAction::Learn(Learn {
        table_id: if nw_conn { t.ecmp_nh_mac } else { t.ecmp_nh },
        idle_timeout: 20,
        hard_timeout: 30,
        delete_learned: true,
        cookie: 0,
        specs,
    })
}

fn ip_value(addr: &IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

/// The `learn` action of `commit_lb_aff` (`encode_COMMIT_LB_AFF`).
pub(super) fn lb_aff_learn(aff: &LbAff, ctx: &EncodeContext<'_>) -> OfAction {
    let ipv6 = aff.vip.is_ipv6();
    let (ip_src, ip_dst) = if ipv6 {
        (Field::Ipv6Src, Field::Ipv6Dst)
    } else {
        (Field::Ipv4Src, Field::Ipv4Dst)
    };
    let mut specs = vec![
        LearnSpec::MatchField {
            dst: whole(Field::Metadata),
            src: src(Field::Metadata),
        },
        LearnSpec::MatchImmediate {
            dst: whole(Field::EthType),
            value: if ipv6 { 0x86dd } else { 0x0800 },
        },
        LearnSpec::MatchField {
            dst: whole(ip_src),
            src: src(ip_src),
        },
        LearnSpec::MatchImmediate {
            dst: whole(ip_dst),
            value: ip_value(&aff.vip),
        },
    ];
    if aff.proto != 0 {
        specs.push(LearnSpec::MatchImmediate {
            dst: whole(Field::IpProto),
            value: u128::from(aff.proto),
        });
        specs.push(LearnSpec::MatchImmediate {
            dst: whole(l4_fields(aff.proto).1),
            value: u128::from(aff.vip_port),
        });
    }
    specs.push(LearnSpec::LoadImmediate {
        dst: flag_bit(super::MLF_USE_LB_AFF_SESSION_BIT),
        value: 1,
    });
    let backend_field = match (ipv6, ctx.is_switch) {
        (false, _) => Field::Reg(4),
        (true, true) => Field::Xxreg(0),
        (true, false) => Field::Xxreg(1),
    };
    specs.push(LearnSpec::LoadImmediate {
        dst: whole(backend_field),
        value: ip_value(&aff.backend),
    });
    if aff.backend_port != 0 {
        specs.push(LearnSpec::LoadImmediate {
            dst: Subfield {
                field: Field::Reg(8),
                ofs: 0,
                n_bits: 16,
            },
            value: u128::from(aff.backend_port),
        });
    }
    OfAction::Learn(Learn {
        table_id: ctx.tables.lb_affinity,
        idle_timeout: aff.timeout,
        hard_timeout: 0,
        delete_learned: true,
        cookie: 0,
        specs,
    })
}
