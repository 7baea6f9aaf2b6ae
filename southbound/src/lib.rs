//! Southbound: OVN logical flows to OpenFlow, as ovn-controller 23.03 does.
//!
//! [`expr`] implements OVN's match-expression language: lexing, parsing,
//! annotation with the logical-field symbol table, simplification,
//! normalization and conversion to OpenFlow matches.  [`actions`]
//! implements OVN's logical actions: parsing, formatting and encoding to
//! OpenFlow actions.
#![warn(missing_docs)]

pub mod actions;
pub mod expr;
