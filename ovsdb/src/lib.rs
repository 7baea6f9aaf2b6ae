//! OVSDB (RFC 7047) for OVN tools: data model, schemas, client, replicas and file readers.
#![warn(missing_docs)]
