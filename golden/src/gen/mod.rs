//! Generators of NB topologies for the corpus, the benchmarks and the live
//! differential test.

pub mod k8s;
pub mod openstack;
pub mod random;

pub use k8s::{k8s, K8sShape};
pub use openstack::{openstack, OpenstackShape};
pub use random::random_topology;
