//! Whole-request tests through the real `validate` entry point: the `test_data/` fixtures, the
//! real-world corpus, and arbitrary JSON.

use crate::NoClusterAdminUsers;
use aksid_policy_common::testing::{
    ObjectSet, arbitrary_object, assert_answers, corpus_mismatches,
};
use aksid_policy_common::{ClusterContext, NoCluster};
use proptest::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};

/// The (apiVersion, kind) pairs the policy handles, plus the look-alikes it must accept.
const KINDS: &[(&str, &str)] = &[
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    (
        "containerservice.azure.com/v1api20240901",
        "TrustedAccessRoleBinding",
    ),
    ("aadpodidentity.k8s.io/v1", "AzureIdentityBinding"),
];

/// The cluster a fixture is judged against; `ops` is the ClusterRole most fixtures look up.
#[derive(Debug, Clone, Copy)]
enum Cluster {
    /// No objects: every lookup answers NotFound.
    Empty,
    /// `ops` has a harmless first rule and a `*`/`*`/`*` second rule.
    OpsWildcard,
    /// `ops` grants `*` verbs on `*` resources only in the core group.
    OpsCoreWildcard,
    /// `ops` grants `*` only on non-resource URLs.
    OpsUrlsOnly,
    /// `ops` is aggregated and its rules are empty, as in a manifest.
    OpsAggregated,
    /// Lookups fail (capability not granted, API error).
    Unavailable,
    /// The roles of `test_data/roles/<name>.json`, named after the situation they show.
    Roles(&'static str),
}

fn cluster_role_ops(body: Value) -> Value {
    let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ops"}});
    if let (Some(role), Some(body)) = (role.as_object_mut(), body.as_object()) {
        role.extend(body.clone());
    }
    role
}

fn cluster(which: Cluster) -> Box<dyn ClusterContext> {
    let ops = |body| Box::new(ObjectSet(vec![cluster_role_ops(body)]));
    match which {
        Cluster::Empty => Box::new(ObjectSet::default()),
        Cluster::OpsWildcard => ops(json!({"rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        ]})),
        Cluster::OpsCoreWildcard => {
            ops(json!({"rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}]}))
        }
        Cluster::OpsUrlsOnly => ops(json!({"rules": [{"nonResourceURLs": ["*"], "verbs": ["*"]}]})),
        Cluster::OpsAggregated => ops(json!({
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-ops": "true"}}]},
            "rules": [],
        })),
        Cluster::Unavailable => Box::new(NoCluster),
        Cluster::Roles(name) => {
            let path = format!("{}/test_data/roles/{name}.json", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let roles: Vec<Value> = serde_json::from_str(&text).expect("a JSON list of roles");
            Box::new(ObjectSet(roles))
        }
    }
}

/// Runs fixture `name` with `settings` through `aksid_policy_common::validate`.
fn run_fixture(name: &str, settings: Value, which: Cluster) -> Value {
    let path = format!("{}/test_data/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let request: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))
        .expect("serialisable");
    let response =
        aksid_policy_common::validate::<NoClusterAdminUsers>(&payload, cluster(which).as_ref())
            .expect("validate answers");
    serde_json::from_slice(&response).expect("response is JSON")
}

fn assert_contains(what: &str, expected: Option<&str>, actual: &Value) {
    let actual = match actual {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.as_str().unwrap_or("").to_owned(),
    };
    match expected {
        Some(expected) => assert!(
            actual.contains(expected),
            "{what}: expected\n```\n{expected}\n```\ngot\n```\n{actual}\n```"
        ),
        None => assert!(
            actual.is_empty(),
            "{what}: expected none, got\n```\n{actual}\n```"
        ),
    }
}

#[rstest]
// cluster-admin to a User: rejected on CREATE and UPDATE, DELETE accepted.
#[case::reject_user(
    "clusterrolebinding_cluster_admin_to_user", json!({}), Cluster::Empty, false,
    Some("subjects[0] User alice@contoso.com: is given ClusterRole cluster-admin cluster-wide, but cluster-admin \
          rights must go to Entra groups, not individual users; fix: bind an Entra group by object ID instead"), None)]
#[case::reject_user_on_update("clusterrolebinding_cluster_admin_to_user_update", json!({}), Cluster::Empty, false, Some("subjects[0] User alice@contoso.com"), None)]
#[case::accept_delete("clusterrolebinding_cluster_admin_to_user_delete", json!({}), Cluster::Empty, true, None, None)]
// ServiceAccounts.
#[case::reject_service_account(
    "clusterrolebinding_cluster_admin_to_service_account", json!({}), Cluster::Empty, false,
    Some("subjects[0] ServiceAccount kube-system/tiller: is given ClusterRole cluster-admin cluster-wide, so every pod \
          running as this service account holds that power over the cluster; fix: grant the service account a purpose-built Role"), None)]
#[case::reject_service_account_in_rolebinding(
    "rolebinding_cluster_admin_to_service_account", json!({}), Cluster::Empty, false,
    Some("subjects[0] ServiceAccount ci/deployer: is given ClusterRole cluster-admin in namespace ci, so every pod \
          running as this service account holds that power over namespace ci"), None)]
#[case::accept_service_account_with_purpose_built_role("rolebinding_purpose_built_role_to_service_account", json!({}), Cluster::Empty, true, None, None)]
// Groups: Entra object IDs and allowedGroups accepted, other names rejected.
#[case::accept_entra_group("clusterrolebinding_cluster_admin_to_entra_group_object_id", json!({}), Cluster::Empty, true, None, None)]
#[case::accept_entra_group_in_rolebinding("rolebinding_cluster_admin_to_entra_group_object_id", json!({}), Cluster::Empty, true, None, None)]
#[case::reject_group_display_name(
    "clusterrolebinding_cluster_admin_to_group_display_name", json!({}), Cluster::Empty, false,
    Some("subjects[0] Group platform-admins: is given ClusterRole cluster-admin cluster-wide, but the name is neither \
          an Entra object ID (GUID) nor listed in allowedGroups; fix: AKS matches Entra groups by object ID"), None)]
#[case::accept_allowed_group(
    "clusterrolebinding_cluster_admin_to_group_display_name", json!({"allowedGroups": ["platform-admins"]}),
    Cluster::Empty, true, None, None)]
#[case::accept_placeholder_group_with_warning(
    "clusterrolebinding_cluster_admin_to_group_placeholder", json!({}), Cluster::Empty, true, None,
    Some("subjects[0] Group ${ADMIN_GROUP_OBJECT_ID}: the group name is a placeholder"))]
// Public groups: always rejected, even when allowed or in an exempt binding.
#[case::reject_system_authenticated(
    "clusterrolebinding_cluster_admin_to_system_authenticated", json!({"allowedGroups": ["system:authenticated"]}),
    Cluster::Empty, false,
    Some("subjects[0] Group system:authenticated: is given ClusterRole cluster-admin cluster-wide, but this group \
          contains every authenticated identity; fix: remove this subject"), None)]
#[case::reject_system_unauthenticated("clusterrolebinding_cluster_admin_to_system_unauthenticated", json!({}), Cluster::Empty, false, Some("every anonymous request"), None)]
#[case::reject_all_service_accounts("clusterrolebinding_cluster_admin_to_all_service_accounts", json!({}), Cluster::Empty, false, Some("subjects[0] Group system:serviceaccounts:"), None)]
#[case::reject_public_group_in_exempt_binding("clusterrolebinding_system_name_to_system_authenticated", json!({}), Cluster::Empty, false, Some("subjects[0] Group system:authenticated"), None)]
// Every reason at once, in subject order.
#[case::reject_every_offending_subject(
    "clusterrolebinding_cluster_admin_to_mixed_subjects", json!({}), Cluster::Empty, false,
    Some("subjects[1] User alice@contoso.com: is given ClusterRole cluster-admin cluster-wide, but cluster-admin rights \
          must go to Entra groups, not individual users; fix: bind an Entra group by object ID instead (kind: Group, name: \
          <group object ID>) and add the user to that group in Entra ID, or bind a narrower role\n\
          subjects[2] ServiceAccount ci/deployer: is given ClusterRole cluster-admin cluster-wide, so every pod running \
          as this service account holds that power over the cluster; fix: grant the service account a purpose-built Role (or \
          ClusterRole) with only the verbs and resources its workload needs\n\
          subjects[3] Group system:serviceaccounts:ci: is given ClusterRole cluster-admin cluster-wide, but this group \
          contains every service account it covers; fix: remove this subject and bind an Entra group by object ID (kind: \
          Group, name: <group object ID>) instead\n\
          subjects[4] Group sre: is given"), None)]
// privilegedRoles, and the built-in admin/edit/view when the cluster has none.
#[case::reject_admin_cluster_wide_by_its_built_in_rules(
    "clusterrolebinding_admin_to_user", json!({}), Cluster::Empty, false,
    Some("subjects[0] User alice@contoso.com: is given ClusterRole admin (as built into Kubernetes: it grants get, list, \
          watch on secrets: whoever holds it can read every Secret it covers"), None)]
#[case::reject_edit_cluster_wide("clusterrolebinding_edit_to_user", json!({}), Cluster::Empty, false, Some("is given ClusterRole edit (as built into Kubernetes"), None)]
#[case::reject_edit_in_kube_system(
    "rolebinding_edit_to_service_account_in_kube_system", json!({}), Cluster::Empty, false,
    Some("subjects[0] ServiceAccount ci/deployer: is given ClusterRole edit (as built into Kubernetes: it grants get, list, watch \
          on secrets"), None)]
#[case::accept_edit_in_an_app_namespace("rolebinding_edit_to_user", json!({}), Cluster::Empty, true, None, None)]
#[case::accept_view_cluster_wide("clusterrolebinding_view_to_user", json!({}), Cluster::Empty, true, None, None)]
#[case::accept_admin_with_secret_and_token_checks_off(
    "clusterrolebinding_admin_to_user",
    json!({"rejectSecretsRead": false, "rejectImpersonate": false, "rejectTokenCreation": false}),
    Cluster::Empty, true, None, None)]
#[case::reject_listed_privileged_role(
    "clusterrolebinding_admin_to_user", json!({"privilegedRoles": ["admin"]}), Cluster::Empty, false,
    Some("subjects[0] User alice@contoso.com: is given ClusterRole admin (listed in privilegedRoles) cluster-wide"), None)]
// Context-aware: the bound ClusterRole's rules.
#[case::reject_wildcard_in_second_rule(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::OpsWildcard, false,
    Some("subjects[0] User alice@contoso.com: is given ClusterRole ops (its rules[1] grants every verb on every \
          resource in every API group, like cluster-admin) cluster-wide"), None)]
#[case::reject_core_wildcard_role(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::OpsCoreWildcard, false,
    Some("subjects[0] User alice@contoso.com: is given ClusterRole ops (its rules[0] grants * on *: whoever holds it can \
          act as any user or group, system:masters (cluster-admin) included; can reach the kubelet API of every node"), None)]
#[case::accept_narrow_role("clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_manages_deployments"), true, None, None)]
#[case::accept_non_resource_urls_only("clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::OpsUrlsOnly, true, None, None)]
#[case::accept_missing_role("clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Empty, true, None, None)]
#[case::warn_aggregated_role(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::OpsAggregated, true, None,
    Some("roleRef: ClusterRole ops is aggregated (aggregationRule)"))]
#[case::warn_lookup_unavailable(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Unavailable, true, None,
    Some("roleRef: could not inspect ClusterRole ops (no cluster context); judged by its name only"))]
#[case::reject_cluster_admin_without_lookup("clusterrolebinding_cluster_admin_to_user", json!({}), Cluster::Unavailable, false, Some("ClusterRole cluster-admin"), None)]
// bind and escalate on RBAC roles, in every scope.
#[case::reject_bind_on_cluster_roles(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_binds_clusterroles"), false,
    Some("subjects[0] User alice@contoso.com: is given ClusterRole ops (its rules[1] grants bind on clusterroles: whoever \
          holds it can bind any role to anyone, cluster-admin included) cluster-wide, but cluster-admin rights must go to \
          Entra groups"), None)]
#[case::reject_bind_in_an_app_namespace(
    "rolebinding_custom_clusterrole_to_service_account", json!({}), Cluster::Roles("ops_binds_clusterroles"), false,
    Some("subjects[0] ServiceAccount ci/deployer: is given ClusterRole ops (its rules[1] grants bind on clusterroles: \
          whoever holds it can bind any role to anyone, cluster-admin included) in namespace ci, so every pod running as \
          this service account holds that power over namespace ci"), None)]
#[case::accept_bind_limited_to_named_roles("clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_binds_named_roles"), true, None, None)]
#[case::reject_bind_of_a_named_privileged_role(
    "clusterrolebinding_custom_clusterrole_to_user", json!({"privilegedRoles": ["edit"]}), Cluster::Roles("ops_binds_named_roles"), false,
    Some("its rules[1] grants bind on clusterroles"), None)]
#[case::reject_escalate_on_roles(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_escalates_roles"), false,
    Some("is given ClusterRole ops (its rules[0] grants escalate on roles, clusterroles: whoever holds it can write any \
          permission into a role, cluster-admin's included) cluster-wide"), None)]
#[case::accept_bind_for_entra_group("clusterrolebinding_custom_clusterrole_to_entra_group_object_id", json!({}), Cluster::Roles("ops_binds_clusterroles"), true, None, None)]
#[case::accept_bind_switched_off("clusterrolebinding_custom_clusterrole_to_user", json!({"rejectBindEscalate": false}), Cluster::Roles("ops_binds_clusterroles"), true, None, None)]
// impersonate: users and groups cluster-wide, service accounts also in kube-system.
#[case::reject_impersonate_users_and_groups(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_impersonates_users_and_groups"), false,
    Some("is given ClusterRole ops (its rules[0] grants impersonate on users, groups: whoever holds it can act as any user \
          or group, system:masters (cluster-admin) included) cluster-wide"), None)]
#[case::accept_impersonate_users_in_a_rolebinding(
    "rolebinding_custom_clusterrole_to_service_account_in_kube_system", json!({}), Cluster::Roles("ops_impersonates_users_and_groups"), true, None, None)]
#[case::reject_impersonate_service_accounts_in_kube_system(
    "rolebinding_custom_clusterrole_to_service_account_in_kube_system", json!({}), Cluster::Roles("ops_impersonates_service_accounts"), false,
    Some("subjects[0] ServiceAccount ci/deployer: is given ClusterRole ops (its rules[0] grants impersonate on serviceaccounts: \
          whoever holds it can act as any service account it covers, the system controllers' included) in namespace \
          kube-system"), None)]
#[case::accept_impersonate_service_accounts_in_an_app_namespace(
    "rolebinding_custom_clusterrole_to_service_account", json!({}), Cluster::Roles("ops_impersonates_service_accounts"), true, None, None)]
#[case::accept_impersonate_switched_off(
    "clusterrolebinding_custom_clusterrole_to_user", json!({"rejectImpersonate": false}), Cluster::Roles("ops_impersonates_users_and_groups"), true, None, None)]
// nodes/proxy: nodes are cluster-scoped, so only ClusterRoleBindings grant it.
#[case::reject_nodes_proxy(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_proxies_to_nodes"), false,
    Some("is given ClusterRole ops (its rules[0] grants get on nodes/proxy: whoever holds it can reach the kubelet API of \
          every node and run commands in any pod, past admission control and audit) cluster-wide"), None)]
#[case::reject_proxy_of_every_resource(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_proxies_every_resource"), false,
    Some("its rules[0] grants get on */proxy: whoever holds it can reach the kubelet API"), None)]
#[case::accept_nodes_proxy_in_a_rolebinding(
    "rolebinding_custom_clusterrole_to_service_account_in_kube_system", json!({}), Cluster::Roles("ops_proxies_to_nodes"), true, None, None)]
#[case::accept_nodes_proxy_switched_off(
    "clusterrolebinding_custom_clusterrole_to_user", json!({"rejectNodesProxy": false}), Cluster::Roles("ops_proxies_to_nodes"), true, None, None)]
// Service account tokens: cluster-wide and in kube-system, unless limited to named accounts.
#[case::reject_token_creation_cluster_wide(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_creates_service_account_tokens"), false,
    Some("is given ClusterRole ops (its rules[0] grants create on serviceaccounts/token: whoever holds it can mint a token \
          for any service account it covers, the system controllers' included"), None)]
#[case::reject_token_creation_in_kube_system(
    "rolebinding_custom_clusterrole_to_service_account_in_kube_system", json!({}), Cluster::Roles("ops_creates_service_account_tokens"), false,
    Some("grants create on serviceaccounts/token"), None)]
#[case::accept_token_creation_in_an_app_namespace(
    "rolebinding_custom_clusterrole_to_service_account", json!({}), Cluster::Roles("ops_creates_service_account_tokens"), true, None, None)]
#[case::accept_token_creation_for_named_accounts(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_creates_named_service_account_tokens"), true, None, None)]
#[case::accept_token_creation_switched_off(
    "clusterrolebinding_custom_clusterrole_to_user", json!({"rejectTokenCreation": false}), Cluster::Roles("ops_creates_service_account_tokens"), true, None, None)]
// Reading Secrets: cluster-wide and in kube-system, unless limited to named Secrets.
#[case::reject_secrets_read_cluster_wide(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_reads_secrets"), false,
    Some("subjects[0] User alice@contoso.com: is given ClusterRole ops (its rules[0] grants get, list, watch on secrets: \
          whoever holds it can read every Secret it covers, service account tokens and system credentials among them"), None)]
#[case::reject_secrets_read_in_kube_system(
    "rolebinding_custom_clusterrole_to_service_account_in_kube_system", json!({}), Cluster::Roles("ops_reads_secrets"), false,
    Some("grants get, list, watch on secrets"), None)]
#[case::reject_secrets_read_by_a_role_in_kube_system(
    "rolebinding_custom_role_to_service_account_in_kube_system", json!({}), Cluster::Roles("role_ops_reads_secrets_in_every_namespace"), false,
    Some("subjects[0] ServiceAccount ci/deployer: is given Role ops (its rules[0] grants list on secrets: whoever holds it can \
          read every Secret it covers"), None)]
#[case::accept_secrets_read_in_an_app_namespace(
    "rolebinding_custom_clusterrole_to_service_account", json!({}), Cluster::Roles("ops_reads_secrets"), true, None, None)]
#[case::accept_secrets_read_by_a_role_in_an_app_namespace(
    "rolebinding_custom_role_to_service_account", json!({}), Cluster::Roles("role_ops_reads_secrets_in_every_namespace"), true, None, None)]
#[case::accept_named_secrets_read(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Roles("ops_reads_named_secrets"), true, None, None)]
#[case::accept_secrets_read_switched_off(
    "clusterrolebinding_custom_clusterrole_to_user", json!({"rejectSecretsRead": false}), Cluster::Roles("ops_reads_secrets"), true, None, None)]
#[case::warn_role_lookup_unavailable(
    "rolebinding_custom_role_to_service_account_in_kube_system", json!({}), Cluster::Unavailable, true, None,
    Some("roleRef: could not inspect Role ops in namespace kube-system (no cluster context)"))]
// use-managed-identity on every identity binding.
#[case::reject_use_managed_identity_on_every_identity(
    "clusterrolebinding_use_managed_identity_to_service_account", json!({}), Cluster::Roles("use_mi_every_identity"), false,
    Some("subjects[0] ServiceAccount demo/demo: is given ClusterRole use-mi (its rules[0] grants use-managed-identity on *: \
          whoever holds it can get an Entra token for every managed identity of the cluster's identity bindings, not only its \
          own) cluster-wide"), None)]
#[case::accept_use_managed_identity_on_one_identity(
    "clusterrolebinding_use_managed_identity_to_service_account", json!({}), Cluster::Roles("use_mi_one_identity"), true, None, None)]
#[case::accept_every_identity_switched_off(
    "clusterrolebinding_use_managed_identity_to_service_account", json!({"rejectAllManagedIdentities": false}),
    Cluster::Roles("use_mi_every_identity"), true, None, None)]
// Any role for everyone: only Kubernetes' discovery roles.
#[case::reject_custom_role_for_system_unauthenticated(
    "clusterrolebinding_custom_clusterrole_to_system_unauthenticated", json!({}), Cluster::Empty, false,
    Some("subjects[0] Group system:unauthenticated: is given ClusterRole manager cluster-wide, but this group contains every \
          anonymous request, and no role but Kubernetes' own discovery roles (system:discovery, system:basic-user, \
          system:public-info-viewer) may go to it; fix: remove this subject"), None)]
#[case::reject_custom_role_for_anonymous_user(
    "clusterrolebinding_custom_clusterrole_to_anonymous_user", json!({}), Cluster::Empty, false,
    Some("subjects[0] User system:anonymous: is given ClusterRole manager cluster-wide, but this user stands for every anonymous request"), None)]
#[case::reject_role_for_system_authenticated(
    "rolebinding_custom_role_to_system_authenticated", json!({}), Cluster::Roles("reader_role_in_dev"), false,
    Some("subjects[0] Group system:authenticated: is given Role reader in namespace dev, but this group contains every \
          authenticated identity, and no role but"), None)]
#[case::accept_discovery_role_for_system_authenticated("clusterrolebinding_discovery_to_system_authenticated", json!({}), Cluster::Empty, true, None, None)]
#[case::accept_upstream_public_info_viewer_binding("clusterrolebinding_upstream_public_info_viewer", json!({}), Cluster::Empty, true, None, None)]
#[case::accept_everyone_switched_off(
    "clusterrolebinding_custom_clusterrole_to_system_unauthenticated", json!({"rejectEveryoneGroups": false}), Cluster::Empty, true, None, None)]
// AKS-managed and configured exemptions.
#[case::accept_bootstrap_binding_of_a_secrets_reader(
    "clusterrolebinding_system_controller_name_to_service_account", json!({}), Cluster::Roles("ops_reads_secrets"), true, None, None)]
#[case::accept_aks_local_accounts_binding("clusterrolebinding_aks_cluster_admin_binding", json!({}), Cluster::Empty, true, None, None)]
#[case::accept_aks_admin_groups_binding("clusterrolebinding_aks_cluster_admin_binding_aad", json!({}), Cluster::Empty, true, None, None)]
#[case::accept_upstream_cluster_admin_binding("clusterrolebinding_upstream_cluster_admin", json!({}), Cluster::Empty, true, None, None)]
#[case::reject_break_glass_by_default("clusterrolebinding_break_glass_to_user", json!({}), Cluster::Empty, false, Some("subjects[0] User breakglass@contoso.com"), None)]
#[case::accept_exempt_binding_setting("clusterrolebinding_break_glass_to_user", json!({"exemptBindings": ["break-glass-*"]}), Cluster::Empty, true, None, None)]
// Kind-suffix trap: only rbac.authorization.k8s.io bindings are judged.
#[case::accept_trusted_access_role_binding("trustedaccessrolebinding_not_rbac", json!({}), Cluster::Empty, true, None, None)]
#[case::accept_azure_identity_binding("azureidentitybinding_not_rbac", json!({}), Cluster::Empty, true, None, None)]
#[case::accept_binding_kind_in_other_group("clusterrolebinding_in_other_api_group", json!({}), Cluster::Empty, true, None, None)]
// Settings that do not parse are a rejection with the reason, not a crash.
#[case::reject_unknown_setting("clusterrolebinding_cluster_admin_to_entra_group_object_id", json!({"allowedGroup": []}), Cluster::Empty, false, Some("unknown field `allowedGroup`"), None)]
fn fixtures(
    #[case] fixture: &str,
    #[case] settings: Value,
    #[case] which: Cluster,
    #[case] accepted: bool,
    #[case] message: Option<&str>,
    #[case] warning: Option<&str>,
) {
    let response = run_fixture(fixture, settings, which);
    assert_eq!(response["accepted"], accepted, "{response:#}");
    assert_contains("message", message, &response["message"]);
    assert_contains("warnings", warning, &response["warnings"]);
}

#[test]
fn corpus_verdicts_match_expected() {
    let mismatches = corpus_mismatches::<NoClusterAdminUsers>("no-cluster-admin-users");
    assert!(
        mismatches.is_empty(),
        "corpus mismatches:\n```\n{}\n```",
        mismatches.join("\n")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_panics(o in arbitrary_object(KINDS)) {
        assert_answers::<NoClusterAdminUsers>(&o, &json!({}), &ObjectSet(vec![o.clone()]));
    }
}

#[test]
fn huge_subject_list_answers() {
    let subjects: Vec<Value> = (0..100_000)
        .map(|i| json!({"kind": "User", "name": format!("u{i}")}))
        .collect();
    let rules: Vec<Value> = (0..100_000)
        .map(|_| json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}))
        .collect();
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "big"}, "rules": rules});
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "big"}, "roleRef": {"kind": "ClusterRole", "name": "big"}, "subjects": subjects});
    assert_answers::<NoClusterAdminUsers>(&binding, &json!({}), &ObjectSet(vec![role]));
    let admin = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "big"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": binding["subjects"]});
    assert_answers::<NoClusterAdminUsers>(&admin, &json!({}), &ObjectSet::default());
}

#[test]
fn deeply_nested_object_answers() {
    let mut deep = json!("cluster-admin");
    for _ in 0..200 {
        deep = json!({"roleRef": [deep]});
    }
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "deep"}, "roleRef": deep.clone(), "subjects": [{"kind": deep}]});
    assert_answers::<NoClusterAdminUsers>(&binding, &json!({}), &ObjectSet::default());
}

/// The fenced blocks of `section` in the README, as (language, text).
fn readme_blocks(section: &str) -> Vec<(String, String)> {
    let readme = include_str!("../README.md");
    let body = readme
        .split(&format!("\n## {section}\n"))
        .nth(1)
        .unwrap_or("");
    let body = body.split("\n## ").next().unwrap_or("");
    let mut blocks = Vec::new();
    let mut parts = body.split("```");
    parts.next();
    while let (Some(block), _) = (parts.next(), parts.next()) {
        let (language, text) = block.split_once('\n').unwrap_or((block, ""));
        blocks.push((language.to_owned(), text.to_owned()));
    }
    blocks
}

/// The README examples are real: each rejected manifest gives exactly the message shown. The
/// last object of an example is the one judged; all of them form the cluster.
#[rstest]
#[case::rejected("Example: rejected", false)]
#[case::rejected_secrets_reader("Example: rejected, a role that reads every Secret", false)]
#[case::rejected_role_for_everyone("Example: rejected, a role for everyone", false)]
#[case::accepted("Example: accepted", true)]
fn readme_examples_match_the_policy(#[case] section: &str, #[case] accepted: bool) {
    let blocks = readme_blocks(section);
    let manifest = blocks
        .iter()
        .find(|(l, _)| l == "yaml")
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("a yaml block in section {section}"));
    let objects = aksid_policy_common::testing::yaml_objects(manifest);
    let object = objects.last().expect("the example has objects");
    let response = aksid_policy_common::testing::run::<NoClusterAdminUsers>(
        object,
        json!({}),
        &ObjectSet(objects.clone()),
    );
    assert_eq!(response["accepted"], accepted, "{response:#}");
    if !accepted {
        let expected = blocks
            .iter()
            .find(|(l, _)| l == "text")
            .map(|(_, t)| t.trim_end())
            .expect("a text block");
        let actual = response["message"].as_str().unwrap_or("");
        assert_eq!(
            actual, expected,
            "README message is stale:\n```\n{actual}\n```"
        );
    }
}

/// The README's settings table gives the real defaults, and its example validates.
#[test]
fn readme_settings_match_the_policy() {
    let readme = include_str!("../README.md");
    let section = readme.split("\n## Settings\n").nth(1).unwrap_or("");
    let documented: serde_json::Map<String, Value> = section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let key = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let default = cells.get(3)?.trim_matches('`');
            Some((key.to_owned(), serde_json::from_str(default).ok()?))
        })
        .collect();
    assert_eq!(documented.len(), 10, "{documented:?}");
    let settings: crate::Settings =
        serde_json::from_value(Value::Object(documented)).expect("the documented keys");
    assert_eq!(
        format!("{settings:?}"),
        format!("{:?}", crate::Settings::default())
    );
    let example = readme_blocks("Settings")
        .into_iter()
        .find(|(l, _)| l == "yaml")
        .map(|(_, t)| t)
        .expect("a yaml block");
    // The CLI's reader wants a Kubernetes object: wrap the settings in one, then unwrap them.
    let wrapped = format!("apiVersion: v1\nkind: Settings\n{example}");
    let mut example = aksid_policy_common::testing::yaml_objects(&wrapped)
        .pop()
        .expect("one document");
    if let Some(map) = example.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
    }
    let payload = serde_json::to_vec(&example).unwrap();
    let answer = aksid_policy_common::validate_settings::<crate::Settings>(&payload).unwrap();
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["valid"], true, "{answer}");
}
