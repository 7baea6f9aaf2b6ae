//! Property tests for logical actions: parsing, formatting and encoding
//! never panic, on arbitrary bytes or on recombined action fragments, and
//! every parsed action list formats to text that parses back to the same
//! text (the round trip `ovstest test-ovn parse-actions` checks).

mod expr_common;

use ovnflow_southbound::actions::{
    self, encode, EncodeContext, ExtendTable, Features, OfActions, OptionTable, ParseContext,
    Pipeline, Tables,
};
use ovnflow_southbound::expr::symtab::Field;
use ovnflow_southbound::expr::SymbolTable;
use proptest::prelude::*;

/// Actions (with their `;`) drawn from OVN's own vectors, valid and not.
const FRAGMENTS: &[&str] = &[
    "drop;",
    "output;",
    "next;",
    "next(pipeline=egress, table=5);",
    "tcp.dst = 80;",
    "eth.dst[40] = 1;",
    "outport = \"eth0\";",
    "reg0 = reg1;",
    "reg0 <-> reg1;",
    "vlan.pcp <-> reg0[0..2];",
    "ip.ttl--;",
    "ct_next;",
    "ct_commit;",
    "ct_commit { ct_mark = 1; ct_label[0..47] = 0xf040201; };",
    "ct_commit(ct_mark=0x1/0x1, ct_label=0x2);",
    "ct_dnat(192.168.1.2, 1-3000);",
    "ct_snat(fd11::2);",
    "ct_snat_in_czone;",
    "ct_lb(backends=192.168.1.2:80,[fd0f::3]:80; hash_fields=\"eth_src\"; skip_snat);",
    "ct_lb_mark(backends=10.0.0.1,10.0.0.2; force_snat);",
    "reg9[16..31] = select(1=50, 2=100, 3);",
    "ct_clear;",
    "clone { ip4.dst = 255.255.255.255; output; };",
    "arp { eth.dst = ff:ff:ff:ff:ff:ff; output; };",
    "nd_ns { nd.target = xxreg0; output; };",
    "icmp4 { icmp4.frag_mtu = 1500; output; };",
    "icmp6_error { icmp6.frag_mtu = 1500; };",
    "tcp_reset { };",
    "reject { output; };",
    "get_arp(inport, reg0);",
    "put_nd(inport, nd.target, nd.sll);",
    "reg0[0] = lookup_arp(inport, ip4.dst, eth.src);",
    "reg2[0] = lookup_nd_ip(inport, ip6.dst);",
    "reg1[0] = put_dhcp_opts(offerip = 1.2.3.4, domain_search_list = \"a.b,c.a.b\", classless_static_route = {30.0.0.0/24, 10.0.0.4});",
    "reg1[0] = put_dhcpv6_opts(ia_addr = ae70::4, server_id = 00:00:00:00:10:02);",
    "reg1[0] = put_nd_ra_opts(addr_mode = \"slaac\", prefix = aef0::/64, slla = ae:01:02:03:04:05, dnssl = \"a.b,c\", route_info = \"HIGH-aef1::/64\");",
    "set_queue(10);",
    "reg1[0] = dns_lookup();",
    "log(name=\"x\", verdict=drop, severity=alert, meter=\"m\");",
    "set_meter(100, 1000);",
    "reg0[0] = check_pkt_larger(1500);",
    "trigger_event(event = \"empty_lb_backends\", vip = \"10.0.0.1:80\", protocol = \"tcp\", load_balancer = \"12345678-abcd-9876-fedc-11119f8e7d6c\");",
    "bind_vport(\"lsp1\", inport);",
    "handle_svc_check(outport);",
    "fwd_group(liveness=\"true\", childports=\"eth0\", \"lsp1\");",
    "handle_dhcpv6_reply;",
    "reg0[0] = chk_lb_hairpin();",
    "ct_snat_to_vip;",
    "handle_bfd_msg();",
    "put_fdb(inport, arp.sha);",
    "outport = get_fdb(eth.src);",
    "reg1[4] = lookup_fdb(outport, eth.dst);",
    "reg0[0] = check_in_port_sec();",
    "commit_ecmp_nh(ipv6 = true, proto = sctp);",
    "reg9[5] = chk_ecmp_nh();",
    "commit_lb_aff(vip = \"[::1]:8080\", backend = \"[::2]:8080\", proto = udp, timeout = 30);",
    "reg9[6] = chk_lb_aff();",
    "push(xxreg1[10..20]); pop(xxreg0[48..58]);",
    "sample(probability=10,collector_set=200,obs_domain=1,obs_point=$cookie);",
    "igmp;",
    "ct_commit_nat;",
    // Broken pieces.
    "next(",
    "ct_lb(backends=",
    "reg0 = select(1=0, 2);",
    "arp {",
    "}",
    "{",
    "xyzzy;",
    "\"str\";",
    "put_dhcp_opts(",
    "log(verdict=",
    ";",
    "=",
    "clone { clone { clone {",
];

struct Env {
    symtab: SymbolTable,
    nd_ra: OptionTable,
    events: OptionTable,
    dhcp: OptionTable,
    dhcpv6: OptionTable,
}

impl Env {
    fn new() -> Env {
        let mut dhcp = OptionTable::new();
        dhcp.add("offerip", 0, actions::OptionType::Ipv4);
        dhcp.add("domain_search_list", 119, actions::OptionType::Domains);
        dhcp.add(
            "classless_static_route",
            121,
            actions::OptionType::StaticRoutes,
        );
        let mut dhcpv6 = OptionTable::new();
        dhcpv6.add("ia_addr", 5, actions::OptionType::Ipv6);
        dhcpv6.add("server_id", 2, actions::OptionType::Mac);
        Env {
            symtab: expr_common::symtab(),
            nd_ra: OptionTable::nd_ra(),
            events: OptionTable::empty_lb_backends(),
            dhcp,
            dhcpv6,
        }
    }

    fn parse(&self, s: &str) -> Result<actions::Actions, actions::Error> {
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
        actions::parse(s, &pp)
    }

    /// Encodes and prints, for the no-panic property.
    fn encode(&self, parsed: &actions::Actions) -> String {
        let lookup = |name: &str| (name == "lsp1").then_some(0x11);
        let (mut groups, mut meters) = (ExtendTable::new(), ExtendTable::new());
        let mut ctx = EncodeContext {
            lookup_port: &lookup,
            tunnel_ofport: &lookup,
            is_switch: true,
            pipeline: Pipeline::Ingress,
            tables: Tables::default(),
            common_nat_ct_zone: Field::Reg(11),
            lflow_uuid: [1, 2, 3, 4],
            dp_key: 7,
            ctrl_meter_id: 3,
            collector_ids: &[200],
            features: Features {
                dp_meter: true,
                ct_zero_snat: true,
                dp_hash_l4_sym: true,
            },
            groups: &mut groups,
            meters: &mut meters,
        };
        OfActions(encode(&parsed.actions, &mut ctx)).to_string()
    }
}

fn action_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 1..5).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_arbitrary_text_never_panics(s in "\\PC{0,80}") {
        let env = Env::new();
        if let Ok(p) = env.parse(&s) {
            let _ = env.encode(&p);
            let _ = p.format();
        }
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let env = Env::new();
        let s = String::from_utf8_lossy(&bytes);
        if let Ok(p) = env.parse(&s) {
            let _ = env.encode(&p);
        }
    }

    #[test]
    fn formatted_actions_reparse_to_the_same_text(s in action_text()) {
        let env = Env::new();
        if let Ok(p) = env.parse(&s) {
            let _ = env.encode(&p);
            let text = p.format();
            let again = env.parse(&text);
            prop_assert!(again.is_ok(), "{s:?} formats as {text:?}, which fails: {again:?}");
            let again = again.unwrap();
            prop_assert_eq!(again.format(), text.clone());
            prop_assert_eq!(again.prereqs, p.prereqs, "prerequisites of {}", text);
        }
    }
}

#[test]
fn fragments_parse_as_expected() {
    // Guards the fragment list itself: the valid ones must parse, so the
    // round-trip property exercises every action type.
    let env = Env::new();
    let valid = FRAGMENTS.iter().take_while(|f| **f != "next(").count();
    for f in &FRAGMENTS[..valid] {
        assert!(env.parse(f).is_ok(), "{f}: {:?}", env.parse(f));
    }
    for f in &FRAGMENTS[valid..] {
        assert!(env.parse(f).is_err(), "{f} should not parse");
    }
}
