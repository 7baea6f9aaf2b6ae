//! OVSDB (RFC 7047) for OVN tools: data model, schemas, JSON-RPC client,
//! replicas and file readers.
//!
//! Layers, bottom up:
//! - [`atom`] and [`datum`]: the data model and its exact JSON forms; [`de`]:
//!   parsing it straight from JSON text into rows;
//! - [`schema`], [`validate`]: `.ovsschema` files and checking data against them;
//! - [`db`], [`txn`], [`replica`], [`file`], [`transact_file`]: in-memory
//!   databases, the transaction executor, monitor-fed replicas and offline readers;
//! - [`jsonrpc`], [`remote`], [`client`]: the wire protocol and the async client;
//! - [`typed`] with [`nb`], [`sb`], [`vswitch`], [`server`]: typed rows generated
//!   from the bundled schemas.
#![warn(missing_docs)]

pub mod atom;
pub mod datum;
pub mod de;
pub mod row;

// Schemas and typed rows.
pub mod nb;
pub mod ovs_hash;
pub mod sb;
pub mod schema;
pub mod server;
pub mod typed;
pub mod validate;
pub mod vswitch;

// Databases, transactions, replicas and files.
pub mod db;
pub mod file;
pub mod replica;
pub mod transact_file;
pub mod txn;

// Wire protocol and client.
pub mod client;
pub mod jsonrpc;
pub mod rawjson;
pub mod remote;

#[doc(hidden)]
pub mod fuzzing;

pub use atom::{Atom, AtomType, Real, Uuid};
pub use datum::{Datum, Row};
pub use db::{Database, RowChange};
pub use schema::DatabaseSchema;
