//! The controller's view of the cluster: one reflector store per kind,
//! kept directly as the [`Objects`] the translation reads (no copy per
//! change). Watcher events are applied with the reflector's semantics: a
//! (re)list (`Init` … `InitApply` … `InitDone`) is buffered and then
//! replaces the kind's objects at once, so objects deleted while the watch
//! was down disappear; `Apply`/`Delete` change one object.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

use super::resources::Kind;
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

/// The key of an object in [`Objects`]: `name` or `namespace/name`.
pub fn key_of<T: Watched>(obj: &T) -> String {
    let meta = obj.meta();
    let name = meta.name.clone().unwrap_or_default();
    if T::KIND.keyed_by_name() {
        name
    } else {
        format!("{}/{name}", namespace_of(meta))
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

/// Applies a change to the stores; returns the identity it touched.
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
    /// The change a watcher event makes.
    pub fn new<T: Watched>(ev: watcher::Event<T>) -> Change {
        Change {
            kind: T::KIND,
            received: Instant::now(),
            apply: Box::new(move |s: &mut Store| s.apply(ev)),
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

    fn apply<T: Watched>(&mut self, ev: watcher::Event<T>) -> Option<String> {
        let kind = T::KIND;
        let id = |k: &str| format!("{}/{k}", kind.name());
        match ev {
            watcher::Event::Apply(o) => {
                let k = key_of(&o);
                let source = source_of(kind, &k);
                T::map(&mut self.objs).insert(k.clone(), Sourced { obj: o, source });
                Some(id(&k))
            }
            watcher::Event::Delete(o) => {
                let k = key_of(&o);
                T::map(&mut self.objs).remove(&k);
                Some(id(&k))
            }
            watcher::Event::Init => {
                T::map(&mut self.relist).clear();
                None
            }
            watcher::Event::InitApply(o) => {
                let k = key_of(&o);
                let source = source_of(kind, &k);
                T::map(&mut self.relist).insert(k, Sourced { obj: o, source });
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
