//! Symbol table: the logical fields and predicates an OVN match may use,
//! as `ovn_init_symtab` in `lib/logical-fields.c` (OVN 23.03) defines them,
//! plus the OpenFlow fields (OVS `mf_field`) they map onto.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::ast::Expr;
use super::parser::{parse_field_str, parse_with};

/// The OpenFlow (OVS meta-flow) fields OVN symbols map onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Field {
    /// 32-bit register `regN` (N < 16).
    Reg(u8),
    /// 64-bit register `xregN` (regs 2N, 2N+1).
    Xreg(u8),
    /// 128-bit register `xxregN` (regs 4N..4N+3).
    Xxreg(u8),
    Metadata,
    PktMark,
    CtState,
    CtMark,
    CtLabel,
    EthSrc,
    EthDst,
    EthType,
    VlanTci,
    IpProto,
    IpDscpShifted,
    IpEcn,
    IpTtl,
    IpFrag,
    Ipv4Src,
    Ipv4Dst,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    Icmpv4Type,
    Icmpv4Code,
    Icmpv6Type,
    Icmpv6Code,
    ArpOp,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
    NdTarget,
    NdSll,
    NdTll,
    TcpSrc,
    TcpDst,
    TcpFlags,
    UdpSrc,
    UdpDst,
    SctpSrc,
    SctpDst,
    /// OpenFlow ingress port (`in_port`); used by physical flows only,
    /// never by logical-flow matches.
    InPort,
    /// Tunnel id (`tun_id`, the Geneve VNI / STT key); physical flows only.
    TunId,
    /// Geneve option `tun_metadata0`, which ovn-controller maps to the OVN
    /// option (class 0x0102, type 0x80, 4 bytes); physical flows only.
    TunMetadata0,
}

impl Field {
    /// Width in bits (OVS `mf_field.n_bits`).
    pub fn n_bits(self) -> u32 {
        use Field::*;
        match self {
            Reg(_) | PktMark | CtState | CtMark | Ipv4Src | Ipv4Dst | ArpSpa | ArpTpa
            | TunMetadata0 => 32,
            Xreg(_) | Metadata | TunId => 64,
            Xxreg(_) | CtLabel | Ipv6Src | Ipv6Dst | NdTarget => 128,
            EthSrc | EthDst | ArpSha | ArpTha | NdSll | NdTll => 48,
            EthType | VlanTci | InPort | ArpOp | TcpSrc | TcpDst | UdpSrc | UdpDst | SctpSrc
            | SctpDst => 16,
            IpProto | IpTtl | Icmpv4Type | Icmpv4Code | Icmpv6Type | Icmpv6Code => 8,
            IpDscpShifted => 6,
            IpEcn | IpFrag => 2,
            Ipv6Label => 20,
            TcpFlags => 12,
        }
    }

    /// Whether OVS allows arbitrary bitwise masks on the field
    /// (`MFM_FULLY`); other fields only match exactly.
    pub fn maskable(self) -> bool {
        use Field::*;
        !matches!(
            self,
            EthType
                | IpProto
                | IpDscpShifted
                | IpEcn
                | IpTtl
                | Icmpv4Type
                | Icmpv4Code
                | Icmpv6Type
                | Icmpv6Code
                | ArpOp
                | InPort
        )
    }

    /// Whether OpenFlow actions may write the field (OVS "Access:
    /// read/write").
    pub fn writable(self) -> bool {
        use Field::*;
        !matches!(self, EthType | IpProto | IpFrag | TcpFlags | CtState)
    }

    /// The field's OXM/NXM name as OVS prints it for OpenFlow 1.5
    /// (`nx_format_field_name`).
    pub fn oxm_name(self) -> String {
        use Field::*;
        let s = match self {
            Reg(n) => return format!("NXM_NX_REG{n}"),
            Xreg(n) => return format!("OXM_OF_PKT_REG{n}"),
            Xxreg(n) => return format!("NXM_NX_XXREG{n}"),
            Metadata => "OXM_OF_METADATA",
            PktMark => "NXM_NX_PKT_MARK",
            CtState => "NXM_NX_CT_STATE",
            CtMark => "NXM_NX_CT_MARK",
            CtLabel => "NXM_NX_CT_LABEL",
            EthSrc => "OXM_OF_ETH_SRC",
            EthDst => "OXM_OF_ETH_DST",
            EthType => "OXM_OF_ETH_TYPE",
            VlanTci => "NXM_OF_VLAN_TCI",
            IpProto => "OXM_OF_IP_PROTO",
            IpDscpShifted => "OXM_OF_IP_DSCP",
            IpEcn => "OXM_OF_IP_ECN",
            IpTtl => "NXM_NX_IP_TTL",
            IpFrag => "NXM_NX_IP_FRAG",
            Ipv4Src => "OXM_OF_IPV4_SRC",
            Ipv4Dst => "OXM_OF_IPV4_DST",
            Ipv6Src => "OXM_OF_IPV6_SRC",
            Ipv6Dst => "OXM_OF_IPV6_DST",
            Ipv6Label => "OXM_OF_IPV6_FLABEL",
            Icmpv4Type => "OXM_OF_ICMPV4_TYPE",
            Icmpv4Code => "OXM_OF_ICMPV4_CODE",
            Icmpv6Type => "OXM_OF_ICMPV6_TYPE",
            Icmpv6Code => "OXM_OF_ICMPV6_CODE",
            ArpOp => "OXM_OF_ARP_OP",
            ArpSpa => "OXM_OF_ARP_SPA",
            ArpTpa => "OXM_OF_ARP_TPA",
            ArpSha => "OXM_OF_ARP_SHA",
            ArpTha => "OXM_OF_ARP_THA",
            NdTarget => "OXM_OF_IPV6_ND_TARGET",
            NdSll => "OXM_OF_IPV6_ND_SLL",
            NdTll => "OXM_OF_IPV6_ND_TLL",
            TcpSrc => "OXM_OF_TCP_SRC",
            TcpDst => "OXM_OF_TCP_DST",
            TcpFlags => "ONFOXM_ET_TCP_FLAGS",
            UdpSrc => "OXM_OF_UDP_SRC",
            UdpDst => "OXM_OF_UDP_DST",
            SctpSrc => "OXM_OF_SCTP_SRC",
            SctpDst => "OXM_OF_SCTP_DST",
            InPort => "NXM_OF_IN_PORT",
            TunId => "NXM_NX_TUN_ID",
            TunMetadata0 => "NXM_NX_TUN_METADATA0",
        };
        s.to_string()
    }
}

/// Measurement level of a symbol (`enum expr_level`), ordered from least to
/// most permissive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Only equality tests; no subfields.
    Nominal,
    /// A single bit.
    Boolean,
    /// Ordered: subfields, masks and `<`/`>` allowed.
    Ordinal,
}

impl Level {
    /// OVN's name for the level, used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Nominal => "nominal",
            Level::Boolean => "Boolean",
            Level::Ordinal => "ordinal",
        }
    }
}

/// Where a symbol may be written by actions (`enum expr_write_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteScope {
    /// Read-only.
    None,
    /// Writable anywhere (`WR_DEFAULT`).
    Default,
    /// Writable only inside `ct_commit { ... }` (`WR_CT_COMMIT`).
    CtCommit,
}

/// OVN-only fields that exist only in actions (`enum ovn_field_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OvnField {
    /// `icmp4.frag_mtu` (16 bits).
    Icmp4FragMtu,
    /// `icmp6.frag_mtu` (32 bits).
    Icmp6FragMtu,
}

/// What a symbol stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    /// A whole OpenFlow field (integer valued).
    Field(Field),
    /// A string field held in an OpenFlow field (port names, e.g. `inport`).
    String(Field),
    /// Bits `[ofs, ofs + width)` of another symbol.
    Subfield {
        /// The enclosing symbol.
        parent: Arc<Symbol>,
        /// Offset of the low bit within the parent.
        ofs: u32,
    },
    /// A 1-bit predicate that expands to an expression.
    Predicate(String),
    /// An OVN-only field.
    Ovn(OvnField),
}

/// One symbol (`struct expr_symbol`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Symbol {
    /// Name, e.g. `ip4.src`.
    pub name: String,
    /// Width in bits; 0 for string fields.
    pub width: u32,
    /// Measurement level.
    pub level: Level,
    /// What it stands for.
    pub kind: SymbolKind,
    /// Prerequisite expression text, if any.
    pub prereqs: Option<String>,
    /// Never use as a conjunctive-match dimension.
    pub must_crossproduct: bool,
    /// Where actions may write it.
    pub rw: WriteScope,
}

impl Symbol {
    /// The parent symbol and offset, for a subfield.
    pub fn parent(&self) -> Option<(&Arc<Symbol>, u32)> {
        match &self.kind {
            SymbolKind::Subfield { parent, ofs } => Some((parent, *ofs)),
            _ => None,
        }
    }

    /// The predicate expansion, for a predicate.
    pub fn predicate(&self) -> Option<&str> {
        match &self.kind {
            SymbolKind::Predicate(p) => Some(p),
            _ => None,
        }
    }

    /// The OpenFlow field, for whole-field and string symbols.
    pub fn field(&self) -> Option<Field> {
        match self.kind {
            SymbolKind::Field(f) | SymbolKind::String(f) => Some(f),
            _ => None,
        }
    }
}

impl fmt::Display for Symbol {
    /// `name = definition`, as `ovstest test-ovn dump-symtab` prints it
    /// (`expr_symbol_format`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = ", self.name)?;
        match &self.kind {
            SymbolKind::Subfield { parent, ofs } => {
                write!(f, "{}", parent.name)?;
                if *ofs != 0 || self.width != parent.width {
                    if self.width != 1 {
                        write!(f, "[{}..{}]", ofs, ofs + self.width - 1)
                    } else {
                        write!(f, "[{ofs}]")
                    }
                } else {
                    Ok(())
                }
            }
            SymbolKind::Predicate(p) => f.write_str(p),
            SymbolKind::Ovn(_) => f.write_str(&self.name),
            SymbolKind::Field(fld) | SymbolKind::String(fld) => f.write_str(&fld.oxm_name()),
        }
    }
}

/// Error while defining a symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{definition}: error defining {name} ({message})")]
pub struct SymbolError {
    /// Symbol being defined.
    pub name: String,
    /// Its definition text.
    pub definition: String,
    /// Why it failed.
    pub message: String,
}

/// A set of symbols by name (`struct shash` of `struct expr_symbol`).
#[derive(Debug, Clone, Default)]
pub struct SymbolTable {
    symbols: BTreeMap<String, Arc<Symbol>>,
    /// Prerequisites and predicates already parsed and annotated (see
    /// [`Expansions`]); emptied when a symbol is added.
    expansions: Expansions,
}

/// Parsed and annotated prerequisite and predicate texts, by the text and
/// the symbols being expanded around it (the only other input of the
/// result): each logical flow names a handful of fields, whose
/// prerequisites (`ip4`, `tcp`, …) would otherwise be parsed again for
/// every comparison.
#[derive(Default)]
pub(crate) struct Expansions(std::sync::Mutex<std::collections::HashMap<String, super::Expr>>);

impl Expansions {
    /// The expansion kept under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<super::Expr> {
        self.0.lock().ok()?.get(key).cloned()
    }

    /// Keeps `expr` under `key`.
    pub(crate) fn put(&self, key: String, expr: &super::Expr) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(key, expr.clone());
        }
    }
}

impl Clone for Expansions {
    fn clone(&self) -> Expansions {
        Expansions::default()
    }
}

impl std::fmt::Debug for Expansions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Expansions")
    }
}

impl SymbolTable {
    /// An empty table.
    pub fn new() -> SymbolTable {
        SymbolTable::default()
    }

    /// Looks up a symbol by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Symbol>> {
        self.symbols.get(name)
    }

    /// Kept expansions of prerequisites and predicates
    /// ([`super::annotate`]).
    pub(crate) fn expansions(&self) -> &Expansions {
        &self.expansions
    }

    /// All symbols, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Symbol>> {
        self.symbols.values()
    }

    fn insert(&mut self, symbol: Symbol) -> Arc<Symbol> {
        self.expansions = Expansions::default();
        let symbol = Arc::new(symbol);
        self.symbols.insert(symbol.name.clone(), symbol.clone());
        symbol
    }

    /// Adds a whole OpenFlow field (`expr_symtab_add_field_scoped`).  The
    /// level is ordinal for fully maskable fields, nominal otherwise.
    pub fn add_field(
        &mut self,
        name: &str,
        field: Field,
        prereqs: Option<&str>,
        must_crossproduct: bool,
        rw: WriteScope,
    ) -> Arc<Symbol> {
        self.insert(Symbol {
            name: name.to_string(),
            width: field.n_bits(),
            level: if field.maskable() {
                Level::Ordinal
            } else {
                Level::Nominal
            },
            kind: SymbolKind::Field(field),
            prereqs: prereqs.filter(|p| !p.is_empty()).map(str::to_string),
            must_crossproduct,
            rw: if field.writable() {
                rw
            } else {
                WriteScope::None
            },
        })
    }

    /// Adds `name` as a subfield such as `vlan.tci[0..11]`
    /// (`expr_symtab_add_subfield_scoped`).
    pub fn add_subfield(
        &mut self,
        name: &str,
        prereqs: Option<&str>,
        subfield: &str,
        rw: WriteScope,
    ) -> Result<Arc<Symbol>, SymbolError> {
        let f = parse_field_str(subfield, self).map_err(|message| SymbolError {
            name: name.to_string(),
            definition: subfield.to_string(),
            message,
        })?;
        let rw = if f.symbol.rw == WriteScope::None {
            WriteScope::None
        } else {
            rw
        };
        Ok(self.insert(Symbol {
            name: name.to_string(),
            width: f.n_bits,
            level: f.symbol.level,
            kind: SymbolKind::Subfield {
                parent: f.symbol.clone(),
                ofs: f.ofs,
            },
            prereqs: prereqs.filter(|p| !p.is_empty()).map(str::to_string),
            must_crossproduct: false,
            rw,
        }))
    }

    /// Adds a string field stored in `field` (`expr_symtab_add_string`).
    pub fn add_string(
        &mut self,
        name: &str,
        field: Field,
        prereqs: Option<&str>,
        rw: WriteScope,
    ) -> Arc<Symbol> {
        self.insert(Symbol {
            name: name.to_string(),
            width: 0,
            level: Level::Nominal,
            kind: SymbolKind::String(field),
            prereqs: prereqs.filter(|p| !p.is_empty()).map(str::to_string),
            must_crossproduct: false,
            rw: if field.writable() {
                rw
            } else {
                WriteScope::None
            },
        })
    }

    /// Adds a predicate whose value is `expansion`
    /// (`expr_symtab_add_predicate`); its level is the lowest level among
    /// the comparisons in the expansion.
    pub fn add_predicate(
        &mut self,
        name: &str,
        expansion: &str,
    ) -> Result<Arc<Symbol>, SymbolError> {
        let expr = parse_with(expansion, self, None, 0).map_err(|message| SymbolError {
            name: name.to_string(),
            definition: expansion.to_string(),
            message,
        })?;
        Ok(self.insert(Symbol {
            name: name.to_string(),
            width: 1,
            level: expr_level(&expr),
            kind: SymbolKind::Predicate(expansion.to_string()),
            prereqs: None,
            must_crossproduct: false,
            rw: WriteScope::None,
        }))
    }

    /// Adds an OVN-only field (`expr_symtab_add_ovn_field`).
    pub fn add_ovn_field(&mut self, name: &str, field: OvnField) -> Arc<Symbol> {
        let width = match field {
            OvnField::Icmp4FragMtu => 16,
            OvnField::Icmp6FragMtu => 32,
        };
        self.insert(Symbol {
            name: name.to_string(),
            width,
            level: Level::Nominal,
            kind: SymbolKind::Ovn(field),
            prereqs: None,
            must_crossproduct: false,
            rw: WriteScope::Default,
        })
    }

    /// The symbol table of OVN 23.03's logical flows (`ovn_init_symtab`).
    pub fn ovn() -> SymbolTable {
        let mut t = SymbolTable::new();
        // Definitions below are constants known to parse; an error here is a
        // bug in this table, reported by the `ovn_symtab_is_complete` test.
        let _ = t.build_ovn();
        t
    }

    fn build_ovn(&mut self) -> Result<(), SymbolError> {
        use Field::*;
        use WriteScope::{CtCommit, Default as Wr};
        self.add_string("inport", Reg(14), None, Wr);
        self.add_string("outport", Reg(15), None, Wr);

        // Logical registers: xxreg0-1, xreg0-4 and reg0-9, the smaller ones
        // defined as subfields of the larger so that overlaps are known.
        for xx in 0..2u8 {
            self.add_field(&format!("xxreg{xx}"), Xxreg(xx), None, false, Wr);
        }
        for x in 0..5u8 {
            if x / 2 < 2 {
                let lsb = 64 * (1 - u32::from(x % 2));
                let def = format!("xxreg{}[{}..{}]", x / 2, lsb, lsb + 63);
                self.add_subfield(&format!("xreg{x}"), None, &def, Wr)?;
            } else {
                self.add_field(&format!("xreg{x}"), Xreg(x), None, false, Wr);
            }
        }
        for r in 0..10u8 {
            let def = if r / 4 < 2 {
                let lsb = 32 * (3 - u32::from(r % 4));
                format!("xxreg{}[{}..{}]", r / 4, lsb, lsb + 31)
            } else {
                let lsb = 32 * (1 - u32::from(r % 2));
                format!("xreg{}[{}..{}]", r / 2, lsb, lsb + 31)
            };
            self.add_subfield(&format!("reg{r}"), None, &def, Wr)?;
        }

        self.add_field("flags", Reg(10), None, false, Wr);
        for (name, bit) in [
            ("flags.loopback", 0),
            ("flags.force_snat_for_dnat", 2),
            ("flags.force_snat_for_lb", 3),
            ("flags.skip_snat_for_lb", 9),
            ("flags.use_snat_zone", 11),
        ] {
            self.add_subfield(name, None, &format!("flags[{bit}]"), Wr)?;
        }

        self.add_field("ct_mark", CtMark, None, false, CtCommit);
        for (name, def) in [
            ("ct_mark.blocked", "ct_mark[0]"),
            ("ct_mark.natted", "ct_mark[1]"),
            ("ct_mark.ecmp_reply_port", "ct_mark[16..31]"),
            ("ct_mark.skip_snat", "ct_mark[2]"),
            ("ct_mark.force_snat", "ct_mark[3]"),
        ] {
            self.add_subfield(name, None, def, CtCommit)?;
        }
        self.add_field("ct_label", CtLabel, None, false, CtCommit);
        for (name, def) in [
            ("ct_label.blocked", "ct_label[0]"),
            ("ct_label.natted", "ct_label[1]"),
            ("ct_label.ecmp_reply_eth", "ct_label[32..79]"),
            ("ct_label.ecmp_reply_port", "ct_label[80..95]"),
            ("ct_label.label", "ct_label[96..127]"),
            ("ct_label.skip_snat", "ct_label[2]"),
            ("ct_label.force_snat", "ct_label[3]"),
        ] {
            self.add_subfield(name, None, def, CtCommit)?;
        }
        self.add_field("ct_state", CtState, None, false, Wr);
        for (name, bit) in [
            ("new", 0),
            ("est", 1),
            ("rel", 2),
            ("rpl", 3),
            ("inv", 4),
            ("trk", 5),
            ("snat", 6),
            ("dnat", 7),
        ] {
            let prereqs = if name == "trk" { None } else { Some("ct.trk") };
            self.add_subfield(
                &format!("ct.{name}"),
                prereqs,
                &format!("ct_state[{bit}]"),
                Wr,
            )?;
        }

        self.add_field("eth.src", EthSrc, None, false, Wr);
        self.add_field("eth.dst", EthDst, None, false, Wr);
        self.add_field("eth.type", EthType, None, true, Wr);
        self.add_predicate("eth.bcast", "eth.dst == ff:ff:ff:ff:ff:ff")?;
        self.add_subfield("eth.mcast", None, "eth.dst[40]", Wr)?;
        self.add_predicate("eth.mcastv6", "eth.dst[32..47] == 0x3333")?;

        self.add_field("vlan.tci", VlanTci, None, false, Wr);
        self.add_predicate("vlan.present", "vlan.tci[12]")?;
        self.add_subfield("vlan.pcp", Some("vlan.present"), "vlan.tci[13..15]", Wr)?;
        self.add_subfield("vlan.vid", Some("vlan.present"), "vlan.tci[0..11]", Wr)?;

        self.add_predicate("ip4", "eth.type == 0x800")?;
        self.add_predicate("ip6", "eth.type == 0x86dd")?;
        self.add_predicate("ip", "ip4 || ip6")?;
        self.add_field("ip.proto", IpProto, Some("ip"), true, Wr);
        self.add_field("ip.dscp", IpDscpShifted, Some("ip"), false, Wr);
        self.add_field("ip.ecn", IpEcn, Some("ip"), false, Wr);
        self.add_field("ip.ttl", IpTtl, Some("ip"), false, Wr);

        self.add_field("ip4.src", Ipv4Src, Some("ip4"), false, Wr);
        self.add_field("ip4.dst", Ipv4Dst, Some("ip4"), false, Wr);
        self.add_predicate("ip4.src_mcast", "ip4.src[28..31] == 0xe")?;
        self.add_predicate("ip4.mcast", "eth.mcast && ip4.dst[28..31] == 0xe")?;

        self.add_predicate("icmp4", "ip4 && ip.proto == 1")?;
        self.add_field("icmp4.type", Icmpv4Type, Some("icmp4"), false, Wr);
        self.add_field("icmp4.code", Icmpv4Code, Some("icmp4"), false, Wr);
        self.add_predicate("igmp", "ip4 && ip.proto == 2")?;

        self.add_field("ip6.src", Ipv6Src, Some("ip6"), false, Wr);
        self.add_field("ip6.dst", Ipv6Dst, Some("ip6"), false, Wr);
        self.add_field("ip6.label", Ipv6Label, Some("ip6"), false, Wr);
        self.add_predicate(
            "ip6.mcast_rsvd",
            "ip6.dst[116..127] == 0xff0 && ip6.dst[0..111] == 0x0",
        )?;
        self.add_predicate(
            "ip6.mcast_all_nodes",
            "ip6.dst == ff01::1 || ip6.dst == ff02::1",
        )?;
        self.add_predicate(
            "ip6.mcast_all_rtrs",
            "ip6.dst == ff01::2 || ip6.dst == ff02::2 || ip6.dst == ff05::2",
        )?;
        self.add_predicate("ip6.mcast_sol_node", "ip6.dst == ff02::1:ff00:0000/104")?;
        self.add_predicate(
            "ip6.mcast_flood",
            "eth.mcastv6 && (ip6.mcast_rsvd || ip6.mcast_all_nodes || ip6.mcast_all_rtrs || ip6.mcast_sol_node)",
        )?;
        self.add_predicate("ip6.mcast", "eth.mcastv6 && ip6.dst[120..127] == 0xff")?;

        self.add_predicate("icmp6", "ip6 && ip.proto == 58")?;
        self.add_field("icmp6.type", Icmpv6Type, Some("icmp6"), true, Wr);
        self.add_field("icmp6.code", Icmpv6Code, Some("icmp6"), true, Wr);
        self.add_predicate("icmp", "icmp4 || icmp6")?;

        self.add_field("ip.frag", IpFrag, Some("ip"), false, Wr);
        self.add_predicate("ip.is_frag", "ip.frag[0]")?;
        self.add_predicate("ip.later_frag", "ip.frag[1]")?;
        self.add_predicate("ip.first_frag", "ip.is_frag && !ip.later_frag")?;

        for proto in ["arp", "rarp"] {
            let eth_type = if proto == "arp" { "0x806" } else { "0x8035" };
            self.add_predicate(proto, &format!("eth.type == {eth_type}"))?;
            for (suffix, field) in [
                ("op", ArpOp),
                ("spa", ArpSpa),
                ("sha", ArpSha),
                ("tpa", ArpTpa),
                ("tha", ArpTha),
            ] {
                self.add_field(&format!("{proto}.{suffix}"), field, Some(proto), false, Wr);
            }
        }

        self.add_predicate(
            "nd",
            "icmp6.type == {135, 136} && icmp6.code == 0 && ip.ttl == 255",
        )?;
        for (name, ty) in [
            ("nd_ns", 135),
            ("nd_na", 136),
            ("nd_rs", 133),
            ("nd_ra", 134),
        ] {
            self.add_predicate(
                name,
                &format!("icmp6.type == {ty} && icmp6.code == 0 && ip.ttl == 255"),
            )?;
        }
        self.add_field("nd.target", NdTarget, Some("nd"), false, Wr);
        self.add_field("nd.sll", NdSll, Some("nd_ns"), false, Wr);
        self.add_field("nd.tll", NdTll, Some("nd_na"), false, Wr);
        self.add_predicate(
            "mldv1",
            "ip6.src == fe80::/10 && icmp6.type == {130, 131, 132}",
        )?;
        self.add_predicate("mldv2", "ip6.dst == ff02::16 && icmp6.type == 143")?;

        self.add_predicate("tcp", "ip.proto == 6")?;
        self.add_field("tcp.src", TcpSrc, Some("tcp"), false, Wr);
        self.add_field("tcp.dst", TcpDst, Some("tcp"), false, Wr);
        self.add_field("tcp.flags", TcpFlags, Some("tcp"), false, Wr);
        self.add_predicate("udp", "ip.proto == 17")?;
        self.add_field("udp.src", UdpSrc, Some("udp"), false, Wr);
        self.add_field("udp.dst", UdpDst, Some("udp"), false, Wr);
        self.add_predicate("sctp", "ip.proto == 132")?;
        self.add_field("sctp.src", SctpSrc, Some("sctp"), false, Wr);
        self.add_field("sctp.dst", SctpDst, Some("sctp"), false, Wr);

        self.add_field("pkt.mark", PktMark, None, false, Wr);
        self.add_ovn_field("icmp4.frag_mtu", OvnField::Icmp4FragMtu);
        self.add_ovn_field("icmp6.frag_mtu", OvnField::Icmp6FragMtu);
        Ok(())
    }

    /// Checks that [`SymbolTable::ovn`] builds without errors.
    pub fn try_ovn() -> Result<SymbolTable, SymbolError> {
        let mut t = SymbolTable::new();
        t.build_ovn()?;
        Ok(t)
    }
}

/// The level of an expression: the lowest level of its comparisons
/// (`expr_get_level`).
fn expr_level(e: &Expr) -> Level {
    match e {
        Expr::Cmp(c) => {
            if c.symbol.level == Level::Nominal {
                Level::Nominal
            } else {
                Level::Boolean
            }
        }
        Expr::And(v) | Expr::Or(v) => v.iter().map(expr_level).min().unwrap_or(Level::Ordinal),
        Expr::Boolean(_) | Expr::Condition(_) => Level::Boolean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovn_symtab_is_complete() {
        let t = SymbolTable::try_ovn().expect("every 23.03 definition parses");
        assert_eq!(t.iter().count(), SymbolTable::ovn().iter().count());
        let level = |n: &str| t.get(n).map(|s| s.level);
        assert_eq!(level("ip4"), Some(Level::Nominal));
        assert_eq!(level("vlan.present"), Some(Level::Boolean));
        assert_eq!(level("ip.first_frag"), Some(Level::Boolean));
        assert_eq!(level("ip.dscp"), Some(Level::Nominal));
        assert_eq!(level("reg0"), Some(Level::Ordinal));
        assert_eq!(t.get("inport").map(|s| s.width), Some(0));
        assert!(t.get("eth.type").is_some_and(|s| s.must_crossproduct));
        assert_eq!(
            t.get("ct_mark.natted").map(|s| s.rw),
            Some(WriteScope::CtCommit)
        );
        assert_eq!(t.get("ip.proto").map(|s| s.rw), Some(WriteScope::None));
    }
}
