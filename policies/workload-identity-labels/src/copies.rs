//! Workload ID annotations on objects the webhook does not read them from, as deploy tools
//! write them: kustomize `commonAnnotations` (which azd uses for the AKS store demo) copies the
//! ServiceAccount's `client-id` onto the Deployment and its pod template as well. The webhook
//! reads `client-id` and `tenant-id` from the ServiceAccount only, and nothing from a
//! workload's own metadata, so each such annotation is compared with the value the webhook
//! does read:
//!
//! | where                                   | keys                                 | compared with |
//! |-----------------------------------------|--------------------------------------|---------------|
//! | pod template annotations                | `client-id`, `tenant-id`             | the ServiceAccount's |
//! | the workload's own `metadata.annotations` (a CronJob's `jobTemplate.metadata` too) | `client-id`, `tenant-id` | the ServiceAccount's |
//! |                                         | `service-account-token-expiration`   | the pod template's, else the ServiceAccount's |
//! |                                         | the other pod annotations            | the pod template's |
//!
//! - The same value: a warning (the copy does nothing), or silence with
//!   `warnOnCopiedAnnotations: false`.
//! - Another value, or none where the webhook reads: a rejection, because the manifest says one
//!   thing and the pods get another.
//! - The ServiceAccount not found or not looked up: a warning, because nothing can be compared.
//! - Any other Workload ID key on the workload's own metadata (`use`, misspellings): a rejection.
//!
//! Every finding for one key gives the same fix, wherever the copy sits.

use crate::Settings;
use crate::keys::{self, KeyKind, Place};
use crate::pod_service_account::PodServiceAccount;
use crate::pod_template::Workload;
use aksid_policy_common::{Verdict, Violation, json};

/// Where the webhook reads a key, and what it finds there.
enum Source<'a> {
    /// The ServiceAccount (found), with its value.
    ServiceAccount(Option<&'a str>),
    /// The pod template, with its value.
    Template(Option<&'a str>),
    /// The ServiceAccount, which was not found or could not be looked up.
    Unknown,
}

/// Judges Workload ID annotations on the pod template and the workload's own metadata that
/// the webhook reads elsewhere.
pub(crate) fn validate_copies(
    workload: &Workload<'_>,
    service_account: &PodServiceAccount<'_>,
    settings: &Settings,
    verdict: &mut Verdict,
) {
    let template = &workload.template;
    for (key, value) in template.annotations() {
        if matches!(key, keys::CLIENT_ID | keys::TENANT_ID) {
            let location = format!("{}[{key:?}]", template.field("metadata.annotations"));
            let source = from_service_account(key, service_account);
            judge(
                workload,
                service_account,
                &location,
                (key, value),
                source,
                settings,
                verdict,
            );
        }
    }
    let mut places: Vec<(&str, &[&str])> = Vec::new();
    if workload.kind != "Pod" {
        places.push(("metadata.annotations", &["metadata", "annotations"]));
    }
    if workload.kind == "CronJob" {
        places.push((
            "spec.jobTemplate.metadata.annotations",
            &["spec", "jobTemplate", "metadata", "annotations"],
        ));
    }
    for (place, path) in places {
        for (key, value) in json::entries(json::get(workload.object, path)) {
            let kind = keys::classify(key, Place::PodAnnotation);
            if kind == KeyKind::Other {
                continue;
            }
            let location = format!("{place}[{key:?}]");
            let template_value = || {
                template
                    .annotations()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v)
            };
            let source = match key {
                keys::CLIENT_ID | keys::TENANT_ID => from_service_account(key, service_account),
                keys::TOKEN_EXPIRATION => match template_value() {
                    Some(value) => Source::Template(Some(value)),
                    None => from_service_account(key, service_account),
                },
                _ if kind == KeyKind::Known => Source::Template(template_value()),
                _ => {
                    reject_ignored_key(workload, &location, key, verdict);
                    continue;
                }
            };
            match value.as_str() {
                Some(value) => judge(
                    workload,
                    service_account,
                    &location,
                    (key, value),
                    source,
                    settings,
                    verdict,
                ),
                None => reject_ignored_key(workload, &location, key, verdict),
            }
        }
    }
}

fn from_service_account<'a>(key: &str, service_account: &'a PodServiceAccount<'_>) -> Source<'a> {
    match service_account.found() {
        Some(object) => {
            Source::ServiceAccount(json::str_at(object, &["metadata", "annotations", key]))
        }
        None => Source::Unknown,
    }
}

/// Same value: a warning; another value: a rejection; nothing to compare with: a warning.
fn judge(
    workload: &Workload<'_>,
    service_account: &PodServiceAccount<'_>,
    location: &str,
    (key, value): (&str, &str),
    source: Source<'_>,
    settings: &Settings,
    verdict: &mut Verdict,
) {
    let subject = service_account.subject();
    let template_annotations = workload.template.field("metadata.annotations");
    let (where_read, read, fix) = match source {
        Source::ServiceAccount(read) => (
            subject.clone(),
            read,
            format!(
                "set {key} on {subject} to the value the pods should use, and remove it from the {}'s \
                 metadata and pod template",
                workload.kind
            ),
        ),
        Source::Template(read) => (
            template_annotations.clone(),
            read,
            format!(
                "set {key} in {template_annotations} to the value the pods should use, and remove it here"
            ),
        ),
        Source::Unknown => {
            verdict.warn(format!(
                "{location}: the Workload ID webhook reads {key} from {subject} only, which is not among the \
                 checked objects, so this copy does nothing; make sure the ServiceAccount carries the same value"
            ));
            return;
        }
    };
    let same = read.is_some_and(|read| read.trim().eq_ignore_ascii_case(value.trim()));
    if same {
        if settings.warn_on_copied_annotations {
            verdict.warn(format!(
                "{location} repeats the {key} of {where_read}, where the Workload ID webhook reads it; the copy \
                 does nothing (tools such as kustomize commonAnnotations put it here), so it is harmless; \
                 remove it to keep one source of truth"
            ));
        }
        return;
    }
    let pods_get = match (read, key) {
        (Some(read), _) => keys::quote(read),
        (None, keys::CLIENT_ID) => "no AZURE_CLIENT_ID".to_owned(),
        (None, keys::TENANT_ID) => "the cluster's default tenant".to_owned(),
        (None, keys::TOKEN_EXPIRATION) => "the default of 3600 seconds".to_owned(),
        (None, _) => "nothing (it is not set there)".to_owned(),
    };
    verdict.reject(
        Violation::new(
            location,
            format!(
                "is {}, but the Workload ID webhook reads {key} from {where_read} only, so the pods get \
                 {pods_get}, not this value",
                keys::quote(value)
            ),
        )
        .fix(fix),
    );
}

/// A Workload ID key on the workload's own metadata that the webhook reads nowhere.
fn reject_ignored_key(workload: &Workload<'_>, location: &str, key: &str, verdict: &mut Verdict) {
    let target = if key == keys::USE {
        workload.template.field("metadata.labels")
    } else {
        workload.template.field("metadata.annotations")
    };
    verdict.reject(
        Violation::new(
            location,
            format!(
                "is on the {}'s own metadata, where the Workload ID webhook never looks; it only reads pods",
                workload.kind
            ),
        )
        .fix(format!("move it to {target}")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::testing::ObjectSet;
    use aksid_policy_common::workload::pod_template;
    use aksid_policy_common::{ClusterContext, NoCluster};
    use rstest::rstest;
    use serde_json::{Value, json};

    const CID: &str = "6f1c2a7e-3b4d-4c5e-8f90-1a2b3c4d5e6f";
    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn cluster(annotations: Value) -> ObjectSet {
        ObjectSet(vec![json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "api", "namespace": "team", "annotations": annotations}})])
    }

    fn judge(
        kind: &str,
        object: &Value,
        cluster: &dyn ClusterContext,
        settings: &Settings,
    ) -> Verdict {
        let workload = Workload {
            kind,
            namespace: "team",
            object,
            template: pod_template(kind, object).unwrap(),
        };
        let service_account = PodServiceAccount::new(&workload, cluster);
        let mut verdict = Verdict::default();
        validate_copies(&workload, &service_account, settings, &mut verdict);
        verdict
    }

    fn deployment(own: Value, template: Value) -> Value {
        json!({"metadata": {"annotations": own}, "spec": {"template": {"metadata": {"annotations": template},
               "spec": {"serviceAccountName": "api"}}}})
    }

    /// Expected findings: rejection message and warning parts, `""` for none.
    #[rstest]
    #[case::client_id_same_on_both(json!({keys::CLIENT_ID: CID}), json!({keys::CLIENT_ID: CID}), json!({keys::CLIENT_ID: CID}), "",
        "metadata.annotations[\"azure.workload.identity/client-id\"] repeats the azure.workload.identity/client-id of ServiceAccount team/api")]
    #[case::client_id_differs_in_case_only(json!({keys::CLIENT_ID: CID.to_uppercase()}), json!({}), json!({keys::CLIENT_ID: CID}), "", "repeats")]
    #[case::client_id_differs(json!({}), json!({keys::CLIENT_ID: "0b5e2c1d-9a8f-4e7d-b6c5-a4b3c2d1e0f9"}), json!({keys::CLIENT_ID: CID}),
        "spec.template.metadata.annotations[\"azure.workload.identity/client-id\"]: is \"0b5e2c1d-9a8f-4e7d-b6c5-a4b3c2d1e0f9\"", "")]
    #[case::client_id_not_on_service_account(json!({keys::CLIENT_ID: CID}), json!({}), json!({}),
        "so the pods get no AZURE_CLIENT_ID, not this value", "")]
    #[case::tenant_id_same(json!({}), json!({keys::TENANT_ID: TID}), json!({keys::TENANT_ID: TID}), "", "repeats the azure.workload.identity/tenant-id")]
    #[case::tenant_id_not_on_service_account(json!({}), json!({keys::TENANT_ID: TID}), json!({}), "so the pods get the cluster's default tenant", "")]
    #[case::expiration_same_as_template(json!({keys::TOKEN_EXPIRATION: "7200"}), json!({keys::TOKEN_EXPIRATION: "7200"}), json!({}), "",
        "repeats the azure.workload.identity/service-account-token-expiration of spec.template.metadata.annotations")]
    #[case::expiration_same_as_service_account(json!({keys::TOKEN_EXPIRATION: "7200"}), json!({}), json!({keys::TOKEN_EXPIRATION: "7200"}), "",
        "repeats the azure.workload.identity/service-account-token-expiration of ServiceAccount team/api")]
    #[case::expiration_set_nowhere_else(json!({keys::TOKEN_EXPIRATION: "7200"}), json!({}), json!({}),
        "so the pods get the default of 3600 seconds, not this value", "")]
    #[case::proxy_same_as_template(json!({keys::INJECT_PROXY_SIDECAR: "true"}), json!({keys::INJECT_PROXY_SIDECAR: "true"}), json!({}), "",
        "repeats the azure.workload.identity/inject-proxy-sidecar of spec.template.metadata.annotations")]
    #[case::proxy_only_on_the_deployment(json!({keys::INJECT_PROXY_SIDECAR: "true"}), json!({}), json!({}),
        "so the pods get nothing (it is not set there), not this value; fix: set azure.workload.identity/inject-proxy-sidecar in \
         spec.template.metadata.annotations to the value the pods should use, and remove it here", "")]
    #[case::use_on_the_deployment(json!({keys::USE: "true"}), json!({}), json!({}),
        "metadata.annotations[\"azure.workload.identity/use\"]: is on the Deployment's own metadata, where the Workload ID webhook \
         never looks; it only reads pods; fix: move it to spec.template.metadata.labels", "")]
    #[case::misspelled_on_the_deployment(json!({"azure.workload.identity/client_id": CID}), json!({}), json!({keys::CLIENT_ID: CID}),
        "fix: move it to spec.template.metadata.annotations", "")]
    #[case::not_a_string(json!({keys::CLIENT_ID: 7}), json!({}), json!({keys::CLIENT_ID: CID}), "is on the Deployment's own metadata", "")]
    #[case::other_keys_ignored(json!({"app.kubernetes.io/name": "api"}), json!({"prometheus.io/scrape": "true"}), json!({}), "", "")]
    fn copies_on_a_deployment(
        #[case] own: Value,
        #[case] template: Value,
        #[case] service_account: Value,
        #[case] message: &str,
        #[case] warning: &str,
    ) {
        let object = deployment(own, template);
        let verdict = judge(
            "Deployment",
            &object,
            &cluster(service_account),
            &Settings::default(),
        );
        assert_eq!(
            verdict.is_allowed(),
            message.is_empty(),
            "{:?}",
            verdict.message()
        );
        let got = verdict.message().unwrap_or_default();
        assert!(got.contains(message), "```\n{got}\n```");
        let warnings = verdict.warnings().join("\n");
        assert!(warnings.contains(warning), "```\n{warnings}\n```");
        assert_eq!(
            warnings.is_empty(),
            warning.is_empty(),
            "```\n{warnings}\n```"
        );
    }

    #[test]
    fn the_same_fix_wherever_the_copy_sits() {
        let other = "0b5e2c1d-9a8f-4e7d-b6c5-a4b3c2d1e0f9";
        let object = deployment(
            json!({keys::CLIENT_ID: other}),
            json!({keys::CLIENT_ID: other}),
        );
        let verdict = judge(
            "Deployment",
            &object,
            &cluster(json!({keys::CLIENT_ID: CID})),
            &Settings::default(),
        );
        let lines: Vec<String> = verdict
            .violations()
            .iter()
            .map(ToString::to_string)
            .collect();
        let fixes: Vec<&str> = lines
            .iter()
            .filter_map(|l| Some(l.split_once("; fix: ")?.1))
            .collect();
        assert_eq!(fixes.len(), 2, "{lines:?}");
        assert_eq!(fixes[0], fixes[1]);
        assert_eq!(
            fixes[0],
            "set azure.workload.identity/client-id on ServiceAccount team/api to the value the pods should use, and remove it from the Deployment's metadata and pod template"
        );
    }

    #[test]
    fn copies_can_be_accepted_quietly() {
        let object = deployment(json!({keys::CLIENT_ID: CID}), json!({keys::CLIENT_ID: CID}));
        let quiet = Settings {
            warn_on_copied_annotations: false,
            ..Settings::default()
        };
        let verdict = judge(
            "Deployment",
            &object,
            &cluster(json!({keys::CLIENT_ID: CID})),
            &quiet,
        );
        assert!(verdict.is_allowed() && verdict.warnings().is_empty());
        // Another value is still refused.
        let verdict = judge(
            "Deployment",
            &object,
            &cluster(json!({keys::CLIENT_ID: TID})),
            &quiet,
        );
        assert!(!verdict.is_allowed());
    }

    #[test]
    fn an_unknown_service_account_cannot_be_compared() {
        let object = deployment(json!({}), json!({keys::CLIENT_ID: CID}));
        let verdict = judge("Deployment", &object, &NoCluster, &Settings::default());
        assert!(verdict.is_allowed());
        assert_eq!(
            verdict.warnings(),
            [
                "spec.template.metadata.annotations[\"azure.workload.identity/client-id\"]: the Workload ID webhook reads \
              azure.workload.identity/client-id from ServiceAccount team/api only, which is not among the checked objects, \
              so this copy does nothing; make sure the ServiceAccount carries the same value"
            ]
        );
    }

    #[test]
    fn a_cronjob_job_template_copy_is_compared_too() {
        let object = json!({"spec": {"jobTemplate": {"metadata": {"annotations": {keys::CLIENT_ID: TID}},
            "spec": {"template": {"spec": {"serviceAccountName": "api"}}}}}});
        let verdict = judge(
            "CronJob",
            &object,
            &cluster(json!({keys::CLIENT_ID: CID})),
            &Settings::default(),
        );
        assert!(verdict.message().unwrap().starts_with(
            "spec.jobTemplate.metadata.annotations[\"azure.workload.identity/client-id\"]: is \"72f988bf"
        ));
    }

    #[test]
    fn a_pod_has_no_workload_metadata_of_its_own() {
        let pod = json!({"metadata": {"annotations": {keys::CLIENT_ID: CID, keys::INJECT_PROXY_SIDECAR: "true"}},
                         "spec": {"serviceAccountName": "api"}});
        let verdict = judge(
            "Pod",
            &pod,
            &cluster(json!({keys::CLIENT_ID: CID})),
            &Settings::default(),
        );
        assert!(verdict.is_allowed());
        assert_eq!(verdict.warnings().len(), 1, "{:?}", verdict.warnings());
        assert!(
            verdict.warnings()[0]
                .starts_with("metadata.annotations[\"azure.workload.identity/client-id\"] repeats")
        );
    }
}
