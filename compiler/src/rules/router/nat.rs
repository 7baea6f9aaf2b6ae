//! NAT on gateway routers and on routers with a distributed gateway port,
//! and the router-level effects of load balancers:
//! `build_lrouter_nat_defrag_and_lb()` (with `lrouter_check_nat_entry()`
//! and the per-stage `build_lrouter_*_flow()` helpers),
//! `build_lrouter_force_snat_flows()` and `build_lrouter_force_snat_flows_op()`
//! in northd.c. The ARP/ND responders for NAT addresses are in
//! [`super::nat_arp`].
//!
//! Not handled: `gateway_mtu` on distributed NAT, `redirect-type=bridged`,
//! virtual ports as distributed NAT `logical_port`s, CoPP meters.

use std::collections::BTreeSet;

use super::net::{parse_v4_cidr, parse_v6_cidr};
use super::{cr_json_key, LrpCtx, RouterCtx};
use crate::nb::{smap_get_bool, Nat};
use crate::rules::addr::{json_key, parse_mac};
use crate::rules::{Lflow, DROP};
use crate::stage::Stage;

/// A NAT rule of a router with the names of the rows it refers to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NatRule {
    /// The rule.
    pub nat: Nat,
    /// `allowed_ext_ips`'s address set name.
    pub allowed: Option<String>,
    /// `exempted_ext_ips`'s address set name.
    pub exempted: Option<String>,
    /// `gateway_port`'s name.
    pub gateway_port: Option<String>,
}

impl NatRule {
    /// `lrouter_dnat_and_snat_is_stateless()`.
    pub fn stateless(&self) -> bool {
        smap_get_bool(&self.nat.options, "stateless", false) && self.nat.type_ == "dnat_and_snat"
    }

    fn is(&self, t: &str) -> bool {
        self.nat.type_ == t
    }

    /// The `external_ip` as one address (`nat_entry_is_valid()`):
    /// `(address, ipv6)`.
    pub fn ext_addr(&self) -> Option<(String, bool)> {
        let s = self.nat.external_ip.trim();
        if let Some((ip, 32)) = parse_v4_cidr(s) {
            return Some((ip.to_string(), false));
        }
        if let Some((ip, 128)) = parse_v6_cidr(s) {
            return Some((ip.to_string(), true));
        }
        None
    }
}

/// A NAT rule that passed `lrouter_check_nat_entry()`.
pub struct Checked<'a> {
    /// The rule.
    pub rule: &'a NatRule,
    /// `external_ip` is IPv6.
    pub v6: bool,
    /// Prefix length of `logical_ip`.
    pub cidr_bits: u8,
    /// Distributed NAT (`logical_port` and `external_mac` on a
    /// `dnat_and_snat` rule of a router with a distributed gateway port).
    pub distributed: bool,
    /// `external_mac`, normalized (`ETH_ADDR_FMT`).
    pub mac: String,
    /// The distributed gateway port the rule applies to.
    pub l3dgw: Option<&'a LrpCtx>,
}

impl Checked<'_> {
    fn ip(&self) -> &'static str {
        if self.v6 {
            "ip6"
        } else {
            "ip4"
        }
    }

    fn ext(&self) -> &str {
        &self.rule.nat.external_ip
    }

    fn logical(&self) -> &str {
        &self.rule.nat.logical_ip
    }

    fn dgp_key(&self) -> String {
        self.l3dgw.map(LrpCtx::json_key).unwrap_or_default()
    }

    fn cr_key(&self) -> String {
        self.l3dgw
            .map(|p| cr_json_key(&p.lrp.name))
            .unwrap_or_default()
    }

    fn lport(&self) -> &str {
        self.rule.nat.logical_port.as_deref().unwrap_or("")
    }

    fn with_range(&self, action: &str, ip: &str) -> String {
        match self.rule.nat.external_port_range.as_str() {
            "" => format!("{action}({ip});"),
            r => format!("{action}({ip},{r});"),
        }
    }

    fn hinted(&self, r: &RouterCtx, stage: Stage, prio: u16, m: &str, a: &str, line: u32) -> Lflow {
        Lflow::new(r.dp(), stage, prio, m, a, line).hint(self.rule.nat.uuid)
    }
}

/// `lrouter_check_nat_entry()`: `None` for rules northd skips (with a
/// warning).
pub fn check<'a>(r: &'a RouterCtx, rule: &'a NatRule) -> Option<Checked<'a>> {
    let nat = &rule.nat;
    if rule.allowed.is_some() && rule.exempted.is_some() {
        return None;
    }
    let (_, v6) = rule.ext_addr()?;
    let dgps: Vec<&LrpCtx> = r.l3dgw_ports().collect();
    let l3dgw = match &rule.gateway_port {
        None if dgps.len() == 1 => Some(dgps[0]),
        None if dgps.len() > 1 => Some(
            *dgps
                .iter()
                .find(|p| p.net.find_member_ip(&nat.external_ip).is_some())?,
        ),
        None => None,
        Some(name) => Some(*dgps.iter().find(|p| &p.lrp.name == name)?),
    };
    let logical = if v6 {
        parse_v6_cidr(&nat.logical_ip).map(|(_, p)| p)
    } else {
        parse_v4_cidr(&nat.logical_ip).map(|(_, p)| p)
    };
    let cidr_bits = logical?;
    let full = if v6 { 128 } else { 32 };
    if nat.type_ != "snat" && cidr_bits != full {
        return None;
    }
    let mut distributed = false;
    let mut mac = "ff:ff:ff:ff:ff:ff".to_string();
    if !dgps.is_empty() && nat.type_ == "dnat_and_snat" && nat.logical_port.is_some() {
        if let Some(m) = &nat.external_mac {
            mac = parse_mac(m)?;
            distributed = true;
        }
    }
    Some(Checked {
        rule,
        v6,
        cidr_bits,
        distributed,
        mac,
        l3dgw,
    })
}

/// The defaults of the NAT, defragmentation and ECMP-stateful stages, the
/// conntrack flows of routers with load balancers, and every NAT rule's
/// flows (`build_lrouter_nat_defrag_and_lb()`).
pub fn nat_defrag_and_lb(r: &RouterCtx, out: &mut Vec<Lflow>) {
    let dp = r.dp();
    let next = "next;";
    for (stage, a, line) in [
        (Stage::LrInDefrag, next, 14243),
        (Stage::LrInUnsnat, next, 14244),
        (Stage::LrOutChkDnatLocal, "reg9[4] = 0; next;", 14245),
        (Stage::LrOutSnat, next, 14247),
        (Stage::LrInDnat, next, 14248),
        (Stage::LrOutUndnat, next, 14249),
        (Stage::LrOutPostUndnat, next, 14250),
        (Stage::LrOutPostSnat, next, 14251),
        (Stage::LrOutEgrLoop, next, 14252),
        (Stage::LrInEcmpStateful, next, 14253),
    ] {
        out.push(Lflow::new(dp, stage, 0, "1", a, line));
    }
    if r.has_lb_vip() {
        let rel = "ct.rel && !ct.est && !ct.new";
        let est = "ct.est && !ct.rel && !ct.new && ct_mark.natted";
        for (prio, m, a, line) in [
            (
                70,
                format!("{rel} && ct_mark.skip_snat == 1"),
                "flags.skip_snat_for_lb = 1; ct_commit_nat;",
                14274,
            ),
            (
                70,
                format!("{rel} && ct_mark.force_snat == 1"),
                "flags.force_snat_for_lb = 1; ct_commit_nat;",
                14279,
            ),
            (50, rel.to_string(), "ct_commit_nat;", 14283),
            (
                70,
                format!("{est} && ct_mark.skip_snat == 1"),
                "flags.skip_snat_for_lb = 1; next;",
                14300,
            ),
            (
                70,
                format!("{est} && ct_mark.force_snat == 1"),
                "flags.force_snat_for_lb = 1; next;",
                14305,
            ),
            (50, est.to_string(), "next;", 14309),
        ] {
            out.push(Lflow::new(dp, Stage::LrInDnat, prio, &m, a, line));
        }
    }
    if r.is_gw_router() && (!r.nats.is_empty() || r.has_lb_vip()) {
        out.push(Lflow::new(
            dp,
            Stage::LrOutUndnat,
            100,
            "nd || nd_rs || nd_ra",
            "next;",
            14324,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LrOutUndnat,
            50,
            "ip",
            "flags.loopback = 1; ct_dnat;",
            14326,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LrOutPostUndnat,
            50,
            "ip && ct.new",
            "ct_commit { } ; next; ",
            14328,
        ));
    }
    out.push(Lflow::new(dp, Stage::LrOutSnat, 120, "nd_ns", next, 14335));
    if !r.is_gw_router() && r.n_l3dgw_ports() == 0 {
        return;
    }
    let mut nat_entries: BTreeSet<&str> = BTreeSet::new();
    for rule in &r.nats {
        let Some(c) = check(r, rule) else { continue };
        unsnat(r, &c, out);
        dnat(r, &c, out);
        if !r.is_gw_router() && nat_entries.insert(&rule.nat.external_ip) {
            arp_resolve(r, &c, out);
        }
        dnat_local(r, &c, out);
        undnat(r, &c, out);
        snat(r, &c, out);
        ingress(r, &c, out);
        if c.distributed {
            let m = format!(
                "{}.src == {} && outport == {} && is_chassis_resident(\"{}\")",
                c.ip(),
                c.logical(),
                c.dgp_key(),
                c.lport()
            );
            let a = format!(
                "eth.src = {}; {} = {}; next;",
                rule.nat.external_mac.as_deref().unwrap_or(""),
                if c.v6 { "xxreg1" } else { "reg1" },
                c.ext()
            );
            out.push(c.hinted(r, Stage::LrInGwRedirect, 100, &m, &a, 14486));
        }
        if r.n_l3dgw_ports() > 0 {
            egress_loopback(r, &c, out);
        }
    }
    if !r.nats.is_empty() {
        out.push(
            Lflow::new(
                dp,
                Stage::LrOutChkDnatLocal,
                50,
                "ip && ct_mark.natted == 1",
                "reg9[4] = 1; next;",
                14544,
            )
            .hint(r.router.uuid),
        );
    }
    if r.is_gw_router() {
        for (ip, v6) in r.force_snat_addrs("dnat") {
            force_snat(r, &ip, v6, "dnat", out);
        }
        if !r.lb_force_snat_router_ip() {
            for (ip, v6) in r.force_snat_addrs("lb") {
                force_snat(r, &ip, v6, "lb", out);
            }
        }
    }
}

/// `build_lrouter_force_snat_flows()`.
fn force_snat(r: &RouterCtx, ip: &str, v6: bool, context: &str, out: &mut Vec<Lflow>) {
    let ver = if v6 { "6" } else { "4" };
    out.push(Lflow::new(
        r.dp(),
        Stage::LrInUnsnat,
        110,
        &format!("ip{ver} && ip{ver}.dst == {ip}"),
        "ct_snat;",
        11351,
    ));
    out.push(Lflow::new(
        r.dp(),
        Stage::LrOutSnat,
        100,
        &format!("flags.force_snat_for_{context} == 1 && ip{ver}"),
        &format!("ct_snat({ip});"),
        11361,
    ));
}

/// `build_lrouter_force_snat_flows_op()`: with `lb_force_snat_ip=router_ip`
/// on a gateway router, load-balanced traffic leaving a peered port is
/// SNATed to the port's first address of each family.
pub fn force_snat_op(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    if p.peer.is_none() || !r.lb_force_snat_router_ip() {
        return;
    }
    let key = p.json_key();
    if let Some(n) = p.net.ipv4.first() {
        let ip = n.addr_s();
        out.push(Lflow::new(
            r.dp(),
            Stage::LrInUnsnat,
            110,
            &format!("inport == {key} && ip4.dst == {ip}"),
            "ct_snat;",
            11383,
        ));
        out.push(Lflow::new(
            r.dp(),
            Stage::LrOutSnat,
            110,
            &format!("flags.force_snat_for_lb == 1 && ip4 && outport == {key}"),
            &format!("ct_snat({ip});"),
            11395,
        ));
    }
    if p.net.ipv6.len() > 1 {
        let ip = p.net.ipv6[0].addr_s();
        out.push(Lflow::new(
            r.dp(),
            Stage::LrInUnsnat,
            110,
            &format!("inport == {key} && ip6.dst == {ip}"),
            "ct_snat;",
            11415,
        ));
        out.push(Lflow::new(
            r.dp(),
            Stage::LrOutSnat,
            110,
            &format!("flags.force_snat_for_lb == 1 && ip6 && outport == {key}"),
            &format!("ct_snat({ip});"),
            11427,
        ));
    }
}

/// `lr_in_unsnat` (`build_lrouter_in_unsnat_flow()`).
fn unsnat(r: &RouterCtx, c: &Checked<'_>, out: &mut Vec<Lflow>) {
    let rule = c.rule;
    if !rule.is("snat") && !rule.is("dnat_and_snat") {
        return;
    }
    let stateless = rule.stateless();
    let ip = c.ip();
    if r.is_gw_router() {
        let m = format!("ip && {ip}.dst == {}", c.ext());
        let a = if stateless { "next;" } else { "ct_snat;" };
        out.push(c.hinted(r, Stage::LrInUnsnat, 90, &m, a, 13648));
        return;
    }
    let resident = if c.distributed {
        String::new()
    } else {
        format!(" && is_chassis_resident({})", c.cr_key())
    };
    let m = format!(
        "ip && {ip}.dst == {} && inport == {} && flags.loopback == 0{resident}",
        c.ext(),
        c.dgp_key()
    );
    let a = if stateless {
        "next;"
    } else {
        "ct_snat_in_czone;"
    };
    out.push(c.hinted(r, Stage::LrInUnsnat, 100, &m, a, 13673));
    if !stateless {
        let m = format!(
            "ip && {ip}.dst == {} && inport == {} && flags.loopback == 1 && flags.use_snat_zone == 1{resident}",
            c.ext(),
            c.dgp_key()
        );
        out.push(c.hinted(r, Stage::LrInUnsnat, 100, &m, "ct_snat;", 13691));
    }
}

/// `lrouter_nat_add_ext_ip_match()`: `allowed_ext_ips` narrows the match;
/// `exempted_ext_ips` adds a higher-priority `next;` flow.
fn ext_ip_match(
    r: &RouterCtx,
    c: &Checked<'_>,
    m: &mut String,
    is_src: bool,
    out: &mut Vec<Lflow>,
) {
    let dir = if is_src { "src" } else { "dst" };
    if let Some(name) = &c.rule.allowed {
        m.push_str(&format!(" && {}.{dir} == ${name}", c.ip()));
    } else if let Some(name) = &c.rule.exempted {
        let (stage, prio) = if is_src {
            (Stage::LrInDnat, 102)
        } else {
            let p = c.cidr_bits as u16 + 3;
            (Stage::LrOutSnat, if r.is_gw_router() { p } else { p + 128 })
        };
        let em = format!("{m} && {}.{dir} == ${name}", c.ip());
        out.push(c.hinted(r, stage, prio, &em, "next;", 11068));
    }
}

/// `lr_in_dnat` (`build_lrouter_in_dnat_flow()`).
fn dnat(r: &RouterCtx, c: &Checked<'_>, out: &mut Vec<Lflow>) {
    let rule = c.rule;
    if !rule.is("dnat") && !rule.is("dnat_and_snat") {
        return;
    }
    let stateless = rule.stateless();
    let ip = c.ip();
    if r.is_gw_router() {
        let mut m = format!("ip && {ip}.dst == {}", c.ext());
        ext_ip_match(r, c, &mut m, true, out);
        let mut a = String::new();
        if !r.force_snat_addrs("dnat").is_empty() {
            a.push_str("flags.force_snat_for_dnat = 1; ");
        }
        if stateless {
            a.push_str(&format!(
                "flags.loopback = 1; {ip}.dst={}; next;",
                c.logical()
            ));
        } else {
            a.push_str("flags.loopback = 1; ");
            a.push_str(&c.with_range("ct_dnat", c.logical()));
        }
        out.push(c.hinted(r, Stage::LrInDnat, 100, &m, &a, 13745));
        return;
    }
    let mut m = format!("ip && {ip}.dst == {} && inport == {}", c.ext(), c.dgp_key());
    if !c.distributed {
        m.push_str(&format!(" && is_chassis_resident({})", c.cr_key()));
    }
    ext_ip_match(r, c, &mut m, true, out);
    let a = if stateless {
        format!("{ip}.dst={}; next;", c.logical())
    } else {
        c.with_range("ct_dnat_in_czone", c.logical())
    };
    out.push(c.hinted(r, Stage::LrInDnat, 100, &m, &a, 13779));
}

/// `lr_in_arp_resolve` on routers with a distributed gateway port: drop
/// NAT-addressed traffic hairpinning on the gateway port, resolve the NAT
/// address for east/west traffic.
fn arp_resolve(r: &RouterCtx, c: &Checked<'_>, out: &mut Vec<Lflow>) {
    let dgp = c.dgp_key();
    let m = format!(
        "inport == {dgp} && outport == {dgp} && {}.dst == {}",
        c.ip(),
        c.ext()
    );
    out.push(c.hinted(r, Stage::LrInArpResolve, 150, &m, DROP, 14388));
    let reg = if c.v6 { "xxreg0" } else { "reg0" };
    let m = format!("outport == {dgp} && {reg} == {}", c.ext());
    let mac = if c.distributed {
        c.rule.nat.external_mac.clone().unwrap_or_default()
    } else {
        c.l3dgw.map(|p| p.net.ea_s.clone()).unwrap_or_default()
    };
    let a = format!("eth.dst = {mac}; next;");
    out.push(c.hinted(r, Stage::LrInArpResolve, 100, &m, &a, 14407));
}

/// `lr_out_chk_dnat_local` (`build_lrouter_out_is_dnat_local()`).
fn dnat_local(r: &RouterCtx, c: &Checked<'_>, out: &mut Vec<Lflow>) {
    if r.n_l3dgw_ports() == 0 {
        return;
    }
    let resident = if c.distributed {
        format!("is_chassis_resident(\"{}\")", c.lport())
    } else {
        format!("is_chassis_resident({})", c.cr_key())
    };
    let m = format!("ip && {}.dst == {} && {resident}", c.ip(), c.ext());
    out.push(c.hinted(
        r,
        Stage::LrOutChkDnatLocal,
        50,
        &m,
        "reg9[4] = 1; next;",
        13858,
    ));
}

/// `lr_out_undnat` on routers with a distributed gateway port
/// (`build_lrouter_out_undnat_flow()`).
fn undnat(r: &RouterCtx, c: &Checked<'_>, out: &mut Vec<Lflow>) {
    let rule = c.rule;
    if r.n_l3dgw_ports() == 0 || (!rule.is("dnat") && !rule.is("dnat_and_snat")) {
        return;
    }
    let mut m = format!(
        "ip && {}.src == {} && outport == {}",
        c.ip(),
        c.logical(),
        c.dgp_key()
    );
    if !c.distributed {
        m.push_str(&format!(" && is_chassis_resident({})", c.cr_key()));
    }
    let mut a = String::new();
    if c.distributed {
        a.push_str(&format!("eth.src = {}; ", c.mac));
    }
    a.push_str(if rule.stateless() {
        "next;"
    } else if r.is_gw_router() {
        "ct_dnat;"
    } else {
        "ct_dnat_in_czone;"
    });
    out.push(c.hinted(r, Stage::LrOutUndnat, 100, &m, &a, 13828));
}

/// `lr_out_snat` (`build_lrouter_out_snat_flow()`): the longest
/// `logical_ip` prefix wins.
fn snat(r: &RouterCtx, c: &Checked<'_>, out: &mut Vec<Lflow>) {
    let rule = c.rule;
    if !rule.is("snat") && !rule.is("dnat_and_snat") {
        return;
    }
    let stateless = rule.stateless();
    let ip = c.ip();
    let prio = c.cidr_bits as u16 + 1;
    if r.is_gw_router() {
        let mut m = format!("ip && {ip}.src == {}", c.logical());
        ext_ip_match(r, c, &mut m, false, out);
        let a = if stateless {
            format!("{ip}.src={}; next;", c.ext())
        } else {
            m.push_str(" && (!ct.trk || !ct.rpl)");
            c.with_range("ct_snat", c.ext())
        };
        out.push(c.hinted(r, Stage::LrOutSnat, prio, &m, &a, 13906));
        return;
    }
    let mut m = format!(
        "ip && {ip}.src == {} && outport == {}",
        c.logical(),
        c.dgp_key()
    );
    let prio = prio + 128;
    if c.distributed {
        m.push_str(&format!(" && is_chassis_resident(\"{}\")", c.lport()));
    } else {
        m.push_str(&format!(" && is_chassis_resident({})", c.cr_key()));
    }
    ext_ip_match(r, c, &mut m, false, out);
    let eth = if c.distributed {
        format!("eth.src = {}; ", c.mac)
    } else {
        String::new()
    };
    let a = if stateless {
        format!("{eth}{ip}.src={}; next;", c.ext())
    } else {
        format!("{eth}{}", c.with_range("ct_snat_in_czone", c.ext()))
    };
    out.push(c.hinted(r, Stage::LrOutSnat, prio, &m, &a, 13958));
    if !stateless {
        let m = format!("{m} && reg9[4] == 1");
        let a = format!("{eth}reg9[4] = 0; {}", c.with_range("ct_snat", c.ext()));
        out.push(c.hinted(r, Stage::LrOutSnat, prio + 1, &m, &a, 13975));
    }
}

/// `build_lrouter_ingress_flow()`: SNAT-sourced traffic on the gateway port
/// goes on (`lr_in_ip_input` priority 120); distributed NAT admits its
/// external MAC on the chassis of its logical port.
fn ingress(r: &RouterCtx, c: &Checked<'_>, out: &mut Vec<Lflow>) {
    if r.n_l3dgw_ports() > 0 && c.rule.is("snat") {
        let m = format!("inport == {} && {}.src == {}", c.dgp_key(), c.ip(), c.ext());
        out.push(c.hinted(r, Stage::LrInIpInput, 120, &m, "next;", 14067));
    }
    if c.distributed {
        let Some(dgp) = c.l3dgw else { return };
        let m = format!(
            "eth.dst == {} && inport == {} && is_chassis_resident(\"{}\")",
            c.mac,
            dgp.json_key(),
            c.lport()
        );
        let a = format!("xreg0[0..47] = {}; next;", dgp.net.ea_s);
        let (s, hint) = (Stage::LrInAdmission, c.rule.nat.uuid);
        super::mtu::gateway_mtu_flow(r, dgp, s, 50, 55, &m, &a, hint, out);
        let mac = c.rule.nat.external_mac.as_deref().unwrap_or("");
        super::mtu::nat_pkt_too_big(r, dgp, hint, c.ext(), mac, c.v6, out);
    }
}

/// `lr_out_egr_loop`: traffic to a NAT address leaving the gateway port
/// loops back into the ingress pipeline.
fn egress_loopback(r: &RouterCtx, c: &Checked<'_>, out: &mut Vec<Lflow>) {
    let resident = if c.distributed {
        format!("is_chassis_resident(\"{}\")", c.lport())
    } else {
        format!("is_chassis_resident({})", c.cr_key())
    };
    let m = format!(
        "{}.dst == {} && outport == {} && {resident}",
        c.ip(),
        c.ext(),
        c.dgp_key()
    );
    let regs: String = (0..10).map(|i| format!("reg{i} = 0; ")).collect();
    let a = format!(
        "clone {{ ct_clear; inport = outport; outport = \"\"; eth.dst <-> eth.src; flags = 0; \
         flags.loopback = 1; flags.use_snat_zone = reg9[4]; {regs}reg9[0] = 1; \
         next(pipeline=ingress, table={}); }};",
        Stage::LrInAdmission.table()
    );
    out.push(c.hinted(r, Stage::LrOutEgrLoop, 100, &m, &a, 14524));
}

/// The `json_key` of a distributed gateway port's chassisredirect port.
pub fn cr_key(name: &str) -> String {
    json_key(&format!("cr-{name}"))
}
