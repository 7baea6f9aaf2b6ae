//! Generators of NB topologies for the corpus, the benchmarks and the live
//! differential test.

pub mod k8s;
pub mod openstack;
pub mod ovnk8s;
pub mod random;

pub use k8s::{k8s, K8sShape};
pub use openstack::{openstack, OpenstackShape};
pub use ovnk8s::ovn_k8s;
pub use random::random_topology;
