//! `lr_in_admission`, `lr_in_lookup_neighbor`, `lr_in_learn_neighbor`:
//! `build_adm_ctrl_flows_for_lrouter[_port]()` and
//! `build_neigh_learning_flows_for_lrouter[_port]()` in northd.c.

use super::{LrpCtx, RouterCtx};
use crate::rules::{Lflow, DROP};
use crate::stage::Stage;

/// Priority 100 drop of VLAN-tagged and multicast-source frames, priority 0
/// drop.
pub fn admission(r: &RouterCtx, out: &mut Vec<Lflow>) {
    let dp = r.dp();
    out.push(Lflow::new(
        dp,
        Stage::LrInAdmission,
        100,
        "vlan.present || eth.src[40]",
        DROP,
        11501,
    ));
    out.push(Lflow::new(dp, Stage::LrInAdmission, 0, "1", DROP, 11505));
}

/// Per enabled port: priority 50 admission of multicast and of frames to
/// the port's MAC, storing the MAC in `xreg0[0..47]`
/// (`build_gateway_mtu_flow()`). A distributed
/// gateway port admits frames to its MAC only on the chassis hosting its
/// chassisredirect port unless its peer switch has `vtep` ports
/// (`consider_l3dgw_port_is_centralized()`).
pub fn admission_port(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    if !p.lrp.is_enabled() {
        return;
    }
    let key = p.json_key();
    let ea = &p.net.ea_s;
    let actions = format!("xreg0[0..47] = {ea}; next;");
    let centralized = if p.peer_vtep {
        String::new()
    } else {
        p.resident_suffix()
    };
    for m in [
        format!("eth.mcast && inport == {key}"),
        format!("eth.dst == {ea} && inport == {key}{centralized}"),
    ] {
        let s = Stage::LrInAdmission;
        super::mtu::gateway_mtu_flow(r, p, s, 50, 55, &m, &actions, p.lrp.uuid, out);
    }
}

/// Neighbor lookup and learning defaults (with
/// `options:always_learn_from_arp_request`).
pub fn neighbor(r: &RouterCtx, out: &mut Vec<Lflow>) {
    let dp = r.dp();
    let learn = r.option_bool("always_learn_from_arp_request", true);
    let ip_res = if learn { "" } else { "reg9[3] = 1; " };
    let add = |out: &mut Vec<Lflow>, stage, prio, m: &str, a: &str, line| {
        out.push(Lflow::new(dp, stage, prio, m, a, line));
    };
    add(
        out,
        Stage::LrInLookupNeighbor,
        100,
        "arp.op == 2",
        &format!("reg9[2] = lookup_arp(inport, arp.spa, arp.sha); {ip_res}next;"),
        11690,
    );
    add(
        out,
        Stage::LrInLookupNeighbor,
        100,
        "nd_na",
        &format!("reg9[2] = lookup_nd(inport, nd.target, nd.tll); {ip_res}next;"),
        11698,
    );
    if !learn {
        add(
            out,
            Stage::LrInLookupNeighbor,
            110,
            "nd_na && ip6.src == fe80::/10 && ip6.dst == ff00::/8",
            "reg9[2] = lookup_nd(inport, ip6.src, nd.tll); reg9[3] = lookup_nd_ip(inport, ip6.src); next;",
            11714,
        );
    }
    let ns_ip = if learn {
        ""
    } else {
        "reg9[3] = lookup_nd_ip(inport, ip6.src); "
    };
    add(
        out,
        Stage::LrInLookupNeighbor,
        100,
        "nd_ns",
        &format!("reg9[2] = lookup_nd(inport, ip6.src, nd.sll); {ns_ip}next;"),
        11726,
    );
    add(
        out,
        Stage::LrInLookupNeighbor,
        0,
        "1",
        "reg9[2] = 1; next;",
        11731,
    );
    let skip = if learn {
        "reg9[2] == 1".to_string()
    } else {
        "reg9[2] == 1 || reg9[3] == 0".to_string()
    };
    add(out, Stage::LrInLearnNeighbor, 100, &skip, "next;", 11740);
    add(
        out,
        Stage::LrInLearnNeighbor,
        90,
        "arp",
        "put_arp(inport, arp.spa, arp.sha); next;",
        11743,
    );
    metered(out, r, "arp");
    add(
        out,
        Stage::LrInLearnNeighbor,
        95,
        "nd_ns && (ip6.src == 0 || nd.sll == 0)",
        "next;",
        11748,
    );
    add(
        out,
        Stage::LrInLearnNeighbor,
        95,
        "nd_na && nd.tll == 0",
        "put_nd(inport, nd.target, eth.src); next;",
        11751,
    );
    metered(out, r, "nd-na");
    add(
        out,
        Stage::LrInLearnNeighbor,
        90,
        "nd_na",
        "put_nd(inport, nd.target, nd.tll); next;",
        11757,
    );
    metered(out, r, "nd-na");
    add(
        out,
        Stage::LrInLearnNeighbor,
        90,
        "nd_ns",
        "put_nd(inport, ip6.src, nd.sll); next;",
        11762,
    );
    metered(out, r, "nd-ns");
    add(out, Stage::LrInLearnNeighbor, 0, "1", DROP, 11767);
}

/// Puts the router's CoPP meter for `proto` on the flow just added
/// (`ovn_lflow_metered()`).
fn metered(out: &mut [Lflow], r: &RouterCtx, proto: &str) {
    if let Some(f) = out.last_mut() {
        f.meter = r.meter(proto);
    }
}

/// Per IPv4 network of a port: priority 100 lookup of ARP requests from
/// that network (and priority 110 for requests to the port's address when
/// not always learning).
pub fn neighbor_port(r: &RouterCtx, p: &LrpCtx, out: &mut Vec<Lflow>) {
    let learn = r.option_bool("always_learn_from_arp_request", true);
    let key = p.json_key();
    for n in &p.net.ipv4 {
        if !learn {
            let m = format!(
                "inport == {key} && arp.spa == {}/{} && arp.tpa == {} && arp.op == 1{}",
                n.network_s(),
                n.plen,
                n.addr_s(),
                p.resident_suffix()
            );
            out.push(
                Lflow::new(
                    r.dp(),
                    Stage::LrInLookupNeighbor,
                    110,
                    &m,
                    "reg9[2] = lookup_arp(inport, arp.spa, arp.sha); reg9[3] = 1; next;",
                    11806,
                )
                .hint(p.lrp.uuid),
            );
        }
        let m = format!(
            "inport == {key} && arp.spa == {}/{} && arp.op == 1{}",
            n.network_s(),
            n.plen,
            p.resident_suffix()
        );
        let a = if learn {
            "reg9[2] = lookup_arp(inport, arp.spa, arp.sha); next;"
        } else {
            "reg9[2] = lookup_arp(inport, arp.spa, arp.sha); reg9[3] = lookup_arp_ip(inport, arp.spa); next;"
        };
        out.push(Lflow::new(r.dp(), Stage::LrInLookupNeighbor, 100, &m, a, 11827).hint(p.lrp.uuid));
    }
}
