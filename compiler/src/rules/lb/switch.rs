//! The flows of one load balancer on the switches it applies to
//! (`build_lswitch_flows_for_lb()`: `build_empty_lb_event_flow()`,
//! `build_lb_rules_pre_stateful()`, `build_lb_rules()`,
//! `build_lb_affinity_ls_flows()`), built once per load balancer: northd
//! adds each with the load balancer's datapath group.

use ovsdb::Uuid;

use super::vip::{Backend, ParsedLb, Vip};
use crate::rules::{Lflow, DROP};
use crate::stage::Stage;

/// Every flow of load balancer `lb`, in northd's order, each with the CoPP
/// protocol whose meter it takes on each switch, if any. Northd builds them
/// once per load balancer and adds each with the load balancer's datapath
/// group (`ovn_lflow_add_with_dp_group()` with `lb->nb_ls_map`), so their
/// `dp` is left nil: the caller attaches the switches. Flows with a CoPP
/// protocol are added per switch with that switch's meter
/// (`copp_meter_get()`): the empty-backend events (`event-elb`) and the
/// rejects of VIPs without backends (`reject`, see [`metered_reject`]).
pub fn lb_flows(lb: &ParsedLb) -> Vec<(Option<&'static str>, Lflow)> {
    let dp = Uuid::nil();
    let mut out = Vec::new();
    for vip in &lb.vips {
        empty_lb_event(lb, vip, dp, &mut out);
    }
    for vip in &lb.vips {
        pre_stateful(lb, vip, dp, &mut out);
    }
    for vip in &lb.vips {
        affinity(lb, vip, dp, &mut out);
        lb_rule(lb, vip, dp, &mut out);
    }
    out.into_iter()
        .map(|mut f| {
            f.hint = Some(lb.uuid);
            f.origin = (3, 0, None);
            let copp = match f.stage {
                Stage::LsInPreLb => Some("event-elb"),
                Stage::LsInLb if f.actions.starts_with(REJECT_PREFIX) => Some("reject"),
                _ => None,
            };
            (copp, f)
        })
        .collect()
}

/// How a load-balancer reject action starts (`build_lb_vip_actions()`).
const REJECT_PREFIX: &str = "reg0 = 0; reject {";

/// A reject flow of `build_lb_rules()` on a switch with a `reject` meter:
/// added per switch (`ovn_lflow_add_with_hint__()`, another source line)
/// with the meter.
pub fn metered_reject(mut f: Lflow, meter: String) -> Lflow {
    f.source = 7551;
    f.meter = Some(meter);
    f
}

/// A backend as the affinity flows' `ct_lb_mark` and `commit_lb_aff` name
/// it: with its numeric port (none for template backends), in brackets
/// when the VIP counts as IPv6 there ([`Vip::affinity_v6`]).
pub(crate) fn affinity_backend(vip: &Vip, b: &Backend) -> String {
    match b.port {
        Some(p) if vip.affinity_v6() => format!("[{}]:{p}", b.ip),
        Some(p) => format!("{}:{p}", b.ip),
        None => b.ip.clone(),
    }
}

/// `ls_in_pre_lb` priority 130: with `options:event=true`, traffic to a VIP
/// without backends triggers an `empty_lb_backends` controller event.
fn empty_lb_event(lb: &ParsedLb, vip: &Vip, dp: Uuid, out: &mut Vec<Lflow>) {
    if !lb.controller_event || !vip.backends.is_empty() || lb.reject {
        return;
    }
    let proto = &lb.proto;
    let mut m = format!("{}.dst == {} && {proto}", vip.ip_match(), vip.ip);
    if let Some(p) = &vip.port {
        m.push_str(&format!(" && {proto}.dst == {p}"));
    }
    let a = format!(
        "trigger_event(event = \"empty_lb_backends\", vip = \"{}\", protocol = \"{proto}\", load_balancer = \"{}\");",
        vip.with_port(),
        lb.uuid
    );
    out.push(Lflow::new(dp, Stage::LsInPreLb, 130, &m, &a, 10805));
}

/// `ls_in_pre_stateful` priority 120: traffic to the VIP saves the original
/// destination (for hairpin) and goes to conntrack (`ct_lb_mark;`).
fn pre_stateful(lb: &ParsedLb, vip: &Vip, dp: Uuid, out: &mut Vec<Lflow>) {
    let reg = if vip.ipv6 { "xxreg1" } else { "reg1" };
    let mut a = format!("{reg} = {}; ", vip.ip);
    let mut m = format!("reg0[2] == 1 && {}.dst == {}", vip.ip_match(), vip.ip);
    if let Some(p) = &vip.port {
        a.push_str(&format!("reg2[0..15] = {p}; "));
        m.push_str(&format!(" && {}.dst == {p}", lb.proto));
    }
    a.push_str("ct_lb_mark;");
    out.push(Lflow::new(dp, Stage::LsInPreStateful, 120, &m, &a, 7115));
}

/// `ls_in_lb` priority 120 (VIP with port) or 110: new connections to the
/// VIP are load balanced to its backends (`build_lb_vip_actions()`; only the
/// monitored ones when the VIP is health checked); a VIP without (live)
/// backends drops, or with `options:reject=true` rejects.
fn lb_rule(lb: &ParsedLb, vip: &Vip, dp: Uuid, out: &mut Vec<Lflow>) {
    let backends = vip.active_backends();
    let a = match backends {
        None if lb.reject => format!(
            "reg0 = 0; reject {{ outport <-> inport; next(pipeline=egress,table={});}};",
            Stage::LsOutQosMark.table()
        ),
        None => DROP.to_string(),
        Some(backends) => {
            let hash = match &lb.selection_fields {
                Some(f) if !f.is_empty() => format!("; hash_fields=\"{f}\""),
                _ => String::new(),
            };
            format!("reg0[1] = 0; ct_lb_mark(backends={backends}{hash});")
        }
    };
    let mut m = format!("ct.new && {}.dst == {}", vip.ip_match(), vip.ip);
    let mut priority = 110;
    if let Some(p) = &vip.port {
        m.push_str(&format!(" && {}.dst == {p}", lb.proto));
        priority = 120;
    }
    out.push(Lflow::new(dp, Stage::LsInLb, priority, &m, &a, 7558));
}

/// Session affinity (`options:affinity_timeout`): `ls_in_lb_aff_check`
/// priority 100 looks the client up, `ls_in_lb` priority 150 sends a known
/// client to its backend, `ls_in_lb_aff_learn` priority 100 learns a new
/// client's backend. Northd picks the registers from the VIP's address, not
/// its family ([`Vip::affinity_v6`]), and names backends by their numeric
/// port ([`affinity_backend`]).
fn affinity(lb: &ParsedLb, vip: &Vip, dp: Uuid, out: &mut Vec<Lflow>) {
    if lb.affinity_timeout == 0 {
        return;
    }
    let (ipm, reg_vip, reg_backend) = if vip.affinity_v6() {
        ("ip6", "xxreg1", "xxreg0")
    } else {
        ("ip4", "reg1", "reg4")
    };
    let mut check = format!("ct.new && {ipm} && {reg_vip} == {}", vip.ip);
    if let Some(p) = &vip.port {
        check.push_str(&format!(" && reg2[0..15] == {p}"));
    }
    out.push(Lflow::new(
        dp,
        Stage::LsInLbAffCheck,
        100,
        &check,
        "reg9[6] = chk_lb_aff(); next;",
        7371,
    ));
    let mut action_head = format!("reg0[1] = 0; {reg_vip} = {}; ", vip.ip);
    let learn_match_head = match &vip.port {
        Some(p) => {
            action_head.push_str(&format!("reg2[0..15] = {p}; "));
            format!(
                "reg9[6] == 0 && ct.new && {ipm} && {reg_vip} == {} && reg2[0..15] == {p} && {ipm}.dst == ",
                vip.ip
            )
        }
        None => format!(
            "reg9[6] == 0 && ct.new && {ipm} && {reg_vip} == {} && {ipm}.dst == ",
            vip.ip
        ),
    };
    for b in &vip.backends {
        let backend = affinity_backend(vip, b);
        let mut learn_match = format!("{learn_match_head}{}", b.ip);
        let mut aff_match = format!(
            "reg9[6] == 1 && ct.new && {ipm} && {reg_backend} == {}",
            b.ip
        );
        if let Some(p) = b.port {
            learn_match.push_str(&format!(" && {}.dst == {p}", lb.proto));
            aff_match.push_str(&format!(" && reg8[0..15] == {p}"));
        }
        let mut learn = format!(
            "commit_lb_aff(vip = \"{}\", backend = \"{backend}\"",
            vip.affinity_with_port()
        );
        if vip.port.is_some() {
            learn.push_str(&format!(", proto = {}", lb.proto));
        }
        learn.push_str(&format!(", timeout = {}); /* drop */", lb.affinity_timeout));
        let action = format!("{action_head}ct_lb_mark(backends={backend});");
        out.push(Lflow::new(
            dp,
            Stage::LsInLbAffLearn,
            100,
            &learn_match,
            &learn,
            7460,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LsInLb,
            150,
            &aff_match,
            &action,
            7466,
        ));
    }
}
