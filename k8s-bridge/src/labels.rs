//! Kubernetes label selectors: matching, and ovn-kubernetes'
//! `shortLabelSelectorString`, which keys shared pod-selector address sets.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `sel` selects an object with `labels`. An operator other than
/// In, NotIn, Exists and DoesNotExist is an error (the API server rejects
/// it too).
pub fn matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    for (k, v) in sel.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return Ok(false);
        }
    }
    for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
        let values = e.values.as_deref().unwrap_or_default();
        let have = labels.get(&e.key);
        let ok = match e.operator.as_str() {
            "In" => have.is_some_and(|h| values.contains(h)),
            "NotIn" => !have.is_some_and(|h| values.contains(h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            op => {
                return Err(format!(
                "matchExpressions[{i}].operator: {op:?} is not In, NotIn, Exists or DoesNotExist"
            ))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether a selector is empty (selects everything).
pub fn is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|m| m.is_empty())
}

/// ovn-kubernetes' `shortLabelSelectorString`: `LS{ML:{k: v,},ME:{LSR{…}},}`
/// with labels and expressions sorted, so equal selectors give equal keys.
pub fn short_string(sel: Option<&LabelSelector>) -> String {
    let Some(sel) = sel else {
        return "nil".into();
    };
    let mut s = String::from("LS{");
    let labels = sel.match_labels.clone().unwrap_or_default();
    if !labels.is_empty() {
        s.push_str("ML:{");
        for (k, v) in &labels {
            s.push_str(&format!("{k}: {v},"));
        }
        s.push_str("},");
    }
    let exprs = sel.match_expressions.as_deref().unwrap_or_default();
    if !exprs.is_empty() {
        let mut items: Vec<String> = exprs
            .iter()
            .map(|e| {
                let mut vals = e.values.clone().unwrap_or_default();
                vals.sort();
                format!(
                    "LSR{{Key:{},Operator:{},Values:[{}],}}",
                    e.key,
                    e.operator,
                    vals.join(" ")
                )
            })
            .collect();
        items.sort();
        s.push_str("ME:{");
        s.push_str(&items.join(","));
        s.push_str("},");
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn short_string_as_ovn_kubernetes() {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "demo".to_string())].into()),
            match_expressions: None,
        };
        assert_eq!(short_string(Some(&sel)), "LS{ML:{app: demo,},}");
        let sel = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "In".into(),
                values: Some(vec!["b".into(), "a".into()]),
            }]),
        };
        assert_eq!(
            short_string(Some(&sel)),
            "LS{ME:{LSR{Key:k,Operator:In,Values:[a b],}},}"
        );
        assert_eq!(short_string(None), "nil");
        assert_eq!(short_string(Some(&LabelSelector::default())), "LS{}");
    }
}
