//! Pre-ACL, ACL hint and ACL stages (`build_pre_acls()`,
//! `build_stateless_filters()`, `build_acl_hints()`, `build_acls()`,
//! `consider_acl()` in northd.c). A switch with load balancer VIPs
//! (`od->has_lb_vip`) is stateful like one with `allow-related` ACLs.
//!
//! ACLs come from the switch's `acls` and from every port group with a port
//! on the switch. Chassis features are northd's defaults with no chassis
//! (`ct_no_masked_label`, `ct_lb_related`); NB_Global options at their
//! defaults (`use_ct_inv_match=true`, `default_acl_drop=false`). ACL meters
//! are used by name; an ACL logging through a fair meter arrives here with
//! its private meter name (`dataflow::render::meter`).

use ovsdb::Uuid;

use super::{Lflow, PortCtx, SwitchCtx};
use crate::nb::Acl;
use crate::stage::Stage;

/// `IPV6_CT_OMIT_MATCH`: IPv6 service protocols never sent to conntrack.
const IPV6_CT_OMIT_MATCH: &str = "nd || nd_ra || nd_rs || mldv1 || mldv2";

/// `OVN_ACL_PRI_OFFSET`.
const ACL_PRI_OFFSET: i64 = 1000;

/// An ACL applied to one switch (directly or through a port group).
/// Key: `(ls, acl.uuid)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclCtx {
    /// The switch.
    pub ls: Uuid,
    /// The switch has a stateful (`allow-related`) ACL or a load balancer
    /// VIP (`has_stateful` in `build_acls()`).
    pub has_stateful: bool,
    /// The switch's CoPP meter for `reject` (`controller_meter` of reject
    /// ACL flows).
    pub reject_meter: Option<String>,
    /// The ACL.
    pub acl: Acl,
}

/// `ls_in_pre_acl` / `ls_out_pre_acl` (`build_pre_acls()`): priority 0
/// `next;`, priority 110 skipping service-monitor traffic, and with stateful
/// ACLs priority 110 bypasses for ND/MLD/DHCPv6 and multicast and priority
/// 100 `reg0[0] = 1` (defragment) for IP.
pub fn pre_acls(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    out.push(Lflow::new(dp, Stage::LsInPreAcl, 0, "1", "next;", 5869));
    out.push(Lflow::new(dp, Stage::LsOutPreAcl, 0, "1", "next;", 5870));
    out.push(Lflow::new(
        dp,
        Stage::LsInPreAcl,
        110,
        "eth.dst == $svc_monitor_mac",
        "next;",
        5872,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutPreAcl,
        110,
        "eth.src == $svc_monitor_mac",
        "next;",
        5875,
    ));
    if sw.has_stateful_acl {
        let nd =
            "nd || nd_rs || nd_ra || mldv1 || mldv2 || (udp && udp.src == 546 && udp.dst == 547)";
        out.push(Lflow::new(dp, Stage::LsInPreAcl, 110, nd, "next;", 5901));
        out.push(Lflow::new(dp, Stage::LsOutPreAcl, 110, nd, "next;", 5904));
        out.push(Lflow::new(
            dp,
            Stage::LsInPreAcl,
            110,
            "eth.mcast",
            "next;",
            5909,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsOutPreAcl,
            110,
            "eth.mcast",
            "next;",
            5911,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsInPreAcl,
            100,
            "ip",
            "reg0[0] = 1; next;",
            5922,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsOutPreAcl,
            100,
            "ip",
            "reg0[0] = 1; next;",
            5924,
        ));
    }
}

/// `ls_in_acl_hint` / `ls_out_acl_hint` (`build_acl_hints()`): without
/// ACLs one priority-65535 `next;`; with ACLs priority 0 `next;`, and with
/// stateful ACLs the priority 1-7 flows setting the hint registers from the
/// conntrack state.
pub fn acl_hints(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    for stage in [Stage::LsInAclHint, Stage::LsOutAclHint] {
        if !sw.has_acls && !sw.has_lb_vip {
            out.push(Lflow::new(sw.uuid, stage, u16::MAX, "1", "next;", 6177));
            continue;
        }
        out.push(Lflow::new(sw.uuid, stage, 0, "1", "next;", 6179));
        if !sw.has_stateful() {
            continue;
        }
        let hints: [(u16, &str, &str, u32); 7] = [
            (
                7,
                "ct.new && !ct.est",
                "reg0[7] = 1; reg0[9] = 1; next;",
                6190,
            ),
            (
                6,
                "!ct.new && ct.est && !ct.rpl && ct_mark.blocked == 1",
                "reg0[7] = 1; reg0[9] = 1; next;",
                6206,
            ),
            (5, "!ct.trk", "reg0[8] = 1; reg0[9] = 1; next;", 6212),
            (
                4,
                "!ct.new && ct.est && !ct.rpl && ct_mark.blocked == 0",
                "reg0[8] = 1; reg0[10] = 1; next;",
                6228,
            ),
            (3, "!ct.est", "reg0[9] = 1; next;", 6236),
            (
                2,
                "ct.est && ct_mark.blocked == 1",
                "reg0[9] = 1; next;",
                6242,
            ),
            (
                1,
                "ct.est && ct_mark.blocked == 0",
                "reg0[10] = 1; next;",
                6253,
            ),
        ];
        for (prio, m, a, line) in hints {
            out.push(Lflow::new(sw.uuid, stage, prio, m, a, line));
        }
    }
}

/// Switch-level flows of `ls_in_acl`, `ls_out_acl`, `ls_in_acl_after_lb`
/// (`build_acls()`): the default verdicts (priority 65535 `next;` without
/// ACLs, else priority 0), with stateful ACLs the priority-1 commit flows
/// and the priority-65532 conntrack-state flows, the priority-65532 IPv6
/// service-protocol bypass, and with ACLs the priority-34000 service
/// monitor bypass. (DHCP/DNS reply bypasses need DHCP options/DNS, not
/// handled yet.)
pub fn acls(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    if !sw.has_acls {
        if sw.has_lb_vip {
            out.push(Lflow::new(dp, Stage::LsInAcl, 0, "1", "next;", 6760));
            out.push(Lflow::new(dp, Stage::LsOutAcl, 0, "1", "next;", 6761));
        } else {
            out.push(Lflow::new(dp, Stage::LsInAcl, u16::MAX, "1", "next;", 6755));
            out.push(Lflow::new(
                dp,
                Stage::LsOutAcl,
                u16::MAX,
                "1",
                "next;",
                6757,
            ));
        }
        out.push(Lflow::new(dp, Stage::LsInAclAfterLb, 0, "1", "next;", 6763));
    } else {
        out.push(Lflow::new(dp, Stage::LsInAcl, 0, "1", "next;", 6765));
        out.push(Lflow::new(dp, Stage::LsOutAcl, 0, "1", "next;", 6767));
        out.push(Lflow::new(dp, Stage::LsInAclAfterLb, 0, "1", "next;", 6769));
    }
    if sw.has_stateful() {
        let commit = "reg0[1] = 1; next;";
        let est_blocked = "ip && ct.est && ct_mark.blocked == 1";
        out.push(Lflow::new(dp, Stage::LsInAcl, 1, est_blocked, commit, 6799));
        out.push(Lflow::new(
            dp,
            Stage::LsOutAcl,
            1,
            est_blocked,
            commit,
            6802,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsInAcl,
            1,
            "ip && !ct.est",
            commit,
            6809,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsOutAcl,
            1,
            "ip && !ct.est",
            commit,
            6811,
        ));
        let inv = "ct.inv || (ct.est && ct.rpl && ct_mark.blocked == 1)";
        out.push(Lflow::new(
            dp,
            Stage::LsInAcl,
            u16::MAX - 3,
            inv,
            "drop;",
            6825,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsOutAcl,
            u16::MAX - 3,
            inv,
            "drop;",
            6827,
        ));
        let reply = "ct.est && !ct.rel && !ct.new && !ct.inv && ct.rpl && ct_mark.blocked == 0";
        let in_reply = "reg0[9] = 0; reg0[10] = 0; reg0[17] = 1; next;";
        out.push(Lflow::new(
            dp,
            Stage::LsInAcl,
            u16::MAX - 3,
            reply,
            in_reply,
            6844,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsOutAcl,
            u16::MAX - 3,
            reply,
            "next;",
            6848,
        ));
        let rel = "!ct.est && ct.rel && !ct.new && !ct.inv && ct_mark.blocked == 0";
        out.push(Lflow::new(
            dp,
            Stage::LsInAcl,
            u16::MAX - 3,
            rel,
            "reg0[17] = 1; ct_commit_nat;",
            6874,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsOutAcl,
            u16::MAX - 3,
            rel,
            "ct_commit_nat;",
            6876,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsInAclAfterLb,
            u16::MAX - 3,
            "reg0[17] == 1",
            "next;",
            6881,
        ));
    }
    out.push(Lflow::new(
        dp,
        Stage::LsInAcl,
        u16::MAX - 3,
        IPV6_CT_OMIT_MATCH,
        "next;",
        6892,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutAcl,
        u16::MAX - 3,
        IPV6_CT_OMIT_MATCH,
        "next;",
        6894,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsInAclAfterLb,
        u16::MAX - 3,
        IPV6_CT_OMIT_MATCH,
        "next;",
        6896,
    ));
    if sw.has_dns_records {
        let action = if sw.has_stateful() {
            "ct_commit; next;"
        } else {
            "next;"
        };
        out.push(Lflow::new(
            dp,
            Stage::LsOutAcl,
            34000,
            "udp.src == 53",
            action,
            6980,
        ));
    }
    if sw.has_acls || sw.has_lb_vip {
        out.push(Lflow::new(
            dp,
            Stage::LsInAcl,
            34000,
            "eth.dst == $svc_monitor_mac",
            "next;",
            6988,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsOutAcl,
            34000,
            "eth.src == $svc_monitor_mac",
            "next;",
            6993,
        ));
    }
}

/// `build_acl_log()`: the `log(...)` action prefix of a logged ACL.
fn acl_log(acl: &Acl) -> String {
    if !acl.log {
        return String::new();
    }
    let mut parts = Vec::new();
    if let Some(n) = &acl.name {
        parts.push(format!("name=\"{n}\""));
    }
    parts.push(format!(
        "severity={}",
        acl.severity.as_deref().unwrap_or("info")
    ));
    let verdict = match acl.action.as_str() {
        "drop" => Some("drop"),
        "reject" => Some("reject"),
        "allow" | "allow-related" | "allow-stateless" => Some("allow"),
        _ => None,
    };
    if let Some(v) = verdict {
        parts.push(format!("verdict={v}"));
    }
    if let Some(m) = &acl.meter {
        parts.push(format!("meter=\"{m}\""));
    }
    format!("log({}); ", parts.join(", "))
}

/// The flows of one ACL on one switch: its stateless pre-ACL filter
/// (`build_stateless_filter()`, for `allow-stateless` on switches with
/// stateful ACLs) and its verdict flows (`consider_acl()`), at priority
/// `priority + 1000`, hinted with the ACL row.
pub fn acl_flows(c: &AclCtx, out: &mut Vec<Lflow>) {
    let acl = &c.acl;
    let (dp, hint) = (c.ls, acl.uuid);
    let prio = (acl.priority + ACL_PRI_OFFSET).clamp(0, i64::from(u16::MAX)) as u16;
    let ingress = acl.direction == "from-lport";
    let flow = |stage: Stage, m: &str, a: &str, line: u32| {
        Lflow::new(dp, stage, prio, m, a, line).hint(hint)
    };
    if c.has_stateful && acl.action == "allow-stateless" {
        let (stage, line) = if ingress {
            (Stage::LsInPreAcl, 5824)
        } else {
            (Stage::LsOutPreAcl, 5830)
        };
        out.push(flow(stage, &acl.match_, "reg0[16] = 1; next;", line));
    }
    let stage = match (ingress, acl.apply_after_lb) {
        (true, true) => Stage::LsInAclAfterLb,
        (true, false) => Stage::LsInAcl,
        (false, _) => Stage::LsOutAcl,
    };
    let log = acl_log(acl);
    let label = |commit: bool| {
        if acl.label == 0 {
            return String::new();
        }
        let c = if commit { "reg0[1] = 1; " } else { "" };
        format!("{c}reg0[13] = 1; reg3 = {}; ", acl.label)
    };
    match acl.action.as_str() {
        "allow-stateless" => out.push(flow(stage, &acl.match_, &format!("{log}next;"), 6401)),
        "allow" | "allow-related" if !c.has_stateful => {
            out.push(flow(stage, &acl.match_, &format!("{log}next;"), 6416))
        }
        "allow" | "allow-related" => {
            let m = format!("reg0[7] == 1 && ({})", acl.match_);
            out.push(flow(
                stage,
                &m,
                &format!("reg0[1] = 1; {}{log}next;", label(false)),
                6445,
            ));
            let m = format!("reg0[8] == 1 && ({})", acl.match_);
            out.push(flow(stage, &m, &format!("{}{log}next;", label(true)), 6470));
            if acl.log && acl.label != 0 && acl.log_related {
                let related_stage = if ingress {
                    Stage::LsOutAcl
                } else {
                    Stage::LsInAcl
                };
                let states = [
                    ("ct.est && !ct.rel && !ct.new && !ct.inv && ct.rpl", 6506),
                    ("!ct.est && ct.rel && !ct.new && !ct.inv", 6517),
                ];
                for (state, line) in states {
                    let m = format!(
                        "{state} && ct_mark.blocked == 0 && ct_label.label == {}",
                        acl.label
                    );
                    let a = format!("{log}next;");
                    out.push(Lflow::new(dp, related_stage, u16::MAX - 2, &m, &a, line).hint(hint));
                }
            }
        }
        "drop" | "reject" => {
            let reject = acl.action == "reject";
            if c.has_stateful {
                let cases = [
                    ("reg0[9] == 1", "", 6543),
                    (
                        "reg0[10] == 1",
                        "ct_commit { ct_mark.blocked = 1; }; ",
                        6571,
                    ),
                ];
                for (hint_reg, extra, line) in cases {
                    if reject {
                        out.push(reject_flow(c, stage, prio, hint_reg, extra));
                    } else {
                        let m = format!("{hint_reg} && ({})", acl.match_);
                        out.push(flow(stage, &m, &format!("{extra}{log}/* drop */"), line));
                    }
                }
            } else if reject {
                out.push(reject_flow(c, stage, prio, "", ""));
            } else {
                out.push(flow(stage, &acl.match_, &format!("{log}/* drop */"), 6588));
            }
        }
        _ => {}
    }
}

/// `build_reject_acl_rules()`: `reject { ... }` sending the reply through
/// the other pipeline.
fn reject_flow(
    c: &AclCtx,
    stage: Stage,
    prio: u16,
    extra_match: &str,
    extra_actions: &str,
) -> Lflow {
    let acl = &c.acl;
    let next = if stage.pipeline() == crate::stage::Pipeline::Ingress {
        format!(
            "next(pipeline=egress,table={});",
            Stage::LsOutQosMark.table()
        )
    } else {
        format!(
            "next(pipeline=ingress,table={});",
            Stage::LsInL2Lkup.table()
        )
    };
    let m = if extra_match.is_empty() {
        acl.match_.clone()
    } else {
        format!("({extra_match}) && {}", acl.match_)
    };
    let extra = if extra_actions.is_empty() {
        String::new()
    } else {
        format!("{extra_actions} ")
    };
    let a = format!(
        "{}{extra}reg0 = 0; reject {{ /* eth.dst <-> eth.src; ip.dst <-> ip.src; is implicit. */ \
         outport <-> inport; {next} }};",
        acl_log(acl)
    );
    Lflow::new(c.ls, stage, prio, &m, &a, 6365)
        .hint(acl.uuid)
        .meter(c.reject_meter.clone())
}

/// `skip_port_from_conntrack()` in `build_pre_acls()`: with stateful ACLs,
/// a localnet port's IP traffic skips conntrack in the pre-ACL stages
/// (priority 110).
pub fn localnet_skip_conntrack(p: &PortCtx, out: &mut Vec<Lflow>) {
    if p.lsp.type_ != "localnet" || !p.has_stateful_acl {
        return;
    }
    super::skip_port_from_conntrack(p, Stage::LsInPreAcl, Stage::LsOutPreAcl, out);
}
