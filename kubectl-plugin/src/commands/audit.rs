//! `kubectl aksid audit`: the objects of a running cluster → admission requests → policies →
//! report, as Kubewarden's audit scanner judges them, without installing anything.
//!
//! The cluster is read only through the user's kubectl ([`cluster`]); what is listed is what the
//! policies need: the kinds their rules select (judged) and the kinds their
//! `contextAwareResources` declare (answering lookups). Evaluation and reporting are `check`'s
//! own (`pipeline::evaluate`, `pipeline::record_verdicts`), so an object gets the same verdict from
//! a file and from the cluster.

pub(super) mod cluster;

use super::check;
use crate::Outcome;
use crate::cli::{AuditArgs, AuditFormat};
use crate::pipeline;
use crate::policy_set::ReadyPolicy;
use aksid_host::ObjectSet;
use aksid_manifests::{Manifest, ProblemKind, RequestOptions, UserInfo};
use aksid_report::render::{OpenReportsOptions, openreports, terminal_safe};
use aksid_report::{InputError, PolicyInfo, Report, ReportBuilder, render};
use anyhow::Result;
use cluster::{ApiResource, Kubectl, ListError};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;

/// One resource to list, and why.
struct Target {
    resource: ApiResource,
    /// Some policy's rules select it: its objects are judged.
    judged: bool,
    /// Some policy declares it in `contextAwareResources`: its objects answer lookups.
    context: bool,
}

pub fn execute(args: AuditArgs) -> Result<Outcome> {
    // As the audit scanner, policies with `backgroundAudit: false` are left out: they asked not
    // to judge existing objects. What cannot be used is an error inside the report (exit 2).
    let limits = pipeline::Limits {
        timeout: args.timeout,
        memory_limit: args.memory_limit,
    };
    let (policies, errors) = pipeline::ready_policies(&args.policy, &args.trust, limits, |m| {
        m.metadata.background_audit
    });
    let mut report = ReportBuilder::new();
    for p in &policies {
        report.add_policy(PolicyInfo::from_metadata(p.id.clone(), &p.metadata));
    }
    for error in errors {
        report.add_error(error);
    }
    let progress = spinner(args.no_progress);
    // -A is the default; clap refuses it together with -n.
    let namespace = args.namespace.as_deref().filter(|_| !args.all_namespaces);
    let planned = Kubectl::connect(&args.cluster, &progress).and_then(|kubectl| {
        let targets = plan(&kubectl, &policies)?;
        Ok((kubectl, targets))
    });
    // The proxy stops when the kubectl is dropped, once everything is listed.
    let (judged, context) = match planned {
        Ok((kubectl, targets)) => {
            list_targets(&kubectl, &targets, namespace, &progress, &mut report)
        }
        Err(e) => {
            report.add_error(unreachable_error(&e));
            (Vec::new(), ObjectSet::new())
        }
    };
    progress.finish_and_clear();
    let manifests = manifests(judged, args.include_owned);
    for source in manifests
        .iter()
        .map(|m| m.source.clone())
        .collect::<HashSet<_>>()
    {
        report.add_file(&source);
    }
    // The audit scanner sends an empty userInfo: policies that judge the requester cannot say
    // anything about objects that already exist.
    let options = RequestOptions::default().user_info(UserInfo {
        username: String::new(),
        groups: Vec::new(),
        ..UserInfo::default()
    });
    let bar = check::progress_bar(args.no_progress, manifests.len());
    let judge = pipeline::Judge {
        policies: &policies,
        options: &options,
        old_objects: &|_| None,
        progress: &bar,
    };
    let outcomes = pipeline::evaluate(&manifests, &judge, &context);
    pipeline::record_verdicts(&mut report, &manifests, &policies, outcomes);
    let report = report.build();
    let text = render_audit(&report, &args);
    std::mem::forget(manifests);
    std::mem::forget(context);
    check::write_text(&text)?;
    Ok(outcome(&report))
}

/// Lists the targets, each in its own thread (their requests run side by side; pages of one
/// resource stay sequential, as `continue` requires): the objects to
/// judge, and the objects that answer lookups. What cannot be listed becomes an error of the
/// report, and the rest goes on.
fn list_targets(
    kubectl: &Kubectl,
    targets: &[Target],
    namespace: Option<&str>,
    progress: &indicatif::ProgressBar,
    report: &mut ReportBuilder,
) -> (Vec<Value>, ObjectSet) {
    // With -n, cluster-scoped kinds are not judged, only listed when lookups need them.
    let judge = |t: &Target| t.judged && (namespace.is_none() || t.resource.namespaced);
    let wanted: Vec<&Target> = targets.iter().filter(|t| judge(t) || t.context).collect();
    let listed: Vec<Result<Vec<Value>, ListError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = wanted
            .iter()
            .map(|target| {
                scope.spawn(move || {
                    let label = target.resource.label();
                    kubectl.list(&target.resource, namespace, |n| {
                        progress.set_message(format!("listing {label}: {n} objects"));
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ListError::Failed("listing panicked".into())))
            })
            .collect()
    });
    let mut judged = Vec::new();
    let mut context = ObjectSet::new();
    for (target, result) in wanted.into_iter().zip(listed) {
        match result {
            Ok(items) => {
                if target.context {
                    for item in &items {
                        // An object without a name cannot be looked up; it is simply not in
                        // the context.
                        let _ = context.insert(item.clone());
                    }
                }
                if judge(target) {
                    judged.extend(items);
                }
            }
            Err(e) => report.add_error(list_error(&target.resource, e)),
        }
    }
    (judged, context)
}

/// 2 when something could not be listed or evaluated, else 1 for a rejection, else 0. Unlike
/// `check`, an audit that finds nothing to judge is clean: an empty namespace is not an error.
fn outcome(report: &Report) -> Outcome {
    if !report.errors.is_empty() {
        Outcome::Error
    } else if report.summary.rejected > 0 {
        Outcome::Rejected
    } else {
        Outcome::Clean
    }
}

fn render_audit(report: &Report, args: &AuditArgs) -> String {
    let color = check::use_color(args.color);
    match args.output {
        // Objects of a cluster have no file: the report names each by its scope ("namespace
        // shop", "cluster scope", line 1), and every format, the CI annotations included, shows
        // that name where a file would be.
        AuditFormat::Check(format) => render::render(report, format.into(), color),
        AuditFormat::Openreports => {
            let timestamp_seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let options = OpenReportsOptions {
                timestamp_seconds,
                ..OpenReportsOptions::default()
            };
            openreports(report, &options)
        }
    }
}

/// The cluster could not be reached or its resources not discovered: nothing was listed.
fn unreachable_error(e: &anyhow::Error) -> InputError {
    InputError {
        file: "kubectl".to_owned(),
        document: None,
        line: 1,
        field: None,
        kind: ProblemKind::ListFailed,
        // One line: the report lists each error on one.
        message: terminal_safe(
            &format!(
                "{}; nothing was audited",
                format!("{e:#}")
                    .split('\n')
                    .filter(|line| !line.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
                    .trim_end_matches('.')
            ),
            true,
        ),
        policy: None,
        object: None,
    }
}

/// What to list: every listable resource some policy's CREATE rules select, once per group and
/// resource (as the audit scanner, a `*` resource counts only within named API groups: a policy
/// does not make the audit list every kind of every group), and every resource of a kind some policy declares in `contextAwareResources`.
fn plan(kubectl: &Kubectl, policies: &[ReadyPolicy]) -> Result<Vec<Target>> {
    let declared: Vec<(String, String)> = policies
        .iter()
        .flat_map(|p| p.metadata.context_aware_resources.iter())
        .map(|r| (r.api_version.clone(), r.kind.clone()))
        .collect();
    let mut wanted: Vec<(String, String)> = declared
        .iter()
        .map(|(api_version, _)| match api_version.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), api_version.clone()),
        })
        .collect();
    for rule in policies.iter().flat_map(|p| p.metadata.rules.iter()) {
        for g in &rule.api_groups {
            for v in rule.api_versions.iter().filter(|v| *v != "*") {
                wanted.push((g.clone(), v.clone()));
            }
        }
    }
    let any = "*".to_owned();
    let mut seen = HashSet::new();
    let targets = kubectl
        .discover(&wanted)?
        .into_iter()
        .filter(|r| r.listable)
        .map(|resource| {
            let selected = policies.iter().flat_map(|p| &p.metadata.rules).any(|rule| {
                (rule.resources.contains(&resource.resource) || !rule.api_groups.contains(&any))
                    && rule.matches(
                        &resource.group,
                        &resource.version,
                        &resource.resource,
                        "CREATE",
                    )
            });
            let judged =
                selected && seen.insert((resource.group.clone(), resource.resource.clone()));
            let key = (resource.api_version(), resource.kind.clone());
            let context = declared.contains(&key);
            Target {
                resource,
                judged,
                context,
            }
        })
        .collect();
    Ok(targets)
}

/// The objects to judge, as manifests named after their namespace (`namespace shop`, or
/// `cluster scope`), numbered in (namespace, kind, name) order. Objects whose controller is
/// itself judged are left out unless `include_owned`: a Deployment's ReplicaSets and Pods say
/// what the Deployment says, once per replica.
fn manifests(mut objects: Vec<Value>, include_owned: bool) -> Vec<Manifest> {
    let str_at = |o: &Value, pointer: &str| -> String {
        o.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if !include_owned {
        let uids: HashSet<String> = objects
            .iter()
            .map(|o| str_at(o, "/metadata/uid"))
            .filter(|u| !u.is_empty())
            .collect();
        objects.retain(|o| controller_uid(o).is_none_or(|owner| !uids.contains(owner)));
    }
    objects.sort_by_cached_key(|o| {
        (
            str_at(o, "/metadata/namespace"),
            str_at(o, "/kind"),
            str_at(o, "/metadata/name"),
        )
    });
    let mut positions: BTreeMap<String, usize> = BTreeMap::new();
    objects
        .into_iter()
        .map(|object| {
            let source = match str_at(&object, "/metadata/namespace") {
                ns if ns.is_empty() => "cluster scope".to_owned(),
                ns => format!("namespace {ns}"),
            };
            let position = positions.entry(source.clone()).or_default();
            *position += 1;
            Manifest::new(&source, 1, *position, object)
        })
        .collect()
}

/// The uid of the object's controller (`ownerReferences[]` with `controller: true`).
fn controller_uid(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)?
        .get("uid")?
        .as_str()
}

/// The report's error for a resource that could not be listed; the audit goes on without it.
pub(super) fn list_error(resource: &ApiResource, error: ListError) -> InputError {
    let label = resource.label();
    let (kind, message) = match error {
        ListError::Forbidden(m) => (
            ProblemKind::Forbidden,
            format!(
                "cannot list {label}: forbidden by RBAC ({m}); the audit goes on without them; \
                 to audit them, grant get and list on {label} (kubectl auth can-i list {label})"
            ),
        ),
        ListError::Failed(m) => (
            ProblemKind::ListFailed,
            format!("cannot list {label}: {m}; the audit goes on without them"),
        ),
    };
    InputError {
        file: label,
        document: None,
        line: 1,
        field: None,
        kind,
        message,
        policy: None,
        object: None,
    }
}

/// A spinner on stderr while listing, on a terminal only.
fn spinner(no_progress: bool) -> indicatif::ProgressBar {
    if no_progress || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn object(kind: &str, name: &str, uid: &str, owner: Option<&str>) -> Value {
        let mut o = json!({"apiVersion": "v1", "kind": kind,
            "metadata": {"name": name, "namespace": "shop", "uid": uid}});
        if let Some(owner) = owner {
            o["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": owner, "controller": true}]);
        }
        o
    }

    #[rstest]
    #[case::owned_by_a_judged_controller_is_skipped(Some("u-rs"), false, 1)]
    #[case::owned_but_include_owned_is_judged(Some("u-rs"), true, 2)]
    #[case::owner_not_listed_is_judged(Some("u-elsewhere"), false, 2)]
    #[case::unowned_is_judged(None, false, 2)]
    fn owned_objects(
        #[case] owner: Option<&str>,
        #[case] include_owned: bool,
        #[case] expected: usize,
    ) {
        let objects = vec![
            object("ReplicaSet", "rs", "u-rs", None),
            object("Pod", "rs-abc", "u-pod", owner),
        ];
        assert_eq!(manifests(objects, include_owned).len(), expected);
    }

    #[test]
    fn manifests_are_named_after_their_namespace() {
        let cluster =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
        let found = manifests(
            vec![
                object("Pod", "b", "1", None),
                object("Pod", "a", "2", None),
                cluster,
            ],
            false,
        );
        let names: Vec<(&str, usize, Option<&str>)> = found
            .iter()
            .map(|m| (&*m.source, m.line, m.name()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("cluster scope", 1, Some("shop")),
                ("namespace shop", 1, Some("a")),
                ("namespace shop", 2, Some("b")),
            ]
        );
    }
}
