//! Peak resident memory of a process, as the kernel counts it
//! (`VmHWM` in `/proc/PID/status`).

fn status_kb(pid: &str, field: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{path}: no {field} line"))
}

/// `VmHWM` (peak resident size) of process `pid` (`"self"` for this one) in kB.
pub fn peak_rss_kb(pid: &str) -> Result<u64, String> {
    status_kb(pid, "VmHWM:")
}

/// `VmRSS` (current resident size) of process `pid` in kB.
pub fn rss_kb(pid: &str) -> Result<u64, String> {
    status_kb(pid, "VmRSS:")
}

/// CPU seconds (user + system) process `pid` has used so far, from
/// `/proc/PID/stat` (clock ticks of `getconf CLK_TCK`, 100 if unknown).
pub fn cpu_s(pid: &str) -> Result<f64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // Fields after the parenthesized command name (which may hold spaces):
    // state is field 3, utime 14 and stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("{path}: no command name"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Result<f64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| format!("{path}: field {} unreadable", i + 3))
    };
    Ok((tick(11)? + tick(12)?) / clock_ticks())
}

/// `getconf CLK_TCK`, once.
fn clock_ticks() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Resets this process's peak to its current resident size (writing `5`
/// to `/proc/self/clear_refs`, Linux 4.0+), so that a later
/// [`peak_rss_kb`] measures one phase.
pub fn reset_peak() -> Result<(), String> {
    std::fs::write("/proc/self/clear_refs", "5").map_err(|e| format!("/proc/self/clear_refs: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_time_grows() {
        let me = std::process::id().to_string();
        let before = cpu_s(&me).unwrap();
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let after = cpu_s(&me).unwrap();
        assert!(after > before, "{before} -> {after}");
        assert!(cpu_s("0").is_err());
    }

    #[test]
    fn own_peak_is_read_and_reset() {
        let before = peak_rss_kb("self").unwrap();
        assert!(before > 0);
        let big = vec![1u8; 64 << 20];
        let during = peak_rss_kb("self").unwrap();
        assert!(during >= before + 60_000, "{before} -> {during}");
        drop(big);
        reset_peak().unwrap();
        assert!(peak_rss_kb("self").unwrap() < during);
    }
}
