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
