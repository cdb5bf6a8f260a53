//! ServiceAccount rules: the Workload ID annotations a ServiceAccount carries (client and
//! tenant IDs, token lifetime), misspelled or misplaced keys, and the deprecated `use` label.
//!
//! Also the one place that reads a ServiceAccount for the pod rules ([`WorkloadIdentity`]), so
//! "has a client ID" means the same thing everywhere.

use crate::Settings;
use crate::keys::{self, IdValue, KeyKind, Place};
use aksid_policy_common::{Verdict, Violation, json};
use serde_json::Value;

/// What a ServiceAccount says about Workload ID, as the webhook reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkloadIdentity {
    /// `azure.workload.identity/client-id` is set and not empty.
    pub(crate) has_client_id: bool,
    /// The pre-v1.0 `azure.workload.identity/use` label or annotation is set (not to "false").
    pub(crate) has_deprecated_use: bool,
}

impl WorkloadIdentity {
    /// Reads a ServiceAccount object.
    pub(crate) fn of(service_account: &Value) -> WorkloadIdentity {
        let annotations = || json::string_entries(json::annotations(service_account));
        let labels = || json::string_entries(json::labels(service_account));
        let deprecated_use = |(k, v): (&str, &str)| k == keys::USE && v.trim() != "false";
        WorkloadIdentity {
            has_client_id: annotations().any(|(k, v)| k == keys::CLIENT_ID && !v.trim().is_empty()),
            has_deprecated_use: labels().any(deprecated_use) || annotations().any(deprecated_use),
        }
    }
}

/// Judges a ServiceAccount.
pub(crate) fn validate_service_account(object: &Value, settings: &Settings, verdict: &mut Verdict) {
    let subject = subject(object);
    for (key, _) in json::string_entries(json::labels(object)) {
        check_key(
            key,
            Place::ServiceAccountLabel,
            "metadata.labels",
            &subject,
            verdict,
        );
    }
    for (key, value) in json::string_entries(json::annotations(object)) {
        let location = format!("metadata.annotations[{key:?}]");
        if check_key(
            key,
            Place::ServiceAccountAnnotation,
            "metadata.annotations",
            &subject,
            verdict,
        ) {
            match key {
                keys::CLIENT_ID => check_id(&location, "client ID", value, true, settings, verdict),
                keys::TENANT_ID => {
                    check_id(&location, "tenant ID", value, false, settings, verdict)
                }
                keys::TOKEN_EXPIRATION => {
                    check_token_expiration(&location, value, settings, verdict)
                }
                _ => {}
            }
        }
    }
}

/// `ServiceAccount <namespace>/<name>`, for warnings.
fn subject(object: &Value) -> String {
    let namespace = json::str_at(object, &["metadata", "namespace"]).unwrap_or("");
    match (namespace, json::name(object)) {
        ("", name) => format!("ServiceAccount {name}"),
        (namespace, name) => format!("ServiceAccount {namespace}/{name}"),
    }
}

/// Reports a misspelled, misplaced, deprecated or unknown key; true when the key is a known
/// one whose value should be checked.
fn check_key(key: &str, place: Place, map: &str, subject: &str, verdict: &mut Verdict) -> bool {
    let location = format!("{map}[{key:?}]");
    match keys::classify(key, place) {
        KeyKind::Known => return true,
        KeyKind::Other => {}
        KeyKind::DeprecatedOnServiceAccount => verdict.warn(format!(
            "{subject}: {location} has had no effect since Workload ID v1.0 (AKS release 2023-01-29): \
             the webhook only reads the pod label; put azure.workload.identity/use: \"true\" on the pod \
             templates of the workloads that use this ServiceAccount and remove it here"
        )),
        KeyKind::Misplaced(misplacement) => verdict.reject(
            Violation::new(location, misplacement.problem()).fix(match misplacement {
                keys::Misplacement::MustBeAnnotation => {
                    format!("move {key} from metadata.labels to metadata.annotations")
                }
                _ => format!(
                    "move {key} to the annotations of the pod template (spec.template.metadata.annotations) \
                     of the workloads that use this ServiceAccount"
                ),
            }),
        ),
        KeyKind::Misspelled(right) => verdict.reject(
            Violation::new(location, "is not a key the Workload ID webhook reads, so it is ignored")
                .fix(format!("did you mean {right}? Rename the key")),
        ),
        KeyKind::Unknown => verdict.warn(format!(
            "{subject}: {location} is not a key the Workload ID webhook reads (known keys: {})",
            keys::known_keys()
        )),
    }
    false
}

/// Client and tenant IDs must be GUIDs; placeholders are unknown unless `rejectPlaceholders`.
fn check_id(
    location: &str,
    what: &str,
    value: &str,
    required: bool,
    settings: &Settings,
    verdict: &mut Verdict,
) {
    let fix = format!(
        "set it to the {what} of the user-assigned managed identity or app registration, a GUID \
         such as 00000000-0000-0000-0000-000000000000 (az identity show --query {})",
        if required { "clientId" } else { "tenantId" }
    );
    match keys::read_id(value) {
        IdValue::Guid => {}
        // An empty tenant ID means the cluster's tenant, as if the annotation were absent.
        IdValue::Empty if !required => {}
        IdValue::Empty => verdict.reject(
            Violation::new(location, "is empty, so the webhook injects no AZURE_CLIENT_ID and token exchange fails")
                .fix(fix),
        ),
        IdValue::Placeholder => keys::placeholder(location, value, &fix, settings, verdict),
        IdValue::Invalid => verdict.reject(
            Violation::new(
                location,
                format!(
                    "{} is not a GUID; Entra ID rejects the token exchange for pods using this ServiceAccount",
                    keys::quote(value)
                ),
            )
            .fix(fix),
        ),
    }
}

fn check_token_expiration(location: &str, value: &str, settings: &Settings, verdict: &mut Verdict) {
    let fix = "set a whole number of seconds from 3600 to 86400, or remove the annotation for the default 3600";
    match keys::check_token_expiration(value) {
        Ok(()) => {}
        Err(Some(problem)) => verdict
            .reject(Violation::new(location, format!("{} {problem}", keys::quote(value))).fix(fix)),
        Err(None) => keys::placeholder(location, value, fix, settings, verdict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::testing::assert_verdict;
    use rstest::rstest;
    use serde_json::json;

    fn service_account(labels: Value, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "app", "namespace": "team", "labels": labels, "annotations": annotations}})
    }

    fn judge(object: &Value, settings: &Settings) -> Verdict {
        let mut verdict = Verdict::default();
        validate_service_account(object, settings, &mut verdict);
        verdict
    }

    #[rstest]
    #[case::guid(json!({keys::CLIENT_ID: "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"}), true, "")]
    #[case::not_a_guid(json!({keys::CLIENT_ID: "PLACEHOLDER_CLIENT_ID"}), false, "\"PLACEHOLDER_CLIENT_ID\" is not a GUID")]
    #[case::empty_client_id(json!({keys::CLIENT_ID: ""}), false, "is empty")]
    #[case::tenant_not_guid(json!({keys::TENANT_ID: "contoso"}), false, "\"contoso\" is not a GUID")]
    #[case::empty_tenant_is_cluster_default(json!({keys::TENANT_ID: ""}), true, "")]
    #[case::placeholder(json!({keys::CLIENT_ID: "${USER_ASSIGNED_CLIENT_ID}"}), true, "")]
    #[case::expiration_ok(json!({keys::TOKEN_EXPIRATION: "86400"}), true, "")]
    #[case::expiration_too_long(json!({keys::TOKEN_EXPIRATION: "604800"}), false, "\"604800\" is outside 3600..86400 seconds")]
    #[case::client_underscore(json!({"azure.workload.identity/client_id": "x"}), false, "did you mean azure.workload.identity/client-id?")]
    #[case::proxy_on_sa(json!({keys::INJECT_PROXY_SIDECAR: "true"}), false, "from pod annotations only")]
    fn service_account_annotations(
        #[case] annotations: Value,
        #[case] allowed: bool,
        #[case] message: &str,
    ) {
        let verdict = judge(
            &service_account(json!({}), annotations),
            &Settings::default(),
        );
        assert_verdict(&verdict, allowed, message);
    }

    #[test]
    fn placeholders_warn_or_reject() {
        let sa = service_account(json!({}), json!({keys::CLIENT_ID: "<client-id>"}));
        let lenient = judge(&sa, &Settings::default());
        assert!(lenient.is_allowed());
        assert!(lenient.warnings()[0].contains("unrendered placeholder"));
        let strict = judge(
            &sa,
            &Settings {
                reject_placeholders: true,
                ..Settings::default()
            },
        );
        assert!(
            strict
                .message()
                .unwrap()
                .contains("rejectPlaceholders is on")
        );
    }

    #[test]
    fn use_label_on_a_service_account_is_a_deprecated_no_op() {
        let sa = service_account(json!({keys::USE: "true"}), json!({}));
        let verdict = judge(&sa, &Settings::default());
        assert!(verdict.is_allowed());
        assert!(verdict.warnings()[0].contains("ServiceAccount team/app: metadata.labels[\"azure.workload.identity/use\"] has had no effect"));
        assert_eq!(
            WorkloadIdentity::of(&sa),
            WorkloadIdentity {
                has_client_id: false,
                has_deprecated_use: true
            }
        );
    }

    #[test]
    fn client_id_as_a_label_is_misplaced() {
        let verdict = judge(
            &service_account(json!({keys::CLIENT_ID: "x"}), json!({})),
            &Settings::default(),
        );
        assert!(
            verdict
                .message()
                .unwrap()
                .contains("move azure.workload.identity/client-id from metadata.labels")
        );
    }

    #[test]
    fn wrong_types_are_ignored() {
        let sa = json!({"metadata": {"labels": [1], "annotations": {keys::CLIENT_ID: 7}}});
        assert!(judge(&sa, &Settings::default()).is_allowed());
        assert_eq!(
            WorkloadIdentity::of(&sa),
            WorkloadIdentity {
                has_client_id: false,
                has_deprecated_use: false
            }
        );
    }
}
