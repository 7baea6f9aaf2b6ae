//! OVSDB (RFC 7047) for OVN tools: data model, schemas, JSON-RPC client,
//! replicas and file readers.
//!
//! Layers, bottom up:
//! - [`atom`] and [`datum`]: the data model and its exact JSON forms;
//! - `schema`, `validate`: `.ovsschema` files and checking data against them;
//! - `db`, `txn`, `replica`, `file`, `transact_file`: in-memory databases, the
//!   transaction executor, monitor-fed replicas and offline readers;
//! - `jsonrpc`, `remote`, `client`: the wire protocol and the async client;
//! - `nb`, `sb`, `vswitch`, `server`: typed rows generated from the bundled schemas.
#![warn(missing_docs)]

pub mod atom;
pub mod datum;

pub use atom::{Atom, AtomType, Real, Uuid};
pub use datum::{Datum, Row};
