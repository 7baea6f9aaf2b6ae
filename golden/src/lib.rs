//! Golden corpus of NB topologies and what real ovn-northd 23.03 wrote for
//! them, so that ovnflow's fidelity is measured by `cargo test` without OVN
//! installed; the oracle code that regenerates the corpus from a private
//! real northd; the canonical SB text form both are compared in; and
//! deterministic NB generators for the corpus and the benchmarks.
//!
//! Modules: [`bench`] (the benchmark suite against real northd), [`gen`] (generated topologies), [`canon`] (canonical SB text),
//! [`corpus`] (the checked-in entries), [`history`] (an NB `.db` history as
//! replayable transactions), [`oracle`] (private real daemons), [`regen`]
//! (running northd on an entry), [`status`] (per-section comparison and the
//! checked-in status).
#![warn(missing_docs)]

pub mod bench;
pub mod canon;
pub mod cluster;
pub mod corpus;
pub mod gen;
pub mod history;
pub mod oracle;
pub mod regen;
pub mod status;
