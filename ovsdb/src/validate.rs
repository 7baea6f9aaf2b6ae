//! Checking data against a schema's constraints, as ovsdb-server does before
//! it commits: enumerations, integer and real ranges, string lengths and the
//! number of elements. (Whether referenced rows exist is the transaction
//! executor's job, see [`crate::txn`].)

use std::fmt;

use crate::atom::{Atom, Uuid};
use crate::datum::{Datum, Row};
use crate::schema::{BaseType, ColumnSchema, TableSchema};

/// A constraint violation, naming the table, the row (when known) and the column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The table.
    pub table: String,
    /// The row, when known.
    pub row: Option<Uuid>,
    /// The column.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}", self.table)?;
        if let Some(r) = self.row {
            write!(f, " row {r}")?;
        }
        write!(f, " column {}: {}", self.column, self.message)
    }
}

fn check_atom(b: &BaseType, a: &Atom) -> Result<(), String> {
    if a.atom_type() != b.atom {
        return Err(format!("{a} is not of type {}", b.atom));
    }
    if let Some(e) = &b.enum_values {
        if !e.contains(a) {
            let allowed: Vec<String> = e.iter().map(Atom::to_string).collect();
            return Err(format!(
                "{a} is not one of the allowed values [{}]",
                allowed.join(", ")
            ));
        }
    }
    match a {
        Atom::Integer(i)
            if b.min_integer.is_some_and(|lo| *i < lo)
                || b.max_integer.is_some_and(|hi| *i > hi) =>
        {
            Err(format!(
                "{i} is not in the valid range {}..{}",
                b.min_integer.map_or("".into(), |v| v.to_string()),
                b.max_integer.map_or("".into(), |v| v.to_string())
            ))
        }
        Atom::Real(r)
            if b.min_real.is_some_and(|lo| r.0 < lo) || b.max_real.is_some_and(|hi| r.0 > hi) =>
        {
            Err(format!("{} is not in the valid range", r.0))
        }
        Atom::String(s)
            if b.min_length.is_some_and(|lo| (s.len() as u64) < lo)
                || b.max_length.is_some_and(|hi| s.len() as u64 > hi) =>
        {
            Err(format!(
                "{s:?} has length {}, outside the allowed length range",
                s.len()
            ))
        }
        _ => Ok(()),
    }
}

/// Checks one datum against its column's type and constraints.
pub fn validate_datum(
    table: &str,
    column: &ColumnSchema,
    d: &Datum,
) -> Result<(), ValidationError> {
    let fail = |message: String| ValidationError {
        table: table.to_string(),
        row: None,
        column: column.name.clone(),
        message,
    };
    let ty = &column.ty;
    match (d, &ty.value) {
        (Datum::Set(atoms), None) => {
            for a in atoms {
                check_atom(&ty.key, a).map_err(fail)?;
            }
        }
        (Datum::Map(pairs), Some(vt)) => {
            for (k, v) in pairs {
                check_atom(&ty.key, k).map_err(fail)?;
                check_atom(vt, v).map_err(fail)?;
            }
        }
        // An empty set is an acceptable empty map and vice versa.
        (d, _) if d.is_empty() => {}
        (Datum::Set(_), Some(_)) => return Err(fail("expected a map, found a set".into())),
        (Datum::Map(_), None) => return Err(fail("expected a set, found a map".into())),
    }
    let n = d.len() as u64;
    if n < ty.min || ty.max.is_some_and(|m| n > m) {
        let max = ty.max.map_or("unlimited".to_string(), |m| m.to_string());
        return Err(fail(format!(
            "{n} values, but between {} and {max} are required",
            ty.min
        )));
    }
    Ok(())
}

/// Checks every column of a row: columns the schema lacks are errors, and
/// so are constraint violations.
pub fn validate_row(
    table: &TableSchema,
    uuid: Option<Uuid>,
    row: &Row,
) -> Result<(), ValidationError> {
    for (name, d) in row {
        let Some(col) = table.column(name) else {
            return Err(ValidationError {
                table: table.name.clone(),
                row: uuid,
                column: name.to_string(),
                message: "no such column".into(),
            });
        };
        validate_datum(&table.name, col, d).map_err(|e| ValidationError { row: uuid, ..e })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::nb_schema;

    fn col(table: &str, c: &str) -> &'static ColumnSchema {
        nb_schema().table(table).unwrap().column(c).unwrap()
    }

    #[test]
    fn enums_ranges_and_cardinality() {
        assert!(
            validate_datum("ACL", col("ACL", "action"), &Datum::scalar("allow-related")).is_ok()
        );
        let e = validate_datum("ACL", col("ACL", "action"), &Datum::scalar("permit")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("table ACL column action: \"permit\" is not one of"),
            "{e}"
        );
        assert!(validate_datum("ACL", col("ACL", "priority"), &Datum::scalar(40000i64)).is_err());
        assert!(validate_datum("ACL", col("ACL", "priority"), &Datum::scalar(100i64)).is_ok());
        let e = validate_datum("ACL", col("ACL", "action"), &Datum::empty_set()).unwrap_err();
        assert!(e.message.contains("between 1 and 1"), "{e}");
        assert!(validate_datum("ACL", col("ACL", "action"), &Datum::scalar(5i64)).is_err());
    }

    #[test]
    fn rows_name_their_uuid() {
        let t = nb_schema().table("Logical_Switch").unwrap();
        let mut row = Row::new();
        row.insert("bogus", Datum::scalar("x"));
        let u = Uuid::nil();
        let e = validate_row(t, Some(u), &row).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("table Logical_Switch row {u} column bogus: no such column")
        );
    }
}
