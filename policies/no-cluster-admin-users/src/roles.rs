//! Which bound roles count as cluster-admin: the ClusterRole `cluster-admin`, the names listed
//! in `privilegedRoles`, and any other ClusterRole whose rules grant every verb on every resource
//! in every API group (looked up through the cluster context).
//!
//! A RoleBinding to a namespaced `Role` is never cluster-admin: a Role cannot grant more than
//! its namespace, and the control is about the cluster-admin ClusterRole and its equivalents.

use crate::Settings;
use aksid_policy_common::{ClusterContext, Lookup, Verdict, json};
use serde_json::Value;
use std::fmt;

/// The API version used to look up ClusterRoles (declared in `contextAwareResources`).
const RBAC_V1: &str = "rbac.authorization.k8s.io/v1";

/// A bound role that gives cluster-admin power, and why it counts as such.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrivilegedRole {
    name: String,
    why: Privilege,
}

/// Why a ClusterRole counts as cluster-admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Privilege {
    /// It is the built-in `cluster-admin`.
    ClusterAdmin,
    /// Its name is listed in the `privilegedRoles` setting.
    Listed,
    /// Its rule at this index grants `*` verbs on `*` resources in `*` API groups.
    Wildcard(usize),
}

impl fmt::Display for PrivilegedRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterRole {}", self.name)?;
        match self.why {
            Privilege::ClusterAdmin => Ok(()),
            Privilege::Listed => write!(f, " (listed in privilegedRoles)"),
            Privilege::Wildcard(i) => write!(
                f,
                " (its rules[{i}] grants every verb on every resource in every API group, like cluster-admin)"
            ),
        }
    }
}

/// The role a binding's `roleRef` names, when it counts as cluster-admin. Lookup problems and
/// roles that cannot be judged are recorded as warnings on `verdict`.
pub(crate) fn privileged_role(
    binding: &Value,
    settings: &Settings,
    cluster: &dyn ClusterContext,
    verdict: &mut Verdict,
) -> Option<PrivilegedRole> {
    if json::str_at(binding, &["roleRef", "kind"]) != Some("ClusterRole") {
        return None;
    }
    let name = json::str_at(binding, &["roleRef", "name"]).filter(|n| !n.is_empty())?;
    let named = |why| {
        Some(PrivilegedRole {
            name: name.to_owned(),
            why,
        })
    };
    if name == "cluster-admin" {
        return named(Privilege::ClusterAdmin);
    }
    if settings.privileged_roles.iter().any(|r| r == name) {
        return named(Privilege::Listed);
    }
    match cluster.get_resource(RBAC_V1, "ClusterRole", None, name) {
        Lookup::Found(role) => {
            wildcard_rule(&role, name, verdict).and_then(|i| named(Privilege::Wildcard(i)))
        }
        // A role that does not exist grants nothing yet; the name alone is not cluster-admin.
        Lookup::NotFound => None,
        // The binding is still judged by name (above); a role granting cluster-admin rights
        // under another name goes unnoticed, so say so rather than pass silently.
        Lookup::Unavailable(reason) => {
            verdict.warn(format!(
                "roleRef: could not inspect ClusterRole {name} ({reason}); judged by its name only, \
                 so if it grants cluster-admin rights its subjects were not checked"
            ));
            None
        }
    }
}

/// The index of the first rule of `role` granting `*` verbs on `*` resources in `*` API
/// groups. Every rule is read, not only the first. An aggregated ClusterRole whose rules are
/// still empty (as in a manifest) cannot be judged: that is a warning.
fn wildcard_rule(role: &Value, name: &str, verdict: &mut Verdict) -> Option<usize> {
    let rules = json::array_at(role, &["rules"]);
    if rules.is_empty() && json::get(role, &["aggregationRule"]).is_some_and(|a| !a.is_null()) {
        verdict.warn(format!(
            "roleRef: ClusterRole {name} is aggregated (aggregationRule): its rules are collected \
             from other ClusterRoles by the cluster and cannot be judged offline; check them with \
             `kubectl get clusterrole {name} -o yaml`"
        ));
        return None;
    }
    rules.iter().position(grants_everything)
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

    fn judge(
        binding: &Value,
        settings: &Settings,
        cluster: &dyn ClusterContext,
    ) -> (Option<String>, Vec<String>) {
        let mut verdict = Verdict::default();
        let role = privileged_role(binding, settings, cluster, &mut verdict);
        (role.map(|r| r.to_string()), verdict.warnings().to_vec())
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
                    {"apiGroups": [""], "resources": ["*"], "verbs": ["*"]},
                    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                    {"apiGroups": "*", "resources": "*", "verbs": "*"},
                    "not a rule",
                ]),
            ),
            json!({"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": {"name": "monitoring"},
                   "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "true"}}]}, "rules": []}),
            json!({"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": {"name": "aggregated-live"},
                   "aggregationRule": {}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
        ])
    }

    #[rstest]
    #[case::cluster_admin(
        binding("ClusterRole", "cluster-admin"),
        Some("ClusterRole cluster-admin")
    )]
    #[case::listed(
        binding("ClusterRole", "admin"),
        Some("ClusterRole admin (listed in privilegedRoles)")
    )]
    #[case::wildcard_in_second_rule(
        binding("ClusterRole", "god"),
        Some("ClusterRole god (its rules[1] grants every verb")
    )]
    #[case::aggregated_with_rules(binding("ClusterRole", "aggregated-live"), Some("its rules[0]"))]
    #[case::non_resource_urls_only(binding("ClusterRole", "urls-only"), None)]
    #[case::no_rule_grants_everything(binding("ClusterRole", "almost"), None)]
    #[case::role_named_cluster_admin(binding("Role", "cluster-admin"), None)]
    #[case::missing_role(binding("ClusterRole", "nowhere"), None)]
    #[case::no_role_ref(json!({"roleRef": "cluster-admin"}), None)]
    #[case::role_ref_name_not_a_string(json!({"roleRef": {"kind": "ClusterRole", "name": ["cluster-admin"]}}), None)]
    fn privileged_roles(#[case] binding: Value, #[case] expected: Option<&str>) {
        let settings = Settings {
            privileged_roles: vec!["admin".into()],
            ..Settings::default()
        };
        let (role, warnings) = judge(&binding, &settings, &roles());
        match (expected, role) {
            (None, None) => {}
            (Some(e), Some(r)) if r.starts_with(e) || r.contains(e) => {}
            (e, r) => panic!("expected\n```\n{e:?}\n```\ngot\n```\n{r:?}\n```"),
        }
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn aggregated_role_without_rules_warns() {
        let (role, warnings) = judge(
            &binding("ClusterRole", "monitoring"),
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
            &Settings::default(),
            &NoCluster,
        );
        assert_eq!(role.as_deref(), Some("ClusterRole cluster-admin"));
    }
}
