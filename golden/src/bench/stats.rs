//! Samples of one measure over several runs, summarised as median, min and
//! max (the suite never reports a single run as a result).

use serde::{Deserialize, Serialize};

/// The values one measure took, one per run (seconds, or kB for memory).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Samples {
    /// The values in the order they were measured.
    pub values: Vec<f64>,
}

impl Samples {
    /// Adds one value.
    pub fn push(&mut self, v: f64) {
        self.values.push(v);
    }

    /// True when nothing was measured.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median (mean of the middle two for an even count), if any.
    pub fn median(&self) -> Option<f64> {
        let v = self.sorted();
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    }

    /// The smallest value.
    pub fn min(&self) -> Option<f64> {
        self.sorted().first().copied()
    }

    /// The largest value.
    pub fn max(&self) -> Option<f64> {
        self.sorted().last().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max() {
        let s = Samples {
            values: vec![3.0, 1.0, 2.0, 10.0],
        };
        assert_eq!(s.median(), Some(2.5));
        assert_eq!(s.min(), Some(1.0));
        assert_eq!(s.max(), Some(10.0));
        let odd = Samples {
            values: vec![5.0, 1.0, 3.0],
        };
        assert_eq!(odd.median(), Some(3.0));
        assert_eq!(Samples::default().median(), None);
    }
}
