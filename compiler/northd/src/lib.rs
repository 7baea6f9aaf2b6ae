//! `ovnflow northd`: a drop-in for ovn-northd 23.03 (northd/ovn-northd.c,
//! northd/inc-proc-northd.c at v23.03.1) driven by the incremental
//! [`ovnflow_compiler::Compiler`].
//!
//! The daemon monitors the Northbound and Southbound databases, feeds every
//! NB transaction to the compiler and writes the resulting SB changes in one
//! SB transaction, while holding the SB lock `ovn_northd` (standby
//! otherwise). On start, on takeover and after a reconnection it reconciles
//! with what the SB already holds, matching rows by content so that rows
//! another northd wrote are kept with their UUIDs and tunnel keys. It
//! copies `NB_Global.nb_cfg` to the SB and reports `sb_cfg`/`hv_cfg` and
//! `Logical_Switch_Port.up` back to the NB, and answers `ovn-appctl` on its
//! control socket.
//!
//! Layout: [`config`] (validated settings), [`daemon`] (the main loop),
//! [`reconcile`] (SB rows we want vs rows the SB holds → operations),
//! [`feedback`] (what northd writes back to the NB), [`link`] (database
//! sessions, the lock and writers), [`pending`] (compiler output not yet
//! written), [`sbtxn`] (one step's SB transaction, streamed when large),
//! [`mirror`] (local copies of the databases), [`unixctl`] (the control
//! socket), [`stats`] (counters and timings), [`logging`] (OVS-style log
//! lines), [`process`] (pid file, detaching).
#![deny(missing_docs)]

pub mod config;
pub mod daemon;
pub mod feedback;
pub mod link;
pub mod logging;
pub mod mirror;
pub mod pending;
pub mod process;
pub mod reconcile;
pub mod sbtxn;
pub mod stats;
pub mod unixctl;

pub use config::Config;
pub use daemon::run;
