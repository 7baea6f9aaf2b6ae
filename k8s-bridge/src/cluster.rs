//! The cluster-wide topology ovn-kubernetes creates at start-up (fact
//! sheet §1): the `acl-logging` meter, `ovn_cluster_router`, the `join`
//! switch, the three load balancer groups, `clusterPortGroup` /
//! `clusterRtrPortGroup` and the hairpin allow ACLs (§5.6).

use crate::ipam::{nth, nth_ip, with_prefix, Config};
use crate::model::{Nb, NbRow, RowId};
use crate::names::{db_object_ids, mac_from_addr, mac_from_ip};

/// Owner of the cluster-wide rows.
pub const OWNER: &str = "Cluster";

/// Ids of the cluster rows other modules attach to.
#[derive(Clone, Debug)]
pub struct ClusterRows {
    /// `ovn_cluster_router`.
    pub router: RowId,
    /// The `join` switch.
    pub join: RowId,
    /// `clusterLBGroup`, `clusterSwitchLBGroup`, `clusterRouterLBGroup`.
    pub lb_groups: [RowId; 3],
    /// `clusterPortGroup`.
    pub port_group: RowId,
}

/// The `acl-logging` meter every ACL names (ovn-kubernetes'
/// network-controller-manager, rate 20 = `ACLLoggingRateLimit`).
pub const ACL_METER: &str = "acl-logging";

/// Adds the cluster rows.
pub fn build(nb: &mut Nb, cfg: &Config) -> ClusterRows {
    let band = nb.add(
        NbRow::new("Meter_Band", format!("{OWNER}#meter-band-{ACL_METER}"))
            .str("action", "drop")
            .int("rate", 20),
    );
    nb.add(
        NbRow::new("Meter", format!("{OWNER}#meter-{ACL_METER}"))
            .str("name", ACL_METER)
            .str("unit", "pktps")
            .bool("fair", true)
            .refs("bands", [band]),
    );

    // The join switch and its link to the cluster router: the first
    // address of each family's join subnet; the MAC from the IPv4 one.
    let join_gw = nth(cfg.join_subnet, 1);
    let networks: Vec<String> = cfg
        .joins()
        .into_iter()
        .map(|j| with_prefix(nth_ip(j, 1), j.prefix()))
        .collect();
    let mac = match cfg.ipv4() {
        true => mac_from_ip(join_gw),
        false => mac_from_addr(nth_ip(cfg.join(true), 1)),
    };
    let rtoj = nb.add(
        NbRow::new(
            "Logical_Router_Port",
            format!("{OWNER}#rtoj-ovn_cluster_router"),
        )
        .str("name", "rtoj-ovn_cluster_router")
        .str("mac", mac)
        .strs("networks", networks),
    );
    let jtor = nb.add(
        NbRow::new(
            "Logical_Switch_Port",
            format!("{OWNER}#jtor-ovn_cluster_router"),
        )
        .str("name", "jtor-ovn_cluster_router")
        .str("type", "router")
        .strs("addresses", ["router"])
        .map("options", [("router-port", "rtoj-ovn_cluster_router")]),
    );
    let join = nb.add(
        NbRow::new("Logical_Switch", format!("{OWNER}#join"))
            .str("name", "join")
            .refs("ports", [jtor]),
    );
    let router = nb.add(
        NbRow::new("Logical_Router", format!("{OWNER}#ovn_cluster_router"))
            .str("name", "ovn_cluster_router")
            .map(
                "external_ids",
                [("k8s-cluster-router", "yes"), ("k8s-ovn-topo-version", "5")],
            )
            .map("options", [("always_learn_from_arp_request", "false")])
            .refs("ports", [rtoj]),
    );

    let lb_groups = crate::model::LB_GROUPS.map(|name| {
        nb.add(NbRow::new("Load_Balancer_Group", format!("{OWNER}#{name}")).str("name", name))
    });

    // Hairpin: service traffic a pod sends to itself is SNATed to
    // 169.254.169.5 (fd69::5); allow it past any policy (addHairpinAllowACL).
    let hairpin_match = match (cfg.ipv4(), cfg.ipv6()) {
        (true, true) => "(ip4.src == 169.254.169.5 || ip6.src == fd69::5)",
        (false, true) => "ip6.src == fd69::5",
        _ => "ip4.src == 169.254.169.5",
    };
    let mut hairpin = Vec::new();
    for (dir, direction) in [("Ingress", "to-lport"), ("Egress", "from-lport")] {
        let ids = db_object_ids(
            "NetpolDefault",
            &[
                ("k8s.ovn.org/name", "allow-hairpinning".into()),
                ("direction", dir.into()),
            ],
        );
        let mut acl = acl(
            format!("{OWNER}#hairpin-{dir}"),
            direction,
            1001,
            "allow-related",
            hairpin_match,
            None,
        )
        .map("external_ids", ids);
        if dir == "Egress" {
            acl = acl.map("options", [("apply-after-lb", "true")]);
        }
        hairpin.push(nb.add(acl));
    }
    let port_group = nb.add(
        NbRow::new("Port_Group", format!("{OWNER}#clusterPortGroup"))
            .str("name", "clusterPortGroup")
            .map("external_ids", [("name", "clusterPortGroup")])
            .refs("acls", hairpin),
    );
    nb.add(
        NbRow::new("Port_Group", format!("{OWNER}#clusterRtrPortGroup"))
            .str("name", "clusterRtrPortGroup")
            .map("external_ids", [("name", "clusterRtrPortGroup")]),
    );
    ClusterRows {
        router,
        join,
        lb_groups,
        port_group,
    }
}

/// An ACL as ovn-kubernetes' `BuildACL` writes it: meter `acl-logging`,
/// label 0, logging off, severity and name unset unless given.
pub fn acl(
    key: String,
    direction: &str,
    priority: i64,
    action: &str,
    match_: &str,
    name: Option<&str>,
) -> NbRow {
    let mut r = NbRow::new("ACL", key)
        .str("direction", direction)
        .int("priority", priority)
        .str("action", action)
        .str("match", match_)
        .str("meter", ACL_METER)
        .int("label", 0)
        .bool("log", false);
    if let Some(n) = name {
        // fmt.Sprintf("%.63s"): the name column holds at most 63 bytes.
        let mut end = n.len().min(63);
        while !n.is_char_boundary(end) {
            end -= 1;
        }
        r = r.str("name", &n[..end]);
    }
    r
}
