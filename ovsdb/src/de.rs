//! Parsing RFC 7047 data straight from JSON text into [`Datum`]s and rows,
//! with serde visitors instead of [`serde_json::Value`] trees.
//!
//! A monitor reply or a compacted database file of a large NB (ten
//! thousand ports) is megabytes of JSON; building a `Value` tree first and
//! converting it afterwards allocates every string twice and walks the
//! data three times. The seeds here turn the text into atoms, datums and
//! whole rows in one pass: strings are allocated once at their final
//! size, UUIDs are parsed from the borrowed text, and a new row is
//! completed with its schema defaults as soon as its object ends.
//!
//! The accepted forms and the errors are those of [`Datum::from_json`]
//! (checked by a property test against it): one-element sets may be
//! written bare, `["set", []]` is accepted for an empty map, integers are
//! accepted where reals are expected, duplicate set elements or map keys
//! are errors. Every error names the table, row and column.
//!
//! The seeds work on any serde deserializer: JSON text
//! (`serde_json::Deserializer`) and, for small updates that already are
//! values, `&serde_json::Value`.
//!
//! Layout: `atom` (atoms, UUIDs and the tags of tagged arrays), `datum`
//! (sets, maps and [`datum_from_str`]), `row` (table and row keys, the
//! columns of a row, and completing new or changed rows). The place a
//! datum is at, for messages, is here.

use std::fmt;

use serde::de;

use crate::atom::Uuid;
use crate::datum::Datum;
use crate::schema::ColumnSchema;

mod atom;
mod datum;
mod row;

pub use datum::datum_from_str;
pub(crate) use row::{overlay_row, ColumnsSeed, RowKey, RowTemplate, TableKey, Word};

/// Where a datum is, for error messages: `table T row U column C`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place<'a> {
    /// The table.
    pub table: &'a str,
    /// The row.
    pub row: Uuid,
    /// The column.
    pub column: &'a str,
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "table {} row {} column {}",
            self.table, self.row, self.column
        )
    }
}

/// The columns of one row as the JSON gave them, in JSON order.
pub(crate) type Columns<'s> = Vec<(&'s ColumnSchema, Datum)>;

fn fail<E: de::Error>(place: Option<Place<'_>>, msg: fmt::Arguments<'_>) -> E {
    match place {
        Some(p) => E::custom(format_args!("{p}: {msg}")),
        None => E::custom(msg),
    }
}

/// A short rendering of a string for messages (at most 60 characters).
fn snippet(s: &str) -> String {
    let quoted = format!("{s:?}");
    if quoted.chars().count() > 60 {
        let cut: String = quoted.chars().take(57).collect();
        format!("{cut}...")
    } else {
        quoted
    }
}
