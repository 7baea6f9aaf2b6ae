//! The Kubernetes API side of the custom resources: `kube::Resource` for
//! the Nodus and Multus types (they keep their own serde types, which
//! check unknown fields in manifests, so they are not `CustomResource`
//! derives), and the kinds run mode watches.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::NamespaceResourceScope;
use kube::core::ApiResource;

use crate::nodus::crd::{Network, NetworkAttachmentDefinition, NetworkChaining, ProviderNetwork};

macro_rules! resource {
    ($ty:ty, $group:literal, $version:literal, $kind:literal, $plural:literal) => {
        impl kube::Resource for $ty {
            type DynamicType = ();
            type Scope = NamespaceResourceScope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// Nodus' API group.
pub const NODUS_GROUP: &str = "k8s.plugin.opnfv.org";
/// Multus' API group.
pub const MULTUS_GROUP: &str = "k8s.cni.cncf.io";

resource!(
    Network,
    "k8s.plugin.opnfv.org",
    "v1alpha1",
    "Network",
    "networks"
);
resource!(
    ProviderNetwork,
    "k8s.plugin.opnfv.org",
    "v1alpha1",
    "ProviderNetwork",
    "providernetworks"
);
resource!(
    NetworkChaining,
    "k8s.plugin.opnfv.org",
    "v1alpha1",
    "NetworkChaining",
    "networkchainings"
);
resource!(
    NetworkAttachmentDefinition,
    "k8s.cni.cncf.io",
    "v1",
    "NetworkAttachmentDefinition",
    "network-attachment-definitions"
);

/// The kinds run mode watches, in the order of [`crate::manifest::KINDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `v1` Namespace.
    Namespace,
    /// `v1` Node.
    Node,
    /// `v1` Pod.
    Pod,
    /// `v1` Service.
    Service,
    /// `discovery.k8s.io/v1` EndpointSlice.
    EndpointSlice,
    /// `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
    /// Nodus Network.
    Network,
    /// Nodus ProviderNetwork.
    ProviderNetwork,
    /// Nodus NetworkChaining.
    NetworkChaining,
    /// Multus NetworkAttachmentDefinition.
    NetworkAttachmentDefinition,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 10] = [
        Kind::Namespace,
        Kind::Node,
        Kind::Pod,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::NetworkPolicy,
        Kind::Network,
        Kind::ProviderNetwork,
        Kind::NetworkChaining,
        Kind::NetworkAttachmentDefinition,
    ];

    /// The kind's name, as in `Kind/name` identities and errors.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::NetworkPolicy => "NetworkPolicy",
            Kind::Network => "Network",
            Kind::ProviderNetwork => "ProviderNetwork",
            Kind::NetworkChaining => "NetworkChaining",
            Kind::NetworkAttachmentDefinition => "NetworkAttachmentDefinition",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind's API, for requests on untyped objects (watches,
    /// write-back): its type's group, version, kind and plural.
    pub fn api_resource(self) -> ApiResource {
        match self {
            Kind::Namespace => ApiResource::erase::<Namespace>(&()),
            Kind::Node => ApiResource::erase::<Node>(&()),
            Kind::Pod => ApiResource::erase::<Pod>(&()),
            Kind::Service => ApiResource::erase::<Service>(&()),
            Kind::EndpointSlice => ApiResource::erase::<EndpointSlice>(&()),
            Kind::NetworkPolicy => ApiResource::erase::<NetworkPolicy>(&()),
            Kind::Network => ApiResource::erase::<Network>(&()),
            Kind::ProviderNetwork => ApiResource::erase::<ProviderNetwork>(&()),
            Kind::NetworkChaining => ApiResource::erase::<NetworkChaining>(&()),
            Kind::NetworkAttachmentDefinition => {
                ApiResource::erase::<NetworkAttachmentDefinition>(&())
            }
        }
    }

    /// Whether the kind is a custom resource (its API may be absent from a
    /// cluster without Nodus or Multus).
    pub fn is_custom(self) -> bool {
        matches!(
            self,
            Kind::Network
                | Kind::ProviderNetwork
                | Kind::NetworkChaining
                | Kind::NetworkAttachmentDefinition
        )
    }

    /// Whether objects of the kind are keyed by name alone in
    /// [`crate::Objects`] (cluster-scoped, or Nodus networks, whose
    /// switches are cluster-wide).
    pub fn keyed_by_name(self) -> bool {
        matches!(
            self,
            Kind::Namespace | Kind::Node | Kind::Network | Kind::ProviderNetwork
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_resources_name_the_kinds_apis() {
        for kind in Kind::ALL {
            assert_eq!(kind.api_resource().kind, kind.name());
        }
        let pods = Kind::Pod.api_resource();
        assert_eq!(
            (pods.api_version.as_str(), pods.plural.as_str()),
            ("v1", "pods")
        );
        let nad = Kind::NetworkAttachmentDefinition.api_resource();
        assert_eq!(
            (nad.api_version.as_str(), nad.plural.as_str()),
            ("k8s.cni.cncf.io/v1", "network-attachment-definitions")
        );
        let net = Kind::Network.api_resource();
        assert_eq!(net.api_version, "k8s.plugin.opnfv.org/v1alpha1");
    }
}
