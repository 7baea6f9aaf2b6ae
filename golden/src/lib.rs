//! Golden corpus, generators of NB topologies, the real ovn-northd oracle
//! and canonical SB comparison.
#![warn(missing_docs)]

pub mod gen;
