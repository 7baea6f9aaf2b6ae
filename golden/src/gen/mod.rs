//! Generators of NB topologies for the corpus and the benchmarks.

pub mod k8s;

pub use k8s::{k8s, K8sShape};
