//! Packet-ins of the pinctrl connection: each opcode to its
//! [`crate::controller`] `pinctrl_*` module, answers sent back on the same
//! connection (packet-outs, `NXT_RESUME`s), and the buffered packets
//! released when their next hop's `MAC_Binding` appears.

use std::time::Instant;

use ovsdb::client::ReplicaSession;
use ovsdb::db::RowChange;
use ovsdb::sb::{ControllerEvent, Dns, Fdb, MacBinding};
use ovsdb::typed::TypedRow;

use super::{transact, typed, wall_ms, Daemon};
use crate::controller::status::Status;
use crate::controller::{
    pinctrl, pinctrl_arp, pinctrl_dhcp, pinctrl_dhcp6, pinctrl_dns, pinctrl_icmp, pinctrl_nd,
    pinctrl_sb, pinctrl_svc,
};
use crate::openflow::conn::Connection;
use crate::openflow::wire::{Body, Nicira, PacketIn2, PacketOut};
use crate::sbdb::Southbound;

impl Daemon {
    pub(super) async fn packet_in(&mut self, sb: &ReplicaSession, body: Body) {
        let Body::Nicira(Nicira::PacketIn2(p)) = body else {
            return;
        };
        if let Ok(mut s) = self.status.lock() {
            s.stats.packet_ins += 1;
        }
        let op = pinctrl::opcode(&p);
        if op == Some(pinctrl_dhcp::OP_PUT_DHCP_OPTS) {
            let Some((r, outcome)) = pinctrl_dhcp::handle(&p) else {
                tracing::warn!("put_dhcp_opts: unusable packet-in");
                return;
            };
            match &outcome {
                pinctrl_dhcp::Outcome::Reply { msg_type, offer } => {
                    let kind = match msg_type {
                        2 => "OFFER",
                        5 => "ACK",
                        _ => "NAK",
                    };
                    tracing::info!("DHCP{kind} {offer}");
                }
                pinctrl_dhcp::Outcome::NoReply(why) => tracing::info!("DHCP: {why}"),
            }
            self.resume(r, "put_dhcp_opts").await;
            return;
        }
        if op == Some(pinctrl_dhcp6::OP_PUT_DHCPV6_OPTS) {
            let Some((r, outcome)) = pinctrl_dhcp6::handle(&p) else {
                tracing::warn!("put_dhcpv6_opts: unusable packet-in");
                return;
            };
            match &outcome {
                Ok(()) => tracing::info!("DHCPv6 reply sent"),
                Err(why) => tracing::info!("DHCPv6: {why}"),
            }
            self.resume(r, "put_dhcpv6_opts").await;
            return;
        }
        if op == Some(pinctrl_nd::OP_PUT_ND_RA_OPTS) {
            let Some((r, outcome)) = pinctrl_nd::handle_put_nd_ra(&p) else {
                tracing::warn!("put_nd_ra_opts: unusable packet-in");
                return;
            };
            if let Err(why) = &outcome {
                tracing::info!("put_nd_ra_opts: {why}");
            }
            self.resume(r, "put_nd_ra_opts").await;
            return;
        }
        if let Some(
            o @ (pinctrl_nd::OP_ND_NS | pinctrl_nd::OP_ND_NA | pinctrl_nd::OP_ND_NA_ROUTER),
        ) = op
        {
            if o == pinctrl_nd::OP_ND_NS && !self.buffered.push(&p, false, Instant::now()) {
                tracing::debug!("nd_ns: packet not buffered");
            }
            match (pinctrl_nd::nd_packet_out(&p, o), self.pin.as_mut()) {
                (Some(po), Some(conn)) => {
                    if let Err(e) = conn.packet_out(po).await {
                        tracing::warn!("nd: packet-out: {e}");
                    }
                }
                (None, _) => tracing::warn!("nd (opcode {o}): not an IPv6 ND packet"),
                _ => {}
            }
            return;
        }
        if op == Some(pinctrl_dns::OP_DNS_LOOKUP) {
            let rows = typed::<Dns>(sb.replica().database());
            let cache = match &self.compute {
                Some(c) => pinctrl_dns::cache(&rows, c.southbound()),
                None => Vec::new(),
            };
            let Some((r, outcome)) = pinctrl_dns::handle(&p, &cache) else {
                tracing::warn!("dns_lookup: unusable packet-in");
                return;
            };
            if let Err(why) = &outcome {
                tracing::debug!("dns_lookup: {why}");
            }
            self.resume(r, "dns_lookup").await;
            return;
        }
        if op == Some(pinctrl_arp::OP_ARP) {
            if !self.buffered.push(&p, true, Instant::now()) {
                tracing::debug!("arp: packet not buffered");
            }
            if let (Some(po), Some(conn)) = (pinctrl_arp::arp_packet_out(&p), self.pin.as_mut()) {
                match conn.packet_out(po).await {
                    Ok(()) => {
                        if let Ok(mut s) = self.status.lock() {
                            s.stats.arp_requests += 1;
                        }
                    }
                    Err(e) => tracing::warn!("arp: packet-out: {e}"),
                }
            }
            return;
        }
        if op.is_some_and(pinctrl_icmp::handles) {
            match pinctrl_icmp::packet_out(&p) {
                Some(po) => self.send_packets(vec![po], "icmp/reset").await,
                None => tracing::debug!("opcode {op:?}: nothing to send"),
            }
            return;
        }
        if op == Some(pinctrl_svc::OP_HANDLE_SVC_CHECK) {
            let reply = self.svc.handle(&p, Instant::now());
            self.send_packets(reply.into_iter().collect(), "service monitor")
                .await;
            self.svc_tick(sb).await;
            return;
        }
        if let Some(
            o @ (pinctrl_sb::OP_PUT_FDB | pinctrl_sb::OP_BIND_VPORT | pinctrl_sb::OP_EVENT),
        ) = op
        {
            self.sb_packet_in(sb, &p, o).await;
            return;
        }
        let Some(u) = pinctrl::parse_put_mac_binding(&p) else {
            tracing::debug!(
                "packet-in with opcode {:?} not handled",
                pinctrl::opcode(&p)
            );
            return;
        };
        tracing::info!("put_mac_binding: {u:?}");
        let fresh;
        let view = match &self.compute {
            Some(c) => c.southbound(),
            None => match Southbound::from_database(sb.replica().database()) {
                Ok(v) => {
                    fresh = v;
                    &fresh
                }
                Err(_) => return,
            },
        };
        let op = pinctrl::mac_binding_op(view, &u, wall_ms());
        if op.is_none() {
            tracing::debug!("put_mac_binding: nothing to write for {u:?}");
        }
        if let Some(op) = op {
            if transact(sb, "OVN_Southbound", vec![op]).await {
                if let Ok(mut s) = self.status.lock() {
                    s.stats.mac_bindings += 1;
                }
            }
        }
    }

    /// `put_fdb`, `bind_vport` and `trigger_event`: a Southbound write.
    async fn sb_packet_in(&mut self, sb: &ReplicaSession, p: &PacketIn2, op: u32) {
        let db = sb.replica().database();
        let write = match op {
            pinctrl_sb::OP_PUT_FDB => {
                let Some(u) = pinctrl_sb::parse_put_fdb(p) else {
                    tracing::warn!("put_fdb: unusable packet-in");
                    return;
                };
                tracing::debug!("put_fdb: {u:?}");
                pinctrl_sb::fdb_op(&typed::<Fdb>(db), &u)
            }
            _ => {
                let fresh;
                let view = match &self.compute {
                    Some(c) => c.southbound(),
                    None => match Southbound::from_database(db) {
                        Ok(v) => {
                            fresh = v;
                            &fresh
                        }
                        Err(_) => return,
                    },
                };
                let Some(me) = view.chassis_by_name(&self.system_id).map(|c| c.uuid) else {
                    tracing::debug!("opcode {op}: our Chassis row is not there yet");
                    return;
                };
                if op == pinctrl_sb::OP_BIND_VPORT {
                    let Some(b) = pinctrl_sb::parse_bind_vport(p) else {
                        tracing::warn!("bind_vport: unusable packet-in");
                        return;
                    };
                    let w = pinctrl_sb::bind_vport_op(view, me, &b);
                    if w.is_some() {
                        tracing::info!("bind_vport: claiming {b:?}");
                    }
                    w
                } else {
                    let Some(e) = pinctrl_sb::parse_event(p) else {
                        tracing::warn!("trigger_event: unusable packet-in");
                        return;
                    };
                    let w = pinctrl_sb::event_op(
                        &typed::<ControllerEvent>(db),
                        me,
                        &e,
                        self.event_seq + 1,
                    );
                    if w.is_some() {
                        self.event_seq += 1;
                        tracing::info!("controller event: {e:?}");
                    }
                    w
                }
            }
        };
        if let Some(w) = write {
            if transact(sb, "OVN_Southbound", vec![w]).await {
                if let Ok(mut s) = self.status.lock() {
                    s.stats.sb_writes += 1;
                }
            }
        }
    }

    /// Continues a paused packet.
    async fn resume(&mut self, r: PacketIn2, what: &str) {
        let Some(conn) = self.pin.as_mut() else {
            return;
        };
        match conn.send(Body::Nicira(Nicira::Resume(r))).await {
            Ok(_) => {
                if let Ok(mut s) = self.status.lock() {
                    s.stats.resumes += 1;
                }
            }
            Err(e) => tracing::warn!("{what}: resume: {e}"),
        }
    }
}

/// Sends buffered packets out on the pinctrl connection.
pub(super) async fn send_buffered(
    pin: &mut Option<Connection>,
    status: &Status,
    outs: Vec<PacketOut>,
) {
    let Some(conn) = pin.as_mut() else {
        return;
    };
    for po in outs {
        match conn.packet_out(po).await {
            Ok(()) => {
                if let Ok(mut s) = status.lock() {
                    s.stats.buffered_sent += 1;
                }
            }
            Err(e) => tracing::warn!("buffered packet: packet-out: {e}"),
        }
    }
}

/// The `MAC_Binding` rows (port, ip, mac) inserted or modified in
/// `changes`.
pub(super) fn new_mac_bindings(changes: &[RowChange]) -> Vec<(String, String, String)> {
    changes
        .iter()
        .filter_map(|c| match c {
            RowChange::Insert { table, uuid, new }
            | RowChange::Modify {
                table, uuid, new, ..
            } if table.as_str() == "MAC_Binding" => MacBinding::from_row(*uuid, new).ok(),
            _ => None,
        })
        .map(|m| (m.logical_port, m.ip, m.mac))
        .collect()
}
