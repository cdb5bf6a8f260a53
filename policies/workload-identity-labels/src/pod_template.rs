//! The Workload ID label and annotations of a workload's pod template: the label's value and
//! place (template, not the workload's metadata or selector), misspelled or misplaced keys, the
//! webhook's value rules, and annotations that do nothing without the label.
//!
//! The webhook's MutatingWebhookConfiguration selects pods with
//! `objectSelector.matchLabels: {azure.workload.identity/use: "true"}` on Pod CREATE, so only the
//! pod template's labels count, and only the exact string `"true"`.

use crate::Settings;
use crate::keys::{self, KeyKind, Misplacement, Place};
use aksid_policy_common::workload::PodTemplate;
use aksid_policy_common::{Verdict, Violation, json};
use serde_json::Value;

/// Pods in kube-system get Workload ID only from the AKS-managed add-on: the AKS admissions
/// enforcer keeps every other admission webhook out of kube-system (AKS FAQ; azure-workload-identity
/// known issues), while the add-on's webhook mutates kube-system pods (the KEDA add-on's
/// keda-operator gets its identity there, AKS docs `keda-workload-identity.md`).
const KUBE_SYSTEM_WARNING: &str = "the pods are labelled for Workload ID in kube-system: the AKS-managed Workload ID \
     add-on (az aks update --enable-workload-identity) mutates pods there, but a webhook installed by Helm or azwi \
     does not, because the AKS admissions enforcer keeps other admission webhooks out of kube-system; use the \
     add-on, or run the workload in another namespace";

/// What the pod template's `azure.workload.identity/use` label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// `"true"`: the webhook mutates the pods.
    Present,
    /// `"false"`: a deliberate opt-out, e.g. a pod sharing a Workload ID ServiceAccount.
    OptedOut,
    /// No such label.
    Missing,
    /// Not on the template but on the workload's metadata or selector (already reported).
    Elsewhere,
    /// Any other value (already reported).
    Invalid,
}

/// The workload being judged.
pub(crate) struct Workload<'a> {
    /// Its kind (`Deployment`, `CronJob`, ...).
    pub(crate) kind: &'a str,
    /// Its namespace (request namespace, else metadata).
    pub(crate) namespace: &'a str,
    /// The whole object.
    pub(crate) object: &'a Value,
    /// Its pod template.
    pub(crate) template: PodTemplate<'a>,
}

/// Judges the template's labels and annotations and returns the label state for the
/// ServiceAccount rules.
pub(crate) fn validate_pod_template(
    workload: &Workload<'_>,
    settings: &Settings,
    verdict: &mut Verdict,
) -> Label {
    let mut label = validate_labels(workload, verdict);
    if label == Label::Missing && validate_label_elsewhere(workload, verdict) {
        label = Label::Elsewhere;
    }
    validate_annotations(workload, label, settings, verdict);
    if label == Label::Present && workload.namespace == "kube-system" {
        verdict.warn(KUBE_SYSTEM_WARNING);
    }
    label
}

fn label_location(template: &PodTemplate<'_>, key: &str) -> String {
    format!("{}[{key:?}]", template.field("metadata.labels"))
}

fn fix_add_label(template: &PodTemplate<'_>) -> String {
    format!(
        "add azure.workload.identity/use: \"true\" to {}",
        template.field("metadata.labels")
    )
}

/// The template's labels: the `use` value, and misspelled or misplaced Workload ID keys.
fn validate_labels(workload: &Workload<'_>, verdict: &mut Verdict) -> Label {
    let template = &workload.template;
    let mut label = Label::Missing;
    for (key, value) in json::entries(template.labels_value()) {
        let location = label_location(template, key);
        if key == keys::USE {
            label = match value.as_str() {
                Some("true") => Label::Present,
                Some("false") => Label::OptedOut,
                Some(other) => {
                    verdict.reject(
                        Violation::new(
                            location,
                            format!(
                                "is {}, but the Workload ID webhook selects pods on the exact string \"true\", \
                                 so these pods are silently not mutated and get no token",
                                keys::quote(other)
                            ),
                        )
                        .fix("set the label to \"true\" (lowercase, quoted), or to \"false\" to opt out"),
                    );
                    Label::Invalid
                }
                None => {
                    verdict.reject(
                        Violation::new(
                            location,
                            format!(
                                "is {}, but label values are strings (an unquoted YAML true is a boolean \
                                 and the API server refuses the object)",
                                json::type_name(value)
                            ),
                        )
                        .fix("quote the value: azure.workload.identity/use: \"true\""),
                    );
                    Label::Invalid
                }
            };
            continue;
        }
        match keys::classify(key, Place::PodLabel) {
            KeyKind::Misplaced(misplacement) => {
                let target = if matches!(key, keys::CLIENT_ID | keys::TENANT_ID) {
                    format!(
                        "the annotations of ServiceAccount {}",
                        template.service_account_name()
                    )
                } else {
                    template.field("metadata.annotations")
                };
                verdict.reject(
                    Violation::new(location, misplacement.problem())
                        .fix(format!("move {key} to {target}")),
                )
            }
            KeyKind::Misspelled(right) => verdict.reject(
                Violation::new(
                    location,
                    "is not a key the Workload ID webhook reads, so it is ignored",
                )
                .fix(format!("did you mean {right}? Rename the label")),
            ),
            KeyKind::Unknown => verdict.warn(format!(
                "{location} is not a key the Workload ID webhook reads (known keys: {})",
                keys::known_keys()
            )),
            KeyKind::Known | KeyKind::Other | KeyKind::DeprecatedOnServiceAccount => {}
        }
    }
    label
}

/// The label on the workload's own metadata or selector but not on its pod template; true
/// when found there.
fn validate_label_elsewhere(workload: &Workload<'_>, verdict: &mut Verdict) -> bool {
    let object = workload.object;
    let places: Vec<(&str, &[&str])> = match workload.kind {
        "Pod" => Vec::new(),
        "CronJob" => vec![
            ("metadata.labels", &["metadata", "labels"]),
            (
                "spec.jobTemplate.metadata.labels",
                &["spec", "jobTemplate", "metadata", "labels"],
            ),
            (
                "spec.jobTemplate.spec.selector.matchLabels",
                &["spec", "jobTemplate", "spec", "selector", "matchLabels"],
            ),
        ],
        "ReplicationController" => vec![
            ("metadata.labels", &["metadata", "labels"]),
            ("spec.selector", &["spec", "selector"]),
        ],
        _ => vec![
            ("metadata.labels", &["metadata", "labels"]),
            (
                "spec.selector.matchLabels",
                &["spec", "selector", "matchLabels"],
            ),
        ],
    };
    let mut found = false;
    for (place, path) in places {
        if !json::entries(json::get(object, path)).any(|(key, _)| key == keys::USE) {
            continue;
        }
        found = true;
        let (whose, extra) = if place.contains("selector") {
            (
                "only in the selector",
                " (keep the selector as it is: it is immutable, and its labels must be on the template anyway)",
            )
        } else {
            ("only on the workload's own metadata", "")
        };
        verdict.reject(
            Violation::new(
                format!("{place}[{:?}]", keys::USE),
                format!(
                    "the Workload ID label is {whose}, not on the pod template; the webhook only sees \
                     pod labels, so the {}'s pods get no token",
                    workload.kind
                ),
            )
            .fix(format!("{}{extra}", fix_add_label(&workload.template))),
        );
    }
    found
}

/// The template's annotations: misplaced or misspelled keys, the webhook's value rules, and
/// Workload ID annotations that do nothing because the label is missing.
fn validate_annotations(
    workload: &Workload<'_>,
    label: Label,
    settings: &Settings,
    verdict: &mut Verdict,
) {
    let template = &workload.template;
    let mut inert = Vec::new();
    let mut inject_proxy = false;
    for (key, value) in template.annotations() {
        let location = format!("{}[{key:?}]", template.field("metadata.annotations"));
        match keys::classify(key, Place::PodAnnotation) {
            KeyKind::Known => {
                inert.push(key);
                inject_proxy |= key == keys::INJECT_PROXY_SIDECAR;
                check_value(&location, key, value, settings, verdict);
            }
            KeyKind::Misplaced(Misplacement::MustBeLabel) if label == Label::Present => verdict.warn(format!(
                "{location} does nothing (the webhook reads the label, which is set); remove the annotation"
            )),
            KeyKind::Misplaced(Misplacement::MustBeLabel) => verdict.reject(
                Violation::new(location, Misplacement::MustBeLabel.problem())
                    .fix(format!("move azure.workload.identity/use: \"true\" to {}", template.field("metadata.labels"))),
            ),
            // client-id and tenant-id: compared with the ServiceAccount's (`copies`).
            KeyKind::Misplaced(_) => {}
            KeyKind::Misspelled(right) => verdict.reject(
                Violation::new(location, "is not a key the Workload ID webhook reads, so it is ignored")
                    .fix(format!("did you mean {right}? Rename the annotation")),
            ),
            KeyKind::Unknown => verdict.warn(format!(
                "{location} is not a key the Workload ID webhook reads (known keys: {})",
                keys::known_keys()
            )),
            KeyKind::Other | KeyKind::DeprecatedOnServiceAccount => {}
        }
    }
    if matches!(label, Label::Missing | Label::Elsewhere | Label::OptedOut) && !inert.is_empty() {
        verdict.reject(
            Violation::new(
                template.field("metadata.annotations"),
                format!(
                    "{} {} nothing without the pod label azure.workload.identity/use: \"true\": \
                     the webhook never sees these pods",
                    inert.join(", "),
                    if inert.len() == 1 { "does" } else { "do" }
                ),
            )
            .fix(format!(
                "{}, or remove the annotations",
                fix_add_label(template)
            )),
        );
    }
    let host_network = template
        .spec
        .and_then(|s| s.get("hostNetwork"))
        .and_then(Value::as_bool);
    if label == Label::Present && inject_proxy && host_network == Some(true) {
        verdict.reject(
            Violation::new(
                template.field("spec.hostNetwork"),
                "is true with azure.workload.identity/inject-proxy-sidecar; the webhook refuses to inject the \
                 proxy into the host's network and fails the pod",
            )
            .fix("remove hostNetwork, or remove the inject-proxy-sidecar annotation and use an Azure SDK that supports workload identity"),
        );
    }
}

/// The webhook's value rules for pod annotations.
fn check_value(location: &str, key: &str, value: &str, settings: &Settings, verdict: &mut Verdict) {
    let (result, fix) = match key {
        keys::TOKEN_EXPIRATION => (
            keys::check_token_expiration(value),
            "set a whole number of seconds from 3600 to 86400, or remove the annotation for the default 3600",
        ),
        keys::PROXY_SIDECAR_PORT => (
            keys::check_proxy_port(value),
            "set a port number from 1 to 65535, or remove the annotation for the default 8000",
        ),
        keys::INJECT_PROXY_SIDECAR if keys::parse_go_bool(value.trim()) == Some(false) => (
            Err(Some(
                "says false, but the webhook injects the proxy (and its privileged init container) whenever \
                 the annotation is present, whatever its value"
                    .to_owned(),
            )),
            "remove the annotation to run without the proxy",
        ),
        _ => return,
    };
    match result {
        Ok(()) => {}
        // The webhook treats an empty value as unset.
        Err(_) if value.is_empty() && key != keys::INJECT_PROXY_SIDECAR => {}
        Err(Some(problem)) => verdict
            .reject(Violation::new(location, format!("{} {problem}", keys::quote(value))).fix(fix)),
        Err(None) => keys::placeholder(location, value, fix, settings, verdict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::workload::pod_template;
    use rstest::rstest;
    use serde_json::json;

    fn judge(kind: &str, object: &Value) -> (Label, Verdict) {
        let mut verdict = Verdict::default();
        let workload = Workload {
            kind,
            namespace: "team",
            object,
            template: pod_template(kind, object).unwrap(),
        };
        let label = validate_pod_template(&workload, &Settings::default(), &mut verdict);
        (label, verdict)
    }

    fn pod(labels: Value, annotations: Value) -> Value {
        json!({"metadata": {"name": "p", "labels": labels, "annotations": annotations}, "spec": {"containers": [{"name": "app"}]}})
    }

    #[rstest]
    #[case::labelled(json!({keys::USE: "true"}), json!({}), Label::Present, "")]
    #[case::opted_out(json!({keys::USE: "false"}), json!({}), Label::OptedOut, "")]
    #[case::capital_true(json!({keys::USE: "True"}), json!({}), Label::Invalid, "metadata.labels[\"azure.workload.identity/use\"]: is \"True\", but the Workload ID webhook selects pods on the exact string \"true\"")]
    #[case::unquoted_true(json!({keys::USE: true}), json!({}), Label::Invalid, "is a boolean, but label values are strings")]
    #[case::misspelled_label(json!({"azure.workload.identity/Use": "true"}), json!({}), Label::Missing, "did you mean azure.workload.identity/use?")]
    #[case::use_as_annotation(json!({}), json!({keys::USE: "true"}), Label::Missing, "is read by the webhook as a pod label, not as an annotation")]
    #[case::annotations_without_label(json!({}), json!({keys::INJECT_PROXY_SIDECAR: "true"}), Label::Missing, "metadata.annotations: azure.workload.identity/inject-proxy-sidecar does nothing without the pod label")]
    // Compared with the ServiceAccount's in `copies`, not here.
    #[case::client_id_on_pod(json!({keys::USE: "true"}), json!({keys::CLIENT_ID: "x"}), Label::Present, "")]
    #[case::bad_expiration(json!({keys::USE: "true"}), json!({keys::TOKEN_EXPIRATION: "60"}), Label::Present, "\"60\" is outside 3600..86400 seconds")]
    #[case::bad_port(json!({keys::USE: "true"}), json!({keys::PROXY_SIDECAR_PORT: "http"}), Label::Present, "\"http\" is not a number")]
    #[case::proxy_false(json!({keys::USE: "true"}), json!({keys::INJECT_PROXY_SIDECAR: "false"}), Label::Present, "injects the proxy (and its privileged init container) whenever")]
    #[case::identity_binding(json!({keys::USE: "true"}), json!({"azure.workload.identity/use-identity-binding": "true", keys::INJECT_PROXY_SIDECAR: "true", keys::PROXY_SIDECAR_PORT: "8000"}), Label::Present, "")]
    fn pod_labels_and_annotations(
        #[case] labels: Value,
        #[case] annotations: Value,
        #[case] label: Label,
        #[case] message: &str,
    ) {
        let (got, verdict) = judge("Pod", &pod(labels, annotations));
        assert_eq!(got, label);
        assert_eq!(
            verdict.is_allowed(),
            message.is_empty(),
            "{:?}",
            verdict.message()
        );
        assert!(
            verdict.message().unwrap_or_default().contains(message),
            "{:?}",
            verdict.message()
        );
    }

    #[rstest]
    #[case::metadata_only("Deployment", json!({"metadata": {"labels": {keys::USE: "true"}}, "spec": {"template": {"metadata": {}}}}), "metadata.labels[\"azure.workload.identity/use\"]: the Workload ID label is only on the workload's own metadata")]
    #[case::selector_only("Deployment", json!({"spec": {"selector": {"matchLabels": {keys::USE: "true"}}, "template": {}}}), "spec.selector.matchLabels[\"azure.workload.identity/use\"]: the Workload ID label is only in the selector")]
    #[case::rc_selector("ReplicationController", json!({"spec": {"selector": {keys::USE: "true"}, "template": {}}}), "spec.selector[\"azure.workload.identity/use\"]")]
    #[case::cronjob_metadata("CronJob", json!({"metadata": {"labels": {keys::USE: "true"}}, "spec": {"jobTemplate": {"spec": {"template": {}}}}}), "fix: add azure.workload.identity/use: \"true\" to spec.jobTemplate.spec.template.metadata.labels")]
    #[case::job_template_metadata("CronJob", json!({"spec": {"jobTemplate": {"metadata": {"labels": {keys::USE: "true"}}, "spec": {"template": {}}}}}), "spec.jobTemplate.metadata.labels[")]
    fn label_in_the_wrong_place(#[case] kind: &str, #[case] object: Value, #[case] message: &str) {
        let (_, verdict) = judge(kind, &object);
        assert!(
            verdict.message().unwrap_or_default().contains(message),
            "{:?}",
            verdict.message()
        );
    }

    /// The AKS-managed add-on mutates kube-system pods; a self-installed webhook does not.
    #[rstest]
    #[case::kube_system("kube-system", Some("true"), true)]
    #[case::kube_system_opted_out("kube-system", Some("false"), false)]
    #[case::kube_system_unlabelled("kube-system", None, false)]
    #[case::other_namespace("team", Some("true"), false)]
    fn kube_system_warning(
        #[case] namespace: &str,
        #[case] label: Option<&str>,
        #[case] warned: bool,
    ) {
        let labels = label.map_or(json!({}), |value| json!({keys::USE: value}));
        let object = pod(labels, json!({}));
        let workload = Workload {
            kind: "Pod",
            namespace,
            object: &object,
            template: pod_template("Pod", &object).unwrap(),
        };
        let mut verdict = Verdict::default();
        validate_pod_template(&workload, &Settings::default(), &mut verdict);
        assert!(verdict.is_allowed());
        let expected: &[&str] = if warned { &[KUBE_SYSTEM_WARNING] } else { &[] };
        assert_eq!(verdict.warnings(), expected);
    }

    #[test]
    fn label_in_template_and_selector_is_fine() {
        let deployment = json!({"metadata": {"labels": {keys::USE: "true"}},
            "spec": {"selector": {"matchLabels": {keys::USE: "true"}},
                     "template": {"metadata": {"labels": {keys::USE: "true"}}}}});
        let (label, verdict) = judge("Deployment", &deployment);
        assert_eq!(label, Label::Present);
        assert!(verdict.is_allowed(), "{:?}", verdict.message());
    }

    #[test]
    fn proxy_with_host_network_is_refused() {
        let object = json!({"metadata": {"labels": {keys::USE: "true"}, "annotations": {keys::INJECT_PROXY_SIDECAR: "true"}},
                            "spec": {"hostNetwork": true}});
        let (_, verdict) = judge("Pod", &object);
        assert!(
            verdict
                .message()
                .unwrap()
                .starts_with("spec.hostNetwork: is true with")
        );
    }

    #[test]
    fn placeholders_in_values_warn() {
        let (_, verdict) = judge(
            "Pod",
            &pod(
                json!({keys::USE: "true"}),
                json!({keys::TOKEN_EXPIRATION: "${TTL}"}),
            ),
        );
        assert!(verdict.is_allowed());
        assert!(verdict.warnings()[0].contains("unrendered placeholder"));
    }
}
