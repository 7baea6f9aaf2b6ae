//! Option tables for `put_dhcp_opts`, `put_dhcpv6_opts`, `put_nd_ra_opts`
//! and `trigger_event` (`struct gen_opts_map` in `lib/ovn-l7.h`).
//!
//! ovn-controller fills the DHCP tables from the southbound `DHCP_Options`
//! and `DHCPv6_Options` tables; the ND RA and controller-event tables are
//! fixed ([`OptionTable::nd_ra`], [`OptionTable::empty_lb_backends`]).

use std::collections::BTreeMap;
use std::sync::Arc;

/// The value type of an option (the `type` column of `DHCP_Options`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionType {
    /// One or more IPv4 addresses.
    Ipv4,
    /// One or more IPv6 addresses.
    Ipv6,
    /// A string.
    Str,
    /// 0 or 1.
    Bool,
    /// 8-bit integer.
    Uint8,
    /// 16-bit integer.
    Uint16,
    /// 32-bit integer.
    Uint32,
    /// An IPv4 address or a host name.
    HostId,
    /// Classless static routes: pairs of prefix and next hop.
    StaticRoutes,
    /// A comma-separated domain search list.
    Domains,
    /// An Ethernet address.
    Mac,
}

impl OptionType {
    /// Parses the type names used in `DHCP_Options.type`.
    pub fn from_name(name: &str) -> Option<OptionType> {
        Some(match name {
            "ipv4" => OptionType::Ipv4,
            "ipv6" => OptionType::Ipv6,
            "str" => OptionType::Str,
            "bool" => OptionType::Bool,
            "uint8" => OptionType::Uint8,
            "uint16" => OptionType::Uint16,
            "uint32" => OptionType::Uint32,
            "host_id" => OptionType::HostId,
            "static_routes" => OptionType::StaticRoutes,
            "domains" => OptionType::Domains,
            "mac" => OptionType::Mac,
            _ => return None,
        })
    }

    /// Whether values must be strings (otherwise integers, except
    /// `host_id`, which takes either).
    pub fn wants_string(self) -> bool {
        matches!(self, OptionType::Str | OptionType::Domains)
    }
}

/// One option definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GenOpt {
    /// Name used in actions.
    pub name: String,
    /// Option code on the wire.
    pub code: u16,
    /// Value type.
    pub ty: OptionType,
}

/// Option definitions by name.
#[derive(Debug, Clone, Default)]
pub struct OptionTable {
    opts: BTreeMap<String, Arc<GenOpt>>,
}

/// ND RA pseudo-option: address mode (`ND_RA_FLAG_ADDR_MODE`).
pub const ND_RA_FLAG_ADDR_MODE: u16 = 0;
/// ND RA pseudo-option: router preference (`ND_RA_FLAG_PRF`).
pub const ND_RA_FLAG_PRF: u16 = 255;
/// Source link-layer address option.
pub const ND_OPT_SOURCE_LINKADDR: u16 = 1;
/// Prefix information option.
pub const ND_OPT_PREFIX_INFORMATION: u16 = 3;
/// MTU option.
pub const ND_OPT_MTU: u16 = 5;
/// Route information option.
pub const ND_OPT_ROUTE_INFO_TYPE: u16 = 24;
/// Recursive DNS server option.
pub const ND_OPT_RDNSS: u16 = 25;
/// DNS search list option.
pub const ND_OPT_DNSSL: u16 = 31;
/// `empty_lb_backends` option codes.
pub const EMPTY_LB_VIP: u16 = 1;
/// See [`EMPTY_LB_VIP`].
pub const EMPTY_LB_PROTOCOL: u16 = 2;
/// See [`EMPTY_LB_VIP`].
pub const EMPTY_LB_LOAD_BALANCER: u16 = 3;

impl OptionTable {
    /// An empty table.
    pub fn new() -> OptionTable {
        OptionTable::default()
    }

    /// Adds (or replaces) an option.
    pub fn add(&mut self, name: &str, code: u16, ty: OptionType) {
        self.opts.insert(
            name.to_string(),
            Arc::new(GenOpt {
                name: name.to_string(),
                code,
                ty,
            }),
        );
    }

    /// Looks up an option by name.
    pub fn get(&self, name: &str) -> Option<&Arc<GenOpt>> {
        self.opts.get(name)
    }

    /// The IPv6 router-advertisement options (`nd_ra_opts_init`).
    pub fn nd_ra() -> OptionTable {
        let mut t = OptionTable::new();
        t.add("addr_mode", ND_RA_FLAG_ADDR_MODE, OptionType::Str);
        t.add("router_preference", ND_RA_FLAG_PRF, OptionType::Str);
        t.add("slla", ND_OPT_SOURCE_LINKADDR, OptionType::Mac);
        t.add("prefix", ND_OPT_PREFIX_INFORMATION, OptionType::Ipv6);
        t.add("mtu", ND_OPT_MTU, OptionType::Uint32);
        t.add("rdnss", ND_OPT_RDNSS, OptionType::Ipv6);
        t.add("dnssl", ND_OPT_DNSSL, OptionType::Str);
        t.add("route_info", ND_OPT_ROUTE_INFO_TYPE, OptionType::Str);
        t
    }

    /// The options of the `empty_lb_backends` controller event
    /// (`controller_event_opts_init`).
    pub fn empty_lb_backends() -> OptionTable {
        let mut t = OptionTable::new();
        t.add("vip", EMPTY_LB_VIP, OptionType::Str);
        t.add("protocol", EMPTY_LB_PROTOCOL, OptionType::Str);
        t.add("load_balancer", EMPTY_LB_LOAD_BALANCER, OptionType::Str);
        t
    }
}
