//! Load balancer health checks (ovn-controller 23.03 pinctrl's service
//! monitors: `sync_svc_monitors`, `svc_monitors_run`,
//! `pinctrl_handle_svc_check`).
//!
//! Each SB `Service_Monitor` row whose `logical_port` is bound to this
//! chassis, and whose IP is one of the port's addresses (or the port has a
//! MAC and no IP), is probed from `src_mac`/`src_ip`:
//!
//! * TCP: a SYN (random sequence number and source port ≥ 1024, window
//!   65160) to the backend's port.  A SYN+ACK acknowledging it is a success
//!   (answered with a RST+ACK, pinctrl's sequence numbers), a RST a
//!   failure, and no answer within `options:timeout` (3 s) a failure;
//! * UDP: an 8-byte zero payload (IPv4 without checksum) from a source
//!   port kept for the monitor's life.  An ICMP port unreachable quoting
//!   it is a failure; silence until the timeout is a success.
//!
//! `success_count`/`failure_count` (1) consecutive results turn the
//! status `online`/`offline`, written to the row; probes repeat every
//! `options:interval` (5 s).  Probes are sent with the datapath in
//! `metadata`, the backend port in `reg15` and bit 16 of `reg10` set
//! (pinctrl loads `MLF_LOCAL_ONLY`'s value as the bit offset), to the
//! local output table (40).  Replies reach the controller through the
//! `handle_svc_check(inport)` flows (`ACTION_OPCODE_HANDLE_SVC_CHECK`),
//! the backend port's key in `reg14`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ovsdb::sb::ServiceMonitor;
use ovsdb::Uuid;
use serde_json::{json, Value};

use super::ops;
use super::pinctrl::opcode;
use super::pinctrl_arp::OFPP_CONTROLLER;
use super::pinctrl_buffer::parse_mac;
use super::pinctrl_icmp::{compose, Addrs};
use crate::openflow::wire::mods::NO_BUFFER;
use crate::openflow::wire::oxm::field;
use crate::openflow::wire::{Action, Match, OxmField, PacketIn2, PacketOut};
use crate::sbdb::Southbound;

/// `ACTION_OPCODE_HANDLE_SVC_CHECK`.
pub const OP_HANDLE_SVC_CHECK: u32 = 18;
/// `OFTABLE_LOCAL_OUTPUT`.
const OFTABLE_LOCAL_OUTPUT: u8 = 40;

/// A monitored backend: (datapath key, port key, IP, L4 port, UDP?).
type Key = (i64, i64, IpAddr, u16, bool);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Init,
    Waiting,
    Online,
    Offline,
}

#[derive(Debug, Clone)]
struct Monitor {
    row: Uuid,
    src_mac: [u8; 6],
    src_ip: IpAddr,
    dst_mac: [u8; 6],
    options: BTreeMap<String, String>,
    interval: Duration,
    timeout: Duration,
    success_count: u32,
    failure_count: u32,
    n_success: u32,
    n_failures: u32,
    state: State,
    /// `None` until known, then online (true) or offline.
    status: Option<bool>,
    wait_until: Instant,
    next_send: Instant,
    seq: u32,
    tp_src: u16,
}

impl Monitor {
    /// A new monitor in `Init` with ovn-controller's defaults (interval
    /// 5 s, timeout 3 s, one success / one failure), options not yet read.
    fn new(row: Uuid, src_mac: [u8; 6], src_ip: IpAddr, dst_mac: [u8; 6], now: Instant) -> Monitor {
        Monitor {
            row,
            src_mac,
            src_ip,
            dst_mac,
            options: BTreeMap::new(),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(3),
            success_count: 1,
            failure_count: 1,
            n_success: 0,
            n_failures: 0,
            state: State::Init,
            status: None,
            wait_until: now,
            next_send: now,
            seq: 0,
            tp_src: 0,
        }
    }
}

/// The monitors of this chassis.
#[derive(Debug)]
pub struct Monitors {
    map: BTreeMap<Key, Monitor>,
    rng: u64,
}

impl Default for Monitors {
    fn default() -> Monitors {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Monitors {
            map: BTreeMap::new(),
            rng: (t ^ (u64::from(std::process::id()) << 32)) | 1,
        }
    }
}

fn opt(options: &BTreeMap<String, String>, key: &str, default: u32) -> u32 {
    options
        .get(key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The MAC for `ip` among a port's `mac` entries ("MAC IP..."): the entry
/// listing it, or the first entry without any IP.
fn backend_mac(macs: &[String], ip: IpAddr) -> Option<[u8; 6]> {
    for entry in macs {
        let mut words = entry.split_whitespace();
        let Some(mac) = words.next().and_then(parse_mac) else {
            continue;
        };
        let ips: Vec<IpAddr> = words
            .filter_map(|w| w.split('/').next()?.parse().ok())
            .collect();
        if ips.contains(&ip) || ips.is_empty() {
            return Some(mac);
        }
    }
    None
}

impl Monitors {
    /// No monitors.
    pub fn new() -> Monitors {
        Monitors::default()
    }

    /// Whether there is nothing to monitor.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn random(&mut self) -> u32 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    fn random_port(&mut self) -> u16 {
        loop {
            let p = self.random() as u16;
            if p >= 1024 {
                return p;
            }
        }
    }

    /// Follows the SB rows (`sync_svc_monitors`): monitors for rows of
    /// ports bound to `me` appear, keep their state, or go.
    pub fn sync(
        &mut self,
        sb: &Southbound,
        rows: &[ServiceMonitor],
        me: Option<Uuid>,
        now: Instant,
    ) {
        let mut keep = BTreeMap::new();
        for r in rows {
            let Some(pb) = sb.port(&r.logical_port) else {
                continue;
            };
            if me.is_none() || pb.chassis != me {
                continue;
            }
            let (Ok(ip), Ok(src_ip), Some(src_mac)) = (
                r.ip.parse::<IpAddr>(),
                r.src_ip.parse::<IpAddr>(),
                parse_mac(&r.src_mac),
            ) else {
                continue;
            };
            let Some(dst_mac) = backend_mac(&pb.mac, ip) else {
                continue;
            };
            let Some(dp) = sb.datapath(&pb.datapath) else {
                continue;
            };
            let udp = r.protocol.as_deref() == Some("udp");
            let key = (dp.tunnel_key, pb.tunnel_key, ip, r.port as u16, udp);
            let mut m = self
                .map
                .remove(&key)
                .unwrap_or_else(|| Monitor::new(r.uuid, src_mac, src_ip, dst_mac, now));
            m.row = r.uuid;
            m.src_mac = src_mac;
            m.src_ip = src_ip;
            m.dst_mac = dst_mac;
            if m.options != r.options {
                m.options = r.options.clone();
                m.interval = Duration::from_secs(opt(&m.options, "interval", 5).into());
                m.timeout = Duration::from_secs(opt(&m.options, "timeout", 3).into());
                m.success_count = opt(&m.options, "success_count", 1);
                m.failure_count = opt(&m.options, "failure_count", 1);
            }
            keep.insert(key, m);
        }
        self.map = keep;
    }

    /// The `status` updates for rows whose monitor knows better.
    pub fn status_ops(&self, rows: &[ServiceMonitor]) -> Vec<Value> {
        let mut out = Vec::new();
        for m in self.map.values() {
            let Some(online) = m.status else {
                continue;
            };
            let want = if online { "online" } else { "offline" };
            if let Some(r) = rows.iter().find(|r| r.uuid == m.row) {
                if r.status.as_deref() != Some(want) {
                    out.push(ops::update(
                        "Service_Monitor",
                        &r.uuid,
                        json!({ "status": want }),
                    ));
                }
            }
        }
        out
    }

    /// Sends what is due and moves the state machines
    /// (`svc_monitors_run`): the probes, whether a status changed, and
    /// when to run next.
    pub fn run(&mut self, now: Instant) -> (Vec<PacketOut>, bool, Option<Instant>) {
        let mut out = Vec::new();
        let mut changed = false;
        let mut next: Option<Instant> = None;
        let keys: Vec<Key> = self.map.keys().copied().collect();
        for key in keys {
            let mut m = self.map.remove(&key).expect("key just listed");
            let old = m.status;
            let at = match m.state {
                State::Init => {
                    out.push(self.probe(&key, &mut m, now));
                    m.wait_until
                }
                State::Waiting if now > m.wait_until => {
                    if key.4 {
                        m.n_success += 1;
                        m.state = State::Online;
                    } else {
                        m.n_failures += 1;
                        m.state = State::Offline;
                    }
                    m.next_send = now + m.interval;
                    m.next_send
                }
                State::Waiting => m.wait_until,
                State::Online | State::Offline => {
                    if m.state == State::Online && m.n_success >= m.success_count {
                        m.status = Some(true);
                        m.n_success = 0;
                    }
                    if m.state == State::Offline && m.n_failures >= m.failure_count {
                        m.status = Some(false);
                        m.n_failures = 0;
                    }
                    if now >= m.next_send {
                        out.push(self.probe(&key, &mut m, now));
                        m.wait_until
                    } else {
                        m.next_send
                    }
                }
            };
            next = Some(next.map_or(at, |n| n.min(at)));
            changed |= old != m.status;
            self.map.insert(key, m);
        }
        (out, changed, next)
    }

    /// A probe for `m` (`svc_monitor_send_health_check`).
    fn probe(&mut self, key: &Key, m: &mut Monitor, now: Instant) -> PacketOut {
        let udp = key.4;
        let po = if udp {
            if m.tp_src == 0 {
                m.tp_src = self.random_port();
            }
            udp_probe(key, m)
        } else {
            m.seq = self.random();
            m.tp_src = self.random_port();
            tcp_segment(key, m, 0x02, m.seq, 0, m.tp_src)
        };
        m.wait_until = now + m.timeout;
        m.state = State::Waiting;
        po
    }

    /// A `handle_svc_check` packet-in (`pinctrl_handle_svc_check`): the
    /// monitor's state moves; a SYN+ACK is answered with a RST+ACK.
    pub fn handle(&mut self, pin: &PacketIn2, now: Instant) -> Option<PacketOut> {
        if opcode(pin)? != OP_HANDLE_SVC_CHECK {
            return None;
        }
        let md = pin.metadata().ok()?;
        let dp_key = md
            .iter()
            .find(|f| f.is(field::METADATA))
            .map(|f| f.value.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
            .unwrap_or(0) as u32;
        let port_key = super::pinctrl::reg14(&md);
        let pkt = pin.packet()?;
        let (ip, proto, l4) = l3_info(pkt)?;
        let b16 = |at: usize| -> Option<u16> {
            Some(u16::from_be_bytes(pkt.get(at..at + 2)?.try_into().ok()?))
        };
        let b32 = |at: usize| -> Option<u32> {
            Some(u32::from_be_bytes(pkt.get(at..at + 4)?.try_into().ok()?))
        };
        let base = (i64::from(dp_key), i64::from(port_key), ip);
        match proto {
            6 => {
                let key = (base.0, base.1, base.2, b16(l4)?, false);
                let (seq, ack, flags) = (b32(l4 + 4)?, b32(l4 + 8)?, *pkt.get(l4 + 13)?);
                let dst = b16(l4 + 2)?;
                let mut m = self.map.remove(&key)?;
                let mut reply = None;
                if dst == m.tp_src && ack == m.seq.wrapping_add(1) {
                    if flags & 0x12 == 0x12 {
                        m.n_success += 1;
                        m.state = State::Online;
                        reply = Some(tcp_segment(
                            &key,
                            &m,
                            0x14,
                            ack.wrapping_add(1),
                            seq.wrapping_add(1),
                            dst,
                        ));
                        m.next_send = now + m.interval;
                    } else if flags & 0x04 != 0 {
                        m.n_failures += 1;
                        m.state = State::Offline;
                        m.next_send = now + m.interval;
                    }
                }
                self.map.insert(key, m);
                reply
            }
            1 | 58 => {
                let (ty, code) = (*pkt.get(l4)?, *pkt.get(l4 + 1)?);
                let inner = l4 + 8;
                let orig_udp = if proto == 1 {
                    if (ty, code) != (3, 3) || b16(inner + 2)? != 20 + 8 + 8 {
                        return None;
                    }
                    inner + 20
                } else {
                    if (ty, code) != (1, 4) {
                        return None;
                    }
                    inner + 40
                };
                let key = (base.0, base.1, base.2, b16(orig_udp + 2)?, true);
                let m = self.map.get_mut(&key)?;
                if b16(orig_udp)? == m.tp_src {
                    m.n_failures += 1;
                    m.state = State::Offline;
                    m.next_send = now + m.interval;
                }
                None
            }
            _ => None,
        }
    }
}

/// Source IP, protocol and L4 offset of an untagged IPv4/IPv6 packet.
fn l3_info(pkt: &[u8]) -> Option<(IpAddr, u8, usize)> {
    match u16::from_be_bytes(pkt.get(12..14)?.try_into().ok()?) {
        0x0800 => {
            let ip = pkt.get(14..34)?;
            let src: [u8; 4] = ip[12..16].try_into().ok()?;
            Some((IpAddr::from(src), ip[9], 14 + usize::from(ip[0] & 0xf) * 4))
        }
        0x86dd => {
            let ip = pkt.get(14..54)?;
            let src: [u8; 16] = ip[8..24].try_into().ok()?;
            Some((IpAddr::from(src), ip[6], 54))
        }
        _ => None,
    }
}

fn addrs(src: IpAddr, dst: IpAddr) -> Option<Addrs> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(Addrs::V4(s.octets(), d.octets())),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(Addrs::V6(s.octets(), d.octets())),
        _ => None,
    }
}

/// The packet-out of a probe: datapath, output port, bit 16 of the
/// logical flags, then the local output table.
fn probe_out(key: &Key, data: Vec<u8>) -> PacketOut {
    let bit = 1u32 << 16;
    let flags = OxmField::masked(field::reg(10), &bit.to_be_bytes(), &bit.to_be_bytes())
        .unwrap_or_else(|| OxmField::exact(field::reg(10), &bit.to_be_bytes()));
    PacketOut {
        buffer_id: NO_BUFFER,
        of_match: Match {
            fields: vec![OxmField::exact(
                field::IN_PORT,
                &OFPP_CONTROLLER.to_be_bytes(),
            )],
        },
        actions: vec![
            Action::SetField(OxmField::exact(
                field::METADATA,
                &(key.0 as u64).to_be_bytes(),
            )),
            Action::SetField(OxmField::exact(
                field::reg(15),
                &(key.1 as u32).to_be_bytes(),
            )),
            Action::SetField(flags),
            Action::Resubmit {
                in_port: OFPP_CONTROLLER as u16,
                table: OFTABLE_LOCAL_OUTPUT,
            },
        ],
        data,
    }
}

/// A TCP segment of the health check (`svc_monitor_send_tcp_health_check__`).
fn tcp_segment(key: &Key, m: &Monitor, flags: u8, seq: u32, ack: u32, sport: u16) -> PacketOut {
    let mut l4 = Vec::with_capacity(20);
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&key.3.to_be_bytes());
    l4.extend_from_slice(&seq.to_be_bytes());
    l4.extend_from_slice(&ack.to_be_bytes());
    l4.extend_from_slice(&[0x50, flags]);
    l4.extend_from_slice(&65160u16.to_be_bytes());
    l4.extend_from_slice(&[0; 4]);
    let a = addrs(m.src_ip, key.2).unwrap_or(Addrs::V4([0; 4], [0; 4]));
    probe_out(key, compose(m.src_mac, m.dst_mac, a, 6, 63, l4, Some(16)))
}

/// The UDP probe (`svc_monitor_send_udp_health_check`).
fn udp_probe(key: &Key, m: &Monitor) -> PacketOut {
    let mut l4 = Vec::with_capacity(16);
    l4.extend_from_slice(&m.tp_src.to_be_bytes());
    l4.extend_from_slice(&key.3.to_be_bytes());
    l4.extend_from_slice(&16u16.to_be_bytes());
    l4.extend_from_slice(&[0; 10]);
    let a = addrs(m.src_ip, key.2).unwrap_or(Addrs::V4([0; 4], [0; 4]));
    let v6 = matches!(a, Addrs::V6(..));
    let mut data = compose(m.src_mac, m.dst_mac, a, 17, 63, l4, v6.then_some(6));
    if v6 && data[14 + 40 + 6..14 + 40 + 8] == [0, 0] {
        data[14 + 40 + 6..14 + 40 + 8].copy_from_slice(&[0xff, 0xff]);
    }
    probe_out(key, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::wire::buf::Property;
    use crate::openflow::wire::packet::pin_prop;

    fn monitor(udp: bool) -> (Monitors, Key) {
        let mut ms = Monitors::new();
        let key: Key = (1, 2, "10.0.0.3".parse().unwrap(), 80, udp);
        let now = Instant::now();
        ms.map.insert(
            key,
            Monitor::new(
                Uuid::from_u128(1),
                [0, 0, 0, 0, 0xee, 1],
                "10.0.0.254".parse().unwrap(),
                [0x50, 0x54, 0, 0, 0, 3],
                now,
            ),
        );
        (ms, key)
    }

    fn reply(l4: Vec<u8>, proto: u8) -> PacketIn2 {
        let mut f = vec![0, 0, 0, 0, 0xee, 1, 0x50, 0x54, 0, 0, 0, 3, 8, 0, 0x45, 0];
        f.extend(((20 + l4.len()) as u16).to_be_bytes());
        f.extend([0, 0, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 3, 10, 0, 0, 254]);
        f.extend(l4);
        let md = [
            OxmField::exact(field::METADATA, &1u64.to_be_bytes()),
            OxmField::exact(field::reg(14), &2u32.to_be_bytes()),
        ];
        let mut mdb = Vec::new();
        for x in &md {
            x.emit(&mut mdb).unwrap();
        }
        let mut ud = OP_HANDLE_SVC_CHECK.to_be_bytes().to_vec();
        ud.extend([0; 4]);
        PacketIn2 {
            properties: vec![
                Property::new(pin_prop::PACKET, f),
                Property::new(pin_prop::USERDATA, ud),
                Property::new(pin_prop::METADATA, mdb),
            ],
        }
    }

    #[test]
    fn tcp_check_goes_online_then_offline() {
        let (mut ms, key) = monitor(false);
        let t = Instant::now();
        let (out, changed, next) = ms.run(t);
        assert_eq!(out.len(), 1);
        assert!(!changed);
        assert_eq!(next, Some(t + Duration::from_secs(3)));
        let syn = &out[0].data;
        assert_eq!(syn.len(), 54);
        assert_eq!(&syn[0..12], &[0x50, 0x54, 0, 0, 0, 3, 0, 0, 0, 0, 0xee, 1]);
        assert_eq!(&syn[36..38], &[0, 80]);
        assert_eq!(syn[47], 0x02);
        assert_eq!(&syn[48..50], &65160u16.to_be_bytes());
        let m = &ms.map[&key];
        let (seq, sport) = (m.seq, m.tp_src);
        assert!(sport >= 1024);
        // SYN+ACK: online, answered with RST+ACK.
        let mut l4 = vec![0, 80];
        l4.extend(sport.to_be_bytes());
        l4.extend(77u32.to_be_bytes());
        l4.extend(seq.wrapping_add(1).to_be_bytes());
        l4.extend([0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0]);
        let rst = ms.handle(&reply(l4, 6), t).unwrap();
        assert_eq!(rst.data[47], 0x14);
        assert_eq!(&rst.data[38..42], &seq.wrapping_add(2).to_be_bytes());
        assert_eq!(&rst.data[42..46], &78u32.to_be_bytes());
        let (_, changed, _) = ms.run(t);
        assert!(changed);
        let row = ServiceMonitor {
            uuid: Uuid::from_u128(1),
            ..Default::default()
        };
        let ops = ms.status_ops(std::slice::from_ref(&row));
        assert_eq!(ops[0]["row"]["status"], "online");
        // Next probe after the interval; a RST now: offline.
        let (out, _, _) = ms.run(t + Duration::from_secs(6));
        assert_eq!(out.len(), 1);
        let m = &ms.map[&key];
        let (seq, sport) = (m.seq, m.tp_src);
        let mut l4 = vec![0, 80];
        l4.extend(sport.to_be_bytes());
        l4.extend(0u32.to_be_bytes());
        l4.extend(seq.wrapping_add(1).to_be_bytes());
        l4.extend([0x50, 0x14, 0, 0, 0, 0, 0, 0]);
        assert!(ms.handle(&reply(l4, 6), t).is_none());
        let (_, changed, _) = ms.run(t + Duration::from_secs(6));
        assert!(changed);
        assert_eq!(ms.status_ops(&[row])[0]["row"]["status"], "offline");
    }

    #[test]
    fn udp_check_silence_is_success() {
        let (mut ms, key) = monitor(true);
        let t = Instant::now();
        let (out, _, _) = ms.run(t);
        let p = &out[0].data;
        assert_eq!(p.len(), 14 + 20 + 16);
        assert_eq!(&p[40..42], &[0, 0], "no IPv4 UDP checksum");
        let (_, _, next) = ms.run(t + Duration::from_secs(4));
        assert_eq!(ms.map[&key].state, State::Online);
        assert!(next.is_some());
        let (_, changed, _) = ms.run(t + Duration::from_secs(4));
        assert!(changed);
        assert_eq!(ms.map[&key].status, Some(true));
        // A port unreachable quoting the probe: offline.
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend(&p[14..]);
        assert!(ms.handle(&reply(icmp, 1), t).is_none());
        assert_eq!(ms.map[&key].state, State::Offline);
    }

    #[test]
    fn macs_of_backends() {
        let macs = vec!["50:54:00:00:00:03 10.0.0.3 fd00::3".to_string()];
        assert_eq!(
            backend_mac(&macs, "10.0.0.3".parse().unwrap()),
            Some([0x50, 0x54, 0, 0, 0, 3])
        );
        assert_eq!(backend_mac(&macs, "10.0.0.4".parse().unwrap()), None);
        assert!(backend_mac(&["50:54:00:00:00:03".into()], "10.0.0.4".parse().unwrap()).is_some());
    }
}
