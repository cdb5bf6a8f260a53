//! Kinds the loader reads but no policy judges: API versions that no supported cluster serves any
//! more, and configuration files that look like manifests but are read by tools, not by the API
//! server (Kustomize, kpt, Skaffold, Helm, JSON 6902 patches).

/// An API version (of some kinds) that Kubernetes removed, and what replaces it.
struct Removed {
    api_version: &'static str,
    /// The kinds concerned; empty for every kind of the version.
    kinds: &'static [&'static str],
    /// The Kubernetes release that stopped serving it.
    release: &'static str,
    /// The apiVersion to use instead, or how to replace the kind when nothing does.
    replacement: &'static str,
}

const WORKLOADS: &[&str] = &["Deployment", "DaemonSet", "ReplicaSet", "StatefulSet"];
const FLOW_CONTROL: &str = "flowcontrol.apiserver.k8s.io/v1";

/// From the Kubernetes deprecated API migration guide
/// (<https://kubernetes.io/docs/reference/using-api/deprecation-guide/>). More specific rows
/// (with kinds) come before the version-wide ones.
const REMOVED: &[Removed] = &[
    Removed {
        api_version: "extensions/v1beta1",
        kinds: &["Ingress", "NetworkPolicy"],
        release: "1.22",
        replacement: "networking.k8s.io/v1",
    },
    Removed {
        api_version: "extensions/v1beta1",
        kinds: &["PodSecurityPolicy"],
        release: "1.25",
        replacement: "nothing: use Pod Security Admission",
    },
    Removed {
        api_version: "extensions/v1beta1",
        kinds: WORKLOADS,
        release: "1.16",
        replacement: "apps/v1",
    },
    Removed {
        api_version: "apps/v1beta1",
        kinds: &[],
        release: "1.16",
        replacement: "apps/v1",
    },
    Removed {
        api_version: "apps/v1beta2",
        kinds: &[],
        release: "1.16",
        replacement: "apps/v1",
    },
    Removed {
        api_version: "batch/v1beta1",
        kinds: &["CronJob"],
        release: "1.25",
        replacement: "batch/v1",
    },
    Removed {
        api_version: "batch/v2alpha1",
        kinds: &["CronJob"],
        release: "1.21",
        replacement: "batch/v1",
    },
    Removed {
        api_version: "policy/v1beta1",
        kinds: &["PodSecurityPolicy"],
        release: "1.25",
        replacement: "nothing: use Pod Security Admission",
    },
    Removed {
        api_version: "policy/v1beta1",
        kinds: &["PodDisruptionBudget"],
        release: "1.25",
        replacement: "policy/v1",
    },
    Removed {
        api_version: "rbac.authorization.k8s.io/v1beta1",
        kinds: &[],
        release: "1.22",
        replacement: "rbac.authorization.k8s.io/v1",
    },
    Removed {
        api_version: "rbac.authorization.k8s.io/v1alpha1",
        kinds: &[],
        release: "1.22",
        replacement: "rbac.authorization.k8s.io/v1",
    },
    Removed {
        api_version: "networking.k8s.io/v1beta1",
        kinds: &["Ingress", "IngressClass"],
        release: "1.22",
        replacement: "networking.k8s.io/v1",
    },
    Removed {
        api_version: "admissionregistration.k8s.io/v1beta1",
        kinds: &[],
        release: "1.22",
        replacement: "admissionregistration.k8s.io/v1",
    },
    Removed {
        api_version: "apiextensions.k8s.io/v1beta1",
        kinds: &[],
        release: "1.22",
        replacement: "apiextensions.k8s.io/v1",
    },
    Removed {
        api_version: "apiregistration.k8s.io/v1beta1",
        kinds: &[],
        release: "1.22",
        replacement: "apiregistration.k8s.io/v1",
    },
    Removed {
        api_version: "certificates.k8s.io/v1beta1",
        kinds: &[],
        release: "1.22",
        replacement: "certificates.k8s.io/v1",
    },
    Removed {
        api_version: "coordination.k8s.io/v1beta1",
        kinds: &[],
        release: "1.22",
        replacement: "coordination.k8s.io/v1",
    },
    Removed {
        api_version: "scheduling.k8s.io/v1beta1",
        kinds: &[],
        release: "1.22",
        replacement: "scheduling.k8s.io/v1",
    },
    Removed {
        api_version: "storage.k8s.io/v1beta1",
        kinds: &[],
        release: "1.22",
        replacement: "storage.k8s.io/v1",
    },
    Removed {
        api_version: "discovery.k8s.io/v1beta1",
        kinds: &[],
        release: "1.25",
        replacement: "discovery.k8s.io/v1",
    },
    Removed {
        api_version: "events.k8s.io/v1beta1",
        kinds: &[],
        release: "1.25",
        replacement: "events.k8s.io/v1",
    },
    Removed {
        api_version: "node.k8s.io/v1beta1",
        kinds: &[],
        release: "1.25",
        replacement: "node.k8s.io/v1",
    },
    Removed {
        api_version: "autoscaling/v2beta1",
        kinds: &[],
        release: "1.25",
        replacement: "autoscaling/v2",
    },
    Removed {
        api_version: "autoscaling/v2beta2",
        kinds: &[],
        release: "1.26",
        replacement: "autoscaling/v2",
    },
    Removed {
        api_version: "flowcontrol.apiserver.k8s.io/v1beta1",
        kinds: &[],
        release: "1.26",
        replacement: FLOW_CONTROL,
    },
    Removed {
        api_version: "flowcontrol.apiserver.k8s.io/v1beta2",
        kinds: &[],
        release: "1.29",
        replacement: FLOW_CONTROL,
    },
    Removed {
        api_version: "flowcontrol.apiserver.k8s.io/v1beta3",
        kinds: &[],
        release: "1.32",
        replacement: FLOW_CONTROL,
    },
];

/// The notice for an object whose apiVersion no supported cluster serves, if it is one.
///
/// ```text
/// batch/v1beta1 CronJob was removed in Kubernetes 1.25: no cluster serves it, so no policy
/// judges it; use batch/v1
/// ```
pub(crate) fn removed_api(api_version: &str, kind: &str) -> Option<String> {
    let row = REMOVED.iter().find(|r| {
        r.api_version == api_version && (r.kinds.is_empty() || r.kinds.contains(&kind))
    })?;
    let instead = match row.replacement.strip_prefix("nothing: ") {
        Some(how) => format!("nothing replaces it: {how}"),
        None => format!("use apiVersion {}", row.replacement),
    };
    Some(format!(
        "{api_version} {kind} was removed in Kubernetes {}: no cluster serves it, so no policy judges it; {instead}",
        row.release
    ))
}

/// What a document is when it is a tool's configuration rather than a Kubernetes object: a
/// known non-resource kind, or a file without `kind` that Helm reads.
pub(crate) fn non_resource(file: &str, api_version: &str, kind: &str) -> Option<&'static str> {
    let group = api_version.split('/').next().unwrap_or_default();
    match (group, kind) {
        ("kustomize.config.k8s.io", "Kustomization") => Some("a Kustomize kustomization"),
        ("kustomize.config.k8s.io", "Component") => Some("a Kustomize component"),
        ("kpt.dev", "Kptfile") => Some("a kpt Kptfile"),
        ("skaffold", "Config") => Some("a Skaffold configuration"),
        (_, "") => Some(kindless(file)),
        _ => None,
    }
}

/// What a document is when it is a JSON 6902 patch list (a kustomization's `patchesJson6902` or
/// `patches` target), which kustomize applies and the API server never sees.
pub(crate) const JSON_PATCH: &str = "a JSON 6902 patch";

/// Whether a top-level sequence is a JSON 6902 patch: not empty, and every item a mapping with a
/// string `op` and a string `path` (RFC 6902 requires both on every operation).
pub(crate) fn is_json_patch(items: &[serde_json::Value]) -> bool {
    !items.is_empty()
        && items.iter().all(|item| {
            ["op", "path"]
                .iter()
                .all(|key| item.get(key).is_some_and(serde_json::Value::is_string))
        })
}

/// What a document without `kind` is, judged by its file name.
fn kindless(file: &str) -> &'static str {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let lower = name.to_ascii_lowercase();
    if lower == "chart.yaml" || lower == "chart.yml" {
        "Helm chart metadata (Chart.yaml)"
    } else if lower.starts_with("values") && (lower.ends_with(".yaml") || lower.ends_with(".yml")) {
        "a Helm values file"
    } else if lower.starts_with("kustomization.") {
        "a Kustomize kustomization"
    } else {
        "a document without kind"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::cronjob("batch/v1beta1", "CronJob", Some("use apiVersion batch/v1"))]
    #[case::extensions_deployment(
        "extensions/v1beta1",
        "Deployment",
        Some("use apiVersion apps/v1")
    )]
    #[case::extensions_ingress("extensions/v1beta1", "Ingress", Some("networking.k8s.io/v1"))]
    #[case::psp("policy/v1beta1", "PodSecurityPolicy", Some("Pod Security Admission"))]
    #[case::pdb(
        "policy/v1beta1",
        "PodDisruptionBudget",
        Some("use apiVersion policy/v1")
    )]
    #[case::rbac_any_kind(
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRoleBinding",
        Some("1.22")
    )]
    #[case::served("batch/v1", "CronJob", None)]
    #[case::other_kind_of_the_version("batch/v1beta1", "Widget", None)]
    fn removed_versions_name_their_replacement(
        #[case] api_version: &str,
        #[case] kind: &str,
        #[case] expected: Option<&str>,
    ) {
        let notice = removed_api(api_version, kind);
        match expected {
            Some(part) => assert!(notice.as_deref().unwrap().contains(part), "{notice:?}"),
            None => assert_eq!(notice, None),
        }
    }

    #[rstest]
    #[case::kustomization(
        "x.yaml",
        "kustomize.config.k8s.io/v1beta1",
        "Kustomization",
        Some("a Kustomize kustomization")
    )]
    #[case::chart(
        "charts/a/Chart.yaml",
        "v2",
        "",
        Some("Helm chart metadata (Chart.yaml)")
    )]
    #[case::values("charts/a/values-prod.yaml", "", "", Some("a Helm values file"))]
    #[case::kindless("ci.yaml", "", "", Some("a document without kind"))]
    #[case::kubeconfig_is_judged("kubeconfig", "v1", "Config", None)]
    #[case::deployment("d.yaml", "apps/v1", "Deployment", None)]
    fn non_resources_are_named(
        #[case] file: &str,
        #[case] api_version: &str,
        #[case] kind: &str,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(non_resource(file, api_version, kind), expected);
    }

    #[rstest]
    #[case::add_and_replace(
        r#"[{"op":"add","path":"/x","value":1},{"op":"replace","path":"/y","value":2}]"#,
        true
    )]
    #[case::remove_without_value(r#"[{"op":"remove","path":"/x"}]"#, true)]
    #[case::an_item_without_path(r#"[{"op":"add","path":"/x"},{"op":"add","value":1}]"#, false)]
    #[case::an_object_in_the_list(
        r#"[{"op":"add","path":"/x"},{"apiVersion":"v1","kind":"Pod"}]"#,
        false
    )]
    #[case::op_not_a_string(r#"[{"op":1,"path":"/x"}]"#, false)]
    #[case::a_scalar_item(r#"[{"op":"add","path":"/x"},"add"]"#, false)]
    #[case::empty(r#"[]"#, false)]
    fn json_patches_are_told_from_lists_of_objects(#[case] list: &str, #[case] expected: bool) {
        let items: Vec<serde_json::Value> = serde_json::from_str(list).unwrap();
        assert_eq!(is_json_patch(&items), expected);
    }
}
