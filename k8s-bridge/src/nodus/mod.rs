//! Several interfaces per pod: Nodus (ovn4nfv-k8s-plugin) networks,
//! provider networks and service-function chains, and Multus network
//! attachments, laid out on their own router `ovn4nfv-master` so the
//! default (ovn-kubernetes) network is untouched. Networks may be IPv4,
//! IPv6 or dual-stack ([`subnets`]); chains route IPv4.

pub mod alloc;
pub mod attach;
pub mod chain;
pub mod crd;
pub mod networks;
pub mod subnets;
