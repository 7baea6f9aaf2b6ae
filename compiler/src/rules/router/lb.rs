//! Load balancers on routers: what they change for the router as a whole
//! (`od->has_lb_vip`, `od->lb_ips` built by `build_lbs()` and
//! `build_lrouter_lb_reachable_ips()`), and the flows of one load balancer
//! on one router (`build_lrouter_defrag_flows_for_lb()`,
//! `build_lrouter_flows_for_lb()`, `build_lrouter_nat_flows_for_lb()`,
//! `build_lb_affinity_lr_flows()` in northd.c). Northd adds the latter with
//! datapath groups, one per kind of router (`build_lrouter_nat_flows_for_lb()`
//! sorts the load balancer's routers by type); here they are built once per
//! load balancer and [`RouterLbClass`] and carry the class's routers, except
//! the unSNAT bypass of VIPs that are also the router's NAT addresses
//! ([`unsnat_bypass_flows`]), built per router.
//!
//! Flows that reject or raise controller events carry the router's CoPP
//! meters (`reject`, `event-elb`).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ovsdb::Uuid;

use super::gateway::LbIpOrders;
use super::{LrpCtx, RouterCtx};
use crate::rules::lb::vip::{NeighMode, ParsedLb, Vip};
use crate::rules::{Lflow, DROP};
use crate::stage::Stage;

/// What the router-level rules need of one load balancer of the router.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LbSummary {
    /// NB UUID.
    pub uuid: Uuid,
    /// The `vips` column is not empty (`lb_has_vip()`, unparsed).
    pub has_vip: bool,
    /// `options:add_route`.
    pub routable: bool,
    /// `options:neighbor_responder`.
    pub neigh_mode: NeighMode,
    /// The parsed VIP addresses: `(vip_str, ipv6 family, port_str)`.
    pub vips: Vec<(String, bool, Option<String>)>,
    /// `lb->proto`.
    pub proto: String,
    /// `options:template`: the VIPs are variables, which northd files
    /// under IPv6 in `ips_v4`/`ips_v6` whatever their family.
    pub template: bool,
}

impl LbSummary {
    /// The summary of `lb`; `has_vip` is whether its `vips` column has
    /// entries.
    pub fn new(lb: &ParsedLb, has_vip: bool) -> LbSummary {
        LbSummary {
            uuid: lb.uuid,
            has_vip,
            routable: lb.routable,
            neigh_mode: lb.neigh_mode,
            vips: lb
                .vips
                .iter()
                .map(|v| (v.ip.clone(), v.ipv6, v.port.clone()))
                .collect(),
            proto: lb.proto.clone(),
            template: lb.template,
        }
    }
}

/// `struct ovn_lb_ip_set` of a router: its load balancers' VIP addresses.
///
/// All but the reachable sets depend on the router's load balancers alone:
/// they live in [`LbVipSets`], shared by every router with the same load
/// balancers (in ovn-kubernetes every gateway router carries the cluster's
/// load balancer group: its thousands of VIPs are collected, parsed and
/// ordered once, not once per router).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LbIps {
    /// `ips_v4`, `ips_v6`, `ips_v4_routable`, `ips_v6_routable` and their
    /// orders.
    pub sets: Arc<LbVipSets>,
    /// `ips_v4_reachable`: VIPs the router answers ARP for.
    pub v4_reachable: BTreeSet<String>,
    /// `ips_v6_reachable`: VIPs the router answers ND for.
    pub v6_reachable: BTreeSet<String>,
}

/// The parts of a router's `od->lb_ips` that depend on its load balancers
/// only (`build_lrouter_lb_ips()`), with the iteration orders northd's
/// ssets give them ([`LbIpOrders`]), computed when first asked for.
///
/// Equality, order, hash and serialized form are those of the load
/// balancers: every other field is a function of them.
#[derive(Debug, Default)]
pub struct LbVipSets {
    /// The router's load balancers (as [`RouterCtx::lbs`]).
    pub lbs: Vec<Arc<LbSummary>>,
    /// `ips_v4`.
    pub v4: BTreeSet<String>,
    /// `ips_v6`.
    pub v6: BTreeSet<String>,
    /// `ips_v4_routable` (`add_route`).
    pub v4_routable: BTreeSet<String>,
    /// `ips_v6_routable`.
    pub v6_routable: BTreeSet<String>,
    /// Every VIP as met (load balancers in order, each one's VIPs in
    /// order): `(vip, ipv6, its load balancer's neighbor mode, address)`.
    each: Vec<(String, bool, NeighMode, Option<IpAddr>)>,
    /// The sset iteration orders, built on first use.
    pub orders: LbIpOrders,
}

impl PartialEq for LbVipSets {
    fn eq(&self, other: &Self) -> bool {
        self.lbs == other.lbs
    }
}
impl Eq for LbVipSets {}
impl PartialOrd for LbVipSets {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for LbVipSets {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.lbs.cmp(&other.lbs)
    }
}
impl std::hash::Hash for LbVipSets {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.lbs.hash(state)
    }
}

thread_local! {
    /// The VIP sets built last, by load balancer list: routers that share
    /// their load balancers share one [`LbVipSets`].
    static VIP_SETS: std::cell::RefCell<Vec<Arc<LbVipSets>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many distinct load balancer lists [`LbVipSets::of`] remembers.
const VIP_SETS_KEPT: usize = 8;

impl LbVipSets {
    /// The VIP sets of load balancers `lbs`: shared with the last routers
    /// that had the same ones (compared by content; equal lists give equal
    /// sets, so sharing changes no result).
    pub fn of(lbs: &[Arc<LbSummary>]) -> Arc<LbVipSets> {
        if lbs.is_empty() {
            return Arc::default();
        }
        VIP_SETS.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some(i) = cache.iter().position(|s| s.lbs.as_slice() == lbs) {
                let hit = cache.remove(i);
                cache.insert(0, hit.clone());
                return hit;
            }
            let sets = Arc::new(LbVipSets::build(lbs));
            cache.insert(0, sets.clone());
            cache.truncate(VIP_SETS_KEPT);
            sets
        })
    }

    fn build(lbs: &[Arc<LbSummary>]) -> LbVipSets {
        let mut s = LbVipSets {
            lbs: lbs.to_vec(),
            ..LbVipSets::default()
        };
        for lb in lbs {
            for (ip, v6, _) in &lb.vips {
                // `IN6_IS_ADDR_V4MAPPED(&lb_vip->vip)`: false for templates.
                let (all, routable) = if *v6 || lb.template {
                    (&mut s.v6, &mut s.v6_routable)
                } else {
                    (&mut s.v4, &mut s.v4_routable)
                };
                all.insert(ip.clone());
                if lb.routable {
                    routable.insert(ip.clone());
                }
                let addr = if *v6 {
                    ip.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
                } else {
                    ip.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
                };
                s.each.push((ip.clone(), *v6, lb.neigh_mode, addr));
            }
        }
        s
    }
}

impl LbIps {
    /// The VIP sets of a router with load balancers `lbs` and ports `ports`
    /// (`build_lrouter_lb_ips()` and `build_lrouter_lb_reachable_ips()`).
    pub fn new(lbs: &[Arc<LbSummary>], ports: &[LrpCtx]) -> LbIps {
        let sets = LbVipSets::of(lbs);
        let mut ips = LbIps::default();
        for (ip, v6, mode, addr) in &sets.each {
            let reachable = match mode {
                NeighMode::None => false,
                NeighMode::All => true,
                NeighMode::Reachable => addr.is_some_and(|a| ports.iter().any(|p| reachable(p, a))),
            };
            if reachable {
                if *v6 {
                    ips.v6_reachable.insert(ip.clone());
                } else {
                    ips.v4_reachable.insert(ip.clone());
                }
            }
        }
        ips.sets = sets;
        ips
    }

    /// Whether `ip` (either family) is a VIP of the router.
    pub fn contains(&self, ip: &str) -> bool {
        self.sets.v4.contains(ip) || self.sets.v6.contains(ip)
    }
}

/// `lrouter_port_ipv4_reachable()` / `lrouter_port_ipv6_reachable()`: `ip`
/// is on one of the port's networks.
fn reachable(p: &LrpCtx, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(ip) => p.net.ipv6.iter().any(|n| n.contains(ip)),
        IpAddr::V4(ip) => p.net.ipv4.iter().any(|n| n.contains(ip)),
    }
}

/// `lr_lb_address_set_name()`: the SB address set of a router's reachable
/// VIPs of one family.
pub fn address_set_name(tunnel_key: u32, v6: bool) -> String {
    format!("_rtr_lb_{tunnel_key}_ip{}", if v6 { "6" } else { "4" })
}

/// What the flows of a load balancer depend on about a router it applies
/// to, besides the router's identity and NAT addresses: routers of one
/// class get the same flows (northd adds them with one datapath group per
/// kind of router).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouterLbClass {
    /// `od->is_gw_router`.
    pub is_gw_router: bool,
    /// `lb_force_snat_ip` is set (addresses, or `router_ip` on a gateway
    /// router).
    pub force_snat: bool,
    /// The first distributed gateway port: `(json_key, cr json_key)`.
    pub dgp: Option<(String, String)>,
    /// The router's CoPP meter for `reject` (VIPs without backends).
    pub reject_meter: Option<String>,
    /// The router's CoPP meter for `event-elb` (empty-backend events).
    pub elb_meter: Option<String>,
}

impl RouterLbClass {
    /// The load-balancer class of router `r`.
    pub fn new(r: &RouterCtx) -> RouterLbClass {
        RouterLbClass {
            is_gw_router: r.is_gw_router(),
            force_snat: r.lb_force_snat(),
            dgp: r
                .l3dgw_ports()
                .next()
                .map(|p| (p.json_key(), super::cr_json_key(&p.lrp.name))),
            reject_meter: r.meter("reject"),
            elb_meter: r.meter("event-elb"),
        }
    }
}

/// The unSNAT bypass of `build_lrouter_nat_flows_for_lb()` on router `r`:
/// for each VIP of its load balancers that is also the external address of
/// one of its NAT rules (`od->external_ips`), a priority-120
/// `lr_in_unsnat` flow that skips unSNAT for the load balancer's traffic.
pub fn unsnat_bypass_flows(r: &RouterCtx) -> Vec<Lflow> {
    let mut out = Vec::new();
    if r.nats.is_empty() {
        return out;
    }
    let external_ips: BTreeSet<&str> = r.nats.iter().map(|n| n.nat.external_ip.as_str()).collect();
    for lb in &r.lbs {
        for (ip, v6, port) in &lb.vips {
            if !external_ips.contains(ip.as_str()) {
                continue;
            }
            let ipm = if *v6 { "ip6" } else { "ip4" };
            let proto = &lb.proto;
            let mut um = format!("{ipm} && {ipm}.dst == {ip} && {proto}");
            if let Some(p) = port {
                um.push_str(&format!(" && {proto}.dst == {p}"));
            }
            let mut f = Lflow::new(r.dp(), Stage::LrInUnsnat, 120, &um, "next;", 10748);
            f.hint = Some(lb.uuid);
            f.origin = (3, 0, None);
            out.push(f);
        }
    }
    out
}

/// Every flow of load balancer `lb` on the routers of class `r`, in
/// northd's order, but the unSNAT bypass ([`unsnat_bypass_flows`]). Their
/// `dp` is left nil: the caller attaches the routers.
pub fn lb_flows(lb: &ParsedLb, r: &RouterLbClass) -> Vec<Lflow> {
    let mut out = Vec::new();
    let dp = Uuid::nil();
    for vip in &lb.vips {
        let m = format!("ip && {}.dst == {}", vip.ip_match(), vip.ip);
        out.push(Lflow::new(
            dp,
            Stage::LrInDefrag,
            100,
            &m,
            "ct_dnat;",
            10857,
        ));
    }
    for vip in &lb.vips {
        nat_flows(lb, vip, r, dp, &mut out);
        if lb.controller_event && vip.backends.is_empty() && !lb.reject {
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
            out.push(
                Lflow::new(dp, Stage::LrInDnat, 130, &m, &a, 10889).meter(r.elb_meter.clone()),
            );
        }
    }
    for f in &mut out {
        f.hint = Some(lb.uuid);
    }
    if lb.skip_snat {
        out.push(Lflow::new(
            dp,
            Stage::LrOutSnat,
            120,
            "flags.skip_snat_for_lb == 1 && ip",
            "next;",
            10903,
        ));
    }
    for f in &mut out {
        f.origin = (3, 0, None);
    }
    out
}

/// The DNAT actions of a VIP on a router (`build_lb_vip_actions()` with
/// `ls_dp = false`): plain, with `skip_snat` and with `force_snat`.
fn vip_actions(lb: &ParsedLb, vip: &Vip) -> [String; 3] {
    let Some(backends) = vip.active_backends() else {
        return no_backend_actions(lb);
    };
    let mut body = format!("ct_lb_mark(backends={backends}");
    if let Some(f) = lb.selection_fields.as_ref().filter(|f| !f.is_empty()) {
        body.push_str(&format!("; hash_fields=\"{f}\""));
    }
    [
        format!("{body});"),
        format!("flags.skip_snat_for_lb = 1; {body}; skip_snat);"),
        format!("flags.force_snat_for_lb = 1; {body}; force_snat);"),
    ]
}

/// A VIP without (live) backends rejects with `options:reject=true`, else
/// drops.
fn no_backend_actions(lb: &ParsedLb) -> [String; 3] {
    if lb.reject {
        let a = format!(
            "reg0 = 0; reject {{ outport <-> inport; next(pipeline=egress,table={});}};",
            Stage::LrOutSnat.table()
        );
        return [
            a.clone(),
            format!("flags.skip_snat_for_lb = 1; {a}"),
            format!("flags.force_snat_for_lb = 1; {a}"),
        ];
    }
    [
        DROP.to_string(),
        format!("flags.skip_snat_for_lb = 1; {DROP}"),
        format!("flags.force_snat_for_lb = 1; {DROP}"),
    ]
}

/// `build_lrouter_nat_flows_for_lb()` for one VIP on one router: the
/// `lr_in_dnat` load-balancing flow (with a chassis check and the
/// `lr_out_undnat` flow on routers with a distributed gateway port),
/// and session affinity (the unSNAT bypass for VIPs that are also NAT
/// addresses is [`unsnat_bypass_flows`]).
fn nat_flows(lb: &ParsedLb, vip: &Vip, r: &RouterLbClass, dp: Uuid, out: &mut Vec<Lflow>) {
    let ipm = vip.ip_match();
    let proto = &lb.proto;
    let mut m = format!("ct.new && !ct.rel && {ipm} && {ipm}.dst == {}", vip.ip);
    let mut prio = 110;
    if let Some(p) = &vip.port {
        prio = 120;
        m.push_str(&format!(" && {proto} && {proto}.dst == {p}"));
    }
    let actions = vip_actions(lb, vip);
    // `build_lb_vip_actions()` rejects: the flow gets the router's `reject`
    // meter (`copp_meter_get(COPP_REJECT, …)`).
    let meter = (lb.reject && vip.active_backends().is_none())
        .then(|| r.reject_meter.clone())
        .flatten();
    let kind = if lb.skip_snat {
        1
    } else if r.force_snat {
        2
    } else {
        0
    };
    match &r.dgp {
        // Metered flows are added per router (`ovn_lflow_add_with_hint__()`),
        // the others with the datapath group.
        None => {
            let line = if meter.is_some() { 10597 } else { 10603 };
            out.push(Lflow::new(dp, Stage::LrInDnat, prio, &m, &actions[kind], line).meter(meter))
        }
        Some((dgp, cr)) => {
            let mut dm = m.clone();
            if !vip.backends.is_empty() || !lb.reject {
                dm.push_str(&format!(" && is_chassis_resident({cr})"));
            }
            out.push(
                Lflow::new(dp, Stage::LrInDnat, prio, &dm, &actions[kind], 10551).meter(meter),
            );
            if !vip.backends.is_empty() {
                let backends: Vec<String> = vip
                    .backends
                    .iter()
                    .map(|b| match &b.port_str {
                        Some(p) => format!("({ipm}.src == {} && {proto}.src == {p})", b.ip),
                        None => format!("({ipm}.src == {})", b.ip),
                    })
                    .collect();
                let um = format!(
                    "{ipm} && ({}) && outport == {dgp} && is_chassis_resident({cr})",
                    backends.join(" || ")
                );
                let ua = match kind {
                    2 => "flags.force_snat_for_lb = 1; next;",
                    1 => "flags.skip_snat_for_lb = 1; next;",
                    _ if r.is_gw_router => "ct_dnat;",
                    _ => "ct_dnat_in_czone;",
                };
                out.push(Lflow::new(dp, Stage::LrOutUndnat, 120, &um, ua, 10565));
            }
        }
    }
    if lb.affinity_timeout > 0 {
        let action = if r.force_snat {
            Some("flags.force_snat_for_lb = 1; ")
        } else if lb.skip_snat {
            Some("flags.skip_snat_for_lb = 1; ")
        } else {
            None
        };
        affinity(lb, vip, &m, action, dp, out);
    }
}

/// `build_lb_affinity_lr_flows()`: `lr_in_lb_aff_check` looks the client
/// up, `lr_in_dnat` priority 150 sends a known client to its backend,
/// `lr_in_lb_aff_learn` learns a new client's backend.
fn affinity(
    lb: &ParsedLb,
    vip: &Vip,
    new_match: &str,
    lb_action: Option<&str>,
    dp: Uuid,
    out: &mut Vec<Lflow>,
) {
    // Registers and families follow the VIP's address, not its family
    // (`Vip::affinity_v6`).
    let (ipm, reg_vip, reg_backend) = if vip.affinity_v6() {
        ("ip6", "xxreg0", "xxreg1")
    } else {
        ("ip4", "reg0", "reg4")
    };
    let ct_flag = match lb_action {
        Some("flags.skip_snat_for_lb = 1; ") => "; skip_snat",
        Some("flags.force_snat_for_lb = 1; ") => "; force_snat",
        _ => "",
    };
    let mut check = format!("{reg_vip} = {ipm}.dst; ");
    if vip.port.is_some() {
        check.push_str(&format!("reg9[16..31] = {}.dst; ", lb.proto));
    }
    check.push_str("reg9[6] = chk_lb_aff(); next;");
    out.push(Lflow::new(
        dp,
        Stage::LrInLbAffCheck,
        100,
        new_match,
        &check,
        7200,
    ));
    let action_head = format!(
        "{reg_vip} = {}; {}ct_lb_mark(backends=",
        vip.ip,
        lb_action.unwrap_or("")
    );
    let learn_head = format!(
        "commit_lb_aff(vip = \"{}\", backend = \"",
        vip.affinity_with_port()
    );
    let learn_match_head = match &vip.port {
        Some(p) => format!(
            "reg9[6] == 0 && ct.new && {ipm} && {reg_vip} == {} && reg9[16..31] == {p} && {ipm}.dst == ",
            vip.ip
        ),
        None => format!(
            "reg9[6] == 0 && ct.new && {ipm} && {reg_vip} == {} && {ipm}.dst == ",
            vip.ip
        ),
    };
    for b in &vip.backends {
        let backend = crate::rules::lb::switch::affinity_backend(vip, b);
        let mut learn_match = format!("{learn_match_head}{}", b.ip);
        let mut aff_match = format!(
            "reg9[6] == 1 && ct.new && {ipm} && {reg_backend} == {}",
            b.ip
        );
        if let Some(p) = b.port {
            learn_match.push_str(&format!(" && {}.dst == {p}", lb.proto));
            aff_match.push_str(&format!(" && reg8[0..15] == {p}"));
        }
        let action = format!("{action_head}{backend}{ct_flag});");
        let mut learn = format!("{learn_head}{backend}\"");
        if vip.port.is_some() {
            learn.push_str(&format!(", proto = {}", lb.proto));
        }
        learn.push_str(&format!(", timeout = {}); /* drop */", lb.affinity_timeout));
        out.push(Lflow::new(
            dp,
            Stage::LrInLbAffLearn,
            100,
            &learn_match,
            &learn,
            7281,
        ));
        out.push(Lflow::new(
            dp,
            Stage::LrInDnat,
            150,
            &aff_match,
            &action,
            7287,
        ));
    }
}
