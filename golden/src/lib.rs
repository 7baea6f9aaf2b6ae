//! Golden corpus, the real ovn-northd oracle and canonical SB comparison.
