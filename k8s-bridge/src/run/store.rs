//! The controller's view of the cluster: one reflector store per kind,
//! kept directly as the [`Objects`] the translation reads (no copy per
//! change). Watchers receive untyped objects (`DynamicObject`, one
//! watcher for every kind); each is decoded into its kind's type here, by
//! [`crate::decode`], the path manifests take too. Watcher events are
//! applied with the reflector's semantics: a
//! (re)list (`Init` … `InitApply` … `InitDone`) is buffered and then
//! replaces the kind's objects at once, so objects deleted while the watch
//! was down disappear; `Apply`/`Delete` change one object.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::resources::Kind;
use crate::decode::decode;
use crate::error::Source;
use crate::manifest::{namespace_of, Objects, Sourced};
use crate::nodus::crd::{Network, NetworkAttachmentDefinition, NetworkChaining, ProviderNetwork};

/// A kind run mode stores: its [`Kind`] and its map in [`Objects`].
pub trait Watched:
    kube::Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static
{
    /// The kind.
    const KIND: Kind;
    /// The kind's map in `objs`.
    fn map(objs: &mut Objects) -> &mut BTreeMap<String, Sourced<Self>>;
}

macro_rules! watched {
    ($ty:ty, $kind:ident, $field:ident) => {
        impl Watched for $ty {
            const KIND: Kind = Kind::$kind;
            fn map(objs: &mut Objects) -> &mut BTreeMap<String, Sourced<Self>> {
                &mut objs.$field
            }
        }
    };
}

watched!(Namespace, Namespace, namespaces);
watched!(Node, Node, nodes);
watched!(Pod, Pod, pods);
watched!(Service, Service, services);
watched!(EndpointSlice, EndpointSlice, endpoint_slices);
watched!(NetworkPolicy, NetworkPolicy, network_policies);
watched!(Network, Network, networks);
watched!(ProviderNetwork, ProviderNetwork, provider_networks);
watched!(NetworkChaining, NetworkChaining, chains);
watched!(
    NetworkAttachmentDefinition,
    NetworkAttachmentDefinition,
    nads
);

/// The key in [`Objects`] of an object of `kind` with metadata `meta`:
/// `name` or `namespace/name`.
pub fn key_of(kind: Kind, meta: &ObjectMeta) -> String {
    let name = meta.name.clone().unwrap_or_default();
    if kind.keyed_by_name() {
        name
    } else {
        format!("{}/{name}", namespace_of(meta))
    }
}

/// An API object as its kind's type; `None` (with a warning) when it does
/// not decode (the object is left out, as if absent). Fields the type
/// does not know are ignored: a newer API server may add some.
fn typed<T: Watched>(key: &str, o: DynamicObject) -> Option<T> {
    let mut fields = match o.data {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    if let Some(t) = o.types {
        fields.insert("apiVersion".into(), Value::String(t.api_version));
        fields.insert("kind".into(), Value::String(t.kind));
    }
    let meta = serde_json::to_value(&o.metadata).unwrap_or_default();
    fields.insert("metadata".into(), meta);
    match decode::<T>(Value::Object(fields), &mut Vec::new()) {
        Ok(obj) => Some(obj),
        Err(e) => {
            tracing::warn!("{}/{key}: left out: {e}", T::KIND.name());
            None
        }
    }
}

/// Where an API object "was read": `Kind/key`, shown in errors.
pub fn source_of(kind: Kind, key: &str) -> Source {
    Source {
        file: format!("{}/{key}", kind.name()),
        doc: 0,
        line: 0,
    }
}

/// How a change updates the store; returns a rejection message.
type ApplyFn = Box<dyn FnOnce(&mut Store) -> Option<String> + Send>;

/// One change from a watcher, applied on the controller's task.
pub struct Change {
    /// The kind.
    pub kind: Kind,
    /// When the event was received from the API server.
    pub received: Instant,
    apply: ApplyFn,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change").field("kind", &self.kind).finish()
    }
}

impl Change {
    /// The change a watcher event of `kind` makes.
    pub fn new(kind: Kind, ev: watcher::Event<DynamicObject>) -> Change {
        Change {
            kind,
            received: Instant::now(),
            apply: Box::new(move |s: &mut Store| s.apply_event(kind, ev)),
        }
    }

    /// A change to a kind whose API the cluster does not serve (a CRD
    /// that is not installed): the kind is empty and ready.
    pub fn absent(kind: Kind) -> Change {
        Change {
            kind,
            received: Instant::now(),
            apply: Box::new(move |s: &mut Store| {
                s.ready.insert(kind);
                None
            }),
        }
    }
}

/// The stores of every kind.
#[derive(Default)]
pub struct Store {
    /// The current objects.
    pub objs: Objects,
    /// Lists in progress.
    relist: Objects,
    /// Kinds whose first list is complete.
    pub ready: BTreeSet<Kind>,
    /// Identities (`Kind/key`) changed since the last [`Store::take_touched`].
    touched: BTreeSet<String>,
}

impl Store {
    /// Applies a change.
    pub fn apply_change(&mut self, c: Change) {
        if let Some(id) = (c.apply)(self) {
            self.touched.insert(id);
        }
    }

    /// The identities changed since the last call (a relist counts as a
    /// change of its whole kind: `Kind/*`).
    pub fn take_touched(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.touched)
    }

    /// Whether every kind has been listed.
    pub fn all_ready(&self) -> bool {
        self.ready.len() == Kind::ALL.len()
    }

    fn apply_event(&mut self, kind: Kind, ev: watcher::Event<DynamicObject>) -> Option<String> {
        match kind {
            Kind::Namespace => self.apply::<Namespace>(ev),
            Kind::Node => self.apply::<Node>(ev),
            Kind::Pod => self.apply::<Pod>(ev),
            Kind::Service => self.apply::<Service>(ev),
            Kind::EndpointSlice => self.apply::<EndpointSlice>(ev),
            Kind::NetworkPolicy => self.apply::<NetworkPolicy>(ev),
            Kind::Network => self.apply::<Network>(ev),
            Kind::ProviderNetwork => self.apply::<ProviderNetwork>(ev),
            Kind::NetworkChaining => self.apply::<NetworkChaining>(ev),
            Kind::NetworkAttachmentDefinition => self.apply::<NetworkAttachmentDefinition>(ev),
        }
    }

    fn apply<T: Watched>(&mut self, ev: watcher::Event<DynamicObject>) -> Option<String> {
        let kind = T::KIND;
        let id = |k: &str| format!("{}/{k}", kind.name());
        match ev {
            watcher::Event::Apply(o) => {
                let k = key_of(kind, &o.metadata);
                let obj = typed::<T>(&k, o)?;
                let source = source_of(kind, &k);
                T::map(&mut self.objs).insert(k.clone(), Sourced { obj, source });
                Some(id(&k))
            }
            watcher::Event::Delete(o) => {
                let k = key_of(kind, &o.metadata);
                T::map(&mut self.objs).remove(&k);
                Some(id(&k))
            }
            watcher::Event::Init => {
                T::map(&mut self.relist).clear();
                None
            }
            watcher::Event::InitApply(o) => {
                let k = key_of(kind, &o.metadata);
                let obj = typed::<T>(&k, o)?;
                let source = source_of(kind, &k);
                T::map(&mut self.relist).insert(k, Sourced { obj, source });
                None
            }
            watcher::Event::InitDone => {
                let fresh = std::mem::take(T::map(&mut self.relist));
                *T::map(&mut self.objs) = fresh;
                self.ready.insert(kind);
                Some(format!("{}/*", kind.name()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: Value) -> watcher::Event<DynamicObject> {
        watcher::Event::Apply(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn watched_objects_are_decoded_into_their_kind() {
        let mut s = Store::default();
        s.apply_change(Change::new(
            Kind::Pod,
            event(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "a", "namespace": "ns"},
                "spec": {"nodeName": "n1", "containers": [], "newField": 1}})),
        ));
        let pod = &s.objs.pods["ns/a"].obj;
        assert_eq!(pod.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"));
        assert_eq!(s.take_touched(), BTreeSet::from(["Pod/ns/a".to_string()]));
    }

    #[test]
    fn an_object_that_does_not_decode_is_left_out() {
        let mut s = Store::default();
        s.apply_change(Change::new(
            Kind::Node,
            event(json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "n1"}, "spec": {"podCIDRs": "10.0.0.0/24"}})),
        ));
        assert!(s.objs.nodes.is_empty());
        assert!(s.take_touched().is_empty());
    }
}
