//! Learned multicast groups: what northd 23.03 makes of the SB `IGMP_Group`
//! rows ovn-controller writes (`build_mcast_groups()`,
//! `ovn_igmp_group_*()`, `build_lswitch_ip_mcast_igmp_mld()` and
//! `build_mcast_lookup_flows_for_lrouter()` in northd.c).
//!
//! - The rows of one (switch, group address) are aggregated into one
//!   `Multicast_Group` named by the address, with the union of their ports
//!   (minus ports flooding multicast statically and router ports of relaying
//!   routers) plus the switch's localnet ports, and one `ls_in_l2_lkup`
//!   priority-90 flow (not for link-local groups).
//! - `mrouters` rows add their ports to the switch's `_MC_mrouter_flood`.
//! - Each group of a switch is relayed to the routers with `mcast_relay`
//!   the switch connects to (router port not flooding statically; IPv4 or
//!   routable IPv6 groups): a `Multicast_Group` of the router holding the
//!   router port (its chassisredirect port for a distributed gateway port)
//!   and an `lr_in_ip_routing` priority-10500 flow.
//!
//! Group tunnel keys are allocated per datapath from 32774 up (after the
//! hint `OVN_MIN_IP_MULTICAST`), lowest free first; a group keeps the key of
//! its existing `Multicast_Group` row.

use std::net::Ipv6Addr;

use ovsdb::Uuid;

use super::multicast::{MC_MROUTER_FLOOD, MC_STATIC};
use super::Lflow;
use crate::stage::Stage;

/// The `address` of `IGMP_Group` rows standing for multicast routers
/// (`OVN_IGMP_GROUP_MROUTERS`).
pub const MROUTERS: &str = "mrouters";

/// The first key `ovn_mcast_group_allocate_key()` gives.
pub const GROUP_KEY_MIN: u32 = 32774;
/// The last group key (`OVN_MAX_IP_MULTICAST`).
pub const GROUP_KEY_MAX: u32 = 65535;

/// A group address as northd keys groups (`struct in6_addr`, IPv4 mapped):
/// `mrouters` is all zeros; `None` for an address neither `ip_parse()` nor
/// `ipv6_parse()` reads (northd skips the row).
pub fn group_address(address: &str) -> Option<Ipv6Addr> {
    if address == MROUTERS {
        return Some(Ipv6Addr::UNSPECIFIED);
    }
    if let Ok(v4) = address.parse::<std::net::Ipv4Addr>() {
        return Some(v4.to_ipv6_mapped());
    }
    address.parse::<Ipv6Addr>().ok()
}

/// `IN6_IS_ADDR_V4MAPPED()`.
pub fn is_v4(addr: &Ipv6Addr) -> bool {
    addr.to_ipv4_mapped().is_some()
}

/// `ipv6_addr_is_routable_multicast()`: multicast with a scope other than
/// 0, 1, 2, 3 and 15 (RFC 4291, 2.7).
fn ipv6_routable_multicast(addr: &Ipv6Addr) -> bool {
    let o = addr.octets();
    o[0] == 0xff && !matches!(o[1] & 0x0f, 0x0 | 0x1 | 0x2 | 0x3 | 0xf)
}

/// Whether a switch group is relayed to routers: IPv4, or routable IPv6.
pub fn relayed(addr: &Ipv6Addr) -> bool {
    is_v4(addr) || ipv6_routable_multicast(addr)
}

/// Whether a switch group gets its `ls_in_l2_lkup` flow: not 224.0.0.X
/// (RFC 4541, 2.1.2) and not the IPv6 all-hosts, all-routers or
/// all-site-routers groups (RFC 4291, 2.7.1).
pub fn has_switch_flow(addr: &Ipv6Addr) -> bool {
    match addr.to_ipv4_mapped() {
        Some(v4) => (u32::from(v4) & 0xffff_ff00) != 0xe000_0000,
        None => {
            let special: [Ipv6Addr; 3] = [
                "ff02::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
                "ff02::2".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
                "ff05::2".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
            ];
            !special.contains(addr)
        }
    }
}

/// What a switch's group flows depend on (`od->mcast_info.sw`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwitchFlood {
    /// `flood_relay`: a router port of the switch relays multicast.
    pub relay: bool,
    /// `flood_static`: an enabled port has `mcast_flood=true`.
    pub static_: bool,
    /// `table_size` (`mcast_table_size`).
    pub table_size: u64,
}

/// The `ls_in_l2_lkup` priority-90 flow of group `name` on switch `ls`.
pub fn switch_group_flow(ls: Uuid, name: &str, addr: &Ipv6Addr, f: SwitchFlood) -> Lflow {
    let v = if is_v4(addr) { "4" } else { "6" };
    let m = format!("eth.mcast && ip{v} && ip{v}.dst == {name} ");
    let mut a = String::new();
    if f.relay {
        a.push_str(&format!(
            "clone {{ outport = \"{}\"; output; }};",
            MC_MROUTER_FLOOD.0
        ));
    }
    if f.static_ {
        a.push_str(&format!(
            "clone {{ outport =\"{}\"; output; }};",
            MC_STATIC.0
        ));
    }
    a.push_str(&format!("outport = \"{name}\"; output; "));
    Lflow::new(ls, Stage::LsInL2Lkup, 90, &m, &a, 9080)
}

/// The flows of a switch's groups `(address, name)`: at most `table_size`
/// IPv4 and `table_size` IPv6 groups get one (northd counts the groups it
/// meets in its groups hmap; we take them in address order).
pub fn switch_group_flows<'a>(
    ls: Uuid,
    groups: impl IntoIterator<Item = (&'a Ipv6Addr, &'a str)>,
    f: SwitchFlood,
) -> Vec<Lflow> {
    let (mut n4, mut n6) = (0u64, 0u64);
    let mut out = Vec::new();
    for (addr, name) in groups {
        if !has_switch_flow(addr) {
            continue;
        }
        let n = if is_v4(addr) { &mut n4 } else { &mut n6 };
        if *n >= f.table_size {
            continue;
        }
        *n += 1;
        out.push(switch_group_flow(ls, name, addr, f));
    }
    out
}

/// The `lr_in_ip_routing` priority-10500 flow of group `name` on relaying
/// router `lr`; `flood_static`: a port of the router has `mcast_flood=true`.
pub fn router_group_flow(lr: Uuid, name: &str, addr: &Ipv6Addr, flood_static: bool) -> Lflow {
    let v = if is_v4(addr) { "4" } else { "6" };
    let m = format!("ip{v} && ip{v}.dst == {name} ");
    let mut a = String::new();
    if flood_static {
        a.push_str(&format!(
            "clone {{ outport = \"{}\"; ip.ttl--; next; }};",
            MC_STATIC.0
        ));
    }
    a.push_str(&format!("outport = \"{name}\"; ip.ttl--; next;"));
    Lflow::new(lr, Stage::LrInIpRouting, 10500, &m, &a, 12141)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_classify_as_northd() {
        let v4 = group_address("239.1.1.1").unwrap();
        assert!(is_v4(&v4) && relayed(&v4) && has_switch_flow(&v4));
        let local = group_address("224.0.0.251").unwrap();
        assert!(relayed(&local) && !has_switch_flow(&local));
        let site = group_address("ff05::2").unwrap();
        assert!(!is_v4(&site) && relayed(&site) && !has_switch_flow(&site));
        let link = group_address("ff02::1:3").unwrap();
        assert!(!relayed(&link) && has_switch_flow(&link));
        assert_eq!(group_address(MROUTERS), Some(Ipv6Addr::UNSPECIFIED));
        assert_eq!(group_address("239.1.1"), None);
    }

    #[test]
    fn table_size_caps_each_family() {
        let a: Vec<(Ipv6Addr, String)> = ["239.0.0.1", "239.0.0.2", "ff0e::1"]
            .iter()
            .map(|s| (group_address(s).unwrap(), s.to_string()))
            .collect();
        let f = SwitchFlood {
            relay: true,
            static_: false,
            table_size: 1,
        };
        let flows = switch_group_flows(Uuid::nil(), a.iter().map(|(x, n)| (x, n.as_str())), f);
        assert_eq!(flows.len(), 2);
        assert_eq!(
            &*flows[0].actions,
            "clone { outport = \"_MC_mrouter_flood\"; output; };outport = \"239.0.0.1\"; output; "
        );
    }
}
