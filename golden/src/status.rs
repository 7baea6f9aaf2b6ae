//! ovnflow's output against the oracle's, per section (an SB table, or a
//! logical flow stage such as `Logical_Flow ls_in_acl`, or the
//! `lflow-list` text), and the checked-in status of each entry.
//!
//! `status.txt` has one line per section that the oracle or ovnflow has,
//! `SECTION<TAB>identical` or `SECTION<TAB>differs<TAB>identical=N
//! missing=M extra=E`, where missing lines are the oracle's that ovnflow
//! lacks. The offline test asserts that the status is exactly the one
//! checked in: a regression fails, and so does progress until the file is
//! updated, so what is and is not reproduced is always visible.

use std::collections::{BTreeMap, BTreeSet};

use crate::canon::{section, Canon};

/// Line counts of one section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines in both.
    pub identical: usize,
    /// The oracle's lines that ovnflow lacks.
    pub missing: usize,
    /// ovnflow's lines that the oracle lacks.
    pub extra: usize,
}

impl Counts {
    /// No missing and no extra line.
    pub fn same(&self) -> bool {
        self.missing == 0 && self.extra == 0
    }
}

/// The name of the section holding the `ovn-sbctl lflow-list` text.
pub const LFLOW_LIST: &str = "lflow-list";

/// A comparison of ovnflow's output with the oracle's.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// Per section.
    pub sections: BTreeMap<String, Counts>,
    /// Lines of the oracle ovnflow lacks, by section.
    pub missing: BTreeMap<String, Vec<String>>,
    /// Lines of ovnflow the oracle lacks, by section.
    pub extra: BTreeMap<String, Vec<String>>,
}

fn multiset(text: &str) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for l in text.lines() {
        *m.entry(l).or_default() += 1;
    }
    m
}

/// Compares canonical SBs and `lflow-list` texts (`oracle` first).
pub fn compare(oracle: &Canon, ours: &Canon, oracle_lflows: &str, our_lflows: &str) -> Comparison {
    let mut c = Comparison::default();
    for x in oracle.intersection(ours) {
        c.sections.entry(section(x)).or_default().identical += 1;
    }
    for x in oracle.difference(ours) {
        let s = section(x);
        c.sections.entry(s.clone()).or_default().missing += 1;
        c.missing.entry(s).or_default().push(x.1.clone());
    }
    for x in ours.difference(oracle) {
        let s = section(x);
        c.sections.entry(s.clone()).or_default().extra += 1;
        c.extra.entry(s).or_default().push(x.1.clone());
    }
    let (a, b) = (multiset(oracle_lflows), multiset(our_lflows));
    let mut counts = Counts::default();
    let keys: BTreeSet<&str> = a.keys().chain(b.keys()).copied().collect();
    for k in keys {
        let (x, y) = (
            a.get(k).copied().unwrap_or(0),
            b.get(k).copied().unwrap_or(0),
        );
        counts.identical += x.min(y);
        if x > y {
            counts.missing += x - y;
            c.missing
                .entry(LFLOW_LIST.into())
                .or_default()
                .push(k.into());
        } else if y > x {
            counts.extra += y - x;
            c.extra.entry(LFLOW_LIST.into()).or_default().push(k.into());
        }
    }
    if oracle_lflows != our_lflows && counts.same() {
        // Same lines in another order.
        counts.missing += 1;
        counts.extra += 1;
    }
    c.sections.insert(LFLOW_LIST.into(), counts);
    c
}

impl Comparison {
    /// Totals over the SB sections (without `lflow-list`).
    pub fn sb_totals(&self) -> Counts {
        let mut t = Counts::default();
        for (s, c) in &self.sections {
            if s != LFLOW_LIST {
                t.identical += c.identical;
                t.missing += c.missing;
                t.extra += c.extra;
            }
        }
        t
    }

    /// The status, in the form of `status.txt` (without comments).
    pub fn status(&self) -> String {
        self.sections
            .iter()
            .map(|(s, c)| {
                if c.same() {
                    format!("{s}\tidentical\n")
                } else {
                    format!(
                        "{s}\tdiffers\tidentical={} missing={} extra={}\n",
                        c.identical, c.missing, c.extra
                    )
                }
            })
            .collect()
    }

    /// A per-section report with up to `max_lines` missing and extra lines
    /// per differing section (all of them when `None`).
    pub fn report(&self, max_lines: Option<usize>) -> String {
        let mut out = String::new();
        for (s, c) in &self.sections {
            let mark = if c.same() { "identical" } else { "DIFFERS" };
            out.push_str(&format!(
                "  {s:<40} {mark:<9} identical {:>5}  missing {:>5}  extra {:>5}\n",
                c.identical, c.missing, c.extra
            ));
        }
        for (what, lines) in [("MISSING", &self.missing), ("EXTRA  ", &self.extra)] {
            for (s, ls) in lines {
                let n = max_lines.unwrap_or(usize::MAX).min(ls.len());
                for l in &ls[..n] {
                    out.push_str(&format!("  {what} [{s}] {l}\n"));
                }
                if n < ls.len() {
                    out.push_str(&format!("  {what} [{s}] … {} more\n", ls.len() - n));
                }
            }
        }
        out
    }
}

/// `status.txt` without comment and blank lines.
pub fn strip_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// How the status differs from the checked-in one: one line per section,
/// `REGRESSION` when an expected-identical section differs, `PROGRESS` when
/// an expected-differing section is identical, `CHANGED` otherwise.
pub fn status_changes(expected: &str, actual: &str) -> Vec<String> {
    let parse = |t: &str| -> BTreeMap<String, String> {
        strip_comments(t)
            .lines()
            .map(|l| match l.split_once('\t') {
                Some((s, rest)) => (s.to_string(), rest.to_string()),
                None => (l.to_string(), String::new()),
            })
            .collect()
    };
    let (e, a) = (parse(expected), parse(actual));
    let keys: BTreeSet<&String> = e.keys().chain(a.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let (x, y) = (e.get(k), a.get(k));
        if x == y {
            continue;
        }
        let kind = match (x.map(String::as_str), y.map(String::as_str)) {
            (Some("identical"), _) => "REGRESSION",
            (_, Some("identical")) => "PROGRESS",
            _ => "CHANGED",
        };
        out.push(format!(
            "{kind} {k}: expected {:?}, now {:?}",
            x.map(String::as_str).unwrap_or("(absent)"),
            y.map(String::as_str).unwrap_or("(absent)")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(lines: &[(&str, &str)]) -> Canon {
        lines
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn counts_per_section_and_lflow_list() {
        let flow = |s: &str, n: u32| {
            (
                "Logical_Flow",
                format!("dp=x p={n} external_ids={{\"stage-name\": \"{s}\"}}"),
            )
        };
        let o = [
            flow("ls_in_acl", 1),
            flow("ls_in_acl", 2),
            flow("ls_in_lb", 1),
        ];
        let u = [flow("ls_in_acl", 1), flow("ls_in_acl", 3)];
        let o: Vec<(&str, &str)> = o.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let u: Vec<(&str, &str)> = u.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let c = compare(&canon(&o), &canon(&u), "a\nb\nb", "a\nb");
        assert_eq!(
            c.sections["Logical_Flow ls_in_acl"],
            Counts {
                identical: 1,
                missing: 1,
                extra: 1
            }
        );
        assert_eq!(c.sections["Logical_Flow ls_in_lb"].missing, 1);
        assert_eq!(
            c.sections[LFLOW_LIST],
            Counts {
                identical: 2,
                missing: 1,
                extra: 0
            }
        );
        assert_eq!(
            c.status(),
            "Logical_Flow ls_in_acl\tdiffers\tidentical=1 missing=1 extra=1\n\
             Logical_Flow ls_in_lb\tdiffers\tidentical=0 missing=1 extra=0\n\
             lflow-list\tdiffers\tidentical=2 missing=1 extra=0\n"
        );
    }

    #[test]
    fn reordered_lflow_list_differs() {
        let c = compare(&Canon::new(), &Canon::new(), "a\nb", "b\na");
        assert!(!c.sections[LFLOW_LIST].same());
    }

    #[test]
    fn changes_are_classified() {
        let e =
            "# comment\nA\tidentical\nB\tdiffers\tidentical=1 missing=1 extra=0\nC\tidentical\n";
        let a = "A\tdiffers\tidentical=0 missing=1 extra=0\nB\tidentical\nC\tidentical\n";
        let ch = status_changes(e, a);
        assert_eq!(ch.len(), 2);
        assert!(ch[0].starts_with("REGRESSION A"));
        assert!(ch[1].starts_with("PROGRESS B"));
        assert!(status_changes(e, &strip_comments(e)).is_empty());
    }
}
