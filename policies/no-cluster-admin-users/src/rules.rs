//! Which paths to cluster-admin the rules of a bound role open, short of granting everything:
//! `bind`/`escalate` on RBAC roles, `impersonate`, `nodes/proxy`, minting service account
//! tokens, reading Secrets, and `use-managed-identity` on every identity binding.
//!
//! Rules are matched with Kubernetes' own RBAC semantics: `*` matches every API group, verb and
//! resource (subresources included), `*/proxy` matches the `proxy` subresource of every
//! resource, and `*/*` matches no real resource. Each danger is reported once, for the first rule
//! that opens it, and only where the binding can grant it: a RoleBinding cannot grant
//! cluster-scoped resources (nodes, users, groups), and Secrets, tokens and service accounts
//! count cluster-wide and in `kube-system`.

use crate::Settings;
use crate::scope::Scope;
use aksid_policy_common::json;
use serde_json::Value;

/// The core API group (Secrets, service accounts, nodes, users, groups).
const CORE: &str = "";
/// The RBAC API group (roles and cluster roles).
const RBAC: &str = "rbac.authorization.k8s.io";
/// The API group of the permission AKS identity bindings check before handing a pod a token for
/// a managed identity; the resource is the identity's client ID.
const IDENTITY_BINDINGS: &str = "cid.wi.aks.azure.com";
/// At most this many distinct verbs or resources are quoted per grant.
const MAX_QUOTED: usize = 5;

/// A path to cluster-admin (or, for identity bindings, to every managed identity) that a rule
/// can open. The order is the order of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Danger {
    /// `bind` or `escalate` on roles or cluster roles.
    BindEscalate,
    /// `impersonate` on users, groups or service accounts.
    Impersonate,
    /// Any verb on `nodes/proxy`.
    NodesProxy,
    /// `create` on `serviceaccounts/token`.
    TokenCreation,
    /// `get`, `list` or `watch` on `secrets`.
    SecretsRead,
    /// `use-managed-identity` on every identity binding (`resources: ["*"]`).
    AllManagedIdentities,
}

const DANGERS: [Danger; 6] = [
    Danger::BindEscalate,
    Danger::Impersonate,
    Danger::NodesProxy,
    Danger::TokenCreation,
    Danger::SecretsRead,
    Danger::AllManagedIdentities,
];

impl Danger {
    /// True when the setting that switches this check is on.
    fn enabled(self, settings: &Settings) -> bool {
        match self {
            Danger::BindEscalate => settings.reject_bind_escalate,
            Danger::Impersonate => settings.reject_impersonate,
            Danger::NodesProxy => settings.reject_nodes_proxy,
            Danger::TokenCreation => settings.reject_token_creation,
            Danger::SecretsRead => settings.reject_secrets_read,
            Danger::AllManagedIdentities => settings.reject_all_managed_identities,
        }
    }

    /// True when a binding of this scope can grant the danger. `bind` is authorized in the
    /// binding's namespace, so it counts everywhere; nodes are cluster-scoped; Secrets, tokens
    /// and service accounts count where they include the system components' own.
    fn reaches(self, scope: Scope<'_>) -> bool {
        match self {
            Danger::BindEscalate | Danger::AllManagedIdentities => true,
            Danger::NodesProxy => scope.is_cluster(),
            Danger::Impersonate | Danger::TokenCreation | Danger::SecretsRead => {
                scope.reaches_kube_system()
            }
        }
    }
}

/// One dangerous grant: the rule that makes it, what it grants and why that matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Index of the rule in the role's `rules`.
    pub(crate) rule: usize,
    /// Which path it opens.
    pub(crate) danger: Danger,
    /// The rule's verbs and resources that make the grant (distinct, at most one past
    /// [`MAX_QUOTED`]).
    verbs: Vec<String>,
    resources: Vec<String>,
    /// What whoever holds it can do, starting with "can".
    why: &'static str,
}

/// Describes `grants` rule by rule, in rule order: "its rules[2] grants get on secrets: whoever
/// holds it can read ...; can ..." (`built_in`: "it grants ..." for rules that were not looked
/// up, so have no index worth quoting).
pub(crate) fn describe_grants(grants: &[Grant], built_in: bool) -> String {
    let mut rules: Vec<usize> = grants.iter().map(|g| g.rule).collect();
    rules.sort_unstable();
    rules.dedup();
    let parts: Vec<String> = rules
        .iter()
        .map(|&rule| {
            let of_rule: Vec<&Grant> = grants.iter().filter(|g| g.rule == rule).collect();
            let verbs = quote(
                of_rule
                    .iter()
                    .flat_map(|g| g.verbs.iter().map(String::as_str)),
            );
            let resources = quote(
                of_rule
                    .iter()
                    .flat_map(|g| g.resources.iter().map(String::as_str)),
            );
            let whys: Vec<&str> = of_rule.iter().map(|g| g.why).collect();
            let source = if built_in {
                "it".to_owned()
            } else {
                format!("its rules[{rule}]")
            };
            format!(
                "{source} grants {} on {}: whoever holds it {}",
                verbs.unwrap_or_default(),
                resources.unwrap_or_default(),
                whys.join("; ")
            )
        })
        .collect();
    parts.join("; ")
}

/// True when some check on rules applies to a binding of `scope` with `settings`, so looking up
/// a namespaced Role is worth it.
pub(crate) fn any_check_applies(scope: Scope<'_>, settings: &Settings) -> bool {
    DANGERS
        .iter()
        .any(|d| d.enabled(settings) && d.reaches(scope))
}

/// The dangerous grants of `rules` for a binding of `scope`, one per danger, in a fixed order.
pub(crate) fn dangerous_grants(
    rules: &[Value],
    scope: Scope<'_>,
    settings: &Settings,
) -> Vec<Grant> {
    DANGERS
        .iter()
        .filter(|d| d.enabled(settings) && d.reaches(scope))
        .filter_map(|&danger| {
            rules
                .iter()
                .enumerate()
                .find_map(|(i, rule)| grant(danger, i, rule, scope, settings))
        })
        .collect()
}

/// The grant of `danger` by rule `i`, if it makes one.
fn grant(
    danger: Danger,
    i: usize,
    rule: &Value,
    scope: Scope<'_>,
    settings: &Settings,
) -> Option<Grant> {
    let found = |want: Want<'_>, why| {
        want.find(rule).map(|(verbs, resources)| Grant {
            rule: i,
            danger,
            verbs,
            resources,
            why,
        })
    };
    match danger {
        Danger::BindEscalate => bind_escalate(i, rule, scope, settings),
        Danger::Impersonate => impersonate(i, rule, scope),
        Danger::NodesProxy => found(Want::new(CORE, &[], &["nodes/proxy"]), NODES_PROXY),
        // A grant limited by resourceNames names the service accounts or Secrets it covers: a
        // deliberate, reviewable narrow grant, not a path to every identity.
        Danger::TokenCreation if is_unlimited(rule) => found(
            Want::new(CORE, &["create"], &["serviceaccounts/token"]),
            TOKEN_CREATION,
        ),
        Danger::SecretsRead if is_unlimited(rule) => found(
            Want::new(CORE, &["get", "list", "watch"], &["secrets"]),
            SECRETS_READ,
        ),
        Danger::TokenCreation | Danger::SecretsRead => None,
        Danger::AllManagedIdentities => found(
            Want::new(IDENTITY_BINDINGS, &["use-managed-identity"], &[]).literal_star(),
            ALL_MANAGED_IDENTITIES,
        ),
    }
}

const BIND: &str = "can bind any role to anyone, cluster-admin included";
const ESCALATE: &str = "can write any permission into a role, cluster-admin's included";
const BIND_ESCALATE: &str =
    "can write any permission into a role and bind any role to anyone, cluster-admin included";
const IMPERSONATE_USERS: &str =
    "can act as any user or group, system:masters (cluster-admin) included";
const IMPERSONATE_SERVICE_ACCOUNTS: &str =
    "can act as any service account it covers, the system controllers' included";
const NODES_PROXY: &str = "can reach the kubelet API of every node and run commands in any pod, \
                           past admission control and audit";
const TOKEN_CREATION: &str = "can mint a token for any service account it covers, the system \
                              controllers' included, and act as that account";
const SECRETS_READ: &str = "can read every Secret it covers, service account tokens and system \
                            credentials among them, and act as their owners";
const ALL_MANAGED_IDENTITIES: &str = "can get an Entra token for every managed identity of the \
                                      cluster's identity bindings, not only its own";

/// `bind` (on roles and cluster roles) or `escalate` (on roles, and on cluster roles
/// cluster-wide: a RoleBinding cannot grant a cluster-scoped verb).
fn bind_escalate(i: usize, rule: &Value, scope: Scope<'_>, settings: &Settings) -> Option<Grant> {
    let bind = Want::new(RBAC, &["bind"], &["roles", "clusterroles"]).find(rule);
    // `bind` limited by resourceNames to roles that are not cluster-admin is Kubernetes'
    // documented way to delegate handing out `admin`, `edit` or `view`.
    let bind = bind.filter(|_| binds_privileged_roles(rule, settings));
    let escalate_on: &[&str] = if scope.is_cluster() {
        &["roles", "clusterroles"]
    } else {
        &["roles"]
    };
    let escalate = Want::new(RBAC, &["escalate"], escalate_on).find(rule);
    let (why, (verbs, resources)) = match (bind, escalate) {
        (Some(_), Some(_)) => (
            BIND_ESCALATE,
            Want::new(RBAC, &["bind", "escalate"], &["roles", "clusterroles"]).find(rule)?,
        ),
        (Some(found), None) => (BIND, found),
        (None, Some(found)) => (ESCALATE, found),
        (None, None) => return None,
    };
    Some(Grant {
        rule: i,
        danger: Danger::BindEscalate,
        verbs,
        resources,
        why,
    })
}

/// True when `bind` in `rule` reaches a privileged role: no resourceNames, or one of them is
/// `cluster-admin` or listed in `privilegedRoles`.
fn binds_privileged_roles(rule: &Value, settings: &Settings) -> bool {
    is_unlimited(rule)
        || strings(rule, "resourceNames")
            .any(|n| n == "cluster-admin" || settings.privileged_roles.iter().any(|r| r == n))
}

/// `impersonate` on users and groups (cluster-scoped: only a ClusterRoleBinding grants it) or
/// on service accounts.
fn impersonate(i: usize, rule: &Value, scope: Scope<'_>) -> Option<Grant> {
    let targets: &[&str] = if scope.is_cluster() {
        &["users", "groups", "serviceaccounts"]
    } else {
        &["serviceaccounts"]
    };
    let (verbs, resources) = Want::new(CORE, &["impersonate"], targets).find(rule)?;
    let people = scope.is_cluster()
        && strings(rule, "resources")
            .any(|r| resource_matches(r, "users") || resource_matches(r, "groups"));
    Some(Grant {
        rule: i,
        danger: Danger::Impersonate,
        verbs,
        resources,
        why: if people {
            IMPERSONATE_USERS
        } else {
            IMPERSONATE_SERVICE_ACCOUNTS
        },
    })
}

/// True when the rule is not limited to named objects by `resourceNames`.
fn is_unlimited(rule: &Value) -> bool {
    json::array_at(rule, &["resourceNames"]).is_empty()
}

/// What a rule must grant: an API group, one of some verbs (none: any verb) and one of some
/// resources.
struct Want<'a> {
    group: &'a str,
    verbs: &'a [&'a str],
    resources: &'a [&'a str],
    /// The rule must list the resource `*` itself (every object of the group).
    literal_star: bool,
}

impl<'a> Want<'a> {
    fn new(group: &'a str, verbs: &'a [&'a str], resources: &'a [&'a str]) -> Self {
        Want {
            group,
            verbs,
            resources,
            literal_star: false,
        }
    }

    fn literal_star(mut self) -> Self {
        self.literal_star = true;
        self
    }

    /// The verbs and resources of `rule` that make the grant, when the rule makes it.
    fn find(&self, rule: &Value) -> Option<(Vec<String>, Vec<String>)> {
        if !strings(rule, "apiGroups").any(|g| g == "*" || g == self.group) {
            return None;
        }
        let verbs = distinct(
            strings(rule, "verbs")
                .filter(|v| self.verbs.is_empty() || *v == "*" || self.verbs.contains(v)),
        );
        let resources = distinct(strings(rule, "resources").filter(|r| {
            if self.literal_star {
                *r == "*"
            } else {
                self.resources
                    .iter()
                    .any(|wanted| resource_matches(r, wanted))
            }
        }));
        (!verbs.is_empty() && !resources.is_empty()).then_some((verbs, resources))
    }
}

/// Kubernetes' `ResourceMatches`: `*`, the exact resource (`nodes/proxy`), or `*/<sub>` for a
/// subresource.
fn resource_matches(rule_resource: &str, wanted: &str) -> bool {
    rule_resource == "*"
        || rule_resource == wanted
        || wanted
            .split_once('/')
            .is_some_and(|(_, sub)| rule_resource.strip_prefix("*/") == Some(sub))
}

/// The string entries of `rule[key]`; entries of other types grant nothing.
fn strings<'a>(rule: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    json::array_at(rule, &[key])
        .iter()
        .filter_map(Value::as_str)
}

/// The first distinct `items`, one past [`MAX_QUOTED`] at most, so a hostile role with huge
/// lists costs little and [`quote`] can tell that the list was cut.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for item in items {
        if found.len() > MAX_QUOTED {
            break;
        }
        if !found.iter().any(|f| f == item) {
            found.push(item.to_owned());
        }
    }
    found
}

/// The first [`MAX_QUOTED`] distinct `items`, joined for a message (`None` when there are none);
/// longer lists end with "and others".
fn quote<'a>(items: impl Iterator<Item = &'a str>) -> Option<String> {
    let items = distinct(items);
    let (shown, cut) = match items.len() {
        0 => return None,
        n if n > MAX_QUOTED => (&items[..MAX_QUOTED], true),
        _ => (&items[..], false),
    };
    let mut text = shown.join(", ");
    if cut {
        text.push_str(" and others");
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    const DEV: Scope<'static> = Scope::Namespace("dev");
    const KUBE_SYSTEM: Scope<'static> = Scope::Namespace("kube-system");

    fn dangers(rule: Value, scope: Scope<'_>) -> Vec<Danger> {
        dangerous_grants(&[rule], scope, &Settings::default())
            .iter()
            .map(|g| g.danger)
            .collect()
    }

    #[rstest]
    // Secrets: the core group (or `*`), a read verb (or `*`), `secrets` (or `*`).
    #[case::secrets_read(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}), Scope::Cluster, &[Danger::SecretsRead])]
    #[case::secrets_in_every_group(json!({"apiGroups": ["*"], "resources": ["secrets"], "verbs": ["watch"]}), Scope::Cluster, &[Danger::SecretsRead])]
    #[case::secrets_in_another_group(json!({"apiGroups": ["apps"], "resources": ["secrets"], "verbs": ["get"]}), Scope::Cluster, &[])]
    #[case::secrets_written_not_read(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "update"]}), Scope::Cluster, &[])]
    #[case::secrets_read_in_kube_system(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}), KUBE_SYSTEM, &[Danger::SecretsRead])]
    #[case::secrets_read_in_an_app_namespace(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}), DEV, &[])]
    #[case::named_secrets(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["tls"]}), Scope::Cluster, &[])]
    #[case::slash_star_is_no_wildcard(json!({"apiGroups": ["*"], "resources": ["*/*"], "verbs": ["*"]}), Scope::Cluster, &[])]
    // The core group's `*` opens every core path cluster-wide.
    #[case::core_wildcard(
        json!({"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}), Scope::Cluster,
        &[Danger::Impersonate, Danger::NodesProxy, Danger::TokenCreation, Danger::SecretsRead]
    )]
    #[case::core_wildcard_in_kube_system(
        json!({"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}), KUBE_SYSTEM,
        &[Danger::Impersonate, Danger::TokenCreation, Danger::SecretsRead]
    )]
    #[case::core_wildcard_in_an_app_namespace(json!({"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}), DEV, &[])]
    // nodes/proxy: the exact subresource, `*/proxy` or `*`; any verb.
    #[case::nodes_proxy(json!({"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["create"]}), Scope::Cluster, &[Danger::NodesProxy])]
    #[case::every_proxy(json!({"apiGroups": [""], "resources": ["*/proxy"], "verbs": ["get"]}), Scope::Cluster, &[Danger::NodesProxy])]
    #[case::nodes_slash_star_is_no_wildcard(json!({"apiGroups": [""], "resources": ["nodes/*", "nodes"], "verbs": ["get"]}), Scope::Cluster, &[])]
    #[case::nodes_proxy_in_a_rolebinding(json!({"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}), KUBE_SYSTEM, &[])]
    // impersonate: users and groups cluster-wide only; service accounts also in kube-system.
    #[case::impersonate_users(json!({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}), Scope::Cluster, &[Danger::Impersonate])]
    #[case::impersonate_users_in_a_rolebinding(json!({"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}), KUBE_SYSTEM, &[])]
    #[case::impersonate_service_accounts_in_kube_system(json!({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}), KUBE_SYSTEM, &[Danger::Impersonate])]
    #[case::impersonate_service_accounts_in_an_app_namespace(json!({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}), DEV, &[])]
    #[case::impersonate_extras_only(json!({"apiGroups": ["authentication.k8s.io"], "resources": ["userextras/scopes"], "verbs": ["impersonate"]}), Scope::Cluster, &[])]
    // Tokens: `create` on serviceaccounts/token (or `*/token`), unless limited to named accounts.
    #[case::token_creation(json!({"apiGroups": [""], "resources": ["*/token"], "verbs": ["create"]}), Scope::Cluster, &[Danger::TokenCreation])]
    #[case::token_read(json!({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["get"]}), Scope::Cluster, &[])]
    #[case::named_token_creation(json!({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"], "resourceNames": ["ci"]}), Scope::Cluster, &[])]
    // bind and escalate, in every scope; escalate on cluster roles only cluster-wide.
    #[case::bind_in_an_app_namespace(json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]}), DEV, &[Danger::BindEscalate])]
    #[case::bind_named_cluster_admin(
        json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["view", "cluster-admin"]}),
        Scope::Cluster, &[Danger::BindEscalate]
    )]
    #[case::bind_named_view(json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["view"]}), Scope::Cluster, &[])]
    #[case::bind_on_bindings_only(json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["bind", "create"]}), Scope::Cluster, &[])]
    #[case::escalate_roles_in_an_app_namespace(json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}), DEV, &[Danger::BindEscalate])]
    #[case::escalate_cluster_roles_in_a_rolebinding(json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]}), DEV, &[])]
    // use-managed-identity on every identity binding (the literal `*` resource).
    #[case::every_managed_identity(json!({"apiGroups": ["cid.wi.aks.azure.com"], "resources": ["*"], "verbs": ["use-managed-identity"]}), DEV, &[Danger::AllManagedIdentities])]
    #[case::one_managed_identity(
        json!({"apiGroups": ["cid.wi.aks.azure.com"], "resources": ["3f2b5a7c-9d41-4e8a-b6f0-2c1d8e9a7b35"], "verbs": ["use-managed-identity"]}),
        Scope::Cluster, &[]
    )]
    // Entries and fields of the wrong type grant nothing, and break nothing.
    #[case::entries_of_other_types(json!({"apiGroups": [null, ""], "resources": [7, "secrets"], "verbs": [{}, "get"]}), Scope::Cluster, &[Danger::SecretsRead])]
    #[case::fields_not_lists(json!({"apiGroups": "", "resources": "secrets", "verbs": "get"}), Scope::Cluster, &[])]
    #[case::rule_not_an_object(json!("secrets"), Scope::Cluster, &[])]
    fn rules_open_paths(
        #[case] rule: Value,
        #[case] scope: Scope<'_>,
        #[case] expected: &[Danger],
    ) {
        assert_eq!(dangers(rule, scope), expected);
    }

    #[test]
    fn each_danger_is_reported_once_for_its_first_rule() {
        let rules = [
            json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}),
            json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}),
            json!({"apiGroups": [""], "resources": ["secrets", "nodes/proxy"], "verbs": ["list"]}),
        ];
        let grants = dangerous_grants(&rules, Scope::Cluster, &Settings::default());
        let found: Vec<(usize, Danger)> = grants.iter().map(|g| (g.rule, g.danger)).collect();
        assert_eq!(found, [(2, Danger::NodesProxy), (1, Danger::SecretsRead)]);
        assert_eq!(
            describe_grants(&grants, false),
            "its rules[1] grants get on secrets: whoever holds it can read every Secret it covers, service account \
             tokens and system credentials among them, and act as their owners; its rules[2] grants list on \
             nodes/proxy: whoever holds it can reach the kubelet API of every node and run commands in any pod, \
             past admission control and audit"
        );
    }

    #[test]
    fn switched_off_dangers_are_not_looked_for() {
        let rule = json!({"apiGroups": [""], "resources": ["*"], "verbs": ["*"]});
        let settings = Settings {
            reject_impersonate: false,
            reject_nodes_proxy: false,
            reject_token_creation: false,
            ..Settings::default()
        };
        let grants = dangerous_grants(&[rule], Scope::Cluster, &settings);
        let found: Vec<Danger> = grants.iter().map(|g| g.danger).collect();
        assert_eq!(found, [Danger::SecretsRead]);
        let none = Settings {
            reject_bind_escalate: false,
            reject_all_managed_identities: false,
            ..settings
        };
        assert!(!any_check_applies(DEV, &none));
        assert!(any_check_applies(KUBE_SYSTEM, &none));
    }

    #[test]
    fn long_lists_are_cut_in_messages() {
        let verbs: Vec<String> = (0..10_000).map(|i| format!("verb{i}")).collect();
        let rule =
            json!({"apiGroups": [""], "resources": ["nodes/proxy", "nodes/proxy"], "verbs": verbs});
        let grants = dangerous_grants(&[rule], Scope::Cluster, &Settings::default());
        assert!(
            describe_grants(&grants, false).starts_with(
                "its rules[0] grants verb0, verb1, verb2, verb3, verb4 and others on nodes/proxy:"
            ),
            "{grants:?}"
        );
    }
}
