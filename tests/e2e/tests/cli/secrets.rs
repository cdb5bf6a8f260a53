//! Secret values never reach any output: not in findings, not in error messages.

use crate::util::{Run, assert_same, scratch};

/// Distinctive fake secrets: an Entra client secret (`…8Q~…`), a storage account key, a
/// password.
const CLIENT_SECRET: &str = "Xq48Q~zK9vLpR2mT7wYc3bN6dF1gH5jS0aE4uI8o";
const ACCOUNT_KEY: &str = "QmFkU2VjcmV0S2V5Rm9yVGVzdHNPbmx5Tm90UmVhbEtleUFrc2lkMTIzNDU2Nzg5MA==";
const PASSWORD: &str = "Tr0ub4dor&3-horse-Battery";

fn assert_never_shown(runs: &[Run]) {
    for run in runs {
        for secret in [CLIENT_SECRET, ACCOUNT_KEY, PASSWORD] {
            let prefix: String = secret.chars().take(12).collect();
            for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
                if text.contains(&prefix) {
                    run.fail(
                            &format!("the secret {secret:?} never to appear, but {stream} holds its first 12 characters"),
                            &format!("no {prefix:?} anywhere"),
                            None,
                        );
                }
            }
        }
    }
}

fn pod(env: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: leaky\n  namespace: shop\nspec:\n  containers:\n    - name: app\n      image: contoso.azurecr.io/app:1.0\n      env:\n{env}"
    )
}

#[test]
fn secrets_in_env_appear_in_no_output_format() {
    let s = scratch!();
    let env = format!(
        "        - name: AZURE_CLIENT_SECRET\n          value: \"{CLIENT_SECRET}\"\n        - name: STORAGE\n          value: \"DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net\"\n        - name: ADMIN_PASSWORD\n          value: \"{PASSWORD}\"\n"
    );
    s.write("leaky.yaml", pod(&env));
    let runs = s.check_all_formats(&["-f", "leaky.yaml"]);
    runs[0]
        .code(1)
        .stdout_has("env[AZURE_CLIENT_SECRET]")
        .stdout_has("env[STORAGE]")
        .stdout_has("env[ADMIN_PASSWORD]");
    assert_never_shown(&runs);
    // The same from stdin.
    let runs = ["text", "json", "sarif", "junit"]
        .map(|format| s.aksid_stdin(&["check", "-f", "-", "-o", format], pod(&env).as_bytes()));
    runs[0].code(1);
    assert_never_shown(&runs);
}

/// Documents that fail to load carry the secrets in places parsers like to quote. The
/// report promises that error messages never quote document content beyond a field name.
#[test]
fn secrets_in_documents_that_fail_to_load_appear_in_no_error_message() {
    let s = scratch!();
    s.write(
        "unclosed-quote.yaml",
        pod(&format!(
            "        - name: X\n          value: \"{CLIENT_SECRET}\n"
        )),
    )
    .write(
        "tab.yaml",
        pod(&format!("        - name: X\n\t  value: {CLIENT_SECRET}\n")),
    )
    .write(
        "not-an-object.yaml",
        format!("\"{CLIENT_SECRET}\"\n---\n- AccountKey={ACCOUNT_KEY}\n"),
    )
    .write(
        "template.yaml",
        pod(&format!(
            "        - name: X\n          value: {{{{ \"{CLIENT_SECRET}\" }}}}\n"
        )),
    )
    .write(
        "kind-is-a-secret.yaml",
        format!("apiVersion: v1\nkind: [\"{PASSWORD}\"]\n"),
    )
    // A YAML tag the value does not fit: parsers' messages tend to quote the value
    // (`invalid value: string "...", expected an integer`); aksid-manifests must not.
    .write(
        "tagged.yaml",
        pod(&format!(
            "        - name: X\n          value: !!int {CLIENT_SECRET}\n"
        )),
    )
    .write(
        "bad.json",
        format!("{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"x\": \"{ACCOUNT_KEY}\", ]"),
    );
    let runs = s.check_all_formats(&["-f", "."]);
    runs[0].code(2);
    let report = runs[1].json();
    let mut files: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    files.sort();
    files.dedup();
    assert_same(
        "every file reported",
        [
            ".",
            "./bad.json",
            "./kind-is-a-secret.yaml",
            "./not-an-object.yaml",
            "./tab.yaml",
            "./tagged.yaml",
            "./template.yaml",
            "./unclosed-quote.yaml",
        ],
        files,
    );
    assert_never_shown(&runs);
}
