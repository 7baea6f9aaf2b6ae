//! Parsed OVN logical actions (`struct ovnact_*` in `include/ovn/actions.h`
//! of OVN 23.03).  One [`Action`] variant per OVN action type; actions that
//! OVN implements with one structure for several names carry a kind enum.

use std::net::IpAddr;
use std::sync::Arc;

use super::options::GenOpt;
use crate::expr::parser::{FieldRef, IntConstant};

/// A logical pipeline (`enum ovnact_pipeline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pipeline {
    /// The ingress pipeline.
    Ingress,
    /// The egress pipeline.
    Egress,
}

/// The constant of an assignment (`union expr_constant` with its type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constant {
    /// An integer, possibly masked.
    Int(IntConstant),
    /// A string (port name for `inport`/`outport`).
    Str(String),
}

/// The values of a constant set (`struct expr_constant_set`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstValues {
    /// Integers.
    Ints(Vec<IntConstant>),
    /// Strings.
    Strings(Vec<String>),
}

/// A single constant or `{...}` set of constants, as an option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstSet {
    /// The values.
    pub values: ConstValues,
    /// Whether it was written in curly braces.
    pub in_curlies: bool,
}

impl ConstSet {
    /// Number of values.
    pub fn len(&self) -> usize {
        match &self.values {
            ConstValues::Ints(v) => v.len(),
            ConstValues::Strings(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first integer, if the set holds integers.
    pub fn first_int(&self) -> Option<&IntConstant> {
        match &self.values {
            ConstValues::Ints(v) => v.first(),
            ConstValues::Strings(_) => None,
        }
    }

    /// The first string, if the set holds strings.
    pub fn first_str(&self) -> Option<&str> {
        match &self.values {
            ConstValues::Strings(v) => v.first().map(String::as_str),
            ConstValues::Ints(_) => None,
        }
    }
}

/// One `name = value` option of `put_dhcp_opts` and similar actions
/// (`struct ovnact_gen_option`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOption {
    /// The option's definition.
    pub option: Arc<GenOpt>,
    /// Its value.
    pub value: ConstSet,
}

/// Actions that run nested actions on a packet derived from the current one
/// (`struct ovnact_nest`), by their name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NestKind {
    /// `clone { ... }`.
    Clone,
    /// `arp { ... }`.
    Arp,
    /// `icmp4 { ... }`.
    Icmp4,
    /// `icmp4_error { ... }`.
    Icmp4Error,
    /// `icmp6 { ... }`.
    Icmp6,
    /// `icmp6_error { ... }`.
    Icmp6Error,
    /// `tcp_reset { ... }`.
    TcpReset,
    /// `sctp_abort { ... }`.
    SctpAbort,
    /// `nd_na { ... }`.
    NdNa,
    /// `nd_na_router { ... }`.
    NdNaRouter,
    /// `nd_ns { ... }`.
    NdNs,
    /// `reject { ... }`.
    Reject,
}

impl NestKind {
    /// The action's name.
    pub fn name(self) -> &'static str {
        match self {
            NestKind::Clone => "clone",
            NestKind::Arp => "arp",
            NestKind::Icmp4 => "icmp4",
            NestKind::Icmp4Error => "icmp4_error",
            NestKind::Icmp6 => "icmp6",
            NestKind::Icmp6Error => "icmp6_error",
            NestKind::TcpReset => "tcp_reset",
            NestKind::SctpAbort => "sctp_abort",
            NestKind::NdNa => "nd_na",
            NestKind::NdNaRouter => "nd_na_router",
            NestKind::NdNs => "nd_ns",
            NestKind::Reject => "reject",
        }
    }
}

/// The conntrack NAT actions (`struct ovnact_ct_nat`), by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtNatKind {
    /// `ct_dnat`: DNAT zone.
    Dnat,
    /// `ct_snat`: SNAT zone.
    Snat,
    /// `ct_dnat_in_czone`: the common NAT zone.
    DnatInCzone,
    /// `ct_snat_in_czone`: the common NAT zone.
    SnatInCzone,
    /// `ct_commit_nat`: commit in the connection-tracking zone.
    CommitNat,
}

impl CtNatKind {
    /// The action's name.
    pub fn name(self) -> &'static str {
        match self {
            CtNatKind::Dnat => "ct_dnat",
            CtNatKind::Snat => "ct_snat",
            CtNatKind::DnatInCzone => "ct_dnat_in_czone",
            CtNatKind::SnatInCzone => "ct_snat_in_czone",
            CtNatKind::CommitNat => "ct_commit_nat",
        }
    }

    /// Whether the action translates source addresses.
    pub fn is_snat(self) -> bool {
        matches!(self, CtNatKind::Snat | CtNatKind::SnatInCzone)
    }
}

/// A `ct_*nat` action's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtNat {
    /// Which action.
    pub kind: CtNatKind,
    /// The address to translate to, if given (then the action commits).
    pub addr: Option<IpAddr>,
    /// Port range `lo[-hi]` (`hi` 0 if absent).
    pub ports: Option<(u16, u16)>,
    /// Logical table to continue in.
    pub ltable: u8,
}

/// The `skip_snat`/`force_snat` flag of `ct_lb` (`enum ovnact_ct_lb_flag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtLbFlag {
    /// Neither.
    None,
    /// `skip_snat`.
    SkipSnat,
    /// `force_snat`.
    ForceSnat,
}

/// One `ct_lb` backend (`struct ovnact_ct_lb_dst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtLbDst {
    /// Address.
    pub addr: IpAddr,
    /// Port, 0 if none.
    pub port: u16,
}

/// `ct_lb` / `ct_lb_mark` (`struct ovnact_ct_lb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtLb {
    /// `ct_lb_mark` (flags in `ct_mark`) rather than `ct_lb` (`ct_label`).
    pub mark: bool,
    /// Backends; none for plain `ct_lb;`.
    pub dsts: Vec<CtLbDst>,
    /// `hash_fields="..."`.
    pub hash_fields: Option<String>,
    /// SNAT flag.
    pub flag: CtLbFlag,
    /// Logical table to continue in.
    pub ltable: u8,
}

/// Actions of the form `dst = name();` storing a 1-bit result
/// (`struct ovnact_result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultKind {
    /// `dns_lookup()`.
    DnsLookup,
    /// `chk_lb_hairpin()`.
    ChkLbHairpin,
    /// `chk_lb_hairpin_reply()`.
    ChkLbHairpinReply,
    /// `check_in_port_sec()`.
    CheckInPortSec,
    /// `check_out_port_sec()`.
    CheckOutPortSec,
    /// `chk_ecmp_nh_mac()`.
    ChkEcmpNhMac,
    /// `chk_ecmp_nh()`.
    ChkEcmpNh,
    /// `chk_lb_aff()`.
    ChkLbAff,
}

impl ResultKind {
    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            ResultKind::DnsLookup => "dns_lookup",
            ResultKind::ChkLbHairpin => "chk_lb_hairpin",
            ResultKind::ChkLbHairpinReply => "chk_lb_hairpin_reply",
            ResultKind::CheckInPortSec => "check_in_port_sec",
            ResultKind::CheckOutPortSec => "check_out_port_sec",
            ResultKind::ChkEcmpNhMac => "chk_ecmp_nh_mac",
            ResultKind::ChkEcmpNh => "chk_ecmp_nh",
            ResultKind::ChkLbAff => "chk_lb_aff",
        }
    }
}

/// Which option list a `put_*_opts` action takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptsKind {
    /// `put_dhcp_opts`.
    Dhcpv4,
    /// `put_dhcpv6_opts`.
    Dhcpv6,
    /// `put_nd_ra_opts`.
    NdRa,
}

impl OptsKind {
    /// The action's name.
    pub fn name(self) -> &'static str {
        match self {
            OptsKind::Dhcpv4 => "put_dhcp_opts",
            OptsKind::Dhcpv6 => "put_dhcpv6_opts",
            OptsKind::NdRa => "put_nd_ra_opts",
        }
    }
}

/// `log(...)` (`struct ovnact_log`); verdict and severity as OVN's
/// `LOG_VERDICT_*` and syslog severity numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// 0 allow, 1 drop, 2 reject.
    pub verdict: u8,
    /// Syslog severity (1 alert, 4 warning, 5 notice, 6 info, 7 debug).
    pub severity: u8,
    /// `name="..."`.
    pub name: Option<String>,
    /// `meter="..."`.
    pub meter: Option<String>,
}

/// `sample(...)` (`struct ovnact_sample`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Probability in units of 1/65535.
    pub probability: u16,
    /// High byte of the observation domain id.
    pub obs_domain_id: u8,
    /// Collector set.
    pub collector_set_id: u32,
    /// Observation point id.
    pub obs_point_id: u32,
    /// `obs_point=$cookie`: use the logical flow's UUID.
    pub use_cookie: bool,
}

/// `commit_lb_aff(...)` (`struct ovnact_commit_lb_aff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbAff {
    /// Load-balancer VIP.
    pub vip: IpAddr,
    /// VIP port, 0 if none.
    pub vip_port: u16,
    /// IP protocol number when a port is given.
    pub proto: u8,
    /// Backend chosen.
    pub backend: IpAddr,
    /// Backend port, 0 if none.
    pub backend_port: u16,
    /// Affinity timeout in seconds.
    pub timeout: u16,
}

/// One OVN logical action.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Action {
    /// `output;`
    Output,
    /// `next;`, `next(N);`, `next(pipeline=P, table=N);`
    Next {
        ltable: u8,
        pipeline: Pipeline,
        src_ltable: u8,
        src_pipeline: Pipeline,
    },
    /// `field = constant;`
    Load { dst: FieldRef, value: Constant },
    /// `icmp4.frag_mtu = N;` and other OVN-only fields.
    OvnFieldLoad { dst: FieldRef, value: IntConstant },
    /// `lhs = rhs;`
    Move { lhs: FieldRef, rhs: FieldRef },
    /// `lhs <-> rhs;`
    Exchange { lhs: FieldRef, rhs: FieldRef },
    /// `push(field);`
    Push(FieldRef),
    /// `pop(field);`
    Pop(FieldRef),
    /// `ip.ttl--;`
    DecTtl,
    /// `ct_next;`
    CtNext { ltable: u8 },
    /// Legacy `ct_commit(ct_mark=..., ct_label=...);`
    CtCommitV1 {
        ct_mark: u32,
        ct_mark_mask: u32,
        ct_label: u128,
        ct_label_mask: u128,
    },
    /// `ct_commit { ... };` (or plain `ct_commit;`).
    CtCommit(Vec<Action>),
    /// `ct_dnat`, `ct_snat`, their `_in_czone` forms, `ct_commit_nat`.
    CtNat(CtNat),
    /// `ct_lb`, `ct_lb_mark`.
    CtLb(CtLb),
    /// `dst = select(id=weight, ...);`
    Select {
        dst: FieldRef,
        dsts: Vec<(u16, u16)>,
        ltable: u8,
    },
    /// `ct_clear;`
    CtClear,
    /// `clone { ... };`, `arp { ... };` and the other nested actions.
    Nested {
        kind: NestKind,
        actions: Vec<Action>,
    },
    /// `igmp;`
    Igmp,
    /// `get_arp(port, ip);` or `get_nd(port, ip);`
    GetMacBind {
        nd: bool,
        port: FieldRef,
        ip: FieldRef,
    },
    /// `put_arp(port, ip, mac);` or `put_nd(port, ip, mac);`
    PutMacBind {
        nd: bool,
        port: FieldRef,
        ip: FieldRef,
        mac: FieldRef,
    },
    /// `dst = lookup_arp(port, ip, mac);` or `lookup_nd`.
    LookupMacBind {
        nd: bool,
        dst: FieldRef,
        port: FieldRef,
        ip: FieldRef,
        mac: FieldRef,
    },
    /// `dst = lookup_arp_ip(port, ip);` or `lookup_nd_ip`.
    LookupMacBindIp {
        nd: bool,
        dst: FieldRef,
        port: FieldRef,
        ip: FieldRef,
    },
    /// `dst = put_dhcp_opts(...);`, `put_dhcpv6_opts`, `put_nd_ra_opts`.
    PutOpts {
        kind: OptsKind,
        dst: FieldRef,
        options: Vec<GenOption>,
    },
    /// `set_queue(N);`
    SetQueue(u16),
    /// `dst = dns_lookup();` and the other 1-bit result functions.
    Result { kind: ResultKind, dst: FieldRef },
    /// `log(...);`
    Log(Log),
    /// `set_meter(rate[, burst]);`
    SetMeter { rate: u64, burst: u64 },
    /// `dst = check_pkt_larger(N);`
    CheckPktLarger { pkt_len: u16, dst: FieldRef },
    /// `trigger_event(event = "...", ...);`
    TriggerEvent { event: u32, options: Vec<GenOption> },
    /// `bind_vport("vport", parent);`
    BindVport { vport: String, parent: FieldRef },
    /// `handle_svc_check(port);`
    HandleSvcCheck { port: FieldRef },
    /// `fwd_group(liveness=..., childports=...);`
    FwdGroup {
        liveness: bool,
        child_ports: Vec<String>,
        ltable: u8,
    },
    /// `handle_dhcpv6_reply;`
    Dhcp6Reply,
    /// `ct_snat_to_vip;`
    CtSnatToVip,
    /// `handle_bfd_msg();`
    BfdMsg,
    /// `put_fdb(port, mac);`
    PutFdb { port: FieldRef, mac: FieldRef },
    /// `dst = get_fdb(mac);`
    GetFdb { dst: FieldRef, mac: FieldRef },
    /// `dst = lookup_fdb(port, mac);`
    LookupFdb {
        dst: FieldRef,
        port: FieldRef,
        mac: FieldRef,
    },
    /// `commit_ecmp_nh(ipv6 = B, proto = P);`
    CommitEcmpNh { ipv6: bool, proto: u8 },
    /// `commit_lb_aff(...);`
    CommitLbAff(LbAff),
    /// `sample(...);`
    Sample(Sample),
}
