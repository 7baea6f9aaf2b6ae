//! Rendering of `rules::lb::health`: each load balancer's health checks,
//! the backends they monitor (mapped to enabled switch ports), the SB
//! `Service_Monitor` rows (`build_lb_svcs()`) and the ARP/ND responders for
//! the monitors' source addresses. Every NB load balancer counts, also one
//! on no switch, as in northd.

use std::sync::Arc;

use ovsdb::Uuid;

use super::NbIn;
use crate::dataflow::{Coll, Named, NamedSet, Ops, Shared};
use crate::nb::{LbHealthCheck, LoadBalancer, Lsp, NbKind, NbRecord};
use crate::rules::lb::health::{self, MappedBackend};
use crate::rules::lb::vip::ParsedLb;
use crate::rules::Lflow;
use crate::sb::SbRecord;

/// A load balancer's health checks (in `health_check` order) and its
/// monitored backends `(vip, backend)`, sorted. Key: load balancer UUID.
pub(super) type HealthInfo = (Vec<LbHealthCheck>, Vec<(usize, usize)>);

/// What health checks contribute to the rest of the dataflow.
pub(super) struct HealthOutputs<'s> {
    /// Per load balancer with health checks.
    pub info: Coll<'s, (Uuid, HealthInfo)>,
    /// ARP/ND responder flows.
    pub flows: Coll<'s, Lflow>,
    /// SB `Service_Monitor` rows.
    pub rows: Coll<'s, SbRecord>,
}

/// `ports_by_name` are the switch ports with their switch `(ls, lsp)` by
/// name; `svc_mac`
/// is `NB_Global:options:svc_monitor_mac` (nothing is monitored without
/// it: northd would pick a random one).
pub(super) fn render_health<'s>(
    nb: NbIn<'s>,
    ports_by_name: &Shared<'s, String, (Uuid, Arc<Lsp>)>,
    svc_mac: Coll<'s, String>,
) -> HealthOutputs<'s> {
    let lbs: Coll<'s, (Uuid, LoadBalancer)> =
        nb.of(NbKind::LoadBalancer).flat_map_rec(|r| match r {
            NbRecord::LoadBalancer(lb) if !lb.health_check.is_empty() => Some((lb.uuid, lb)),
            _ => None,
        });
    let hc_rows: Coll<'s, (Uuid, LbHealthCheck)> =
        nb.of(NbKind::LbHealthCheck).flat_map_rec(|r| match r {
            NbRecord::LbHealthCheck(h) => Some((h.uuid, h)),
            _ => None,
        });
    let lb_hcs: Coll<'s, (Uuid, Vec<LbHealthCheck>)> = lbs
        .clone()
        .flat_map_rec(|(lb, row)| {
            row.health_check
                .into_iter()
                .enumerate()
                .map(move |(i, h)| (h, (lb, i)))
        })
        .join_map_named("lb health: references x checks", hc_rows, move |_, a, b| {
            let ((lb, i), h) = (a.clone(), b.clone());
            (lb, (i, h))
        })
        .group_named("lb health: checks per lb", |_, vals, out| {
            let mut v: Vec<(usize, LbHealthCheck)> =
                vals.iter().map(|(x, _)| (*x).clone()).collect();
            v.sort();
            out.push((v.into_iter().map(|(_, h)| h).collect::<Vec<_>>(), 1));
        });
    let mapped: Coll<'s, (String, MappedBackend)> = lbs
        .join_named("lb health: lbs x checks", lb_hcs.clone())
        .flat_map_rec(|(_, (row, hcs))| {
            let mut p = ParsedLb::new(&row);
            health::attach_health_checks(&mut p, row.protocol.as_deref(), &hcs);
            health::mapped_backends(&p, &row)
                .into_iter()
                .map(|m| (m.logical_port.clone(), m))
        });
    // (mapped backend, (switch, port enabled)) for mappings to switch ports.
    let found = mapped
        .join_map_shared(
            "lb health: mappings x ports",
            ports_by_name,
            move |_, m, (ls, p)| ((), (m.clone(), *ls, p.is_enabled())),
        )
        .join_map_named(
            "lb health: x svc_monitor_mac",
            svc_mac.map_rec(|m| ((), m)),
            move |k, a, b| {
                let ((), (m, ls, enabled), mac) = (k.clone(), a.clone(), b.clone());
                (m, ls, enabled, mac)
            },
        );
    let flows = found
        .clone()
        .map_rec(|(m, ls, _, mac)| health::arp_nd_responder(ls, &m, &mac));
    let monitored = found
        .filter_rec(|(_, _, enabled, _)| *enabled)
        .map_rec(|(m, _, _, mac)| (m, mac));
    let monitored = with_status(nb, monitored);
    let rows = monitored
        .clone()
        .map_rec(|((m, mac), (status, reported))| {
            let mut row = health::service_monitor(&m, &mac);
            row.status = status;
            row.reported = reported;
            (row.uuid, row)
        })
        .group_named("lb health: one monitor per backend", |_, vals, out| {
            if let Some((row, _)) = vals.first() {
                out.push(((*row).clone(), 1));
            }
        })
        .map_rec(|(_, row)| SbRecord::ServiceMonitor(Box::new(row)));
    // `build_lb_vip_actions()`: a backend whose monitor reports anything
    // but `online` is not balanced to.
    let marks = monitored
        .filter_rec(|(_, (status, _))| health::alive(status.as_deref()))
        .map_rec(|((m, _), _)| (m.lb, (m.vip, m.backend)))
        .group_named("lb health: monitored backends", |_, vals, out| {
            let v: Vec<(usize, usize)> = vals.iter().map(|(x, _)| **x).collect();
            out.push((v, 1));
        });
    let info = lb_hcs.outer_join_map_named(
        "lb health: checks x monitored",
        marks,
        move |k, a, b| {
            let (lb, hcs, m) = (k.clone(), a.clone(), b.clone());
            (lb, (hcs, m))
        },
        |lb, hcs| (lb.clone(), (hcs.clone(), Vec::new())),
    );
    HealthOutputs { info, flows, rows }
}

/// Each monitored backend with its monitor's effective status
/// (`ovn_lb_svc_create()`): ovn-controller's (SB input), except that
/// `online` becomes `offline` while the backend's port is not up; and the
/// status the SB reports.
/// A monitored backend and `svc_monitor_mac`.
type Monitored = (MappedBackend, String);
/// A monitor's (effective, SB-reported) status.
type MonitorStatus = (Option<String>, Option<String>);

fn with_status<'s>(
    nb: NbIn<'s>,
    monitored: Coll<'s, (MappedBackend, String)>,
) -> Coll<'s, (Monitored, MonitorStatus)> {
    type Key = (String, u16, String, String);
    let statuses: Coll<'s, (Key, String)> = nb.of(NbKind::SbMonitor).flat_map_rec(|r| match r {
        NbRecord::SbMonitor(m) => Some(((m.ip, m.port, m.protocol, m.logical_port), m.status)),
        _ => None,
    });
    let up: Coll<'s, String> = nb
        .of(NbKind::SbPort)
        .flat_map_rec(|r| match r {
            NbRecord::SbPort(p) if p.up => Some(p.name),
            _ => None,
        })
        .distinct_named("lb health: ports up");
    let keyed = monitored.map_rec(|(m, mac)| {
        let key: Key = (
            m.ip.clone(),
            m.port,
            m.protocol.clone(),
            m.logical_port.clone(),
        );
        (key, (m, mac))
    });
    let reported = keyed.clone().join_map_named(
        "lb health: monitors x SB status",
        statuses.clone(),
        move |_, a, b| {
            let (x, st) = (a.clone(), b.clone());
            (x, Some(st))
        },
    );
    let unreported = keyed
        .antijoin_named(
            "lb health: monitors without SB status",
            statuses
                .map_rec(|(k, _)| k)
                .distinct_named("lb health: monitors with SB status"),
        )
        .map_rec(|(_, x)| (x, None));
    let by_port = reported
        .concat(unreported)
        .map_rec(|(x, st)| (x.0.logical_port.clone(), (x, st)));
    by_port.outer_join_map_named(
        "lb health: monitors x ports up",
        up.map_rec(|p| (p, ())),
        |_, (x, st), _| (x.clone(), (st.clone(), st.clone())),
        |_, (x, st)| {
            let effective = match st.as_deref() {
                Some("online") => Some("offline".to_string()),
                _ => st.clone(),
            };
            (x.clone(), (effective, st.clone()))
        },
    )
}
