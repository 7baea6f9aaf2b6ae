//! How the rules run: maps the relations of `crate::rules` onto differential
//! dataflow. One function per rules module, mirrored names; [`render`] is the
//! single place that wires them together.
// `join_map_named` closures take their key and values by reference and
// clone what they keep, the same way whether the type is `Copy` or not.
#![allow(clippy::clone_on_copy)]

mod acl;
mod bfd;
mod copp;
mod datapath;
mod dp_group;
mod external_port;
mod fwd_group;
mod ha;
mod igmp;
mod lb;
mod lb_health;
mod lflow;
mod meter;
mod multicast;
mod port_binding;
mod qos;
mod router;
mod router_nat;

use std::sync::Arc;

use ovsdb::Uuid;

use super::{arrange_shared, split_by, Coll, Named, Ops, Scope, Shared};
use crate::idl_order;
use crate::nb::{Lsp, NbKind, NbRecord, Switch};
use crate::rules::acl::AclCtx;
use crate::rules::{PortCtx, SwitchCtx, SwitchFacts};
use crate::sb::SbRecord;

/// A tunnel-key space: all datapaths, or the ports of one datapath.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum KeySpace {
    /// Datapath keys.
    Datapaths,
    /// Port keys of the switch with this NB UUID.
    Ports(Uuid),
    /// UDP source ports of BFD sessions (owner: the NB `BFD` row).
    Bfd,
    /// Learned multicast groups of the switch or router with this NB UUID
    /// (owner: the group's `Multicast_Group` UUID).
    McastGroups(Uuid),
}

/// A tunnel key currently held in the SB (fed back by the driver after each
/// epoch, the way northd reads SB before allocating). Key: `(space, owner)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct HeldKey {
    /// Key space.
    pub space: KeySpace,
    /// NB UUID of the owner (switch or port).
    pub owner: Uuid,
    /// The key.
    pub key: u32,
}

/// One output record of the dataflow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
// SB rows dominate the stream; boxing them would add an allocation per
// record for the rare `Key` variant's sake.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Output {
    /// An SB row.
    Sb(SbRecord),
    /// A tunnel key assignment (fed back as [`HeldKey`] input).
    Key(HeldKey),
    /// A key space whose assignments would change if fed back now: the
    /// driver must run a feedback round before the SB is complete.
    Unstable(KeySpace),
}

/// The NB input split by record kind ([`NbKind`]): an operator reading one
/// NB table receives that table's records only, instead of a copy of every
/// NB record.
#[derive(Clone)]
pub(super) struct NbIn<'s> {
    kinds: [Coll<'s, NbRecord>; NbKind::COUNT],
}

impl<'s> NbIn<'s> {
    fn split(nb: Coll<'s, NbRecord>) -> NbIn<'s> {
        NbIn {
            kinds: split_by(nb, |r: &NbRecord| r.kind() as usize),
        }
    }

    /// The records of kind `kind`.
    pub(super) fn of(&self, kind: NbKind) -> Coll<'s, NbRecord> {
        self.kinds[kind as usize].clone()
    }
}

/// Builds the NB → SB dataflow: `nb` are the NB input records, `held` the
/// keys present in the SB; the result is the SB content and the key
/// assignments.
pub(crate) fn render<'s>(
    scope: Scope<'s>,
    nb: Coll<'s, NbRecord>,
    held: Coll<'s, HeldKey>,
) -> Coll<'s, Output> {
    let nb = NbIn::split(nb);
    // Input relations.
    let switches: Coll<'s, (Uuid, Switch)> = nb.of(NbKind::Switch).flat_map_rec(|r| match r {
        NbRecord::Switch(s) => Some((s.uuid, s)),
        _ => None,
    });
    let members: Coll<'s, (Uuid, Uuid)> = nb.of(NbKind::SwitchPort).flat_map_rec(|r| match r {
        NbRecord::SwitchPort(m) => Some((m.lsp, m.ls)),
        _ => None,
    });
    let nb_global_rows: Coll<'s, SbRecord> = nb.of(NbKind::NbGlobal).flat_map_rec(|r| match r {
        NbRecord::NbGlobal(g) => Some(crate::rules::global::sb_global(&g)),
        _ => None,
    });
    // Constant rows, introduced once (by worker 0).
    let constants = if scope.index() == 0 {
        crate::rules::global::static_rows()
    } else {
        Vec::new()
    };
    let static_rows = super::collection_from(scope, constants);
    // Ports are shared (`Arc`) by every record that carries them, so the
    // arrangements holding them hold pointers rather than copies.
    let lsps: Coll<'s, (Uuid, Arc<Lsp>)> = nb.of(NbKind::Lsp).flat_map_rec(|r| match r {
        NbRecord::Lsp(p) => Some((p.uuid, Arc::new(p))),
        _ => None,
    });

    // Ports with their switch: one per membership, keyed by switch UUID;
    // `hmap_order` is the port's bucket in northd's ports hmap for the
    // current number of ports.
    let ports0: Coll<'s, (Uuid, Arc<Lsp>)> =
        members
            .clone()
            .join_map_named("ports: membership x lsp", lsps.clone(), move |_, a, b| {
                let (ls, lsp) = (a.clone(), b.clone());
                (ls, lsp)
            });
    // Router ports count in northd's ports hmap too.
    let (routers, router_ports) = router::render_router_ports(nb.clone());
    let mask: Coll<'s, ((), u32)> = ports0
        .clone()
        .map_rec(|_| ((), ()))
        .concat(router_ports.clone().map_rec(|_| ((), ())))
        .group_named("ports hmap size", |_, vals, out| {
            let n: isize = vals.iter().map(|(_, c)| *c).sum();
            out.push((idl_order::final_mask(n.max(0) as usize) as u32, 1));
        });

    let dhcp_rows: Coll<'s, (Uuid, crate::nb::DhcpOptions)> =
        nb.of(NbKind::DhcpOptions).flat_map_rec(|r| match r {
            NbRecord::DhcpOptions(d) => Some((d.uuid, d)),
            _ => None,
        });
    // DNS rows referenced by switches: (dns, (ls, row)).
    let dns_ls: Coll<'s, (Uuid, (Uuid, crate::nb::Dns))> = nb
        .of(NbKind::SwitchDns)
        .flat_map_rec(|r| match r {
            NbRecord::SwitchDns(d) => Some((d.dns, d.ls)),
            _ => None,
        })
        .join_named(
            "dns: switch x records",
            nb.of(NbKind::Dns).flat_map_rec(|r| match r {
                NbRecord::Dns(d) => Some((d.uuid, d)),
                _ => None,
            }),
        );
    let qos_flows = qos::render_qos(nb.clone());
    // Virtual ports ovn-controller claimed: (virtual port, parent), SB input.
    let vport_claims: Coll<'s, (String, String)> =
        nb.of(NbKind::SbPort).flat_map_rec(|r| match r {
            NbRecord::SbPort(p) if p.chassis => p.virtual_parent.map(|v| (p.name, v)),
            _ => None,
        });
    let template_var_rows = lb::render_template_vars(nb.clone());
    let copps = copp::render_copp(nb.clone());
    let fwd_group_flows = fwd_group::render_fwd_groups(nb.clone());
    let nb_for_routers = nb.clone();
    let nb_for_ha = nb.clone();
    let nb_for_igmp = nb.clone();
    let router_lbs = router_nat::render_router_lbs(nb.clone());
    let router_nats = router_nat::render_router_nats(nb.clone());
    let ports0_for_routers = ports0.clone();
    let ports0_for_vparents = ports0.clone();
    let lsp_ha_groups = external_port::lsp_ha_groups(nb.clone(), ports0.clone());
    let members_for_relay = members.clone();
    let mut acl_inputs = acl::render_acl_inputs(nb.clone(), members, lsps);
    let meters = meter::render_meters(nb.clone());
    acl_inputs.acl_ls = meter::fair_acl_meters(acl_inputs.acl_ls, meters.fair);
    let (dp_keys, datapath_rows, dp_unstable) =
        datapath::render_datapaths(switches.clone(), routers.clone(), held.clone());
    // Switch ports by name, for the rare joins by name (health check
    // mappings, virtual parents): one arrangement for both.
    let ports_by_name: Shared<'s, String, (Uuid, Arc<Lsp>)> = arrange_shared(
        ports0
            .clone()
            .map_rec(|(ls, lsp)| (lsp.name.clone(), (ls, lsp))),
        "switch ports by name",
    );
    let health = lb_health::render_health(
        nb.clone(),
        &ports_by_name,
        acl_inputs.svc_monitor_mac.clone(),
    );
    let (bfd_sessions, bfd_exists) = bfd::effective_bfds(&nb);
    let lbs = lb::render_lbs(
        nb,
        switches.clone(),
        dp_keys.clone().map_rec(|(dp, _)| dp),
        health.info.clone(),
        copps.clone(),
    );

    let (router_lb_summaries, router_lb_groups) = router_nat::summaries(router_lbs.clone());
    let rt = router::render_routers(
        nb_for_routers,
        routers.clone(),
        router_ports,
        ports0_for_routers,
        mask.clone(),
        router::RouterExtras {
            lbs: router_lb_summaries,
            lb_groups: router_lb_groups,
            nats: router_nats,
            keys: dp_keys.clone(),
            copp: copps.clone(),
            bfds: bfd_sessions.clone(),
        },
    );
    let bfd_refs = rt
        .ctx
        .clone()
        .flat_map_rec(|r| crate::rules::router::routing::bfd_refs(&r));
    let (bfd_ports, bfd_rows) = bfd::render_bfd(bfd_sessions, held.clone(), bfd_refs, bfd_exists);
    // Switch context: facts aggregated over the switch's ports and ACLs (OR
    // of per-row flags); switches without any get the defaults.
    let facts: Coll<'s, (Uuid, SwitchFacts)> = ports0
        .clone()
        .map_rec(|(ls, p)| {
            let f = SwitchFacts {
                has_unknown: p.is_enabled() && p.addresses.iter().any(|a| a == "unknown"),
                has_vtep_lports: p.type_ == "vtep",
                mcast_flood_static: p.is_enabled() && p.option_true("mcast_flood"),
                ..SwitchFacts::default()
            };
            (ls, f)
        })
        .concatenate([
            dns_ls.clone().map_rec(|(_, (ls, d))| {
                let f = SwitchFacts {
                    has_dns_records: !d.records.is_empty(),
                    ..SwitchFacts::default()
                };
                (ls, f)
            }),
            acl_inputs.acl_ls.clone().map_rec(|(ls, a)| {
                let f = SwitchFacts {
                    has_acls: true,
                    has_stateful_acl: a.action == "allow-related",
                    ..SwitchFacts::default()
                };
                (ls, f)
            }),
            rt.lsp_peers
                .clone()
                .filter_rec(|(_, peer)| peer.mcast_relay)
                .join_map_named(
                    "switch facts: relaying router peers",
                    members_for_relay,
                    move |_, _, b| {
                        let ls = b.clone();
                        let f = SwitchFacts {
                            mcast_flood_relay: true,
                            ..SwitchFacts::default()
                        };
                        (ls, f)
                    },
                ),
            lbs.has_lb_vip.clone().map_rec(|ls| {
                let f = SwitchFacts {
                    has_lb_vip: true,
                    ..SwitchFacts::default()
                };
                (ls, f)
            }),
        ])
        .group_named("switch facts", |_, vals, out| {
            let mut f = SwitchFacts::default();
            for (v, _) in vals {
                f.has_unknown |= v.has_unknown;
                f.has_vtep_lports |= v.has_vtep_lports;
                f.has_acls |= v.has_acls;
                f.has_stateful_acl |= v.has_stateful_acl;
                f.has_lb_vip |= v.has_lb_vip;
                f.mcast_flood_static |= v.mcast_flood_static;
                f.mcast_flood_relay |= v.mcast_flood_relay;
                f.has_dns_records |= v.has_dns_records;
            }
            out.push((f, 1));
        });
    let sw_ctx: Coll<'s, SwitchCtx> = switches.clone().outer_join_map_named(
        "switch context: x facts",
        facts,
        |_, sw, f| SwitchCtx::new(sw, f.clone()),
        |_, sw| SwitchCtx::new(sw, SwitchFacts::default()),
    );
    let sw_ctx = attach_copp(sw_ctx, copps.clone());

    // The port context: the port's bucket in northd's ports hmap first
    // (on the shared port), then the switch's context; each port's context
    // is shared (`Arc`) by the arrangements downstream.
    let ports: Coll<'s, (Uuid, Arc<PortCtx>)> = ports0
        .map_rec(|(ls, lsp)| ((), (ls, lsp)))
        .join_map_named("ports: x hmap mask", mask.clone(), move |k, a, b| {
            let ((), (ls, lsp), mask) = (k.clone(), a.clone(), b.clone());
            let order = idl_order::hash_string(&lsp.name) & mask;
            (ls, (lsp, order))
        })
        .join_map_named(
            "ports: x switch context",
            sw_ctx.clone().map_rec(|s| (s.uuid, s)),
            move |k, a, b| {
                let (ls, (lsp, hmap_order), sw) = (k.clone(), a.clone(), b.clone());
                (
                    ls,
                    Arc::new(PortCtx {
                        ls,
                        vlan_passthru: sw.vlan_passthru,
                        has_stateful_acl: sw.has_stateful_acl,
                        has_lb_vip: sw.has_lb_vip,
                        lsp,
                        dhcpv4: None,
                        dhcpv6: None,
                        hmap_order,
                        router_peer: None,
                        all_router_ports: false,
                        switch_has_localnet: false,
                        switch_has_vtep: false,
                        peer_nat: None,
                        virtual_parents: Vec::new(),
                        external: None,
                        copp: sw.copp.clone(),
                        switch_interconn_mcast: sw.mcast_snoop && sw.interconn_ts,
                    }),
                )
            },
        );
    // Each port's DHCPv4 and DHCPv6 options rows (a reference to a missing
    // row counts as none), from one arrangement of the rows.
    let dhcp_rows = arrange_shared(dhcp_rows, "dhcp options rows");
    let ports = attach_dhcp(
        ports,
        &dhcp_rows,
        "dhcpv4",
        |l| l.dhcpv4_options,
        |p, d| p.dhcpv4 = Some(d),
    );
    let ports = attach_dhcp(
        ports,
        &dhcp_rows,
        "dhcpv6",
        |l| l.dhcpv6_options,
        |p, d| p.dhcpv6 = Some(d),
    );
    let ports = attach_virtual_parents(ports, ports0_for_vparents, &ports_by_name);
    let ports = router::attach_peers(ports, rt.lsp_peers);
    let ports = router_nat::attach_peer_nat(ports, rt.ctx.clone());
    let ports = external_port::attach_external(ports, lsp_ha_groups.clone());
    let acls: Coll<'s, AclCtx> = acl_inputs.acl_ls.clone().join_map_named(
        "acls: x switch context",
        sw_ctx.clone().map_rec(|s| {
            let reject_meter = crate::rules::copp::meter(&s.copp, "reject");
            (s.uuid, (s.has_stateful(), reject_meter))
        }),
        move |k, a, b| {
            let (ls, acl, (has_stateful, reject_meter)) = (k.clone(), a.clone(), b.clone());
            AclCtx {
                ls,
                has_stateful,
                reject_meter,
                acl,
            }
        },
    );

    let ip_mcast_rows = multicast::render_ip_multicast(switches.clone(), dp_keys.clone());
    let dns_rows = datapath::render_dns(dns_ls, dp_keys.clone());
    let lrp_rows = rt.ports.clone().join_named(
        "router port rows: x router",
        routers
            .clone()
            .map_rec(|(u, r)| (u, r.option("chassis").map(str::to_string))),
    );
    let cr = ha::render_cr_ports(nb_for_ha, rt.ctx.clone(), lsp_ha_groups);
    let (port_keys, port_rows, port_unstable) = port_binding::render_port_bindings(
        ports.clone(),
        lrp_rows,
        cr.ports,
        cr.groups,
        held.clone(),
    );
    let learned = igmp::render_learned(
        &nb_for_igmp,
        ports.clone(),
        sw_ctx.clone(),
        switches.clone(),
        rt.ctx
            .clone()
            .map_rec(|r| (r.dp(), (r.mcast_relay(), r.mcast_flood_static()))),
        port_keys.clone(),
        held,
    );
    let mc_rows = multicast::render_multicast_groups(
        ports.clone(),
        port_keys.clone(),
        rt.ctx.clone(),
        learned.static_members,
    );
    let dp_order = datapath::render_datapath_order(switches.clone(), routers);
    let (router_lb_flows, router_lb_unsnat) =
        router_nat::render_router_lb_flows(rt.ctx.clone(), router_lbs, health.info);
    let router_flows = router::render_router_flows(
        rt.ctx.clone(),
        ports.clone(),
        port_keys.clone(),
        vport_claims,
    );
    let lb_set_rows = router_nat::render_lb_address_sets(rt.ctx);
    let (flow_rows, placements) = lflow::render_lflows(
        sw_ctx,
        ports,
        acls,
        lflow::OtherFlows {
            flows: router_flows.other.concatenate([
                qos_flows,
                fwd_group_flows,
                health.flows,
                learned.flows,
            ]),
            keyed: router_flows.own.concat(router_lb_unsnat),
        },
        lflow::GroupedFlows {
            flows: lbs.metered.concat(router_lb_flows),
            named: lbs.flows,
            sets: lbs.sets,
        },
        dp_keys.clone(),
        dp_order,
    );
    let group_rows = acl::render_groups_and_sets(acl_inputs, dp_keys.clone());
    let lb_rows = lbs.rows.join_map_shared(
        "lb rows: x datapath group",
        &placements,
        |_, row, placement| {
            let mut row = row.clone();
            row.datapath_group = placement.group;
            SbRecord::LoadBalancer(row)
        },
    );

    let keys = dp_keys
        .map_rec(|(owner, key)| HeldKey {
            space: KeySpace::Datapaths,
            owner,
            key,
        })
        .concatenate([
            port_keys.map_rec(|(ls, (owner, key))| HeldKey {
                space: KeySpace::Ports(ls),
                owner,
                key,
            }),
            bfd_ports.map_rec(|(owner, key)| HeldKey {
                space: KeySpace::Bfd,
                owner,
                key,
            }),
            learned.keys,
        ])
        .map_rec(Output::Key)
        .concat(
            dp_unstable
                .concat(port_unstable)
                .concat(learned.unstable)
                .map_rec(Output::Unstable),
        );
    datapath_rows
        .concatenate([
            port_rows,
            mc_rows,
            learned.rows,
            flow_rows,
            ip_mcast_rows,
            dns_rows,
            group_rows,
            lb_rows,
            lb_set_rows,
            meters.rows,
            health.rows,
            cr.rows,
            bfd_rows,
            nb_global_rows,
            template_var_rows,
            static_rows,
        ])
        .map_rec(Output::Sb)
        .concat(keys)
}

/// Attaches to each port the `DHCP_Options` row its `which` column names.
fn attach_dhcp<'s>(
    ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    dhcp_rows: &Shared<'s, Uuid, crate::nb::DhcpOptions>,
    which: &str,
    column: fn(&Lsp) -> Option<Uuid>,
    set: fn(&mut PortCtx, crate::nb::DhcpOptions),
) -> Coll<'s, (Uuid, Arc<PortCtx>)> {
    let [plain, naming] = split_by(ports, move |(_, p): &(Uuid, Arc<PortCtx>)| {
        usize::from(column(&p.lsp).is_some())
    });
    let with_ref = naming.flat_map_rec(move |(ls, p)| column(&p.lsp).map(|d| (d, (ls, p))));
    // A reference to a missing row counts as none.
    let attached = with_ref.outer_join_map_shared(
        &format!("ports: x {which} options"),
        dhcp_rows,
        move |_, a, b| {
            let ((ls, mut p), d) = (a.clone(), b.clone());
            set(Arc::make_mut(&mut p), d);
            (ls, p)
        },
        |_, lp| lp.clone(),
    );
    plain.concat(attached)
}

/// Attaches to each virtual port its `virtual-parents` that are ports of
/// the same switch (name and NB row), in the option's order
/// (`build_lswitch_arp_nd_responder_known_ips()` skips the others).
fn attach_virtual_parents<'s>(
    ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    ports0: Coll<'s, (Uuid, Arc<Lsp>)>,
    ports_by_name: &Shared<'s, String, (Uuid, Arc<Lsp>)>,
) -> Coll<'s, (Uuid, Arc<PortCtx>)> {
    use crate::rules::virtual_port;
    let wanted = ports0.flat_map_rec(|(ls, lsp)| {
        virtual_port::parent_names(&lsp)
            .into_iter()
            .enumerate()
            .map(move |(i, name)| (name, (ls, lsp.uuid, i)))
            .collect::<Vec<_>>()
    });
    // A parent is a port of the virtual port's own switch.
    let parents = wanted
        .join_filter_map_shared(
            "virtual ports: parent names x switch ports",
            ports_by_name,
            move |name, (ls, vport, i), (parent_ls, parent)| {
                (ls == parent_ls).then(|| (*vport, (*i, name.clone(), parent.uuid)))
            },
        )
        .group_named("virtual ports: parents", |_, vals, out| {
            let mut v: Vec<&(usize, String, Uuid)> = vals.iter().map(|(x, _)| *x).collect();
            v.sort();
            let list: Vec<virtual_port::Parent> =
                v.into_iter().map(|(_, n, u)| (n.clone(), *u)).collect();
            out.push((list, 1));
        });
    // Only ports naming parents can have any: the others skip the joins.
    let [plain, named] = split_by(ports, |(_, p): &(Uuid, Arc<PortCtx>)| {
        usize::from(!virtual_port::parent_names(&p.lsp).is_empty())
    });
    let keyed = named.map_rec(|(ls, p)| (p.lsp.uuid, (ls, p)));
    keyed
        .outer_join_map_named(
            "virtual ports: x parents",
            parents,
            move |_, a, b| {
                let ((ls, mut p), list) = (a.clone(), b.clone());
                Arc::make_mut(&mut p).virtual_parents = list;
                (ls, p)
            },
            |_, lp| lp.clone(),
        )
        .concat(plain)
}

/// Sets each switch's resolved CoPP meters ([`SwitchCtx::copp`]).
fn attach_copp<'s>(
    sw_ctx: Coll<'s, SwitchCtx>,
    copps: Coll<'s, (Uuid, crate::rules::copp::Copp)>,
) -> Coll<'s, SwitchCtx> {
    sw_ctx.map_rec(|s| (s.uuid, s)).outer_join_map_named(
        "switch context: x copp",
        copps,
        move |_, a, b| {
            let (mut s, c) = (a.clone(), b.clone());
            s.copp = c;
            s
        },
        |_, s| s.clone(),
    )
}
