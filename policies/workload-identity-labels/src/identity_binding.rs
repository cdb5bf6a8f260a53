//! AKS identity bindings (preview): pods annotated `azure.workload.identity/use-identity-binding:
//! "true"` get their token from AKS's identity binding proxy, which hands it out only when the
//! pod's ServiceAccount may `use-managed-identity` on resource `<client ID>` of API group
//! `cid.wi.aks.azure.com`, granted by a ClusterRole bound to it
//! ([identity bindings](https://learn.microsoft.com/azure/aks/identity-bindings)).
//!
//! The pod label and the ServiceAccount's `client-id` are required as for plain Workload ID
//! (`pod_template`, `pod_service_account`); this module compares that client ID with the
//! ClusterRoles bound to the ServiceAccount by ClusterRoleBindings, and by RoleBindings in its
//! namespace, listed through the host ([`ResourceLister`]):
//!
//! | ClusterRoles bound to the ServiceAccount                      | verdict |
//! |---------------------------------------------------------------|---------|
//! | none with a `cid.wi.aks.azure.com` rule (or none found)       | no verdict: RBAC often lives elsewhere |
//! | one names the client ID (or an unrendered placeholder)        | accept |
//! | one allows `resources: ["*"]` on `cid.wi.aks.azure.com`       | accept + warning: every managed identity |
//! | all name other client IDs                                     | reject: the pods get no token |
//! | listing or lookup failed                                      | accept + warning |

use crate::Settings;
use crate::keys::{self, IdValue};
use crate::pod_service_account::PodServiceAccount;
use crate::pod_template::{Label, Workload};
use aksid_policy_common::workload::PodTemplate;
use aksid_policy_common::{ClusterContext, Lookup, Verdict, Violation, ids, json};
use aksid_policy_common::{Listing, ResourceLister};
use serde_json::Value;
use std::collections::BTreeMap;

/// The pod annotation AKS identity bindings use (the webhook's `use-<suffix>` custom token
/// endpoint, suffix `identity-binding`).
pub(crate) const ANNOTATION: &str = "azure.workload.identity/use-identity-binding";
/// The API group and verb of the RBAC permission the identity binding proxy checks.
const API_GROUP: &str = "cid.wi.aks.azure.com";
const VERB: &str = "use-managed-identity";
const RBAC: &str = "rbac.authorization.k8s.io/v1";

/// True when the pods opt into an identity binding: the webhook compares the annotation's
/// value with "true" ignoring case (`isUsingCustomTokenEndpoint`, v1.6.0).
pub(crate) fn is_used(template: &PodTemplate<'_>) -> bool {
    template
        .annotations()
        .any(|(key, value)| key == ANNOTATION && value.eq_ignore_ascii_case("true"))
}

/// What one ClusterRole allows on `cid.wi.aks.azure.com`.
#[derive(Debug, Default)]
struct Grant {
    /// The bindings through which it reaches the ServiceAccount, for messages.
    bindings: Vec<String>,
    /// Client IDs named in rules of the group (not `*`).
    client_ids: Vec<String>,
    /// A rule of the group allows every client ID (`resources: ["*"]`).
    any_in_group: bool,
    /// A rule of every group (`apiGroups: ["*"]`) allows every resource with the verb.
    any_at_all: bool,
}

impl Grant {
    fn is_relevant(&self) -> bool {
        !self.client_ids.is_empty() || self.any_in_group || self.any_at_all
    }

    /// Names `client_id`, or a placeholder that may render to it.
    fn names(&self, client_id: &str) -> bool {
        self.client_ids
            .iter()
            .any(|id| id.trim().eq_ignore_ascii_case(client_id) || ids::is_placeholder(id))
    }
}

/// Compares the ServiceAccount's client ID with the ClusterRoles bound to it.
pub(crate) fn validate_identity_binding(
    workload: &Workload<'_>,
    label: Label,
    service_account: &PodServiceAccount<'_>,
    settings: &Settings,
    (cluster, lister): (&dyn ClusterContext, &dyn ResourceLister),
    verdict: &mut Verdict,
) {
    if !settings.check_identity_binding_roles
        || label != Label::Present
        || !is_used(&workload.template)
    {
        return;
    }
    let Some(client_id) = service_account
        .found()
        .and_then(|sa| json::str_at(sa, &["metadata", "annotations", keys::CLIENT_ID]))
        .map(str::trim)
        .filter(|id| keys::read_id(id) == IdValue::Guid)
    else {
        // No client ID, or a placeholder: the ServiceAccount rules already said so.
        return;
    };
    let subject = service_account.subject();
    let grants = match bound_cluster_roles(service_account, lister)
        .and_then(|bound| read_grants(bound, cluster))
    {
        Ok(grants) => grants,
        Err(reason) => {
            verdict.warn(format!(
                "could not read the RBAC objects of {subject} ({reason}); whether its ClusterRoles allow \
                 the identity binding of client ID {client_id} was not checked"
            ));
            return;
        }
    };
    let relevant: Vec<(&String, &Grant)> = grants.iter().filter(|(_, g)| g.is_relevant()).collect();
    if relevant.is_empty() || relevant.iter().any(|(_, g)| g.names(client_id)) {
        return;
    }
    let wildcard: Vec<&str> = relevant
        .iter()
        .filter(|(_, g)| g.any_in_group)
        .map(|(role, _)| role.as_str())
        .collect();
    if !wildcard.is_empty() {
        verdict.warn(format!(
            "ClusterRole {} lets {subject} use every managed identity that has an identity binding on the \
             cluster (resources: [\"*\"] on {API_GROUP}), not only its own; name the client ID {client_id} \
             in resources instead",
            wildcard.join(", ")
        ));
        return;
    }
    if relevant.iter().any(|(_, g)| g.any_at_all) {
        return;
    }
    reject_mismatch(workload, &subject, client_id, &relevant, verdict);
}

fn reject_mismatch(
    workload: &Workload<'_>,
    subject: &str,
    client_id: &str,
    relevant: &[(&String, &Grant)],
    verdict: &mut Verdict,
) {
    let roles: Vec<String> = relevant
        .iter()
        .map(|(role, grant)| {
            format!(
                "ClusterRole {role} (bound by {}) allows {}",
                grant.bindings.join(", "),
                grant.client_ids.join(", ")
            )
        })
        .collect();
    let first_role = relevant.first().map_or("", |(role, _)| role.as_str());
    verdict.reject(
        Violation::new(
            format!("{}[{ANNOTATION:?}]", workload.template.field("metadata.annotations")),
            format!(
                "the pods use an AKS identity binding as {subject}, whose client-id is {client_id}, but the \
                 ClusterRoles bound to it allow {VERB} on {API_GROUP} for other managed identities only \
                 ({}); the identity binding proxy refuses the token request, so the pods get no token",
                roles.join("; ")
            ),
        )
        .fix(format!(
            "add {client_id} to the resources of the {API_GROUP} rule of ClusterRole {first_role} (or bind \
             {subject} to a ClusterRole that names it), or correct the ServiceAccount's \
             azure.workload.identity/client-id"
        )),
    );
}

/// The ClusterRoles bound to the ServiceAccount, by name, with the bindings that bind them.
fn bound_cluster_roles(
    service_account: &PodServiceAccount<'_>,
    lister: &dyn ResourceLister,
) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut bound: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let sources = [
        ("ClusterRoleBinding", None),
        ("RoleBinding", Some(service_account.namespace)),
    ];
    for (kind, namespace) in sources {
        let bindings = match lister.list_resources(RBAC, kind, namespace) {
            Listing::Found(bindings) => bindings,
            Listing::Unavailable(reason) => return Err(format!("listing {kind}s: {reason}")),
        };
        for binding in &bindings {
            // A RoleBinding's ServiceAccount subject without a namespace is in the binding's.
            let binding_namespace = namespace.unwrap_or("");
            if json::str_at(binding, &["roleRef", "kind"]) != Some("ClusterRole")
                || !binds(binding, binding_namespace, service_account)
            {
                continue;
            }
            let role = json::str_at(binding, &["roleRef", "name"]).unwrap_or("");
            let name = match namespace {
                Some(ns) => format!("{kind} {ns}/{}", json::name(binding)),
                None => format!("{kind} {}", json::name(binding)),
            };
            bound.entry(role.to_owned()).or_default().push(name);
        }
    }
    Ok(bound)
}

/// True when one of the binding's subjects is the ServiceAccount, its user name, or a group
/// it belongs to.
fn binds(binding: &Value, binding_namespace: &str, sa: &PodServiceAccount<'_>) -> bool {
    json::array_at(binding, &["subjects"])
        .iter()
        .any(|subject| {
            let name = json::str_at(subject, &["name"]).unwrap_or("");
            match json::str_at(subject, &["kind"]).unwrap_or("") {
                "ServiceAccount" => {
                    let namespace = json::str_at(subject, &["namespace"])
                        .filter(|ns| !ns.is_empty())
                        .unwrap_or(binding_namespace);
                    name == sa.name && namespace == sa.namespace
                }
                "User" => {
                    name.strip_prefix("system:serviceaccount:")
                        == Some(&format!("{}:{}", sa.namespace, sa.name))
                }
                "Group" => {
                    matches!(name, "system:serviceaccounts" | "system:authenticated")
                        || name.strip_prefix("system:serviceaccounts:") == Some(sa.namespace)
                }
                _ => false,
            }
        })
}

/// Looks up each bound ClusterRole and reads what it allows on the identity binding group.
/// A ClusterRole that is not found is skipped (it may be created later or elsewhere).
fn read_grants(
    bound: BTreeMap<String, Vec<String>>,
    cluster: &dyn ClusterContext,
) -> Result<BTreeMap<String, Grant>, String> {
    let mut grants = BTreeMap::new();
    for (role, bindings) in bound {
        match cluster.get_resource(RBAC, "ClusterRole", None, &role) {
            Lookup::Found(object) => {
                let grant = Grant {
                    bindings,
                    ..grant_of(&object)
                };
                grants.insert(role, grant);
            }
            Lookup::NotFound => {}
            Lookup::Unavailable(reason) => {
                return Err(format!("looking up ClusterRole {role}: {reason}"));
            }
        }
    }
    Ok(grants)
}

/// What the rules of a ClusterRole allow for verb `use-managed-identity`.
fn grant_of(role: &Value) -> Grant {
    let mut grant = Grant::default();
    let strings = |rule: &Value, field: &str| -> Vec<String> {
        json::array_at(rule, &[field])
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    for rule in json::array_at(role, &["rules"]) {
        let verbs = strings(rule, "verbs");
        if !verbs.iter().any(|v| v == VERB || v == "*") {
            continue;
        }
        let groups = strings(rule, "apiGroups");
        let resources = strings(rule, "resources");
        let every_resource = resources.iter().any(|r| r == "*");
        if groups.iter().any(|g| g == API_GROUP) {
            grant.any_in_group |= every_resource;
            grant
                .client_ids
                .extend(resources.into_iter().filter(|r| r != "*"));
        } else if groups.iter().any(|g| g == "*") {
            grant.any_at_all |= every_resource;
        }
    }
    grant
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::NoCluster;
    use aksid_policy_common::workload::pod_template;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::lowercase("true", true)]
    #[case::any_case("True", true)]
    #[case::opted_out("false", false)]
    #[case::yes("yes", false)]
    fn annotation_value(#[case] value: &str, #[case] used: bool) {
        let pod = json!({"metadata": {"annotations": {ANNOTATION: value}}});
        assert_eq!(is_used(&pod_template("Pod", &pod).unwrap()), used);
    }

    /// Whether a binding with `subject` (in a RoleBinding of namespace `binding_ns`, `""` for a
    /// ClusterRoleBinding) binds ServiceAccount team/api.
    #[rstest]
    #[case::service_account(json!({"kind": "ServiceAccount", "name": "api", "namespace": "team"}), "", true)]
    #[case::service_account_elsewhere(json!({"kind": "ServiceAccount", "name": "api", "namespace": "web"}), "", false)]
    #[case::other_service_account(json!({"kind": "ServiceAccount", "name": "web", "namespace": "team"}), "", false)]
    #[case::role_binding_default_namespace(json!({"kind": "ServiceAccount", "name": "api"}), "team", true)]
    #[case::cluster_role_binding_without_namespace(json!({"kind": "ServiceAccount", "name": "api"}), "", false)]
    #[case::user_name(json!({"kind": "User", "name": "system:serviceaccount:team:api"}), "", true)]
    #[case::other_user(json!({"kind": "User", "name": "system:serviceaccount:team:web"}), "", false)]
    #[case::namespace_group(json!({"kind": "Group", "name": "system:serviceaccounts:team"}), "", true)]
    #[case::every_service_account(json!({"kind": "Group", "name": "system:serviceaccounts"}), "", true)]
    #[case::every_authenticated(json!({"kind": "Group", "name": "system:authenticated"}), "", true)]
    #[case::other_namespace_group(json!({"kind": "Group", "name": "system:serviceaccounts:web"}), "", false)]
    #[case::not_an_object(json!("api"), "", false)]
    fn subjects(#[case] subject: Value, #[case] binding_ns: &str, #[case] bound: bool) {
        let pod = json!({"spec": {"serviceAccountName": "api"}});
        let workload = Workload {
            kind: "Pod",
            namespace: "team",
            object: &pod,
            template: pod_template("Pod", &pod).unwrap(),
        };
        let service_account = PodServiceAccount::new(&workload, &NoCluster);
        let binding = json!({"subjects": [subject]});
        assert_eq!(binds(&binding, binding_ns, &service_account), bound);
    }

    #[rstest]
    #[case::named(json!([{"verbs": [VERB], "apiGroups": [API_GROUP], "resources": ["a", "b"]}]), &["a", "b"], false, false)]
    #[case::every_verb(json!([{"verbs": ["*"], "apiGroups": [API_GROUP], "resources": ["a"]}]), &["a"], false, false)]
    #[case::other_verb(json!([{"verbs": ["get"], "apiGroups": [API_GROUP], "resources": ["a"]}]), &[], false, false)]
    #[case::every_client_id(json!([{"verbs": [VERB], "apiGroups": [API_GROUP], "resources": ["*"]}]), &[], true, false)]
    #[case::cluster_admin(json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]), &[], false, true)]
    #[case::every_group_some_resources(json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["pods"]}]), &[], false, false)]
    #[case::other_group(json!([{"verbs": [VERB], "apiGroups": [""], "resources": ["a"]}]), &[], false, false)]
    #[case::wrong_types(json!([{"verbs": VERB, "apiGroups": [API_GROUP, 7], "resources": [null]}, 3]), &[], false, false)]
    fn rule_grants(
        #[case] rules: Value,
        #[case] client_ids: &[&str],
        #[case] any_in_group: bool,
        #[case] any_at_all: bool,
    ) {
        let grant = grant_of(&json!({"rules": rules}));
        assert_eq!(grant.client_ids, client_ids);
        assert_eq!(
            (grant.any_in_group, grant.any_at_all),
            (any_in_group, any_at_all)
        );
    }

    #[test]
    fn a_cluster_admin_service_account_may_use_every_identity() {
        let grant = Grant {
            any_at_all: true,
            ..Grant::default()
        };
        assert!(grant.is_relevant() && !grant.names("6f1c2a7e-3b4d-4c5e-8f90-1a2b3c4d5e6f"));
        let named = Grant {
            client_ids: vec![" 6F1C2A7E-3B4D-4C5E-8F90-1A2B3C4D5E6F ".into()],
            ..Grant::default()
        };
        assert!(named.names("6f1c2a7e-3b4d-4c5e-8f90-1a2b3c4d5e6f"));
    }
}
