//! Names and identifiers as ovn-kubernetes spells them: `HashForOVN`,
//! `IPAddrToHWAddr` MACs, and the `DbObjectIDs` external_ids of ACLs and
//! address sets.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

/// The controller name of the default (cluster) network.
pub const CONTROLLER: &str = "default-network-controller";

/// `util.HashForOVN`: `"a"` followed by the decimal FNV-1a 64-bit hash of
/// `s`. ovn-kubernetes names port groups and address sets this way so the
/// names are valid OVN identifiers.
pub fn hash_for_ovn(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("a{h}")
}

/// `util.IPAddrToHWAddr` for IPv4: `0a:58:` followed by the four address
/// bytes.
pub fn mac_from_ip(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("0a:58:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// `util.IPAddrToHWAddr` for either family: IPv4 as [`mac_from_ip`];
/// IPv6 `0a:58:` followed by the first four bytes of the SHA-256 of the
/// address's text form.
pub fn mac_from_addr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => mac_from_ip(a),
        IpAddr::V6(a) => {
            let h = ring::digest::digest(&ring::digest::SHA256, a.to_string().as_bytes());
            let o = h.as_ref();
            format!("0a:58:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
        }
    }
}

/// The external_ids ovn-kubernetes' `DbObjectIDs` produce: owner
/// controller, owner type, the type-specific keys and `k8s.ovn.org/id`,
/// which joins controller, owner type and the values in the order the type
/// declares them.
pub fn db_object_ids(owner_type: &str, keys: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("k8s.ovn.org/owner-controller".into(), CONTROLLER.into());
    m.insert("k8s.ovn.org/owner-type".into(), owner_type.into());
    let mut id = format!("{CONTROLLER}:{owner_type}");
    for (k, v) in keys {
        id.push(':');
        id.push_str(v);
        m.insert((*k).into(), v.clone());
    }
    m.insert("k8s.ovn.org/id".into(), id);
    m
}

/// The v4 address set of a `DbObjectIDs` key set: its name is the hash of
/// the id (which ends in `:v4`), and `ip-family` is added.
pub fn address_set_ids(owner_type: &str, name: &str) -> (String, BTreeMap<String, String>) {
    address_set_ids_of(owner_type, name, false)
}

/// The address set of one family (`v6`): its id ends in `:v4` or `:v6`
/// and its `ip-family` says which (ovn-kubernetes' address_set.go).
pub fn address_set_ids_of(
    owner_type: &str,
    name: &str,
    v6: bool,
) -> (String, BTreeMap<String, String>) {
    let ids = db_object_ids(
        owner_type,
        &[
            ("k8s.ovn.org/name", name.to_string()),
            ("ip-family", crate::ipam::family(v6).to_string()),
        ],
    );
    (hash_for_ovn(&ids["k8s.ovn.org/id"]), ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors verified against ovn-kubernetes `docs/acls.md` (fact sheet §0, §5.7).
    #[test]
    fn hash_for_ovn_matches_ovn_kubernetes() {
        assert_eq!(
            hash_for_ovn("default-network-controller:Namespace:default:v4"),
            "a4322231855293774466"
        );
        assert_eq!(hash_for_ovn("default_test-policy"), "a2653181086423119552");
        assert_eq!(
            hash_for_ovn("default-network-controller:PodSelector:LS{ML:{kubernetes.io/metadata.name: default,},}_LS{ML:{app: demo,},}:v4"),
            "a3733136965153973077"
        );
        assert_eq!(
            address_set_ids("Namespace", "default").0,
            "a4322231855293774466"
        );
    }

    /// `TestIPAddrToHWAddr` / fact sheet §2.2: 10.244.0.1 → 0a:58:0a:f4:00:01.
    #[test]
    fn mac_from_ipv4() {
        assert_eq!(
            mac_from_ip("10.244.0.1".parse().unwrap()),
            "0a:58:0a:f4:00:01"
        );
        assert_eq!(
            mac_from_ip("100.64.0.1".parse().unwrap()),
            "0a:58:64:40:00:01"
        );
    }

    /// `TestIPAddrToHWAddr`'s IPv6 vector: fd01::1234 → 0a:58:11:37:a6:26.
    #[test]
    fn mac_from_ipv6() {
        assert_eq!(
            mac_from_addr("fd01::1234".parse().unwrap()),
            "0a:58:11:37:a6:26"
        );
        assert_eq!(
            mac_from_addr("192.168.1.5".parse().unwrap()),
            "0a:58:c0:a8:01:05"
        );
    }
}
