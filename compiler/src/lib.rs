//! Incremental compiler from the OVN Northbound database to the Southbound
//! database, reproducing ovn-northd 23.03 (northd/northd.c at v23.03.1),
//! written as a differential-dataflow program.
//!
//! Feed NB row changes to a [`Compiler`]; it returns the SB row changes
//! ([`SbDelta`]) and keeps the SB content ([`Compiler::sb_state`]). The SB
//! columns ovn-controller writes that northd reads back ([`sb_input`]:
//! port claims and `up`, monitor and BFD status, learned multicast
//! groups) are fed with
//! [`Compiler::apply_sb`] / [`Compiler::set_sb_inputs`].
//!
//! What is compiled so far (each rule's doc names the northd function):
//! - `Datapath_Binding` for logical switches and routers, with northd's
//!   tunnel keys (including the order in which northd meets new datapaths);
//! - `Port_Binding` for logical router ports (and the `cr-` ports of
//!   distributed gateway ports, with SB `HA_Chassis_Group`/`HA_Chassis`),
//!   and the logical-router pipeline (`lr_in_*`, `lr_out_*`): connected and
//!   static routes (ECMP with symmetric replies, route tables, BFD),
//!   routing policies, ARP/ND handling, router ports peered with router
//!   ports, routes to other routers' routable NAT and VIP addresses, load
//!   balancers, NAT on gateway routers and distributed gateway ports,
//!   `gateway_mtu`, IPv6 RA, multicast relay, SB `BFD`
//!   ([`rules::router`]);
//! - `Port_Binding` for logical switch ports (VIF and other types' basic
//!   columns; router-type ports as `patch`);
//! - `Multicast_Group` (`_MC_flood`, `_MC_flood_l2`, `_MC_unknown`,
//!   `_MC_mrouter_flood`, `_MC_static` of switches and routers, groups
//!   learned from SB `IGMP_Group` and relayed to routers, [`rules::igmp`])
//!   and `IP_Multicast`;
//! - the logical-switch pipeline (`ls_in_*`, `ls_out_*`)
//!   (native DHCPv4/DHCPv6 and DNS included, with SB `DNS`);
//! - ACLs of switches and port groups, SB `Port_Group` and `Address_Set`
//!   (with the generated `<pg>_ip4` / `<pg>_ip6` sets);
//! - QoS rules, SB `Meter`/`Meter_Band` (fair meters included), load
//!   balancer health checks (SB `Service_Monitor`);
//! - virtual ports (claimed ones from the SB), external ports (with SB
//!   `HA_Chassis_Group`), CoPP meters on switch flows, forwarding groups;
//! - `Logical_DP_Group` sharing of identical flows across datapaths;
//! - `SB_Global`, `DHCP_Options`, `DHCPv6_Options`, `RBAC_Role`,
//!   `RBAC_Permission`.
//!
//! What is not is listed in golden/KNOWN_DIFFERENCES.md.
//!
//! Layout: [`nb`] (input relations), [`rules`] (what is computed, pure
//! functions), `dataflow` (how it runs: the only module naming timely and
//! differential types), [`sb`] (output rows), [`compiler`] (the API).
#![warn(missing_docs)]

pub mod compiler;
mod dataflow;
pub mod idl_order;
pub mod ids;
pub mod lflow_list;
pub mod nb;
pub mod rules;
pub mod sb;
pub mod sb_input;
pub mod stage;

pub use compiler::{CompileError, Compiler, Options, SbDelta, SbTouched};
pub use nb::{InputError, RowChange};
pub use sb::SbRecord;
pub use sb_input::SbInput;
