//! Load-balancer, stateful, hairpin and QoS stages of switches
//! (`build_pre_lb()`, `build_pre_stateful()`, `build_qos()`,
//! `build_stateful()`, `build_lb_hairpin()`,
//! `build_lb_affinity_default_flows()` in northd.c), and the flows of each
//! load balancer on the switches it applies to ([`switch`]).
//!
//! Chassis features are those northd assumes with no chassis registered
//! (`ct_no_masked_label`: `ct_lb_mark` and `ct_mark.blocked`).

pub mod health;
pub mod switch;
pub mod template;
pub mod vip;

use super::{Lflow, PortCtx, SwitchCtx};
use crate::stage::Stage;

/// `ls_in_pre_lb` / `ls_out_pre_lb` (`build_pre_lb()`): priority 110 bypasses
/// for multicast, ND/MLD, service monitor and stateless-ACL traffic, and
/// priority 0 `next;`.
pub fn pre_lb(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    let nd = "nd || nd_rs || nd_ra || mldv1 || mldv2";
    out.push(Lflow::new(
        dp,
        Stage::LsInPreLb,
        110,
        "eth.mcast",
        "next;",
        6033,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutPreLb,
        110,
        "eth.mcast",
        "next;",
        6034,
    ));
    out.push(Lflow::new(dp, Stage::LsInPreLb, 110, nd, "next;", 6037));
    out.push(Lflow::new(dp, Stage::LsOutPreLb, 110, nd, "next;", 6040));
    out.push(Lflow::new(
        dp,
        Stage::LsInPreLb,
        110,
        "eth.dst == $svc_monitor_mac",
        "next;",
        6045,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutPreLb,
        110,
        "eth.src == $svc_monitor_mac",
        "next;",
        6047,
    ));
    out.push(Lflow::new(dp, Stage::LsInPreLb, 0, "1", "next;", 6051));
    out.push(Lflow::new(dp, Stage::LsOutPreLb, 0, "1", "next;", 6052));
    out.push(Lflow::new(
        dp,
        Stage::LsInPreLb,
        110,
        "reg0[16] == 1",
        "next;",
        6073,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutPreLb,
        110,
        "reg0[16] == 1",
        "next;",
        6075,
    ));
    // Every IP packet goes to conntrack (`REGBIT_CONNTRACK_NAT`) on a switch
    // with load balancers, so that invalid replies can be dropped.
    if sw.has_lb_vip {
        let nat = "reg0[2] = 1; next;";
        out.push(Lflow::new(dp, Stage::LsInPreLb, 100, "ip", nat, 6109));
        out.push(Lflow::new(dp, Stage::LsOutPreLb, 100, "ip", nat, 6111));
    }
}

/// `ls_in_pre_stateful` / `ls_out_pre_stateful` (`build_pre_stateful()`):
/// priority 0 `next;`, 110 `ct_lb_mark;` when NAT is requested, 100
/// `ct_next;` when defragmentation is requested.
pub fn pre_stateful(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    out.push(Lflow::new(
        dp,
        Stage::LsInPreStateful,
        0,
        "1",
        "next;",
        6123,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutPreStateful,
        0,
        "1",
        "next;",
        6124,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsInPreStateful,
        110,
        "reg0[2] == 1",
        "ct_lb_mark;",
        6132,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutPreStateful,
        110,
        "reg0[2] == 1",
        "ct_lb_mark;",
        6135,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsInPreStateful,
        100,
        "reg0[0] == 1",
        "ct_next;",
        6140,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutPreStateful,
        100,
        "reg0[0] == 1",
        "ct_next;",
        6143,
    ));
}

/// QoS mark/meter stages, priority 0 `next;` (`build_qos()` with no QoS rows).
pub fn qos(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    out.push(Lflow::new(dp, Stage::LsInQosMark, 0, "1", "next;", 7005));
    out.push(Lflow::new(dp, Stage::LsOutQosMark, 0, "1", "next;", 7006));
    out.push(Lflow::new(dp, Stage::LsInQosMeter, 0, "1", "next;", 7007));
    out.push(Lflow::new(dp, Stage::LsOutQosMeter, 0, "1", "next;", 7008));
}

/// `ls_in_lb` priority 0 and the stateful stages (`build_stateful()`):
/// priority 0 `next;` and the priority-100 `ct_commit` flows.
pub fn stateful(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    let with_label = "ct_commit { ct_mark.blocked = 0; ct_label.label = reg3; }; next;";
    let without = "ct_commit { ct_mark.blocked = 0; }; next;";
    out.push(Lflow::new(dp, Stage::LsInLb, 0, "1", "next;", 7579));
    out.push(Lflow::new(dp, Stage::LsInStateful, 0, "1", "next;", 7580));
    out.push(Lflow::new(dp, Stage::LsOutStateful, 0, "1", "next;", 7581));
    let m1 = "reg0[1] == 1 && reg0[13] == 1";
    out.push(Lflow::new(
        dp,
        Stage::LsInStateful,
        100,
        m1,
        with_label,
        7592,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutStateful,
        100,
        m1,
        with_label,
        7596,
    ));
    let m0 = "reg0[1] == 1 && reg0[13] == 0";
    out.push(Lflow::new(dp, Stage::LsInStateful, 100, m0, without, 7607));
    out.push(Lflow::new(dp, Stage::LsOutStateful, 100, m0, without, 7611));
}

/// Hairpin stages (`build_lb_hairpin()`): priority 0 `next;`; with LB VIPs,
/// the detection of hairpinned connections (a backend reaching itself
/// through a VIP), their SNAT to the VIP and the loop back to the inport.
pub fn lb_hairpin(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    out.push(Lflow::new(dp, Stage::LsInPreHairpin, 0, "1", "next;", 7624));
    out.push(Lflow::new(dp, Stage::LsInNatHairpin, 0, "1", "next;", 7625));
    out.push(Lflow::new(dp, Stage::LsInHairpin, 0, "1", "next;", 7626));
    if !sw.has_lb_vip {
        return;
    }
    out.push(
        Lflow::new(
            dp,
            Stage::LsInPreHairpin,
            100,
            "ip && ct.trk",
            "reg0[6] = chk_lb_hairpin(); reg0[12] = chk_lb_hairpin_reply(); next;",
            7633,
        )
        .hint(dp),
    );
    out.push(
        Lflow::new(
            dp,
            Stage::LsInNatHairpin,
            100,
            "ip && ct.new && ct.trk && reg0[6] == 1",
            "ct_snat_to_vip; next;",
            7642,
        )
        .hint(dp),
    );
    out.push(
        Lflow::new(
            dp,
            Stage::LsInNatHairpin,
            100,
            "ip && ct.est && ct.trk && reg0[6] == 1",
            "ct_snat;",
            7651,
        )
        .hint(dp),
    );
    out.push(
        Lflow::new(
            dp,
            Stage::LsInNatHairpin,
            90,
            "ip && reg0[12] == 1",
            "ct_snat;",
            7658,
        )
        .hint(dp),
    );
    out.push(Lflow::new(
        dp,
        Stage::LsInHairpin,
        1,
        "(reg0[6] == 1 || reg0[12] == 1)",
        "eth.dst <-> eth.src; outport = inport; flags.loopback = 1; output;",
        7667,
    ));
}

/// `ls_in_hairpin` priority 1000 for switches with VTEP ports: traffic from
/// the VTEP ramp switch jumps to `ls_in_l2_lkup` (`build_vtep_hairpin()`;
/// the priority-2000 flows for distributed gateway ports need routers).
pub fn vtep_hairpin(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    if sw.has_vtep_lports {
        let action = format!(
            "next(pipeline=ingress, table={});",
            Stage::LsInL2Lkup.table()
        );
        out.push(Lflow::new(
            sw.uuid,
            Stage::LsInHairpin,
            1000,
            "reg0[14] == 1",
            &action,
            7688,
        ));
    }
}

/// LB affinity stages, priority 0 `next;` (`build_lb_affinity_default_flows()`).
pub fn lb_affinity_defaults(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    out.push(Lflow::new(dp, Stage::LsInLbAffCheck, 0, "1", "next;", 7486));
    out.push(Lflow::new(dp, Stage::LsInLbAffLearn, 0, "1", "next;", 7487));
}

/// `skip_port_from_conntrack()` for localnet ports on switches without LB
/// VIPs (`build_pre_lb()`): `ls_in_pre_lb` / `ls_out_pre_lb` priority 110
/// keep the port's IP traffic out of conntrack (egress also clears it
/// unless the switch has stateful ACLs).
pub fn localnet_skip_conntrack(p: &PortCtx, out: &mut Vec<Lflow>) {
    if p.lsp.type_ != "localnet" || p.has_lb_vip {
        return;
    }
    super::skip_port_from_conntrack(p, Stage::LsInPreLb, Stage::LsOutPreLb, out);
}
