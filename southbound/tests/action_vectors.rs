//! OVN's "action parsing" test vectors (tests/ovn.at at v23.03.1, run there
//! through `ovstest test-ovn parse-actions`), replayed against our parser,
//! formatter and encoder in the fixed context `test_parse_actions` uses.

mod expr_common;

use std::collections::BTreeMap;

use ovnflow_southbound::actions::{
    self, encode, EncodeContext, ExtendTable, Features, OfActions, OptionTable, OptionType,
    ParseContext, Pipeline, Tables,
};
use ovnflow_southbound::expr::symtab::Field;
use ovnflow_southbound::expr::SymbolTable;

/// One vector: the input line and the indented lines after it.
struct Vector {
    input: String,
    expected: Vec<String>,
}

fn vectors() -> Vec<Vector> {
    let mut out: Vec<Vector> = Vec::new();
    for line in include_str!("data/actions.txt").lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(v) = out.last_mut() {
                v.expected.push(line.to_string());
            }
        } else if !line.trim().is_empty() && !line.starts_with('#') {
            out.push(Vector {
                input: line.to_string(),
                expected: Vec::new(),
            });
        }
    }
    out
}

/// `create_gen_opts` of test-ovn.c.
fn dhcp_opts() -> (OptionTable, OptionTable) {
    use OptionType::*;
    let mut v4 = OptionTable::new();
    for (name, code, ty) in [
        ("offerip", 0, Ipv4),
        ("netmask", 1, Ipv4),
        ("router", 3, Ipv4),
        ("dns_server", 6, Ipv4),
        ("log_server", 7, Ipv4),
        ("lpr_server", 9, Ipv4),
        ("hostname", 12, Str),
        ("domain_name", 15, Str),
        ("swap_server", 16, Ipv4),
        ("policy_filter", 21, Ipv4),
        ("router_solicitation", 32, Ipv4),
        ("nis_server", 41, Ipv4),
        ("ntp_server", 42, Ipv4),
        ("server_id", 54, Ipv4),
        ("tftp_server", 66, HostId),
        ("classless_static_route", 121, StaticRoutes),
        ("ip_forward_enable", 19, Bool),
        ("router_discovery", 31, Bool),
        ("ethernet_encap", 36, Bool),
        ("default_ttl", 23, Uint8),
        ("tcp_ttl", 37, Uint8),
        ("mtu", 26, Uint16),
        ("lease_time", 51, Uint32),
        ("wpad", 252, Str),
        ("bootfile_name", 67, Str),
        ("path_prefix", 210, Str),
        ("tftp_server_address", 150, Ipv4),
        ("arp_cache_timeout", 35, Uint32),
        ("tcp_keepalive_interval", 38, Uint32),
        ("domain_search_list", 119, Domains),
        ("bootfile_name_alt", 254, Str),
        ("broadcast_address", 28, Ipv4),
        ("netbios_name_server", 44, Ipv4),
        ("netbios_node_type", 46, Uint8),
        ("next_server", 253, Ipv4),
    ] {
        v4.add(name, code, ty);
    }
    let mut v6 = OptionTable::new();
    v6.add("server_id", 2, Mac);
    v6.add("ia_addr", 5, Ipv6);
    v6.add("dns_server", 23, Ipv6);
    v6.add("domain_search", 24, Str);
    (v4, v6)
}

/// The fixed context of `test_parse_actions`.
struct Harness {
    symtab: SymbolTable,
    dhcp: OptionTable,
    dhcpv6: OptionTable,
    nd_ra: OptionTable,
    events: OptionTable,
    ports: BTreeMap<&'static str, u32>,
    groups: ExtendTable,
    meters: ExtendTable,
}

impl Harness {
    fn new() -> Harness {
        let (dhcp, dhcpv6) = dhcp_opts();
        Harness {
            symtab: expr_common::symtab(),
            dhcp,
            dhcpv6,
            nd_ra: OptionTable::nd_ra(),
            events: OptionTable::empty_lb_backends(),
            ports: BTreeMap::from([("eth0", 5), ("eth1", 6), ("LOCAL", 0xfffe), ("lsp1", 0x11)]),
            groups: ExtendTable::new(),
            meters: ExtendTable::new(),
        }
    }

    fn parse(&self, input: &str) -> Result<actions::Actions, actions::Error> {
        let pp = ParseContext {
            symtab: &self.symtab,
            dhcp_opts: Some(&self.dhcp),
            dhcpv6_opts: Some(&self.dhcpv6),
            nd_ra_opts: Some(&self.nd_ra),
            event_opts: Some(&self.events),
            pipeline: Pipeline::Ingress,
            n_tables: 24,
            cur_ltable: 10,
        };
        actions::parse(input, &pp)
    }

    /// The lines test-ovn prints after echoing `input`.
    fn run(&mut self, input: &str) -> Vec<String> {
        let parsed = match self.parse(input) {
            Ok(p) => p,
            Err(e) => return vec![format!("    {e}")],
        };
        let mut out = Vec::new();
        let formatted = parsed.format();
        if formatted != input {
            out.push(format!("    formats as {formatted}"));
        }
        let ports = self.ports.clone();
        let lookup = |name: &str| ports.get(name).copied();
        let mut ctx = EncodeContext {
            lookup_port: &lookup,
            tunnel_ofport: &lookup,
            is_switch: true,
            pipeline: Pipeline::Ingress,
            tables: Tables::default(),
            common_nat_ct_zone: Field::Reg(11),
            lflow_uuid: [0xaaaa_aaaa, 0xbbbb_bbbb, 0xcccc_cccc, 0xdddd_dddd],
            dp_key: 0xabcdef,
            ctrl_meter_id: 0,
            collector_ids: &[0, 200],
            features: Features::default(),
            groups: &mut self.groups,
            meters: &mut self.meters,
        };
        let ofpacts = OfActions(encode(&parsed.actions, &mut ctx)).to_string();
        out.push(format!("    encodes as {ofpacts}"));
        for (id, name) in self.groups.iter() {
            if format!("group:{id}").contains(&ofpacts) {
                out.push(format!("    uses group: id({id}), name({name})"));
            }
        }
        if let Some(p) = &parsed.prereqs {
            out.push(format!("    has prereqs {p}"));
        }
        match self.parse(&formatted) {
            Ok(again) if again.format() != formatted => {
                out.push(format!("    bad reformat: {}", again.format()))
            }
            Ok(_) => {}
            Err(e) => out.push(format!("    reparse error: {e}")),
        }
        out
    }
}

#[test]
fn ovn_action_parsing_vectors() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 418, "vector count of ovn.at v23.03.1");
    let mut harness = Harness::new();
    let mut failures = Vec::new();
    for v in &vectors {
        let got = harness.run(&v.input);
        if got != v.expected {
            failures.push((v, got));
        }
    }
    println!(
        "action parsing: {} of {} vectors pass",
        vectors.len() - failures.len(),
        vectors.len()
    );
    for (v, got) in &failures {
        println!("  FAIL {}", v.input);
        for l in &v.expected {
            println!("    want:{l}");
        }
        for l in got {
            println!("    got: {l}");
        }
    }
    assert!(failures.is_empty(), "{} failures", failures.len());
}
