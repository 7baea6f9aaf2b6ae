//! Forwarding groups (`Logical_Switch.forwarding_groups`):
//! `build_fwd_group_lflows()` in northd.c — per group with child ports, an
//! ARP responder for the group's `vip` answering with its `vmac`
//! (`ls_in_arp_rsp` 50) and an L2 lookup of the `vmac` to
//! `fwd_group([liveness="true",]childports="a","b",…)` (`ls_in_l2_lkup` 50).
//!
//! Reproduced as northd 23.03.1 behaves, quirks included:
//! - the match and action buffers are not cleared before the next group's
//!   ARP responder, so from the second group on, its responder's match and
//!   actions start with the previous group's L2 lookup match / actions;
//! - the loop writing the child ports reuses the groups loop's index, so
//!   after a group with `n` child ports the walk goes on at group index `n`
//!   (skipping or revisiting groups). A walk that comes back to a group
//!   with the same buffers would make northd loop forever; we stop there.

use ovsdb::Uuid;

use super::Lflow;
use crate::nb::FwdGroup;
use crate::stage::Stage;

/// The flows of switch `ls` with its forwarding groups in OVSDB set order.
pub fn flows(ls: Uuid, groups: &[FwdGroup]) -> Vec<Lflow> {
    let mut out = Vec::new();
    let (mut m, mut a) = (String::new(), String::new());
    let mut seen = std::collections::BTreeSet::new();
    let mut i = 0usize;
    while i < groups.len() {
        if !seen.insert((i, m.clone(), a.clone())) {
            break;
        }
        let g = &groups[i];
        if g.child_port.is_empty() {
            i += 1;
            continue;
        }
        let (vip, vmac) = (&g.vip, &g.vmac);
        m.push_str(&format!("arp.tpa == {vip} && arp.op == 1"));
        a.push_str(&format!(
            "eth.dst = eth.src; eth.src = {vmac}; arp.op = 2; /* ARP reply */ \
             arp.tha = arp.sha; arp.sha = {vmac}; arp.tpa = arp.spa; arp.spa = {vip}; \
             outport = inport; flags.loopback = 1; output;"
        ));
        out.push(Lflow::new(ls, Stage::LsInArpRsp, 50, &m, &a, 7745).hint(g.uuid));
        m = format!("eth.dst == {vmac}");
        let children: Vec<String> = g.child_port.iter().map(|c| format!("\"{c}\"")).collect();
        let liveness = if g.liveness { "liveness=\"true\"," } else { "" };
        a = format!("fwd_group({liveness}childports={});", children.join(","));
        out.push(Lflow::new(ls, Stage::LsInL2Lkup, 50, &m, &a, 7768).hint(g.uuid));
        // The child-port loop leaves the shared index at n_child_port - 1.
        i = g.child_port.len() - 1;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(n: u128, children: &[&str]) -> FwdGroup {
        FwdGroup {
            uuid: Uuid::from_u128(n),
            vip: format!("10.0.0.{n}"),
            vmac: format!("00:00:00:00:00:{n:02x}"),
            liveness: false,
            child_port: children.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn a_group_with_two_child_ports_ends_the_walk_of_two_groups() {
        let f = flows(Uuid::nil(), &[group(1, &["a", "b"]), group(2, &["c"])]);
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.hint == Some(Uuid::from_u128(1))));
    }

    #[test]
    fn the_next_group_inherits_the_previous_lookup() {
        let f = flows(Uuid::nil(), &[group(1, &["a"]), group(2, &["b", "c"])]);
        assert_eq!(f.len(), 4);
        assert!(f[2]
            .match_
            .starts_with("eth.dst == 00:00:00:00:00:01arp.tpa == 10.0.0.2"));
        assert!(f[2]
            .actions
            .starts_with("fwd_group(childports=\"a\");eth.dst = eth.src;"));
    }

    #[test]
    fn a_walk_northd_never_ends_stops() {
        let f = flows(Uuid::nil(), &[group(1, &["a"]), group(2, &["b"])]);
        assert!(f.len() < 16, "{f:?}");
    }
}
