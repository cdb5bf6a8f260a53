//! `--settings FILE`: per-policy settings, validated by each policy.

use crate::fixtures::*;
use crate::util::scratch;

#[test]
fn settings_file_changes_a_verdict() {
    let s = scratch!();
    s.write("api.yaml", BAD_DEPLOYMENT).write(
        "aksid-settings.yaml",
        "no-plaintext-secret-env:\n  allowedNames: [DB_PASSWORD]\n",
    );
    s.aksid(&["check", "-f", "api.yaml"]).code(1);
    s.aksid(&[
        "check",
        "-f",
        "api.yaml",
        "--settings",
        "aksid-settings.yaml",
    ])
    .code(0)
    .stdout_has("✓ 1 object · 4 policies · 0 rejected");
    // JSON settings work the same.
    s.write(
        "aksid-settings.json",
        r#"{"no-plaintext-secret-env": {"allowedNames": ["DB_PASSWORD"]}}"#,
    );
    s.aksid(&[
        "check",
        "-f",
        "api.yaml",
        "--settings",
        "aksid-settings.json",
    ])
    .code(0);
}

#[test]
fn unknown_settings_key_exits_2_naming_the_policy_and_the_key() {
    let s = scratch!();
    s.write("api.yaml", BAD_DEPLOYMENT).write(
        "aksid-settings.yaml",
        "no-plaintext-secret-env:\n  allowedNamez: [DB_PASSWORD]\n",
    );
    s.aksid(&[
        "check",
        "-f",
        "api.yaml",
        "--settings",
        "aksid-settings.yaml",
    ])
    .code(2)
    .stdout_has("settings for no-plaintext-secret-env are invalid")
    .stdout_has("allowedNamez")
    .stdout_has("kubectl aksid explain no-plaintext-secret-env");
}

#[test]
fn unknown_policy_id_exits_2() {
    let s = scratch!();
    s.write("api.yaml", BAD_DEPLOYMENT).write(
        "aksid-settings.yaml",
        "no-plaintext-secrets-env:\n  allowedNames: [DB_PASSWORD]\n",
    );
    s.aksid(&["check", "-f", "api.yaml", "--settings", "aksid-settings.yaml"])
            .code(2)
            .stdout_has("settings for unknown policy \"no-plaintext-secrets-env\"")
            .stdout_has("no-local-accounts, no-cluster-admin-users, workload-identity-labels, no-plaintext-secret-env");
}
