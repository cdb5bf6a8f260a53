//! `.aksid.yaml` exceptions, found at the repository root above the checked paths.

use crate::fixtures::*;
use crate::util::{Scratch, assert_same, scratch, utc_date};
use serde_json::json;
use std::process::Command;

/// A git repository with the rejected Deployment in `apps/` and `.aksid.yaml` at its root.
fn repository(s: &Scratch, root: &str, expires: &str) {
    s.mkdir(root);
    let status = Command::new("git")
        .args(["init", "-q", root])
        .current_dir(&s.dir)
        .status()
        .expect("git is installed (tests/support/install-test-tools.sh)");
    assert!(status.success());
    s.write(&format!("{root}/apps/api.yaml"), BAD_DEPLOYMENT).write(
            &format!("{root}/.aksid.yaml"),
            format!(
                "exceptions:\n  - policy: no-plaintext-secret-env\n    match:\n      name: api\n      file: \"apps/*.yaml\"\n    reason: Vendor chart; tracked in JIRA-123\n    expires: {expires}\n"
            ),
        );
}

#[test]
fn exception_at_the_repository_root_accepts_the_matching_rejection() {
    let s = scratch!();
    let tomorrow = utc_date(1);
    repository(&s, "repo", &tomorrow);
    s.aksid_in("repo", &["check", "-f", "apps/"], None)
        .code(0)
        .stdout_has(
            "✓ no-plaintext-secret-env allowed by exception #1 (Vendor chart; tracked in JIRA-123)",
        )
        .stdout_has("exception #1 (Vendor chart; tracked in JIRA-123) applied to 1 rejection");
    let run = s.aksid_in("repo", &["check", "-f", "apps/", "-o", "json"], None);
    let report = run.code(0).json();
    let finding = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["policy"] == "no-plaintext-secret-env")
        .unwrap();
    assert_same(
        "the finding",
        (
            true,
            json!({"id": 1, "reason": "Vendor chart; tracked in JIRA-123", "expires": tomorrow}),
        ),
        (
            finding["allowed"].as_bool().unwrap(),
            finding["exception"].clone(),
        ),
    );
    let used = &report["exceptions"]["used"];
    assert_same(
        "used exceptions: (id, policy, matched)",
        json!([[1, "no-plaintext-secret-env", 1]]),
        json!(
            used.as_array()
                .unwrap()
                .iter()
                .map(|u| json!([u["id"], u["policy"], u["matched"]]))
                .collect::<Vec<_>>()
        ),
    );
    assert!(
        used[0]["origin"].as_str().unwrap().ends_with(".aksid.yaml"),
        "{used:#}"
    );
    assert_same(
        "excepted",
        1,
        report["summary"]["excepted"].as_u64().unwrap(),
    );
    // From the repository's parent too: the search starts at the checked path.
    s.aksid(&["check", "-f", "repo/apps/api.yaml"]).code(0);
}

#[test]
fn expired_exception_does_not_apply_and_is_reported_expired() {
    let s = scratch!();
    let yesterday = utc_date(-1);
    repository(&s, "repo", &yesterday);
    s.aksid_in("repo", &["check", "-f", "apps/"], None)
            .code(1)
            .stdout_has("✗ rejected by no-plaintext-secret-env")
            .stdout_has(&format!("exception #1 (Vendor chart; tracked in JIRA-123) expired on {yesterday} and no longer applies (1 rejection)"));
    let report = s
        .aksid_in("repo", &["check", "-f", "apps/", "-o", "json"], None)
        .json();
    assert_same("used", json!([]), &report["exceptions"]["used"]);
    let expired = &report["exceptions"]["expired"];
    assert_same(
        "expired: (id, expires, matched)",
        json!([[1, yesterday, 1]]),
        json!(
            expired
                .as_array()
                .unwrap()
                .iter()
                .map(|u| json!([u["id"], u["expires"], u["matched"]]))
                .collect::<Vec<_>>()
        ),
    );
    // Expiring today still applies: `expires` is the last day.
    repository(&s, "today", &utc_date(0));
    s.aksid_in("today", &["check", "-f", "apps/"], None).code(0);
}

#[test]
fn no_exceptions_ignores_the_file() {
    let s = scratch!();
    repository(&s, "repo", &utc_date(30));
    let run = s.aksid_in("repo", &["check", "-f", "apps/", "--no-exceptions"], None);
    run.code(1)
        .stdout_has("✗ rejected by no-plaintext-secret-env")
        .stdout_lacks("exception #1");
    let report = s
        .aksid_in(
            "repo",
            &["check", "-f", "apps/", "--no-exceptions", "-o", "json"],
            None,
        )
        .json();
    assert_same(
        "exceptions",
        json!({"used": [], "expired": []}),
        &report["exceptions"],
    );
}

#[test]
fn exceptions_above_the_repository_root_are_not_used() {
    let s = scratch!();
    repository(&s, "outer/repo", &utc_date(30));
    std::fs::rename(
        s.dir.join("outer/repo/.aksid.yaml"),
        s.dir.join("outer/.aksid.yaml"),
    )
    .unwrap();
    s.aksid_in("outer/repo", &["check", "-f", "apps/"], None)
        .code(1)
        .stdout_lacks("exception #1");
}
