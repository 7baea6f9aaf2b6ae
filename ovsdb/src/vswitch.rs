//! Typed rows of the Open_vSwitch (OVS 3.1) database, generated from the bundled schema
//! by `build.rs` (conventions in [`crate::typed`]).

include!(concat!(env!("OUT_DIR"), "/vswitch.rs"));
