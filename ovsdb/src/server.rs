//! Typed rows of the _Server (ovsdb-server 3.1) database, generated from the bundled schema
//! by `build.rs` (conventions in [`crate::typed`]).

include!(concat!(env!("OUT_DIR"), "/server.rs"));
