//! Southbound: OVN logical flows to OpenFlow, as ovn-controller 23.03 does.
