//! Shared by the OpenFlow tests: a synthetic flow set covering every match
//! field and action the crate emits, and helpers around the OVS tools.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;

use ovnflow_southbound::actions::mf::Subfield;
use ovnflow_southbound::actions::ofpact::{Learn, LearnSpec, Nat, NO_METER};
use ovnflow_southbound::actions::OfAction;
use ovnflow_southbound::expr::{Field, OfMatch};
use ovnflow_southbound::flow_table::OfFlow;

pub fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

/// Whether `bins` are installed; with `CI` set their absence fails.
pub fn available(bins: &[&str]) -> bool {
    let missing: Vec<&str> = bins.iter().copied().filter(|b| !on_path(b)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} not on PATH",
        missing.join(", ")
    );
    eprintln!("skipped: {} not installed", missing.join(", "));
    false
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn m(fields: &[(Field, u128, u128)]) -> OfMatch {
    let mut m = OfMatch::new();
    for &(f, v, mask) in fields {
        m.set_field(f, v, mask);
    }
    m
}

const ALL: u128 = u128::MAX;

fn sf(field: Field, ofs: u32, n_bits: u32) -> Subfield {
    Subfield { field, ofs, n_bits }
}

/// Matches over every field the crate can match on.
fn matches() -> Vec<OfMatch> {
    use Field::*;
    let ip4 = (EthType, 0x0800, ALL);
    let ip6 = (EthType, 0x86dd, ALL);
    let arp = (EthType, 0x0806, ALL);
    let v6 = |s: &str| u128::from(s.parse::<Ipv6Addr>().unwrap());
    let v4 = |s: &str| u128::from(u32::from(s.parse::<Ipv4Addr>().unwrap()));
    let mut out = vec![
        m(&[]),
        m(&[(Metadata, 0x1, ALL)]),
        m(&[(Metadata, 0x10, 0xf0)]),
        m(&[(InPort, 5, ALL)]),
        m(&[(InPort, 5, ALL), (Metadata, 3, ALL), (Reg(14), 2, ALL)]),
        m(&[(PktMark, 0x42, ALL)]),
        m(&[(PktMark, 0x40, 0xf0)]),
        m(&[(CtState, 0x21, 0x21)]),
        m(&[(CtState, 0x22, 0x33)]),
        m(&[(CtState, 0x20, 0xff)]),
        m(&[(CtMark, 0x1, 0x1)]),
        m(&[(CtMark, 0x10, ALL)]),
        m(&[(CtLabel, 1 << 64, 1 << 64)]),
        m(&[(CtLabel, 0x1234, ALL)]),
        m(&[(Xxreg(0), v6("fd00::1"), ALL)]),
        m(&[(Xxreg(1), 0xab, 0xff)]),
        m(&[(Xreg(3), 0x1_0000_0002, ALL)]),
        m(&[(EthSrc, 0x0a00_0000_0001, ALL)]),
        m(&[(EthDst, 0x0100_0000_0000, 0x0100_0000_0000)]),
        m(&[(EthDst, 0x0a00_0000_0002, ALL), (Metadata, 1, ALL)]),
        m(&[(EthType, 0x88cc, ALL)]),
        m(&[(VlanTci, 0x1000 | 10, 0x1fff)]),
        m(&[(VlanTci, 0, 0x1000)]),
        m(&[ip4]),
        m(&[ip4, (Ipv4Src, v4("10.0.0.1"), ALL)]),
        m(&[ip4, (Ipv4Dst, v4("10.0.0.0"), 0xffffff00)]),
        m(&[ip4, (Ipv4Dst, v4("10.0.0.1"), 0xff00ff00)]),
        m(&[ip4, (IpTtl, 0, ALL)]),
        m(&[ip4, (IpTtl, 1, ALL), (Reg(10), 1, 1)]),
        m(&[ip4, (IpFrag, 1, 1)]),
        m(&[ip4, (IpFrag, 3, 3)]),
        // (2, 2) prints as `nw_frag=later` too, which OVS reads as (3, 3).
        m(&[ip4, (IpFrag, 3, 3)]),
        m(&[ip4, (IpFrag, 0, 2)]),
        m(&[ip4, (IpDscpShifted, 10, 0x3f)]),
        m(&[ip4, (IpEcn, 1, 3)]),
        m(&[ip4, (IpProto, 6, ALL), (TcpDst, 80, ALL)]),
        m(&[ip4, (IpProto, 6, ALL), (TcpSrc, 0x400, 0xfc00)]),
        m(&[ip4, (IpProto, 6, ALL), (TcpFlags, 0x2, 0x2)]),
        m(&[ip4, (IpProto, 6, ALL), (TcpFlags, 0x12, 0xfff)]),
        m(&[
            ip4,
            (IpProto, 17, ALL),
            (UdpSrc, 68, ALL),
            (UdpDst, 67, ALL),
        ]),
        m(&[ip4, (IpProto, 132, ALL), (SctpDst, 9, ALL)]),
        m(&[
            ip4,
            (IpProto, 1, ALL),
            (Icmpv4Type, 8, ALL),
            (Icmpv4Code, 0, ALL),
        ]),
        m(&[ip4, (IpProto, 1, ALL), (Icmpv4Type, 3, ALL)]),
        m(&[ip4, (IpProto, 2, ALL)]),
        m(&[ip6]),
        m(&[ip6, (Ipv6Src, v6("fe80::"), (!0u128) << 64)]),
        m(&[ip6, (Ipv6Dst, v6("fd00::2"), ALL)]),
        m(&[ip6, (Ipv6Label, 0x12345, ALL)]),
        m(&[
            ip6,
            (IpProto, 58, ALL),
            (Icmpv6Type, 135, ALL),
            (Icmpv6Code, 0, ALL),
        ]),
        m(&[
            ip6,
            (IpProto, 58, ALL),
            (Icmpv6Type, 135, ALL),
            (Icmpv6Code, 0, ALL),
            (NdTarget, v6("fd00::5"), ALL),
            (NdSll, 0x0a00_0000_0005, ALL),
        ]),
        m(&[
            ip6,
            (IpProto, 58, ALL),
            (Icmpv6Type, 136, ALL),
            (Icmpv6Code, 0, ALL),
            (NdTll, 0x0a00_0000_0006, ALL),
        ]),
        m(&[ip6, (IpProto, 17, ALL), (UdpDst, 547, ALL)]),
        m(&[ip6, (IpProto, 6, ALL), (TcpDst, 443, ALL)]),
        m(&[arp]),
        m(&[arp, (ArpOp, 1, ALL), (ArpTpa, v4("10.0.0.254"), ALL)]),
        m(&[arp, (ArpOp, 2, ALL), (ArpSpa, v4("10.0.0.0"), 0xffffff00)]),
        m(&[arp, (ArpSha, 0x0a00_0000_0007, ALL), (ArpTha, 0, ALL)]),
    ];
    for r in 0..16u8 {
        out.push(m(&[(Reg(r), u128::from(r) + 1, ALL), (Metadata, 7, ALL)]));
        out.push(m(&[(Reg(r), 0x10 << r, 0xff << r)]));
    }
    let mut conj = OfMatch::new();
    conj.set_conj_id(42);
    conj.set_metadata(2);
    out.push(conj);
    out
}

/// Action lists covering every [`OfAction`] variant.  Group 1 and meter 1
/// must exist on a live switch.
pub fn action_lists() -> Vec<Vec<OfAction>> {
    action_lists_with_needs()
        .into_iter()
        .map(|(_, a)| a)
        .collect()
}

/// What an action list needs of the match (OVS's action-consistency
/// checks: `ofpacts_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Any,
    IpAny,
    Ip4,
    Ip6,
    Ip4Tcp,
    Ip6Tcp,
    Vlan,
}

fn satisfies(m: &OfMatch, need: Need) -> bool {
    use ovnflow_southbound::expr::Slot;
    let dl = m.get(Slot::DlType).map(|(v, _)| v);
    let proto = m.get(Slot::NwProto).map(|(v, _)| v);
    match need {
        Need::Any => true,
        Need::IpAny => dl == Some(0x800) || dl == Some(0x86dd),
        Need::Ip4 => dl == Some(0x800),
        Need::Ip6 => dl == Some(0x86dd),
        Need::Ip4Tcp => dl == Some(0x800) && proto == Some(6),
        Need::Ip6Tcp => dl == Some(0x86dd) && proto == Some(6),
        Need::Vlan => m
            .get(Slot::VlanTci)
            .is_some_and(|(v, m)| v & m & 0x1000 != 0),
    }
}

fn action_lists_with_needs() -> Vec<(Need, Vec<OfAction>)> {
    use Field::*;
    let reg = |n| Subfield::whole(Reg(n));
    let set = |field, value, mask| OfAction::SetField { field, value, mask };
    vec![
        (Need::Any, vec![]),
        (Need::Any, vec![OfAction::Resubmit(8)]),
        (
            Need::Any,
            vec![set(Reg(15), 3, 0xffff_ffff), OfAction::Resubmit(37)],
        ),
        (Need::Any, vec![set(Metadata, 5, u128::from(u64::MAX))]),
        (Need::Any, vec![set(Reg(10), 0x100, 0x100)]),
        (
            Need::Any,
            vec![set(EthSrc, 0x0a00_0000_0001, (1 << 48) - 1)],
        ),
        (
            Need::Ip4,
            vec![set(Ipv4Dst, 0x0a00_0001, 0xffff_ffff), set(IpTtl, 64, 0xff)],
        ),
        (Need::Ip6, vec![set(Ipv6Src, 1, u128::MAX)]),
        (Need::Any, vec![set(Xxreg(0), 5, u128::MAX)]),
        (
            Need::Any,
            vec![OfAction::Move {
                src: reg(14),
                dst: reg(15),
            }],
        ),
        (
            Need::Any,
            vec![OfAction::Move {
                src: Subfield::whole(EthSrc),
                dst: Subfield::whole(EthDst),
            }],
        ),
        (
            Need::Any,
            vec![OfAction::Move {
                src: sf(Reg(0), 0, 16),
                dst: sf(Reg(13), 16, 16),
            }],
        ),
        (
            Need::Any,
            vec![
                OfAction::Push(reg(14)),
                set(Reg(14), 0, 0xffff_ffff),
                OfAction::Pop(reg(14)),
            ],
        ),
        (Need::IpAny, vec![OfAction::DecTtl, OfAction::Resubmit(9)]),
        (
            Need::IpAny,
            vec![OfAction::Ct {
                commit: false,
                table: Some(9),
                zone: sf(Reg(13), 0, 16),
                nat: None,
                exec: vec![],
            }],
        ),
        (
            Need::IpAny,
            vec![OfAction::Ct {
                commit: true,
                table: None,
                zone: sf(Reg(11), 0, 16),
                nat: None,
                exec: vec![set(CtLabel, 1, 1), set(CtMark, 0, 1)],
            }],
        ),
        (
            Need::Ip4Tcp,
            vec![OfAction::Ct {
                commit: true,
                table: Some(10),
                zone: sf(Reg(12), 0, 16),
                nat: Some(Nat {
                    src: Some(true),
                    addr: Some(IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1))),
                    ports: Some((1000, 2000)),
                }),
                exec: vec![],
            }],
        ),
        (
            Need::IpAny,
            vec![OfAction::Ct {
                commit: false,
                table: Some(11),
                zone: sf(Reg(11), 0, 16),
                nat: Some(Nat {
                    src: None,
                    addr: None,
                    ports: None,
                }),
                exec: vec![],
            }],
        ),
        (
            Need::Ip6Tcp,
            vec![OfAction::Ct {
                commit: true,
                table: Some(12),
                zone: sf(Reg(11), 0, 16),
                nat: Some(Nat {
                    src: Some(false),
                    addr: Some(IpAddr::V6("fd00::9".parse().unwrap())),
                    ports: Some((80, 0)),
                }),
                exec: vec![],
            }],
        ),
        (Need::Any, vec![OfAction::CtClear, OfAction::Resubmit(12)]),
        (Need::Any, vec![OfAction::Group(1)]),
        (Need::Any, vec![OfAction::Meter(1), OfAction::Resubmit(15)]),
        (Need::Any, vec![OfAction::SetQueue(3)]),
        (
            Need::Any,
            vec![OfAction::Controller {
                userdata: vec![0, 0, 0, 0, 0, 0, 0, 1, 0xde, 0xad],
                pause: false,
                meter_id: NO_METER,
            }],
        ),
        (
            Need::Any,
            vec![OfAction::Controller {
                userdata: vec![0, 0, 0, 0x11, 0, 0, 0, 0],
                pause: true,
                meter_id: 1,
            }],
        ),
        (
            Need::Any,
            vec![OfAction::Controller {
                userdata: vec![],
                pause: false,
                meter_id: NO_METER,
            }],
        ),
        (
            Need::Any,
            vec![OfAction::Clone(vec![
                set(Reg(15), 1, 0xffff_ffff),
                OfAction::Resubmit(40),
            ])],
        ),
        (
            Need::Any,
            vec![OfAction::CheckPktLarger {
                pkt_len: 1514,
                dst: sf(Reg(9), 1, 1),
            }],
        ),
        (
            Need::Ip4,
            vec![OfAction::Learn(Learn {
                table_id: 76,
                cookie: 0,
                idle_timeout: 20,
                hard_timeout: 30,
                delete_learned: true,
                specs: vec![
                    LearnSpec::MatchField {
                        dst: Subfield::whole(Metadata),
                        src: Subfield::whole(Metadata),
                    },
                    LearnSpec::MatchImmediate {
                        dst: Subfield::whole(EthType),
                        value: 0x800,
                    },
                    LearnSpec::MatchField {
                        dst: Subfield::whole(Ipv4Src),
                        src: Subfield::whole(Ipv4Dst),
                    },
                    LearnSpec::MatchImmediate {
                        dst: Subfield::whole(IpProto),
                        value: 6,
                    },
                    LearnSpec::LoadImmediate {
                        dst: sf(Reg(10), 12, 1),
                        value: 1,
                    },
                ],
            })],
        ),
        (Need::Any, vec![OfAction::Output(1)]),
        (Need::Any, vec![OfAction::Output(0xfff8)]),
        (Need::Any, vec![OfAction::Output(0xfffe)]),
        (
            Need::Any,
            vec![OfAction::Conjunction {
                id: 42,
                clause: 0,
                n_clauses: 2,
            }],
        ),
        (
            Need::Any,
            vec![
                OfAction::Conjunction {
                    id: 43,
                    clause: 1,
                    n_clauses: 3,
                },
                OfAction::Conjunction {
                    id: 44,
                    clause: 0,
                    n_clauses: 2,
                },
            ],
        ),
        (Need::Vlan, vec![OfAction::StripVlan, OfAction::Resubmit(8)]),
        (
            Need::Any,
            vec![
                OfAction::PushVlan(0x8100),
                OfAction::SetVlanVid(100),
                OfAction::Output(2),
            ],
        ),
        (
            Need::Any,
            vec![OfAction::Sample {
                probability: 65535,
                collector_set_id: 1,
                obs_domain_id: 2,
                obs_point_id: 3,
            }],
        ),
    ]
}

/// A few hundred flows: every match combined with several action lists,
/// spread over tables and priorities, unique by (table, priority, match).
pub fn synthetic_flows() -> Vec<OfFlow> {
    let matches = matches();
    let actions = action_lists_with_needs();
    let mut out = Vec::new();
    let mut n = 0usize;
    for (i, of_match) in matches.iter().enumerate() {
        for rep in 0..4usize {
            let start = i * 4 + rep;
            let acts = (0..actions.len())
                .map(|k| &actions[(start + k) % actions.len()])
                .find(|(need, _)| satisfies(of_match, *need))
                .map(|(_, a)| a)
                .unwrap();
            n += 1;
            out.push(OfFlow {
                table: (rep * 10 + i % 7) as u8,
                priority: (100 + i * 3) as u16,
                cookie: if n.is_multiple_of(3) {
                    0
                } else {
                    0x1000_0000 + n as u64
                },
                of_match: of_match.clone(),
                actions: acts.clone(),
            });
        }
    }
    out
}

/// A flow as `ovs-ofctl add-flow(s)` input.
pub fn ofctl_text(flow: &OfFlow) -> String {
    flow.to_string().trim().to_string()
}

/// The flows as `ovs-ofctl add-flows` input.
pub fn flows_file(flows: &[OfFlow], path: &Path) {
    let text: String = flows
        .iter()
        .map(|f| format!("{}\n", ofctl_text(f)))
        .collect();
    std::fs::write(path, text).unwrap();
}
