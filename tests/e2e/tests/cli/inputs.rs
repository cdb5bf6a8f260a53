//! Inputs and exit codes: what `check` reads, how it locates findings and problems, and the
//! documented exit codes (0 clean, 1 rejected, 2 input error or no objects) in every format.

use crate::fixtures::*;
use crate::util::{assert_same, errors_of_kind, lines_of, results, scratch};
use rstest::rstest;

#[test]
fn clean_directory_exits_0_in_every_format() {
    let s = scratch!();
    s.write("deploy/web.yaml", GOOD_DEPLOYMENT)
        .write("deploy/rbac/admins.yml", GROUP_CLUSTER_ADMIN)
        .write("deploy/settings.yaml", CONFIG_MAP);
    let [text, json, ..] = s.check_all_formats(&["-f", "deploy/"]);
    text.code(0)
        .stdout_has("deploy/web.yaml\n  ✓ 1 object accepted")
        .stdout_has("deploy/rbac/admins.yml\n  ✓ 1 object accepted")
        .stdout_has("✓ 3 objects · 4 policies · 0 rejected");
    let report = json.json();
    assert_same("summary", (3, 0, 0), {
        let s = &report["summary"];
        (
            s["objects"].as_u64().unwrap(),
            s["rejected"].as_u64().unwrap(),
            s["errors"].as_u64().unwrap(),
        )
    });
}

#[test]
fn rejected_manifest_exits_1_in_every_format() {
    let s = scratch!();
    s.write("api.yaml", BAD_DEPLOYMENT)
        .write("web.yaml", GOOD_DEPLOYMENT);
    let [text, json, ..] = s.check_all_formats(&["-f", "api.yaml", "-f", "web.yaml"]);
    text.code(1)
        .stdout_has(
            "api.yaml\n  line 1  Deployment shop/api\n    ✗ rejected by no-plaintext-secret-env",
        )
        .stdout_has("env[DB_PASSWORD]")
        .stdout_has("web.yaml\n  ✓ 1 object accepted")
        .stdout_has("✗ 2 objects · 4 policies · 1 rejected");
    let report = json.json();
    let rejected = results(&report, "api.yaml", "no-plaintext-secret-env");
    assert_same(
        "the api rejection",
        Some(false),
        rejected.first().map(|r| r["allowed"].as_bool().unwrap()),
    );
}

#[test]
fn malformed_yaml_exits_2_and_the_other_files_are_still_reported() {
    let s = scratch!();
    s.write("k8s/a-good.yaml", GOOD_DEPLOYMENT)
        .write("k8s/b-broken.yaml", MALFORMED)
        .write("k8s/c-bad.yaml", BAD_DEPLOYMENT);
    let [text, json, ..] = s.check_all_formats(&["-f", "k8s"]);
    text.code(2)
            .stdout_has("k8s/a-good.yaml\n  ✓ 1 object accepted")
            .stdout_has("k8s/c-bad.yaml\n  line 1  Deployment shop/api\n    ✗ rejected by no-plaintext-secret-env")
            .stdout_has("✗ k8s/b-broken.yaml:")
            .stdout_has("malformed YAML");
    let report = json.json();
    let malformed = errors_of_kind(&report, "malformedYaml");
    assert_same(
        "one malformedYaml error, for the broken file",
        vec!["k8s/b-broken.yaml"],
        malformed
            .iter()
            .map(|e| e["file"].as_str().unwrap())
            .collect::<Vec<_>>(),
    );
    assert_same(
        "the bad file's rejection next to the error",
        vec![false],
        results(&report, "k8s/c-bad.yaml", "no-plaintext-secret-env")
            .iter()
            .map(|r| r["allowed"].as_bool().unwrap())
            .collect::<Vec<_>>(),
    );
    assert_same(
        "objects read",
        2,
        report["summary"]["objects"].as_u64().unwrap(),
    );
}

#[rstest]
#[case::empty_directory("empty_directory")]
#[case::comments_only_file("comments_only_file")]
#[case::empty_stdin("empty_stdin")]
fn zero_objects_exit_2_with_a_clear_message(#[case] case: &str) {
    let s = scratch!(case);
    let args: &[&str] = match case {
        "empty_directory" => {
            s.mkdir("rendered");
            &["check", "-f", "rendered"]
        }
        "comments_only_file" => {
            s.write(
                "all.yaml",
                "# helm template produced nothing\n---\n# still nothing\n",
            );
            &["check", "-f", "all.yaml"]
        }
        _ => &["check", "-f", "-"],
    };
    for format in ["text", "json", "sarif", "junit"] {
        let mut all = args.to_vec();
        all.extend(["-o", format]);
        let run = s.aksid_stdin(&all, b"");
        run.code(2).stdout_has("no Kubernetes objects found");
        if format == "text" {
            run.stdout_has("✗ no Kubernetes objects found in the inputs");
        }
        if format == "json" {
            let report = run.json();
            assert_same(
                "noObjects errors",
                1,
                errors_of_kind(&report, "noObjects").len(),
            );
        }
    }
}

#[test]
fn stdin_dash_is_read_and_reported_as_dash() {
    let s = scratch!();
    let run = s.aksid_stdin(
        &["check", "-f", "-", "-o", "json"],
        BAD_DEPLOYMENT.as_bytes(),
    );
    run.code(1);
    let report = run.json();
    assert_same(
        "the rejection, named after stdin",
        vec![false],
        results(&report, "-", "no-plaintext-secret-env")
            .iter()
            .map(|r| r["allowed"].as_bool().unwrap())
            .collect::<Vec<_>>(),
    );
    // A file next to stdin is read too.
    s.write("web.yaml", GOOD_DEPLOYMENT);
    s.aksid_stdin(
        &["check", "-f", "web.yaml", "-f", "-"],
        BAD_DEPLOYMENT.as_bytes(),
    )
    .code(1)
    .stdout_has("-\n  line 1  Deployment shop/api")
    .stdout_has("web.yaml\n  ✓ 1 object accepted");
}

#[test]
fn list_items_are_checked_at_their_own_lines() {
    let s = scratch!();
    let items: String = [CONFIG_MAP, USER_CLUSTER_ADMIN]
        .iter()
        .map(|item| {
            let mut lines = item.lines();
            let first = format!("  - {}\n", lines.next().unwrap());
            first + &lines.map(|l| format!("    {l}\n")).collect::<String>()
        })
        .collect();
    let text = format!("apiVersion: v1\nkind: List\nitems:\n{items}");
    let line = lines_of(&text, "  - apiVersion: rbac.authorization.k8s.io/v1")[0];
    s.write("list.yaml", &text);
    let run = s.aksid(&["check", "-f", "list.yaml", "-o", "json"]);
    run.code(1);
    let report = run.json();
    let binding = results(&report, "list.yaml", "no-cluster-admin-users");
    assert_same(
        "the ClusterRoleBinding item: (line, document, name, allowed)",
        vec![(line, 1, "bob-cluster-admin", false)],
        binding
            .iter()
            .map(|r| {
                (
                    r["line"].as_u64().unwrap(),
                    r["document"].as_u64().unwrap(),
                    r["name"].as_str().unwrap(),
                    r["allowed"].as_bool().unwrap(),
                )
            })
            .collect::<Vec<_>>(),
    );
    assert_same(
        "objects: both items, not the List",
        2,
        report["summary"]["objects"].as_u64().unwrap(),
    );
}

#[test]
fn json_input_is_checked() {
    let s = scratch!();
    let yaml: serde_json::Value = serde_saphyr::from_str(USER_CLUSTER_ADMIN).unwrap();
    s.write("binding.json", serde_json::to_string_pretty(&yaml).unwrap());
    // An array of objects, as some tools write, is read too.
    let good: serde_json::Value = serde_saphyr::from_str(GROUP_CLUSTER_ADMIN).unwrap();
    s.write("bindings.json", serde_json::to_string(&[good]).unwrap());
    s.aksid(&["check", "-f", "binding.json", "-f", "bindings.json"])
            .code(1)
            .stdout_has("binding.json\n  line 1  ClusterRoleBinding bob-cluster-admin\n    ✗ rejected by no-cluster-admin-users")
            .stdout_has("bindings.json\n  ✓ 1 object accepted");
}

#[test]
fn multi_document_yaml_reports_the_document_and_line() {
    let s = scratch!();
    let text = format!(
        "# three documents\n{CONFIG_MAP}---\n{GOOD_DEPLOYMENT}---\n\n# the bad one\n{USER_CLUSTER_ADMIN}"
    );
    // An object starts at its first content line, here `apiVersion:`.
    let binding_line = lines_of(&text, "apiVersion: rbac.authorization.k8s.io/v1")[0];
    let deployment_line = lines_of(&text, "apiVersion: apps/v1")[0];
    assert!(
        binding_line > 20 && deployment_line > 5,
        "{binding_line} {deployment_line}"
    );
    s.write("all.yaml", &text);
    s.aksid(&["check", "-f", "all.yaml"]).code(1).stdout_has(&format!(
            "all.yaml\n  line {binding_line}  ClusterRoleBinding bob-cluster-admin\n    ✗ rejected by no-cluster-admin-users"
        ));
    let report = s.aksid(&["check", "-f", "all.yaml", "-o", "json"]).json();
    let found: Vec<(u64, u64)> = results(&report, "all.yaml", "no-cluster-admin-users")
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["document"].as_u64().unwrap()))
        .collect();
    assert_same(
        "(line, document) of the binding",
        vec![(binding_line, 3)],
        found,
    );
    let web: Vec<(u64, u64)> = results(&report, "all.yaml", "no-plaintext-secret-env")
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["document"].as_u64().unwrap()))
        .collect();
    assert_same(
        "(line, document) of the Deployment",
        vec![(deployment_line, 2)],
        web,
    );
}

#[test]
fn unrendered_helm_template_is_named_with_file_document_and_line() {
    let s = scratch!();
    let text = format!(
        "{CONFIG_MAP}---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{{{ .Release.Name }}}}-web\n  labels:\n{{{{ include \"chart.labels\" . | indent 4 }}}}\n"
    );
    // The first template action.
    let line = lines_of(&text, "  name: {{")[0];
    s.write("chart/templates/deployment.yaml", &text);
    let message = "this looks like an unrendered template; render it first (helm template ...)";
    s.aksid(&["check", "-f", "chart/"])
        .code(2)
        .stdout_has(&format!(
            "✗ chart/templates/deployment.yaml:{line} (document 2): {message}"
        ));
    let report = s.aksid(&["check", "-f", "chart/", "-o", "json"]).json();
    let errors: Vec<_> = errors_of_kind(&report, "unrenderedTemplate")
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap(),
                e["document"].as_u64(),
                e["line"].as_u64(),
                e["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_same(
        "the template error",
        vec![(
            "chart/templates/deployment.yaml",
            Some(2),
            Some(line),
            message,
        )],
        errors,
    );
}

#[test]
fn binary_file_is_an_error() {
    let s = scratch!();
    s.write("image.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
        .write("web.yaml", GOOD_DEPLOYMENT);
    s.aksid(&["check", "-f", "image.yaml", "-f", "web.yaml"])
        .code(2)
        .stdout_has("✗ image.yaml: binary file, not a Kubernetes manifest")
        .stdout_has("web.yaml\n  ✓ 1 object accepted");
    let report = s.aksid(&["check", "-f", "image.yaml", "-o", "json"]).json();
    assert_same(
        "binary errors",
        vec!["image.yaml"],
        errors_of_kind(&report, "binary")
            .iter()
            .map(|e| e["file"].as_str().unwrap())
            .collect::<Vec<_>>(),
    );
}

#[test]
fn empty_file_is_a_notice_next_to_other_files() {
    let s = scratch!();
    s.write("deploy/empty.yaml", "")
        .write("deploy/web.yaml", GOOD_DEPLOYMENT);
    s.aksid(&["check", "-f", "deploy"])
        .code(0)
        .stdout_has("• deploy/empty.yaml: file is empty");
    let report = s.aksid(&["check", "-f", "deploy", "-o", "json"]).json();
    let notices: Vec<_> = report["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["file"].as_str().unwrap(), n["kind"].as_str().unwrap()))
        .collect();
    assert_same("notices", vec![("deploy/empty.yaml", "empty")], notices);
    // Alone, it is a run without objects.
    s.aksid(&["check", "-f", "deploy/empty.yaml"])
        .code(2)
        .stdout_has("no Kubernetes objects found");
}

#[test]
fn directory_without_manifests_is_an_error() {
    let s = scratch!();
    s.write("docs/README.md", "# not a manifest\n")
        .write("docs/run.sh", "kubectl apply -f .\n")
        .write("docs/.hidden/x.yaml", USER_CLUSTER_ADMIN)
        .write("web.yaml", GOOD_DEPLOYMENT);
    s.aksid(&["check", "-f", "docs", "-f", "web.yaml"])
        .code(2)
        .stdout_has("✗ docs: directory holds no .yaml, .yml or .json files")
        .stdout_has("web.yaml\n  ✓ 1 object accepted")
        .stdout_lacks("bob-cluster-admin");
}

#[test]
fn file_over_max_file_size_is_skipped_naming_the_limit() {
    let s = scratch!();
    let big = format!(
        "{}{USER_CLUSTER_ADMIN}",
        "# padding to make the file large\n".repeat(64)
    );
    assert!(big.len() > 2048 && big.len() < 3072, "{}", big.len());
    s.write("big.yaml", &big).write("web.yaml", GOOD_DEPLOYMENT);
    let run = s.aksid(&[
        "check",
        "-f",
        "big.yaml",
        "-f",
        "web.yaml",
        "--max-file-size",
        "1KiB",
    ]);
    run.code(2)
        .stdout_has("✗ big.yaml: file is 2.")
        .stdout_has("KiB, larger than the 1 KiB limit; raise it with --max-file-size")
        .stdout_has("web.yaml\n  ✓ 1 object accepted")
        .stdout_lacks("bob-cluster-admin");
    let report = s
        .aksid(&[
            "check",
            "-f",
            "big.yaml",
            "--max-file-size",
            "1KiB",
            "-o",
            "json",
        ])
        .json();
    assert_same(
        "tooLarge errors",
        vec!["big.yaml"],
        errors_of_kind(&report, "tooLarge")
            .iter()
            .map(|e| e["file"].as_str().unwrap())
            .collect::<Vec<_>>(),
    );
    // Stdin is not read past the limit.
    s.aksid_stdin(
        &["check", "-f", "-", "--max-file-size", "1KiB"],
        big.as_bytes(),
    )
    .code(2)
    .stdout_has("✗ -: stdin holds more than the 1 KiB limit; raise it with --max-file-size");
    // And the default limit reads it.
    s.aksid(&["check", "-f", "big.yaml"]).code(1);
}

#[test]
fn document_without_kind_names_the_field() {
    let s = scratch!();
    let text = format!("{CONFIG_MAP}---\napiVersion: v1\nmetadata:\n  name: kindless\n");
    let line = lines_of(&text, "apiVersion: v1")[1];
    s.write("cm.yaml", &text);
    s.aksid(&["check", "-f", "cm.yaml"])
        .code(2)
        .stdout_has(&format!(
            "✗ cm.yaml:{line} (document 2): field kind: object has no kind"
        ));
    let report = s.aksid(&["check", "-f", "cm.yaml", "-o", "json"]).json();
    let errors: Vec<_> = errors_of_kind(&report, "missingField")
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap(),
                e["document"].as_u64(),
                e["line"].as_u64(),
                e["field"].as_str(),
            )
        })
        .collect();
    assert_same(
        "the missing field",
        vec![("cm.yaml", Some(2), Some(line), Some("kind"))],
        errors,
    );
}

/// Inputs built to break parsers: each is reported (exit 2), none crashes the binary.
#[test]
fn hostile_inputs_are_reported_never_crash() {
    let s = scratch!();
    let deep_flow = format!(
        "apiVersion: v1\nkind: ConfigMap\ndata: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_block: String = "apiVersion: v1\nkind: ConfigMap\ndata:\n".to_owned()
        + &(1..3000)
            .map(|i| format!("{}- \n", "  ".repeat(i)))
            .collect::<String>();
    let mut laughs =
        vec!["apiVersion: v1\nkind: ConfigMap\na0: &a0 [x, x, x, x, x, x, x, x, x, x]".to_owned()];
    laughs.extend((1..10).map(|i| {
        format!(
            "a{i}: &a{i} [{}]",
            vec![format!("*a{}", i - 1); 10].join(", ")
        )
    }));
    let deep_json = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"d\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let utf16: Vec<u8> = "apiVersion: v1\nkind: ConfigMap\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    s.write("deep-flow.yaml", deep_flow)
        .write("deep-block.yaml", deep_block)
        .write("laughs.yaml", laughs.join("\n") + "\n")
        .write("deep.json", deep_json)
        .write("utf16.yaml", [&[0xff, 0xfe][..], &utf16].concat())
        .write(
            "invalid-utf8.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \xc3\x28\n",
        );
    let run = s.aksid(&["check", "-f", ".", "-o", "json"]);
    run.code(2);
    let report = run.json();
    let mut files: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    files.sort();
    files.dedup();
    assert_same(
        "every hostile file reported as an error",
        // `.`: the run found no object at all.
        vec![
            ".",
            "./deep-block.yaml",
            "./deep-flow.yaml",
            "./deep.json",
            "./invalid-utf8.yaml",
            "./laughs.yaml",
            "./utf16.yaml",
        ],
        files,
    );
}
