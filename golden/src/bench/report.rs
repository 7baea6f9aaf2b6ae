//! The results as markdown: a scaling summary across sizes, one table per
//! size with ovn-northd and ovnflow side by side and their ratio, and the
//! targets judged (PASS/FAIL per row): issue 7's at the reference size,
//! issue 5's router targets at the sizes they are stated for.

use std::fmt::Write;

use super::changes::ChangeKind;
use super::e2e::E2eRun;
use super::inproc::InprocRun;
use super::stats::Samples;
use super::suite::{Results, SizeResult};

/// A unit a measure is printed in.
#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Millis,
    MiB,
    /// Samples in bytes, printed in kB.
    KiB,
}

impl Unit {
    fn scale(self, v: f64) -> f64 {
        match self {
            Unit::Seconds => v,
            Unit::Millis => v * 1e3,
            // Samples of memory are in kB.
            Unit::MiB => v / 1024.0,
            Unit::KiB => v / 1024.0,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Millis => "ms",
            Unit::MiB => "MB",
            Unit::KiB => "kB",
        }
    }
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `median (min–max)` in `unit`, or `–`.
fn cell(s: &Samples, unit: Unit) -> String {
    match (s.median(), s.min(), s.max()) {
        (Some(m), Some(lo), Some(hi)) if s.values.len() > 1 => format!(
            "{} {} ({}–{})",
            num(unit.scale(m)),
            unit.suffix(),
            num(unit.scale(lo)),
            num(unit.scale(hi))
        ),
        (Some(m), _, _) => format!("{} {}", num(unit.scale(m)), unit.suffix()),
        _ => "–".into(),
    }
}

/// northd's median over ovnflow's: how many times faster (or smaller)
/// ovnflow is; below 1 it is slower (or larger), and the cell says so.
fn ratio(northd: &Samples, ovnflow: &Samples, faster: &str, slower: &str) -> (String, Option<f64>) {
    match (northd.median(), ovnflow.median()) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 => {
            let r = a / b;
            let text = if r >= 1.0 {
                format!("{} {faster}", times(r))
            } else {
                format!("**{} {slower}**", times(1.0 / r))
            };
            (text, Some(r))
        }
        _ => ("–".into(), None),
    }
}

fn times(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.1}×")
    }
}

fn of_e2e(runs: &[E2eRun], f: impl Fn(&E2eRun) -> f64) -> Samples {
    Samples {
        values: runs.iter().map(f).collect(),
    }
}

/// The SB server's CPU time in the full compute, over the runs that have it.
fn sb_server_cpu(runs: &[E2eRun]) -> Samples {
    Samples {
        values: runs.iter().filter_map(|r| r.sb_server_cpu_s).collect(),
    }
}

fn of_inproc(runs: &[InprocRun], f: impl Fn(&InprocRun) -> f64) -> Samples {
    Samples {
        values: runs.iter().map(f).collect(),
    }
}

/// Every single-change latency of one kind over all runs and rounds.
fn e2e_changes(runs: &[E2eRun], kind: ChangeKind) -> Samples {
    Samples {
        values: runs
            .iter()
            .flat_map(|r| r.changes.iter())
            .filter(|c| c.0 == kind)
            .map(|c| c.1)
            .collect(),
    }
}

/// The SB bytes stored for every single change of one kind.
fn e2e_change_bytes(runs: &[E2eRun], kind: ChangeKind) -> Samples {
    Samples {
        values: runs
            .iter()
            .flat_map(|r| r.sb_change_bytes.iter())
            .filter(|c| c.0 == kind)
            .map(|c| c.1 as f64)
            .collect(),
    }
}

fn inproc_changes(runs: &[InprocRun], kind: ChangeKind) -> Samples {
    Samples {
        values: runs
            .iter()
            .flat_map(|r| r.changes.iter())
            .filter(|c| c.0 == kind)
            .map(|c| c.1)
            .collect(),
    }
}

/// Sizes issue 5's router targets are stated for (in process: compile in
/// ≤ 1 s; a floating IP added or a route changed in ≤ 5 ms).
pub const ROUTER_TARGET_SIZES: &[&str] = &["openstack:1000/1/5/5000", "ovn-k8s:500x20/1000/250"];

/// Which targets a size's rows are judged against.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// None: the rows only report.
    Not,
    /// Issue 7's (compiler and daemon issues') targets: the reference size.
    Reference,
    /// Issue 5's router targets.
    Routers,
}

/// How `s` is judged in the results `r`.
pub fn judge(r: &Results, s: &SizeResult) -> Judge {
    let spec = s.workload.spec();
    if r.reference.as_deref() == Some(spec.as_str()) {
        Judge::Reference
    } else if ROUTER_TARGET_SIZES.contains(&spec.as_str()) {
        Judge::Routers
    } else {
        Judge::Not
    }
}

/// A target and whether the measured median meets it.
struct Verdict {
    target: String,
    pass: Option<bool>,
}

fn verdict(target: &str, pass: Option<bool>) -> Verdict {
    Verdict {
        target: target.into(),
        pass,
    }
}

/// One row of a size's table.
struct Row {
    measure: String,
    northd: String,
    ovnflow: String,
    ratio: String,
    verdict: Option<Verdict>,
}

/// The rows of one size, with the verdicts of the targets `judge` names.
fn rows(s: &SizeResult, judge: Judge) -> Vec<Row> {
    let mut out = Vec::new();
    // The verdict of a row: issue 7's at the reference size, issue 5's at
    // the router sizes.
    let pick = |reference: Option<Verdict>, routers: Option<Verdict>| match judge {
        Judge::Reference => reference,
        Judge::Routers => routers,
        Judge::Not => None,
    };
    let mut push = |measure: String,
                    northd: String,
                    ovnflow: String,
                    ratio: String,
                    verdict: Option<Verdict>| {
        out.push(Row {
            measure,
            northd,
            ovnflow,
            ratio,
            verdict,
        })
    };
    let (nd, of, ip) = (&s.northd, &s.ovnflow, &s.inproc);
    let e2e = s.workload.e2e;
    let nd_full = of_e2e(nd, |r| r.full_s);
    if e2e {
        let of_full = of_e2e(of, |r| r.full_s);
        let (rt, _) = ratio(&nd_full, &of_full, "faster", "slower");
        push(
            "full compute, end to end (NB transaction sent → SB commit)".into(),
            cell(&nd_full, Unit::Seconds),
            cell(&of_full, Unit::Seconds),
            rt,
            None,
        );
        push(
            "… of which the NB ovsdb-server commit".into(),
            cell(&of_e2e(nd, |r| r.nb_commit_s), Unit::Seconds),
            cell(&of_e2e(of, |r| r.nb_commit_s), Unit::Seconds),
            "–".into(),
            None,
        );
        // Issue 6 states its target from the NB commit: the daemon's
        // compute and SB transaction, and the SB ovsdb-server commit.
        let after_nb = |r: &E2eRun| r.full_s - r.nb_commit_s;
        let (nd_after, of_after) = (of_e2e(nd, after_nb), of_e2e(of, after_nb));
        let (rt, r) = ratio(&nd_after, &of_after, "faster", "slower");
        push(
            "full compute, NB committed → SB committed".into(),
            cell(&nd_after, Unit::Seconds),
            cell(&of_after, Unit::Seconds),
            rt,
            pick(Some(verdict("≥ 4× faster", r.map(|r| r >= 4.0))), None),
        );
        push(
            "… SB ovsdb-server CPU time in it (parse, commit, log write, monitor updates)".into(),
            cell(&sb_server_cpu(nd), Unit::Seconds),
            cell(&sb_server_cpu(of), Unit::Seconds),
            "–".into(),
            None,
        );
    }
    let compile = of_inproc(ip, |r| r.compile_s);
    let (rt, _) = if e2e {
        ratio(&nd_full, &compile, "faster", "slower")
    } else {
        ("–".into(), None)
    };
    push(
        "full compile, ovnflow in process (northd: end to end)".into(),
        if e2e {
            cell(&nd_full, Unit::Seconds)
        } else {
            "not run".into()
        },
        cell(&compile, Unit::Seconds),
        rt,
        pick(
            Some(verdict("≤ 0.5 s", compile.median().map(|m| m <= 0.5))),
            Some(verdict("≤ 1 s", compile.median().map(|m| m <= 1.0))),
        ),
    );
    if e2e {
        let nd_rss = of_e2e(nd, |r| r.rss_end_kb as f64);
        let of_rss = of_e2e(of, |r| r.rss_end_kb as f64);
        let (rt, r) = ratio(&nd_rss, &of_rss, "smaller", "larger");
        push(
            "peak RSS of the daemon (VmHWM, whole run)".into(),
            cell(&nd_rss, Unit::MiB),
            cell(&of_rss, Unit::MiB),
            rt,
            pick(
                Some(verdict("≤ ½ of ovn-northd's", r.map(|r| r >= 2.0))),
                None,
            ),
        );
    }
    let ip_rss = of_inproc(ip, |r| r.rss_compile_kb as f64);
    push(
        "peak RSS, in-process compile (NB database resident)".into(),
        "–".into(),
        cell(&ip_rss, Unit::MiB),
        "–".into(),
        pick(
            Some(verdict(
                "≤ 200 MB",
                ip_rss.median().map(|m| m <= 200.0 * 1024.0),
            )),
            None,
        ),
    );
    push(
        "peak RSS, in-process NB load (JSON + database)".into(),
        "–".into(),
        cell(&of_inproc(ip, |r| r.rss_load_kb as f64), Unit::MiB),
        "–".into(),
        None,
    );
    let count = |s: Samples| s.median().map_or("–".into(), |m| format!("{m:.0}"));
    push(
        "SB Logical_Flow rows (ovnflow: daemon / in process)".into(),
        if e2e {
            count(of_e2e(nd, |r| r.lflows as f64))
        } else {
            "not run".into()
        },
        format!(
            "{} / {}",
            if e2e {
                count(of_e2e(of, |r| r.lflows as f64))
            } else {
                "–".into()
            },
            count(of_inproc(ip, |r| r.lflows as f64))
        ),
        "–".into(),
        None,
    );
    let sb_bytes = |runs: &[E2eRun]| Samples {
        values: runs
            .iter()
            .filter_map(|r| r.sb_full_bytes.map(|b| b as f64))
            .collect(),
    };
    if e2e {
        let (a, b) = (sb_bytes(nd), sb_bytes(of));
        let (rt, _) = ratio(&a, &b, "smaller", "larger");
        push(
            "SB transaction size, full compute (bytes the SB server stored)".into(),
            cell(&a, Unit::KiB),
            cell(&b, Unit::KiB),
            rt,
            None,
        );
    }
    for &kind in s.workload.nb().kinds() {
        if e2e {
            let (a, b) = (e2e_change_bytes(nd, kind), e2e_change_bytes(of, kind));
            let (rt, _) = ratio(&a, &b, "smaller", "larger");
            push(
                format!("{}, SB transaction size", kind.label()),
                cell(&a, Unit::KiB),
                cell(&b, Unit::KiB),
                rt,
                None,
            );
            let a = e2e_changes(nd, kind);
            let b = e2e_changes(of, kind);
            let (rt, _) = ratio(&a, &b, "faster", "slower");
            push(
                format!("{}, end to end", kind.label()),
                cell(&a, Unit::Millis),
                cell(&b, Unit::Millis),
                rt,
                pick(
                    Some(verdict("≤ 20 ms", b.median().map(|m| m <= 0.020))),
                    None,
                ),
            );
        }
        let c = inproc_changes(ip, kind);
        push(
            format!(
                "{}, ovnflow in process (NB change → SB delta)",
                kind.label()
            ),
            "–".into(),
            cell(&c, Unit::Millis),
            "–".into(),
            pick(
                Some(verdict("≤ 5 ms", c.median().map(|m| m <= 0.005))),
                matches!(kind, ChangeKind::AddFip | ChangeKind::ChangeRoute)
                    .then(|| verdict("≤ 5 ms", c.median().map(|m| m <= 0.005))),
            ),
        );
    }
    out
}

fn pass_text(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "PASS",
        Some(false) => "**FAIL**",
        None => "no data",
    }
}

/// The scaling summary: one line per size.
pub fn summary_table(r: &Results) -> String {
    let mut t = String::new();
    t.push_str("| workload | pods | NB rows | full compute, ovn-northd (e2e) | full compute, ovnflow northd (e2e) | ratio | full compile, ovnflow in process | peak RSS ovn-northd | peak RSS ovnflow northd | peak RSS in process |\n");
    t.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for s in &r.sizes {
        let nd = of_e2e(&s.northd, |r| r.full_s);
        let of = of_e2e(&s.ovnflow, |r| r.full_s);
        let (rt, _) = ratio(&nd, &of, "faster", "slower");
        let rows = s
            .inproc
            .first()
            .map_or("–".into(), |r| r.nb_rows.to_string());
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.workload.name,
            s.workload.pods(),
            rows,
            cell(&nd, Unit::Seconds),
            cell(&of, Unit::Seconds),
            rt,
            if s.inproc.is_empty() && !s.errors.is_empty() {
                "did not finish (below)".to_string()
            } else {
                cell(&of_inproc(&s.inproc, |r| r.compile_s), Unit::Seconds)
            },
            cell(&of_e2e(&s.northd, |r| r.rss_end_kb as f64), Unit::MiB),
            cell(&of_e2e(&s.ovnflow, |r| r.rss_end_kb as f64), Unit::MiB),
            cell(
                &of_inproc(&s.inproc, |r| r.rss_compile_kb as f64),
                Unit::MiB
            ),
        );
    }
    t
}

/// The table of one size.
pub fn size_table(s: &SizeResult, judge: Judge) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| measure | ovn-northd 23.03 | ovnflow | ovnflow vs ovn-northd | target | result |"
    );
    t.push_str("|---|---:|---:|---:|---|---|\n");
    for row in rows(s, judge) {
        let (target, result) = match &row.verdict {
            Some(v) => (v.target.clone(), pass_text(v.pass).to_string()),
            None => ("–".into(), "–".into()),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} |",
            row.measure, row.northd, row.ovnflow, row.ratio, target, result
        );
    }
    t
}

/// The reference size's results, if it was run.
pub fn reference(r: &Results) -> Option<&SizeResult> {
    let name = r.reference.as_deref()?;
    r.sizes.iter().find(|s| s.workload.spec() == name)
}

/// (passed, judged) targets of one size.
fn counts(s: &SizeResult, judge: Judge) -> (usize, usize) {
    let v: Vec<Option<bool>> = rows(s, judge)
        .into_iter()
        .filter_map(|row| row.verdict.map(|v| v.pass))
        .collect();
    (v.iter().filter(|p| **p == Some(true)).count(), v.len())
}

/// (passed, judged) targets at the reference size.
pub fn target_counts(r: &Results) -> (usize, usize) {
    reference(r).map_or((0, 0), |s| counts(s, Judge::Reference))
}

/// (passed, judged) router targets over the sizes they are stated for.
pub fn router_target_counts(r: &Results) -> (usize, usize) {
    r.sizes
        .iter()
        .filter(|s| judge(r, s) == Judge::Routers)
        .map(|s| counts(s, Judge::Routers))
        .fold((0, 0), |(p, a), (q, b)| (p + q, a + b))
}

/// The judged router rows of every router target size, as one table.
fn router_table(r: &Results) -> String {
    let mut t = String::new();
    t.push_str("| workload | measure | ovnflow | target | result |\n|---|---|---:|---|---|\n");
    for s in r.sizes.iter().filter(|s| judge(r, s) == Judge::Routers) {
        for row in rows(s, Judge::Routers) {
            if let Some(v) = row.verdict {
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {} | {} |",
                    s.workload.name,
                    row.measure,
                    row.ovnflow,
                    v.target,
                    pass_text(v.pass)
                );
            }
        }
    }
    t
}

/// The machine and method paragraph.
pub fn header(r: &Results) -> String {
    let m = &r.machine;
    format!(
        "Measured {} on {} cores ({}), {:.0} GiB RAM, {} (load average {:.1} at the start); {}, {}; ovnflow {}. \
         Each number is the median of {} runs (min–max in brackets); single changes: \
         {} rounds of each kind per run, median over all of them. {}. \
         Command: `{}` ({:.0} s).\n",
        m.date,
        m.cores,
        m.cpu,
        m.ram_gib,
        m.kernel,
        m.load,
        m.ovn,
        m.ovs,
        m.ovnflow,
        r.runs,
        r.rounds,
        r.build,
        r.command,
        r.elapsed_s
    )
}

/// What the numbers include.
pub const METHOD: &str = "\
- *End to end*: private NB and SB ovsdb-servers (OVS 3.1) and one daemon, real \
`ovn-northd` or `ovnflow northd`, both single-threaded (their default). The clock runs \
from sending the NB transaction (which also increments `NB_Global.nb_cfg`) until the \
SB update carrying that `nb_cfg` reaches a monitoring client: it **includes the NB \
ovsdb-server commit, the daemon's compute and SB transaction, and the SB ovsdb-server \
commit**. The row *NB committed → SB committed* takes the NB commit out (the \
measure issue 6 states its target in). Full compute: the whole workload in one NB \
transaction to a running daemon (fresh databases each run). Peak RSS: the daemon's `VmHWM` at the end of the run.
- *In process*: the `ovnflow-compiler` library in a fresh process per run, \
no database server: `Compiler::compile_database` on the NB loaded in memory, then \
`Compiler::apply` of each single change's NB row changes (time to the SB delta). Its \
peak RSS is reset after the NB load, so it counts the compile with the NB database \
resident.
- Single changes (each run, in order): add a pod port to a node switch, delete it, \
add an ACL to a network policy's port group, add a backend to a service, add a node \
switch in the cluster load balancer group. End to end, each is sent once the daemon \
and (standalone) both servers have used no CPU for 200 ms: the latency of one change, \
not of the work still queued from the one before (SB updates read back, NB written \
back, ovn-northd's recompute on them).
- The SB Logical_Flow row counts show how much each side computes: ovnflow does not \
reproduce every northd feature yet (golden/KNOWN_DIFFERENCES.md), so its time is for \
the flows it produces.
";

/// The whole report.
pub fn markdown(r: &Results) -> String {
    let mut t = String::from("# ovnflow against ovn-northd 23.03\n\n");
    t.push_str(&header(r));
    t.push('\n');
    t.push_str(METHOD);
    t.push_str("\n## Scaling\n\n");
    t.push_str(&summary_table(r));
    t.push_str("\n![compute time and peak memory against size](scaling.svg)\n");
    let (pass, all) = target_counts(r);
    if let Some(name) = &r.reference {
        let _ = writeln!(
            t,
            "\nTargets (issue 7) are judged at the reference size `{name}`: {pass} of {all} pass.{}",
            if name == super::suite::TARGET_SIZE {
                String::new()
            } else {
                format!(
                    " The targets are stated for `{}`, which this run did not include.",
                    super::suite::TARGET_SIZE
                )
            }
        );
    }
    let (rp, ra) = router_target_counts(r);
    if ra > 0 {
        let _ = writeln!(
            t,
            "\nRouter targets (issue 5) are judged at {}: {rp} of {ra} pass.",
            ROUTER_TARGET_SIZES.join(", ")
        );
    }
    for s in &r.sizes {
        let judged = judge(r, s);
        let _ = writeln!(
            t,
            "\n## {}{}\n",
            s.workload.name,
            match judged {
                Judge::Reference => " (reference size)",
                Judge::Routers => " (router targets)",
                Judge::Not => "",
            }
        );
        let _ = writeln!(
            t,
            "{}{}.\n",
            s.workload.describe(),
            s.inproc.first().map_or(String::new(), |r| format!(
                "; NB {} rows, {:.1} MB of JSON",
                r.nb_rows,
                r.nb_bytes as f64 / 1e6
            ))
        );
        if !s.workload.e2e {
            t.push_str("In process only (the daemons are not run at this size).\n\n");
        }
        t.push_str(&size_table(s, judged));
        for e in &s.errors {
            let _ = writeln!(t, "\n- failed run: {}", e.replace('\n', " "));
        }
    }

    t
}

/// The README section (between the markers): machine, summary, the
/// reference size's table.
pub fn readme_section(r: &Results) -> String {
    let mut t = String::new();
    t.push_str(&header(r));
    t.push('\n');
    t.push_str(&summary_table(r));
    if let Some(s) = reference(r) {
        let (pass, all) = target_counts(r);
        let _ = writeln!(
            t,
            "\n{} (targets of issue 7: {pass} of {all} pass):\n",
            s.workload.name
        );
        t.push_str(&size_table(s, Judge::Reference));
    }
    let (rp, ra) = router_target_counts(r);
    if ra > 0 {
        let _ = writeln!(
            t,
            "\nRouter targets of issue 5, in process ({rp} of {ra} pass):\n"
        );
        t.push_str(&router_table(r));
    }
    for s in &r.sizes {
        for e in &s.errors {
            let _ = writeln!(t, "\n- {}: {}", s.workload.name, e.replace('\n', " "));
        }
    }
    t.push_str("\nFull tables, method and the scaling plot: [`golden/bench-results/latest.md`](golden/bench-results/latest.md), [`scaling.svg`](golden/bench-results/scaling.svg).\n");
    t
}

/// Replaces the text between `<!-- bench:begin -->` and `<!-- bench:end -->`.
pub fn splice_readme(readme: &str, section: &str) -> Result<String, String> {
    const BEGIN: &str = "<!-- bench:begin -->";
    const END: &str = "<!-- bench:end -->";
    let b = readme
        .find(BEGIN)
        .ok_or("README has no <!-- bench:begin --> marker")?;
    let e = readme
        .find(END)
        .ok_or("README has no <!-- bench:end --> marker")?;
    if e < b {
        return Err("README: bench:end before bench:begin".into());
    }
    Ok(format!(
        "{}{BEGIN}\n{section}{}",
        &readme[..b],
        &readme[e..]
    ))
}
