//! Judging the subjects of a binding: which identities may hold a privileged role (cluster-admin,
//! or a role opening a path to it), and who may hold any role at all.
//!
//! | subject                                                       | privileged role | other role |
//! |---------------------------------------------------------------|-----------------|------------|
//! | Group `system:authenticated`, `system:unauthenticated`, User or Group `system:anonymous` | reject, always | reject, unless a discovery role |
//! | Group `system:serviceaccounts*`                               | reject, always  | accept     |
//! | Group named by an Entra object ID (GUID)                      | accept          | accept     |
//! | Group listed in `allowedGroups`                               | accept          | accept     |
//! | Group whose name is an unrendered placeholder (`${ID}`)       | accept, with a warning | accept |
//! | any other Group                                               | reject (Entra groups are bound by object ID) | accept |
//! | User, ServiceAccount, unknown kind                            | reject          | accept     |
//!
//! In an exempt binding (AKS-managed names, `exemptBindings`) only the first two rows apply.

use crate::Settings;
use crate::roles::{BoundRole, DISCOVERY_ROLES};
use crate::scope::Scope;
use aksid_policy_common::ids::{is_guid, is_placeholder};
use aksid_policy_common::{Verdict, Violation, json};
use serde_json::Value;

/// A subject that stands for everybody, or for every service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Public {
    /// Who it covers, for messages.
    who: &'static str,
    /// Every identity or every anonymous request (not only service accounts): no role but the
    /// discovery roles may go to it.
    everyone: bool,
}

/// The public subject `kind`/`name` stands for: every identity, anonymous requests, or every
/// service account (of the cluster, or of one namespace with `system:serviceaccounts:<ns>`).
/// Anonymous requests are the User `system:anonymous` in the Group `system:unauthenticated`;
/// a Group `system:anonymous` matches nobody but shows the same intent.
fn public_subject(kind: Option<&str>, name: &str) -> Option<Public> {
    let everyone = |who| {
        Some(Public {
            who,
            everyone: true,
        })
    };
    match (kind, name) {
        (Some("Group"), "system:authenticated") => everyone("every authenticated identity"),
        (Some("Group"), "system:unauthenticated") => everyone("every anonymous request"),
        (Some("Group" | "User"), "system:anonymous") => everyone("every anonymous request"),
        (Some("Group"), _) if name.starts_with("system:serviceaccounts") => Some(Public {
            who: "every service account it covers",
            everyone: false,
        }),
        _ => None,
    }
}

/// Who the Group `name` covers, when it is one that no privileged binding may name.
pub(crate) fn public_group(name: &str) -> Option<&'static str> {
    public_subject(Some("Group"), name).map(|p| p.who)
}

/// True when the binding lists a public subject, so even an exempt binding must be judged.
pub(crate) fn has_public_subject(binding: &Value) -> bool {
    json::array_at(binding, &["subjects"]).iter().any(|s| {
        json::str_at(s, &["name"])
            .is_some_and(|n| public_subject(json::str_at(s, &["kind"]), n).is_some())
    })
}

/// What one subject of a binding leads to.
enum Finding {
    /// The subject may hold the role.
    Fine,
    /// The subject cannot be judged before rendering.
    Warn(String),
    /// The subject must not hold the role.
    Reject(Violation),
}

/// Judges every subject of a binding of `role`, recording one violation per offending subject
/// in subject order (the shared `Verdict` bounds how many are listed). With `exempt`, only the
/// public subjects are rejected.
pub(crate) fn judge_subjects(
    binding: &Value,
    role: &BoundRole,
    scope: Scope<'_>,
    settings: &Settings,
    exempt: bool,
    verdict: &mut Verdict,
) {
    let given = format!("is given {role} {}", scope.where_());
    for (i, subject) in json::array_at(binding, &["subjects"]).iter().enumerate() {
        match judge_subject(i, subject, role, &given, scope, settings, exempt) {
            Finding::Fine => {}
            Finding::Warn(warning) => verdict.warn(warning),
            Finding::Reject(violation) => verdict.reject(violation),
        }
    }
}

/// Judges subject `i` of a binding of `role`: `given` says which role it is given where.
fn judge_subject(
    i: usize,
    subject: &Value,
    role: &BoundRole,
    given: &str,
    scope: Scope<'_>,
    settings: &Settings,
    exempt: bool,
) -> Finding {
    let kind = json::str_at(subject, &["kind"]);
    let name = json::str_at(subject, &["name"]).unwrap_or("");
    if let Some(public) = public_subject(kind, name) {
        return judge_public(i, kind.unwrap_or(""), name, public, role, given, settings);
    }
    if exempt || !role.is_privileged() {
        return Finding::Fine;
    }
    match kind {
        Some("Group") => judge_group(i, name, given, settings),
        Some("User") => Finding::Reject(
            Violation::new(
                format!("subjects[{i}] User {name}"),
                format!("{given}, but cluster-admin rights must go to Entra groups, not individual users"),
            )
            .fix(
                "bind an Entra group by object ID instead (kind: Group, name: <group object ID>) and \
                 add the user to that group in Entra ID, or bind a narrower role",
            ),
        ),
        Some("ServiceAccount") => {
            let namespace = json::str_at(subject, &["namespace"]).unwrap_or("");
            let account = if namespace.is_empty() { name.to_owned() } else { format!("{namespace}/{name}") };
            Finding::Reject(
                Violation::new(
                    format!("subjects[{i}] ServiceAccount {account}"),
                    format!("{given}, so every pod running as this service account holds that power over {}", scope.what()),
                )
                .fix(
                    "grant the service account a purpose-built Role (or ClusterRole) with only the verbs \
                     and resources its workload needs",
                ),
            )
        }
        other => Finding::Reject(
            Violation::new(
                format!("subjects[{i}]"),
                format!(
                    "{given}, but its kind is {}, not User, Group or ServiceAccount",
                    other.map_or_else(|| kind_description(subject), |k| format!("\"{k}\""))
                ),
            )
            .fix("bind an Entra group by object ID (kind: Group, name: <group object ID>)"),
        ),
    }
}

/// Judges a public subject: never for a privileged role, and for everyone only the discovery
/// roles (unless `rejectEveryoneGroups` is off).
fn judge_public(
    i: usize,
    kind: &str,
    name: &str,
    public: Public,
    role: &BoundRole,
    given: &str,
    settings: &Settings,
) -> Finding {
    let contains = if kind == "User" {
        "this user stands for"
    } else {
        "this group contains"
    };
    let problem = if role.is_privileged() {
        format!("{given}, but {contains} {}", public.who)
    } else if public.everyone && settings.reject_everyone_groups && !role.is_discovery() {
        format!(
            "{given}, but {contains} {}, and no role but Kubernetes' own discovery roles ({}) may go to it",
            public.who,
            DISCOVERY_ROLES.join(", ")
        )
    } else {
        return Finding::Fine;
    };
    Finding::Reject(
        Violation::new(format!("subjects[{i}] {kind} {name}"), problem)
            .fix("remove this subject and bind an Entra group by object ID (kind: Group, name: <group object ID>) instead"),
    )
}

/// Judges one Group subject that is not a public group.
fn judge_group(i: usize, name: &str, given: &str, settings: &Settings) -> Finding {
    if is_guid(name) || settings.allowed_groups.iter().any(|g| g == name) {
        return Finding::Fine;
    }
    let location = format!("subjects[{i}] Group {name}");
    if is_placeholder(name) {
        // The real value only exists after rendering, and is most likely the object ID.
        return Finding::Warn(format!(
            "{location}: the group name is a placeholder; make sure it renders to the Entra group's \
             object ID (GUID), or the binding will be rejected"
        ));
    }
    Finding::Reject(
        Violation::new(
            location,
            format!("{given}, but the name is neither an Entra object ID (GUID) nor listed in allowedGroups"),
        )
        .fix(
            "AKS matches Entra groups by object ID, not by display name: set name to the group's object ID \
             (az ad group show --group <name> --query id -o tsv), or add the name to the allowedGroups \
             setting if it comes from another identity provider",
        ),
    )
}

/// Describes a subject whose kind is missing or not a string.
fn kind_description(subject: &Value) -> String {
    match json::get(subject, &["kind"]) {
        None if !subject.is_object() => format!(
            "missing ({} instead of a subject)",
            json::type_name(subject)
        ),
        None => "missing".to_owned(),
        Some(kind) => json::type_name(kind).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::testing::{ObjectSet, assert_messages_start_with};
    use aksid_policy_common::verdict::MAX_LISTED;
    use rstest::rstest;
    use serde_json::json;

    fn judge(subjects: Value, settings: &Settings, exempt: bool) -> Verdict {
        judge_role("cluster-admin", subjects, settings, exempt)
    }

    /// Judges `subjects` bound to ClusterRole `role` cluster-wide, in a cluster without roles.
    fn judge_role(role: &str, subjects: Value, settings: &Settings, exempt: bool) -> Verdict {
        let binding =
            json!({"roleRef": {"kind": "ClusterRole", "name": role}, "subjects": subjects});
        let mut verdict = Verdict::default();
        let role = crate::roles::bound_role(
            &binding,
            Scope::Cluster,
            settings,
            &ObjectSet::default(),
            &mut verdict,
        )
        .unwrap();
        judge_subjects(
            &binding,
            &role,
            Scope::Cluster,
            settings,
            exempt,
            &mut verdict,
        );
        verdict
    }

    const GUID: &str = "6d2f4c1e-0b7a-4e0e-9a51-3c2b9d8e7f10";

    #[rstest]
    #[case::user(json!({"kind": "User", "name": "alice@contoso.com"}), false,
        Some("subjects[0] User alice@contoso.com: is given ClusterRole cluster-admin cluster-wide, but cluster-admin rights must go to Entra groups"))]
    #[case::user_by_object_id(json!({"kind": "User", "name": GUID}), false, Some("not individual users"))]
    #[case::service_account(json!({"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}), false,
        Some("subjects[0] ServiceAccount ci/deployer: is given ClusterRole cluster-admin cluster-wide, so every pod running as this service account holds that power over the cluster; fix: grant"))]
    #[case::entra_group(json!({"kind": "Group", "name": GUID}), true, None)]
    #[case::allowed_group(json!({"kind": "Group", "name": "oidc:ops"}), true, None)]
    #[case::group_display_name(json!({"kind": "Group", "name": "platform-admins"}), false,
        Some("subjects[0] Group platform-admins: is given ClusterRole cluster-admin cluster-wide, but the name is neither an Entra object ID (GUID) nor listed in allowedGroups; fix: AKS matches Entra groups by object ID"))]
    #[case::system_masters(json!({"kind": "Group", "name": "system:masters"}), false, Some("neither an Entra object ID"))]
    #[case::authenticated_even_if_allowed(json!({"kind": "Group", "name": "system:authenticated"}), false,
        Some("subjects[0] Group system:authenticated: is given ClusterRole cluster-admin cluster-wide, but this group contains every authenticated identity; fix: remove this subject"))]
    #[case::unauthenticated(json!({"kind": "Group", "name": "system:unauthenticated"}), false, Some("every anonymous request"))]
    #[case::namespace_service_accounts(json!({"kind": "Group", "name": "system:serviceaccounts:ci"}), false, Some("every service account"))]
    #[case::unknown_kind(json!({"kind": "Robot", "name": "r2"}), false, Some("subjects[0]: is given ClusterRole cluster-admin cluster-wide, but its kind is \"Robot\""))]
    #[case::kind_missing(json!({"name": "r2"}), false, Some("its kind is missing"))]
    #[case::subject_not_an_object(json!("alice"), false, Some("its kind is missing (a string instead of a subject)"))]
    #[case::kind_wrong_type(json!({"kind": 7}), false, Some("its kind is a number"))]
    fn one_subject(#[case] subject: Value, #[case] accepted: bool, #[case] message: Option<&str>) {
        let settings = Settings {
            allowed_groups: vec!["oidc:ops".into(), "system:authenticated".into()],
            ..Settings::default()
        };
        let verdict = judge(json!([subject]), &settings, false);
        assert_eq!(verdict.is_allowed(), accepted, "{verdict:?}");
        if let Some(expected) = message {
            let actual = verdict.message().unwrap_or_default();
            assert!(
                actual.contains(expected),
                "expected\n```\n{expected}\n```\ngot\n```\n{actual}\n```"
            );
        }
    }

    #[test]
    fn every_offending_subject_is_reported_in_order() {
        let verdict = judge(
            json!([
                {"kind": "Group", "name": GUID},
                {"kind": "User", "name": "alice@contoso.com"},
                {"kind": "ServiceAccount", "name": "default"},
                {"kind": "Group", "name": "system:serviceaccounts"},
            ]),
            &Settings::default(),
            false,
        );
        let expected = [
            "subjects[1] User alice@contoso.com: ",
            "subjects[2] ServiceAccount default: ",
            "subjects[3] Group system:serviceaccounts: ",
        ];
        assert_messages_start_with(verdict.violations(), &expected);
    }

    #[test]
    fn long_subject_lists_are_summarised() {
        let users: Vec<Value> = (0..MAX_LISTED + 5)
            .map(|i| json!({"kind": "User", "name": format!("u{i}")}))
            .collect();
        let verdict = judge(Value::Array(users), &Settings::default(), false);
        let message = verdict.message().unwrap();
        assert_eq!(message.lines().count(), MAX_LISTED + 1);
        assert!(message.ends_with("(more): 5 further violations are not listed; fix: fix the ones above and check the object again"));
    }

    #[test]
    fn many_placeholder_groups_are_still_accepted() {
        let groups: Vec<Value> = (0..MAX_LISTED + 5)
            .map(|i| json!({"kind": "Group", "name": format!("${{G{i}}}")}))
            .collect();
        let verdict = judge(Value::Array(groups), &Settings::default(), false);
        assert!(verdict.is_allowed(), "{verdict:?}");
        assert_eq!(verdict.warnings().len(), MAX_LISTED);
    }

    #[test]
    fn placeholder_group_is_accepted_with_a_warning() {
        let verdict = judge(
            json!([{"kind": "Group", "name": "${ADMIN_GROUP_ID}"}]),
            &Settings::default(),
            false,
        );
        assert!(verdict.is_allowed());
        assert!(
            verdict.warnings()[0].contains("placeholder"),
            "{:?}",
            verdict.warnings()
        );
    }

    #[test]
    fn exempt_binding_still_rejects_public_groups() {
        let subjects = json!([{"kind": "User", "name": "clusterAdmin"}, {"kind": "Group", "name": "system:authenticated"}]);
        let verdict = judge(subjects.clone(), &Settings::default(), true);
        assert_eq!(verdict.violations().len(), 1);
        assert!(
            verdict
                .message()
                .unwrap()
                .starts_with("subjects[1] Group system:authenticated")
        );
        assert!(has_public_subject(&json!({"subjects": subjects})));
        assert!(has_public_subject(
            &json!({"subjects": [{"kind": "User", "name": "system:anonymous"}]})
        ));
        assert!(!has_public_subject(
            &json!({"subjects": [{"kind": "User", "name": "system:authenticated"}]})
        ));
    }

    /// Any role but the discovery roles, for the subjects that stand for everyone.
    #[rstest]
    #[case::unauthenticated_given_a_custom_role("manager", json!({"kind": "Group", "name": "system:unauthenticated"}), false,
        Some("subjects[0] Group system:unauthenticated: is given ClusterRole manager cluster-wide, but this group contains \
              every anonymous request, and no role but Kubernetes' own discovery roles (system:discovery, \
              system:basic-user, system:public-info-viewer) may go to it; fix: remove this subject"))]
    #[case::authenticated_given_view("view", json!({"kind": "Group", "name": "system:authenticated"}), false,
        Some("but this group contains every authenticated identity, and no role but"))]
    #[case::anonymous_user("manager", json!({"kind": "User", "name": "system:anonymous"}), false,
        Some("subjects[0] User system:anonymous: is given ClusterRole manager cluster-wide, but this user stands for every anonymous request"))]
    #[case::anonymous_group("manager", json!({"kind": "Group", "name": "system:anonymous"}), false, Some("this group contains every anonymous request"))]
    #[case::authenticated_given_discovery("system:discovery", json!({"kind": "Group", "name": "system:authenticated"}), true, None)]
    #[case::unauthenticated_given_public_info("system:public-info-viewer", json!({"kind": "Group", "name": "system:unauthenticated"}), true, None)]
    #[case::authenticated_given_basic_user("system:basic-user", json!({"kind": "Group", "name": "system:authenticated"}), true, None)]
    #[case::all_service_accounts_given_a_custom_role("manager", json!({"kind": "Group", "name": "system:serviceaccounts"}), true, None)]
    #[case::user_given_a_custom_role("manager", json!({"kind": "User", "name": "alice@contoso.com"}), true, None)]
    #[case::user_named_authenticated("manager", json!({"kind": "User", "name": "system:authenticated"}), true, None)]
    fn everyone_groups(
        #[case] role: &str,
        #[case] subject: Value,
        #[case] accepted: bool,
        #[case] message: Option<&str>,
    ) {
        for exempt in [false, true] {
            let verdict = judge_role(role, json!([subject.clone()]), &Settings::default(), exempt);
            assert_eq!(
                verdict.is_allowed(),
                accepted,
                "exempt: {exempt}, {verdict:?}"
            );
            if let Some(expected) = message {
                let actual = verdict.message().unwrap_or_default();
                assert!(
                    actual.contains(expected),
                    "expected\n```\n{expected}\n```\ngot\n```\n{actual}\n```"
                );
            }
        }
    }

    #[test]
    fn everyone_groups_can_be_switched_off_for_unprivileged_roles_only() {
        let off = Settings {
            reject_everyone_groups: false,
            ..Settings::default()
        };
        let subjects = json!([{"kind": "Group", "name": "system:authenticated"}]);
        assert!(judge_role("manager", subjects.clone(), &off, false).is_allowed());
        assert!(!judge_role("cluster-admin", subjects, &off, false).is_allowed());
    }
}
