//! OpenFlow actions as ovn-controller emits them (OVS `struct ofpact`), and
//! their text exactly as `ovs-ofctl` prints it (OVS 3.1 `ofpacts_format`).

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use super::mf::{format_field_value, mf_name, Subfield};
use crate::expr::symtab::Field;
use crate::expr::util::format_hex;

/// `NX_CTLR_NO_METER`: a controller action without a meter.
pub const NO_METER: u32 = u32::MAX;

/// The NAT part of a `ct` action (`struct ofpact_nat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nat {
    /// `Some(true)` for `src`, `Some(false)` for `dst`, `None` for neither.
    pub src: Option<bool>,
    /// The address to translate to.
    pub addr: Option<IpAddr>,
    /// Port range (`min`, `max`; `max` 0 means a single port).
    pub ports: Option<(u16, u16)>,
}

impl fmt::Display for Nat {
    /// `nat`, `nat(src)`, `nat(dst=10.0.0.1:80-90)`, `nat(dst=[fd::1]:80)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nat")?;
        let Some(src) = self.src else {
            return Ok(());
        };
        f.write_str(if src { "(src" } else { "(dst" })?;
        if let Some(addr) = self.addr {
            let port = self.ports.map_or(0, |p| p.0);
            let text = super::format::ip_text(&addr);
            match addr {
                IpAddr::V6(_) if port != 0 => write!(f, "=[{text}]")?,
                _ => write!(f, "={text}")?,
            }
            if let Some((min, max)) = self.ports.filter(|p| p.0 != 0) {
                write!(f, ":{min}")?;
                if max != 0 && max != min {
                    write!(f, "-{max}")?;
                }
            }
        }
        f.write_str(")")
    }
}

/// One spec of a `learn` action (`struct ofpact_learn_spec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnSpec {
    /// Match the learned flow's `dst` against this packet's `src` field.
    MatchField {
        /// Field of the learned flow.
        dst: Subfield,
        /// Field of this packet.
        src: Subfield,
    },
    /// Match the learned flow's `dst` against a constant.
    MatchImmediate {
        /// Field of the learned flow.
        dst: Subfield,
        /// The constant.
        value: u128,
    },
    /// The learned flow loads a constant into `dst`.
    LoadImmediate {
        /// The field loaded.
        dst: Subfield,
        /// The constant.
        value: u128,
    },
}

/// A `learn` action (`struct ofpact_learn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learn {
    /// Table of the learned flow.
    pub table_id: u8,
    /// Idle timeout in seconds (0: none).
    pub idle_timeout: u16,
    /// Hard timeout in seconds (0: none).
    pub hard_timeout: u16,
    /// Delete learned flows when this one is deleted.
    pub delete_learned: bool,
    /// Cookie of the learned flows (0: none).
    pub cookie: u64,
    /// The specs, in order.
    pub specs: Vec<LearnSpec>,
}

/// An OpenFlow action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfAction {
    /// `set_field:VALUE[/MASK]->FIELD`; value and mask are right-aligned in
    /// the field.
    SetField {
        /// The field.
        field: Field,
        /// Value bits.
        value: u128,
        /// Which bits are set.
        mask: u128,
    },
    /// `move:SRC->DST`.
    Move {
        /// Source bits.
        src: Subfield,
        /// Destination bits.
        dst: Subfield,
    },
    /// `push:FIELD`.
    Push(Subfield),
    /// `pop:FIELD`.
    Pop(Subfield),
    /// `resubmit(,TABLE)`.
    Resubmit(u8),
    /// `dec_ttl`.
    DecTtl,
    /// `ct(...)`.
    Ct {
        /// `commit`.
        commit: bool,
        /// `table=` (recirculation table).
        table: Option<u8>,
        /// `zone=` source bits.
        zone: Subfield,
        /// `nat(...)`.
        nat: Option<Nat>,
        /// `exec(...)`.
        exec: Vec<OfAction>,
    },
    /// `ct_clear`.
    CtClear,
    /// `group:ID`.
    Group(u32),
    /// `meter:ID`.
    Meter(u32),
    /// `set_queue:ID`.
    SetQueue(u32),
    /// `controller(userdata=...,pause,meter_id=...)`, maximum length 65535
    /// and reason "action", as OVN always uses.
    Controller {
        /// The userdata bytes.
        userdata: Vec<u8>,
        /// Whether the packet is paused (continuations).
        pause: bool,
        /// Meter, or [`NO_METER`].
        meter_id: u32,
    },
    /// `clone(...)`.
    Clone(Vec<OfAction>),
    /// `check_pkt_larger(LEN)->DST`.
    CheckPktLarger {
        /// Packet length threshold.
        pkt_len: u16,
        /// 1-bit result.
        dst: Subfield,
    },
    /// `learn(...)`.
    Learn(Learn),
    /// `output:PORT` (physical flows).
    Output(u16),
    /// `conjunction(ID,CLAUSE/N)`: one clause of a conjunctive match;
    /// `clause` counts from 0 and prints from 1, as OVS does.
    Conjunction {
        /// Conjunction id.
        id: u32,
        /// Clause index, from 0.
        clause: u8,
        /// Number of clauses.
        n_clauses: u8,
    },
    /// `strip_vlan` (`pop_vlan`).
    StripVlan,
    /// `push_vlan:TPID`.
    PushVlan(u16),
    /// `set_vlan_vid` (OpenFlow 1.5 prints `set_field:4096|VID->vlan_vid`).
    SetVlanVid(u16),
    /// `sample(...)`.
    Sample {
        /// Probability in units of 1/65535.
        probability: u16,
        /// IPFIX collector set.
        collector_set_id: u32,
        /// Observation domain.
        obs_domain_id: u32,
        /// Observation point.
        obs_point_id: u32,
    },
}

/// A list of OpenFlow actions, printed comma-separated or as `drop` when
/// empty (`ofpacts_format`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfActions(pub Vec<OfAction>);

impl fmt::Display for OfActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("drop");
        }
        write_list(f, &self.0)
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, actions: &[OfAction]) -> fmt::Result {
    for (i, a) in actions.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write!(f, "{a}")?;
    }
    Ok(())
}

fn write_learn(f: &mut fmt::Formatter<'_>, learn: &Learn) -> fmt::Result {
    write!(f, "learn(table={}", learn.table_id)?;
    if learn.idle_timeout != 0 {
        write!(f, ",idle_timeout={}", learn.idle_timeout)?;
    }
    if learn.hard_timeout != 0 {
        write!(f, ",hard_timeout={}", learn.hard_timeout)?;
    }
    if learn.delete_learned {
        f.write_str(",delete_learned")?;
    }
    if learn.cookie != 0 {
        write!(f, ",cookie={:#x}", learn.cookie)?;
    }
    for spec in &learn.specs {
        f.write_char(',')?;
        match spec {
            LearnSpec::MatchField { dst, src } => {
                write!(f, "{dst}")?;
                if src.field != dst.field || src.ofs != dst.ofs {
                    write!(f, "={src}")?;
                }
            }
            LearnSpec::MatchImmediate { dst, value } => {
                if dst.ofs == 0 && dst.n_bits == dst.field.n_bits() {
                    let all = crate::expr::util::low_bits(super::mf::n_bytes(dst.field) * 8);
                    write!(
                        f,
                        "{}={}",
                        mf_name(dst.field),
                        format_field_value(dst.field, *value, all)
                    )?;
                } else {
                    write!(f, "{dst}={}", format_hex(*value))?;
                }
            }
            LearnSpec::LoadImmediate { dst, value } => {
                write!(f, "load:{}->{dst}", format_hex(*value))?;
            }
        }
    }
    f.write_char(')')
}

impl fmt::Display for OfAction {
    /// The action in `ovs-ofctl` syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OfAction::SetField { field, value, mask } => write!(
                f,
                "set_field:{}->{}",
                format_field_value(*field, *value, *mask),
                mf_name(*field)
            ),
            OfAction::Move { src, dst } => write!(f, "move:{src}->{dst}"),
            OfAction::Push(s) => write!(f, "push:{s}"),
            OfAction::Pop(s) => write!(f, "pop:{s}"),
            OfAction::Resubmit(t) => write!(f, "resubmit(,{t})"),
            OfAction::DecTtl => f.write_str("dec_ttl"),
            OfAction::Ct {
                commit,
                table,
                zone,
                nat,
                exec,
            } => {
                let mut s = String::from("ct(");
                if *commit {
                    s.push_str("commit,");
                }
                if let Some(t) = table {
                    let _ = write!(s, "table={t},");
                }
                let _ = write!(s, "zone={zone},");
                if let Some(n) = nat {
                    let _ = write!(s, "{n},");
                }
                if !exec.is_empty() {
                    let _ = write!(s, "exec({}),", OfActions(exec.clone()));
                }
                if s.ends_with(',') {
                    s.pop();
                }
                s.push(')');
                f.write_str(&s)
            }
            OfAction::CtClear => f.write_str("ct_clear"),
            OfAction::Group(g) => write!(f, "group:{g}"),
            OfAction::Meter(m) => write!(f, "meter:{m}"),
            OfAction::SetQueue(q) => write!(f, "set_queue:{q}"),
            OfAction::Controller {
                userdata,
                pause,
                meter_id,
            } => {
                if userdata.is_empty() && !pause && *meter_id == NO_METER {
                    return f.write_str("CONTROLLER:65535");
                }
                let mut s = String::from("controller(");
                if !userdata.is_empty() {
                    s.push_str("userdata=");
                    for (i, b) in userdata.iter().enumerate() {
                        if i > 0 {
                            s.push('.');
                        }
                        let _ = write!(s, "{b:02x}");
                    }
                    s.push(',');
                }
                if *pause {
                    s.push_str("pause,");
                }
                if *meter_id != NO_METER {
                    let _ = write!(s, "meter_id={meter_id},");
                }
                if s.ends_with(',') {
                    s.pop();
                }
                s.push(')');
                f.write_str(&s)
            }
            OfAction::Clone(inner) => {
                f.write_str("clone(")?;
                write_list(f, inner)?;
                f.write_char(')')
            }
            OfAction::CheckPktLarger { pkt_len, dst } => {
                write!(f, "check_pkt_larger({pkt_len})->{dst}")
            }
            OfAction::Learn(l) => write_learn(f, l),
            OfAction::Output(port) => write!(f, "output:{}", super::mf::port_name(*port)),
            OfAction::Conjunction {
                id,
                clause,
                n_clauses,
            } => write!(
                f,
                "conjunction({id},{}/{n_clauses})",
                u32::from(*clause) + 1
            ),
            OfAction::StripVlan => f.write_str("pop_vlan"),
            OfAction::PushVlan(tpid) => write!(f, "push_vlan:0x{tpid:x}"),
            OfAction::SetVlanVid(vid) => write!(f, "set_field:{}->vlan_vid", 0x1000 | vid),
            OfAction::Sample {
                probability,
                collector_set_id,
                obs_domain_id,
                obs_point_id,
            } => write!(
                f,
                "sample(probability={probability},collector_set_id={collector_set_id},\
                 obs_domain_id={obs_domain_id},obs_point_id={obs_point_id})"
            ),
        }
    }
}
