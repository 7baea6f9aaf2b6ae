//! Packets waiting for a next hop's MAC (ovn-controller 23.03 pinctrl's
//! `buffered_packets_map`): the IPv4 packet that made a router send an
//! ARP request (`arp { ... }`, [`super::pinctrl_arp`]) or an IPv6 neighbor
//! solicitation (`nd_ns { ... }`, [`super::pinctrl_nd`]) is kept, keyed by
//! (datapath key, logical output port key, next-hop IP — `metadata`,
//! `reg15`, `reg0` or `xxreg0`); when a `MAC_Binding` for that port and IP shows up in
//! the Southbound database (`run_buffered_binding`: learned by us or by
//! any other chassis), the packets are re-injected with that MAC as
//! Ethernet destination (`buffered_send_packets`), so the first packet
//! across a router is not lost.
//!
//! As in pinctrl: at most [`QUEUE_DEPTH`]` - 1` packets per key (the
//! oldest goes), at most [`MAX_KEYS`] keys (new ones are refused), and
//! a key not refreshed for [`TIMEOUT`] is dropped.  Each packet keeps the
//! actions it is re-injected with: its registers and `metadata` reloaded
//! (`reload_metadata`), `pkt_mark` set, and
//! `resubmit(CONTROLLER, OFTABLE_OUTPUT_INIT)` (table 37: the logical
//! output stage, the packet already has its output port).  A MAC binding
//! of a port with `options:chassis-redirect-port` also releases the
//! packets buffered for its `cr-` port.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::pinctrl_arp::{reload_metadata, OFPP_CONTROLLER};
use crate::openflow::wire::mods::NO_BUFFER;
use crate::openflow::wire::oxm::field;
use crate::openflow::wire::{Action, Match, OxmField, PacketIn2, PacketOut};
use crate::sbdb::Southbound;

/// `BUFFER_QUEUE_DEPTH`: a ring of 4 slots, so 3 packets per key.
pub const QUEUE_DEPTH: usize = 4;
/// Keys kept at most (`hmap_count(&buffered_packets_map) >= 1000`).
pub const MAX_KEYS: usize = 1000;
/// `BUFFER_MAP_TIMEOUT`.
pub const TIMEOUT: Duration = Duration::from_millis(10_000);
/// `OFTABLE_OUTPUT_INIT` (`OFTABLE_OUTPUT_LARGE_PKT_DETECT`).
pub const OFTABLE_OUTPUT_INIT: u8 = 37;

/// What packets wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// Datapath tunnel key.
    pub dp_key: u64,
    /// Logical output port tunnel key.
    pub port_key: u64,
    /// Next-hop IP.
    pub ip: IpAddr,
}

#[derive(Debug)]
struct Waiting {
    packets: VecDeque<(Vec<u8>, Vec<Action>)>,
    refreshed: Instant,
}

/// The buffered packets.
#[derive(Debug, Default)]
pub struct Buffered {
    map: HashMap<Key, Waiting>,
}

fn md_u64(md: &[OxmField], id: field::Id) -> u64 {
    md.iter()
        .find(|f| f.is(id))
        .map(|f| {
            f.value
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        })
        .unwrap_or(0)
}

/// Register `n` of packet-in metadata (direct or inside its xreg).
fn md_reg(md: &[OxmField], n: u8) -> u32 {
    if md.iter().any(|f| f.is(field::reg(n))) {
        return md_u64(md, field::reg(n)) as u32;
    }
    let x = md_u64(md, field::xreg(n / 2));
    if n.is_multiple_of(2) {
        (x >> 32) as u32
    } else {
        x as u32
    }
}

impl Buffered {
    /// An empty buffer.
    pub fn new() -> Buffered {
        Buffered::default()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How many keys wait.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Keeps the packet of an `arp` packet-in (`is_arp`: next hop in
    /// `reg0`) or an `nd_ns` one (in `xxreg0`)
    /// (`pinctrl_handle_buffered_packets`); false when it is refused (no
    /// packet, malformed metadata, or too many keys).
    pub fn push(&mut self, pin: &PacketIn2, is_arp: bool, now: Instant) -> bool {
        let (Some(pkt), Ok(md)) = (pin.packet(), pin.metadata()) else {
            return false;
        };
        let ip = if is_arp {
            IpAddr::V4(Ipv4Addr::from(md_reg(&md, 0)))
        } else {
            let x = (0..4).fold(0u128, |acc, n| (acc << 32) | u128::from(md_reg(&md, n)));
            IpAddr::V6(Ipv6Addr::from(x))
        };
        let key = Key {
            dp_key: md_u64(&md, field::METADATA),
            port_key: u64::from(md_reg(&md, 15)),
            ip,
        };
        if !self.map.contains_key(&key) && self.map.len() >= MAX_KEYS {
            return false;
        }
        let w = self.map.entry(key).or_insert_with(|| Waiting {
            packets: VecDeque::new(),
            refreshed: now,
        });
        w.refreshed = now;
        let mut actions = reload_metadata(&md);
        let mark = md_u64(&md, field::PKT_MARK) as u32;
        actions.push(Action::SetField(OxmField::exact(
            field::PKT_MARK,
            &mark.to_be_bytes(),
        )));
        actions.push(Action::Resubmit {
            in_port: OFPP_CONTROLLER as u16,
            table: OFTABLE_OUTPUT_INIT,
        });
        w.packets.push_back((pkt.to_vec(), actions));
        while w.packets.len() > QUEUE_DEPTH - 1 {
            w.packets.pop_front();
        }
        true
    }

    /// Drops keys not refreshed for [`TIMEOUT`] (`buffered_packets_map_gc`).
    pub fn gc(&mut self, now: Instant) {
        self.map
            .retain(|_, w| now.saturating_duration_since(w.refreshed) <= TIMEOUT);
    }

    /// The packet-outs releasing what waits for `key`, with `mac` as
    /// Ethernet destination; the key is forgotten.
    pub fn release(&mut self, key: &Key, mac: [u8; 6]) -> Vec<PacketOut> {
        let Some(w) = self.map.remove(key) else {
            return Vec::new();
        };
        w.packets
            .into_iter()
            .filter(|(p, _)| p.len() >= 6)
            .map(|(mut data, actions)| {
                data[..6].copy_from_slice(&mac);
                PacketOut {
                    buffer_id: NO_BUFFER,
                    of_match: Match {
                        fields: vec![OxmField::exact(
                            field::IN_PORT,
                            &OFPP_CONTROLLER.to_be_bytes(),
                        )],
                    },
                    actions,
                    data,
                }
            })
            .collect()
    }

    /// The packet-outs for the `MAC_Binding` rows `(logical_port, ip,
    /// mac)` that appeared or changed (`run_buffered_binding`).
    pub fn release_for(
        &mut self,
        sb: &Southbound,
        bindings: &[(String, String, String)],
    ) -> Vec<PacketOut> {
        let mut out = Vec::new();
        if self.map.is_empty() {
            return out;
        }
        for (port, ip, mac) in bindings {
            let (Ok(ip), Some(mac)) = (ip.parse::<IpAddr>(), parse_mac(mac)) else {
                continue;
            };
            let key_of = |name: &str| {
                let pb = sb.port(name)?;
                let dp = sb.datapath(&pb.datapath)?;
                Some(Key {
                    dp_key: dp.tunnel_key as u64,
                    port_key: pb.tunnel_key as u64,
                    ip,
                })
            };
            let Some(mut key) = key_of(port) else {
                continue;
            };
            if !self.map.contains_key(&key) {
                let redirect = sb
                    .port(port)
                    .is_some_and(|pb| pb.options.contains_key("chassis-redirect-port"));
                let cr = format!("cr-{port}");
                match key_of(&cr) {
                    Some(k)
                        if redirect
                            && sb.port(&cr).is_some_and(|pb| pb.type_ == "chassisredirect") =>
                    {
                        key = k
                    }
                    _ => continue,
                }
            }
            out.extend(self.release(&key, mac));
        }
        out
    }
}

/// `xx:xx:xx:xx:xx:xx`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::wire::buf::Property;
    use crate::openflow::wire::packet::pin_prop;

    fn arp_pin(dp: u64, port: u32, ip: [u8; 4], tag: u8) -> PacketIn2 {
        let md = [
            OxmField::exact(field::METADATA, &dp.to_be_bytes()),
            OxmField::exact(
                field::xreg(0),
                &(u64::from(u32::from_be_bytes(ip)) << 32).to_be_bytes(),
            ),
            OxmField::exact(field::xreg(7), &u64::from(port).to_be_bytes()),
        ];
        let mut mdb = Vec::new();
        for f in &md {
            f.emit(&mut mdb).unwrap();
        }
        let mut pkt = vec![0; 14];
        pkt[13] = tag;
        PacketIn2 {
            properties: vec![
                Property::new(pin_prop::PACKET, pkt),
                Property::new(pin_prop::METADATA, mdb),
            ],
        }
    }

    #[test]
    fn keeps_the_last_three_and_releases_with_the_mac() {
        let mut b = Buffered::new();
        let t = Instant::now();
        for tag in 0..5 {
            assert!(b.push(&arp_pin(3, 2, [10, 1, 0, 3], tag), true, t));
        }
        assert!(b.push(&arp_pin(3, 2, [10, 1, 0, 4], 9), true, t));
        assert_eq!(b.len(), 2);
        let key = Key {
            dp_key: 3,
            port_key: 2,
            ip: "10.1.0.3".parse().unwrap(),
        };
        let mac = [0x50, 0x54, 0, 0, 0, 3];
        let out = b.release(&key, mac);
        let tags: Vec<u8> = out.iter().map(|p| p.data[13]).collect();
        assert_eq!(tags, [2, 3, 4]);
        assert!(out.iter().all(|p| p.data[..6] == mac));
        let last = out[0].actions.last().unwrap();
        assert_eq!(
            *last,
            Action::Resubmit {
                in_port: 0xfffd,
                table: 37
            }
        );
        assert!(out[0]
            .actions
            .iter()
            .any(|a| matches!(a, Action::SetField(f) if f.is(field::reg(15)))));
        assert!(b.release(&key, mac).is_empty());
        b.gc(t + TIMEOUT + Duration::from_millis(1));
        assert!(b.is_empty());
    }

    #[test]
    fn macs_parse() {
        assert_eq!(
            parse_mac("50:54:00:00:00:0a"),
            Some([0x50, 0x54, 0, 0, 0, 10])
        );
        assert_eq!(parse_mac("50:54:00:00:00"), None);
        assert_eq!(parse_mac("50:54:00:00:00:0a:1"), None);
    }
}
