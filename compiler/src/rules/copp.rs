//! Control plane protection (CoPP): the `controller_meter` northd puts on
//! flows whose actions send packets to ovn-controller
//! (`copp_meter_get()` in lib/copp.c).
//!
//! A switch's (or router's) NB `Copp` row maps a control protocol name
//! (`arp`, `arp-resolve`, `dhcpv4-opts`, `dhcpv6-opts`, `dns`, `event-elb`,
//! `icmp4-error`, `icmp6-error`, `igmp`, `nd-na`, `nd-ns`,
//! `nd-ns-resolve`, `nd-ra-opts`, `tcp-reset`, `reject`, `svc-monitor`,
//! `bfd`) to a meter name; the flow gets the meter only when an NB `Meter`
//! of that name exists. Flows with different meters are different SB rows
//! (the meter is part of a flow's identity).
//!
//! Metered on switches: `reject` ACLs, `dhcpv4-opts`/`dhcpv6-opts`,
//! `nd-na` replies, `dns`, `svc-monitor`, `igmp` (snooping), and the
//! load-balancer `reject` / `event-elb` flows (`rules::lb::switch`, split
//! per switch by the render). On routers (`RouterCtx::meter`): `arp` /
//! `nd-na` / `nd-ns` learning, `arp-resolve` / `nd-ns-resolve` requests,
//! `nd-na` replies (own, NAT and VIP addresses), `nd-ra-opts`,
//! `icmp4-error` / `icmp6-error` (port unreachable, time exceeded, packet
//! too big), `tcp-reset` (TCP resets and SCTP aborts), and the
//! load-balancer `reject` / `event-elb` flows, and `bfd` (`handle_bfd_msg()`
//! in `lr_in_ip_input`). `igmp` also meters the punting of IGMP/MLD from
//! `remote` ports of interconnect switches (`rules::multicast`).

/// The resolved CoPP of one switch or router: `(protocol, meter)` for the
/// protocols whose meter exists, sorted by protocol.
pub type Copp = Vec<(String, String)>;

/// The meter of `proto` in `copp`, if any.
pub fn meter(copp: &[(String, String)], proto: &str) -> Option<String> {
    copp.iter()
        .find(|(p, _)| p == proto)
        .map(|(_, m)| m.clone())
}
