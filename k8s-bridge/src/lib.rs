//! Kubernetes objects to OVN Northbound, laid out as ovn-kubernetes lays
//! them out (names, external_ids, hashes), so OVN tooling that knows
//! ovn-kubernetes recognises the rows.
//!
//! The pipeline: [`manifest`] reads objects; [`translate`] is a pure
//! function from objects to the desired NB ([`model::Nb`]), allocating
//! addresses deterministically ([`ipam`]); [`reconcile`] diffs the desired
//! rows against the rows this crate owns in a live NB and writes the
//! difference as one transaction.
//!
//! Modules per Kubernetes concept: [`cluster`] (shared topology),
//! [`nodes`], [`pods`], [`namespaces`], [`services`], [`policy`]; extra
//! pod interfaces, Nodus networks and chains in [`nodus`]; the CNI plugin
//! in [`cni`] and provider-network node wiring in [`node`]; the
//! Kubernetes controller (`ovnflow k8s run`) in [`run`], which translates
//! incrementally ([`incremental`]) with the same result as [`translate`].
#![deny(missing_docs)]

pub mod cluster;
pub mod cni;
pub mod decode;
pub mod deploy;
pub mod error;
pub mod incremental;
pub mod ipam;
pub mod labels;
pub mod manifest;
pub mod model;
pub mod names;
pub mod namespaces;
pub mod node;
pub mod nodes;
pub mod nodus;
pub mod pods;
pub mod policy;
pub mod reconcile;
pub mod run;
pub mod services;

pub use error::{Error, Result, Source};
pub use ipam::Config;
pub use manifest::Objects;
pub use model::Nb;

/// Translates objects into the desired NB. Deterministic: the same objects
/// and settings always give the same rows and addresses. An empty input
/// gives an empty NB (nothing owned).
pub fn translate(objs: &Objects, cfg: &Config) -> Result<Nb> {
    let mut nb = Nb::default();
    if objs.identities().is_empty() {
        return Ok(nb);
    }
    let cluster = cluster::build(&mut nb, cfg);
    let nodes = nodes::build(&mut nb, cfg, &cluster, &objs.nodes)?;
    let pods = pods::build(&mut nb, &nodes, &objs.pods)?;
    let namespaces = namespaces::build(&mut nb, cfg, objs, &pods);
    services::build(&mut nb, cfg, &cluster, objs, &nodes, &pods)?;
    policy::build(&mut nb, cfg, objs, &pods, &namespaces)?;
    let nets = nodus::networks::build(&mut nb, objs)?;
    let atts = nodus::attach::build(&mut nb, cfg, objs, &nets, &nodes, &pods)?;
    nodus::chain::build(&mut nb, objs, &nets, &pods, &atts)?;
    Ok(nb)
}
