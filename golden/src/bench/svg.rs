//! The scaling plot, written by hand: full compute time and peak RSS
//! against the number of pods (both axes logarithmic), ovn-northd and
//! ovnflow on one chart, medians joined by lines with min–max bars.

use std::fmt::Write;

use super::stats::Samples;
use super::suite::Results;

/// One line of a panel: a name, a colour, a dash pattern and its points
/// (pods, samples).
struct Series {
    name: &'static str,
    colour: &'static str,
    dash: &'static str,
    points: Vec<(f64, Samples)>,
}

const W: f64 = 480.0;
const H: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let lo = lo.max(1e-9).log10().floor();
    let mut hi = hi.max(1e-9).log10().ceil();
    if hi <= lo {
        hi = lo + 1.0;
    }
    (lo, hi)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn label(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// One panel at horizontal offset `x0`.
fn panel(out: &mut String, x0: f64, title: &str, unit: &str, series: &[Series]) {
    let pts: Vec<(f64, f64, f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter_map(|(x, s)| Some((*x, s.median()?, s.min()?, s.max()?)))
        .collect();
    let _ = writeln!(
        out,
        r#"<text x="{}" y="24" font-size="15" text-anchor="middle" font-weight="bold">{}</text>"#,
        x0 + W / 2.0,
        esc(title)
    );
    if pts.is_empty() {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">no data</text>"#,
            x0 + W / 2.0,
            H / 2.0
        );
        return;
    }
    let (xl, xh) = decades(
        pts.iter().map(|p| p.0).fold(f64::MAX, f64::min),
        pts.iter().map(|p| p.0).fold(0.0, f64::max),
    );
    let (yl, yh) = decades(
        pts.iter().map(|p| p.2).fold(f64::MAX, f64::min),
        pts.iter().map(|p| p.3).fold(0.0, f64::max),
    );
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let px = |x: f64| x0 + LEFT + (x.log10() - xl) / (xh - xl) * pw;
    let py = |y: f64| TOP + ph - (y.max(1e-12).log10() - yl) / (yh - yl) * ph;
    // Grid and axes.
    for d in xl as i32..=xh as i32 {
        let x = px(10f64.powi(d));
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 16.0,
            label(10f64.powi(d))
        );
    }
    for d in yl as i32..=yh as i32 {
        let y = py(10f64.powi(d));
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            x0 + LEFT,
            x0 + LEFT + pw,
            x0 + LEFT - 6.0,
            y + 4.0,
            label(10f64.powi(d))
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{:.1}" y="{TOP}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#444"/>"##,
        x0 + LEFT
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">pods (log)</text>"#,
        x0 + LEFT + pw / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 {:.1} {:.1})">{} (log)</text>"#,
        x0 + 16.0,
        TOP + ph / 2.0,
        x0 + 16.0,
        TOP + ph / 2.0,
        esc(unit)
    );
    // Series.
    for (i, s) in series.iter().enumerate() {
        let line: Vec<String> = s
            .points
            .iter()
            .filter_map(|(x, v)| Some(format!("{:.1},{:.1}", px(*x), py(v.median()?))))
            .collect();
        if line.len() > 1 {
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"#,
                line.join(" "),
                s.colour,
                s.dash
            );
        }
        for (x, v) in &s.points {
            if let (Some(m), Some(lo), Some(hi)) = (v.median(), v.min(), v.max()) {
                let _ = writeln!(
                    out,
                    r#"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="{3}"/><circle cx="{0:.1}" cy="{4:.1}" r="3.5" fill="{3}"/>"#,
                    px(*x),
                    py(lo),
                    py(hi),
                    s.colour,
                    py(m)
                );
            }
        }
        let ly = TOP + 12.0 + 16.0 * i as f64;
        let lx = x0 + LEFT + 10.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            ly - 4.0,
            lx + 22.0,
            ly - 4.0,
            s.colour,
            s.dash,
            lx + 28.0,
            ly,
            esc(s.name)
        );
    }
}

/// The plot as an SVG document.
pub fn scaling(r: &Results) -> String {
    let mut time = [
        Series {
            name: "ovn-northd 23.03, end to end",
            colour: "#c0392b",
            dash: "none",
            points: vec![],
        },
        Series {
            name: "ovnflow northd, end to end",
            colour: "#2471a3",
            dash: "none",
            points: vec![],
        },
        Series {
            name: "ovnflow in process",
            colour: "#229954",
            dash: "6 3",
            points: vec![],
        },
    ];
    let mut mem = [
        Series {
            name: "ovn-northd 23.03",
            colour: "#c0392b",
            dash: "none",
            points: vec![],
        },
        Series {
            name: "ovnflow northd",
            colour: "#2471a3",
            dash: "none",
            points: vec![],
        },
        Series {
            name: "ovnflow in process (compile)",
            colour: "#229954",
            dash: "6 3",
            points: vec![],
        },
    ];
    // One family per chart: the Kubernetes shape's sizes (the other
    // families are in the tables).
    for s in r
        .sizes
        .iter()
        .filter(|s| s.workload.family == super::suite::Family::K8s && !s.workload.raft)
    {
        let x = s.workload.pods() as f64;
        let e2e = |runs: &[super::e2e::E2eRun], f: fn(&super::e2e::E2eRun) -> f64| Samples {
            values: runs.iter().map(f).collect(),
        };
        let ip = |f: fn(&super::inproc::InprocRun) -> f64| Samples {
            values: s.inproc.iter().map(f).collect(),
        };
        let mb = 1.0 / 1024.0;
        let add = |series: &mut Series, v: Samples| {
            if !v.is_empty() {
                series.points.push((x, v));
            }
        };
        add(&mut time[0], e2e(&s.northd, |r| r.full_s));
        add(&mut time[1], e2e(&s.ovnflow, |r| r.full_s));
        add(&mut time[2], ip(|r| r.compile_s));
        let scale = |v: Samples| Samples {
            values: v.values.iter().map(|k| k * mb).collect(),
        };
        add(&mut mem[0], scale(e2e(&s.northd, |r| r.rss_end_kb as f64)));
        add(&mut mem[1], scale(e2e(&s.ovnflow, |r| r.rss_end_kb as f64)));
        add(&mut mem[2], scale(ip(|r| r.rss_compile_kb as f64)));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="sans-serif">"#,
        2.0 * W,
        H + 20.0,
        2.0 * W,
        H + 20.0
    );
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    panel(
        &mut out,
        0.0,
        "Full compute time (Kubernetes shape)",
        "seconds",
        &time,
    );
    panel(&mut out, W, "Peak RSS", "MB", &mem);
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#555">{}</text>"##,
        W,
        H + 14.0,
        esc(&format!(
            "ovnflow {} · {} · {} cores, {:.0} GiB · median, bars min–max",
            r.machine.ovnflow, r.machine.ovn, r.machine.cores, r.machine.ram_gib
        ))
    );
    let unfinished: Vec<String> = r
        .sizes
        .iter()
        .filter(|s| s.inproc.is_empty() && !s.errors.is_empty())
        .map(|s| format!("{} ({} pods)", s.workload.name, s.workload.pods()))
        .collect();
    if !unfinished.is_empty() {
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#a00">{}</text>"##,
            W,
            H + 2.0,
            esc(&format!(
                "not plotted, did not finish: {}",
                unfinished.join(", ")
            ))
        );
    }
    out.push_str("</svg>\n");
    out
}
