//! `ovnflow controller`: a drop-in for ovn-controller 23.03 on one
//! chassis.
//!
//! The daemon keeps three views in step and acts on every change:
//!
//! * the local Open_vSwitch database ([`ovs`]: settings in
//!   `Open_vSwitch:external_ids`, the integration bridge and its VIFs);
//! * the Southbound database (a monitor of every table and column it
//!   reads, [`monitor`]);
//! * the bridge's OpenFlow table, through
//!   [`crate::openflow::installer::Installer`] on `$OVS_RUNDIR/BRIDGE.mgmt`.
//!
//! One run (on SB or OVS changes — every update already received is taken
//! in the same run — or `recompute`): register the chassis ([`register`]);
//! hand the SB row changes ([`sb_changes`]: only tables that feed flows,
//! `SB_Global` only for its `options`) and the VIFs that came or went to
//! the incremental engine ([`crate::incremental::ChassisCompute`], which
//! also assigns conntrack zones keeping those on the bridge, [`zones`]);
//! install just the flows it reports changed, with the groups
//! ([`crate::openflow::groups`]) and meters they use, in one bundle; then
//! — the flows being in the switch — claim/release port bindings, set `up`
//! and `ovn-installed`, acknowledge `nb_cfg` ([`bindings`]) and keep patch
//! and tunnel ports ([`ports`]).  The first run, `recompute`, a change of
//! patch ports and a reconnection to the switch compute and compare the
//! whole table (the first, into a switch with no flows, over four
//! connections: [`crate::openflow::installer::Installer::begin_full`]).
//! A second OpenFlow connection receives packet-ins
//! ([`pinctrl`]: `put_arp`/`put_nd` learning; [`pinctrl_dhcp`]: DHCPv4
//! replies; [`pinctrl_dhcp6`]: DHCPv6 replies; [`pinctrl_dns`]: DNS
//! answers; [`pinctrl_nd`]: neighbor solicitations/advertisements and
//! router advertisements; [`pinctrl_arp`]: ARP
//! requests for unknown next hops, the packet kept by [`pinctrl_buffer`]
//! until the next hop's `MAC_Binding` appears; [`pinctrl_icmp`]: ICMP
//! errors, TCP resets, SCTP aborts and `reject`; [`pinctrl_sb`]: `put_fdb`,
//! `bind_vport` and `trigger_event`, written to the Southbound;
//! [`pinctrl_svc`]: load balancer health checks).  [`status`] is what `ovn-appctl`
//! reads.
//!
//! Taking over from ovn-controller: the `Chassis` row with our name is
//! adopted, the zones come from `br-int`'s `ct-zone-*` keys, and the first
//! install replaces the switch's table in one atomic bundle, so bindings
//! stay and traffic keeps flowing.  Handing back works the same way round.

pub mod bindings;
pub mod monitor;
pub mod ops;
pub mod ovs;
pub mod pinctrl;
pub mod pinctrl_arp;
pub mod pinctrl_buffer;
pub mod pinctrl_dhcp;
pub mod pinctrl_dhcp6;
pub mod pinctrl_dns;
pub mod pinctrl_icmp;
pub mod pinctrl_nd;
pub mod pinctrl_sb;
pub mod pinctrl_svc;
pub mod ports;
pub mod register;
pub mod sb_changes;
pub mod status;
pub mod zones;

mod daemon;

pub use daemon::{run, Config, Control};
pub use status::{Snapshot, Status};

/// Controller failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControllerError {
    /// Unusable input, naming table/row/column.
    #[error("{0}")]
    Input(String),
    /// A database session failed.
    #[error("{0}")]
    Database(String),
    /// The OpenFlow connection failed.
    #[error("{0}")]
    OpenFlow(String),
}

/// Row `uuid` of `T`'s table, as a monitor or replica change gives it
/// (`None`: the row is gone); a row that does not read is an
/// [`ControllerError::Input`] saying why.
pub(crate) fn typed_row<T: ovsdb::typed::TypedRow>(
    uuid: ovsdb::Uuid,
    row: Option<&ovsdb::Row>,
) -> Result<Option<T>, ControllerError> {
    row.map(|r| T::from_row(uuid, r))
        .transpose()
        .map_err(|e| ControllerError::Input(e.to_string()))
}
