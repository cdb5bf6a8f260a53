//! End-to-end tests of `kubectl aksid test` and of the CI annotation outputs (`-o github`,
//! `-o azure-devops`) of `check` and `test` (issue 12's "Done when"), through the built binary,
//! and of the repository's own test files (the shipped examples and the policies' README
//! examples), which is how `make test` runs them.
//!
//! The binary is `$CARGO_TARGET_DIR/release/kubectl-aksid` (default `target/`, as `make build`
//! writes it); the test guest `$CARGO_TARGET_DIR/wasm32-wasip1/release/hostile_policy.wasm`
//! (`make modules`), or the file `AKSID_HOSTILE_WASM` names. Each test has its own scratch
//! directory under `$TMPDIR/aksid-e2e-test-command/`, outside the repository.

use aksid_tests::{Run, Scratch, aksid_in, target_dir, workspace};
use rstest::rstest;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The test guest, annotated as a third-party module titled `hostile-policy`.
fn hostile_module() -> Vec<u8> {
    let path = std::env::var_os("AKSID_HOSTILE_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("wasm32-wasip1/release/hostile_policy.wasm"));
    let wasm = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\n\nBuild it first: make modules",
            path.display()
        )
    });
    let metadata = aksid_metadata::Metadata::from_yaml(
        "rules:\n- {apiGroups: [''], apiVersions: [v1], resources: [pods], operations: [CREATE, UPDATE]}\n\
         mutating: false\nexecutionMode: kubewarden-wapc\n\
         annotations: {io.kubewarden.policy.title: hostile-policy}\n",
    )
    .expect("valid metadata");
    aksid_metadata::annotate(&wasm, &metadata.with_protocol_version()).expect("annotation works")
}

/// A literal password in `env`: rejected by no-plaintext-secret-env (as in cli.rs).
const SECRET_ENV: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: contoso.azurecr.io/api:3.0.0
          env:
            - name: DB_PASSWORD
              value: \"S3cr3tP@ssw0rd!2024xyz\"
";

/// Takes its password from a Secret: every policy accepts it (as in cli.rs).
const SECRET_REF: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: contoso.azurecr.io/web:1.4.2
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {name: web-db, key: password}
            - name: LOG_LEVEL
              value: info
";

fn suite(expect_api: &str) -> String {
    format!(
        "apiVersion: aksid.io/v1alpha1
kind: Test
metadata: {{name: secrets}}
spec:
  manifests: [manifests/]
  policies: [no-plaintext-secret-env, no-local-accounts]
  expect:
  - {{kind: Deployment, namespace: shop, name: api, policy: no-plaintext-secret-env, result: {expect_api}, message: DB_PASSWORD}}
  - {{kind: Deployment, namespace: shop, name: web, policy: no-plaintext-secret-env, result: accept}}
  - {{kind: Deployment, name: web, policy: no-local-accounts, result: skip}}
"
    )
}

fn secrets_scratch(name: &str, expect_api: &str) -> Scratch {
    let s = Scratch::new("test-command", name);
    s.write("manifests/api.yaml", SECRET_ENV)
        .write("manifests/web.yaml", SECRET_REF)
        .write("aksid-test.yaml", suite(expect_api));
    s
}

#[test]
fn a_passing_suite_exits_0() {
    let s = secrets_scratch("passing", "reject");
    s.aksid(&["test"])
        .code(0)
        .stdout_has("PASS ./aksid-test.yaml: secrets (3 expectations)")
        .stdout_has("1 tests: 1 passed, 0 failed, 0 test file errors");
}

#[test]
fn a_failing_expectation_shows_expected_and_got_with_the_message() {
    let s = secrets_scratch("failing", "accept");
    let run = s.aksid(&["test", "aksid-test.yaml"]);
    run.code(1)
        .stdout_has("FAIL aksid-test.yaml: secrets")
        .stdout_has("✗ Deployment shop/api · no-plaintext-secret-env (spec.expect[0]): expected accept, got reject")
        .stdout_has("message: ")
        .stdout_has("DB_PASSWORD");
    let json = s.aksid(&["test", "-o", "json"]).json();
    let failed = &json["tests"][0]["expectations"][0];
    assert_eq!(
        (
            failed["expected"].as_str(),
            failed["got"].as_str(),
            failed["passed"].as_bool()
        ),
        (Some("accept"), Some("reject"), Some(false)),
        "{json:#}"
    );
}

#[rstest]
#[case::expects_nothing("spec: {manifests: [m.yaml]}\n", "spec.expect: missing or empty")]
#[case::empty_expect_list(
    "spec: {manifests: [m.yaml], expect: []}\n",
    "spec.expect: missing or empty"
)]
#[case::unknown_result(
    "spec: {manifests: [m.yaml], expect: [{kind: Pod, name: p, policy: no-local-accounts, result: deny}]}\n",
    "spec.expect[0].result: \"deny\" is not a result; expected accept, reject, warn or skip"
)]
#[case::unknown_field(
    "spec: {manifests: [m.yaml], expcet: []}\n",
    "spec.expcet: unknown field"
)]
#[case::unknown_policy(
    "spec: {manifests: [m.yaml], policies: [no-such-policy], expect: [{kind: Pod, name: p, policy: no-such-policy, result: accept}]}\n",
    "spec.policies: unknown policy \"no-such-policy\""
)]
#[case::missing_module(
    "spec: {manifests: [m.yaml], policies: [policies/gone.wasm], expect: [{kind: Pod, name: p, policy: gone, result: accept}]}\n",
    "spec.policies: policies/gone.wasm: reading ./policies/gone.wasm: No such file or directory"
)]
#[case::update_without_old_object(
    "spec: {manifests: [m.yaml], request: {operation: UPDATE}, expect: [{kind: Pod, name: p, policy: no-local-accounts, result: skip}]}\n",
    "spec.oldObjects: an UPDATE request needs the object as it was"
)]
#[case::expectation_matching_nothing(
    "spec: {manifests: [m.yaml], expect: [{kind: Pod, name: q, policy: no-local-accounts, result: skip}]}\n",
    "spec.expect[0]: matches no object: Pod q; the test's objects are: Pod default/p"
)]
fn a_wrong_test_file_exits_2_naming_file_test_and_field(#[case] spec: &str, #[case] error: &str) {
    let s = Scratch::new(
        "test-command",
        &format!("wrong-{}-{}", spec.len(), error.len()),
    );
    s.write("m.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
        .write(
            "aksid-test.yaml",
            format!(
                "apiVersion: aksid.io/v1alpha1\nkind: Test\nmetadata: {{name: broken}}\n{spec}"
            ),
        );
    s.aksid(&["test"]).code(2).stdout_has(&format!(
        "ERROR ./aksid-test.yaml: test \"broken\": {error}"
    ));
}

#[test]
fn a_directory_without_test_files_is_an_error() {
    let s = Scratch::new("test-command", "no-tests");
    s.write("m.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n");
    s.aksid(&["test", "."])
        .code(2)
        .stdout_has("no test files (aksid-test.yaml, aksid-test.yml) found");
}

#[test]
fn a_third_party_module_is_tested_with_its_settings() {
    let s = Scratch::new("test-command", "third-party");
    s.write("hostile.wasm", hostile_module())
        .write("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
        .write(
            "aksid-test.yaml",
            "apiVersion: aksid.io/v1alpha1\nkind: Test\nmetadata: {name: rejects}\nspec:\n  manifests: [pod.yaml]\n  policies: [./hostile.wasm]\n  settings: {hostile-policy: {mode: reject}}\n  expect:\n  - {kind: Pod, name: p, policy: hostile-policy, result: reject, message: hostile-policy rejects}\n\
             ---\napiVersion: aksid.io/v1alpha1\nkind: Test\nmetadata: {name: warns}\nspec:\n  manifests: [pod.yaml]\n  policies: [./hostile.wasm, no-local-accounts]\n  settings: {hostile-policy: {mode: warn}}\n  expect:\n  - {kind: Pod, name: p, policy: hostile-policy, result: warn, message: hostile-policy warns}\n  - {kind: Pod, name: p, policy: no-local-accounts, result: skip}\n",
        );
    let run = s.aksid(&["test", "-o", "json"]);
    run.code(0);
    let json = run.json();
    assert_eq!(json["summary"]["passed"], 2, "{json:#}");
}

#[test]
fn update_requests_carry_the_old_object() {
    let s = Scratch::new("test-command", "update");
    s.write("hostile.wasm", hostile_module())
        .write("new/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {rev: two}}\n")
        .write("old/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {rev: one}}\n")
        .write(
            "aksid-test.yaml",
            "apiVersion: aksid.io/v1alpha1\nkind: Test\nmetadata: {name: update}\nspec:\n  manifests: [new/]\n  oldObjects: [old/pod.yaml]\n  request: {operation: UPDATE, user: alice}\n  policies: [./hostile.wasm]\n  expect:\n  - {kind: Pod, name: p, policy: hostile-policy, result: accept, message: '\"operation\":\"UPDATE\"'}\n  - {kind: Pod, name: p, policy: hostile-policy, result: accept, message: '\"oldObject\":{'}\n  - {kind: Pod, name: p, policy: hostile-policy, result: accept, message: '\"rev\":\"one\"'}\n  - {kind: Pod, name: p, policy: hostile-policy, result: accept, message: '\"username\":\"alice\"'}\n",
        );
    s.aksid(&["test"]).code(0).stdout_has("PASS");
}

/// An AKS-style token Secret written inline in the test file, in no namespace: rejected by
/// no-local-accounts unless the request's namespace is exempt or an exception allows it.
const INLINE_TOKEN_SECRET: &str = "  - {apiVersion: v1, kind: Secret, metadata: {name: build-robot-token, annotations: {kubernetes.io/service-account.name: build-robot}}, type: kubernetes.io/service-account-token}\n";

/// The request and exceptions of a test file decide verdicts: the same inline Secret, the same
/// settings (`legacy-ci` exempt) and the same expectation (`accept`), with one field changed
/// per case. The inline manifest is judged (else the expectation would match nothing, exit 2).
#[rstest]
#[case::inline_manifest_in_the_default_namespace_is_rejected("", 1, "expected accept, got reject")]
#[case::request_namespace_exempt_accepts(
    "  request: {namespace: legacy-ci}\n",
    0,
    "PASS ./aksid-test.yaml: request (1 expectations)"
)]
#[case::request_namespace_not_exempt_still_rejects(
    "  request: {namespace: shop}\n",
    1,
    "✗ Secret shop/build-robot-token · no-local-accounts (spec.expect[0]): expected accept, got reject"
)]
#[case::spec_exceptions_excuse_the_rejection(
    "  exceptions: exceptions/legacy.yaml\n",
    0,
    "PASS ./aksid-test.yaml: request (1 expectations)"
)]
#[case::spec_exceptions_for_another_name_do_not(
    "  exceptions: exceptions/other.yaml\n",
    1,
    "expected accept, got reject"
)]
fn request_namespace_and_exceptions_decide_the_verdict(
    #[case] extra: &str,
    #[case] code: i32,
    #[case] output: &str,
) {
    let s = Scratch::new(
        "test-command",
        &format!(
            "request-{}",
            extra.trim().replace([' ', '/', ':', '{', '}'], "_")
        ),
    );
    let exception = |name: &str| {
        format!(
            "exceptions:\n- policy: no-local-accounts\n  match: {{name: {name}}}\n  reason: JIRA-7 legacy CI\n"
        )
    };
    s.write("exceptions/legacy.yaml", exception("build-robot-token"))
        .write("exceptions/other.yaml", exception("deploy-robot-token"))
        .write(
            "aksid-test.yaml",
            format!(
                "apiVersion: aksid.io/v1alpha1\nkind: Test\nmetadata: {{name: request}}\nspec:\n  manifests:\n{INLINE_TOKEN_SECRET}  policies: [no-local-accounts]\n  settings: {{no-local-accounts: {{serviceAccountTokenSecrets: {{exemptNamespaces: [legacy-ci]}}}}}}\n{extra}  expect:\n  - {{kind: Secret, name: build-robot-token, policy: no-local-accounts, result: accept}}\n"
            ),
        );
    s.aksid(&["test"]).code(code).stdout_has(output);
}

/// `request.groups` is the `userInfo.groups` the policy receives: the test guest echoes its
/// request as the message, so an expectation on it passes with those groups and fails with
/// others. (No built-in policy judges the requester: objects are judged, not who sends them.)
#[rstest]
#[case::the_groups_of_the_test_file("[aks-admins, ops]", 0)]
#[case::other_groups("[developers]", 1)]
fn request_groups_reach_the_policy(#[case] groups: &str, #[case] code: i32) {
    let s = Scratch::new("test-command", &format!("groups-{code}"));
    s.write("hostile.wasm", hostile_module()).write(
        "aksid-test.yaml",
        format!(
            "apiVersion: aksid.io/v1alpha1\nkind: Test\nmetadata: {{name: groups}}\nspec:\n  manifests:\n  - {{apiVersion: v1, kind: Pod, metadata: {{name: p}}}}\n  request: {{user: alice, groups: {groups}}}\n  policies: [./hostile.wasm]\n  expect:\n  - {{kind: Pod, name: p, policy: hostile-policy, result: accept, message: '\"groups\":[\"aks-admins\",\"ops\"]'}}\n"
        ),
    );
    s.aksid(&["test"]).code(code);
}

/// A `registry://` policy in a test file is pulled from a real registry (the one the
/// distribution tests use, on 127.0.0.1) and run with the test's settings.
#[test]
fn a_registry_policy_in_a_test_file_is_pulled_and_run() {
    let mut registry = aksid_test_registry::Registry::start("test-command-registry");
    let s = Scratch::new("test-command", "registry");
    let reference = registry.reference("aksid/hostile-policy:v1");
    s.write("hostile.wasm", hostile_module()).write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
    );
    s.aksid(&["push", "./hostile.wasm", &reference]).code(0);
    std::fs::remove_file(s.dir.join("hostile.wasm")).unwrap();
    s.write(
        "aksid-test.yaml",
        format!(
            "apiVersion: aksid.io/v1alpha1\nkind: Test\nmetadata: {{name: pulled}}\nspec:\n  manifests: [pod.yaml]\n  policies: ['{reference}']\n  settings: {{hostile-policy: {{mode: reject}}}}\n  expect:\n  - {{kind: Pod, name: p, policy: hostile-policy, result: reject, message: hostile-policy rejects}}\n"
        ),
    );
    s.aksid(&["test"])
        .code(0)
        .stdout_has("PASS ./aksid-test.yaml: pulled (1 expectations)");
    // The module was only in the registry: without it, the same test file cannot run.
    registry.stop();
    s.aksid(&["test"]).code(2).stdout_has(&format!(
        "ERROR ./aksid-test.yaml: test \"pulled\": spec.policies: {reference}: cannot pull"
    ));
}

#[test]
fn init_then_test_passes_on_the_same_directory() {
    let s = Scratch::new("test-command", "init");
    s.write("deploy/api.yaml", SECRET_ENV)
        .write("deploy/web.yaml", SECRET_REF)
        .write("deploy/crb.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: admins}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: User, name: alice@example.com}]\n");
    s.aksid(&["test", "--init", "deploy"]).code(0);
    let written = std::fs::read_to_string(s.dir.join("deploy/aksid-test.yaml")).unwrap();
    assert!(written.contains("{kind: \"Deployment\", namespace: \"shop\", name: \"api\", policy: no-plaintext-secret-env, result: reject}"), "{written}");
    assert!(written.contains("{kind: \"ClusterRoleBinding\", name: \"admins\", policy: no-cluster-admin-users, result: reject}"), "{written}");
    s.aksid(&["test", "deploy"])
        .code(0)
        .stdout_has("(12 expectations)");
    s.aksid(&["test", "--init", "deploy"]).code(2);
}

#[test]
fn junit_is_read_by_junitparser() {
    let s = secrets_scratch("junit", "accept");
    let run = s.aksid(&["test", "-o", "junit"]);
    run.code(1);
    s.write("tests.xml", &run.stdout);
    let python = workspace().join(".venv/bin/python");
    assert!(python.is_file(), "run tests/support/install-test-tools.sh");
    let out = Command::new(python)
        .current_dir(&s.dir)
        .args(["-c", "import sys\nfrom junitparser import JUnitXml, Failure\nx = JUnitXml.fromfile('tests.xml')\nfor suite in x:\n  for case in suite:\n    print(suite.name, '|', case.name, '|', [r.message for r in case.result if isinstance(r, Failure)])\nprint(x.tests, x.failures, x.errors)\n"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "./aksid-test.yaml: secrets | Deployment shop/api · no-plaintext-secret-env → accept | ['expected accept, got reject']\n\
         ./aksid-test.yaml: secrets | Deployment shop/web · no-plaintext-secret-env → accept | []\n\
         ./aksid-test.yaml: secrets | Deployment shop/web · no-local-accounts → skip | []\n\
         3 1 0\n"
    );
}

/// A file path with every character the two formats escape in properties, and a message with
/// `%`, `:`, `,` and a newline (the expected message of a failed expectation).
#[rstest]
#[case::github(
    "github",
    "::error file=odd%2Cdir%3Ax%25;y]/aksid-test.yaml,line=1,title=aksid test 100%25%3A a%2Cb::Pod default/p · no-local-accounts: expected reject, got skip with a message containing \"50%25: a,b%0Ac\"\n"
)]
#[case::azure_devops(
    "azure-devops",
    "##vso[task.logissue type=error;sourcepath=odd,dir:x%AZP25%3By%5D/aksid-test.yaml;linenumber=1;code=aksid test 100%AZP25: a,b]Pod default/p · no-local-accounts: expected reject, got skip with a message containing \"50%AZP25: a,b%0Ac\"\n"
)]
fn test_failures_as_annotations_escaped_character_by_character(
    #[case] format: &str,
    #[case] expected: &str,
) {
    let s = Scratch::new("test-command", &format!("annotations-{format}"));
    s.write(
        "odd,dir:x%;y]/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
    );
    s.write(
        "odd,dir:x%;y]/aksid-test.yaml",
        "apiVersion: aksid.io/v1alpha1\nkind: Test\nmetadata: {name: '100%: a,b'}\nspec:\n  manifests: [pod.yaml]\n  policies: [no-local-accounts]\n  expect:\n  - {kind: Pod, name: p, policy: no-local-accounts, result: reject, message: \"50%: a,b\\nc\"}\n",
    );
    let run = s.aksid(&["test", "odd,dir:x%;y]", "-o", format]);
    run.code(1);
    assert_eq!(run.stdout, expected, "{run}");
}

/// `check -f DIR -o FORMAT` after adding to DIR a rejected Deployment that an exception excuses.
fn check_with_an_excepted_finding(s: &Scratch, dir: &str, format: &str) -> Run {
    s.write(
        &format!("{dir}/excepted.yaml"),
        SECRET_ENV.replace("name: api\n", "name: legacy\n"),
    )
    .write(
        "exceptions.yaml",
        "exceptions:\n- policy: no-plaintext-secret-env\n  match: {name: legacy}\n  reason: JIRA-1\n",
    );
    s.aksid(&[
        "check",
        "-f",
        dir,
        "--exceptions",
        "exceptions.yaml",
        "-o",
        format,
    ])
}

/// `check -o github` / `-o azure-devops`: one line per finding, rejections as errors, warnings
/// as warnings, exceptions omitted; a path with `,`, `:`, `%`, `;`, `]`.
#[rstest]
#[case::github(
    "github",
    "::error file=a%2Cb%3Ac%25;d]/api.yaml,line=1,title=aksid no-plaintext-secret-env::Deployment shop/api: "
)]
#[case::azure_devops(
    "azure-devops",
    "##vso[task.logissue type=error;sourcepath=a,b:c%AZP25%3Bd%5D/api.yaml;linenumber=1;code=aksid no-plaintext-secret-env]Deployment shop/api: "
)]
fn check_findings_as_annotations(#[case] format: &str, #[case] prefix: &str) {
    let s = Scratch::new("test-command", &format!("check-{format}"));
    s.write("a,b:c%;d]/api.yaml", SECRET_ENV)
        .write("a,b:c%;d]/web.yaml", SECRET_REF);
    let run = check_with_an_excepted_finding(&s, "a,b:c%;d]", format);
    run.code(1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "one finding: the excepted one and the accepted one are omitted\n{run}"
    );
    assert!(
        lines[0].starts_with(prefix),
        "expected a line starting with\n{prefix}\n\n{run}"
    );
    assert!(lines[0].contains("DB_PASSWORD"), "{run}");
    assert!(
        !lines[0].contains('\r') && !run.stdout.contains("S3cr3tP@ssw0rd"),
        "{run}"
    );
}

/// A Deployment whose copied client-id annotation does nothing: a workload-identity-labels
/// warning (the ServiceAccount is not among the checked objects).
const COPIED_CLIENT_ID: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: wi
  namespace: shop
  annotations:
    azure.workload.identity/client-id: 11111111-2222-3333-4444-555555555555
spec:
  selector:
    matchLabels: {app: wi}
  template:
    metadata:
      labels: {app: wi, azure.workload.identity/use: \"true\"}
    spec:
      serviceAccountName: wi-sa
      containers:
        - name: wi
          image: contoso.azurecr.io/wi:1.0.0
";

/// `check -o github` / `-o azure-devops` on a rejection, a warning and an excepted rejection:
/// exactly two lines, the rejection an error and the warning a warning; the excepted one
/// prints nothing.
#[rstest]
#[case::github(
    "github",
    "::error file=m/api.yaml,line=1,title=aksid no-plaintext-secret-env::Deployment shop/api: ",
    "::warning file=m/wi.yaml,line=1,title=aksid workload-identity-labels::Deployment shop/wi: metadata.annotations[\"azure.workload.identity/client-id\"]: the Workload ID webhook reads azure.workload.identity/client-id from ServiceAccount shop/wi-sa only, which is not among the checked objects, so this copy does nothing; make sure the ServiceAccount carries the same value"
)]
#[case::azure_devops(
    "azure-devops",
    "##vso[task.logissue type=error;sourcepath=m/api.yaml;linenumber=1;code=aksid no-plaintext-secret-env]Deployment shop/api: ",
    "##vso[task.logissue type=warning;sourcepath=m/wi.yaml;linenumber=1;code=aksid workload-identity-labels]Deployment shop/wi: metadata.annotations[\"azure.workload.identity/client-id\"]: the Workload ID webhook reads azure.workload.identity/client-id from ServiceAccount shop/wi-sa only, which is not among the checked objects, so this copy does nothing; make sure the ServiceAccount carries the same value"
)]
fn check_warnings_are_warnings_and_exceptions_print_nothing(
    #[case] format: &str,
    #[case] error_prefix: &str,
    #[case] warning: &str,
) {
    let s = Scratch::new("test-command", &format!("check-warning-{format}"));
    s.write("m/api.yaml", SECRET_ENV)
        .write("m/wi.yaml", COPIED_CLIENT_ID);
    let run = check_with_an_excepted_finding(&s, "m", format);
    run.code(1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run}");
    assert!(
        lines[0].starts_with(error_prefix),
        "expected a line starting with\n```\n{error_prefix}\n```\n\n{run}"
    );
    assert_eq!(lines[1], warning, "{run}");
    assert!(!run.stdout.contains("legacy"), "{run}");
}

/// The repository's own test files: the shipped examples, and each policy's README examples
/// (written out of the README into a scratch directory, so the README cannot drift from what
/// the test expects).
#[test]
fn the_shipped_examples_pass_their_test_file() {
    let run = aksid_in(
        &workspace(),
        &["test", "tests/dogfood/examples.aksid-test.yaml"],
    );
    run.code(0);
}

#[rstest]
#[case::no_local_accounts("no-local-accounts")]
#[case::no_cluster_admin_users("no-cluster-admin-users")]
#[case::no_plaintext_secret_env("no-plaintext-secret-env")]
#[case::workload_identity_labels("workload-identity-labels")]
fn the_readme_examples_pass_their_test_file(#[case] id: &str) {
    let readme =
        std::fs::read_to_string(workspace().join("policies").join(id).join("README.md")).unwrap();
    let s = Scratch::new("test-command", &format!("readme-{id}"));
    for (heading, file) in [
        ("Example: rejected", "rejected.yaml"),
        ("Example: accepted", "accepted.yaml"),
    ] {
        let section = readme
            .split("\n## ")
            .find(|x| x.starts_with(heading))
            .expect("README section");
        let block = section
            .split("```yaml\n")
            .nth(1)
            .and_then(|b| b.split("\n```").next())
            .expect("a YAML block");
        s.write(file, block);
    }
    let test_file = workspace()
        .join("tests/dogfood/readme")
        .join(format!("{id}.yaml"));
    s.write("aksid-test.yaml", std::fs::read(&test_file).unwrap());
    s.aksid(&["test"]).code(0);
}

/// The krew manifest is a valid krew `Plugin`: Python's `jsonschema` with the schema of the
/// fields krew requires, and one platform per release target, each with its own `bin`; every
/// file it copies from the archive, other than the binary the release builds, is a file of the
/// repository (the release packs them from it).
#[test]
fn the_krew_manifest_has_what_krew_requires() {
    let python = workspace().join(".venv/bin/python");
    assert!(python.is_file(), "run tests/support/install-test-tools.sh");
    let script = "import json, sys, yaml, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        plugin = yaml.safe_load(open(sys.argv[2]))\n\
        cls = jsonschema.validators.validator_for(schema)\n\
        cls.check_schema(schema)\n\
        errors = [e.message for e in cls(schema).iter_errors(plugin)]\n\
        broken = dict(plugin, spec=dict(plugin['spec'], version='0.1.0'))\n\
        print(json.dumps({'errors': errors, 'broken': len(list(cls(schema).iter_errors(broken))),\n\
          'platforms': sorted(p['selector']['matchLabels']['os'] + '/' + p['selector']['matchLabels']['arch'] for p in plugin['spec']['platforms']),\n\
          'bins': sorted({p['bin'] for p in plugin['spec']['platforms']}),\n\
          'files': sorted({f['from'] for p in plugin['spec']['platforms'] for f in p['files'] if f['from'] != p['bin']})}))\n";
    let out = Command::new(python)
        .current_dir(workspace())
        .args([
            "-c",
            script,
            "tests/schemas/krew-plugin.schema.json",
            "plugins/aksid.yaml",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = result["files"].take();
    let files = files.as_array().unwrap();
    assert!(!files.is_empty(), "the archive carries the license");
    for file in files {
        let path = workspace().join(file.as_str().unwrap());
        assert!(
            path.is_file(),
            "plugins/aksid.yaml copies {file} from the archive, but the repository has no {}",
            path.display()
        );
    }
    assert_eq!(
        result,
        serde_json::json!({
            "files": null,
            "errors": [],
            "broken": 1,
            "platforms": ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64", "windows/amd64"],
            "bins": ["kubectl-aksid", "kubectl-aksid.exe"]
        }),
        "`broken` (a version without its v) must fail the schema"
    );
}
