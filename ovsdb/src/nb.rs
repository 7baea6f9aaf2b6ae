//! Typed rows of the OVN_Northbound (OVN 23.03, schema 7.0.0) database, generated from the bundled schema
//! by `build.rs` (conventions in [`crate::typed`]).

include!(concat!(env!("OUT_DIR"), "/nb.rs"));
