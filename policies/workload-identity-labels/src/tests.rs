//! Whole-policy tests: the `test_data/` admission requests through the real `validate` entry
//! point (and, for identity bindings, through [`crate::validate_request`] with a faked list
//! capability), the real-world corpus, and arbitrary input.

use crate::{Settings, WorkloadIdentityLabels};
use aksid_policy_common::testing::{
    ObjectSet, arbitrary_object, assert_answers, corpus_mismatches, yaml_objects,
};
use aksid_policy_common::{AdmissionRequest, ClusterContext, Lookup, NoCluster, json as fields};
use aksid_policy_common::{Listing, ResourceLister};
use proptest::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};

/// The kinds this policy judges, for the property tests.
const KINDS: &[(&str, &str)] = &[
    ("v1", "Pod"),
    ("v1", "ServiceAccount"),
    ("v1", "ReplicationController"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("aadpodidentity.k8s.io/v1", "AzureIdentity"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
];

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs a fixture through `aksid_policy_common::validate`, the waPC entry point's body.
fn run_fixture(name: &str, settings: Value, cluster: &dyn ClusterContext) -> Value {
    let payload =
        serde_json::to_vec(&json!({"request": fixture(name), "settings": settings})).unwrap();
    let response =
        aksid_policy_common::validate::<WorkloadIdentityLabels>(&payload, cluster).unwrap();
    serde_json::from_slice(&response).unwrap()
}

/// A cluster holding the objects of the named fixtures.
fn cluster_of(fixtures: &[&str]) -> ObjectSet {
    ObjectSet(
        fixtures
            .iter()
            .map(|name| fixture(name)["object"].clone())
            .collect(),
    )
}

/// Objects answering both lookups and lists, as the aksid host does offline (objects without
/// a namespace are in `default`).
struct Objects(ObjectSet);

impl ClusterContext for Objects {
    fn get_resource(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Lookup {
        self.0.get_resource(api_version, kind, namespace, name)
    }
}

impl ResourceLister for Objects {
    fn list_resources(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Listing {
        let selected = self.0.0.iter().filter(|o| {
            fields::str_at(o, &["apiVersion"]) == Some(api_version)
                && fields::str_at(o, &["kind"]) == Some(kind)
                && namespace.is_none_or(|ns| {
                    fields::str_at(o, &["metadata", "namespace"]).unwrap_or("default") == ns
                })
        });
        Listing::Found(selected.cloned().collect())
    }
}

/// A host whose list capability fails.
struct ListingFails(ObjectSet);

impl ClusterContext for ListingFails {
    fn get_resource(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Lookup {
        self.0.get_resource(api_version, kind, namespace, name)
    }
}

impl ResourceLister for ListingFails {
    fn list_resources(&self, _: &str, kind: &str, _: Option<&str>) -> Listing {
        Listing::Unavailable(format!(
            "Policy has not been granted access to Kubernetes {kind} resources"
        ))
    }
}

/// Runs a fixture as the entry point does, with `cluster` answering lookups and lists.
fn run_listing_fixture<C: ClusterContext + ResourceLister>(
    name: &str,
    settings: Value,
    cluster: &C,
) -> Value {
    let request = AdmissionRequest::from_value(fixture(name)).unwrap();
    let settings: Settings =
        aksid_policy_common::settings::parse_settings(settings.to_string().as_bytes()).unwrap();
    let verdict = crate::validate_request(&request, &settings, cluster, cluster);
    serde_json::to_value(verdict.to_response()).unwrap()
}

const API_SA: &[&str] = &["service_account_with_client_id"];
const PLAIN_SA: &[&str] = &["service_account_without_client_id"];
const LEGACY_SA: &[&str] = &["service_account_with_deprecated_use_label"];

#[rstest]
// The label: "true" exactly, on the pod template.
#[case::label_on_template_and_selector("deployment_with_label_on_template_and_selector", json!({}), API_SA, true, "", "")]
#[case::label_value_capital_true("pod_with_label_value_capital_true", json!({}), API_SA, false,
    "metadata.labels[\"azure.workload.identity/use\"]: is \"True\", but the Workload ID webhook selects pods on the exact string \"true\"", "")]
#[case::label_only_on_metadata("deployment_with_label_only_on_metadata", json!({}), API_SA, false,
    "metadata.labels[\"azure.workload.identity/use\"]: the Workload ID label is only on the workload's own metadata", "")]
#[case::label_only_in_selector("deployment_with_label_only_in_selector", json!({}), &[], false,
    "spec.selector.matchLabels[\"azure.workload.identity/use\"]: the Workload ID label is only in the selector", "")]
#[case::cronjob_label_on_job_template("cronjob_with_label_on_job_template", json!({}), API_SA, true, "", "")]
#[case::cronjob_label_only_on_metadata("cronjob_with_label_only_on_cronjob_metadata", json!({}), &[], false,
    "fix: add azure.workload.identity/use: \"true\" to spec.jobTemplate.spec.template.metadata.labels", "")]
// The ServiceAccount, looked up in the cluster.
#[case::client_id_sa_without_label("deployment_without_label_using_client_id_service_account", json!({}), API_SA, false,
    "spec.template.metadata.labels: the pods run as ServiceAccount team/api, which has azure.workload.identity/client-id, but lack the label", "")]
#[case::client_id_sa_with_label("pod_with_label_using_client_id_service_account", json!({}), API_SA, true, "", "")]
#[case::deprecated_service_account_field("pod_using_deprecated_service_account_field_without_label", json!({}), API_SA, false,
    "the pods run as ServiceAccount team/api", "")]
#[case::label_sa_without_client_id_warns_when_lenient("pod_with_label_using_service_account_without_client_id", json!({"rejectLabelWithoutClientId": false}), PLAIN_SA, true,
    "", "ServiceAccount team/plain has no azure.workload.identity/client-id annotation")]
#[case::label_sa_without_client_id_rejected("pod_with_label_using_service_account_without_client_id", json!({}), PLAIN_SA, false,
    "the pods are labelled for Workload ID, but ServiceAccount team/plain has no azure.workload.identity/client-id", "")]
#[case::service_account_not_found("pod_with_label_and_unknown_service_account", json!({}), API_SA, true, "", "")]
#[case::service_account_not_found_no_label("deployment_without_label_using_client_id_service_account", json!({}), &[], true, "", "")]
// Annotations without the label, and the pre-v1.0 ServiceAccount label.
#[case::proxy_annotation_without_label("deployment_with_proxy_annotation_without_label", json!({}), PLAIN_SA, false,
    "spec.template.metadata.annotations: azure.workload.identity/inject-proxy-sidecar does nothing without the pod label", "")]
#[case::proxy_annotation_with_label("pod_with_proxy_annotation_and_label", json!({}), API_SA, true, "", "")]
#[case::service_account_with_deprecated_label("deployment_using_service_account_with_deprecated_use_label", json!({}), LEGACY_SA, false,
    "which is labelled azure.workload.identity/use (the pattern before Workload ID v1.0)", "")]
// ServiceAccount values and keys.
#[case::service_account_ok("service_account_with_client_id", json!({}), &[], true, "", "")]
#[case::service_account_plain("service_account_without_client_id", json!({}), &[], true, "", "")]
#[case::service_account_use_label_warns("service_account_with_deprecated_use_label", json!({}), &[], true,
    "", "has had no effect since Workload ID v1.0")]
#[case::placeholder_client_id_warns("service_account_with_placeholder_client_id", json!({}), &[], true,
    "", "\"${USER_ASSIGNED_CLIENT_ID}\" is an unrendered placeholder")]
#[case::placeholder_client_id_strict("service_account_with_placeholder_client_id", json!({"rejectPlaceholders": true}), &[], false,
    "is an unrendered placeholder (rejectPlaceholders is on)", "")]
#[case::placeholder_word_is_not_a_guid("service_account_with_placeholder_word_client_id", json!({}), &[], false,
    "metadata.annotations[\"azure.workload.identity/client-id\"]: \"PLACEHOLDER_CLIENT_ID\" is not a GUID", "")]
#[case::misspelled_client_id("service_account_with_misspelled_client_id_key", json!({}), &[], false,
    "fix: did you mean azure.workload.identity/client-id?", "")]
#[case::sa_token_expiration("service_account_with_token_expiration_out_of_range", json!({}), &[], false,
    "\"604800\" is outside 3600..86400 seconds", "")]
#[case::pod_token_expiration("pod_with_token_expiration_out_of_range", json!({}), API_SA, false,
    "metadata.annotations[\"azure.workload.identity/service-account-token-expiration\"]: \"600\" is outside 3600..86400 seconds", "")]
// aad-pod-identity.
#[case::aadpodidbinding("deployment_with_aadpodidbinding_label", json!({}), PLAIN_SA, false,
    "spec.template.metadata.labels[\"aadpodidbinding\"]: the aadpodidbinding label selects an identity through the deprecated", "")]
#[case::azure_identity("azureidentity", json!({}), &[], false, "apiVersion: AzureIdentity demo-aad1 is an aad-pod-identity object", "")]
#[case::aad_pod_identity_crd("crd_of_aad_pod_identity", json!({}), &[], false, "spec.group: CustomResourceDefinition azureidentities.aadpodidentity.k8s.io", "")]
#[case::other_crd("crd_of_other_group", json!({}), &[], true, "", "")]
#[case::nmi_image("daemonset_with_nmi_image", json!({}), PLAIN_SA, false,
    "spec.template.spec.containers[nmi]: image mcr.microsoft.com/oss/azure/aad-pod-identity/nmi:v1.8.17", "")]
// Secrets Store CSI.
#[case::spc_workload_identity("secretproviderclass_workload_identity", json!({}), &[], true, "", "")]
#[case::spc_pod_identity("secretproviderclass_pod_identity", json!({}), &[], false, "spec.parameters.usePodIdentity: is true", "")]
#[case::spc_service_principal("secretproviderclass_service_principal", json!({}), &[], false, "uses service-principal mode", "")]
#[case::spc_vm_managed_identity("secretproviderclass_vm_managed_identity", json!({}), &[], true, "", "node's managed identity")]
#[case::spc_vm_managed_identity_quiet("secretproviderclass_vm_managed_identity", json!({"warnOnVMManagedIdentity": false}), &[], true, "", "")]
#[case::csi_node_publish_secret_ref("pod_with_csi_node_publish_secret_ref", json!({}), PLAIN_SA, false,
    "spec.volumes[kv].csi.nodePublishSecretRef: the Secrets Store volume reads a service principal's client secret", "")]
#[case::csi_workload_identity_needs_no_label("pod_with_csi_workload_identity_volume_without_label", json!({}), PLAIN_SA, true, "", "")]
// Workload ID annotations copied by tools onto the workload and its pod template.
#[case::client_id_copied_from_service_account("deployment_with_client_id_copied_from_service_account", json!({}), API_SA, true, "",
    "spec.template.metadata.annotations[\"azure.workload.identity/client-id\"] repeats the azure.workload.identity/client-id of \
     ServiceAccount team/api, where the Workload ID webhook reads it; the copy does nothing")]
#[case::client_id_copied_quietly("deployment_with_client_id_copied_from_service_account", json!({"warnOnCopiedAnnotations": false}), API_SA, true, "", "")]
#[case::client_id_differing_from_service_account("deployment_with_client_id_differing_from_service_account", json!({}), API_SA, false,
    "spec.template.metadata.annotations[\"azure.workload.identity/client-id\"]: is \"0b5e2c1d-9a8f-4e7d-b6c5-a4b3c2d1e0f9\", but the \
     Workload ID webhook reads azure.workload.identity/client-id from ServiceAccount team/api only, so the pods get \
     \"6f1c2a7e-3b4d-4c5e-8f90-1a2b3c4d5e6f\", not this value; fix: set azure.workload.identity/client-id on ServiceAccount \
     team/api to the value the pods should use, and remove it from the Deployment's metadata and pod template", "")]
#[case::client_id_copy_without_service_account("deployment_with_client_id_copied_from_service_account", json!({}), &[], true, "",
    "metadata.annotations[\"azure.workload.identity/client-id\"]: the Workload ID webhook reads azure.workload.identity/client-id \
     from ServiceAccount team/api only, which is not among the checked objects")]
#[case::proxy_annotation_copied_onto_metadata("deployment_with_proxy_annotation_copied_onto_its_metadata", json!({}), API_SA, true, "",
    "metadata.annotations[\"azure.workload.identity/inject-proxy-sidecar\"] repeats the azure.workload.identity/inject-proxy-sidecar \
     of spec.template.metadata.annotations")]
// kube-system: the AKS-managed add-on mutates pods there, a self-installed webhook does not.
#[case::label_in_kube_system("deployment_with_label_in_kube_system", json!({}), &["service_account_with_client_id_in_kube_system"], true, "",
    "the pods are labelled for Workload ID in kube-system: the AKS-managed Workload ID add-on (az aks update \
     --enable-workload-identity) mutates pods there, but a webhook installed by Helm or azwi does not")]
// Operations and exemptions.
#[case::delete_is_accepted("deployment_with_label_only_on_metadata_delete", json!({}), &[], true, "", "")]
#[case::update_is_judged("pod_with_label_value_capital_true_update", json!({}), &[], false, "is \"True\"", "")]
#[case::exempt_namespace("pod_with_label_value_capital_true", json!({"exemptNamespaces": ["team"]}), &[], true, "", "")]
fn fixtures(
    #[case] name: &str,
    #[case] settings: Value,
    #[case] cluster: &[&str],
    #[case] accepted: bool,
    #[case] message: &str,
    #[case] warning: &str,
) {
    let response = run_fixture(name, settings, &cluster_of(cluster));
    let quiet = !name.starts_with("secretproviderclass");
    assert_response(&response, accepted, message, warning, quiet);
}

/// Asserts the decision, that the message contains `message` and the warnings `warning`; with
/// `quiet`, an accepted response expecting no warning must have none.
fn assert_response(response: &Value, accepted: bool, message: &str, warning: &str, quiet: bool) {
    assert_eq!(response["accepted"], accepted, "```\n{response:#}\n```");
    let got = response["message"].as_str().unwrap_or("");
    assert!(
        got.contains(message),
        "expected\n```\n{message}\n```\ngot\n```\n{got}\n```"
    );
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let warnings = warnings.join("\n");
    assert!(
        warnings.contains(warning),
        "expected warning\n```\n{warning}\n```\ngot\n```\n{warnings}\n```"
    );
    if warning.is_empty() && accepted && quiet {
        assert!(
            response["warnings"].is_null(),
            "unexpected warnings\n```\n{warnings}\n```"
        );
    }
}

const IB_POD: &str = "pod_with_identity_binding_using_client_id_service_account";
const IB_DEPLOYMENT: &str = "deployment_with_identity_binding_using_client_id_service_account";
const BOUND: &str = "cluster_role_binding_of_identity_role_to_service_account";
const RIGHT_ROLE: &str = "cluster_role_allowing_the_service_account_client_id";
const WRONG_ROLE: &str = "cluster_role_allowing_another_client_id";
const GROUP_BOUND: &str = "cluster_role_binding_of_identity_role_to_namespace_group";
const GROUP_ROLE: &str = "cluster_role_for_the_namespace_allowing_another_client_id";

#[rstest]
#[case::role_names_the_client_id(IB_POD, json!({}), &[BOUND, RIGHT_ROLE], true, "", "")]
#[case::role_names_another_client_id(IB_DEPLOYMENT, json!({}), &[BOUND, WRONG_ROLE], false,
    "spec.template.metadata.annotations[\"azure.workload.identity/use-identity-binding\"]: the pods use an AKS identity binding as \
     ServiceAccount team/api, whose client-id is 6f1c2a7e-3b4d-4c5e-8f90-1a2b3c4d5e6f, but the ClusterRoles bound to it allow \
     use-managed-identity on cid.wi.aks.azure.com for other managed identities only (ClusterRole use-managed-identity-api \
     (bound by ClusterRoleBinding use-managed-identity-api) allows 0b5e2c1d-9a8f-4e7d-b6c5-a4b3c2d1e0f9); the identity \
     binding proxy refuses the token request, so the pods get no token; fix: add 6f1c2a7e-3b4d-4c5e-8f90-1a2b3c4d5e6f to the \
     resources of the cid.wi.aks.azure.com rule of ClusterRole use-managed-identity-api", "")]
#[case::role_binding_in_the_namespace(IB_POD, json!({}), &["role_binding_of_identity_role_to_service_account", WRONG_ROLE], false,
    "(bound by RoleBinding team/use-managed-identity-api) allows 0b5e2c1d-9a8f-4e7d-b6c5-a4b3c2d1e0f9", "")]
#[case::namespace_group_subject(IB_POD, json!({}), &[GROUP_BOUND, GROUP_ROLE], false,
    "(ClusterRole use-managed-identity-team (bound by ClusterRoleBinding use-managed-identity-team) allows \
     1c7d3e5f-2a4b-4c6d-8e0f-a1b2c3d4e5f6)", "")]
#[case::one_of_two_roles_names_it(IB_POD, json!({}), &[BOUND, RIGHT_ROLE, GROUP_BOUND, GROUP_ROLE], true, "", "")]
#[case::neither_of_two_roles_names_it(IB_POD, json!({}), &[BOUND, WRONG_ROLE, GROUP_BOUND, GROUP_ROLE], false,
    "(ClusterRole use-managed-identity-api (bound by ClusterRoleBinding use-managed-identity-api) allows \
     0b5e2c1d-9a8f-4e7d-b6c5-a4b3c2d1e0f9; ClusterRole use-managed-identity-team (bound by ClusterRoleBinding \
     use-managed-identity-team) allows 1c7d3e5f-2a4b-4c6d-8e0f-a1b2c3d4e5f6)", "")]
#[case::role_allows_every_client_id(IB_POD, json!({}), &[BOUND, "cluster_role_allowing_every_client_id"], true, "",
    "ClusterRole use-managed-identity-api lets ServiceAccount team/api use every managed identity that has an identity binding")]
#[case::role_names_a_placeholder(IB_POD, json!({}), &[BOUND, "cluster_role_allowing_placeholder_client_id"], true, "", "")]
#[case::binding_of_another_service_account(IB_POD, json!({}), &["cluster_role_binding_of_identity_role_to_another_service_account", WRONG_ROLE], true, "", "")]
#[case::bound_role_not_in_the_set(IB_POD, json!({}), &[BOUND], true, "", "")]
#[case::no_rbac_in_the_set(IB_POD, json!({}), &[], true, "", "")]
#[case::check_switched_off(IB_DEPLOYMENT, json!({"checkIdentityBindingRoles": false}), &[BOUND, WRONG_ROLE], true, "", "")]
#[case::plain_workload_identity_ignores_the_roles("pod_with_label_using_client_id_service_account", json!({}), &[BOUND, WRONG_ROLE], true, "", "")]
#[case::identity_binding_without_label("pod_with_identity_binding_without_label", json!({}), &[], false,
    "metadata.annotations: azure.workload.identity/use-identity-binding does nothing without the pod label", "")]
#[case::identity_binding_without_client_id("pod_with_identity_binding_using_service_account_without_client_id", json!({}), PLAIN_SA, false,
    "has no azure.workload.identity/client-id annotation, so the webhook injects no AZURE_CLIENT_ID (the identity binding needs it too", "")]
fn identity_bindings(
    #[case] name: &str,
    #[case] settings: Value,
    #[case] objects: &[&str],
    #[case] accepted: bool,
    #[case] message: &str,
    #[case] warning: &str,
) {
    let objects = [API_SA, objects].concat();
    let response = run_listing_fixture(name, settings, &Objects(cluster_of(&objects)));
    assert_response(&response, accepted, message, warning, true);
}

#[test]
fn identity_binding_roles_unreadable_warns() {
    let cluster = ListingFails(cluster_of(&[API_SA, &[BOUND, WRONG_ROLE]].concat()));
    let response = run_listing_fixture(IB_POD, json!({}), &cluster);
    assert_response(
        &response,
        true,
        "",
        "could not read the RBAC objects of ServiceAccount team/api (listing ClusterRoleBindings: Policy has not been granted \
         access to Kubernetes ClusterRoleBinding resources); whether its ClusterRoles allow the identity binding of client ID \
         6f1c2a7e-3b4d-4c5e-8f90-1a2b3c4d5e6f was not checked",
        true,
    );
}

/// Natively the policy has no waPC host to list through; `validate` still answers, with a warning.
#[test]
fn identity_binding_without_a_host_warns() {
    let response = run_fixture(
        IB_POD,
        json!({}),
        &cluster_of(&[API_SA, &[BOUND, WRONG_ROLE]].concat()),
    );
    assert_response(
        &response,
        true,
        "",
        "listing needs the Kubewarden host",
        true,
    );
}

#[test]
fn failed_lookup_judges_the_object_alone_and_warns() {
    let response = run_fixture(
        "deployment_without_label_using_client_id_service_account",
        json!({}),
        &NoCluster,
    );
    assert_eq!(response["accepted"], true);
    assert!(
        response["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("could not look up ServiceAccount team/api")
    );
    let rejected = run_fixture("pod_with_label_value_capital_true", json!({}), &NoCluster);
    assert_eq!(rejected["accepted"], false);
}

#[test]
fn every_reason_at_once() {
    let response = run_fixture(
        "deployment_with_aadpodidbinding_label",
        json!({}),
        &cluster_of(PLAIN_SA),
    );
    let message = response["message"].as_str().unwrap();
    assert_eq!(message.lines().count(), 2, "```\n{message}\n```");
}

#[test]
fn unknown_settings_are_an_invalid_request() {
    let response = run_fixture(
        "pod_with_label_using_client_id_service_account",
        json!({"rejectPlaceholder": true}),
        &NoCluster,
    );
    assert_eq!(response["accepted"], false);
    assert!(
        response["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `rejectPlaceholder`")
    );
}

/// The README's examples: every YAML block followed by a `text` block must give exactly those
/// lines (`warning: ` lines are the warnings, the others the rejection message), and every other
/// YAML block must be accepted without warnings. The objects of a block form the cluster.
#[test]
fn readme_examples() {
    let readme = include_str!("../README.md");
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```").filter(|l| !l.is_empty()) {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            blocks.push((lang, body.join("\n")));
        }
    }
    let examples: Vec<_> = blocks
        .iter()
        .enumerate()
        .filter(|(_, (lang, body))| *lang == "yaml" && body.contains("kind:"))
        .map(|(i, (_, yaml))| {
            let expected = blocks
                .get(i + 1)
                .filter(|(lang, _)| *lang == "text")
                .map_or("", |(_, t)| t.as_str());
            (yaml, expected)
        })
        .collect();
    assert_eq!(examples.len(), 5);
    for (yaml, expected) in examples {
        let (expected_warnings, expected_message): (Vec<&str>, Vec<&str>) =
            expected.lines().partition(|l| l.starts_with("warning: "));
        let objects = yaml_objects(yaml);
        let cluster = Objects(ObjectSet(objects.clone()));
        let (mut messages, mut warnings) = (Vec::new(), Vec::new());
        for object in &objects {
            let request = aksid_policy_common::testing::admission_request(object, "CREATE");
            let request = AdmissionRequest::from_value(request).unwrap();
            let verdict =
                crate::validate_request(&request, &Settings::default(), &cluster, &cluster);
            messages.extend(verdict.message());
            warnings.extend(verdict.warnings().iter().map(|w| format!("warning: {w}")));
        }
        assert_eq!(
            messages.join("\n"),
            expected_message.join("\n"),
            "```yaml\n{yaml}\n```"
        );
        assert_eq!(warnings, expected_warnings, "```yaml\n{yaml}\n```");
    }
}

#[test]
fn corpus() {
    let mismatches = corpus_mismatches::<WorkloadIdentityLabels>("workload-identity-labels");
    assert!(mismatches.is_empty(), "```\n{}\n```", mismatches.join("\n"));
}

#[test]
fn huge_arrays_and_deep_nesting() {
    let containers: Vec<Value> = (0..20_000).map(|i| json!({"name": format!("c{i}"), "image": "x", "env": [{"name": "AZURE_CLIENT_ID"}]})).collect();
    let volumes: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("v{i}"), "csi": {"driver": "secrets-store.csi.k8s.io"}}))
        .collect();
    let annotations: serde_json::Map<String, Value> = (0..20_000)
        .map(|i| (format!("azure.workload.identity/k{i}"), json!("v")))
        .collect();
    let huge = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": annotations},
                      "spec": {"containers": containers, "volumes": volumes}});
    assert_answers::<WorkloadIdentityLabels>(&huge, &json!({}), &ObjectSet(vec![huge.clone()]));

    let mut deep = json!("leaf");
    for level in 0..200 {
        deep = if level % 2 == 0 {
            json!({"spec": deep, "template": {"metadata": {}}})
        } else {
            json!([deep, {}])
        };
    }
    for (api_version, kind) in KINDS {
        let object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "deep", "labels": deep.clone()}, "spec": deep.clone()});
        assert_answers::<WorkloadIdentityLabels>(
            &object,
            &json!({}),
            &ObjectSet(vec![object.clone()]),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_panics(o in arbitrary_object(KINDS)) {
        assert_answers::<WorkloadIdentityLabels>(&o, &json!({}), &ObjectSet(vec![o.clone()]));
    }
}
