//! Whole-policy tests: the `test_data/` fixtures through the real waPC entry point, the
//! real-world corpus, and a property test that the policy answers any JSON.

use crate::NoLocalAccounts;
use aksid_policy_common::NoCluster;
use aksid_policy_common::testing::{
    ObjectSet, arbitrary_object, assert_answers, corpus_mismatches, run, yaml_objects,
};
use proptest::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};

/// Runs `test_data/<fixture>.json` with `settings` through `aksid_policy_common::validate`.
fn validate_fixture(fixture: &str, settings: Value) -> Value {
    let path = format!("{}/test_data/{fixture}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let request: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
    let response = aksid_policy_common::validate::<NoLocalAccounts>(&payload, &NoCluster)
        .expect("validate answers");
    serde_json::from_slice(&response).expect("response is JSON")
}

fn azure_rbac() -> Value {
    json!({"requireAzureRBAC": true})
}

#[rstest]
// ASO ManagedCluster.
#[case::aso_without_switch("aso_managed_cluster_without_disable_local_accounts", json!({}), false,
    "spec.disableLocalAccounts: is not set, so AKS keeps local accounts enabled")]
#[case::aso_new_version_scheme("aso_managed_cluster_new_api_version_without_disable_local_accounts", json!({}), false,
    "spec.disableLocalAccounts: is not set")]
#[case::aso_entra_only("aso_managed_cluster_local_accounts_disabled_with_entra", json!({}), true, "")]
#[case::aso_entra_only_with_azure_rbac(
    "aso_managed_cluster_local_accounts_disabled_with_entra",
    azure_rbac(),
    true,
    ""
)]
#[case::aso_locked_out("aso_managed_cluster_disabled_without_entra", json!({}), false,
    "spec.aadProfile.managed: is not set, but spec.disableLocalAccounts is true")]
#[case::aso_admin_credentials("aso_managed_cluster_exporting_admin_credentials", json!({}), false,
    "spec.operatorSpec.secrets.adminCredentials: makes ASO export the cluster's admin kubeconfig")]
#[case::aso_update_is_judged("aso_managed_cluster_update_enabling_local_accounts", json!({}), false,
    "spec.disableLocalAccounts: is false")]
#[case::aso_delete_is_accepted("aso_managed_cluster_delete_with_local_accounts", json!({}), true, "")]
#[case::aso_without_azure_rbac("aso_managed_cluster_entra_without_azure_rbac", json!({}), true, "")]
#[case::aso_azure_rbac_required(
    "aso_managed_cluster_entra_without_azure_rbac",
    azure_rbac(),
    false,
    "spec.aadProfile.enableAzureRBAC: is not set, but the policy settings require Azure RBAC"
)]
#[case::other_managed_cluster_kind("open_cluster_management_managed_cluster", json!({}), true, "")]
#[case::other_aso_kind("aso_trusted_access_role_binding", json!({}), true, "")]
// CAPZ.
#[case::capz_without_entra("capz_managed_control_plane_without_entra", json!({}), false,
    "spec.disableLocalAccounts: is not set")]
#[case::capz_entra_only("capz_managed_control_plane_local_accounts_disabled", json!({}), true, "")]
#[case::capz_azure_rbac_follows_managed(
    "capz_managed_control_plane_local_accounts_disabled",
    azure_rbac(),
    true,
    ""
)]
#[case::capz_locked_out("capz_managed_control_plane_disabled_without_aad_profile", json!({}), false,
    "spec.aadProfile.managed: is not set, but spec.disableLocalAccounts is true")]
#[case::capz_other_kind("capz_managed_machine_pool", json!({}), true, "")]
#[case::capz_aso_template("capz_aso_managed_control_plane_template_default", json!({}), false,
    "spec.resources[0] (ManagedCluster my-cluster).spec.disableLocalAccounts: is not set")]
#[case::capz_aso_default_credentials("capz_aso_managed_control_plane_template_default", json!({}), false,
    "spec.resources[0] (ManagedCluster my-cluster).spec.operatorSpec.secrets: exports neither userCredentials nor adminCredentials")]
#[case::capz_aso_entra(
    "capz_aso_managed_control_plane_entra_user_credentials",
    azure_rbac(),
    true,
    ""
)]
// Crossplane.
#[case::xp_v1beta1_enabled("crossplane_kubernetes_cluster_v1beta1_local_accounts_enabled", json!({}), false,
    "spec.forProvider.localAccountDisabled: is not set")]
#[case::xp_v1beta1_entra_list(
    "crossplane_kubernetes_cluster_v1beta1_entra_list",
    azure_rbac(),
    true,
    ""
)]
#[case::xp_v1beta1_empty_list("crossplane_kubernetes_cluster_v1beta1_empty_entra_list", json!({}), false,
    "spec.forProvider.azureActiveDirectoryRoleBasedAccessControl: is an empty list")]
#[case::xp_v1beta2_entra_object("crossplane_kubernetes_cluster_v1beta2_entra_object", json!({}), true, "")]
#[case::xp_v1beta2_azure_rbac_required(
    "crossplane_kubernetes_cluster_v1beta2_entra_object",
    azure_rbac(),
    false,
    "spec.forProvider.azureActiveDirectoryRoleBasedAccessControl.azureRbacEnabled: is false"
)]
#[case::xp_v1beta2_empty_object("crossplane_kubernetes_cluster_v1beta2_empty_entra_object", json!({}), false,
    "spec.forProvider.azureActiveDirectoryRoleBasedAccessControl: is an empty object")]
#[case::xp_namespaced_enabled("crossplane_namespaced_kubernetes_cluster_without_switch", json!({}), false,
    "spec.forProvider.localAccountDisabled: is not set")]
#[case::xp_namespaced_entra(
    "crossplane_namespaced_kubernetes_cluster_entra",
    azure_rbac(),
    true,
    ""
)]
#[case::xp_other_kind("crossplane_kubernetes_cluster_node_pool", json!({}), true, "")]
// ServiceAccount token Secrets.
#[case::token_secret("secret_service_account_token", json!({}), false,
    "type: kubernetes.io/service-account-token makes the API server store a long-lived token for ServiceAccount build-robot")]
#[case::token_secret_exempt_namespace("secret_service_account_token",
    json!({"serviceAccountTokenSecrets": {"exemptNamespaces": ["ci"]}}), true, "")]
#[case::token_secret_exempt_name("secret_service_account_token",
    json!({"serviceAccountTokenSecrets": {"exemptNames": ["build-robot-*"]}}), true, "")]
// Regression: kubernetes/website's mysecretname.yaml has metadata.annotations as a list (corpus file 55).
#[case::token_secret_annotations_as_list("secret_service_account_token_annotations_as_list", json!({}), false,
    "ServiceAccount myserviceaccount in this Secret; it never expires and works until the Secret is deleted (metadata.annotations is a list, not a map")]
#[case::opaque_secret("secret_opaque", json!({}), true, "")]
// Bindings.
#[case::local_admin_user("cluster_role_binding_to_local_admin_user", json!({}), false,
    "subjects[0] User clusterAdmin: is the user of AKS's local admin client certificate")]
#[case::system_masters("role_binding_to_system_masters", json!({}), false,
    "subjects[0] Group system:masters: is the group of AKS's local client certificates")]
#[case::aks_managed_binding_update("cluster_role_binding_aks_managed", json!({}), true, "")]
#[case::entra_group("cluster_role_binding_to_entra_group", json!({}), true, "")]
// Kubeconfigs.
#[case::kubeconfig_certificate("kubeconfig_admin_client_certificate", json!({}), false,
    "users[0] (clusterAdmin_team-rg_team-aks).user: holds static credentials (client-certificate-data, client-key-data, token)")]
#[case::kubeconfig_kubelogin("kubeconfig_kubelogin_exec", json!({}), true, "")]
#[case::kubeconfig_kubelogin_spn_client_secret_in_args("kubeconfig_kubelogin_spn_client_secret_in_args", json!({}), false,
    "users[0] (clusterUser_team-rg_team-aks).user.exec: stores a credential for the exec plugin (--client-secret in args[7]): a service principal secret, password or certificate in a kubeconfig travels with every copy of the file (laptops, CI logs, backups), and whoever has a copy signs in to the cluster until it is rotated; fix: remove it and let kubelogin get tokens without a stored secret: `kubelogin convert-kubeconfig -l workloadidentity` in a pod with Microsoft Entra Workload ID, `-l msi` on an Azure VM or agent with a managed identity, `-l azurecli` for a person or a pipeline signed in with az login")]
#[case::kubeconfig_kubelogin_secret_accepted_when_exec_credentials_is_off(
    "kubeconfig_kubelogin_spn_client_secret_in_args", json!({"execCredentials": false}), true, "")]
#[case::kubeconfig_kubelogin_spn_secret_in_exec_env("kubeconfig_kubelogin_spn_secret_in_exec_env", json!({}), false,
    "users[0] (deploy-pipeline).user.exec: stores a credential for the exec plugin (AAD_SERVICE_PRINCIPAL_CLIENT_SECRET in env[1])")]
#[case::kubeconfig_kubelogin_ropc_inline_password("kubeconfig_kubelogin_ropc_inline_password", json!({}), false,
    "users[0] (alice@contoso.com).user.exec: stores a credential for the exec plugin (--password in args[7])")]
#[case::kubeconfig_kubelogin_workload_identity("kubeconfig_kubelogin_workload_identity", json!({}), true, "")]
#[case::kubeconfig_kubelogin_spn_certificate_path("kubeconfig_kubelogin_spn_certificate_path", json!({}), true, "")]
// Bad settings are a rejection with the reason, not a trap.
#[case::bad_settings("aso_managed_cluster_local_accounts_disabled_with_entra", json!({"requireAzureRbac": true}), false,
    "invalid settings: unknown field `requireAzureRbac`")]
fn fixtures(
    #[case] fixture: &str,
    #[case] settings: Value,
    #[case] accepted: bool,
    #[case] message: &str,
) {
    let response = validate_fixture(fixture, settings);
    assert_eq!(
        response["accepted"], accepted,
        "{fixture}:\n```\n{response:#}\n```"
    );
    if !accepted {
        let text = response["message"].as_str().unwrap_or("");
        assert!(
            text.contains(message),
            "{fixture}: expected\n```\n{message}\n```\nin\n```\n{text}\n```"
        );
        // Unreadable settings are answered by the shared crate with a bare `request:` reason.
        if !text.starts_with("request: ") {
            assert!(
                text.contains("; fix: "),
                "{fixture}: no fix hint in\n```\n{text}\n```"
            );
        }
    }
}

#[test]
fn no_fixture_leaks_a_credential() {
    for fixture in [
        "kubeconfig_admin_client_certificate",
        "kubeconfig_kubelogin_spn_client_secret_in_args",
        "kubeconfig_kubelogin_spn_secret_in_exec_env",
        "kubeconfig_kubelogin_ropc_inline_password",
        "secret_opaque",
        "aso_managed_cluster_exporting_admin_credentials",
    ] {
        let response = validate_fixture(fixture, json!({}));
        let text = response["message"].as_str().unwrap_or("");
        for secret in [
            "LS0t",
            "0123456789abcdef",
            "cGxhY2Vob2xkZXI=",
            "Q~AbCdEf",
            "Tr0ub4dor",
        ] {
            assert!(
                !text.contains(secret),
                "{fixture} leaks `{secret}`:\n```\n{text}\n```"
            );
        }
    }
}

#[test]
fn every_fixture_is_used() {
    let source = include_str!("tests.rs");
    let dir = format!("{}/test_data", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let stem = name.trim_end_matches(".json");
        assert!(
            source.contains(&format!("\"{stem}\"")),
            "test_data/{name} is not used by any test"
        );
    }
}

#[test]
fn corpus_verdicts_match_expected_tsv() {
    let mismatches = corpus_mismatches::<NoLocalAccounts>("no-local-accounts");
    assert!(
        mismatches.is_empty(),
        "corpus mismatches:\n```\n{}\n```",
        mismatches.join("\n")
    );
}

const KINDS: &[(&str, &str)] = &[
    ("containerservice.azure.com/v1api20240901", "ManagedCluster"),
    ("containerservice.azure.com/v20260501", "ManagedCluster"),
    (
        "infrastructure.cluster.x-k8s.io/v1beta1",
        "AzureManagedControlPlane",
    ),
    (
        "infrastructure.cluster.x-k8s.io/v1beta1",
        "AzureASOManagedControlPlane",
    ),
    (
        "containerservice.azure.upbound.io/v1beta1",
        "KubernetesCluster",
    ),
    (
        "containerservice.azure.upbound.io/v1beta2",
        "KubernetesCluster",
    ),
    (
        "containerservice.azure.m.upbound.io/v1beta1",
        "KubernetesCluster",
    ),
    ("v1", "Secret"),
    ("v1", "Config"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_panics(o in arbitrary_object(KINDS)) {
        assert_answers::<NoLocalAccounts>(&o, &json!({}), &ObjectSet(vec![o.clone()]));
        assert_answers::<NoLocalAccounts>(&o, &json!({"requireAzureRBAC": true}), &NoCluster);
        assert_answers::<NoLocalAccounts>(&o, &json!({"execCredentials": false}), &NoCluster);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn exec_users_are_answered_and_never_echo_a_value(
        args in prop::collection::vec("--client-secret|--password|--client-certificate|-l|(?s).{0,40}|#[A-Za-z0-9~=-]{11,40}", 0..12),
        env in prop::collection::vec(("AZURE_CLIENT_SECRET|[A-Z_]{0,20}", "(?s).{0,60}|#[A-Za-z0-9~=-]{11,40}"), 0..6),
    ) {
        let env: Vec<Value> = env.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
        let config = json!({"apiVersion": "v1", "kind": "Config",
            "users": [{"name": "u", "user": {"exec": {"command": "kubelogin", "args": args, "env": env}}}]});
        assert_answers::<NoLocalAccounts>(&config, &json!({}), &NoCluster);
        let message = run::<NoLocalAccounts>(&config, json!({}), &NoCluster)["message"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let values = args.iter().map(String::as_str).chain(env.iter().filter_map(|e| e["value"].as_str()));
        // Values marked with `#` (a character no message uses) must never show up.
        for value in values.filter(|v| v.starts_with('#')) {
            prop_assert!(!message.contains(value), "message echoes a value: {message}");
        }
    }
}

#[test]
fn huge_arrays_are_judged() {
    let n = 100_000;
    let subjects = vec![json!({"kind": "User", "name": "clusterAdmin"}); n];
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "x"}, "subjects": subjects});
    let response = run::<NoLocalAccounts>(&binding, json!({}), &NoCluster);
    assert_eq!(response["accepted"], false);
    let message = response["message"].as_str().unwrap();
    assert_eq!(message.lines().count(), 101, "100 violations and a summary");
    assert!(message.ends_with("(more): 99900 further violations are not listed; fix: fix the ones above and check the object again"));

    let users = vec![json!({"name": "u", "user": {"exec": {"command": "kubelogin"}}}); n];
    let config = json!({"apiVersion": "v1", "kind": "Config", "users": users});
    assert_eq!(
        run::<NoLocalAccounts>(&config, json!({}), &NoCluster)["accepted"],
        true
    );

    let args: Vec<&str> = ["--client-secret", "s3cr3t"].repeat(n / 2);
    let config = json!({"apiVersion": "v1", "kind": "Config",
        "users": [{"name": "u", "user": {"exec": {"command": "kubelogin", "args": args}}}]});
    let response = run::<NoLocalAccounts>(&config, json!({}), &NoCluster);
    let message = response["message"].as_str().unwrap();
    assert!(
        message.contains("--client-secret in args[18] and 49990 more)"),
        "{message}"
    );
    assert!(message.len() < 2_000, "{} bytes", message.len());

    let resources =
        vec![json!({"apiVersion": "resources.azure.com/v1", "kind": "ResourceGroup"}); n];
    let control_plane = json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
        "kind": "AzureASOManagedControlPlane", "spec": {"resources": resources}});
    assert_eq!(
        run::<NoLocalAccounts>(&control_plane, json!({}), &NoCluster)["accepted"],
        true
    );

    let entra = vec![json!({}); n];
    let cluster = json!({"apiVersion": "containerservice.azure.upbound.io/v1beta1", "kind": "KubernetesCluster",
        "spec": {"forProvider": {"localAccountDisabled": true, "azureActiveDirectoryRoleBasedAccessControl": entra}}});
    assert_eq!(
        run::<NoLocalAccounts>(&cluster, json!({}), &NoCluster)["accepted"],
        false
    );
}

#[test]
fn deep_nesting_is_answered() {
    let mut deep = json!(true);
    for _ in 0..200 {
        deep = json!({"spec": deep});
    }
    for (api_version, kind) in KINDS {
        let object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"annotations": deep.clone()},
            "spec": {"forProvider": deep.clone(), "resources": [deep.clone()], "aadProfile": deep.clone()},
            "users": [{"user": deep.clone()}], "subjects": [deep.clone()]});
        assert_answers::<NoLocalAccounts>(&object, &json!({}), &NoCluster);
    }
}

/// The fenced ```` ```lang ```` blocks of the README section that starts with `heading`.
fn readme_blocks(heading: &str, lang: &str) -> Vec<String> {
    let readme = include_str!("../README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .expect("README section");
    let fence = format!("```{lang}\n");
    section
        .split(fence.as_str())
        .skip(1)
        .filter_map(|block| block.split("\n```").next().map(str::to_owned))
        .collect()
}

fn readme_verdicts(yaml: &str) -> Vec<Value> {
    yaml_objects(yaml)
        .iter()
        .map(|object| run::<NoLocalAccounts>(object, json!({}), &NoCluster))
        .collect()
}

#[test]
fn readme_rejection_message_is_the_real_one() {
    let [yaml] = &readme_blocks("Example: rejected", "yaml")[..] else {
        panic!("one YAML block")
    };
    let [expected] = &readme_blocks("Example: rejected", "text")[..] else {
        panic!("one text block")
    };
    let actual: Vec<String> = readme_verdicts(yaml)
        .iter()
        .map(|r| {
            r["message"]
                .as_str()
                .expect("every example object is rejected")
                .to_owned()
        })
        .collect();
    assert_eq!(
        actual.join("\n"),
        *expected,
        "README message differs:\n```\n{}\n```",
        actual.join("\n")
    );
}

#[test]
fn readme_accepted_example_is_accepted() {
    let [yaml] = &readme_blocks("Example: accepted", "yaml")[..] else {
        panic!("one YAML block")
    };
    for response in readme_verdicts(yaml) {
        assert_eq!(response["accepted"], true, "```\n{response:#}\n```");
    }
}
