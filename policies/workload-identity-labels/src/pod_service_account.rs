//! The pod label against the pod's ServiceAccount, looked up through the cluster context.
//!
//! | ServiceAccount                       | pod label `"true"` | no pod label |
//! |--------------------------------------|--------------------|--------------|
//! | has `client-id`                      | accept             | reject: no token |
//! | deprecated `use` label, no client-id | as "neither"       | reject: pre-v1.0 pattern |
//! | neither                              | reject, or warn with `rejectLabelWithoutClientId: false` | accept |
//! | not found                            | accept             | accept |
//! | lookup failed                        | accept + warning   | accept + warning |
//!
//! A pod labelled `"false"` opts out on purpose and is not compared with its ServiceAccount; a
//! pod whose label has a wrong value or sits on the workload instead of the template was
//! already rejected with the same fix.
//! "Not found" is no verdict: offline, the ServiceAccount is often defined in another file or
//! created by other tooling, and in a cluster the API server refuses pods whose ServiceAccount
//! does not exist.

use crate::Settings;
use crate::identity_binding;
use crate::pod_template::{Label, Workload};
use crate::service_account::WorkloadIdentity;
use aksid_policy_common::{ClusterContext, Lookup, Verdict, Violation};
use serde_json::Value;
use std::cell::OnceCell;

/// The environment variable the webhook would inject from the ServiceAccount's `client-id`.
const CLIENT_ID_ENV: &str = "AZURE_CLIENT_ID";

/// The ServiceAccount the pods run as, looked up at most once per request, and only when a
/// rule needs it.
pub(crate) struct PodServiceAccount<'a> {
    /// The namespace it is looked up in (the request's, `default` when empty).
    pub(crate) namespace: &'a str,
    /// Its name (`serviceAccountName`, the deprecated `serviceAccount`, else `default`).
    pub(crate) name: &'a str,
    cluster: &'a dyn ClusterContext,
    lookup: OnceCell<Lookup>,
}

impl<'a> PodServiceAccount<'a> {
    /// The ServiceAccount of `workload`'s pods, not yet looked up.
    pub(crate) fn new(workload: &Workload<'a>, cluster: &'a dyn ClusterContext) -> Self {
        PodServiceAccount {
            namespace: if workload.namespace.is_empty() {
                "default"
            } else {
                workload.namespace
            },
            name: workload.template.service_account_name(),
            cluster,
            lookup: OnceCell::new(),
        }
    }

    /// `ServiceAccount <namespace>/<name>`, for messages.
    pub(crate) fn subject(&self) -> String {
        format!("ServiceAccount {}/{}", self.namespace, self.name)
    }

    /// The answer of the cluster context.
    pub(crate) fn lookup(&self) -> &Lookup {
        self.lookup.get_or_init(|| {
            self.cluster
                .get_resource("v1", "ServiceAccount", Some(self.namespace), self.name)
        })
    }

    /// The ServiceAccount object, when it was found.
    pub(crate) fn found(&self) -> Option<&Value> {
        match self.lookup() {
            Lookup::Found(object) => Some(object),
            Lookup::NotFound | Lookup::Unavailable(_) => None,
        }
    }
}

/// Compares the pod label with the ServiceAccount the pods run as.
pub(crate) fn validate_service_account_link(
    workload: &Workload<'_>,
    label: Label,
    pod_service_account: &PodServiceAccount<'_>,
    settings: &Settings,
    verdict: &mut Verdict,
) {
    if !matches!(label, Label::Present | Label::Missing) {
        return;
    }
    let template = &workload.template;
    let subject = pod_service_account.subject();
    let service_account = match pod_service_account.lookup() {
        Lookup::Found(service_account) => WorkloadIdentity::of(service_account),
        Lookup::NotFound => return,
        Lookup::Unavailable(reason) => {
            verdict.warn(format!(
                "could not look up {subject} ({reason}); only the {} itself was judged",
                workload.kind
            ));
            return;
        }
    };
    let labels = template.field("metadata.labels");
    let add_label = format!("add azure.workload.identity/use: \"true\" to {labels}");
    match label {
        Label::Missing if service_account.has_client_id => verdict.reject(
            Violation::new(
                labels,
                format!(
                    "the pods run as {subject}, which has azure.workload.identity/client-id, but lack the label \
                     azure.workload.identity/use: \"true\", so the webhook injects no token and Azure SDKs \
                     fall back to other credentials"
                ),
            )
            .fix(format!("{add_label} (or azure.workload.identity/use: \"false\" if these pods must not use the identity)")),
        ),
        Label::Missing if service_account.has_deprecated_use => verdict.reject(
            Violation::new(
                labels,
                format!(
                    "the pods run as {subject}, which is labelled azure.workload.identity/use (the pattern before \
                     Workload ID v1.0); since v1.0 only the pod label counts, so these pods get no token"
                ),
            )
            .fix(format!(
                "{add_label}, annotate the ServiceAccount with azure.workload.identity/client-id, and remove its use label"
            )),
        ),
        Label::Present if !service_account.has_client_id && !sets_client_id_env(workload) => {
            let binding = if identity_binding::is_used(template) {
                " (the identity binding needs it too: the proxy hands out tokens for that client ID)"
            } else {
                ""
            };
            let problem = format!(
                "the pods are labelled for Workload ID, but {subject} has no azure.workload.identity/client-id \
                 annotation, so the webhook injects no AZURE_CLIENT_ID{binding}"
            );
            let fix = format!(
                "annotate {subject} with azure.workload.identity/client-id: <client ID of the managed identity>, \
                 or remove the label"
            );
            if settings.reject_label_without_client_id {
                verdict.reject(Violation::new(format!("{labels}[\"azure.workload.identity/use\"]"), problem).fix(fix));
            } else {
                verdict.warn(format!(
                    "{problem} (fine if tooling such as kubectl annotate or azd adds it before the pods start); {fix}"
                ));
            }
        }
        _ => {}
    }
}

/// True when a container sets `AZURE_CLIENT_ID` itself: the webhook keeps a variable a
/// container already defines, so the client ID then comes from the pod.
fn sets_client_id_env(workload: &Workload<'_>) -> bool {
    workload.template.containers().any(|container| {
        container
            .env()
            .any(|(_, env)| env.get("name").and_then(|n| n.as_str()) == Some(CLIENT_ID_ENV))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;
    use aksid_policy_common::NoCluster;
    use aksid_policy_common::testing::ObjectSet;
    use aksid_policy_common::testing::assert_verdict;
    use aksid_policy_common::workload::pod_template;
    use rstest::rstest;
    use serde_json::{Value, json};

    fn service_account(labels: Value, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "app", "namespace": "team", "labels": labels, "annotations": annotations}})
    }

    fn judge(
        label: Label,
        env: Value,
        cluster: &dyn ClusterContext,
        settings: &Settings,
    ) -> Verdict {
        let object = json!({"spec": {"template": {"spec": {"serviceAccountName": "app",
                            "containers": [{"name": "app", "env": env}]}}}});
        let workload = Workload {
            kind: "Deployment",
            namespace: "team",
            object: &object,
            template: pod_template("Deployment", &object).unwrap(),
        };
        let mut verdict = Verdict::default();
        let service_account = PodServiceAccount::new(&workload, cluster);
        validate_service_account_link(&workload, label, &service_account, settings, &mut verdict);
        verdict
    }

    #[rstest]
    #[case::client_id_and_label(Label::Present, json!({}), json!({keys::CLIENT_ID: "x"}), true, "")]
    #[case::client_id_no_label(Label::Missing, json!({}), json!({keys::CLIENT_ID: "x"}), false, "which has azure.workload.identity/client-id, but lack the label")]
    #[case::client_id_opted_out(Label::OptedOut, json!({}), json!({keys::CLIENT_ID: "x"}), true, "")]
    #[case::deprecated_sa_label(Label::Missing, json!({keys::USE: "true"}), json!({}), false, "the pattern before Workload ID v1.0")]
    #[case::deprecated_sa_annotation(Label::Missing, json!({}), json!({keys::USE: "true"}), false, "the pattern before Workload ID v1.0")]
    #[case::plain_sa_no_label(Label::Missing, json!({}), json!({}), true, "")]
    #[case::label_plain_sa(Label::Present, json!({}), json!({}), false, "has no azure.workload.identity/client-id")]
    fn service_account_table(
        #[case] label: Label,
        #[case] sa_labels: Value,
        #[case] sa_annotations: Value,
        #[case] allowed: bool,
        #[case] message: &str,
    ) {
        let cluster = ObjectSet(vec![service_account(sa_labels, sa_annotations)]);
        let verdict = judge(label, json!([]), &cluster, &Settings::default());
        assert_verdict(&verdict, allowed, message);
    }

    #[test]
    fn label_without_client_id_rejects_or_warns() {
        let cluster = ObjectSet(vec![service_account(json!({}), json!({}))]);
        let lenient_settings = Settings {
            reject_label_without_client_id: false,
            ..Settings::default()
        };
        let lenient = judge(Label::Present, json!([]), &cluster, &lenient_settings);
        assert!(lenient.is_allowed());
        assert!(
            lenient.warnings()[0]
                .contains("ServiceAccount team/app has no azure.workload.identity/client-id")
        );
        let strict = Settings::default();
        let verdict = judge(Label::Present, json!([]), &cluster, &strict);
        assert!(verdict.message().unwrap().starts_with(
            "spec.template.metadata.labels[\"azure.workload.identity/use\"]: the pods are labelled for Workload ID"
        ));
        let own_env = judge(
            Label::Present,
            json!([{"name": "AZURE_CLIENT_ID", "value": "x"}]),
            &cluster,
            &strict,
        );
        assert!(own_env.is_allowed() && own_env.warnings().is_empty());
    }

    #[test]
    fn missing_service_account_is_no_verdict_and_failed_lookup_warns() {
        let absent = judge(
            Label::Missing,
            json!([]),
            &ObjectSet::default(),
            &Settings::default(),
        );
        assert!(absent.is_allowed() && absent.warnings().is_empty());
        let failed = judge(Label::Missing, json!([]), &NoCluster, &Settings::default());
        assert!(failed.is_allowed());
        assert!(
            failed.warnings()[0]
                .starts_with("could not look up ServiceAccount team/app (no cluster context)")
        );
    }
}
