//! End-to-end tests of `kubectl aksid audit` and `check --against-cluster` (issue 13): the real
//! `kubectl` reaches a recorded cluster (`tests/e2e/fixtures/cluster/`) served over HTTPS on
//! 127.0.0.1 by `tests/support/fake-apiserver.py`, through a kubeconfig with an exec credential
//! plugin and a context that is not the current one; one resource answers 403, and lists are
//! paged with `limit`/`continue`. Nothing of aksid is mocked.
//!
//! Needs `target/release/kubectl-aksid` (or `$AKSID_TEST_BINARY`), `kubectl`, `openssl`,
//! `python3`, and for the schema test the `.venv` of `tests/support/install-test-tools.sh`.

#[path = "audit/support.rs"]
mod support;

#[path = "common/crd_schema.rs"]
mod crd_schema;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::{Cluster, recorded_cluster, scratch, verdicts};

/// A secret value of the recorded cluster, which no output may contain.
const SECRET_VALUES: [&str; 2] = ["Qv7-orders-Pw!fixture-8812", "hunter2-Very-Secret-99"];

fn row(policy: &str, kind: &str, name: &str, allowed: bool) -> (String, String, String, bool) {
    (policy.into(), kind.into(), name.into(), allowed)
}

mod audit {
    use super::*;

    /// Everything the recorded cluster holds that the policies judge, once per controller.
    #[test]
    fn audit_judges_each_object_once_through_its_owner() {
        let dir = scratch("audit_judges_each_object_once_through_its_owner");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&[
            "audit",
            "--context",
            "aks-prod",
            "-A",
            "-o",
            "json",
            "--chunk-size",
            "2",
        ]);
        let report = run.json(2);
        let got = verdicts(&report);
        let rejected: Vec<_> = got.iter().filter(|r| !r.3).cloned().collect();
        assert_eq!(
            rejected,
            vec![
                row(
                    "no-cluster-admin-users",
                    "ClusterRoleBinding",
                    "alice-cluster-admin",
                    false
                ),
                row(
                    "no-plaintext-secret-env",
                    "Deployment",
                    "shop/orders",
                    false
                ),
                row("no-plaintext-secret-env", "Pod", "legacy/debug", false),
            ],
            "{}",
            run.describe()
        );
        let names: Vec<&str> = got.iter().map(|r| r.2.as_str()).collect();
        for owned in [
            "shop/orders-7d4b9c6f8",
            "shop/orders-7d4b9c6f8-x2x9k",
            "shop/catalog-5f6d7-abcde",
        ] {
            assert!(
                !names.contains(&owned),
                "{owned} is judged through its owner\n{}",
                run.describe()
            );
        }
        assert!(
            names.contains(&"kube-system/coredns-5d8f7c9b6-tx4lq"),
            "an unowned Pod is judged"
        );
        assert!(
            got.contains(&row(
                "no-cluster-admin-users",
                "ClusterRoleBinding",
                "platform-admins",
                true
            )),
            "cluster-admin for an Entra group is fine, read through the listed ClusterRole"
        );
    }

    /// One kubectl serves the whole audit: `kubectl proxy` on a Unix socket in a private
    /// temporary directory, which runs the exec credential plugin once or twice, not per request;
    /// afterwards the proxy is stopped and its directory removed.
    #[test]
    fn one_kubectl_proxy_serves_the_whole_audit() {
        let dir = scratch("one_kubectl_proxy_serves_the_whole_audit");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let wrapper = cluster.kubectl_wrapper();
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let run = cluster.aksid_with(
            &["audit", "--context", "aks-prod", "-o", "json"],
            &[("KUBECTL", &wrapper), ("TMPDIR", &tmp)],
        );
        run.json(2);
        let runs = cluster.kubectl_runs();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert!(runs[0].contains(" proxy --unix-socket "), "{runs:?}");
        assert!(cluster.requests().len() > 10, "{:?}", cluster.requests());
        // kubectl fetches the token for its client and for the proxy's transport: not per request.
        let plugin_runs = cluster.plugin_runs();
        assert!((1..=2).contains(&plugin_runs), "{plugin_runs} plugin runs");
        let pid = runs[0].split(' ').next().unwrap();
        assert!(
            !support::running(pid),
            "kubectl proxy (pid {pid}) still runs"
        );
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
    }

    /// When kubectl cannot start (an unknown context, no kubectl at all), the report's error
    /// says so in kubectl's own words, with what to check (exit 2).
    #[test]
    fn a_kubectl_that_cannot_start_is_a_clear_error() {
        let dir = scratch("a_kubectl_that_cannot_start_is_a_clear_error");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let missing = dir.join("no-such-kubectl");
        for (run, said) in [
            (
                cluster.aksid(&["audit", "--context", "nope", "-o", "json"]),
                "context \"nope\" does not exist",
            ),
            (
                cluster.aksid_with(&["audit", "-o", "json"], &[("KUBECTL", &missing)]),
                "install kubectl or set $KUBECTL",
            ),
        ] {
            let report = run.json(2);
            let message = report["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with("cannot reach the cluster through kubectl: ")
                    && message.contains(said)
                    && message.contains("Check that `kubectl get --raw /version` works"),
                "{}",
                run.describe()
            );
        }
        assert!(cluster.requests().is_empty(), "{:?}", cluster.requests());
    }

    /// aksid killed mid-run (Ctrl-C, a CI job's timeout) leaves no kubectl proxy running: here
    /// it is killed while the proxy serves its first request (a credential plugin taking 10 s),
    /// and kubectl stops at once, not when it next writes to aksid's closed pipes.
    #[test]
    fn a_killed_audit_leaves_no_kubectl_running() {
        let dir = scratch("a_killed_audit_leaves_no_kubectl_running");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let plugin = dir.join("fake-kubelogin.sh");
        let slow = std::fs::read_to_string(&plugin)
            .unwrap()
            .replace("plugin-runs.log\n", "plugin-runs.log\nsleep 10\n");
        std::fs::write(&plugin, slow).unwrap();
        let wrapper = cluster.kubectl_wrapper();
        let mut aksid = cluster
            .aksid_command(
                &["audit", "--context", "aks-prod"],
                &[("KUBECTL", &wrapper)],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while cluster.plugin_runs() == 0 {
            assert!(Instant::now() < deadline, "kubectl never asked for a token");
            std::thread::sleep(Duration::from_millis(10));
        }
        aksid.kill().unwrap();
        aksid.wait().unwrap();
        let runs = cluster.kubectl_runs();
        let pid = runs[0].split(' ').next().unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        while support::running(pid) {
            assert!(
                Instant::now() < deadline,
                "kubectl (pid {pid}) outlived aksid"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// kubelogin's device code flow: the credential plugin prints where and with which code to
    /// sign in, then waits until the user has. The prompt reaches aksid's standard error while
    /// aksid waits (it was kept until kubectl ended, so the user never saw it), and the audit
    /// goes on once the user has signed in.
    #[test]
    fn a_credential_plugins_sign_in_prompt_reaches_the_user_while_aksid_waits() {
        use std::io::BufRead;
        let dir = scratch("a_credential_plugins_sign_in_prompt_reaches_the_user_while_aksid_waits");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let plugin = dir.join("fake-kubelogin.sh");
        let prompt = "To sign in, use a web browser to open the page \
                      https://microsoft.com/devicelogin and enter the code FQ3KD8RXL to authenticate.";
        let signing_in = std::fs::read_to_string(&plugin).unwrap().replace(
            "plugin-runs.log\n",
            &format!(
                "plugin-runs.log\necho '{prompt}' >&2\n\
                 i=0; while [ ! -e signed-in ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done\n"
            ),
        );
        std::fs::write(&plugin, signing_in).unwrap();
        let mut aksid = cluster
            .aksid_command(&["audit", "--context", "aks-prod", "-o", "json"], &[])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(aksid.stderr.take().unwrap());
        let mut seen = String::new();
        while !seen.contains("devicelogin") {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                break;
            }
            seen.push_str(&line);
        }
        assert!(
            !dir.join("signed-in").exists() && seen == format!("kubectl: {prompt}\n"),
            "the prompt, before the user signed in; aksid said:\n{seen}"
        );
        std::fs::write(dir.join("signed-in"), "").unwrap();
        let output = aksid.wait_with_output().unwrap();
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(output.status.code(), Some(2), "{report:#}");
        assert!(
            report["summary"]["rejected"].as_u64().unwrap() > 0,
            "the audit went on after the sign-in: {report:#}"
        );
    }

    /// One resource the user may not list: a clear error, and the audit goes on (exit 2).
    #[test]
    fn forbidden_resource_is_reported_and_the_audit_goes_on() {
        let dir = scratch("forbidden_resource_is_reported_and_the_audit_goes_on");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&["audit", "--context", "aks-prod", "-o", "json"]);
        let report = run.json(2);
        let errors = report["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{}", run.describe());
        assert_eq!(errors[0]["kind"], "forbidden");
        assert_eq!(errors[0]["file"], "secrets");
        let message = errors[0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("cannot list secrets: forbidden by RBAC (secrets is forbidden: User \"alice@contoso.com\" cannot list resource \"secrets\"")
                && message.ends_with("grant get and list on secrets (kubectl auth can-i list secrets)"),
            "{message}"
        );
        assert!(
            report["summary"]["rejected"].as_u64().unwrap() > 0,
            "the audit went on"
        );
    }

    /// Lists are paged with the server's `limit` and `continue`, and every request carried the
    /// exec plugin's token (the server answers 401 otherwise).
    #[test]
    fn lists_are_paged_with_limit_and_continue() {
        let dir = scratch("lists_are_paged_with_limit_and_continue");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&[
            "audit",
            "--context",
            "aks-prod",
            "--chunk-size",
            "2",
            "-o",
            "json",
        ]);
        let report = run.json(2);
        let pods: Vec<String> = cluster
            .requests()
            .into_iter()
            .filter(|r| r.starts_with("/api/v1/pods?"))
            .collect();
        assert_eq!(pods.len(), 3, "5 Pods in pages of 2: {pods:#?}");
        assert_eq!(pods[0], "/api/v1/pods?limit=2");
        assert!(
            pods[1..]
                .iter()
                .all(|p| p.contains("limit=2") && p.contains("continue=")),
            "{pods:#?}"
        );
        assert!(
            verdicts(&report).iter().any(|r| r.2 == "legacy/debug"),
            "the Pod of the last page was judged"
        );
    }

    #[test]
    fn include_owned_judges_replica_sets_and_pods_too() {
        let dir = scratch("include_owned_judges_replica_sets_and_pods_too");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&[
            "audit",
            "--context",
            "aks-prod",
            "--include-owned",
            "-o",
            "json",
        ]);
        let got = verdicts(&run.json(2));
        for owned in ["shop/orders-7d4b9c6f8", "shop/orders-7d4b9c6f8-x2x9k"] {
            assert!(
                got.contains(&row(
                    "no-plaintext-secret-env",
                    if owned.ends_with("x2x9k") {
                        "Pod"
                    } else {
                        "ReplicaSet"
                    },
                    owned,
                    false
                )),
                "{owned} is judged with --include-owned\n{}",
                run.describe()
            );
        }
    }

    /// `-n` audits one namespace: no other namespace's objects and no cluster-scoped ones are
    /// judged, and only that namespace is listed.
    #[test]
    fn namespace_flag_audits_one_namespace() {
        let dir = scratch("namespace_flag_audits_one_namespace");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&[
            "audit",
            "--context",
            "aks-prod",
            "-n",
            "legacy",
            "-o",
            "json",
        ]);
        let got = verdicts(&run.json(2));
        assert!(
            !got.is_empty() && got.iter().all(|r| r.2.starts_with("legacy/")),
            "{got:#?}"
        );
        assert!(
            cluster
                .requests()
                .contains(&"/api/v1/namespaces/legacy/pods?limit=500".to_owned())
        );
    }

    /// Without `--context`, kubectl's current context is used: here one that cannot be reached,
    /// which is a clear error inside the report (exit 2), not an empty audit, in every format.
    #[test]
    fn unreachable_current_context_is_a_clear_error() {
        let dir = scratch("unreachable_current_context_is_a_clear_error");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&["audit"]);
        assert_eq!(run.code, Some(2), "{}", run.describe());
        assert!(
            run.stdout
                .contains("cannot reach the cluster through kubectl")
                && run.stdout.contains("kubectl get --raw /version"),
            "{}",
            run.describe()
        );
        let json = cluster.aksid(&["audit", "-o", "json"]);
        let report = json.json(2);
        assert_eq!(report["errors"][0]["kind"], "listFailed", "{report:#}");
        let sarif = cluster.aksid(&["audit", "-o", "sarif"]);
        let sarif = sarif.json(2);
        assert_eq!(
            sarif["runs"][0]["invocations"][0]["executionSuccessful"], false,
            "{sarif:#}"
        );
        assert!(
            cluster.requests().is_empty(),
            "the other context's server was never asked"
        );
    }

    /// A `--policy` that cannot be loaded is an error inside the report; the built-in policies
    /// still audit the cluster.
    #[test]
    fn a_policy_that_fails_to_load_is_an_error_in_the_report() {
        let dir = scratch("a_policy_that_fails_to_load_is_an_error_in_the_report");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let missing = dir.join("missing.wasm");
        let run = cluster.aksid(&[
            "audit",
            "--context",
            "aks-prod",
            "--policy",
            missing.to_str().unwrap(),
            "-o",
            "json",
        ]);
        let report = run.json(2);
        let errors = report["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e["kind"] == "policyFailed"
                && e["message"].as_str().unwrap().contains("missing.wasm")),
            "{report:#}"
        );
        assert!(
            report["summary"]["objects"].as_u64().unwrap() > 0,
            "{report:#}"
        );
    }

    /// No output format ever contains a secret value of the cluster.
    #[rstest::rstest]
    #[case::text("text")]
    #[case::json("json")]
    #[case::sarif("sarif")]
    #[case::junit("junit")]
    #[case::github("github")]
    #[case::azure_devops("azure-devops")]
    #[case::openreports("openreports")]
    fn secret_values_never_appear(#[case] format: &str) {
        let dir = scratch(&format!("secret_values_never_appear_{format}"));
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&["audit", "--context", "aks-prod", "-o", format]);
        assert_eq!(run.code, Some(2), "{}", run.describe());
        assert!(
            run.stdout.contains("orders"),
            "the report names the objects\n{}",
            run.describe()
        );
        for secret in SECRET_VALUES {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{secret} leaked\n{}",
                run.describe()
            );
        }
    }
}

/// `-o github` and `-o azure-devops`: one annotation per finding, as `check` prints them; a
/// cluster object has no file, so the annotation names it by the scope the report records
/// (`namespace legacy`, `cluster scope`) at line 1, and the message starts with the object.
mod annotations {
    use super::*;

    #[rstest::rstest]
    #[case::github(
        "github",
        "::error file=namespace legacy,line=1,title=aksid no-plaintext-secret-env::Pod legacy/debug: "
    )]
    #[case::azure_devops(
        "azure-devops",
        "##vso[task.logissue type=error;sourcepath=namespace legacy;linenumber=1;code=aksid no-plaintext-secret-env]Pod legacy/debug: "
    )]
    fn an_audit_finding_is_one_annotation(#[case] format: &str, #[case] prefix: &str) {
        let dir = scratch(&format!("an_audit_finding_is_one_annotation_{format}"));
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&["audit", "--context", "aks-prod", "-o", format]);
        assert_eq!(run.code, Some(2), "{}", run.describe());
        let lines: Vec<&str> = run.stdout.lines().collect();
        let debug: Vec<&&str> = lines.iter().filter(|l| l.starts_with(prefix)).collect();
        assert_eq!(debug.len(), 1, "{}", run.describe());
        // Every line is a command (nothing else on stdout), each naming a scope, never a path.
        let command = if format == "github" {
            "::"
        } else {
            "##vso[task.logissue "
        };
        assert!(
            lines.iter().all(|l| l.starts_with(command)),
            "{}",
            run.describe()
        );
        // The three rejections of the recorded cluster, and the resource it may not list (403).
        let errors = lines
            .iter()
            .filter(|l| l.starts_with("::error ") || l.contains("type=error;"))
            .count();
        assert_eq!(errors, 4, "{}", run.describe());
        let admin = if format == "github" {
            "::error file=cluster scope,line=1,title=aksid no-cluster-admin-users::ClusterRoleBinding alice-cluster-admin: "
        } else {
            "##vso[task.logissue type=error;sourcepath=cluster scope;linenumber=1;code=aksid no-cluster-admin-users]ClusterRoleBinding alice-cluster-admin: "
        };
        assert!(
            lines.iter().any(|l| l.starts_with(admin)),
            "{}",
            run.describe()
        );
    }
}

mod openreports {
    use super::*;

    fn schema(file: &str, kind: &str) -> Value {
        crd_schema::strict(
            &support::repo_root().join("tests/schemas").join(file),
            "openreports.io",
            kind,
            "v1alpha1",
        )
    }

    /// Validates with Python's jsonschema (Draft 7), as the distribution tests validate
    /// ClusterAdmissionPolicies; prints one error list per document.
    const VALIDATE: &str = r#"
import json, sys
import jsonschema
payload = json.load(sys.stdin)
out = []
for doc in payload["documents"]:
    schema = payload["schemas"][doc["kind"]]
    jsonschema.Draft7Validator.check_schema(schema)
    errors = jsonschema.Draft7Validator(schema).iter_errors(doc)
    out.append(["/" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message for e in errors])
print(json.dumps(out))
"#;

    /// `-o openreports` is a `v1` List of Reports (one per namespace) and a ClusterReport that
    /// conform to the OpenReports CRDs made strict, with the policies' severity and category.
    #[test]
    fn openreports_conform_to_the_crd() {
        let dir = scratch("openreports_conform_to_the_crd");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&["audit", "--context", "aks-prod", "-o", "openreports"]);
        let list = run.json(2);
        assert_eq!(
            (&list["apiVersion"], &list["kind"]),
            (&"v1".into(), &"List".into())
        );
        let items = list["items"].as_array().unwrap();
        let scopes: Vec<(String, String)> = items
            .iter()
            .map(|r| {
                (
                    r["kind"].as_str().unwrap().to_owned(),
                    r["metadata"]["namespace"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        assert_eq!(
            scopes,
            [
                ("ClusterReport", ""),
                ("Report", "kube-system"),
                ("Report", "legacy"),
                ("Report", "shop")
            ]
            .map(|(k, n)| (k.to_owned(), n.to_owned()))
        );
        let legacy = &items[2];
        assert_eq!(legacy["summary"]["fail"], 1, "{legacy:#}");
        let failed = legacy["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["result"] == "fail")
            .unwrap();
        assert_eq!(failed["policy"], "no-plaintext-secret-env");
        assert_eq!(
            (&failed["severity"], &failed["category"]),
            (&"high".into(), &"Secrets management".into())
        );
        assert_eq!(failed["resources"][0]["name"], "debug");

        let payload = serde_json::json!({
            "schemas": {
                "Report": schema("openreports.io_reports.yaml", "Report"),
                "ClusterReport": schema("openreports.io_clusterreports.yaml", "ClusterReport"),
            },
            "documents": items,
        });
        let venv = support::repo_root().join(".venv/bin/python");
        assert!(
            venv.is_file(),
            "run tests/support/install-test-tools.sh first"
        );
        let mut child = std::process::Command::new(venv)
            .args(["-c", VALIDATE])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&serde_json::to_vec(&payload).unwrap())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let errors: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            errors.iter().all(Vec::is_empty),
            "{errors:#?}\n{}",
            run.stdout
        );
    }

    /// AKS keeps admission webhooks out of `kube-system`, so every result of its Report says the
    /// cluster will not enforce it (a string property, as the CRD's `properties` map takes);
    /// results elsewhere carry no such property.
    #[test]
    fn kube_system_results_are_marked_not_enforced() {
        let dir = scratch("kube_system_results_are_marked_not_enforced");
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&["audit", "--context", "aks-prod", "-o", "openreports"]);
        let list = run.json(2);
        let mut marked = Vec::new();
        for report in list["items"].as_array().unwrap() {
            let namespace = report["metadata"]["namespace"].as_str().unwrap_or("");
            for result in report["results"].as_array().unwrap() {
                let enforced = result["properties"]["enforced"].as_str();
                marked.push((namespace == "kube-system", enforced));
                if namespace == "kube-system" {
                    let why = result["properties"]["enforcement"].as_str().unwrap_or("");
                    assert!(why.contains("will not enforce"), "{result:#}");
                }
            }
        }
        assert!(marked.contains(&(true, Some("false"))), "{}", run.stdout);
        assert!(marked.contains(&(false, None)), "{}", run.stdout);
        assert!(
            marked
                .iter()
                .all(|(system, enforced)| *enforced == system.then_some("false")),
            "{marked:?}"
        );
    }

    /// The strict schema refuses what the CRD does not define, so the test above can fail.
    #[test]
    fn strict_schema_refuses_unknown_fields() {
        let schema = schema("openreports.io_reports.yaml", "Report");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["properties"]["results"]["items"]["additionalProperties"],
            false
        );
        assert_eq!(
            schema["properties"]["results"]["items"]["properties"]["result"]["enum"],
            serde_json::json!(["pass", "fail", "warn", "error", "skip"])
        );
        assert_eq!(
            schema["properties"]["metadata"]["required"],
            serde_json::json!(["name", "namespace"])
        );
    }
}

mod against_cluster {
    use super::*;

    const MANIFESTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments
  namespace: shop
spec:
  selector: {matchLabels: {app: payments}}
  template:
    metadata: {labels: {app: payments}}
    spec:
      containers:
        - name: app
          image: contoso.azurecr.io/payments:2.0.0
          env:
            - {name: LEGACY_DB_PASSWORD, value: \"An0ther-P@ssw0rd!2024\"}
            - {name: DB_PASSWORD, value: \"Qv7-orders-Pw!fixture-8812\"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bob-cluster-admin
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: bob@contoso.com}
";

    /// The cluster's aksid policies judge, named after themselves, with the cluster's settings
    /// (an allowed name) and mode (monitor admits, with the rejection as a warning).
    #[test]
    fn cluster_policies_judge_with_their_settings_and_mode() {
        let dir = scratch("cluster_policies_judge_with_their_settings_and_mode");
        std::fs::write(dir.join("app.yaml"), MANIFESTS).unwrap();
        let cluster = Cluster::start(&dir, &recorded_cluster());
        let run = cluster.aksid(&[
            "check",
            "-f",
            "app.yaml",
            "--against-cluster",
            "--context",
            "aks-prod",
            "-o",
            "json",
        ]);
        let report = run.json(1);
        assert_eq!(
            verdicts(&report),
            vec![
                row(
                    "ClusterAdmissionPolicy/aksid-no-cluster-admin-users",
                    "ClusterRoleBinding",
                    "bob-cluster-admin",
                    true
                ),
                row(
                    "ClusterAdmissionPolicy/aksid-no-plaintext-secret-env",
                    "Deployment",
                    "shop/payments",
                    false
                ),
            ],
            "{}",
            run.describe()
        );
        let results = report["results"].as_array().unwrap();
        let monitor = results
            .iter()
            .find(|r| r["kind"] == "ClusterRoleBinding")
            .unwrap();
        let warning = monitor["warnings"][0].as_str().unwrap();
        assert!(
            warning.starts_with("monitor mode: the cluster admits it and only reports: "),
            "{warning}"
        );
        let secret = results.iter().find(|r| r["kind"] == "Deployment").unwrap();
        let message = secret["message"].as_str().unwrap();
        assert!(
            message.contains("env[DB_PASSWORD]") && !message.contains("env[LEGACY_DB_PASSWORD]"),
            "the cluster's allowedNames apply: {message}"
        );
        // Without the cluster, the defaults flag both: the setting above is what spared one.
        let offline = cluster
            .aksid(&["check", "-f", "app.yaml", "-o", "json"])
            .json(1);
        let offline = offline["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "Deployment" && r["policy"] == "no-plaintext-secret-env")
            .unwrap();
        assert!(
            offline["message"]
                .as_str()
                .unwrap()
                .contains("env[LEGACY_DB_PASSWORD]")
        );
        assert!(!run.stdout.contains(SECRET_VALUES[0]));
    }

    /// Lookups see the cluster with the manifests over it: a binding to the cluster's
    /// ClusterRole `ops-superuser` (everything on everything) is rejected, though offline the
    /// role is unknown and the binding passes; a manifest's harmless `ops-superuser` replaces the
    /// cluster's.
    #[rstest::rstest]
    #[case::cluster_object_answers_lookups(false, 1)]
    #[case::manifest_wins_over_cluster_object(true, 0)]
    fn lookups_merge_cluster_and_manifests(#[case] redefine_role: bool, #[case] code: i32) {
        let dir = scratch(&format!(
            "lookups_merge_cluster_and_manifests_{redefine_role}"
        ));
        let mut text = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: dave-ops
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ops-superuser}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: dave@contoso.com}
"
        .to_owned();
        if redefine_role {
            text.push_str("---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: ops-superuser\nrules:\n  - {apiGroups: [\"\"], resources: [pods], verbs: [get, list]}\n");
        }
        std::fs::write(dir.join("rbac.yaml"), text).unwrap();
        // The cluster's no-cluster-admin-users runs in monitor mode, which admits either way:
        // without aksid policies in the cluster, the defaults (protect) show the lookup's effect.
        let fixtures = dir.join("fixtures");
        copy_dir(&recorded_cluster(), &fixtures);
        empty_list(&fixtures.join("lists/policies.kubewarden.io/v1/clusteradmissionpolicies.json"));
        let cluster = Cluster::start(&dir, &fixtures);
        let allowed = |run: &support::Run, code: i32| {
            let report = run.json(code);
            let binding = report["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| {
                    r["kind"] == "ClusterRoleBinding" && r["policy"] == "no-cluster-admin-users"
                })
                .unwrap_or_else(|| panic!("{}", run.describe()))
                .clone();
            binding["allowed"].as_bool().unwrap()
        };
        let run = cluster.aksid(&[
            "check",
            "-f",
            "rbac.yaml",
            "--against-cluster",
            "--context",
            "aks-prod",
            "-o",
            "json",
        ]);
        assert_eq!(allowed(&run, code), redefine_role, "{}", run.describe());
        if !redefine_role {
            let offline = cluster.aksid(&["check", "-f", "rbac.yaml", "-o", "json"]);
            assert!(
                allowed(&offline, 0),
                "offline the role is unknown: the cluster decided"
            );
        }
    }

    /// Where the cluster runs no aksid policy, the check says so and uses the defaults.
    #[test]
    fn no_aksid_policy_in_the_cluster_falls_back_to_the_defaults() {
        let dir = scratch("no_aksid_policy_in_the_cluster_falls_back_to_the_defaults");
        std::fs::write(dir.join("app.yaml"), MANIFESTS).unwrap();
        let fixtures = dir.join("fixtures");
        copy_dir(&recorded_cluster(), &fixtures);
        empty_list(&fixtures.join("lists/policies.kubewarden.io/v1/clusteradmissionpolicies.json"));
        let cluster = Cluster::start(&dir, &fixtures);
        let run = cluster.aksid(&[
            "check",
            "-f",
            "app.yaml",
            "--against-cluster",
            "--context",
            "aks-prod",
            "-o",
            "json",
        ]);
        let report = run.json(1);
        let notices = report["notices"].as_array().unwrap();
        assert_eq!(notices.len(), 1, "{}", run.describe());
        assert_eq!(notices[0]["kind"], "noClusterPolicy");
        assert!(
            notices[0]["message"]
                .as_str()
                .unwrap()
                .starts_with("the cluster runs no aksid policy")
        );
        assert!(
            verdicts(&report).contains(&row(
                "no-cluster-admin-users",
                "ClusterRoleBinding",
                "bob-cluster-admin",
                false
            )),
            "{}",
            run.describe()
        );
    }

    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy_dir(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }

    /// Keeps only the policies that run no aksid module (pod-privileged).
    fn empty_list(path: &std::path::Path) {
        let mut list: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        list["items"]
            .as_array_mut()
            .unwrap()
            .retain(|p| !p["spec"]["module"].as_str().unwrap().contains("/aksid/"));
        std::fs::write(path, serde_json::to_string(&list).unwrap()).unwrap();
    }
}

/// The 2,000-object audit of issue 13, run by hand (`cargo test --release -p aksid-tests --test
/// audit -- --ignored --nocapture`): a recorded cluster of 2,100 objects (1,500 Pods, 300
/// Deployments, 200 ClusterRoleBindings, 100 ServiceAccounts) is audited; the test checks every
/// object was judged and prints the wall-clock time of the audit and of kubectl alone (the same
/// list requests, run by kubectl), so aksid's own share is their difference. Not a timed test.
mod large {
    use super::*;
    use serde_json::json;
    use std::time::Instant;

    fn write_list(
        dir: &std::path::Path,
        rel: &str,
        kind: &str,
        api_version: &str,
        items: Vec<Value>,
    ) {
        let path = dir.join("lists").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let list = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "1"}, "items": items});
        std::fs::write(path, serde_json::to_vec(&list).unwrap()).unwrap();
    }

    fn pod_spec(i: usize) -> Value {
        let value = if i.is_multiple_of(10) {
            json!({"name": "DB_PASSWORD", "value": format!("S3cr3t-{i:05}-P@ssw0rd!")})
        } else {
            json!({"name": "MODE", "value": "prod"})
        };
        json!({"containers": [{"name": "app", "image": "contoso.azurecr.io/app:1.0.0", "env": [value]}]})
    }

    #[test]
    #[ignore = "a measurement, run by hand"]
    fn audit_of_2000_objects() {
        let dir = scratch("audit_of_2000_objects");
        let fixtures = dir.join("fixtures");
        against_cluster_copy(&recorded_cluster(), &fixtures);
        std::fs::remove_file(fixtures.join("forbidden.json")).unwrap();
        let meta = |name: String, ns: Option<&str>, i: usize| {
            let mut m = json!({"name": name, "uid": format!("00000000-0000-4000-8000-{i:012}"), "resourceVersion": "1"});
            if let Some(ns) = ns {
                m["namespace"] = json!(ns);
            }
            m
        };
        let pods = (0..1500).map(|i| json!({"metadata": meta(format!("pod-{i}"), Some(&format!("team-{}", i % 20)), i), "spec": pod_spec(i)})).collect();
        let deployments = (0..300).map(|i| json!({"metadata": meta(format!("app-{i}"), Some(&format!("team-{}", i % 20)), 10_000 + i), "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec(i)}}})).collect();
        let bindings = (0..200).map(|i| json!({"metadata": meta(format!("binding-{i}"), None, 20_000 + i), "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": if i.is_multiple_of(50) { "cluster-admin" } else { "view" }}, "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": format!("user{i}@contoso.com")}]})).collect();
        let accounts = (0..100).map(|i| json!({"metadata": meta("default".to_owned(), Some(&format!("team-{i}")), 30_000 + i)})).collect();
        write_list(&fixtures, "core/v1/pods.json", "PodList", "v1", pods);
        write_list(
            &fixtures,
            "apps/v1/deployments.json",
            "DeploymentList",
            "apps/v1",
            deployments,
        );
        write_list(
            &fixtures,
            "rbac.authorization.k8s.io/v1/clusterrolebindings.json",
            "ClusterRoleBindingList",
            "rbac.authorization.k8s.io/v1",
            bindings,
        );
        write_list(
            &fixtures,
            "core/v1/serviceaccounts.json",
            "ServiceAccountList",
            "v1",
            accounts,
        );
        let cluster = Cluster::start(&dir, &fixtures);
        let warm = cluster.aksid(&["audit", "--context", "aks-prod", "-o", "json"]);
        assert_eq!(warm.code, Some(1), "{}", warm.describe());
        let requests = cluster.requests().len();
        let started = Instant::now();
        let run = cluster.aksid(&["audit", "--context", "aks-prod", "-o", "json"]);
        let audit = started.elapsed();
        let report = run.json(1);
        let objects = report["summary"]["objects"].as_u64().unwrap();
        assert!(objects >= 2100, "{}", report["summary"]);
        let started = Instant::now();
        let paths: Vec<String> = cluster.requests()[requests..]
            .iter()
            .filter(|p| !p.starts_with("/version"))
            .cloned()
            .collect();
        std::thread::scope(|s| {
            for path in &paths {
                let kubeconfig = &cluster.kubeconfig;
                s.spawn(move || {
                    std::process::Command::new("kubectl")
                        .arg("--kubeconfig")
                        .arg(kubeconfig)
                        .args(["--context", "aks-prod", "get", "--raw", path])
                        .output()
                        .unwrap()
                });
            }
        });
        let kubectl = started.elapsed();
        println!(
            "audit of {objects} objects: {:.2} s wall, all of it (one kubectl proxy); the same {} requests as one `kubectl get --raw` each, in parallel, as before 2026-11-30: {:.2} s",
            audit.as_secs_f64(),
            paths.len(),
            kubectl.as_secs_f64(),
        );
    }

    fn against_cluster_copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                against_cluster_copy(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
}
