//! Reading manifests as `kubectl apply -f` does: files or directories
//! (`.yaml`, `.yml`, `.json`; directories non-recursively unless asked),
//! multi-document YAML, JSON, and `List` objects. Unknown fields and kinds
//! are errors naming the file, document, line and field, as kubectl's
//! strict field validation reports them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::decode::decode;
use crate::error::{Error, Result, Source};
use crate::nodus::crd::{Network, NetworkAttachmentDefinition, NetworkChaining, ProviderNetwork};

/// An object with the place it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Sourced<T> {
    /// The object.
    pub obj: T,
    /// Where it was read.
    pub source: Source,
}

/// The Kubernetes objects the bridge translates, keyed by name
/// (`namespace/name` for namespaced kinds), so iteration is sorted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, Sourced<Namespace>>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Sourced<Node>>,
    /// Pods by `namespace/name`.
    pub pods: BTreeMap<String, Sourced<Pod>>,
    /// Services by `namespace/name`.
    pub services: BTreeMap<String, Sourced<Service>>,
    /// EndpointSlices by `namespace/name`.
    pub endpoint_slices: BTreeMap<String, Sourced<EndpointSlice>>,
    /// NetworkPolicies by `namespace/name`.
    pub network_policies: BTreeMap<String, Sourced<NetworkPolicy>>,
    /// Nodus virtual networks by name (their switch names are cluster-wide,
    /// so the name is the key whatever the namespace).
    pub networks: BTreeMap<String, Sourced<Network>>,
    /// Nodus provider networks by name (cluster-wide, as networks).
    pub provider_networks: BTreeMap<String, Sourced<ProviderNetwork>>,
    /// Nodus chains by `namespace/name`.
    pub chains: BTreeMap<String, Sourced<NetworkChaining>>,
    /// Multus network attachment definitions by `namespace/name`.
    pub nads: BTreeMap<String, Sourced<NetworkAttachmentDefinition>>,
}

/// The kinds this bridge reads, as `(apiVersion, kind)`.
pub const KINDS: &[(&str, &str)] = &[
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("k8s.plugin.opnfv.org/v1alpha1", "Network"),
    ("k8s.plugin.opnfv.org/v1alpha1", "ProviderNetwork"),
    ("k8s.plugin.opnfv.org/v1alpha1", "NetworkChaining"),
    ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition"),
    ("v1", "List"),
];

impl Objects {
    /// The identities of all objects, as `Kind/name` or
    /// `Kind/namespace/name` (the owner prefixes of [`crate::model::RowId`]).
    pub fn identities(&self) -> Vec<String> {
        let mut v = Vec::new();
        v.extend(self.namespaces.keys().map(|k| format!("Namespace/{k}")));
        v.extend(self.nodes.keys().map(|k| format!("Node/{k}")));
        v.extend(self.pods.keys().map(|k| format!("Pod/{k}")));
        v.extend(self.services.keys().map(|k| format!("Service/{k}")));
        v.extend(
            self.endpoint_slices
                .keys()
                .map(|k| format!("EndpointSlice/{k}")),
        );
        v.extend(
            self.network_policies
                .keys()
                .map(|k| format!("NetworkPolicy/{k}")),
        );
        v.extend(self.networks.keys().map(|k| format!("Network/{k}")));
        v.extend(
            self.provider_networks
                .keys()
                .map(|k| format!("ProviderNetwork/{k}")),
        );
        v.extend(self.chains.keys().map(|k| format!("NetworkChaining/{k}")));
        v.extend(
            self.nads
                .keys()
                .map(|k| format!("NetworkAttachmentDefinition/{k}")),
        );
        v
    }

    /// Reads files and directories (`-` is standard input).
    pub fn read_paths(paths: &[PathBuf], recursive: bool) -> Result<Objects> {
        let mut objs = Objects::default();
        for p in paths {
            if p.as_os_str() == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| {
                    Error::Io {
                        path: "-".into(),
                        message: e.to_string(),
                    }
                })?;
                objs.add_text("-", &text)?;
            } else {
                objs.read_path(p, recursive, true)?;
            }
        }
        Ok(objs)
    }

    fn read_path(&mut self, p: &Path, recursive: bool, top: bool) -> Result<()> {
        let io = |e: std::io::Error| Error::Io {
            path: p.display().to_string(),
            message: e.to_string(),
        };
        let meta = std::fs::metadata(p).map_err(io)?;
        if meta.is_dir() {
            if !top && !recursive {
                return Ok(());
            }
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(io)?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()
                .map_err(io)?;
            entries.sort();
            for e in entries {
                let is_manifest = matches!(
                    e.extension().and_then(|x| x.to_str()),
                    Some("yaml" | "yml" | "json")
                );
                if e.is_dir() || is_manifest {
                    self.read_path(&e, recursive, false)?;
                }
            }
            Ok(())
        } else {
            let text = std::fs::read_to_string(p).map_err(io)?;
            self.add_text(&p.display().to_string(), &text)
        }
    }

    /// Adds the objects of one file's text (YAML documents or JSON).
    pub fn add_text(&mut self, file: &str, text: &str) -> Result<()> {
        for (doc, line, body) in split_documents(text) {
            let source = Source {
                file: file.to_string(),
                doc,
                line,
            };
            // YAML read as JSON values, as kubectl converts it to JSON: a
            // number where a string belongs is an error, as there.
            let value: Value =
                serde_yaml_ng::from_str(body).map_err(|e| parse_error(&source, &e))?;
            if value.is_null() {
                continue; // an empty document
            }
            self.add_value(&source, Some(body), value)?;
        }
        Ok(())
    }

    /// Adds one object; `text` is its document, for line numbers in errors.
    fn add_value(&mut self, source: &Source, text: Option<&str>, value: Value) -> Result<()> {
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let (api, kind) = match (field("apiVersion"), field("kind")) {
            (Some(a), Some(k)) => (a, k),
            _ => {
                return Err(Error::Parse {
                    at: source.clone(),
                    message: "not a Kubernetes object: apiVersion and kind are required".into(),
                })
            }
        };
        macro_rules! typed {
            ($ty:ty) => {
                typed::<$ty>(source, text.unwrap_or(""), value)?
            };
        }
        match (api.as_str(), kind.as_str()) {
            ("v1", "List") => {
                let items = match value {
                    Value::Object(mut o) => match o.remove("items") {
                        Some(Value::Array(items)) => items,
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                };
                for (i, item) in items.into_iter().enumerate() {
                    let mut s = source.clone();
                    s.file = format!("{} (List item {})", source.file, i);
                    self.add_value(&s, None, item)?;
                }
                Ok(())
            }
            ("v1", "Namespace") => {
                let o: Namespace = typed!(Namespace);
                let k = key(source, &kind, &o.metadata, false)?;
                insert(&mut self.namespaces, k, o, source, &kind)
            }
            ("v1", "Node") => {
                let o: Node = typed!(Node);
                let k = key(source, &kind, &o.metadata, false)?;
                insert(&mut self.nodes, k, o, source, &kind)
            }
            ("v1", "Pod") => {
                let o: Pod = typed!(Pod);
                let k = key(source, &kind, &o.metadata, true)?;
                insert(&mut self.pods, k, o, source, &kind)
            }
            ("v1", "Service") => {
                let o: Service = typed!(Service);
                let k = key(source, &kind, &o.metadata, true)?;
                insert(&mut self.services, k, o, source, &kind)
            }
            ("discovery.k8s.io/v1", "EndpointSlice") => {
                let o: EndpointSlice = typed!(EndpointSlice);
                let k = key(source, &kind, &o.metadata, true)?;
                insert(&mut self.endpoint_slices, k, o, source, &kind)
            }
            ("networking.k8s.io/v1", "NetworkPolicy") => {
                let o: NetworkPolicy = typed!(NetworkPolicy);
                let k = key(source, &kind, &o.metadata, true)?;
                insert(&mut self.network_policies, k, o, source, &kind)
            }
            ("k8s.plugin.opnfv.org/v1alpha1", "Network") => {
                let o: Network = typed!(Network);
                let k = key(source, &kind, &o.metadata, false)?;
                self.check_network_name(source, &kind, &k)?;
                insert(&mut self.networks, k, o, source, &kind)
            }
            ("k8s.plugin.opnfv.org/v1alpha1", "ProviderNetwork") => {
                let o: ProviderNetwork = typed!(ProviderNetwork);
                let k = key(source, &kind, &o.metadata, false)?;
                self.check_network_name(source, &kind, &k)?;
                insert(&mut self.provider_networks, k, o, source, &kind)
            }
            ("k8s.plugin.opnfv.org/v1alpha1", "NetworkChaining") => {
                let o: NetworkChaining = typed!(NetworkChaining);
                let k = key(source, &kind, &o.metadata, true)?;
                insert(&mut self.chains, k, o, source, &kind)
            }
            ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition") => {
                let o: NetworkAttachmentDefinition = typed!(NetworkAttachmentDefinition);
                let k = key(source, &kind, &o.metadata, true)?;
                insert(&mut self.nads, k, o, source, &kind)
            }
            _ => Err(Error::Parse {
                at: source.clone(),
                message: format!(
                    "unsupported kind {kind} (apiVersion {api}); supported: {}",
                    KINDS
                        .iter()
                        .map(|(a, k)| format!("{a} {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
}

impl Objects {
    /// A Network and a ProviderNetwork share the switch namespace: one
    /// name cannot be both.
    fn check_network_name(&self, source: &Source, kind: &str, name: &str) -> Result<()> {
        let other = if kind == "Network" {
            self.provider_networks.get(name).map(|o| &o.source)
        } else {
            self.networks.get(name).map(|o| &o.source)
        };
        match other {
            Some(prev) => Err(Error::Parse {
                at: source.clone(),
                message: format!(
                    "{kind} {name}: a network of that name is already defined at {prev}"
                ),
            }),
            None => Ok(()),
        }
    }
}

/// The namespace of a namespaced object (`default` when unset).
pub fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
}

fn key(source: &Source, kind: &str, meta: &ObjectMeta, namespaced: bool) -> Result<String> {
    let name = meta
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::Parse {
            at: source.clone(),
            message: format!("{kind}: metadata.name is required"),
        })?;
    Ok(if namespaced {
        format!("{}/{name}", namespace_of(meta))
    } else {
        name.to_string()
    })
}

fn insert<T>(
    map: &mut BTreeMap<String, Sourced<T>>,
    k: String,
    obj: T,
    source: &Source,
    kind: &str,
) -> Result<()> {
    if let Some(prev) = map.get(&k) {
        return Err(Error::Parse {
            at: source.clone(),
            message: format!("{kind} {k} is already defined at {}", prev.source),
        });
    }
    map.insert(
        k,
        Sourced {
            obj,
            source: source.clone(),
        },
    );
    Ok(())
}

/// Deserializes a typed object, rejecting fields the type does not know
/// (kubectl's strict field validation); errors name the line of the field
/// when `text`, the object's document, shows it.
fn typed<T: DeserializeOwned>(source: &Source, text: &str, value: Value) -> Result<T> {
    let mut unknown = Vec::new();
    let obj: T = decode(value, &mut unknown).map_err(|e| Error::Parse {
        at: at_field(source, text, &e.path),
        message: e.to_string(),
    })?;
    if let Some(f) = unknown.first() {
        return Err(Error::Parse {
            at: at_field(source, text, f),
            message: format!("unknown field \"{f}\""),
        });
    }
    Ok(obj)
}

/// `source` at the line of the first key named as `path`'s last field
/// (`spec.ports[0].port`: `port`), when the document has one.
fn at_field(source: &Source, text: &str, path: &str) -> Source {
    let mut at = source.clone();
    let last = path.rsplit('.').next().unwrap_or("");
    let last = last.split('[').next().unwrap_or("");
    if last.is_empty() {
        return at;
    }
    let quoted = format!("\"{last}\"");
    let plain = format!("{last}:");
    if let Some(i) = text.lines().position(|l| {
        let l = l.trim_start().trim_start_matches("- ");
        l.starts_with(&plain) || l.starts_with(&quoted)
    }) {
        at.line = source.line + i;
    }
    at
}

fn parse_error(source: &Source, e: &serde_yaml_ng::Error) -> Error {
    let mut s = source.clone();
    if let Some(loc) = e.location() {
        s.line = source.line + loc.line() - 1;
    }
    Error::Parse {
        at: s,
        message: e.to_string(),
    }
}

/// Splits YAML text into documents at `---` lines: (1-based index, 1-based
/// first line, text). A JSON file is one document (JSON is YAML).
fn split_documents(text: &str) -> Vec<(usize, usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0; // byte offset of the current document
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            docs.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start..]));
    // Comment-only segments (a leading `---`, a trailing one) are no document.
    docs.into_iter()
        .filter(|(_, t)| {
            t.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .enumerate()
        .map(|(i, (l, t))| (i + 1, l, t))
        .collect()
}
