//! Long-lived ServiceAccount token Secrets (`type: kubernetes.io/service-account-token`).
//!
//! The API server fills such a Secret with a token that never expires and is only revoked by
//! deleting the Secret. Kubernetes stopped creating them automatically in 1.24; pods get
//! short-lived projected tokens instead.

use crate::Settings;
use aksid_policy_common::{Violation, json};
use serde_json::Value;

/// The Secret type that asks the API server for a long-lived token.
pub(crate) const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
/// The annotation naming the ServiceAccount the token is for.
const SERVICE_ACCOUNT_ANNOTATION: &str = "kubernetes.io/service-account.name";

/// Judges a Secret admitted in `namespace`.
pub(crate) fn validate_secret(
    secret: &Value,
    namespace: &str,
    name: &str,
    settings: &Settings,
) -> Option<Violation> {
    if json::str_at(secret, &["type"]) != Some(TOKEN_TYPE)
        || settings
            .service_account_token_secrets
            .exempts(namespace, name)
    {
        return None;
    }
    let annotations = json::annotations(secret);
    let account = service_account_name(annotations);
    let subject = match account {
        Some(account) => format!("ServiceAccount {account}"),
        None => format!(
            "the ServiceAccount named by annotation {SERVICE_ACCOUNT_ANNOTATION} (not found)"
        ),
    };
    let malformed = match annotations {
        Some(value) if !value.is_object() && !value.is_null() => format!(
            " (metadata.annotations is {}, not a map: the API server refuses this manifest as written)",
            json::type_name(value)
        ),
        _ => String::new(),
    };
    let create_token = format!(
        "kubectl create token {}",
        account.unwrap_or("<service-account>")
    );
    Some(
        Violation::new(
            "type",
            format!(
                "{TOKEN_TYPE} makes the API server store a long-lived token for {subject} in this Secret; \
                 it never expires and works until the Secret is deleted{malformed}"
            ),
        )
        .fix(format!(
            "delete the Secret and use short-lived tokens: a projected serviceAccountToken volume in the pod, or \
             `{create_token}` for a client outside the cluster; to reach Azure, use Microsoft Entra Workload ID. \
             A legacy integration that cannot do without it can be exempted with the settings \
             serviceAccountTokenSecrets.exemptNames or exemptNamespaces"
        )),
    )
}

/// The ServiceAccount named by the annotation. A list of maps (a common YAML slip, as in the
/// upstream `mysecretname.yaml` example) is searched too, one level deep, so the message can
/// still name the account.
fn service_account_name(annotations: Option<&Value>) -> Option<&str> {
    fn from_map(map: &Value) -> Option<&str> {
        json::str_at(map, &[SERVICE_ACCOUNT_ANNOTATION]).filter(|s| !s.is_empty())
    }
    match annotations? {
        Value::Array(items) => items.iter().find_map(from_map),
        other => from_map(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::settings::Exemptions;
    use rstest::rstest;
    use serde_json::json;

    fn exempting(namespaces: &[&str], names: &[&str]) -> Settings {
        Settings {
            service_account_token_secrets: Exemptions {
                exempt_namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
                exempt_names: names.iter().map(|s| s.to_string()).collect(),
            },
            ..Settings::default()
        }
    }

    #[rstest]
    #[case::token_secret(json!({"type": TOKEN_TYPE, "metadata": {"annotations": {SERVICE_ACCOUNT_ANNOTATION: "build-robot"}}}),
        Settings::default(), Some("long-lived token for ServiceAccount build-robot"))]
    #[case::annotations_malformed_as_list(json!({"type": TOKEN_TYPE,
        "metadata": {"annotations": [{SERVICE_ACCOUNT_ANNOTATION: "myserviceaccount"}]}}), Settings::default(),
        Some("for ServiceAccount myserviceaccount in this Secret; it never expires and works until the Secret is deleted (metadata.annotations is a list, not a map"))]
    #[case::annotations_a_string(json!({"type": TOKEN_TYPE, "metadata": {"annotations": "x"}}), Settings::default(),
        Some("named by annotation kubernetes.io/service-account.name (not found)"))]
    #[case::no_metadata(json!({"type": TOKEN_TYPE}), Settings::default(), Some("(not found)"))]
    #[case::opaque(json!({"type": "Opaque"}), Settings::default(), None)]
    #[case::no_type(json!({"data": {"token": "eA=="}}), Settings::default(), None)]
    #[case::type_of_wrong_type(json!({"type": [TOKEN_TYPE]}), Settings::default(), None)]
    #[case::exempt_namespace(json!({"type": TOKEN_TYPE}), exempting(&["legacy-ci"], &[]), None)]
    #[case::exempt_name_prefix(json!({"type": TOKEN_TYPE}), exempting(&[], &["jenkins-*"]), None)]
    #[case::other_namespace_not_exempt(json!({"type": TOKEN_TYPE}), exempting(&["other"], &["jenkins"]), Some("long-lived token"))]
    fn token_secrets(
        #[case] secret: Value,
        #[case] settings: Settings,
        #[case] expected: Option<&str>,
    ) {
        let violation = validate_secret(&secret, "legacy-ci", "jenkins-token", &settings)
            .map(|v| v.to_string());
        match (violation, expected) {
            (None, None) => {}
            (Some(message), Some(part)) => {
                assert!(
                    message.starts_with("type: kubernetes.io/service-account-token makes"),
                    "{message}"
                );
                assert!(
                    message.contains(part),
                    "expected `{part}` in:\n```\n{message}\n```"
                );
            }
            (got, want) => panic!("expected {want:?}, got {got:?}"),
        }
    }

    #[test]
    fn fix_names_the_service_account_and_never_the_token() {
        let secret = json!({"type": TOKEN_TYPE, "data": {"token": "c2VjcmV0LXZhbHVl"},
            "metadata": {"annotations": {SERVICE_ACCOUNT_ANNOTATION: "build-robot"}}});
        let message = validate_secret(&secret, "ci", "t", &Settings::default())
            .unwrap()
            .to_string();
        assert!(
            message.contains("`kubectl create token build-robot`"),
            "{message}"
        );
        assert!(!message.contains("c2VjcmV0LXZhbHVl"), "{message}");
    }
}
