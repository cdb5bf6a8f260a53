//! Issue 9, "Exceptions and output" and the reports' provenance: match-everything exceptions
//! refused, `.aksid.yaml` merged from the repository root down, third-party lookups only when
//! granted (`--allow-context`), no silent replacement of a built-in (`--replace-builtin`), the
//! module's origin and digest in every report, module text never raw on the terminal, and a
//! complete report (exit 2) when an input fails.

use crate::fixtures::*;
use crate::util::{Scratch, assert_same, python, scratch, workspace};
use serde_json::Value;
use std::ffi::OsStr;
use std::process::Command;

/// The test guest (`tests/guests/hostile-policy`), annotated as a third-party module titled
/// `title` that judges Pods and declares ConfigMap lookups.
fn hostile_module(title: &str) -> Vec<u8> {
    let path = std::env::var_os("AKSID_HOSTILE_WASM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/wasm32-wasip1/release/hostile_policy.wasm"));
    let wasm = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\n\nBuild it first: make modules",
            path.display()
        )
    });
    let metadata = aksid_metadata::Metadata::from_yaml(&format!(
        "rules:\n- {{apiGroups: [''], apiVersions: [v1], resources: [pods], operations: [CREATE]}}\n\
         mutating: false\nexecutionMode: kubewarden-wapc\ncontextAware: true\n\
         contextAwareResources: [{{apiVersion: v1, kind: ConfigMap}}]\n\
         annotations: {{io.kubewarden.policy.title: {}}}\n",
        serde_json::to_string(title).unwrap()
    ))
    .expect("valid metadata");
    aksid_metadata::annotate(&wasm, &metadata.with_protocol_version()).expect("annotation works")
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers: [{name: c, image: x}]\n";

fn git_init(s: &Scratch, dir: &str) {
    s.mkdir(dir);
    let status = Command::new("git")
        .args(["init", "-q", dir])
        .current_dir(&s.dir)
        .status()
        .expect("git is installed (tests/support/install-test-tools.sh)");
    assert!(status.success());
}

fn sha256_of(s: &Scratch, file: &str) -> String {
    let out = Command::new("sha256sum")
        .arg(file)
        .current_dir(&s.dir)
        .output()
        .expect("sha256sum runs");
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

fn exception(policy: &str, matcher: &str, reason: &str) -> String {
    format!("- policy: {policy}\n  match: {matcher}\n  reason: {reason}\n")
}

#[rstest::rstest]
#[case::every_policy_every_kind("'*'", "{kind: '*'}")]
#[case::every_policy_every_name("'*'", "{name: '*', file: '**'}")]
#[case::one_policy_every_kind("no-plaintext-secret-env", "{kind: '*'}")]
fn match_everything_exception_is_refused(#[case] policy: &str, #[case] matcher: &str) {
    let s = scratch!();
    git_init(&s, "repo");
    s.write("repo/apps/api.yaml", BAD_DEPLOYMENT).write(
        "repo/.aksid.yaml",
        format!("exceptions:\n{}", exception(policy, matcher, "silence")),
    );
    s.aksid_in("repo", &["check", "-f", "apps/"], None)
        .code(2)
        .stdout_has("✗ rejected by no-plaintext-secret-env")
        .stdout_has("exception #1: match: selects every object")
        .stdout_lacks("allowed by exception");
}

#[test]
fn root_and_subdirectory_exceptions_merge_and_a_subdirectory_cannot_remove_the_roots() {
    let s = scratch!();
    git_init(&s, "repo");
    let api2 = BAD_DEPLOYMENT.replace("name: api", "name: api2");
    s.write("repo/apps/team/api.yaml", BAD_DEPLOYMENT)
        .write("repo/apps/team/api2.yaml", &api2)
        .write("repo/other/api2.yaml", &api2)
        .write(
            "repo/.aksid.yaml",
            format!(
                "exceptions:\n{}",
                exception("no-plaintext-secret-env", "{name: api}", "root says")
            ),
        )
        // The team's file lists nothing of the root's (it cannot remove it) and adds api2, for
        // its own files only.
        .write(
            "repo/apps/team/.aksid.yaml",
            format!(
                "exceptions:\n{}",
                exception("no-plaintext-secret-env", "{name: api2}", "team says")
            ),
        );
    let report = s
        .aksid_in("repo", &["check", "-f", ".", "-o", "json"], None)
        .code(1)
        .json();
    let verdicts: Vec<(String, bool, Value)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["policy"] == "no-plaintext-secret-env")
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_owned(),
                r["allowed"].as_bool().unwrap(),
                r["exception"]["reason"].clone(),
            )
        })
        .collect();
    assert_same(
        "(file, allowed, exception) per Deployment",
        vec![
            (
                "./apps/team/api.yaml".to_owned(),
                true,
                Value::from("root says"),
            ),
            (
                "./apps/team/api2.yaml".to_owned(),
                true,
                Value::from("team says"),
            ),
            ("./other/api2.yaml".to_owned(), false, Value::Null),
        ],
        verdicts,
    );
}

#[test]
fn exceptions_above_the_checked_directory_are_not_read_outside_git() {
    let s = scratch!();
    s.write("outer/dir/api.yaml", BAD_DEPLOYMENT).write(
        "outer/.aksid.yaml",
        format!(
            "exceptions:\n{}",
            exception("no-plaintext-secret-env", "{name: api}", "above")
        ),
    );
    s.aksid_in("outer/dir", &["check", "-f", "."], None)
        .code(1)
        .stdout_lacks("allowed by exception");
    // The same file in the checked directory applies: the search itself works.
    std::fs::rename(
        s.dir.join("outer/.aksid.yaml"),
        s.dir.join("outer/dir/.aksid.yaml"),
    )
    .unwrap();
    s.aksid_in("outer/dir", &["check", "-f", "."], None)
        .code(0)
        .stdout_has("allowed by exception #1 (above)");
}

#[test]
fn third_party_lookups_are_refused_without_allow_context_and_granted_with_it() {
    let s = scratch!();
    s.write("hostile.wasm", hostile_module("hostile-policy"))
        .write("pod.yaml", POD)
        .write(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: shop}\ndata: {k: secret-ish}\n",
        )
        .write("settings.yaml", "hostile-policy: {mode: get-configmap, name: cm}\n");
    let args = [
        "check",
        "-f",
        "pod.yaml",
        "-f",
        "cm.yaml",
        "--policy",
        "./hostile.wasm",
        "--settings",
        "settings.yaml",
    ];
    let refused = s.aksid(&[&args[..], &["-o", "json"]].concat()).json();
    let result = &crate::util::results(&refused, "pod.yaml", "hostile-policy")[0];
    assert_eq!(result["allowed"], false, "{result:#}");
    assert!(
        !result["message"].as_str().unwrap().contains("secret-ish"),
        "{result:#}"
    );
    let notice = refused["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "forbidden")
        .unwrap_or_else(|| panic!("a notice of the refused lookups: {refused:#}"));
    assert!(
        notice["message"]
            .as_str()
            .unwrap()
            .contains("--allow-context ConfigMap"),
        "{notice:#}"
    );
    assert_eq!(result["thirdParty"], true);

    let granted = s
        .aksid(&[&args[..], &["-o", "json", "--allow-context", "ConfigMap"]].concat())
        .code(0)
        .json();
    let result = &crate::util::results(&granted, "pod.yaml", "hostile-policy")[0];
    assert_same(
        "the granted lookup's answer",
        "{\"k\":\"secret-ish\"}",
        result["message"].as_str().unwrap(),
    );
    // Built-ins keep their own lookups without any grant (the Deployment judged as before).
    s.aksid(&args)
        .stdout_has("hostile-policy (third-party module, see Policies below)");
}

#[test]
fn a_module_titled_like_a_built_in_is_refused_without_replace_builtin() {
    let s = scratch!();
    s.write("fake.wasm", hostile_module("no-plaintext-secret-env"))
        .write("apps/api.yaml", BAD_DEPLOYMENT);
    let refused = s
        .aksid(&[
            "check",
            "-f",
            "apps/",
            "--policy",
            "./fake.wasm",
            "-o",
            "json",
        ])
        .code(2)
        .json();
    let error = &refused["errors"][0];
    assert_eq!(error["kind"], "policyFailed");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("--replace-builtin"),
        "{error:#}"
    );
    // The built-in still judged: the plaintext secret is still rejected.
    assert_eq!(
        crate::util::results(&refused, "apps/api.yaml", "no-plaintext-secret-env")[0]["allowed"],
        false
    );

    let replaced = s
        .aksid(&[
            "check",
            "-f",
            "apps/",
            "--policy",
            "./fake.wasm",
            "--replace-builtin",
            "-o",
            "json",
        ])
        .json();
    let policy = replaced["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "no-plaintext-secret-env")
        .unwrap();
    assert_same(
        "the replacing module's provenance",
        (
            Value::from("file:./fake.wasm"),
            Value::from(sha256_of(&s, "fake.wasm")),
            Value::Bool(true),
        ),
        (
            policy["origin"].clone(),
            policy["digest"].clone(),
            policy["replacesBuiltin"].clone(),
        ),
    );
    s.aksid(&[
        "check",
        "-f",
        "apps/",
        "--policy",
        "./fake.wasm",
        "--replace-builtin",
    ])
    .stdout_has("replacing the built-in policy of that id");
}

#[test]
fn digest_and_origin_are_in_json_sarif_and_junit() {
    let s = scratch!();
    s.write("hostile.wasm", hostile_module("hostile-policy"))
        .write("pod.yaml", POD);
    let args = ["check", "-f", "pod.yaml", "--policy", "./hostile.wasm"];
    let digest = sha256_of(&s, "hostile.wasm");
    let json = s
        .aksid(&[&args[..], &["-o", "json"]].concat())
        .code(0)
        .json();
    let policies: Vec<(Value, Value)> = json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].clone(), p["origin"].clone()))
        .collect();
    assert!(
        policies.contains(&(
            Value::from("hostile-policy"),
            Value::from("file:./hostile.wasm")
        )),
        "{policies:?}"
    );
    assert!(
        policies.contains(&(Value::from("no-local-accounts"), Value::from("builtin"))),
        "{policies:?}"
    );
    let hostile = json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "hostile-policy")
        .unwrap();
    assert_eq!(hostile["digest"], Value::from(digest.clone()));
    let builtin = json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "no-local-accounts")
        .unwrap();
    assert!(
        builtin["digest"].as_str().unwrap().starts_with("sha256:"),
        "{builtin:#}"
    );

    let sarif = s
        .aksid(&[&args[..], &["-o", "sarif"]].concat())
        .code(0)
        .json();
    let rule = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "hostile-policy")
        .unwrap();
    assert_same(
        "the SARIF rule's provenance",
        (
            Value::from("file:./hostile.wasm"),
            Value::from(digest.clone()),
            Value::Bool(true),
        ),
        (
            rule["properties"]["origin"].clone(),
            rule["properties"]["digest"].clone(),
            rule["properties"]["thirdParty"].clone(),
        ),
    );
    let junit = s.aksid(&[&args[..], &["-o", "junit"]].concat());
    junit
        .code(0)
        .stdout_has(&format!("<property name=\"digest\" value=\"{digest}\"/>"));
    s.aksid(&args)
        .stdout_has(&format!("hostile-policy: file:./hostile.wasm {digest}"));
}

#[test]
fn escape_sequences_from_a_module_never_reach_the_terminal_raw() {
    // The title carries an OSC 52 clipboard write; the message (the lookup error naming the
    // ConfigMap the settings ask for) an OSC 52 write and a colour change.
    let s = scratch!();
    s.write("evil.wasm", hostile_module("evil\u{1b}]52;c;cm0gLXJmIH4=\u{7}"))
        .write("pod.yaml", POD)
        .write(
            "settings.yaml",
            "\"evil\\e]52;c;cm0gLXJmIH4=\\a\": {mode: get-configmap, name: \"\\e]52;c;cm0gLXJmIH4=\\a\\e[31mred\"}\n",
        );
    let args = [
        "check",
        "-f",
        "pod.yaml",
        "--policy",
        "./evil.wasm",
        "--settings",
        "settings.yaml",
        "--allow-context",
        "ConfigMap",
    ];
    let check = s.aksid(&[&args[..], &["--color", "never"]].concat());
    let policies = s.aksid(&["policies", "--policy", "./evil.wasm"]);
    let explain = s.aksid(&["explain", "nope", "--policy", "./evil.wasm"]);
    for run in [&check, &policies, &explain] {
        for (name, out) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !out.contains('\u{1b}') && !out.contains('\u{7}'),
                "raw escape on {name} of {}:\n{out}",
                run.command
            );
        }
    }
    // Shown escaped, so the reader sees that something was there.
    policies.stdout_has("evil\\u{1b}]52;c;cm0gLXJmIH4=\\u{7}");
    explain.code(2).stderr_has("evil\\u{1b}]52;c;");
    check
        .code(1)
        .stdout_has("\\u{1b}]52;c;cm0gLXJmIH4=\\u{7}\\u{1b}[31mred")
        .stdout_has("rejected by evil\\u{1b}]52;c;cm0gLXJmIH4=\\u{7} (third-party module");
    // JSON keeps the data, encoded by its serializer.
    let json = s.aksid(&[&args[..], &["-o", "json"]].concat()).json();
    let message = json["results"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("\u{1b}]52;c;cm0gLXJmIH4=\u{7}"),
        "{message:?}"
    );
}

#[test]
fn a_malformed_aksid_yaml_with_sarif_gives_a_valid_sarif_with_the_error_and_exit_2() {
    let s = scratch!();
    git_init(&s, "repo");
    s.write("repo/apps/api.yaml", BAD_DEPLOYMENT).write(
        "repo/.aksid.yaml",
        "exceptions:\n- policy: p\n  match: {kinds: Pod}\n  reason: r\n",
    );
    let run = s.aksid_in("repo", &["check", "-f", "apps/", "-o", "sarif"], None);
    run.code(2);
    s.write("aksid.sarif", &run.stdout);
    let sarif = run.json();
    let notifications = &sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"];
    let text = notifications.to_string();
    assert!(
        text.contains("exception #1: match.kinds: unknown key"),
        "{notifications:#}"
    );
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
    assert!(
        !sarif["runs"][0]["results"].as_array().unwrap().is_empty(),
        "the findings are still there"
    );
    let schema = workspace().join("tests/schemas/sarif-schema-2.1.0.json");
    let out = python(
        &s.dir,
        crate::sarif::VALIDATE,
        &[schema.as_os_str(), OsStr::new("aksid.sarif")],
    );
    let verdict: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_same(
        "schema errors",
        Value::from(Vec::<Value>::new()),
        verdict["errors"]["aksid.sarif"].clone(),
    );
}

#[test]
fn a_policy_that_fails_to_load_still_gives_a_complete_sarif_and_exit_2() {
    let s = scratch!();
    s.write("broken.wasm", b"\0asm not really")
        .write("apps/api.yaml", BAD_DEPLOYMENT);
    let run = s.aksid(&[
        "check",
        "-f",
        "apps/",
        "--policy",
        "./broken.wasm",
        "-o",
        "sarif",
    ]);
    run.code(2);
    let sarif = run.json();
    assert!(
        sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
            .to_string()
            .contains("--policy ./broken.wasm")
    );
    assert!(
        !sarif["runs"][0]["results"].as_array().unwrap().is_empty(),
        "the built-ins still judged"
    );
}
