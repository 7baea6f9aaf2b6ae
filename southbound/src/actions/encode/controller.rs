//! Actions that send the packet to ovn-controller: `controller(userdata=...)`
//! whose userdata starts with OVN's `struct action_header` (a 32-bit opcode
//! and 4 bytes of padding), followed by an opcode-specific payload laid out
//! exactly as `lib/actions.c` writes it and `controller/pinctrl.c` reads it.

use std::collections::BTreeMap;

use super::{resolve, EncodeContext};
use crate::actions::ast::{Action, ConstValues, Constant, GenOption, Log, NestKind, OptsKind};
use crate::actions::mf::{n_bytes, of15_class_field};
use crate::actions::ofpact::{OfAction, NO_METER};
use crate::actions::ofwire;
use crate::actions::options::{
    OptionType, ND_OPT_DNSSL, ND_OPT_MTU, ND_OPT_PREFIX_INFORMATION, ND_OPT_RDNSS,
    ND_OPT_ROUTE_INFO_TYPE, ND_OPT_SOURCE_LINKADDR, ND_RA_FLAG_ADDR_MODE, ND_RA_FLAG_PRF,
};
use crate::expr::parser::{FieldRef, IntConstant};
use crate::expr::symtab::{OvnField, SymbolKind};
use crate::expr::util::low_bits;

/// `enum action_opcode` of OVN 23.03.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
#[repr(u32)]
pub enum Opcode {
    Arp = 0,
    PutArp = 1,
    PutDhcpOpts = 2,
    NdNa = 3,
    PutNd = 4,
    PutDhcpv6Opts = 5,
    DnsLookup = 6,
    Log = 7,
    PutNdRaOpts = 8,
    NdNs = 9,
    Icmp = 10,
    TcpReset = 11,
    NdNaRouter = 12,
    PutIcmp4FragMtu = 13,
    Icmp4Error = 14,
    Event = 15,
    Igmp = 16,
    BindVport = 17,
    HandleSvcCheck = 18,
    Dhcp6Server = 19,
    Icmp6Error = 20,
    PutIcmp6FragMtu = 21,
    Reject = 22,
    BfdMsg = 23,
    SctpAbort = 24,
    PutFdb = 25,
    ActivationStrategyRarp = 26,
}

/// A controller action carrying `opcode` and `payload`
/// (`encode_start_controller_op` + `encode_finish_controller_op`).
pub(super) fn op(
    opcode: Opcode,
    pause: bool,
    meter_id: u32,
    payload: &[u8],
    ctx: &EncodeContext<'_>,
) -> OfAction {
    let mut userdata = Vec::with_capacity(8 + payload.len());
    userdata.extend_from_slice(&(opcode as u32).to_be_bytes());
    userdata.extend_from_slice(&[0; 4]);
    userdata.extend_from_slice(payload);
    OfAction::Controller {
        userdata,
        pause,
        meter_id: if ctx.features.dp_meter {
            meter_id
        } else {
            NO_METER
        },
    }
}

/// `field = constant;` (`encode_LOAD`).
pub(super) fn encode_load(dst: &FieldRef, value: &Constant, ctx: &EncodeContext<'_>) -> OfAction {
    let sf = resolve(dst);
    match value {
        Constant::Str(name) => {
            let port = (ctx.lookup_port)(name).unwrap_or(0);
            OfAction::SetField {
                field: sf.field,
                value: u128::from(port) & low_bits(sf.field.n_bits()),
                mask: low_bits(sf.field.n_bits()),
            }
        }
        Constant::Int(c) => {
            let bits = low_bits(sf.n_bits);
            let mask = c.mask.map_or(bits, |m| m & bits);
            OfAction::SetField {
                field: sf.field,
                value: (c.value & bits) << sf.ofs,
                mask: mask << sf.ofs,
            }
        }
    }
}

/// `icmp4.frag_mtu = N;` and `icmp6.frag_mtu = N;` (`encode_OVNFIELD_LOAD`).
pub(super) fn encode_ovn_field(
    dst: &FieldRef,
    value: &IntConstant,
    ctx: &EncodeContext<'_>,
    out: &mut Vec<OfAction>,
) {
    let SymbolKind::Ovn(field) = dst.symbol.kind else {
        return;
    };
    let (opcode, payload) = match field {
        OvnField::Icmp4FragMtu => (
            Opcode::PutIcmp4FragMtu,
            (value.value as u16).to_be_bytes().to_vec(),
        ),
        OvnField::Icmp6FragMtu => (
            Opcode::PutIcmp6FragMtu,
            (value.value as u32).to_be_bytes().to_vec(),
        ),
    };
    out.push(op(opcode, true, ctx.ctrl_meter_id, &payload, ctx));
}

/// Nested actions on a derived packet, sent as OpenFlow 1.5 actions in the
/// userdata (`encode_nested_actions`), or `clone(...)`.
pub(super) fn encode_nested(
    kind: NestKind,
    actions: &[Action],
    ctx: &mut EncodeContext<'_>,
    out: &mut Vec<OfAction>,
) {
    let inner = super::encode(actions, ctx);
    let opcode = match kind {
        NestKind::Clone => {
            out.push(OfAction::Clone(inner));
            return;
        }
        NestKind::Arp => Opcode::Arp,
        NestKind::Icmp4 | NestKind::Icmp6 => Opcode::Icmp,
        NestKind::Icmp4Error => Opcode::Icmp4Error,
        NestKind::Icmp6Error => Opcode::Icmp6Error,
        NestKind::TcpReset => Opcode::TcpReset,
        NestKind::SctpAbort => Opcode::SctpAbort,
        NestKind::NdNa => Opcode::NdNa,
        NestKind::NdNaRouter => Opcode::NdNaRouter,
        NestKind::NdNs => Opcode::NdNs,
        NestKind::Reject => Opcode::Reject,
    };
    let mut payload = Vec::new();
    for a in &inner {
        // An action the wire encoder does not know is left out; see
        // `ofwire::Unsupported`.
        let mut bytes = Vec::new();
        if ofwire::put_actions(std::slice::from_ref(a), &mut bytes).is_ok() {
            payload.extend(bytes);
        }
    }
    out.push(op(opcode, false, ctx.ctrl_meter_id, &payload, ctx));
}

/// The OpenFlow 1.5 header of the result field and the bit offset, which
/// start the payload of `put_dhcp_opts` and similar actions.
fn result_header(dst: &FieldRef) -> Vec<u8> {
    let sf = resolve(dst);
    let (class, code) = of15_class_field(sf.field);
    let header = (u32::from(class) << 16) | (u32::from(code) << 9) | n_bytes(sf.field);
    let mut v = header.to_be_bytes().to_vec();
    v.extend_from_slice(&sf.ofs.to_be_bytes());
    v
}

/// `dst = dns_lookup();`.
pub(super) fn encode_dns_lookup(dst: &FieldRef, ctx: &EncodeContext<'_>) -> OfAction {
    op(
        Opcode::DnsLookup,
        true,
        ctx.ctrl_meter_id,
        &result_header(dst),
        ctx,
    )
}

fn ints(o: &GenOption) -> &[IntConstant] {
    match &o.value.values {
        ConstValues::Ints(v) => v,
        ConstValues::Strings(_) => &[],
    }
}

fn string(o: &GenOption) -> &str {
    o.value.first_str().unwrap_or("")
}

fn be_bytes(v: u128, n: usize) -> Vec<u8> {
    v.to_be_bytes()[16 - n..].to_vec()
}

/// RFC 1035 name compression of a comma-separated domain list, with the
/// suffix bookkeeping of `encode_put_dhcpv4_option` (including its habit of
/// dropping the last character of each remembered suffix).
fn encode_domains(list: &str) -> Option<Vec<u8>> {
    // Byte-wise, as C's strlcpy: the last byte may be part of a character.
    fn chop(s: &str) -> Option<Vec<u8>> {
        (!s.is_empty()).then(|| s.as_bytes()[..s.len() - 1].to_vec())
    }
    let mut out = Vec::new();
    let mut offsets: BTreeMap<Vec<u8>, u16> = BTreeMap::new();
    let mut suffix = Vec::new();
    for domain in list.split(',').filter(|d| !d.is_empty()) {
        if domain.len() > 255 {
            return None;
        }
        if let Some(s) = chop(domain) {
            suffix = s;
        }
        let labels: Vec<(usize, &str)> = domain
            .split('.')
            .scan(0usize, |pos, l| {
                let start = *pos;
                *pos += l.len() + 1;
                Some((start, l))
            })
            .filter(|(_, l)| !l.is_empty())
            .collect();
        let mut completed = true;
        for (start, label) in labels {
            if let Some(&ofs) = offsets.get(&suffix) {
                out.extend_from_slice(&(0xc000 | ofs).to_be_bytes());
                completed = false;
                break;
            }
            offsets.entry(suffix.clone()).or_insert(out.len() as u16);
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
            let rest_start = (start + label.len() + 1).min(domain.len());
            let rest = &domain[rest_start..];
            if let Some(s) = chop(rest) {
                suffix = s;
            }
        }
        if completed {
            out.push(0);
        }
    }
    Some(out)
}

fn dhcpv4_option(o: &GenOption, out: &mut Vec<u8>) {
    let code = o.option.code as u8;
    let values = ints(o);
    let first = values.first().map_or(0, |c| c.value);
    let data: Vec<u8> = match o.option.ty {
        OptionType::Bool | OptionType::Uint8 => be_bytes(first, 1),
        OptionType::Uint16 => be_bytes(first, 2),
        OptionType::Uint32 => be_bytes(first, 4),
        OptionType::Ipv4 => values.iter().flat_map(|c| be_bytes(c.value, 4)).collect(),
        OptionType::StaticRoutes => {
            let mut d = Vec::new();
            for pair in values.chunks_exact(2) {
                let plen = pair[0].mask.map_or(32, |m| (m as u32).leading_ones());
                d.push(plen as u8);
                d.extend_from_slice(&be_bytes(pair[0].value, 4)[..plen.div_ceil(8) as usize]);
                d.extend(be_bytes(pair[1].value, 4));
            }
            d
        }
        OptionType::Str => string(o).as_bytes().to_vec(),
        OptionType::HostId => match o.value.first_str() {
            Some(s) => s.as_bytes().to_vec(),
            None => be_bytes(first, 4),
        },
        OptionType::Domains => match encode_domains(string(o)) {
            Some(d) => d,
            None => {
                out.extend([code, 0]);
                return;
            }
        },
        OptionType::Ipv6 | OptionType::Mac => Vec::new(),
    };
    out.push(code);
    out.push(data.len() as u8);
    out.extend(data);
}

fn dhcpv6_option(o: &GenOption, out: &mut Vec<u8>) {
    let values = ints(o);
    let data: Vec<u8> = match o.option.ty {
        OptionType::Ipv6 => values.iter().flat_map(|c| be_bytes(c.value, 16)).collect(),
        OptionType::Mac => be_bytes(values.first().map_or(0, |c| c.value), 6),
        OptionType::Str => string(o).as_bytes().to_vec(),
        _ => Vec::new(),
    };
    out.extend_from_slice(&o.option.code.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend(data);
}

/// `encode_ra_dnssl_opt` followed by the DNSSL option header.
fn dnssl_option(list: &str, out: &mut Vec<u8>) {
    let mut size = 8usize;
    let mut buf = Vec::new();
    for domain in list.split(',').filter(|d| !d.is_empty()) {
        size += domain.len() + 2;
        if size > 255 {
            return;
        }
        for label in domain.split('.').filter(|l| !l.is_empty()) {
            let len = label.len().min(255);
            buf.push(len as u8);
            buf.extend_from_slice(&label.as_bytes()[..len]);
        }
        buf.push(0);
    }
    let size = size.div_ceil(8) * 8;
    buf.resize(size - 8, 0);
    out.extend([
        ND_OPT_DNSSL as u8,
        (size / 8) as u8,
        0,
        0,
        0xff,
        0xff,
        0xff,
        0xff,
    ]);
    out.extend(buf);
}

/// `encode_ra_route_info_opt`: `PRF-prefix/len,...`.
fn route_info_option(list: &str, out: &mut Vec<u8>) {
    for entry in list.split(',').filter(|e| !e.is_empty()) {
        let mut flags = 0u8;
        for (index, token) in entry.split('-').filter(|t| !t.is_empty()).enumerate() {
            if index == 0 {
                flags = match token {
                    "HIGH" => 0x08,
                    "LOW" => 0x18,
                    _ => 0,
                };
                continue;
            }
            let (addr, plen) = match token.split_once('/') {
                Some((a, p)) => (a, p.parse::<u32>().ok()),
                None => (token, Some(128)),
            };
            let (Ok(addr), Some(plen)) = (addr.parse::<std::net::Ipv6Addr>(), plen) else {
                return;
            };
            if plen > 128 {
                return;
            }
            let mask = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - plen)
            };
            let network = u128::from(addr) & mask;
            let words = plen.div_ceil(64) as usize;
            out.extend([
                ND_OPT_ROUTE_INFO_TYPE as u8,
                1 + words as u8,
                plen as u8,
                flags,
            ]);
            out.extend([0xff; 4]);
            out.extend_from_slice(&network.to_be_bytes()[..words * 8]);
        }
    }
}

fn nd_ra_payload(options: &[GenOption]) -> Vec<u8> {
    const MO_FLAGS: usize = 5;
    let mut ra = vec![134u8, 0, 0, 0, 255, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
    for o in options {
        let first = ints(o).first().copied();
        match o.option.code {
            ND_RA_FLAG_ADDR_MODE => match string(o) {
                "dhcpv6_stateful" => ra[MO_FLAGS] |= 0x80,
                "dhcpv6_stateless" => ra[MO_FLAGS] |= 0x40,
                _ => {}
            },
            ND_RA_FLAG_PRF => match string(o) {
                "LOW" => ra[MO_FLAGS] |= 0x18,
                "HIGH" => ra[MO_FLAGS] |= 0x08,
                _ => {}
            },
            ND_OPT_SOURCE_LINKADDR => {
                ra.extend([ND_OPT_SOURCE_LINKADDR as u8, 1]);
                ra.extend(be_bytes(first.map_or(0, |c| c.value), 6));
            }
            ND_OPT_MTU => {
                ra.extend([ND_OPT_MTU as u8, 1, 0, 0]);
                ra.extend(be_bytes(first.map_or(0, |c| c.value), 4));
            }
            ND_OPT_PREFIX_INFORMATION => {
                let c = first.unwrap_or(IntConstant {
                    value: 0,
                    mask: None,
                    format: crate::expr::LexFormat::Ipv6,
                    wide_bits: 0,
                });
                let plen = c.mask.unwrap_or(0).leading_ones() as u8;
                let mut la = 0x80;
                if ra[MO_FLAGS] & 0x80 == 0 {
                    la |= 0x40;
                }
                ra.extend([ND_OPT_PREFIX_INFORMATION as u8, 4, plen, la]);
                ra.extend([0xff; 8]);
                ra.extend([0; 4]);
                ra.extend(be_bytes(c.value, 16));
            }
            ND_OPT_RDNSS => {
                ra.extend([ND_OPT_RDNSS as u8, 3, 0, 0, 0xff, 0xff, 0xff, 0xff]);
                ra.extend(be_bytes(first.map_or(0, |c| c.value), 16));
            }
            ND_OPT_DNSSL => dnssl_option(string(o), &mut ra),
            ND_OPT_ROUTE_INFO_TYPE => route_info_option(string(o), &mut ra),
            _ => {}
        }
    }
    ra
}

/// `dst = put_dhcp_opts(...)`, `put_dhcpv6_opts(...)`, `put_nd_ra_opts(...)`.
pub(super) fn encode_put_opts(
    kind: OptsKind,
    dst: &FieldRef,
    options: &[GenOption],
    ctx: &EncodeContext<'_>,
    out: &mut Vec<OfAction>,
) {
    let mut payload = result_header(dst);
    let opcode = match kind {
        OptsKind::Dhcpv4 => {
            let find = |code: u16| options.iter().position(|o| o.option.code == code);
            let offerip = find(0);
            let offer = offerip
                .and_then(|i| ints(&options[i]).first())
                .map_or(0, |c| c.value);
            payload.extend(be_bytes(offer, 4));
            let special = [find(67), find(254), find(253)];
            for i in special.iter().flatten() {
                let o = &options[*i];
                if o.option.code == 253 {
                    let v = ints(o).first().map_or(0, |c| c.value);
                    payload.extend([253, 4]);
                    payload.extend(be_bytes(v, 4));
                } else {
                    let s = string(o);
                    payload.extend([o.option.code as u8, s.len() as u8]);
                    payload.extend_from_slice(s.as_bytes());
                }
            }
            for (i, o) in options.iter().enumerate() {
                if Some(i) != offerip && !special.contains(&Some(i)) {
                    dhcpv4_option(o, &mut payload);
                }
            }
            Opcode::PutDhcpOpts
        }
        OptsKind::Dhcpv6 => {
            for o in options {
                dhcpv6_option(o, &mut payload);
            }
            Opcode::PutDhcpv6Opts
        }
        OptsKind::NdRa => {
            payload.extend(nd_ra_payload(options));
            Opcode::PutNdRaOpts
        }
    };
    out.push(op(opcode, true, ctx.ctrl_meter_id, &payload, ctx));
}

/// `log(...)`: verdict, severity and name after the header, with the
/// meter of `meter="..."`.
pub(super) fn encode_log(log: &Log, ctx: &mut EncodeContext<'_>, out: &mut Vec<OfAction>) {
    let mut meter_id = NO_METER;
    if let Some(m) = &log.meter {
        match ctx.meters.assign_id(m) {
            Some(id) => meter_id = id,
            None => return,
        }
    }
    let mut payload = vec![log.verdict, log.severity];
    if let Some(n) = &log.name {
        payload.extend_from_slice(n.as_bytes());
    }
    out.push(op(Opcode::Log, false, meter_id, &payload, ctx));
}

/// `trigger_event(...)`: event type, then each option as code, length,
/// string.
pub(super) fn encode_trigger_event(
    event: u32,
    options: &[GenOption],
    ctx: &EncodeContext<'_>,
    out: &mut Vec<OfAction>,
) {
    let mut payload = event.to_be_bytes().to_vec();
    for o in options {
        let s = string(o);
        payload.extend_from_slice(&o.option.code.to_be_bytes());
        payload.extend_from_slice(&(s.len() as u16).to_be_bytes());
        payload.extend_from_slice(s.as_bytes());
    }
    out.push(op(Opcode::Event, false, ctx.ctrl_meter_id, &payload, ctx));
}

#[cfg(test)]
mod tests {
    use super::encode_domains;

    #[test]
    fn domain_lists_compress_like_ovn() {
        let got = encode_domains("ovn.org,abc.ovn.org").unwrap();
        let want = [
            3, b'o', b'v', b'n', 3, b'o', b'r', b'g', 0, 3, b'a', b'b', b'c', 0xc0, 0,
        ];
        assert_eq!(got, want);
    }
}
