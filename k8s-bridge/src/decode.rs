//! The one way JSON becomes a typed Kubernetes object, for manifests (YAML
//! read as JSON values) and for the API server's watch events alike.
//!
//! A type's deserializer is compiled once for every deserializer it is run
//! over. The Kubernetes types are large (a `Pod` reaches ~200 nested
//! structs), so every extra input format (YAML text, YAML values, kube's
//! JSON readers and its watch-event buffering) used to add a whole copy of
//! them to the build: they were most of this crate's code (issue 3). Every
//! object now goes through [`decode`]: a `serde_json::Value`, with
//! `serde_ignored` reporting the fields the type does not know (kubectl's
//! strict field validation) and `serde_path_to_error` naming where a value
//! has the wrong type.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why an object could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Where in the object, as `spec.ports[0].port` (`.` for the object).
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path == "." {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The callback `serde_ignored` calls with each unknown field: one type
/// for every caller, so each Kubernetes type's deserializer is compiled
/// once.
type Unknown<'a> = &'a mut dyn FnMut(serde_ignored::Path<'_>);

/// Decodes `value` as a `T`; the paths of fields `T` does not know are
/// pushed onto `unknown` (`spec.colour`; Option layers are left out).
pub fn decode<T: DeserializeOwned>(
    value: Value,
    unknown: &mut Vec<String>,
) -> Result<T, DecodeError> {
    let mut note = |p: serde_ignored::Path<'_>| {
        let path = p.to_string();
        // serde_ignored writes `?` for Option layers: `spec.?.colour`.
        let path: Vec<&str> = path.split('.').filter(|s| *s != "?").collect();
        unknown.push(path.join("."));
    };
    let mut callback: Unknown<'_> = &mut note;
    let de = serde_ignored::Deserializer::new(value, &mut callback);
    serde_path_to_error::deserialize(de).map_err(|e| DecodeError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_reported_with_their_path() {
        let mut unknown = Vec::new();
        let pod: Pod = decode(
            json!({"metadata": {"name": "a", "colour": 1}, "spec": {"containers": [], "speed": 2}}),
            &mut unknown,
        )
        .unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("a"));
        assert_eq!(unknown, ["metadata.colour", "spec.speed"]);
    }

    #[test]
    fn a_wrong_type_names_its_path() {
        let e = decode::<Pod>(
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": "x"}]}]}}),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(e.path, "spec.containers[0].ports[0].containerPort");
        assert!(e.message.contains("invalid type"), "{e}");
    }
}
