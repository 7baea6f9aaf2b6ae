//! Encoding of logical actions into OpenFlow actions (`ovnacts_encode` and
//! the `encode_*` functions of `lib/actions.c`, OVN 23.03).
//!
//! [`encode`] is the single dispatch point; actions that talk to
//! ovn-controller through `controller(userdata=...)` are in [`controller`],
//! those that allocate groups or emit `learn` in [`groups`].

mod controller;
mod groups;

use super::ast::{Action, CtNatKind, Pipeline, ResultKind};
use super::ext_table::ExtendTable;
use super::mf::Subfield;
use super::ofpact::{Nat, OfAction};
use crate::expr::parser::FieldRef;
use crate::expr::symtab::Field;
use crate::expr::util::low_bits;

pub use controller::Opcode;

/// The logical-flags register (`MFF_LOG_FLAGS`).
pub const LOG_FLAGS: Field = Field::Reg(10);
/// DNAT zone register (`MFF_LOG_DNAT_ZONE`).
pub const LOG_DNAT_ZONE: Field = Field::Reg(11);
/// SNAT zone register (`MFF_LOG_SNAT_ZONE`).
pub const LOG_SNAT_ZONE: Field = Field::Reg(12);
/// Conntrack zone register (`MFF_LOG_CT_ZONE`).
pub const LOG_CT_ZONE: Field = Field::Reg(13);
/// Logical input port (`MFF_LOG_INPORT`).
pub const LOG_INPORT: Field = Field::Reg(14);
/// Logical output port (`MFF_LOG_OUTPORT`).
pub const LOG_OUTPORT: Field = Field::Reg(15);

/// `MLF_LOOKUP_MAC_BIT`.
const MLF_LOOKUP_MAC_BIT: u32 = 6;
/// `MLF_LOOKUP_LB_HAIRPIN_BIT`.
const MLF_LOOKUP_LB_HAIRPIN_BIT: u32 = 7;
/// `MLF_LOOKUP_FDB_BIT`.
const MLF_LOOKUP_FDB_BIT: u32 = 8;
/// `MLF_CHECK_PORT_SEC_BIT`.
const MLF_CHECK_PORT_SEC_BIT: u32 = 12;
/// `MLF_LOOKUP_COMMIT_ECMP_NH_BIT`.
const MLF_LOOKUP_COMMIT_ECMP_NH_BIT: u32 = 13;
/// `MLF_USE_LB_AFF_SESSION_BIT`.
const MLF_USE_LB_AFF_SESSION_BIT: u32 = 14;

/// OpenFlow tables of ovn-controller 23.03 that actions jump to
/// (`controller/lflow.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tables {
    /// First table of the logical ingress pipeline (`OFTABLE_LOG_INGRESS_PIPELINE`).
    pub ingress: u8,
    /// First table of the logical egress pipeline.
    pub egress: u8,
    /// `output` (`OFTABLE_SAVE_INPORT`).
    pub output: u8,
    /// MAC binding (`OFTABLE_MAC_BINDING`).
    pub mac_bind: u8,
    /// MAC lookup (`OFTABLE_MAC_LOOKUP`).
    pub mac_lookup: u8,
    /// `OFTABLE_CHK_LB_HAIRPIN`.
    pub lb_hairpin: u8,
    /// `OFTABLE_CHK_LB_HAIRPIN_REPLY`.
    pub lb_hairpin_reply: u8,
    /// `OFTABLE_CT_SNAT_HAIRPIN`.
    pub ct_snat_vip: u8,
    /// `OFTABLE_GET_FDB`.
    pub fdb: u8,
    /// `OFTABLE_LOOKUP_FDB`.
    pub fdb_lookup: u8,
    /// `OFTABLE_CHK_IN_PORT_SEC`.
    pub in_port_sec: u8,
    /// `OFTABLE_CHK_OUT_PORT_SEC`.
    pub out_port_sec: u8,
    /// `OFTABLE_ECMP_NH_MAC`.
    pub ecmp_nh_mac: u8,
    /// `OFTABLE_ECMP_NH`.
    pub ecmp_nh: u8,
    /// `OFTABLE_CHK_LB_AFFINITY`.
    pub lb_affinity: u8,
}

impl Default for Tables {
    /// The table numbers of OVN 23.03.
    fn default() -> Tables {
        Tables {
            ingress: 8,
            egress: 42,
            output: 64,
            mac_bind: 66,
            mac_lookup: 67,
            lb_hairpin: 68,
            lb_hairpin_reply: 69,
            ct_snat_vip: 70,
            fdb: 71,
            fdb_lookup: 72,
            in_port_sec: 73,
            out_port_sec: 75,
            ecmp_nh_mac: 76,
            ecmp_nh: 77,
            lb_affinity: 78,
        }
    }
}

/// Datapath features ovn-controller probes in OVS (`ovs_feature_is_supported`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// Meters on controller actions (`OVS_DP_METER_SUPPORT`).
    pub dp_meter: bool,
    /// All-zero SNAT on commit (`OVS_CT_ZERO_SNAT_SUPPORT`).
    pub ct_zero_snat: bool,
    /// Symmetric L4 dp_hash (`OVS_DP_HASH_L4_SYM_SUPPORT`).
    pub dp_hash_l4_sym: bool,
}

/// What encoding needs to know about the flow and the chassis
/// (`struct ovnact_encode_params`).
pub struct EncodeContext<'a> {
    /// Logical port name → tunnel key.
    pub lookup_port: &'a dyn Fn(&str) -> Option<u32>,
    /// Logical port name → OpenFlow port of its tunnel (for `fwd_group`
    /// liveness).
    pub tunnel_ofport: &'a dyn Fn(&str) -> Option<u32>,
    /// Whether the datapath is a logical switch.
    pub is_switch: bool,
    /// Pipeline of the flow.
    pub pipeline: Pipeline,
    /// OpenFlow table numbers.
    pub tables: Tables,
    /// Zone register of `ct_*_in_czone` (normally the DNAT zone).
    pub common_nat_ct_zone: Field,
    /// The logical flow's UUID as four 32-bit parts.
    pub lflow_uuid: [u32; 4],
    /// The datapath's tunnel key.
    pub dp_key: u32,
    /// Meter for controller actions ([`super::ofpact::NO_METER`] for none).
    pub ctrl_meter_id: u32,
    /// Configured IPFIX collector set ids.
    pub collector_ids: &'a [u32],
    /// Datapath features.
    pub features: Features,
    /// Group ids.
    pub groups: &'a mut ExtendTable,
    /// Meter ids.
    pub meters: &'a mut ExtendTable,
}

impl EncodeContext<'_> {
    fn first_ptable(&self, pipeline: Pipeline) -> u8 {
        match pipeline {
            Pipeline::Ingress => self.tables.ingress,
            Pipeline::Egress => self.tables.egress,
        }
    }

    fn ct_zone(&self) -> Field {
        if self.is_switch {
            LOG_CT_ZONE
        } else {
            LOG_DNAT_ZONE
        }
    }
}

/// Appends a `ct_commit` action as OVN 23.03.1 does.
///
/// `encode_CT_COMMIT_V1`/`_V2` pull the whole buffer to append the NAT and
/// nested actions, then take the buffer's *start* as the `ct` action and
/// stretch its length to the end (`ofpbuf_push_uninit` returns the start of
/// the data, not of the `ct`).  When `ct_commit` is the first action that
/// is the `ct` itself; otherwise the first action swallows everything after
/// it, the `ct` included, and OVS never sees them.  Seen on a real
/// ovn-controller with `log(...); ct_commit { ct_mark.blocked = 1; }; ...`
/// (ACL reject with logging): the installed flow has no `ct(commit,...)`.
fn push_commit(out: &mut Vec<OfAction>, ct: OfAction) {
    if out.is_empty() {
        out.push(ct);
    } else {
        out.truncate(1);
    }
}

/// Encodes `actions` into OpenFlow actions.
pub fn encode(actions: &[Action], ctx: &mut EncodeContext<'_>) -> Vec<OfAction> {
    let mut out = Vec::new();
    for a in actions {
        encode_action(a, ctx, &mut out);
    }
    out
}

fn resolve(f: &FieldRef) -> Subfield {
    Subfield::resolve(f).unwrap_or(Subfield {
        field: Field::Reg(0),
        ofs: 0,
        n_bits: 0,
    })
}

/// `put_load`: set `n_bits` bits at `ofs` of `field` to `value`.
fn load(value: u128, field: Field, ofs: u32, n_bits: u32) -> OfAction {
    OfAction::SetField {
        field,
        value: (value & low_bits(n_bits)) << ofs,
        mask: low_bits(n_bits) << ofs,
    }
}

fn zone(field: Field) -> Subfield {
    Subfield {
        field,
        ofs: 0,
        n_bits: 16,
    }
}

/// Saves the registers an action's arguments go into and copies the
/// arguments there (`encode_setup_args`).
fn setup_args(args: &[(Subfield, Field)], out: &mut Vec<OfAction>) {
    let moved: Vec<&(Subfield, Field)> = args.iter().filter(|(s, d)| s.field != *d).collect();
    for (_, d) in &moved {
        out.push(OfAction::Push(Subfield::whole(*d)));
    }
    for (s, _) in moved.iter().rev() {
        out.push(OfAction::Push(*s));
    }
    for (_, d) in &moved {
        out.push(OfAction::Pop(Subfield::whole(*d)));
    }
}

/// Restores the registers saved by [`setup_args`] (`encode_restore_args`).
fn restore_args(args: &[(Subfield, Field)], out: &mut Vec<OfAction>) {
    for (s, d) in args.iter().rev() {
        if s.field != *d {
            out.push(OfAction::Pop(Subfield::whole(*d)));
        }
    }
}

/// Sets a flag bit, runs a table that may set it, copies it to `dst`
/// (`encode_result_action__`).
fn result_action(dst: &FieldRef, table: u8, bit: u32, out: &mut Vec<OfAction>) {
    out.push(load(0, LOG_FLAGS, bit, 1));
    out.push(OfAction::Resubmit(table));
    out.push(OfAction::Move {
        src: Subfield {
            field: LOG_FLAGS,
            ofs: bit,
            n_bits: 1,
        },
        dst: resolve(dst),
    });
}

fn encode_action(action: &Action, ctx: &mut EncodeContext<'_>, out: &mut Vec<OfAction>) {
    let t = ctx.tables;
    match action {
        Action::Output => out.push(OfAction::Resubmit(t.output)),
        Action::Next {
            ltable, pipeline, ..
        } => out.push(OfAction::Resubmit(
            ctx.first_ptable(*pipeline).wrapping_add(*ltable),
        )),
        Action::Load { dst, value } => out.push(controller::encode_load(dst, value, ctx)),
        Action::OvnFieldLoad { dst, value } => controller::encode_ovn_field(dst, value, ctx, out),
        Action::Move { lhs, rhs } => out.push(OfAction::Move {
            src: resolve(rhs),
            dst: resolve(lhs),
        }),
        Action::Exchange { lhs, rhs } => {
            let (l, r) = (resolve(lhs), resolve(rhs));
            out.extend([
                OfAction::Push(r),
                OfAction::Push(l),
                OfAction::Pop(r),
                OfAction::Pop(l),
            ]);
        }
        Action::Push(f) => out.push(OfAction::Push(resolve(f))),
        Action::Pop(f) => out.push(OfAction::Pop(resolve(f))),
        Action::DecTtl => out.push(OfAction::DecTtl),
        Action::CtNext { ltable } => out.push(OfAction::Ct {
            commit: false,
            table: Some(ctx.first_ptable(ctx.pipeline).wrapping_add(*ltable)),
            zone: zone(ctx.ct_zone()),
            nat: None,
            exec: Vec::new(),
        }),
        Action::CtCommitV1 {
            ct_mark,
            ct_mark_mask,
            ct_label,
            ct_label_mask,
        } => {
            let mut exec = Vec::new();
            if *ct_mark_mask != 0 {
                exec.push(OfAction::SetField {
                    field: Field::CtMark,
                    value: u128::from(*ct_mark),
                    mask: u128::from(*ct_mark_mask),
                });
            }
            if *ct_label_mask != 0 {
                exec.push(OfAction::SetField {
                    field: Field::CtLabel,
                    value: *ct_label,
                    mask: *ct_label_mask,
                });
            }
            push_commit(
                out,
                OfAction::Ct {
                    commit: true,
                    table: None,
                    zone: zone(LOG_CT_ZONE),
                    nat: zero_snat(ctx),
                    exec,
                },
            );
        }
        Action::CtCommit(nested) => {
            let exec = encode(nested, ctx);
            push_commit(
                out,
                OfAction::Ct {
                    commit: true,
                    table: None,
                    zone: zone(ctx.ct_zone()),
                    nat: zero_snat(ctx),
                    exec,
                },
            );
        }
        Action::CtNat(cn) => {
            let zone_field = match cn.kind {
                CtNatKind::Dnat => LOG_DNAT_ZONE,
                CtNatKind::Snat => LOG_SNAT_ZONE,
                CtNatKind::DnatInCzone | CtNatKind::SnatInCzone => ctx.common_nat_ct_zone,
                CtNatKind::CommitNat => ctx.ct_zone(),
            };
            out.push(OfAction::Ct {
                commit: cn.addr.is_some() || cn.kind == CtNatKind::CommitNat,
                table: Some(cn.ltable.wrapping_add(ctx.first_ptable(ctx.pipeline))),
                zone: zone(zone_field),
                nat: Some(Nat {
                    src: cn.addr.map(|_| cn.kind.is_snat()),
                    addr: cn.addr,
                    ports: cn.ports,
                }),
                exec: Vec::new(),
            });
        }
        Action::CtLb(lb) => groups::encode_ct_lb(lb, ctx, out),
        Action::Select { dst, dsts, ltable } => groups::encode_select(dst, dsts, *ltable, ctx, out),
        Action::CtClear => out.push(OfAction::CtClear),
        Action::Nested { kind, actions } => controller::encode_nested(*kind, actions, ctx, out),
        Action::Igmp => out.push(controller::op(
            Opcode::Igmp,
            false,
            ctx.ctrl_meter_id,
            &[],
            ctx,
        )),
        Action::GetMacBind { nd, port, ip } => {
            let args = [(resolve(port), LOG_OUTPORT), (resolve(ip), ip_field(*nd))];
            setup_args(&args, out);
            out.push(load(0, Field::EthDst, 0, 48));
            out.push(OfAction::Resubmit(t.mac_bind));
            restore_args(&args, out);
        }
        Action::PutMacBind { nd, port, ip, mac } => {
            let args = [
                (resolve(port), LOG_INPORT),
                (resolve(ip), ip_field(*nd)),
                (resolve(mac), Field::EthSrc),
            ];
            setup_args(&args, out);
            let opcode = if *nd { Opcode::PutNd } else { Opcode::PutArp };
            out.push(controller::op(opcode, false, ctx.ctrl_meter_id, &[], ctx));
            restore_args(&args, out);
        }
        Action::LookupMacBind {
            nd,
            dst,
            port,
            ip,
            mac,
        } => {
            let args = [
                (resolve(port), LOG_INPORT),
                (resolve(ip), ip_field(*nd)),
                (resolve(mac), Field::EthSrc),
            ];
            setup_args(&args, out);
            result_action(dst, t.mac_lookup, MLF_LOOKUP_MAC_BIT, out);
            restore_args(&args, out);
        }
        Action::LookupMacBindIp { nd, dst, port, ip } => {
            let args = [(resolve(port), LOG_OUTPORT), (resolve(ip), ip_field(*nd))];
            setup_args(&args, out);
            out.push(OfAction::Push(Subfield::whole(Field::EthDst)));
            result_action(dst, t.mac_bind, MLF_LOOKUP_MAC_BIT, out);
            out.push(OfAction::Pop(Subfield::whole(Field::EthDst)));
            restore_args(&args, out);
        }
        Action::PutOpts { kind, dst, options } => {
            controller::encode_put_opts(*kind, dst, options, ctx, out)
        }
        Action::SetQueue(q) => out.push(OfAction::SetQueue(u32::from(*q))),
        Action::Result { kind, dst } => {
            let (table, bit) = match kind {
                ResultKind::DnsLookup => {
                    out.push(controller::encode_dns_lookup(dst, ctx));
                    return;
                }
                ResultKind::ChkLbHairpin => (t.lb_hairpin, MLF_LOOKUP_LB_HAIRPIN_BIT),
                ResultKind::ChkLbHairpinReply => (t.lb_hairpin_reply, MLF_LOOKUP_LB_HAIRPIN_BIT),
                ResultKind::CheckInPortSec => (t.in_port_sec, MLF_CHECK_PORT_SEC_BIT),
                ResultKind::CheckOutPortSec => (t.out_port_sec, MLF_CHECK_PORT_SEC_BIT),
                ResultKind::ChkEcmpNhMac => (t.ecmp_nh_mac, MLF_LOOKUP_COMMIT_ECMP_NH_BIT),
                ResultKind::ChkEcmpNh => (t.ecmp_nh, MLF_LOOKUP_COMMIT_ECMP_NH_BIT),
                ResultKind::ChkLbAff => (t.lb_affinity, MLF_USE_LB_AFF_SESSION_BIT),
            };
            result_action(dst, table, bit, out);
        }
        Action::Log(log) => controller::encode_log(log, ctx, out),
        Action::SetMeter { rate, burst } => groups::encode_set_meter(*rate, *burst, ctx, out),
        Action::CheckPktLarger { pkt_len, dst } => out.push(OfAction::CheckPktLarger {
            pkt_len: *pkt_len,
            dst: resolve(dst),
        }),
        Action::TriggerEvent { event, options } => {
            controller::encode_trigger_event(*event, options, ctx, out)
        }
        Action::BindVport { vport, parent } => {
            let Some(key) = (ctx.lookup_port)(vport) else {
                return;
            };
            let args = [(resolve(parent), LOG_INPORT)];
            setup_args(&args, out);
            out.push(controller::op(
                Opcode::BindVport,
                false,
                ctx.ctrl_meter_id,
                &key.to_be_bytes(),
                ctx,
            ));
            restore_args(&args, out);
        }
        Action::HandleSvcCheck { port } => {
            let args = [(resolve(port), LOG_INPORT)];
            setup_args(&args, out);
            out.push(controller::op(
                Opcode::HandleSvcCheck,
                false,
                ctx.ctrl_meter_id,
                &[],
                ctx,
            ));
            restore_args(&args, out);
        }
        Action::FwdGroup {
            liveness,
            child_ports,
            ..
        } => groups::encode_fwd_group(*liveness, child_ports, ctx, out),
        Action::Dhcp6Reply => out.push(controller::op(
            Opcode::Dhcp6Server,
            false,
            ctx.ctrl_meter_id,
            &[],
            ctx,
        )),
        Action::CtSnatToVip => out.push(OfAction::Resubmit(t.ct_snat_vip)),
        Action::BfdMsg => out.push(controller::op(
            Opcode::BfdMsg,
            false,
            ctx.ctrl_meter_id,
            &[],
            ctx,
        )),
        Action::PutFdb { port, mac } => {
            let args = [(resolve(port), LOG_INPORT), (resolve(mac), Field::EthSrc)];
            setup_args(&args, out);
            out.push(controller::op(
                Opcode::PutFdb,
                false,
                ctx.ctrl_meter_id,
                &[],
                ctx,
            ));
            restore_args(&args, out);
        }
        Action::GetFdb { dst, mac } => {
            let dst = resolve(dst);
            let args = [(resolve(mac), Field::EthDst)];
            setup_args(&args, out);
            out.push(load(0, LOG_OUTPORT, 0, 32));
            out.push(OfAction::Resubmit(t.fdb));
            restore_args(&args, out);
            if dst.field != LOG_OUTPORT {
                out.push(OfAction::Move {
                    src: Subfield::whole(LOG_OUTPORT),
                    dst,
                });
            }
        }
        Action::LookupFdb { dst, port, mac } => {
            let args = [(resolve(port), LOG_INPORT), (resolve(mac), Field::EthSrc)];
            setup_args(&args, out);
            out.push(load(0, LOG_FLAGS, MLF_LOOKUP_FDB_BIT, 1));
            out.push(OfAction::Resubmit(t.fdb_lookup));
            restore_args(&args, out);
            out.push(OfAction::Move {
                src: Subfield {
                    field: LOG_FLAGS,
                    ofs: MLF_LOOKUP_FDB_BIT,
                    n_bits: 1,
                },
                dst: resolve(dst),
            });
        }
        Action::CommitEcmpNh { ipv6, proto } => {
            out.push(groups::ecmp_learn(true, *ipv6, *proto, &t));
            out.push(groups::ecmp_learn(false, *ipv6, *proto, &t));
        }
        Action::CommitLbAff(aff) => out.push(groups::lb_aff_learn(aff, ctx)),
        Action::Sample(s) => {
            if !ctx.collector_ids.contains(&s.collector_set_id) {
                return;
            }
            out.push(OfAction::Sample {
                probability: s.probability,
                collector_set_id: s.collector_set_id,
                obs_domain_id: (u32::from(s.obs_domain_id) << 24) | (ctx.dp_key & 0xff_ffff),
                obs_point_id: if s.use_cookie {
                    ctx.lflow_uuid[0]
                } else {
                    s.obs_point_id
                },
            });
        }
    }
}

fn ip_field(nd: bool) -> Field {
    if nd {
        Field::Xxreg(0)
    } else {
        Field::Reg(0)
    }
}

fn zero_snat(ctx: &EncodeContext<'_>) -> Option<Nat> {
    ctx.features.ct_zero_snat.then_some(Nat {
        src: Some(true),
        addr: None,
        ports: None,
    })
}
