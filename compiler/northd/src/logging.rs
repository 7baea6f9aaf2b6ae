//! Log lines in the format of OVS daemons (`lib/vlog.c` default pattern
//! `%D{%Y-%m-%dT%H:%M:%S.###Z}|%05N|%c|%p|%m`):
//! `2023-05-04T10:11:12.345Z|00012|ovn_northd|INFO|message`.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Formats events as OVS log lines.
#[derive(Default)]
pub struct OvsFormat {
    seq: AtomicU64,
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a time in milliseconds since the epoch.
pub fn timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

/// Milliseconds since the epoch (OVS `time_wall_msec()`).
pub fn wall_msec() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The OVS module name of a tracing target: this crate logs as
/// `ovn_northd`, others by their path with `::` turned into `_`.
fn module(target: &str) -> String {
    if target.starts_with("ovnflow_northd") {
        "ovn_northd".to_string()
    } else {
        target.replace("::", "_")
    }
}

fn level(l: &tracing::Level) -> &'static str {
    match *l {
        tracing::Level::ERROR => "ERR",
        tracing::Level::WARN => "WARN",
        tracing::Level::INFO => "INFO",
        _ => "DBG",
    }
}

impl<S, N> FormatEvent<S, N> for OvsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        write!(
            writer,
            "{}|{seq:05}|{}|{}|",
            timestamp(wall_msec()),
            module(meta.target()),
            level(meta.level())
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Turns OVS `--verbose` specs (`[module][:destination][:level]`, parts in
/// any order; destinations are accepted and ignored) into a tracing filter.
/// A spec without a level means `dbg`; `ovn_northd` names this crate.
///
/// The directives are only `LEVEL` and `TARGET=LEVEL`, which a
/// [`Targets`] filter takes as an `EnvFilter` would, without the regular
/// expression engine an `EnvFilter` compiles at start (a daemon on every
/// chassis, `ovnflow-controller`, then neither maps nor runs that code:
/// issue 9).
pub fn filter(verbose: &[String]) -> Result<Targets, String> {
    let mut directives = vec!["info".to_string()];
    for spec in verbose {
        let mut module: Option<String> = None;
        let mut lvl = "debug";
        for part in spec.split([':', ',']).filter(|p| !p.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "console" | "syslog" | "file" | "any" => {}
                "off" => lvl = "off",
                "emer" | "err" => lvl = "error",
                "warn" => lvl = "warn",
                "info" => lvl = "info",
                "dbg" => lvl = "debug",
                "ovn_northd" => module = Some("ovnflow_northd".into()),
                m if m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    module = Some(m.to_string())
                }
                other => return Err(format!("--verbose={spec}: unknown part \"{other}\"")),
            }
        }
        directives.push(match module {
            Some(m) => format!("{m}={lvl}"),
            None => lvl.to_string(),
        });
    }
    directives
        .join(",")
        .parse::<Targets>()
        .map_err(|e| format!("--verbose: {e}"))
}

/// Installs the global subscriber: OVS-format lines to stderr (unless
/// `quiet`) and to `log_file` (appended) if given.
pub fn init(verbose: &[String], log_file: Option<&Path>, quiet: bool) -> Result<(), String> {
    let filter = filter(verbose)?;
    let file = match log_file {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("{}: cannot open log file: {e}", p.display()))?,
        ),
        None => None,
    };
    let writer = match (file, quiet) {
        (Some(f), true) => BoxMakeWriter::new(std::sync::Mutex::new(f)),
        (Some(f), false) => BoxMakeWriter::new(std::io::stderr.and(std::sync::Mutex::new(f))),
        (None, true) => BoxMakeWriter::new(std::io::sink),
        (None, false) => BoxMakeWriter::new(std::io::stderr),
    };
    tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer)
        .with_ansi(false)
        .event_format(OvsFormat::default())
        .finish()
        .with(filter)
        .try_init()
        .map_err(|e| format!("logging: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        // 2023-04-28T12:34:56.789Z
        assert_eq!(timestamp(1_682_685_296_789), "2023-04-28T12:34:56.789Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn verbose_specs_map_to_directives() {
        assert!(filter(&["ovn_northd:file:dbg".into()]).is_ok());
        assert!(filter(&["".into()]).is_ok());
        assert!(filter(&["jsonrpc:warn".into()]).is_ok());
        assert!(filter(&["bad/thing".into()]).is_err());
        // The levels as OVS names them; the last word on a target wins.
        let f = filter(&["jsonrpc:warn".into(), "ovn_northd:dbg".into()]).unwrap();
        assert_eq!(f.default_level(), Some(LevelFilter::INFO));
        let levels: Vec<_> = f.iter().map(|(t, l)| (t.to_string(), l)).collect();
        assert!(levels.contains(&("jsonrpc".to_string(), LevelFilter::WARN)));
        assert!(levels.contains(&("ovnflow_northd".to_string(), LevelFilter::DEBUG)));
        let f = filter(&["".into()]).unwrap();
        assert_eq!(f.default_level(), Some(LevelFilter::DEBUG));
        let f = filter(&["off".into()]).unwrap();
        assert_eq!(f.default_level(), Some(LevelFilter::OFF));
    }
}
