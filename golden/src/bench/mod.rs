//! The benchmark suite behind `ovnflow-bench` (issue 7): ovnflow against
//! real ovn-northd 23.03 on the same generated workloads in the same run.
//!
//! Modules: [`suite`] (workloads, the run order, progress), [`e2e`]
//! (daemons between private ovsdb-servers, NB commit → SB commit),
//! [`inproc`] (the compiler library in a worker process), [`changes`] (the
//! single NB changes), [`memory`] (peak RSS), [`stats`] (median/min/max),
//! [`machine`] (machine and versions), [`report`] (markdown tables and
//! targets), [`svg`] (the scaling plot).

pub mod changes;
pub mod e2e;
pub mod inproc;
pub mod machine;
pub mod memory;
pub mod report;
pub mod stats;
pub mod suite;
pub mod svg;
