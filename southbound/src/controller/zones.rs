//! Conntrack zone assignment as ovn-controller 23.03 keeps it
//! (`update_ct_zones`, ovn-controller.c): every user (local logical port,
//! `<datapath>_dnat`, `<datapath>_snat`) keeps the zone recorded in the
//! bridge's `external_ids:ct-zone-USER`; new users get the lowest free
//! zone from 1 (0 is never handed out); users that went away give their
//! zone back.  Reading the zones from the bridge is what lets one
//! controller take over from another without renumbering conntrack.

use std::collections::{BTreeMap, BTreeSet};

/// Largest zone (`MAX_CT_ZONES` - 1).
pub const MAX_ZONE: u32 = 65535;

/// The zones of `users`: those in `existing` are kept, others get the
/// lowest free zone (in user-name order); users beyond the 65535 zones get
/// none.
pub fn assign(existing: &BTreeMap<String, u32>, users: &BTreeSet<String>) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    let mut used = BTreeSet::new();
    for u in users {
        if let Some(&z) = existing.get(u) {
            if (1..=MAX_ZONE).contains(&z) && used.insert(z) {
                out.insert(u.clone(), z);
            }
        }
    }
    let mut next = 1;
    for u in users {
        if out.contains_key(u) {
            continue;
        }
        while used.contains(&next) {
            next += 1;
        }
        if next > MAX_ZONE {
            break;
        }
        used.insert(next);
        out.insert(u.clone(), next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_existing_and_fills_holes() {
        let existing: BTreeMap<String, u32> = [("lp1", 1), ("lp2", 4), ("gone", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let z = assign(&existing, &set(&["lp1", "lp2", "lp3", "lp4", "lp5"]));
        assert_eq!(z["lp1"], 1);
        assert_eq!(z["lp2"], 4);
        assert_eq!(z["lp3"], 2);
        assert_eq!(z["lp4"], 3);
        assert_eq!(z["lp5"], 5);
        assert!(!z.contains_key("gone"));
    }

    #[test]
    fn duplicate_or_invalid_zones_are_reassigned() {
        let existing: BTreeMap<String, u32> = [("a", 3), ("b", 3), ("c", 0)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let z = assign(&existing, &set(&["a", "b", "c"]));
        assert_eq!(z["a"], 3);
        assert_eq!(z["b"], 1);
        assert_eq!(z["c"], 2);
    }
}
