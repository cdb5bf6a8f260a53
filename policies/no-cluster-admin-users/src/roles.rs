//! What the bound role grants: the ClusterRole `cluster-admin`, the names listed in
//! `privilegedRoles`, a ClusterRole whose rules grant every verb on every resource in every API
//! group, or a role whose rules open another path to cluster-admin (see `rules`).
//!
//! Roles are looked up through the cluster context: ClusterRoles by name, Roles in the
//! binding's namespace. The built-in `admin`, `edit` and `view` have known contents, used when
//! the lookup finds nothing. A RoleBinding's Role is only judged for those other paths: a Role
//! cannot grant more than its namespace, so it is never cluster-admin itself.

use crate::Settings;
use crate::rules::{Grant, any_check_applies, dangerous_grants, describe_grants};
use crate::scope::Scope;
use aksid_policy_common::{ClusterContext, Lookup, Verdict, json};
use serde_json::{Value, json};
use std::fmt;

/// The API version used to look up roles (declared in `contextAwareResources`).
const RBAC_V1: &str = "rbac.authorization.k8s.io/v1";

/// Kubernetes' bootstrap roles for discovery, bound to `system:authenticated` (and
/// `system:unauthenticated`) by Kubernetes itself: they expose API discovery, the caller's own
/// permissions and the version, nothing else.
pub(crate) const DISCOVERY_ROLES: [&str; 3] = [
    "system:discovery",
    "system:basic-user",
    "system:public-info-viewer",
];

/// The kind of role a binding's `roleRef` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleKind {
    ClusterRole,
    Role,
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoleKind::ClusterRole => "ClusterRole",
            RoleKind::Role => "Role",
        })
    }
}

/// The role a binding's `roleRef` names, and what makes it privileged, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoundRole {
    kind: RoleKind,
    name: String,
    privilege: Option<Privilege>,
}

/// Why a role counts as cluster-admin, or as a path to it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Privilege {
    /// It is the built-in `cluster-admin`.
    ClusterAdmin,
    /// Its name is listed in the `privilegedRoles` setting.
    Listed,
    /// Its rule at this index grants `*` verbs on `*` resources in `*` API groups.
    Wildcard(usize),
    /// Its rules open these paths to cluster-admin; `built_in` when the rules are Kubernetes'
    /// own `admin`/`edit` rather than looked up.
    Grants { grants: Vec<Grant>, built_in: bool },
}

impl BoundRole {
    /// True when the subjects of the binding must be judged like those of cluster-admin.
    pub(crate) fn is_privileged(&self) -> bool {
        self.privilege.is_some()
    }

    /// True for the ClusterRoles Kubernetes itself grants to everyone ([`DISCOVERY_ROLES`]).
    pub(crate) fn is_discovery(&self) -> bool {
        self.kind == RoleKind::ClusterRole && DISCOVERY_ROLES.contains(&self.name.as_str())
    }
}

impl fmt::Display for BoundRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)?;
        match &self.privilege {
            None | Some(Privilege::ClusterAdmin) => Ok(()),
            Some(Privilege::Listed) => write!(f, " (listed in privilegedRoles)"),
            Some(Privilege::Wildcard(i)) => write!(
                f,
                " (its rules[{i}] grants every verb on every resource in every API group, like cluster-admin)"
            ),
            Some(Privilege::Grants { grants, built_in }) => {
                let source = if *built_in {
                    "as built into Kubernetes: "
                } else {
                    ""
                };
                write!(f, " ({source}{})", describe_grants(grants, *built_in))
            }
        }
    }
}

/// The role a binding's `roleRef` names and what it grants through a binding of `scope`, or
/// `None` when the `roleRef` names no role. Lookup problems and roles that cannot be judged are
/// recorded as warnings on `verdict`.
pub(crate) fn bound_role(
    binding: &Value,
    scope: Scope<'_>,
    settings: &Settings,
    cluster: &dyn ClusterContext,
    verdict: &mut Verdict,
) -> Option<BoundRole> {
    let kind = match json::str_at(binding, &["roleRef", "kind"]) {
        Some("ClusterRole") => RoleKind::ClusterRole,
        Some("Role") => RoleKind::Role,
        _ => return None,
    };
    let name = json::str_at(binding, &["roleRef", "name"]).filter(|n| !n.is_empty())?;
    let privilege = match kind {
        RoleKind::ClusterRole => cluster_role_privilege(name, scope, settings, cluster, verdict),
        RoleKind::Role => role_privilege(name, scope, settings, cluster, verdict),
    };
    Some(BoundRole {
        kind,
        name: name.to_owned(),
        privilege,
    })
}

/// What the ClusterRole `name` grants: by name, by its rules in the cluster, or by the known
/// contents of a built-in role.
fn cluster_role_privilege(
    name: &str,
    scope: Scope<'_>,
    settings: &Settings,
    cluster: &dyn ClusterContext,
    verdict: &mut Verdict,
) -> Option<Privilege> {
    if name == "cluster-admin" {
        return Some(Privilege::ClusterAdmin);
    }
    if settings.privileged_roles.iter().any(|r| r == name) {
        return Some(Privilege::Listed);
    }
    match cluster.get_resource(RBAC_V1, "ClusterRole", None, name) {
        Lookup::Found(role) => {
            judge_rules(&role, RoleKind::ClusterRole, name, scope, settings, verdict)
        }
        lookup => {
            if let Some(rules) = built_in_rules(name) {
                let grants = dangerous_grants(json::array_at(&rules, &[]), scope, settings);
                return (!grants.is_empty()).then_some(Privilege::Grants {
                    grants,
                    built_in: true,
                });
            }
            // A role that does not exist grants nothing yet; the name alone is not cluster-admin.
            // A failed lookup leaves the binding judged by name (above): a role granting
            // cluster-admin rights under another name goes unnoticed, so say so.
            if let Lookup::Unavailable(reason) = lookup {
                verdict.warn(format!(
                    "roleRef: could not inspect ClusterRole {name} ({reason}); judged by its name only, \
                     so if it grants cluster-admin rights its subjects were not checked"
                ));
            }
            None
        }
    }
}

/// What the Role `name` in the binding's namespace grants. Only RoleBindings can name a Role,
/// and it is only looked up when a check on rules applies there.
fn role_privilege(
    name: &str,
    scope: Scope<'_>,
    settings: &Settings,
    cluster: &dyn ClusterContext,
    verdict: &mut Verdict,
) -> Option<Privilege> {
    let Scope::Namespace(namespace) = scope else {
        return None;
    };
    if namespace.is_empty() || !any_check_applies(scope, settings) {
        return None;
    }
    match cluster.get_resource(RBAC_V1, "Role", Some(namespace), name) {
        Lookup::Found(role) => judge_rules(&role, RoleKind::Role, name, scope, settings, verdict),
        Lookup::NotFound => None,
        Lookup::Unavailable(reason) => {
            verdict.warn(format!(
                "roleRef: could not inspect Role {name} in namespace {namespace} ({reason}); its \
                 rules were not judged, so if it opens a path to cluster-admin its subjects were not checked"
            ));
            None
        }
    }
}

/// Judges the rules of a role found in the cluster. Every rule is read, not only the first. An
/// aggregated ClusterRole whose rules are still empty (as in a manifest) cannot be judged: that
/// is a warning.
fn judge_rules(
    role: &Value,
    kind: RoleKind,
    name: &str,
    scope: Scope<'_>,
    settings: &Settings,
    verdict: &mut Verdict,
) -> Option<Privilege> {
    let rules = json::array_at(role, &["rules"]);
    if rules.is_empty() && json::get(role, &["aggregationRule"]).is_some_and(|a| !a.is_null()) {
        verdict.warn(format!(
            "roleRef: {kind} {name} is aggregated (aggregationRule): its rules are collected \
             from other ClusterRoles by the cluster and cannot be judged offline; check them with \
             `kubectl get clusterrole {name} -o yaml`"
        ));
        return None;
    }
    // A Role never counts as cluster-admin itself; its wildcard rule still opens the other paths.
    if kind == RoleKind::ClusterRole
        && let Some(i) = rules.iter().position(grants_everything)
    {
        return Some(Privilege::Wildcard(i));
    }
    let grants = dangerous_grants(rules, scope, settings);
    (!grants.is_empty()).then_some(Privilege::Grants {
        grants,
        built_in: false,
    })
}

/// True for a rule with `*` in verbs, resources and apiGroups. A rule with only
/// `nonResourceURLs` has no resources and so does not count; `*/*` is not a wildcard.
fn grants_everything(rule: &Value) -> bool {
    let has_star = |key| {
        json::array_at(rule, &[key])
            .iter()
            .any(|v| v.as_str() == Some("*"))
    };
    has_star("verbs") && has_star("resources") && has_star("apiGroups")
}

/// The rules of Kubernetes' built-in user-facing ClusterRoles that matter here (bootstrap
/// policy, `system:aggregate-to-edit`, aggregated into `edit` and `admin`): `edit` and `admin`
/// read Secrets, impersonate service accounts and mint their tokens; `view` does none of that.
fn built_in_rules(name: &str) -> Option<Value> {
    match name {
        "admin" | "edit" => Some(json!([
            {"apiGroups": [""], "resources": ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]},
            {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        ])),
        "view" => Some(json!([])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::NoCluster;
    use aksid_policy_common::testing::ObjectSet;
    use rstest::rstest;
    use serde_json::json;

    fn binding(kind: &str, name: &str) -> Value {
        json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}})
    }

    fn cluster_role(name: &str, rules: Value) -> Value {
        json!({"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules})
    }

    /// The privileged role's description (`None` when not privileged) and the warnings.
    fn judge(
        binding: &Value,
        scope: Scope<'_>,
        settings: &Settings,
        cluster: &dyn ClusterContext,
    ) -> (Option<String>, Vec<String>) {
        let mut verdict = Verdict::default();
        let role = bound_role(binding, scope, settings, cluster, &mut verdict);
        let privileged = role.filter(BoundRole::is_privileged);
        (
            privileged.map(|r| r.to_string()),
            verdict.warnings().to_vec(),
        )
    }

    fn roles() -> ObjectSet {
        ObjectSet(vec![
            cluster_role(
                "god",
                json!([
                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                ]),
            ),
            cluster_role(
                "urls-only",
                json!([{"nonResourceURLs": ["*"], "verbs": ["*"]}]),
            ),
            cluster_role(
                "almost",
                json!([
                    {"apiGroups": ["*"], "resources": ["*/*"], "verbs": ["*"]},
                    {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]},
                    {"apiGroups": ["*"], "resources": ["deployments", "*/scale"], "verbs": ["*"]},
                    {"apiGroups": "*", "resources": "*", "verbs": "*"},
                    "not a rule",
                ]),
            ),
            cluster_role(
                "secret-reader",
                json!([
                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
                ]),
            ),
            // A cluster's own `edit` wins over the built-in contents.
            cluster_role(
                "edit",
                json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
            ),
            json!({"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": {"name": "monitoring"},
                   "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "true"}}]}, "rules": []}),
            json!({"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": {"name": "aggregated-live"},
                   "aggregationRule": {}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
            json!({"apiVersion": RBAC_V1, "kind": "Role", "metadata": {"name": "ns-admin", "namespace": "dev"},
                   "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
            json!({"apiVersion": RBAC_V1, "kind": "Role", "metadata": {"name": "reader", "namespace": "kube-system"},
                   "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["watch"]}]}),
            json!({"apiVersion": RBAC_V1, "kind": "Role", "metadata": {"name": "reader", "namespace": "dev"},
                   "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["watch"]}]}),
        ])
    }

    const DEV: Scope<'static> = Scope::Namespace("dev");
    const KUBE_SYSTEM: Scope<'static> = Scope::Namespace("kube-system");

    #[rstest]
    #[case::cluster_admin(
        binding("ClusterRole", "cluster-admin"),
        Scope::Cluster,
        Some("ClusterRole cluster-admin")
    )]
    #[case::listed(
        binding("ClusterRole", "admin"),
        Scope::Cluster,
        Some("ClusterRole admin (listed in privilegedRoles)")
    )]
    #[case::wildcard_in_second_rule(
        binding("ClusterRole", "god"),
        Scope::Cluster,
        Some(
            "ClusterRole god (its rules[1] grants every verb on every resource in every API group, like cluster-admin)"
        )
    )]
    #[case::wildcard_cluster_role_in_a_namespace(
        binding("ClusterRole", "god"),
        DEV,
        Some("ClusterRole god (its rules[1] grants every verb")
    )]
    #[case::aggregated_with_rules(
        binding("ClusterRole", "aggregated-live"),
        Scope::Cluster,
        Some("its rules[0]")
    )]
    #[case::non_resource_urls_only(binding("ClusterRole", "urls-only"), Scope::Cluster, None)]
    #[case::no_rule_grants_anything_dangerous(
        binding("ClusterRole", "almost"),
        Scope::Cluster,
        None
    )]
    #[case::secrets_read_cluster_wide(
        binding("ClusterRole", "secret-reader"),
        Scope::Cluster,
        Some(
            "ClusterRole secret-reader (its rules[1] grants get, list on secrets: whoever holds it can read every \
              Secret it covers, service account tokens and system credentials among them, and act as their owners)"
        )
    )]
    #[case::secrets_read_in_kube_system(
        binding("ClusterRole", "secret-reader"),
        KUBE_SYSTEM,
        Some("its rules[1] grants get, list on secrets")
    )]
    #[case::secrets_read_in_an_app_namespace(binding("ClusterRole", "secret-reader"), DEV, None)]
    #[case::cluster_edit_wins_over_built_in(binding("ClusterRole", "edit"), Scope::Cluster, None)]
    #[case::role_with_wildcard_opens_bind_and_escalate(
        binding("Role", "ns-admin"),
        DEV,
        Some(
            "Role ns-admin (its rules[0] grants * on *: whoever holds it can write any permission into a role and \
              bind any role to anyone, cluster-admin included; can get an Entra token for every managed identity of \
              the cluster's identity bindings, not only its own)"
        )
    )]
    #[case::role_reading_kube_system_secrets(
        binding("Role", "reader"),
        KUBE_SYSTEM,
        Some("Role reader (its rules[0] grants watch on secrets")
    )]
    #[case::role_reading_app_secrets(binding("Role", "reader"), DEV, None)]
    #[case::role_named_cluster_admin(binding("Role", "cluster-admin"), DEV, None)]
    #[case::role_in_a_cluster_role_binding(binding("Role", "ns-admin"), Scope::Cluster, None)]
    #[case::role_in_an_unknown_namespace(binding("Role", "ns-admin"), Scope::Namespace(""), None)]
    #[case::missing_role(binding("ClusterRole", "nowhere"), Scope::Cluster, None)]
    #[case::no_role_ref(json!({"roleRef": "cluster-admin"}), Scope::Cluster, None)]
    #[case::role_ref_name_not_a_string(json!({"roleRef": {"kind": "ClusterRole", "name": ["cluster-admin"]}}), Scope::Cluster, None)]
    fn privileged_roles(
        #[case] binding: Value,
        #[case] scope: Scope<'_>,
        #[case] expected: Option<&str>,
    ) {
        let settings = Settings {
            privileged_roles: vec!["admin".into()],
            ..Settings::default()
        };
        let (role, warnings) = judge(&binding, scope, &settings, &roles());
        match (expected, role) {
            (None, None) => {}
            (Some(e), Some(r)) if r.starts_with(e) || r.contains(e) => {}
            (e, r) => panic!("expected\n```\n{e:?}\n```\ngot\n```\n{r:?}\n```"),
        }
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    /// `admin` and `edit` have known contents when the cluster has no such ClusterRole; `view`
    /// opens no path.
    #[rstest]
    #[case::edit_cluster_wide(
        "edit",
        Scope::Cluster,
        Some(
            "ClusterRole edit (as built into Kubernetes: it grants get, list, watch on secrets: whoever holds it can \
              read every Secret it covers, service account tokens and system credentials among them, and act as their \
              owners; it grants impersonate on serviceaccounts: whoever holds it can act as any service account it \
              covers, the system controllers' included; it grants create on serviceaccounts/token: whoever holds it can \
              mint a token for any service account it covers, the system controllers' included, and act as that account)"
        )
    )]
    #[case::admin_in_kube_system(
        "admin",
        KUBE_SYSTEM,
        Some("ClusterRole admin (as built into Kubernetes: it grants get, list, watch on secrets")
    )]
    #[case::admin_in_an_app_namespace("admin", DEV, None)]
    #[case::view_cluster_wide("view", Scope::Cluster, None)]
    fn built_in_roles(
        #[case] name: &str,
        #[case] scope: Scope<'_>,
        #[case] expected: Option<&str>,
    ) {
        for cluster in [&ObjectSet::default() as &dyn ClusterContext, &NoCluster] {
            let (role, warnings) = judge(
                &binding("ClusterRole", name),
                scope,
                &Settings::default(),
                cluster,
            );
            match (expected, &role) {
                (None, None) => {}
                (Some(e), Some(r)) if r.starts_with(e) => {}
                (e, r) => panic!("expected\n```\n{e:?}\n```\ngot\n```\n{r:?}\n```"),
            }
            assert!(warnings.is_empty(), "{warnings:?}");
        }
    }

    #[test]
    fn switched_off_checks_leave_roles_unprivileged() {
        let off = Settings {
            reject_secrets_read: false,
            reject_bind_escalate: false,
            reject_all_managed_identities: false,
            ..Settings::default()
        };
        let (role, _) = judge(
            &binding("ClusterRole", "secret-reader"),
            Scope::Cluster,
            &off,
            &roles(),
        );
        assert_eq!(role, None);
        let (role, _) = judge(&binding("Role", "ns-admin"), DEV, &off, &roles());
        assert_eq!(role, None);
        // The wildcard ClusterRole is cluster-admin itself, which no setting switches off.
        let (role, _) = judge(
            &binding("ClusterRole", "god"),
            Scope::Cluster,
            &off,
            &roles(),
        );
        assert!(role.is_some_and(|r| r.contains("every verb on every resource")));
    }

    #[test]
    fn aggregated_role_without_rules_warns() {
        let (role, warnings) = judge(
            &binding("ClusterRole", "monitoring"),
            Scope::Cluster,
            &Settings::default(),
            &roles(),
        );
        assert_eq!(role, None);
        assert!(
            warnings[0].starts_with("roleRef: ClusterRole monitoring is aggregated"),
            "{warnings:?}"
        );
    }

    #[test]
    fn failed_lookup_warns_and_judges_by_name() {
        let (role, warnings) = judge(
            &binding("ClusterRole", "god"),
            Scope::Cluster,
            &Settings::default(),
            &NoCluster,
        );
        assert_eq!(role, None);
        assert_eq!(
            warnings,
            [
                "roleRef: could not inspect ClusterRole god (no cluster context); judged by its name only, \
              so if it grants cluster-admin rights its subjects were not checked"
            ]
        );
        let (role, _) = judge(
            &binding("ClusterRole", "cluster-admin"),
            Scope::Cluster,
            &Settings::default(),
            &NoCluster,
        );
        assert_eq!(role.as_deref(), Some("ClusterRole cluster-admin"));
    }

    #[test]
    fn failed_role_lookup_warns_unless_no_check_applies() {
        let (role, warnings) = judge(
            &binding("Role", "ns-admin"),
            DEV,
            &Settings::default(),
            &NoCluster,
        );
        assert_eq!(role, None);
        assert_eq!(
            warnings,
            [
                "roleRef: could not inspect Role ns-admin in namespace dev (no cluster context); its rules were not \
                 judged, so if it opens a path to cluster-admin its subjects were not checked"
            ]
        );
        let only_bind_off = Settings {
            reject_bind_escalate: false,
            reject_all_managed_identities: false,
            ..Settings::default()
        };
        let (_, warnings) = judge(
            &binding("Role", "ns-admin"),
            DEV,
            &only_bind_off,
            &NoCluster,
        );
        assert!(warnings.is_empty(), "no lookup is needed: {warnings:?}");
    }

    #[rstest]
    #[case::discovery("ClusterRole", "system:discovery", true)]
    #[case::basic_user("ClusterRole", "system:basic-user", true)]
    #[case::public_info_viewer("ClusterRole", "system:public-info-viewer", true)]
    #[case::role_with_a_discovery_name("Role", "system:discovery", false)]
    #[case::other("ClusterRole", "system:node", false)]
    fn discovery_roles(#[case] kind: &str, #[case] name: &str, #[case] discovery: bool) {
        let mut verdict = Verdict::default();
        let role = bound_role(
            &binding(kind, name),
            DEV,
            &Settings::default(),
            &ObjectSet::default(),
            &mut verdict,
        )
        .expect("a role");
        assert_eq!(role.is_discovery(), discovery);
    }
}
