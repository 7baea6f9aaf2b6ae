//! Deployment manifests generated from the Rust types: the Nodus CRDs
//! (`Network`, `ProviderNetwork`, `NetworkChaining`) with OpenAPI v3
//! schemas from schemars, made structural as kube's `CustomResource`
//! derive makes them. `deploy/crds.yaml` is this output; `tests/deploy.rs`
//! checks it is current (`UPDATE_DEPLOY=1` rewrites it). Multus' NAD CRD
//! is Multus' to install.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion, CustomResourceSubresourceStatus, CustomResourceSubresources,
    CustomResourceValidation, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde_json::json;

use crate::nodus::crd::{NetworkChainingSpec, NetworkSpec, ProviderNetworkSpec};

/// The OpenAPI v3 schema of a spec type, structural (inlined, no `$schema`,
/// nullable options, as kube-derive generates it).
fn spec_schema<T: JsonSchema>() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube_core::schema::StructuralSchemaRewriter)
        .with_transform(kube_core::schema::OptionalEnum)
        .with_transform(kube_core::schema::OptionalIntOrString)
        .into_generator();
    let mut v = serde_json::to_value(generator.into_root_schema_for::<T>()).expect("schema");
    if let Some(m) = v.as_object_mut() {
        m.remove("title");
    }
    v
}

fn crd<T: JsonSchema>(
    kind: &str,
    plural: &str,
    singular: &str,
    description: &str,
) -> CustomResourceDefinition {
    let group = crate::run::resources::NODUS_GROUP;
    let schema = json!({
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "spec": spec_schema::<T>(),
            "status": {
                "type": "object",
                "nullable": true,
                "description": "Written by ovnflow k8s run: state Created, or CreateInternalError with a message.",
                "x-kubernetes-preserve-unknown-fields": true
            }
        }
    });
    let schema: JSONSchemaProps = serde_json::from_value(schema).expect("valid JSONSchemaProps");
    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{plural}.{group}")),
            ..Default::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: group.into(),
            names: CustomResourceDefinitionNames {
                kind: kind.into(),
                plural: plural.into(),
                singular: Some(singular.into()),
                list_kind: Some(format!("{kind}List")),
                ..Default::default()
            },
            scope: "Namespaced".into(),
            versions: vec![CustomResourceDefinitionVersion {
                name: "v1alpha1".into(),
                served: true,
                storage: true,
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(schema),
                }),
                subresources: Some(CustomResourceSubresources {
                    status: Some(CustomResourceSubresourceStatus(json!({}))),
                    scale: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        },
        status: None,
    }
}

/// The Nodus CRDs.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        crd::<NetworkSpec>(
            "Network",
            "networks",
            "network",
            "A Nodus virtual network: a logical switch attached to the Nodus router.",
        ),
        crd::<ProviderNetworkSpec>(
            "ProviderNetwork",
            "providernetworks",
            "providernetwork",
            "A Nodus provider network: a logical switch bridged to a node NIC (VLAN or direct).",
        ),
        crd::<NetworkChainingSpec>(
            "NetworkChaining",
            "networkchainings",
            "networkchaining",
            "A Nodus service-function chain between two sets of networks.",
        ),
    ]
}

/// `deploy/crds.yaml`: the CRDs as a multi-document YAML file.
pub fn crds_yaml() -> String {
    let mut out = String::from(
        "# Generated from the Rust types by ovnflow-k8s-bridge (src/deploy.rs);\n# do not edit: UPDATE_DEPLOY=1 cargo test -p ovnflow-k8s-bridge --test deploy\n",
    );
    for c in crds() {
        let mut v = serde_json::to_value(&c).expect("CRD serializes");
        v["apiVersion"] = json!("apiextensions.k8s.io/v1");
        v["kind"] = json!("CustomResourceDefinition");
        // apiVersion and kind first, as kubectl prints them.
        let mut ordered = serde_json::Map::new();
        for k in ["apiVersion", "kind", "metadata", "spec"] {
            if let Some(x) = v.get(k) {
                ordered.insert(k.into(), x.clone());
            }
        }
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&ordered).expect("YAML"));
    }
    out
}
