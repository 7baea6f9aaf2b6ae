//! Typed rows of the OVN_Southbound (OVN 23.03, schema 20.27.0) database, generated from the bundled schema
//! by `build.rs` (conventions in [`crate::typed`]).

include!(concat!(env!("OUT_DIR"), "/sb.rs"));
