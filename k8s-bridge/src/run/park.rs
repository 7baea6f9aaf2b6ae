//! Objects the translation rejects are parked: taken out of the objects
//! the next translation reads (so one bad object never blocks the others)
//! and put back before every later translation, so they are retried when
//! what they depend on appears (a pod scheduled on a node not yet seen).

use k8s_openapi::api::core::v1::{Namespace, Node, ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;

use super::resources::Kind;
use super::store::Watched;
use crate::manifest::Objects;
use crate::nodus::crd::{Network, NetworkAttachmentDefinition, NetworkChaining, ProviderNetwork};

/// A parked object.
pub struct Parked {
    /// Why it is parked.
    pub message: String,
    /// The object, for events.
    pub reference: ObjectReference,
    restore: Box<dyn FnOnce(&mut Objects) + Send>,
}

impl Parked {
    /// Puts the object back (unless a newer version took its place).
    pub fn restore(self, objs: &mut Objects) {
        (self.restore)(objs)
    }
}

fn take_t<T: Watched>(objs: &mut Objects, key: &str, message: String) -> Option<Parked> {
    let o = T::map(objs).remove(key)?;
    let reference = o.obj.object_ref(&());
    let key = key.to_string();
    Some(Parked {
        message,
        reference,
        restore: Box::new(move |objs: &mut Objects| {
            T::map(objs).entry(key).or_insert(o);
        }),
    })
}

/// Takes the object `key` of `kind` out of `objs`.
pub fn take(objs: &mut Objects, kind: Kind, key: &str, message: String) -> Option<Parked> {
    match kind {
        Kind::Namespace => take_t::<Namespace>(objs, key, message),
        Kind::Node => take_t::<Node>(objs, key, message),
        Kind::Pod => take_t::<Pod>(objs, key, message),
        Kind::Service => take_t::<Service>(objs, key, message),
        Kind::EndpointSlice => take_t::<EndpointSlice>(objs, key, message),
        Kind::NetworkPolicy => take_t::<NetworkPolicy>(objs, key, message),
        Kind::Network => take_t::<Network>(objs, key, message),
        Kind::ProviderNetwork => take_t::<ProviderNetwork>(objs, key, message),
        Kind::NetworkChaining => take_t::<NetworkChaining>(objs, key, message),
        Kind::NetworkAttachmentDefinition => {
            take_t::<NetworkAttachmentDefinition>(objs, key, message)
        }
    }
}
