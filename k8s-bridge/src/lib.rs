//! Kubernetes to OVN Northbound translation (not implemented yet; see issue 10).
