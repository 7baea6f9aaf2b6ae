//! Reading the members of a schema's JSON objects, with errors naming
//! where they are: an object, its allowed members, and optional members of
//! each JSON type.

use serde_json::{Map, Value};

use super::SchemaError;
use crate::atom::json_snippet;

pub(super) fn err<T>(context: &str, message: impl Into<String>) -> Result<T, SchemaError> {
    Err(SchemaError {
        context: context.to_string(),
        message: message.into(),
    })
}

pub(super) fn object<'a>(
    v: &'a Value,
    ctx: &str,
    what: &str,
) -> Result<&'a Map<String, Value>, SchemaError> {
    match v.as_object() {
        Some(m) => Ok(m),
        None => err(
            ctx,
            format!("{what} must be a JSON object, found {}", json_snippet(v)),
        ),
    }
}

pub(super) fn check_members(
    m: &Map<String, Value>,
    ctx: &str,
    allowed: &[&str],
) -> Result<(), SchemaError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => err(ctx, format!("unknown member {k:?}")),
        None => Ok(()),
    }
}

pub(super) fn opt_u64(
    m: &Map<String, Value>,
    key: &str,
    ctx: &str,
) -> Result<Option<u64>, SchemaError> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) => Ok(Some(n)),
            None => err(
                ctx,
                format!(
                    "{key} must be a non-negative integer, found {}",
                    json_snippet(v)
                ),
            ),
        },
    }
}

pub(super) fn opt_i64(
    m: &Map<String, Value>,
    key: &str,
    ctx: &str,
) -> Result<Option<i64>, SchemaError> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) => Ok(Some(n)),
            None => err(
                ctx,
                format!("{key} must be an integer, found {}", json_snippet(v)),
            ),
        },
    }
}

pub(super) fn opt_f64(
    m: &Map<String, Value>,
    key: &str,
    ctx: &str,
) -> Result<Option<f64>, SchemaError> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) => Ok(Some(n)),
            None => err(
                ctx,
                format!("{key} must be a number, found {}", json_snippet(v)),
            ),
        },
    }
}

pub(super) fn opt_bool(
    m: &Map<String, Value>,
    key: &str,
    ctx: &str,
) -> Result<Option<bool>, SchemaError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => err(
            ctx,
            format!("{key} must be a boolean, found {}", json_snippet(v)),
        ),
    }
}
