//! Port security of the VIFs bound here: OpenFlow tables 73 (in), 74
//! (in, ARP/ND) and 75 (out), as ovn-controller 23.03 builds them from
//! `Port_Binding.port_security` (`consider_port_sec_flows`,
//! controller/lflow.c:2397-3151).  The logical pipeline reaches them with
//! `check_in_port_sec()` / `check_out_port_sec()`; each flow sets or
//! clears `MLF_CHECK_PORT_SEC` (reg10 bit 12, 1 = failed).
//!
//! Reproduced as 23.03 does it, oddities included: the IPv6 NS/NA flows
//! of table 74 match `nw_ttl=225` (not 255), the link-local NA flows do not
//! match `eth.src`, and every `port_security` entry's MAC gets an
//! "allow `eth.dst`" flow in table 75 whatever its IP addresses.

use ovsdb::sb::PortBinding;

use crate::actions::OfAction;
use crate::addresses::{extract_lsp_addresses, lla, LportAddresses};
use crate::expr::symtab::Field;
use crate::expr::{OfMatch, Slot};
use crate::flow_table::{FlowTable, OfFlow};
use crate::physical::load;
use ovsdb::ovs_hash::uuid_hash;

/// `OFTABLE_CHK_IN_PORT_SEC`.
pub const CHK_IN_PORT_SEC: u8 = 73;
/// `OFTABLE_CHK_IN_PORT_SEC_ND`.
pub const CHK_IN_PORT_SEC_ND: u8 = 74;
/// `OFTABLE_CHK_OUT_PORT_SEC`.
pub const CHK_OUT_PORT_SEC: u8 = 75;
/// `MLF_CHECK_PORT_SEC_BIT`.
const CHECK_PORT_SEC_BIT: u32 = 12;

const ETH_IP: u128 = 0x0800;
const ETH_ARP: u128 = 0x0806;
const ETH_IPV6: u128 = 0x86dd;
const ICMPV6: u128 = 58;
const EXACT32: u128 = 0xffff_ffff;

fn deny() -> Vec<OfAction> {
    vec![load(Field::Reg(10), 1, CHECK_PORT_SEC_BIT, 1)]
}

fn allow() -> Vec<OfAction> {
    vec![load(Field::Reg(10), 0, CHECK_PORT_SEC_BIT, 1)]
}

fn to_nd_check() -> Vec<OfAction> {
    vec![OfAction::Resubmit(CHK_IN_PORT_SEC_ND)]
}

/// Adds flows for one port binding, keeping its cookie and datapath.
struct PortSec<'a> {
    dp_key: i64,
    pb: &'a PortBinding,
    flows: &'a mut FlowTable,
}

impl PortSec<'_> {
    /// `reset_match_for_port_sec_flows`: `metadata` and `reg14`/`reg15`.
    fn base(&self, reg: u8) -> OfMatch {
        let mut m = OfMatch::new();
        m.set_metadata(self.dp_key as u64);
        m.set_field(
            Field::Reg(reg),
            self.pb.tunnel_key as u128 & EXACT32,
            EXACT32,
        );
        m
    }

    fn inport(&self) -> OfMatch {
        self.base(14)
    }

    fn outport(&self) -> OfMatch {
        self.base(15)
    }

    fn add(&mut self, table: u8, priority: u16, m: &OfMatch, actions: Vec<OfAction>) {
        self.flows.add(OfFlow {
            table,
            priority,
            cookie: u64::from(uuid_hash(&self.pb.uuid)),
            of_match: m.clone(),
            actions,
        });
    }

    /// `build_in_port_sec_default_flows`.
    fn in_defaults(&mut self) {
        let mut m = self.inport();
        self.add(CHK_IN_PORT_SEC, 80, &m, deny());
        m.set_field(Field::EthType, ETH_ARP, 0xffff);
        self.add(CHK_IN_PORT_SEC, 95, &m, to_nd_check());
        self.add(CHK_IN_PORT_SEC_ND, 80, &m, deny());
        set_icmp6(&mut m, 255, 136);
        self.add(CHK_IN_PORT_SEC_ND, 80, &m, deny());
        m.set_field(Field::Icmpv6Type, 135, 0xff);
        self.add(CHK_IN_PORT_SEC_ND, 80, &m, allow());
    }

    fn in_with_mac(&self, ps: &LportAddresses, eth_type: u128) -> OfMatch {
        let mut m = self.inport();
        m.set_field(Field::EthSrc, u128::from(ps.ea), MAC);
        if eth_type != 0 {
            m.set_field(Field::EthType, eth_type, 0xffff);
        }
        m
    }

    fn out_with_mac(&self, ps: &LportAddresses, eth_type: u128) -> OfMatch {
        let mut m = self.outport();
        m.set_field(Field::EthDst, u128::from(ps.ea), MAC);
        if eth_type != 0 {
            m.set_field(Field::EthType, eth_type, 0xffff);
        }
        m
    }

    /// `build_in_port_sec_no_ip_flows`.
    fn in_no_ip(&mut self, ps: &LportAddresses) {
        if ps.ipv4.is_empty() && ps.ipv6.is_empty() {
            let m = self.in_with_mac(ps, 0);
            self.add(CHK_IN_PORT_SEC, 90, &m, to_nd_check());
        }
    }

    /// `build_in_port_sec_ip4_flows`.
    fn in_ip4(&mut self, ps: &LportAddresses) {
        if ps.ipv4.is_empty() {
            return;
        }
        for a in &ps.ipv4 {
            let mut m = self.in_with_mac(ps, ETH_IP);
            set_ipv4(&mut m, Field::Ipv4Src, a);
            self.add(CHK_IN_PORT_SEC, 90, &m, allow());
        }
        // DHCP requests.
        let mut m = self.in_with_mac(ps, ETH_IP);
        m.set_field(Field::Ipv4Src, 0, EXACT32);
        m.set_field(Field::Ipv4Dst, EXACT32, EXACT32);
        m.set_field(Field::IpProto, 17, 0xff);
        m.set_field(Field::UdpSrc, 68, 0xffff);
        m.set_field(Field::UdpDst, 67, 0xffff);
        self.add(CHK_IN_PORT_SEC, 90, &m, allow());
    }

    /// `build_in_port_sec_arp_flows`.
    fn in_arp(&mut self, ps: &LportAddresses) {
        if ps.ipv4.is_empty() && !ps.ipv6.is_empty() {
            return;
        }
        let arp = |s: &Self| {
            let mut m = s.in_with_mac(ps, ETH_ARP);
            m.set_field(Field::ArpSha, u128::from(ps.ea), MAC);
            m
        };
        if ps.ipv4.is_empty() {
            let m = arp(self);
            self.add(CHK_IN_PORT_SEC_ND, 90, &m, allow());
        }
        for a in &ps.ipv4 {
            let mut m = arp(self);
            set_ipv4(&mut m, Field::ArpSpa, a);
            self.add(CHK_IN_PORT_SEC_ND, 90, &m, allow());
        }
    }

    /// `build_in_port_sec_ip6_flows`.
    fn in_ip6(&mut self, ps: &LportAddresses) {
        if ps.ipv6.is_empty() {
            return;
        }
        for a in &ps.ipv6 {
            let mut m = self.in_with_mac(ps, ETH_IPV6);
            set_ipv6(&mut m, Field::Ipv6Src, a);
            self.add(CHK_IN_PORT_SEC, 90, &m, to_nd_check());
        }
        let mut m = self.in_with_mac(ps, ETH_IPV6);
        m.set_field(Field::Ipv6Src, lla(ps.ea), u128::MAX);
        self.add(CHK_IN_PORT_SEC, 90, &m, to_nd_check());

        // MLD reports from `::` to ff02::/16.
        m.set_field(Field::Ipv6Src, 0, u128::MAX);
        m.set_field(Field::Ipv6Dst, 0xff02 << 112, 0xffff << 112);
        m.set_field(Field::IpProto, ICMPV6, 0xff);
        m.set_field(Field::Icmpv6Type, 131, 0xff);
        m.set_field(Field::Icmpv6Code, 0, 0xff);
        self.add(CHK_IN_PORT_SEC, 90, &m, allow());
        m.set_field(Field::Icmpv6Type, 143, 0xff);
        self.add(CHK_IN_PORT_SEC, 90, &m, allow());
        // Duplicate address detection NS.
        m.set_field(Field::Icmpv6Type, 135, 0xff);
        self.add(CHK_IN_PORT_SEC, 90, &m, to_nd_check());
    }

    /// `build_in_port_sec_nd_flows`.
    fn in_nd(&mut self, ps: &LportAddresses) {
        let ea = u128::from(ps.ea);
        let mut m = self.inport();
        m.set_field(Field::EthType, ETH_IPV6, 0xffff);
        set_icmp6(&mut m, 225, 135);
        m.set_field(Field::Icmpv6Code, 0, 0xff);
        for sll in [0, ea] {
            m.set_field(Field::NdSll, sll, MAC);
            self.add(CHK_IN_PORT_SEC_ND, 90, &m, allow());
        }
        // An NA carries no source link-layer address: OVS leaves `nd_sll`
        // out of the match once the ICMPv6 type is 136.
        m.set_slot(Slot::ArpSha, 0, 0);
        m.set_field(Field::Icmpv6Type, 136, 0xff);
        m.set_field(Field::Icmpv6Code, 0, 0xff);
        if ps.ipv6.is_empty() {
            for tll in [0, ea] {
                m.set_field(Field::NdTll, tll, MAC);
                self.add(CHK_IN_PORT_SEC_ND, 90, &m, allow());
            }
            return;
        }
        m.set_field(Field::NdTarget, lla(ps.ea), u128::MAX);
        for tll in [0, ea] {
            m.set_field(Field::NdTll, tll, MAC);
            self.add(CHK_IN_PORT_SEC_ND, 90, &m, allow());
        }
        for a in &ps.ipv6 {
            let mut m = self.in_with_mac(ps, ETH_IPV6);
            m.set_field(Field::IpProto, ICMPV6, 0xff);
            m.set_field(Field::Icmpv6Type, 136, 0xff);
            m.set_field(Field::Icmpv6Code, 0, 0xff);
            set_ipv6(&mut m, Field::NdTarget, a);
            for tll in [0, ea] {
                m.set_field(Field::NdTll, tll, MAC);
                self.add(CHK_IN_PORT_SEC_ND, 90, &m, allow());
            }
        }
    }

    /// `build_out_port_sec_no_ip_flows`.
    fn out_no_ip(&mut self, ps: &LportAddresses) {
        let m = self.out_with_mac(ps, 0);
        self.add(CHK_OUT_PORT_SEC, 85, &m, allow());
    }

    /// `build_out_port_sec_ip4_flows`.
    fn out_ip4(&mut self, ps: &LportAddresses) {
        if ps.ipv4.is_empty() && ps.ipv6.is_empty() {
            return;
        }
        let m = self.out_with_mac(ps, ETH_IP);
        self.add(CHK_OUT_PORT_SEC, 90, &m, deny());
        if ps.ipv4.is_empty() {
            return;
        }
        for a in &ps.ipv4 {
            let mut m = self.out_with_mac(ps, ETH_IP);
            if a.is_host() && a.plen != 32 {
                m.set_field(Field::Ipv4Dst, u128::from(a.bcast()), EXACT32);
                self.add(CHK_OUT_PORT_SEC, 95, &m, allow());
            }
            set_ipv4(&mut m, Field::Ipv4Dst, a);
            self.add(CHK_OUT_PORT_SEC, 95, &m, allow());
        }
        let mut m = self.out_with_mac(ps, ETH_IP);
        m.set_field(Field::Ipv4Dst, EXACT32, EXACT32);
        self.add(CHK_OUT_PORT_SEC, 95, &m, allow());
        m.set_field(Field::Ipv4Dst, 0xe000_0000, 0xf000_0000);
        self.add(CHK_OUT_PORT_SEC, 95, &m, allow());
    }

    /// `build_out_port_sec_ip6_flows`.
    fn out_ip6(&mut self, ps: &LportAddresses) {
        if ps.ipv4.is_empty() && ps.ipv6.is_empty() {
            return;
        }
        let m = self.out_with_mac(ps, ETH_IPV6);
        self.add(CHK_OUT_PORT_SEC, 90, &m, deny());
        if ps.ipv6.is_empty() {
            return;
        }
        for a in &ps.ipv6 {
            let mut m = self.out_with_mac(ps, ETH_IPV6);
            set_ipv6(&mut m, Field::Ipv6Dst, a);
            self.add(CHK_OUT_PORT_SEC, 95, &m, allow());
        }
        let mut m = self.out_with_mac(ps, ETH_IPV6);
        m.set_field(Field::Ipv6Dst, lla(ps.ea), u128::MAX);
        self.add(CHK_OUT_PORT_SEC, 95, &m, allow());
        m.set_field(Field::Ipv6Dst, 0xff << 120, 0xff << 120);
        self.add(CHK_OUT_PORT_SEC, 95, &m, allow());
    }
}

const MAC: u128 = 0xffff_ffff_ffff;

fn set_icmp6(m: &mut OfMatch, ttl: u128, icmp_type: u128) {
    m.set_field(Field::EthType, ETH_IPV6, 0xffff);
    m.set_field(Field::IpProto, ICMPV6, 0xff);
    m.set_field(Field::IpTtl, ttl, 0xff);
    m.set_field(Field::Icmpv6Type, icmp_type, 0xff);
}

/// The address itself if it is a host address, else its subnet.
fn set_ipv4(m: &mut OfMatch, field: Field, a: &crate::addresses::Ipv4Net) {
    if a.is_host() {
        m.set_field(field, u128::from(a.addr), EXACT32);
    } else {
        m.set_field(field, u128::from(a.addr), u128::from(a.mask()));
    }
}

fn set_ipv6(m: &mut OfMatch, field: Field, a: &crate::addresses::Ipv6Net) {
    if a.is_host() {
        m.set_field(field, a.addr, u128::MAX);
    } else {
        m.set_field(field, a.network(), a.mask());
    }
}

/// `consider_port_sec_flows` for a port bound to this chassis on the
/// datapath with tunnel key `dp_key`.  Entries without a MAC are ignored
/// (ovn-controller logs them).
pub fn consider_port_sec_flows(dp_key: i64, pb: &PortBinding, flows: &mut FlowTable) {
    let addrs: Vec<LportAddresses> = pb
        .port_security
        .iter()
        .filter_map(|s| extract_lsp_addresses(s))
        .collect();
    if addrs.is_empty() {
        return;
    }
    let mut ps = PortSec { dp_key, pb, flows };
    ps.in_defaults();
    for a in &addrs {
        ps.in_no_ip(a);
        ps.in_ip4(a);
        ps.in_arp(a);
        ps.in_ip6(a);
        ps.in_nd(a);
    }
    let m = ps.outport();
    ps.add(CHK_OUT_PORT_SEC, 80, &m, deny());
    for a in &addrs {
        ps.out_no_ip(a);
        ps.out_ip4(a);
        ps.out_ip6(a);
    }
}
