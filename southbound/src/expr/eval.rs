//! Evaluation of expressions and matches against one packet
//! (`expr_evaluate` in `lib/expr.c`, OVN 23.03; OVS classifier semantics
//! for conjunctive matches).  Used to check that each compilation step
//! preserves meaning.

use super::ast::{CmpValue, Expr};
use super::flows::Matches;
use super::ofmatch::Slot;
use super::symtab::{Field, SymbolKind};
use super::util::low_bits;

/// A packet: the value of each OpenFlow field (0 when absent).
pub type Packet<'a> = &'a dyn Fn(Field) -> u128;

/// Evaluates `expr` for `packet`.  Integer comparisons test
/// `field & mask` against the value as unsigned numbers; a string
/// comparison naming an unknown port is false.  Subfield symbols are read
/// through their parent; predicates and OVN-only fields evaluate to false,
/// so annotate first.
pub fn evaluate(
    expr: &Expr,
    packet: Packet<'_>,
    lookup_port: &dyn Fn(&str) -> Option<u32>,
) -> bool {
    match expr {
        Expr::Cmp(c) => {
            let mut symbol = &c.symbol;
            let mut shift = 0;
            while let SymbolKind::Subfield { parent, ofs } = &symbol.kind {
                shift += ofs;
                symbol = parent;
            }
            let Some(field) = symbol.field() else {
                return false;
            };
            let raw = packet(field) >> shift;
            let ord = match &c.value {
                CmpValue::Int { value, mask } => {
                    let width = if c.symbol.width == 0 {
                        128
                    } else {
                        c.symbol.width
                    };
                    (raw & mask & low_bits(width)).cmp(value)
                }
                CmpValue::Str(name) => match lookup_port(name) {
                    Some(port) => (raw & 0xffff_ffff).cmp(&u128::from(port)),
                    None => return false,
                },
            };
            c.relop.test(ord)
        }
        Expr::And(v) => v.iter().all(|s| evaluate(s, packet, lookup_port)),
        Expr::Or(v) => v.iter().any(|s| evaluate(s, packet, lookup_port)),
        Expr::Boolean(b) => *b,
        Expr::Condition(_) => false,
    }
}

/// The value of an OVS flow member for `packet`.
pub fn slot_value(packet: Packet<'_>, slot: Slot) -> u128 {
    match slot {
        Slot::Reg(n) => packet(Field::Reg(n)),
        Slot::PktMark => packet(Field::PktMark),
        Slot::ConjId => 0,
        Slot::CtState => packet(Field::CtState),
        Slot::CtMark => packet(Field::CtMark),
        Slot::CtLabel => packet(Field::CtLabel),
        Slot::DlType => packet(Field::EthType),
        Slot::Metadata => packet(Field::Metadata),
        Slot::VlanTci => packet(Field::VlanTci),
        Slot::DlSrc => packet(Field::EthSrc),
        Slot::DlDst => packet(Field::EthDst),
        Slot::Ipv6Src => packet(Field::Ipv6Src),
        Slot::Ipv6Dst => packet(Field::Ipv6Dst),
        Slot::Ipv6Label => packet(Field::Ipv6Label),
        Slot::NwSrc => packet(Field::Ipv4Src),
        Slot::NwDst => packet(Field::Ipv4Dst),
        Slot::NwProto => packet(Field::IpProto),
        Slot::ArpSha => packet(Field::ArpSha),
        Slot::ArpTha => packet(Field::ArpTha),
        Slot::NwTos => (packet(Field::IpDscpShifted) << 2) | packet(Field::IpEcn),
        Slot::NwTtl => packet(Field::IpTtl),
        Slot::NwFrag => packet(Field::IpFrag),
        Slot::TpSrc => packet(Field::TcpSrc),
        Slot::TpDst => packet(Field::TcpDst),
        Slot::NdTarget => packet(Field::NdTarget),
        Slot::TcpFlags => packet(Field::TcpFlags),
        Slot::InPort => packet(Field::InPort),
        Slot::TunId => packet(Field::TunId),
        Slot::TunMetadata0 => packet(Field::TunMetadata0),
    }
}

/// Whether `matches`, installed as flows of one priority, match `packet`:
/// some ordinary flow matches, or for some conjunction id every clause has a
/// matching flow and the `conj_id` flow matches too.
pub fn matches_packet(matches: &Matches, packet: Packet<'_>) -> bool {
    let slot = |s: Slot| slot_value(packet, s);
    let hit = |m: &super::ofmatch::OfMatch| m.matches(&|s| slot(s));
    for m in &matches.matches {
        if m.conjunctions.is_empty() && m.of_match.get(Slot::ConjId).is_none() && hit(&m.of_match) {
            return true;
        }
    }
    for m in &matches.matches {
        let Some((id, _)) = m.of_match.get(Slot::ConjId) else {
            continue;
        };
        let id = id as u32;
        let mut without_conj = m.of_match.clone();
        without_conj.set_slot(Slot::ConjId, 0, 0);
        if !hit(&without_conj) {
            continue;
        }
        let n_clauses = matches
            .matches
            .iter()
            .flat_map(|x| x.conjunctions.iter())
            .find(|c| c.id == id)
            .map_or(0, |c| c.n_clauses);
        let all = (0..n_clauses).all(|k| {
            matches.matches.iter().any(|x| {
                x.conjunctions.iter().any(|c| c.id == id && c.clause == k) && hit(&x.of_match)
            })
        });
        if all {
            return true;
        }
    }
    false
}
