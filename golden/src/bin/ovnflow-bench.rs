//! `ovnflow-bench`: ovnflow against real ovn-northd 23.03, side by side on
//! generated Kubernetes-, ovn-kubernetes- and OpenStack-shaped workloads; writes a markdown report, the
//! raw results (JSON) and a scaling plot (SVG) to a results folder.
//!
//! ```text
//! cargo build --release -p ovnflow -p ovnflow-golden
//! target/release/ovnflow-bench            # the whole suite (< 20 min on 2 cores)
//! target/release/ovnflow-bench --quick    # the smaller sizes
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ovnflow_golden::bench::{inproc, machine::Machine, report, suite, svg};

/// Sizes the daemons run on (`NODESxPODS/SERVICES/POLICIES`, or with a
/// family prefix: see `Workload::parse`).
const FULL_E2E: &[&str] = &[
    "10x100/100/50",
    "30x100/300/150",
    "100x100/1000/500",
    "ovn-k8s:10x100/100/50",
    "ovn-k8s:50x100/500/250",
    "openstack:20/4/10/200",
    "openstack:100/4/10/1000",
    "raft:30x100/300/150",
];
/// Larger sizes measured in process only (issue 5's router targets: 1,000
/// tenant routers with 5 floating IPs each; 500 nodes in ovn-kubernetes
/// shape).
const FULL_INPROC: &[&str] = &[
    "1000x100/10000/5000",
    "ovn-k8s:500x20/1000/250",
    "openstack:1000/1/5/5000",
];
const QUICK_E2E: &[&str] = &[
    "5x20/20/10",
    "20x50/200/100",
    "ovn-k8s:5x20/20/10",
    "openstack:5/2/5/10",
    "raft:5x20/20/10",
];

#[derive(Parser)]
#[command(
    name = "ovnflow-bench",
    about = "Benchmark ovnflow against real ovn-northd 23.03 (markdown table, JSON, SVG plot)"
)]
struct Cli {
    #[command(subcommand)]
    worker: Option<Worker>,
    /// The smaller sizes only, fewer runs.
    #[arg(long)]
    quick: bool,
    /// Sizes to run with both daemons and in process, NODESxPODS/SERVICES/POLICIES,
    /// `ovn-k8s:NODESxPODS/SERVICES/POLICIES` (with gateway routers) or
    /// `openstack:ROUTERS/NETWORKS/VMS/FIPS`, each optionally prefixed `raft:` (NB and SB as
    /// 3-member RAFT clusters) (repeatable; replaces the defaults).
    #[arg(long = "k8s", value_name = "SPEC")]
    k8s: Vec<String>,
    /// Sizes to run in process only (repeatable; replaces the defaults).
    #[arg(long = "inproc-k8s", value_name = "SPEC")]
    inproc_k8s: Vec<String>,
    /// Backends per service.
    #[arg(long, default_value_t = 3)]
    backends: u32,
    /// Runs per size and side [default: 3].
    #[arg(long)]
    runs: Option<u32>,
    /// Rounds of single changes per run.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// The `ovnflow` binary [default: `ovnflow` next to this program].
    #[arg(long, value_name = "PATH")]
    ovnflow: Option<PathBuf>,
    /// Results folder [default: golden/bench-results of this checkout].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write the "Benchmarks" section of this README (between
    /// `<!-- bench:begin -->` and `<!-- bench:end -->`).
    #[arg(long, value_name = "FILE")]
    readme: Option<PathBuf>,
    /// Longest wait for one SB update, seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Resident size at which an in-process run is stopped (and reported), GiB.
    #[arg(long, default_value_t = 6.0)]
    max_rss_gib: f64,
    /// Longest an in-process run may take, seconds.
    #[arg(long, default_value_t = 300)]
    worker_timeout: u64,
    /// Run nothing: write the report (markdown, SVG, `--readme`) again from
    /// the results of an earlier run (its `latest.json`).
    #[arg(long, value_name = "JSON")]
    render: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Worker {
    /// (internal) One in-process run; prints its measures as JSON.
    #[command(hide = true)]
    Worker {
        #[arg(long = "k8s")]
        k8s: String,
        #[arg(long, default_value_t = 3)]
        backends: u32,
        #[arg(long, default_value_t = 5)]
        rounds: u32,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ovnflow-bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    if let Some(Worker::Worker {
        k8s,
        backends,
        rounds,
    }) = &cli.worker
    {
        let w = suite::Workload::parse(k8s, *backends, false)?;
        let r = inproc::run_once(&w.nb(), *rounds)?;
        println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
        return Ok(ExitCode::SUCCESS);
    }
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/bench-results")));
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    if let Some(json) = &cli.render {
        let text = std::fs::read_to_string(json).map_err(|e| format!("{}: {e}", json.display()))?;
        let results: suite::Results =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
        return write_reports(&cli, &out, &results, &suite::Progress::new());
    }
    if !ovnflow_golden::oracle::available().map_err(|e| e.to_string())? {
        return Err(format!(
            "the OVN binaries ({}) are not on PATH",
            ovnflow_golden::oracle::BINARIES.join(", ")
        ));
    }
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let ovnflow = cli
        .ovnflow
        .clone()
        .or_else(|| std::env::var_os("OVNFLOW_BIN").map(PathBuf::from))
        .unwrap_or_else(|| me.with_file_name("ovnflow"));
    if !ovnflow.is_file() {
        return Err(format!(
            "{} not found: build it (cargo build --release -p ovnflow) or pass --ovnflow",
            ovnflow.display()
        ));
    }
    let custom = !cli.k8s.is_empty() || !cli.inproc_k8s.is_empty();
    let (e2e, inp): (Vec<String>, Vec<String>) = if custom {
        (cli.k8s.clone(), cli.inproc_k8s.clone())
    } else if cli.quick {
        (QUICK_E2E.iter().map(|s| s.to_string()).collect(), vec![])
    } else {
        (
            FULL_E2E.iter().map(|s| s.to_string()).collect(),
            FULL_INPROC.iter().map(|s| s.to_string()).collect(),
        )
    };
    let mut workloads = Vec::new();
    for s in &e2e {
        workloads.push(suite::Workload::parse(s, cli.backends, true)?);
    }
    for s in &inp {
        workloads.push(suite::Workload::parse(s, cli.backends, false)?);
    }
    workloads.sort_by_key(|w| (w.raft, w.family, w.pods(), w.services, !w.e2e));
    // The targets are stated for 100×100/1000/500; a run without it
    // judges them at its largest end-to-end size, and says so.
    let reference = workloads
        .iter()
        .find(|w| w.e2e && w.spec() == suite::TARGET_SIZE)
        .or_else(|| {
            workloads
                .iter()
                .rev()
                .find(|w| w.e2e && !w.raft && w.family == suite::Family::K8s)
        })
        .map(|w| w.spec());
    let cfg = suite::Config {
        workloads,
        runs: cli.runs.unwrap_or(3).max(1),
        rounds: cli.rounds,
        ovnflow,
        worker: me,
        timeout: Duration::from_secs(cli.timeout),
        max_rss_kb: (cli.max_rss_gib * 1048576.0) as u64,
        worker_timeout: Duration::from_secs(cli.worker_timeout),
        reference,
    };
    let command = std::iter::once("ovnflow-bench".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let progress = suite::Progress::new();
    let machine = Machine::detect();
    progress.say(&format!(
        "{} cores, {:.0} GiB; {}; {}; ovnflow {} ({}); results in {}",
        machine.cores,
        machine.ram_gib,
        machine.ovn,
        machine.ovs,
        machine.ovnflow,
        cfg.ovnflow.display(),
        out.display()
    ));
    let results = suite::run(&cfg, machine, command, &progress);
    write_reports(&cli, &out, &results, &progress)
}

/// Writes `latest.md`, `latest.json`, `scaling.svg` and the README section;
/// fails when a run failed.
fn write_reports(
    cli: &Cli,
    out: &std::path::Path,
    results: &suite::Results,
    progress: &suite::Progress,
) -> Result<ExitCode, String> {
    let md = report::markdown(results);
    let write = |name: &str, text: &str| {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
    };
    write("latest.md", &md)?;
    write(
        "latest.json",
        &serde_json::to_string_pretty(results).map_err(|e| e.to_string())?,
    )?;
    write("scaling.svg", &svg::scaling(results))?;
    if let Some(readme) = &cli.readme {
        let text =
            std::fs::read_to_string(readme).map_err(|e| format!("{}: {e}", readme.display()))?;
        let new = report::splice_readme(&text, &report::readme_section(results))
            .map_err(|e| format!("{}: {e}", readme.display()))?;
        std::fs::write(readme, new).map_err(|e| format!("{}: {e}", readme.display()))?;
    }
    println!("{md}");
    progress.say(&format!(
        "wrote latest.md, latest.json and scaling.svg to {}",
        out.display()
    ));
    let failed = results.sizes.iter().any(|s| !s.errors.is_empty());
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
