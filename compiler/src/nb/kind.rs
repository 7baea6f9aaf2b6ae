//! The kind (variant) of an NB input record, for routing records by kind.

use super::NbRecord;

/// Which [`NbRecord`] variant a record is: the dataflow splits its NB input
/// by kind once, so that each operator reading NB rows sees (and clones)
/// only the records of its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NbKind {
    /// [`NbRecord::Switch`].
    Switch,
    /// [`NbRecord::SwitchPort`].
    SwitchPort,
    /// [`NbRecord::Lsp`].
    Lsp,
    /// [`NbRecord::Acl`].
    Acl,
    /// [`NbRecord::SwitchAcl`].
    SwitchAcl,
    /// [`NbRecord::PortGroupAcl`].
    PortGroupAcl,
    /// [`NbRecord::PortGroup`].
    PortGroup,
    /// [`NbRecord::PortGroupPort`].
    PortGroupPort,
    /// [`NbRecord::AddressSet`].
    AddressSet,
    /// [`NbRecord::NbGlobal`].
    NbGlobal,
    /// [`NbRecord::DhcpOptions`].
    DhcpOptions,
    /// [`NbRecord::Dns`].
    Dns,
    /// [`NbRecord::SwitchDns`].
    SwitchDns,
    /// [`NbRecord::LoadBalancer`].
    LoadBalancer,
    /// [`NbRecord::LbHealthCheck`].
    LbHealthCheck,
    /// [`NbRecord::SwitchLb`].
    SwitchLb,
    /// [`NbRecord::SwitchLbGroup`].
    SwitchLbGroup,
    /// [`NbRecord::LbGroupLb`].
    LbGroupLb,
    /// [`NbRecord::Router`].
    Router,
    /// [`NbRecord::RouterPort`].
    RouterPort,
    /// [`NbRecord::Lrp`].
    Lrp,
    /// [`NbRecord::StaticRoute`].
    StaticRoute,
    /// [`NbRecord::RouterRoute`].
    RouterRoute,
    /// [`NbRecord::Policy`].
    Policy,
    /// [`NbRecord::RouterPolicy`].
    RouterPolicy,
    /// [`NbRecord::RouterLb`].
    RouterLb,
    /// [`NbRecord::RouterLbGroup`].
    RouterLbGroup,
    /// [`NbRecord::Nat`].
    Nat,
    /// [`NbRecord::RouterNat`].
    RouterNat,
    /// [`NbRecord::GatewayChassis`].
    GatewayChassis,
    /// [`NbRecord::Qos`].
    Qos,
    /// [`NbRecord::SwitchQos`].
    SwitchQos,
    /// [`NbRecord::Meter`].
    Meter,
    /// [`NbRecord::MeterBand`].
    MeterBand,
    /// [`NbRecord::HaChassisGroup`].
    HaChassisGroup,
    /// [`NbRecord::HaChassis`].
    HaChassis,
    /// [`NbRecord::Copp`].
    Copp,
    /// [`NbRecord::CoppRef`].
    CoppRef,
    /// [`NbRecord::ChassisTemplateVar`].
    ChassisTemplateVar,
    /// [`NbRecord::FwdGroup`].
    FwdGroup,
    /// [`NbRecord::SwitchFwdGroups`].
    SwitchFwdGroups,
    /// [`NbRecord::Bfd`].
    Bfd,
    /// [`NbRecord::SbPort`].
    SbPort,
    /// [`NbRecord::SbMonitor`].
    SbMonitor,
    /// [`NbRecord::SbBfd`].
    SbBfd,
    /// [`NbRecord::SbIgmp`].
    SbIgmp,
}

impl NbKind {
    /// Number of kinds.
    pub(crate) const COUNT: usize = 46;
}

impl NbRecord {
    /// This record's kind.
    pub(crate) fn kind(&self) -> NbKind {
        match self {
            NbRecord::Switch(_) => NbKind::Switch,
            NbRecord::SwitchPort(_) => NbKind::SwitchPort,
            NbRecord::Lsp(_) => NbKind::Lsp,
            NbRecord::Acl(_) => NbKind::Acl,
            NbRecord::SwitchAcl(_) => NbKind::SwitchAcl,
            NbRecord::PortGroupAcl(_) => NbKind::PortGroupAcl,
            NbRecord::PortGroup(_) => NbKind::PortGroup,
            NbRecord::PortGroupPort(_) => NbKind::PortGroupPort,
            NbRecord::AddressSet(_) => NbKind::AddressSet,
            NbRecord::NbGlobal(_) => NbKind::NbGlobal,
            NbRecord::DhcpOptions(_) => NbKind::DhcpOptions,
            NbRecord::Dns(_) => NbKind::Dns,
            NbRecord::SwitchDns(_) => NbKind::SwitchDns,
            NbRecord::LoadBalancer(_) => NbKind::LoadBalancer,
            NbRecord::LbHealthCheck(_) => NbKind::LbHealthCheck,
            NbRecord::SwitchLb(_) => NbKind::SwitchLb,
            NbRecord::SwitchLbGroup(_) => NbKind::SwitchLbGroup,
            NbRecord::LbGroupLb(_) => NbKind::LbGroupLb,
            NbRecord::Router(_) => NbKind::Router,
            NbRecord::RouterPort(_) => NbKind::RouterPort,
            NbRecord::Lrp(_) => NbKind::Lrp,
            NbRecord::StaticRoute(_) => NbKind::StaticRoute,
            NbRecord::RouterRoute(_) => NbKind::RouterRoute,
            NbRecord::Policy(_) => NbKind::Policy,
            NbRecord::RouterPolicy(_) => NbKind::RouterPolicy,
            NbRecord::RouterLb(_) => NbKind::RouterLb,
            NbRecord::RouterLbGroup(_) => NbKind::RouterLbGroup,
            NbRecord::Nat(_) => NbKind::Nat,
            NbRecord::RouterNat(_) => NbKind::RouterNat,
            NbRecord::GatewayChassis(_) => NbKind::GatewayChassis,
            NbRecord::Qos(_) => NbKind::Qos,
            NbRecord::SwitchQos(_) => NbKind::SwitchQos,
            NbRecord::Meter(_) => NbKind::Meter,
            NbRecord::MeterBand(_) => NbKind::MeterBand,
            NbRecord::HaChassisGroup(_) => NbKind::HaChassisGroup,
            NbRecord::HaChassis(_) => NbKind::HaChassis,
            NbRecord::Copp(_) => NbKind::Copp,
            NbRecord::CoppRef(_) => NbKind::CoppRef,
            NbRecord::ChassisTemplateVar(_) => NbKind::ChassisTemplateVar,
            NbRecord::FwdGroup(_) => NbKind::FwdGroup,
            NbRecord::SwitchFwdGroups(_) => NbKind::SwitchFwdGroups,
            NbRecord::Bfd(_) => NbKind::Bfd,
            NbRecord::SbPort(_) => NbKind::SbPort,
            NbRecord::SbMonitor(_) => NbKind::SbMonitor,
            NbRecord::SbBfd(_) => NbKind::SbBfd,
            NbRecord::SbIgmp(_) => NbKind::SbIgmp,
        }
    }
}
