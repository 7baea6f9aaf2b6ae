//! The custom resources this bridge reads besides core Kubernetes, with the
//! field names their projects use: Nodus (ovn4nfv-k8s-plugin, group
//! `k8s.plugin.opnfv.org/v1alpha1`) `Network`, `ProviderNetwork` and
//! `NetworkChaining`, and Multus' `NetworkAttachmentDefinition`
//! (`k8s.cni.cncf.io/v1`). Unknown fields are errors, as for every kind.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One subnet of a Nodus network (the same type for `ipv4Subnets` and
/// `ipv6Subnets`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpSubnet {
    /// The subnet's name.
    #[serde(default)]
    pub name: String,
    /// The CIDR, e.g. `172.30.11.0/24` or `fd00:30:11::/64`.
    pub subnet: String,
    /// The router address with its prefix, e.g. `172.30.11.1/24` (a bare
    /// address takes the subnet's prefix). Without it the network is not
    /// routed.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Addresses never handed out: space-separated addresses and
    /// `FIRST..LAST` ranges, as OVN's `exclude_ips`.
    #[serde(default)]
    pub exclude_ips: Option<String>,
}

/// A route Nodus adds to every pod interface on the network.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct Route {
    /// Destination CIDR.
    pub dst: String,
    /// Next hop (the network's gateway when unset).
    #[serde(default)]
    pub gw: Option<String>,
}

/// Nodus' DNS settings (accepted; DNS is not configured by this bridge).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct DnsSpec {
    /// Name servers.
    #[serde(default)]
    pub nameservers: Option<Vec<String>>,
    /// Domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// Search domains.
    #[serde(default)]
    pub search: Option<Vec<String>>,
    /// Resolver options.
    #[serde(default)]
    pub options: Option<Vec<String>>,
}

/// `Network.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {
    /// Must be `ovn4nfv` (Nodus' CNI type).
    pub cni_type: String,
    /// The IPv4 subnets.
    #[serde(default)]
    pub ipv4_subnets: Vec<IpSubnet>,
    /// The IPv6 subnets (a network may have either list or both).
    #[serde(default)]
    pub ipv6_subnets: Option<Vec<IpSubnet>>,
    /// DNS (accepted, not applied).
    #[serde(default)]
    pub dns: Option<DnsSpec>,
    /// Routes for pods on the network.
    #[serde(default)]
    pub routes: Option<Vec<Route>>,
}

/// A Nodus virtual network: an L2 logical switch attached to the Nodus
/// router.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// `k8s.plugin.opnfv.org/v1alpha1`.
    pub api_version: String,
    /// `Network`.
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The spec.
    pub spec: NetworkSpec,
    /// Status (written by Nodus' controller; ignored).
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

/// `ProviderNetwork.spec.vlan`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VlanSpec {
    /// The VLAN id, 1-4094 (Nodus writes it as a string).
    #[schemars(schema_with = "schema::int_or_string")]
    pub vlan_id: IntOrString,
    /// The node NIC carrying the VLAN.
    pub provider_interface_name: String,
    /// The VLAN subinterface name Nodus would create (`eth1.100`).
    #[serde(default)]
    pub logical_interface_name: Option<String>,
    /// `all` (every node) or `specific` (nodes with every label of
    /// `nodeLabelList`).
    pub vlan_node_selector: String,
    /// `key=value` labels for `specific`.
    #[serde(default)]
    pub node_label_list: Option<Vec<String>>,
}

/// `ProviderNetwork.spec.direct`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectSpec {
    /// The node NIC.
    pub provider_interface_name: String,
    /// `all` or `specific`.
    pub direct_node_selector: String,
    /// `key=value` labels for `specific`.
    #[serde(default)]
    pub node_label_list: Option<Vec<String>>,
}

/// `ProviderNetwork.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderNetworkSpec {
    /// Must be `ovn4nfv`.
    pub cni_type: String,
    /// The IPv4 subnets.
    #[serde(default)]
    pub ipv4_subnets: Vec<IpSubnet>,
    /// The IPv6 subnets (a network may have either list or both).
    #[serde(default)]
    pub ipv6_subnets: Option<Vec<IpSubnet>>,
    /// DNS (accepted, not applied).
    #[serde(default)]
    pub dns: Option<DnsSpec>,
    /// Routes for pods on the network.
    #[serde(default)]
    pub routes: Option<Vec<Route>>,
    /// `VLAN` or `DIRECT`.
    pub provider_net_type: String,
    /// For `VLAN`.
    #[serde(default)]
    pub vlan: Option<VlanSpec>,
    /// For `DIRECT`.
    #[serde(default)]
    pub direct: Option<DirectSpec>,
}

/// A Nodus provider network: a logical switch with a localnet port
/// bridged to a node NIC (tagged when `VLAN`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderNetwork {
    /// `k8s.plugin.opnfv.org/v1alpha1`.
    pub api_version: String,
    /// `ProviderNetwork`.
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The spec.
    pub spec: ProviderNetworkSpec,
    /// Status (ignored).
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

/// One end (`left` or `right`) of a routing chain.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutingNetwork {
    /// The network the end's pods are on.
    pub network_name: String,
    /// The next hop the end's pods use towards the other end (the
    /// network's gateway when unset).
    #[serde(default)]
    pub gateway_ip: Option<String>,
    /// The end's subnet.
    pub subnet: String,
    /// The end's pods (none selected when unset).
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_label_selector")]
    pub pod_selector: Option<LabelSelector>,
    /// Their namespaces (the chain's namespace when unset).
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_label_selector")]
    pub namespace_selector: Option<LabelSelector>,
}

/// `NetworkChaining.spec.routingSpec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutingSpec {
    /// The namespace of the function pods.
    pub namespace: String,
    /// `net=A,LABEL=VALUE,net=B,…`: networks and functions alternating.
    pub network_chain: String,
    /// The left ends.
    #[serde(default)]
    pub left: Vec<RoutingNetwork>,
    /// The right ends.
    #[serde(default)]
    pub right: Vec<RoutingNetwork>,
}

/// `NetworkChaining.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkChainingSpec {
    /// Must be `Routing`.
    pub chain_type: String,
    /// The chain.
    pub routing_spec: RoutingSpec,
}

/// A Nodus service-function chain.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkChaining {
    /// `k8s.plugin.opnfv.org/v1alpha1`.
    pub api_version: String,
    /// `NetworkChaining`.
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The spec.
    pub spec: NetworkChainingSpec,
    /// Status (ignored).
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

/// `NetworkAttachmentDefinition.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct NadSpec {
    /// The CNI configuration, JSON text.
    #[serde(default)]
    pub config: Option<String>,
}

/// A Multus network attachment definition.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkAttachmentDefinition {
    /// `k8s.cni.cncf.io/v1`.
    pub api_version: String,
    /// `NetworkAttachmentDefinition`.
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The spec.
    #[serde(default)]
    pub spec: NadSpec,
}

/// The schemas of the Kubernetes types the specs use, written here so
/// that `k8s-openapi` is built without its `schemars` feature (a JSON
/// schema for every Kubernetes type: most of that crate's build time,
/// issue 3).  The texts are those of `k8s-openapi`'s schemas (Kubernetes'
/// API documentation); `tests/deploy.rs` checks the CRDs they go into.
mod schema {
    use schemars::{json_schema, Schema, SchemaGenerator};

    /// `IntOrString`.
    pub fn int_or_string(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "x-kubernetes-int-or-string": true })
    }

    /// `Option<LabelSelector>`.
    pub fn optional_label_selector(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "nullable": true,
            "properties": {
                "matchExpressions": {
                    "description": "matchExpressions is a list of label selector requirements. The requirements are ANDed.",
                    "type": "array",
                    "items": {
                        "description": "A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values.",
                        "type": "object",
                        "properties": {
                            "key": {
                                "description": "key is the label key that the selector applies to.",
                                "type": "string"
                            },
                            "operator": {
                                "description": "operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist.",
                                "type": "string"
                            },
                            "values": {
                                "description": "values is an array of string values. If the operator is In or NotIn, the values array must be non-empty. If the operator is Exists or DoesNotExist, the values array must be empty. This array is replaced during a strategic merge patch.",
                                "type": "array",
                                "items": { "type": "string" }
                            }
                        },
                        "required": ["key", "operator"]
                    }
                },
                "matchLabels": {
                    "description": "matchLabels is a map of {key,value} pairs. A single {key,value} in the matchLabels map is equivalent to an element of matchExpressions, whose key field is \"key\", the operator is \"In\", and the values array contains only \"value\". The requirements are ANDed.",
                    "type": "object",
                    "additionalProperties": { "type": "string" }
                }
            }
        })
    }
}
