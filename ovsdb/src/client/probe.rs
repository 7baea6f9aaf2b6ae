//! The inactivity probe's interval, changeable while connections run.

use std::time::Duration;

use tokio::sync::watch;

/// An inactivity-probe interval shared by connections, which follow its
/// changes at once: ovn-northd re-reads `NB_Global`
/// `options:northd_probe_interval` on every loop and applies it to its open
/// NB and SB sessions (`ovsdb_idl_set_probe_interval()`). `None` disables
/// the probe.
#[derive(Clone, Debug)]
pub struct ProbeInterval(watch::Sender<Option<Duration>>);

impl ProbeInterval {
    /// A shared interval starting at `interval`.
    pub fn new(interval: Option<Duration>) -> ProbeInterval {
        ProbeInterval(watch::Sender::new(interval))
    }

    /// Changes the interval of every connection following it (the change
    /// applies to the wait under way, from its start).
    pub fn set(&self, interval: Option<Duration>) {
        self.0.send_if_modified(|cur| {
            let changed = *cur != interval;
            *cur = interval;
            changed
        });
    }

    /// The current interval.
    pub fn get(&self) -> Option<Duration> {
        *self.0.borrow()
    }

    pub(super) fn watch(&self) -> watch::Receiver<Option<Duration>> {
        self.0.subscribe()
    }
}

impl Default for ProbeInterval {
    fn default() -> Self {
        ProbeInterval::new(None)
    }
}

/// OVS's rule for a configured interval in milliseconds
/// (`reconnect_set_probe_interval()`): 0 disables the probe, anything else
/// is at least one second.
pub fn probe_from_msec(msec: i64) -> Option<Duration> {
    (msec != 0).then(|| Duration::from_millis(msec.max(1000) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovs_interval_rule() {
        assert_eq!(probe_from_msec(0), None);
        assert_eq!(probe_from_msec(500), Some(Duration::from_secs(1)));
        assert_eq!(probe_from_msec(-3), Some(Duration::from_secs(1)));
        assert_eq!(probe_from_msec(30_000), Some(Duration::from_secs(30)));
    }

    #[test]
    fn followers_see_changes() {
        let p = ProbeInterval::new(None);
        let mut rx = p.watch();
        p.set(Some(Duration::from_secs(2)));
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), Some(Duration::from_secs(2)));
        p.set(Some(Duration::from_secs(2)));
        assert!(!rx.has_changed().unwrap(), "same value: no wake-up");
        assert_eq!(p.get(), Some(Duration::from_secs(2)));
    }
}
