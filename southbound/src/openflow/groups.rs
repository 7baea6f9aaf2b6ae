//! OpenFlow groups from the text ovn-controller keeps for them.
//!
//! ovn-controller 23.03 allocates a group per distinct specification
//! (`ct_lb`/`ct_lb_mark` backends, `select`, `fwd_group`; see
//! [`crate::actions::ExtendTable`]) and installs it by handing
//! `group_id=N,<spec>` to OVS's `parse_ofp_group_mod_str`
//! (`ofctrl.c: add_group_mod`).  This module parses the same text into an
//! OpenFlow 1.5 `OFPT_GROUP_MOD` that is byte-for-byte what `ovs-ofctl -O
//! OpenFlow15 add-group` sends for it:
//!
//! * group keys `type=`, `selection_method=`, `selection_method_param=`,
//!   `fields(...)` (the NTR selection-method experimenter property, only
//!   when a selection method is given);
//! * each `bucket=` runs to the next one: `bucket_id=`, `weight:`/`weight=`,
//!   `watch_port:`, `actions=...`; any other token is an action
//!   (`load=0x5->NXM_NX_REG15[0..15]` is OVS's `load(...)`);
//! * buckets without an id get the lowest ids not taken (OVS's id pool);
//!   select buckets carry a weight property (default 1), buckets with a
//!   watch port a watch-port property.
//!
//! Actions: the ones OVN puts in groups — `ct(...)` with `nat`, `commit`,
//! `table`, `zone`, `exec(set_field...)`, `load`, `set_field`,
//! `resubmit(,T)`, `output`.

use std::net::IpAddr;

use crate::actions::mf::{mf_name, n_bytes, nxm_name, of15_class_field, Subfield};
use crate::actions::ofpact::{Nat, OfAction};
use crate::expr::symtab::Field;

use super::convert;
use super::wire::buf::Property;
use super::wire::mods::{group_command, group_type, Bucket, GroupMod};

/// `OFPG15_BUCKET_ALL`.
const BUCKET_ALL: u32 = 0xffff_ffff;
/// `OFPGPT15_EXPERIMENTER`.
const PROP_EXPERIMENTER: u16 = 0xffff;
/// `NTR_VENDOR_ID`.
const NTR_VENDOR_ID: u32 = 0x0000_154d;
/// `NTRT_SELECTION_METHOD`.
const NTRT_SELECTION_METHOD: u32 = 1;
/// `OFPGBPT15_WEIGHT`, `OFPGBPT15_WATCH_PORT`.
const BUCKET_WEIGHT: u16 = 0;
const BUCKET_WATCH_PORT: u16 = 1;

/// Splits `s` at top-level commas (not inside parentheses).
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// `key=value`, `key:value` or `key(value)` (`ofputil_parse_key_value`).
fn key_value(token: &str) -> (&str, &str) {
    let token = token.trim();
    match token.find(['=', ':', '(']) {
        Some(i) if token.as_bytes()[i] == b'(' => {
            let v = &token[i + 1..];
            (&token[..i], v.strip_suffix(')').unwrap_or(v))
        }
        Some(i) => (&token[..i], &token[i + 1..]),
        None => (token, ""),
    }
}

fn num(s: &str) -> Result<u128, String> {
    let s = s.trim();
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u128::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("`{s}': not a number"))
}

/// Every field an OVN group can name.
fn named_fields() -> impl Iterator<Item = Field> {
    use Field::*;
    (0..16)
        .map(Reg)
        .chain((0..8).map(Xreg))
        .chain((0..4).map(Xxreg))
        .chain([
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
            InPort,
            TunId,
        ])
}

/// A field by any of its OVS names (`reg15`, `NXM_NX_REG15`, `ip_src`,
/// `nw_src`, `tp_src`...).
fn field_by_name(name: &str) -> Result<Field, String> {
    let alias = match name {
        "nw_src" => "ip_src",
        "nw_dst" => "ip_dst",
        "tp_src" => "tcp_src",
        "tp_dst" => "tcp_dst",
        "dl_src" => "eth_src",
        "dl_dst" => "eth_dst",
        "dl_type" => "eth_type",
        n => n,
    };
    named_fields()
        .find(|f| mf_name(*f) == alias || nxm_name(*f).eq_ignore_ascii_case(alias))
        .ok_or_else(|| format!("unknown field `{name}'"))
}

/// `FIELD[a..b]`, `FIELD[a]`, `FIELD[]` or `FIELD`.
fn subfield(s: &str) -> Result<Subfield, String> {
    let s = s.trim();
    let (name, range) = match s.split_once('[') {
        Some((n, r)) => (
            n,
            Some(r.strip_suffix(']').ok_or(format!("`{s}': no `]'"))?),
        ),
        None => (s, None),
    };
    let field = field_by_name(name)?;
    let whole = Subfield::whole(field);
    let Some(range) = range.filter(|r| !r.is_empty()) else {
        return Ok(whole);
    };
    let bad = || format!("`{s}': bad bit range");
    let (lo, hi) = match range.split_once("..") {
        Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
        None => {
            let b: u32 = range.parse().map_err(|_| bad())?;
            (b, b)
        }
    };
    if lo > hi || hi >= field.n_bits() {
        return Err(bad());
    }
    Ok(Subfield {
        field,
        ofs: lo,
        n_bits: hi - lo + 1,
    })
}

fn low_bits(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

/// `load:VALUE->DST` as the set-field it becomes in OpenFlow 1.5.
fn load(arg: &str) -> Result<OfAction, String> {
    let (value, dst) = arg.split_once("->").ok_or(format!("load:{arg}: no `->'"))?;
    let dst = subfield(dst)?;
    let value = num(value)?;
    if value > low_bits(dst.n_bits) {
        return Err(format!("load:{arg}: value too wide"));
    }
    Ok(OfAction::SetField {
        field: dst.field,
        value: value << dst.ofs,
        mask: low_bits(dst.n_bits) << dst.ofs,
    })
}

/// `set_field:VALUE[/MASK]->FIELD`.
fn set_field(arg: &str) -> Result<OfAction, String> {
    let (value, field) = arg
        .split_once("->")
        .ok_or(format!("set_field:{arg}: no `->'"))?;
    let field = field_by_name(field.trim())?;
    let all = low_bits(field.n_bits());
    let (value, mask) = match value.split_once('/') {
        Some((v, m)) => (num(v)?, num(m)?),
        None => (num(value)?, all),
    };
    Ok(OfAction::SetField {
        field,
        value: value & mask,
        mask,
    })
}

/// `nat(dst=IP[:PORT])`, `nat(src=...)`, `nat`.
fn nat(arg: &str) -> Result<Nat, String> {
    if arg.is_empty() {
        return Ok(Nat {
            src: None,
            addr: None,
            ports: None,
        });
    }
    let (dir, spec) = arg.split_once('=').unwrap_or((arg, ""));
    let src = match dir {
        "src" => true,
        "dst" => false,
        d => return Err(format!("nat({d}): unknown")),
    };
    let (addr, port) = if let Some(rest) = spec.strip_prefix('[') {
        let (a, p) = rest.split_once(']').ok_or("nat: no `]'")?;
        (a, p.strip_prefix(':'))
    } else if spec.matches(':').count() == 1 {
        let (a, p) = spec.split_once(':').unwrap_or((spec, ""));
        (a, Some(p))
    } else {
        (spec, None)
    };
    let addr: Option<IpAddr> = if addr.is_empty() {
        None
    } else {
        Some(
            addr.parse()
                .map_err(|_| format!("nat: bad address `{addr}'"))?,
        )
    };
    let ports = match port {
        Some(p) => {
            let (lo, hi) = p.split_once('-').unwrap_or((p, "0"));
            let lo = lo.parse().map_err(|_| format!("nat: bad port `{p}'"))?;
            let hi = hi.parse().map_err(|_| format!("nat: bad port `{p}'"))?;
            Some((lo, hi))
        }
        None => None,
    };
    Ok(Nat {
        src: Some(src),
        addr,
        ports,
    })
}

/// `ct(...)`.
fn ct(arg: &str) -> Result<OfAction, String> {
    let mut commit = false;
    let mut table = None;
    let mut zone = Subfield {
        field: Field::Reg(13),
        ofs: 0,
        n_bits: 0,
    };
    let mut nat_ = None;
    let mut exec = Vec::new();
    for token in split_top(arg) {
        let (k, v) = key_value(token);
        match k {
            "commit" => commit = true,
            "table" => table = Some(num(v)? as u8),
            "zone" => zone = subfield(v)?,
            "nat" => nat_ = Some(nat(v)?),
            "exec" => exec = actions(v)?,
            other => return Err(format!("ct: unsupported `{other}'")),
        }
    }
    Ok(OfAction::Ct {
        commit,
        table,
        zone,
        nat: nat_,
        exec,
    })
}

/// One action token.
fn action(token: &str) -> Result<OfAction, String> {
    let (k, v) = key_value(token);
    match k {
        "load" => load(v),
        "set_field" => set_field(v),
        "ct" => ct(v),
        "resubmit" => {
            let t = v.trim_start_matches(',');
            Ok(OfAction::Resubmit(num(t)? as u8))
        }
        "output" => Ok(OfAction::Output(num(v)? as u16)),
        "ct_clear" => Ok(OfAction::CtClear),
        "dec_ttl" => Ok(OfAction::DecTtl),
        other => Err(format!("unsupported action `{other}'")),
    }
}

/// A comma-separated list of actions.
fn actions(s: &str) -> Result<Vec<OfAction>, String> {
    split_top(s).into_iter().map(action).collect()
}

/// The OXM header of `field`, exact (`nxm_put_header`, OpenFlow 1.5).
fn oxm_header(field: Field) -> u32 {
    let (class, f) = of15_class_field(field);
    (u32::from(class) << 16) | (u32::from(f) << 9) | n_bytes(field)
}

/// The position of `field` in OVS's `enum mf_field_id` among the fields a
/// selection hash can name.
fn mff_rank(field: Field) -> usize {
    use Field::*;
    const ORDER: &[Field] = &[
        EthSrc, EthDst, EthType, VlanTci, Ipv4Src, Ipv4Dst, Ipv6Src, Ipv6Dst, Ipv6Label, IpProto,
        TcpSrc, TcpDst, TcpFlags, UdpSrc, UdpDst, SctpSrc, SctpDst,
    ];
    ORDER
        .iter()
        .position(|f| *f == field)
        .unwrap_or(ORDER.len())
}

struct ParsedBucket {
    id: u32,
    weight: Option<u16>,
    watch_port: Option<u32>,
    actions: Vec<OfAction>,
}

fn bucket(tokens: &[&str], select: bool) -> Result<ParsedBucket, String> {
    let mut b = ParsedBucket {
        id: BUCKET_ALL,
        weight: select.then_some(1),
        watch_port: None,
        actions: Vec::new(),
    };
    let mut text = Vec::new();
    for t in tokens {
        let (k, v) = key_value(t);
        match k {
            "bucket_id" => b.id = num(v)? as u32,
            "weight" => b.weight = Some(num(v)? as u16),
            "watch_port" => b.watch_port = Some(num(v)? as u32),
            "actions" | "action" => text.push(v.to_string()),
            _ => text.push(t.to_string()),
        }
    }
    if text.is_empty() {
        return Err("bucket must specify actions".into());
    }
    for t in text {
        b.actions.extend(actions(&t)?);
    }
    Ok(b)
}

/// Parses `spec` (without `group_id=`) into an `ADD` group mod for `id`.
pub fn parse_group(id: u32, spec: &str) -> Result<GroupMod, String> {
    let tokens = split_top(spec);
    let mut gtype = None;
    let mut method = String::new();
    let mut param = 0u64;
    let mut fields: Vec<Field> = Vec::new();
    let mut buckets: Vec<Vec<&str>> = Vec::new();
    for t in tokens {
        if let Some(first) = t.strip_prefix("bucket=") {
            buckets.push(vec![first]);
            continue;
        }
        if let Some(b) = buckets.last_mut() {
            b.push(t);
            continue;
        }
        let (k, v) = key_value(t);
        match k {
            "type" => {
                gtype = Some(match v {
                    "all" => group_type::ALL,
                    "select" => group_type::SELECT,
                    "indirect" => group_type::INDIRECT,
                    "ff" | "fast_failover" => group_type::FAST_FAILOVER,
                    o => return Err(format!("invalid group type {o}")),
                })
            }
            "selection_method" => method = v.to_string(),
            "selection_method_param" => param = num(v)? as u64,
            "fields" => {
                for f in v.split(',').filter(|f| !f.is_empty()) {
                    fields.push(field_by_name(f.trim())?);
                }
            }
            "group_id" => {}
            other => return Err(format!("unknown keyword {other}")),
        }
    }
    let gtype = gtype.ok_or("must specify a type")?;
    let select = gtype == group_type::SELECT;
    let mut parsed: Vec<ParsedBucket> = buckets
        .iter()
        .map(|b| bucket(b, select))
        .collect::<Result<_, _>>()?;
    // Buckets without an id take the lowest free ones.
    let mut taken: std::collections::BTreeSet<u32> = parsed
        .iter()
        .map(|b| b.id)
        .filter(|&i| i != BUCKET_ALL)
        .collect();
    let mut next = 0;
    for b in parsed.iter_mut().filter(|b| b.id == BUCKET_ALL) {
        while taken.contains(&next) {
            next += 1;
        }
        b.id = next;
        taken.insert(next);
    }
    let mut out_buckets = Vec::new();
    for b in parsed {
        let mut properties = Vec::new();
        if let Some(w) = b.weight.filter(|&w| select || w != 0) {
            // `struct ofp15_group_bucket_prop_weight`: the pad counts.
            let mut data = w.to_be_bytes().to_vec();
            data.extend([0, 0]);
            properties.push(Property::new(BUCKET_WEIGHT, data));
        }
        if let Some(p) = b.watch_port {
            let p = convert::port_to_ofp11(p as u16);
            properties.push(Property::new(BUCKET_WATCH_PORT, p.to_be_bytes().to_vec()));
        }
        let actions = convert::encode_actions(&b.actions).map_err(|e| e.to_string())?;
        out_buckets.push(Bucket {
            bucket_id: b.id,
            actions,
            properties,
        });
    }
    let mut properties = Vec::new();
    if !method.is_empty() {
        if method.len() >= 16 {
            return Err(format!("selection method {method} too long"));
        }
        let mut data = Vec::new();
        data.extend(NTR_VENDOR_ID.to_be_bytes());
        data.extend(NTRT_SELECTION_METHOD.to_be_bytes());
        data.extend([0; 4]);
        let mut name = method.into_bytes();
        name.resize(16, 0);
        data.extend(name);
        data.extend(param.to_be_bytes());
        // `oxm_put_field_array`: in OVS field-id order, each field with
        // an all-ones value (a hash over the whole field).
        fields.sort_by_key(|f| (mff_rank(*f), oxm_header(*f)));
        fields.dedup();
        for f in fields {
            data.extend(oxm_header(f).to_be_bytes());
            data.extend(std::iter::repeat_n(0xff, n_bytes(f) as usize));
        }
        properties.push(Property::new(PROP_EXPERIMENTER, data));
    }
    Ok(GroupMod {
        command: group_command::ADD,
        group_type: gtype,
        group_id: id,
        command_bucket_id: BUCKET_ALL,
        buckets: out_buckets,
        properties,
    })
}

/// The group for an extend-table entry, or `None` (logged) when its text
/// cannot be parsed; flows using it are then left out.
pub fn group_from_spec(id: u32, spec: &str) -> Option<GroupMod> {
    match parse_group(id, spec) {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!("group {id} `{spec}': {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_lb_group_parses() {
        let g = parse_group(
            3,
            "type=select,selection_method=dp_hash,bucket=bucket_id=0,weight:100,actions=ct(nat(dst=10.0.0.2:80),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_mark)),bucket=bucket_id=1,weight:100,actions=ct(nat(dst=[fd00::3]:80),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_mark,set_field:4/4->ct_mark))",
        )
        .unwrap();
        assert_eq!(g.buckets.len(), 2);
        assert_eq!(g.buckets[1].bucket_id, 1);
        assert_eq!(g.properties.len(), 1);
    }

    #[test]
    fn fwd_group_buckets_get_ids() {
        let g = parse_group(
            1,
            "type=select,selection_method=dp_hash,bucket=watch_port:5,load=0x1->NXM_NX_REG15[0..15],resubmit(,39),bucket=watch_port:6,load=0x2->NXM_NX_REG15[0..15],resubmit(,39)",
        )
        .unwrap();
        let ids: Vec<u32> = g.buckets.iter().map(|b| b.bucket_id).collect();
        assert_eq!(ids, [0, 1]);
        assert_eq!(g.buckets[0].properties.len(), 2);
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!(parse_group(1, "type=bogus").is_err());
        assert!(parse_group(1, "type=select,bucket=weight:1").is_err());
        assert!(parse_group(1, "type=select,bucket=actions=frobnicate").is_err());
    }
}
