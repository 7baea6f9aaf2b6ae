//! Event counters (`coverage/show`) and phase timings (`stats`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// Durations of one phase: count, last, total and maximum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// How many times it ran.
    pub count: u64,
    /// Its last duration.
    pub last: Duration,
    /// Sum of durations.
    pub total: Duration,
    /// Longest duration.
    pub max: Duration,
}

impl Timing {
    /// Records one run.
    pub fn record(&mut self, d: Duration) {
        self.count += 1;
        self.last = d;
        self.total += d;
        self.max = self.max.max(d);
    }
}

/// What the daemon counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Named event counters.
    pub counters: BTreeMap<&'static str, u64>,
    /// Named phase timings.
    pub timings: BTreeMap<&'static str, Timing>,
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

impl Stats {
    /// Adds `n` to counter `name`.
    pub fn add(&mut self, name: &'static str, n: u64) {
        *self.counters.entry(name).or_default() += n;
    }

    /// The value of counter `name`.
    pub fn get(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Records a duration of phase `name`.
    pub fn time(&mut self, name: &'static str, d: Duration) {
        self.timings.entry(name).or_default().record(d);
    }

    /// `coverage/show`: every counter with its total.
    pub fn coverage_text(&self) -> String {
        let mut s = String::from("Event coverage (totals since start):\n");
        for (name, n) in &self.counters {
            let _ = writeln!(s, "{name:<32} total: {n}");
        }
        s
    }

    /// `stats`: phase timings in milliseconds, then the counters.
    pub fn stats_text(&self) -> String {
        let mut s = String::from("Timings (ms):\n");
        for (name, t) in &self.timings {
            let avg = if t.count == 0 {
                Duration::ZERO
            } else {
                t.total / t.count as u32
            };
            let _ = writeln!(
                s,
                "  {name:<24} count: {:<8} last: {:<10} avg: {:<10} max: {}",
                t.count,
                ms(t.last),
                ms(avg),
                ms(t.max)
            );
        }
        s.push_str("Counters:\n");
        for (name, n) in &self.counters {
            let _ = writeln!(s, "  {name:<32} {n}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_keep_count_last_and_max() {
        let mut s = Stats::default();
        s.time("compile", Duration::from_millis(3));
        s.time("compile", Duration::from_millis(1));
        let t = &s.timings["compile"];
        assert_eq!(
            (t.count, t.last, t.max),
            (2, Duration::from_millis(1), Duration::from_millis(3))
        );
        s.add("sb_txn", 2);
        assert!(s.stats_text().contains("sb_txn"));
        assert!(s.coverage_text().contains("total: 2"));
    }
}
