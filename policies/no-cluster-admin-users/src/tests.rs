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
    OpsNarrow,
    /// `ops` grants `*` only on non-resource URLs.
    OpsUrlsOnly,
    /// `ops` is aggregated and its rules are empty, as in a manifest.
    OpsAggregated,
    /// Lookups fail (capability not granted, API error).
    Unavailable,
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
        Cluster::OpsNarrow => {
            ops(json!({"rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}]}))
        }
        Cluster::OpsUrlsOnly => ops(json!({"rules": [{"nonResourceURLs": ["*"], "verbs": ["*"]}]})),
        Cluster::OpsAggregated => ops(json!({
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-ops": "true"}}]},
            "rules": [],
        })),
        Cluster::Unavailable => Box::new(NoCluster),
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
// privilegedRoles.
#[case::accept_admin_by_default("clusterrolebinding_admin_to_user", json!({}), Cluster::Empty, true, None, None)]
#[case::reject_listed_privileged_role(
    "clusterrolebinding_admin_to_user", json!({"privilegedRoles": ["admin"]}), Cluster::Empty, false,
    Some("subjects[0] User alice@contoso.com: is given ClusterRole admin (listed in privilegedRoles) cluster-wide"), None)]
// Context-aware: the bound ClusterRole's rules.
#[case::reject_wildcard_in_second_rule(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::OpsWildcard, false,
    Some("subjects[0] User alice@contoso.com: is given ClusterRole ops (its rules[1] grants every verb on every \
          resource in every API group, like cluster-admin) cluster-wide"), None)]
#[case::accept_narrow_role("clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::OpsNarrow, true, None, None)]
#[case::accept_non_resource_urls_only("clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::OpsUrlsOnly, true, None, None)]
#[case::accept_missing_role("clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Empty, true, None, None)]
#[case::warn_aggregated_role(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::OpsAggregated, true, None,
    Some("roleRef: ClusterRole ops is aggregated (aggregationRule)"))]
#[case::warn_lookup_unavailable(
    "clusterrolebinding_custom_clusterrole_to_user", json!({}), Cluster::Unavailable, true, None,
    Some("roleRef: could not inspect ClusterRole ops (no cluster context); judged by its name only"))]
#[case::reject_cluster_admin_without_lookup("clusterrolebinding_cluster_admin_to_user", json!({}), Cluster::Unavailable, false, Some("ClusterRole cluster-admin"), None)]
// AKS-managed and configured exemptions.
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

/// The README examples are real: the rejected manifest gives exactly the message shown.
#[rstest]
#[case::rejected("Example: rejected", false)]
#[case::accepted("Example: accepted", true)]
fn readme_examples_match_the_policy(#[case] section: &str, #[case] accepted: bool) {
    let blocks = readme_blocks(section);
    let manifest = blocks
        .iter()
        .find(|(l, _)| l == "yaml")
        .map(|(_, t)| t)
        .expect("a yaml block");
    let objects = aksid_policy_common::testing::yaml_objects(manifest);
    let [object] = objects.as_slice() else {
        panic!("the example is one object:\n```\n{manifest}\n```");
    };
    let response = aksid_policy_common::testing::run::<NoClusterAdminUsers>(
        object,
        json!({}),
        &ObjectSet::default(),
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
