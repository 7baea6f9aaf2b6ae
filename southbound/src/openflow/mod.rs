//! Delivering a chassis's OpenFlow table to ovs-vswitchd natively, as
//! ovn-controller's `ofctrl` does: OpenFlow 1.5 with the Nicira extensions
//! over the bridge's management socket.
//!
//! * [`wire`]: message codecs (parse/emit pairs).
//! * [`convert`]: [`crate::flow_table::OfFlow`] → `FLOW_MOD`s, byte-exact
//!   with OVS's encoding.
//! * [`conn`]: the async connection (hello, echo, barrier, bundles).
//! * [`groups`]: group texts (as ovn-controller keeps them) → `GROUP_MOD`s.
//! * [`meters`]: SB `Meter` rows and `set_meter` texts → `METER_MOD`s.
//! * [`installer`]: the installed table, deltas in one bundle, and a full
//!   resync after reconnecting.

pub mod conn;
pub mod convert;
pub mod fuzzing;
pub mod groups;
pub mod installer;
pub mod meters;
pub mod wire;
