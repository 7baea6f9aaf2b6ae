//! Rendering of ACL inputs (`build_port_group_lswitches()`), and of the SB
//! `Port_Group` (`sync_port_groups()`) and `Address_Set` (`sync_addr_sets()`
//! in en-sync-sb.c) tables.

use std::sync::Arc;

use ovsdb::Uuid;

use super::NbIn;
use crate::dataflow::{Coll, Named, NamedSet, Ops};
use crate::ids;
use crate::nb::{Acl, AddressSet, Lsp, NbKind, NbRecord};
use crate::rules::addr;
use crate::sb::{self, SbRecord};

/// The ACL-related relations, keyed as their docs say.
pub(super) struct AclInputs<'s> {
    /// ACLs applied to each switch: `(ls, acl)`, directly or through a port
    /// group with a port on the switch.
    pub acl_ls: Coll<'s, (Uuid, Acl)>,
    /// Port groups: `(pg, name)`.
    pub pgs: Coll<'s, (Uuid, String)>,
    /// Port-group ports on each switch: `((pg, ls), port name)`.
    pub pg_ls_ports: Coll<'s, ((Uuid, Uuid), String)>,
    /// Port-group member ports: `(pg, lsp)` (whether or not on a switch).
    pub pg_members: Coll<'s, (Uuid, Arc<Lsp>)>,
    /// NB address sets.
    pub address_sets: Coll<'s, AddressSet>,
    /// `NB_Global:options:svc_monitor_mac`.
    pub svc_monitor_mac: Coll<'s, String>,
}

pub(super) fn render_acl_inputs<'s>(
    nb: NbIn<'s>,
    members: Coll<'s, (Uuid, Uuid)>,
    lsps: Coll<'s, (Uuid, Arc<Lsp>)>,
) -> AclInputs<'s> {
    let acls: Coll<'s, (Uuid, Acl)> = nb.of(NbKind::Acl).flat_map_rec(|r| match r {
        NbRecord::Acl(a) => Some((a.uuid, a)),
        _ => None,
    });
    let switch_acls: Coll<'s, (Uuid, Uuid)> = nb.of(NbKind::SwitchAcl).flat_map_rec(|r| match r {
        NbRecord::SwitchAcl(a) => Some((a.acl, a.owner)),
        _ => None,
    });
    let pg_acls: Coll<'s, (Uuid, Uuid)> = nb.of(NbKind::PortGroupAcl).flat_map_rec(|r| match r {
        NbRecord::PortGroupAcl(a) => Some((a.owner, a.acl)),
        _ => None,
    });
    let pgs: Coll<'s, (Uuid, String)> = nb.of(NbKind::PortGroup).flat_map_rec(|r| match r {
        NbRecord::PortGroup(p) => Some((p.uuid, p.name)),
        _ => None,
    });
    let pg_ports: Coll<'s, (Uuid, Uuid)> = nb.of(NbKind::PortGroupPort).flat_map_rec(|r| match r {
        NbRecord::PortGroupPort(m) => Some((m.lsp, m.pg)),
        _ => None,
    });
    let address_sets = nb.of(NbKind::AddressSet).flat_map_rec(|r| match r {
        NbRecord::AddressSet(a) => Some(a),
        _ => None,
    });
    let svc_monitor_mac = nb.of(NbKind::NbGlobal).flat_map_rec(|r| match r {
        NbRecord::NbGlobal(g) => g.svc_monitor_mac,
        _ => None,
    });

    // (lsp, (pg, ls)) for port-group ports that are on a switch.
    let pg_port_ls =
        pg_ports
            .clone()
            .join_map_named("port groups: ports x switch", members, move |k, a, b| {
                let (lsp, pg, ls) = (k.clone(), a.clone(), b.clone());
                (lsp, (pg, ls))
            });
    let pg_ls_ports = pg_port_ls.clone().join_map_named(
        "port groups: ports x lsp",
        lsps.clone(),
        move |_, a, b| {
            let ((pg, ls), lsp) = (a.clone(), b.clone());
            ((pg, ls), lsp.name.clone())
        },
    );
    let pg_ls: Coll<'s, (Uuid, Uuid)> = pg_port_ls
        .map_rec(|(_, pg_ls)| pg_ls)
        .distinct_named("port groups: switches");
    let via_pg = pg_acls.join_map_named("acls: port group x switch", pg_ls, move |_, a, b| {
        let (acl, ls) = (a.clone(), b.clone());
        (acl, ls)
    });
    let acl_ls = switch_acls
        .concat(via_pg)
        .join_map_named("acls: x acl", acls, move |_, a, b| {
            let (ls, acl) = (a.clone(), b.clone());
            (ls, acl)
        });
    let pg_members = pg_ports.join_map_named("port groups: members x lsp", lsps, move |_, a, b| {
        let (pg, lsp) = (a.clone(), b.clone());
        (pg, lsp)
    });
    AclInputs {
        acl_ls,
        pgs,
        pg_ls_ports,
        pg_members,
        address_sets,
        svc_monitor_mac,
    }
}

/// A contribution to a port group's generated address sets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum PgPart {
    /// The group itself (so that groups without addresses still get sets).
    Name(String),
    /// A member's IPv4 and IPv6 addresses (`split_addresses()`).
    Addresses(Vec<String>, Vec<String>),
}

fn address_set(name: String, mut addresses: Vec<String>) -> SbRecord {
    addresses.sort();
    addresses.dedup();
    SbRecord::AddressSet(sb::AddressSet {
        uuid: ids::derive("Address_Set", &[name.as_bytes()]),
        name,
        addresses,
    })
}

/// SB `Port_Group` rows (`<dp key>_<name>`, ports on that switch) and SB
/// `Address_Set` rows: `svc_monitor_mac`, `<pg>_ip4` / `<pg>_ip6` for every
/// port group, and the NB address sets (which win on a name clash).
pub(super) fn render_groups_and_sets<'s>(
    inputs: AclInputs<'s>,
    dp_keys: Coll<'s, (Uuid, u32)>,
) -> Coll<'s, SbRecord> {
    let AclInputs {
        pgs,
        pg_ls_ports,
        pg_members,
        address_sets,
        svc_monitor_mac,
        ..
    } = inputs;
    let port_groups = pg_ls_ports
        .group_named("sb port groups: ports", |_, vals, out| {
            out.push((
                vals.iter()
                    .map(|(n, _)| (*n).clone())
                    .collect::<Vec<String>>(),
                1,
            ));
        })
        .map_rec(|((pg, ls), ports)| (pg, (ls, ports)))
        .join_map_named("sb port groups: x name", pgs.clone(), move |_, a, b| {
            let ((ls, ports), name) = (a.clone(), b.clone());
            (ls, (name, ports))
        })
        .join_map_named("sb port groups: x datapath key", dp_keys, move |_, a, b| {
            let ((name, ports), key) = (a.clone(), b.clone());
            let name = format!("{key}_{name}");
            SbRecord::PortGroup(sb::PortGroup {
                uuid: ids::derive("Port_Group", &[name.as_bytes()]),
                name,
                ports,
            })
        });

    let parts = pgs
        .map_rec(|(pg, name)| (pg, PgPart::Name(name)))
        .concat(pg_members.flat_map_rec(|(pg, lsp)| {
            let (mut v4, mut v6) = (Vec::new(), Vec::new());
            for a in lsp.addresses.iter().filter(|a| !addr::is_dynamic(a)) {
                if let Some(l) = addr::extract_lsp_addresses(a) {
                    v4.extend(l.ipv4);
                    v6.extend(l.ipv6.into_iter().map(|(ip, _)| ip));
                }
            }
            Some((pg, PgPart::Addresses(v4, v6)))
        }));
    let generated: Coll<'s, (String, Vec<String>)> = parts
        .group_named("port group address sets", |_, vals, out| {
            let (mut name, mut v4, mut v6) = (None, Vec::new(), Vec::new());
            for (part, _) in vals {
                match part {
                    PgPart::Name(n) => name = Some(n.clone()),
                    PgPart::Addresses(a4, a6) => {
                        v4.extend(a4.iter().cloned());
                        v6.extend(a6.iter().cloned());
                    }
                }
            }
            if let Some(n) = name {
                out.push(((format!("{n}_ip4"), v4), 1));
                out.push(((format!("{n}_ip6"), v6), 1));
            }
        })
        .map_rec(|(_, named)| named);
    let svc = svc_monitor_mac.map_rec(|mac| ("svc_monitor_mac".to_string(), vec![mac]));
    let user = address_sets.map_rec(|a| (a.name, a.addresses));
    let user_names = user
        .clone()
        .map_rec(|(n, _)| n)
        .distinct_named("address sets: user names");
    let sets = generated
        .concat(svc)
        .antijoin_named("address sets: user-defined win", user_names)
        .concat(user)
        .map_rec(|(name, addresses)| address_set(name, addresses));
    port_groups.concat(sets)
}
