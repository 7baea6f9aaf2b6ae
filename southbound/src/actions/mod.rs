//! OVN logical actions, as ovn-controller 23.03 compiles them
//! (`lib/actions.c`).
//!
//! - [`parse`]: action text → [`Actions`] (and the prerequisites the
//!   actions add to the flow's match), with OVN's error messages;
//! - [`Actions::format`]: the canonical text OVN prints;
//! - [`encode()`]: OpenFlow actions ([`OfAction`]), printed in `ovs-ofctl`
//!   syntax, including `controller(userdata=...)` payloads byte-compatible
//!   with ovn-controller's pinctrl.

pub mod ast;
pub mod encode;
pub mod ext_table;
pub mod format;
pub mod mf;
pub mod ofpact;
pub mod ofwire;
pub mod options;
mod parser;

pub use ast::{Action, Pipeline};
pub use encode::{encode, EncodeContext, Features, Tables};
pub use ext_table::ExtendTable;
pub use ofpact::{OfAction, OfActions};
pub use options::{OptionTable, OptionType};

use crate::expr::lexer::{Lexer, TokenKind};
use crate::expr::{Expr, SymbolTable};

/// What parsing actions needs from its environment
/// (`struct ovnact_parse_params`).
#[derive(Clone, Copy)]
pub struct ParseContext<'a> {
    /// Symbols (normally [`SymbolTable::ovn`]).
    pub symtab: &'a SymbolTable,
    /// DHCPv4 options for `put_dhcp_opts`.
    pub dhcp_opts: Option<&'a OptionTable>,
    /// DHCPv6 options for `put_dhcpv6_opts`.
    pub dhcpv6_opts: Option<&'a OptionTable>,
    /// Router-advertisement options for `put_nd_ra_opts`.
    pub nd_ra_opts: Option<&'a OptionTable>,
    /// Options of the `empty_lb_backends` event for `trigger_event`.
    pub event_opts: Option<&'a OptionTable>,
    /// Pipeline of the flow.
    pub pipeline: Pipeline,
    /// Number of logical tables in a pipeline (0 disallows `next`).
    pub n_tables: u8,
    /// Logical table of the flow.
    pub cur_ltable: u8,
}

/// Parsed actions with the prerequisites they impose on the flow's match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actions {
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// Prerequisites to AND into the match (e.g. `ip` for `ct_next`).
    pub prereqs: Option<Expr>,
}

impl Actions {
    /// The canonical text (`ovnacts_format`): `drop;` for no actions.
    pub fn format(&self) -> String {
        format::actions_text(&self.actions)
    }
}

/// A parse error: OVN's message, e.g. "Syntax error at `xyzzy' expecting
/// action.".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

/// Parses `input` as OVN logical actions (`ovnacts_parse_string`).
pub fn parse(input: &str, ctx: &ParseContext<'_>) -> Result<Actions, Error> {
    let mut lexer = Lexer::new(input);
    lexer.get();
    let (actions, prereqs) = {
        let mut p = parser::ActionParser::new(&mut lexer, ctx);
        let actions = p.parse_actions(TokenKind::End);
        (actions, p.prereqs.take())
    };
    match lexer.take_error() {
        Some(e) => Err(Error(e)),
        None => Ok(Actions { actions, prereqs }),
    }
}
