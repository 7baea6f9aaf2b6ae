//! Rendering of `rules::igmp`: learned multicast groups from the SB
//! `IGMP_Group` input, their tunnel keys, `Multicast_Group` rows and flows.
//!
//! A group is keyed by `(datapath, address)` (the address as a `u128`, IPv4
//! mapped, as northd hashes groups); it is named by its `address` string
//! (the smallest when rows spell one address differently).

use std::net::Ipv6Addr;
use std::sync::Arc;

use ovsdb::Uuid;

use super::datapath::{allocate_checked, requests};
use super::port_binding::PortKey;
use super::{HeldKey, KeySpace, NbIn};
use crate::dataflow::{Coll, Named, NamedSet, Ops};
use crate::ids::{self, cr_port_owner, Hint};
use crate::nb::{NbKind, NbRecord, Switch};
use crate::rules::igmp::{self, SwitchFlood, GROUP_KEY_MAX, GROUP_KEY_MIN, MROUTERS};
use crate::rules::multicast::MC_MROUTER_FLOOD;
use crate::rules::{Lflow, PortCtx, SwitchCtx};
use crate::sb::{MulticastGroup, SbRecord};

/// A group: `(datapath NB UUID, address)`.
type GroupId = (Uuid, u128);

/// A member of a static group: `((datapath, name, key), Port_Binding UUID)`.
pub(super) type StaticMember = ((Uuid, String, u32), Uuid);

/// What the learned groups add to the SB.
pub(super) struct Learned<'s> {
    /// `Multicast_Group` rows of learned groups.
    pub rows: Coll<'s, SbRecord>,
    /// Members learned for static groups (`mrouters` rows: the switch's
    /// `_MC_mrouter_flood`).
    pub static_members: Coll<'s, StaticMember>,
    /// Switch `ls_in_l2_lkup` and router `lr_in_ip_routing` flows.
    pub flows: Coll<'s, Lflow>,
    /// The groups' tunnel keys.
    pub keys: Coll<'s, HeldKey>,
    /// Key spaces not stable under feedback.
    pub unstable: Coll<'s, KeySpace>,
}

/// A piece of one group's row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum GroupPart {
    /// A name the group's rows give it.
    Name(String),
    /// A member's `Port_Binding` UUID.
    Member(Uuid),
}

/// A piece of one switch's flows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum SwitchPart {
    Flood(bool, bool, u64),
    Group(u128, String),
}

fn addr(a: u128) -> Ipv6Addr {
    Ipv6Addr::from(a)
}

/// Builds the learned groups from the SB `IGMP_Group` input (`nb`), the
/// switch ports, switch contexts and rows, each router's `(mcast_relay,
/// mcast_flood_static)` and the port and held tunnel keys.
///
/// Rows naming a router datapath (ovn-controller writes none) are taken as
/// northd takes them: a group of the router with the rows' switch ports.
pub(super) fn render_learned<'s>(
    nb: &NbIn<'s>,
    ports: Coll<'s, (Uuid, Arc<PortCtx>)>,
    sw_ctx: Coll<'s, SwitchCtx>,
    switches: Coll<'s, (Uuid, Switch)>,
    routers: Coll<'s, (Uuid, (bool, bool))>,
    port_keys: Coll<'s, PortKey>,
    held: Coll<'s, HeldKey>,
) -> Learned<'s> {
    // (port name, (datapath, address, address string)) per row and port.
    let wanted = nb.of(NbKind::SbIgmp).flat_map_rec(|r| match r {
        NbRecord::SbIgmp(g) => match igmp::group_address(&g.address) {
            Some(a) => g
                .ports
                .into_iter()
                .map(|p| (p, (g.datapath, u128::from(a), g.address.clone())))
                .collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    });
    // `ovn_igmp_group_get_ports()`: ports that neither flood statically nor
    // lead to a relaying router.
    let eligible = ports
        .clone()
        .filter_rec(|(_, p)| {
            !p.lsp.option_true("mcast_flood")
                && !p.router_peer.as_ref().is_some_and(|r| r.mcast_relay)
        })
        .map_rec(|(_, p)| (p.lsp.name.clone(), p.lsp.uuid));
    // (datapath, (address, name, port UUID, port name)).
    let switch_ids = switches.clone().map_rec(|(u, _)| u);
    let router_ids = routers.clone().map_rec(|(u, _)| u);
    let entries = wanted
        .join_map_named(
            "igmp: row ports x eligible ports",
            eligible,
            move |k, a, b| {
                let (port, (dp, a, name), lsp) = (k.clone(), a.clone(), b.clone());
                (dp, (a, name, lsp, port))
            },
        )
        .semijoin_named(
            "igmp: rows of datapaths",
            switch_ids.clone().concat(router_ids.clone()),
        )
        .distinct_named("igmp: distinct entries");
    let is_mrouters = |name: &str, a: u128| a == 0 && name == MROUTERS;
    let mrouter_members: Coll<'s, StaticMember> = entries
        .clone()
        .filter_rec(move |(_, (a, name, _, _))| is_mrouters(name.as_str(), *a))
        .map_rec(|(ls, (_, _, lsp, port))| {
            let (name, key) = MC_MROUTER_FLOOD;
            (
                lsp,
                ((ls, name.to_string(), key), ids::port_binding_uuid(&port)),
            )
        })
        .semijoin_named(
            "igmp: mrouter ports with keys",
            port_keys.clone().map_rec(|(_, (owner, _))| owner),
        )
        .map_rec(|(_, m)| m);
    let entries = entries.filter_rec(move |(_, (a, name, _, _))| !is_mrouters(name.as_str(), *a));
    let direct_router_entries = entries
        .clone()
        .semijoin_named("igmp: rows of routers", router_ids)
        .map_rec(|(lr, (a, name, lsp, port))| {
            ((lr, a), (name, ids::port_binding_uuid(&port), lsp))
        });
    let entries = entries.semijoin_named("igmp: rows of switches", switch_ids);
    // Switch groups: ((switch, address), name).
    let switch_groups: Coll<'s, (GroupId, String)> = entries
        .clone()
        .map_rec(|(ls, (a, name, _, _))| ((ls, a), name))
        .group_named("igmp: switch group names", |_, vals, out| {
            if let Some((name, _)) = vals.first() {
                out.push(((*name).clone(), 1));
            }
        });
    // The router ports a switch's groups are relayed to:
    // (switch, (router, member Port_Binding UUID, member key owner)).
    let relays = ports.clone().flat_map_rec(|(ls, p)| {
        let peer = p.router_peer.as_ref()?;
        if !peer.mcast_relay || peer.mcast_flood {
            return None;
        }
        let (pb, owner) = if peer.dgp {
            (
                ids::port_binding_uuid(&format!("cr-{}", peer.name)),
                cr_port_owner(peer.uuid),
            )
        } else {
            (ids::port_binding_uuid(&peer.name), peer.uuid)
        };
        Some((ls, (peer.lr, pb, owner)))
    });
    let router_entries = switch_groups
        .clone()
        .filter_rec(|((_, a), _)| igmp::relayed(&addr(*a)))
        .map_rec(|((ls, a), name)| (ls, (a, name)))
        .join_map_named(
            "igmp: relayed groups x router ports",
            relays,
            move |_, a, b| {
                let ((a, name), (lr, pb, owner)) = (a.clone(), b.clone());
                ((lr, a), (name, pb, owner))
            },
        )
        .concat(direct_router_entries);
    let router_groups: Coll<'s, (GroupId, String)> = router_entries
        .clone()
        .map_rec(|(g, (name, _, _))| (g, name))
        .group_named("igmp: router group names", |_, vals, out| {
            if let Some((name, _)) = vals.first() {
                out.push(((*name).clone(), 1));
            }
        });
    let groups = switch_groups.clone().concat(router_groups.clone());

    // Tunnel keys, per datapath.
    let candidates = groups.clone().map_rec(|((dp, _), name)| {
        let owner = ids::multicast_group_uuid(dp, &name);
        (dp, (owner, Some(((0, Uuid::nil(), 0), None)), None))
    });
    let previous = held.flat_map_rec(|h| match h.space {
        KeySpace::McastGroups(dp) => Some((dp, (h.owner, None, Some(h.key)))),
        _ => None,
    });
    let allocated =
        candidates
            .concat(previous)
            .group_named("igmp: group tunnel keys", |_, vals, out| {
                allocate_checked(
                    &requests(vals),
                    GROUP_KEY_MIN,
                    GROUP_KEY_MAX,
                    Hint::Zero,
                    out,
                );
            });
    let unstable = allocated
        .clone()
        .flat_map_rec(|(dp, a)| a.is_none().then_some(KeySpace::McastGroups(dp)));
    let group_keys: Coll<'s, (Uuid, (Uuid, u32))> =
        allocated.flat_map_rec(|(dp, a)| a.map(|owner_key| (dp, owner_key)));
    let keys = group_keys.clone().map_rec(|(dp, (owner, key))| HeldKey {
        space: KeySpace::McastGroups(dp),
        owner,
        key,
    });

    // Members: the entries' ports, the switch's localnet ports, the
    // routers' ports; only ports holding a key have a Port_Binding.
    let localnet = ports
        .clone()
        .filter_rec(|(_, p)| p.lsp.type_ == "localnet")
        .map_rec(|(ls, p)| (ls, (p.lsp.uuid, ids::port_binding_uuid(&p.lsp.name))));
    let localnet_members = switch_groups
        .clone()
        .map_rec(|((ls, a), _)| (ls, a))
        .join_map_named(
            "igmp: switch groups x localnet ports",
            localnet,
            move |k, a, b| {
                let (ls, a, (owner, pb)) = (k.clone(), a.clone(), b.clone());
                (owner, ((ls, a), pb))
            },
        );
    let members = entries
        .map_rec(|(ls, (a, _, lsp, port))| (lsp, ((ls, a), ids::port_binding_uuid(&port))))
        .concatenate([
            localnet_members,
            router_entries.map_rec(|(g, (_, pb, owner))| (owner, (g, pb))),
        ])
        .semijoin_named(
            "igmp: members with keys",
            port_keys.map_rec(|(_, (owner, _))| owner),
        )
        .map_rec(|(_, (g, pb))| (g, GroupPart::Member(pb)));
    let rows = groups
        .clone()
        .map_rec(|(g, name)| (g, GroupPart::Name(name)))
        .concat(members)
        .group_named("igmp: group rows", |_, vals, out| {
            let mut name = None;
            let mut ports = Vec::new();
            for (part, _) in vals {
                match part {
                    GroupPart::Name(n) => name = name.or(Some(n)),
                    GroupPart::Member(pb) => ports.push(*pb),
                }
            }
            if let Some(name) = name {
                ports.dedup();
                out.push(((name.clone(), ports), 1));
            }
        })
        .map_rec(|((dp, _), (name, ports))| {
            (ids::multicast_group_uuid(dp, &name), (dp, name, ports))
        })
        .join_map_named(
            "igmp: group rows x keys",
            group_keys.map_rec(|(_, owner_key)| owner_key),
            move |k, a, b| {
                let (uuid, (dp, name, ports), tunnel_key) = (k.clone(), a.clone(), b.clone());
                SbRecord::MulticastGroup(MulticastGroup {
                    uuid,
                    datapath: ids::datapath_uuid(dp),
                    name,
                    tunnel_key,
                    ports,
                })
            },
        );

    // Switch flows, per switch (the table size caps them).
    let flood = sw_ctx
        .map_rec(|s| (s.uuid, (s.mcast_flood_relay, s.mcast_flood_static)))
        .join_map_named(
            "igmp: switch flood x table size",
            switches.map_rec(|(u, s)| (u, s.mcast.table_size)),
            move |k, a, b| {
                let (ls, (relay, static_), size) = (k.clone(), a.clone(), b.clone());
                (ls, SwitchPart::Flood(relay, static_, size))
            },
        );
    let switch_flows = switch_groups
        .map_rec(|((ls, a), name)| (ls, SwitchPart::Group(a, name)))
        .concat(flood)
        .group_named("igmp: switch flows", |ls, vals, out| {
            let mut f = None;
            let mut groups: Vec<(Ipv6Addr, &str)> = Vec::new();
            for (part, _) in vals {
                match part {
                    SwitchPart::Flood(relay, static_, table_size) => {
                        f = Some(SwitchFlood {
                            relay: *relay,
                            static_: *static_,
                            table_size: *table_size,
                        })
                    }
                    SwitchPart::Group(a, name) => groups.push((addr(*a), name.as_str())),
                }
            }
            let Some(f) = f else { return };
            for flow in igmp::switch_group_flows(*ls, groups.iter().map(|(a, n)| (a, *n)), f) {
                out.push((flow, 1));
            }
        })
        .map_rec(|(_, flow)| flow);
    let router_flows = router_groups
        .map_rec(|((lr, a), name)| (lr, (a, name)))
        .join_map_named(
            "igmp: router groups x relay",
            routers.filter_rec(|(_, (relay, _))| *relay),
            move |k, a, b| {
                let (lr, (a, name), (_, flood_static)) = (k.clone(), a.clone(), b.clone());
                igmp::router_group_flow(lr, &name, &addr(a), flood_static)
            },
        );

    Learned {
        rows,
        static_members: mrouter_members,
        flows: switch_flows.concat(router_flows),
        keys,
        unstable,
    }
}
