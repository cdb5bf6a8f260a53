//! `-o json`: the documented schema (version 1) for a known fixture.

use crate::fixtures::*;
use crate::util::{assert_same, lines_of, scratch};
use serde_json::json;

#[test]
fn documented_fields_of_a_known_fixture() {
    let s = scratch!();
    let api = BAD_DEPLOYMENT.replace("  namespace: shop\n", "");
    let text = format!(
        "# the web tier\n{api}---\n{GROUP_CLUSTER_ADMIN}---\napiVersion: v1\nmetadata:\n  name: kindless\n"
    );
    let starts = lines_of(&text, "apiVersion:");
    s.write("apps/web.yaml", &text);
    let run = s.aksid(&[
        "check",
        "-f",
        "apps/web.yaml",
        "-o",
        "json",
        "--namespace",
        "team-a",
    ]);
    run.code(2);
    let report = run.json();
    assert_same("version", 1, report["version"].as_u64().unwrap());

    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let results = report["results"].as_array().unwrap();
    for r in results {
        assert_same(
            "the fields of every result",
            [
                "allowed",
                "apiVersion",
                "document",
                "enforced",
                "exception",
                "file",
                "kind",
                "line",
                "message",
                "name",
                "namespace",
                "policy",
                "thirdParty",
                "warnings",
            ],
            keys(r),
        );
    }
    let rejection = results
        .iter()
        .find(|r| r["allowed"] == false)
        .expect("a rejection");
    let message = rejection["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains("env[DB_PASSWORD]") && !message.contains("S3cr3t"),
        "{message}"
    );
    let mut expected = json!({
        "file": "apps/web.yaml", "line": starts[0], "document": 1,
        "apiVersion": "apps/v1", "kind": "Deployment",
        "namespace": "team-a", "name": "api",
        "policy": "no-plaintext-secret-env", "allowed": false,
        "message": message, "warnings": [], "exception": null, "enforced": true,
        "thirdParty": false,
    });
    assert_same("the rejection", &expected, rejection);
    let binding = results
        .iter()
        .find(|r| r["policy"] == "no-cluster-admin-users")
        .expect("the binding's no-cluster-admin-users result");
    expected = json!({
        "file": "apps/web.yaml", "line": starts[1], "document": 2,
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "namespace": null, "name": "platform-admins",
        "policy": "no-cluster-admin-users", "allowed": true,
        "message": null, "warnings": [], "exception": null, "enforced": true,
        "thirdParty": false,
    });
    assert_same("a cluster-scoped acceptance", &expected, binding);

    assert_same(
        "errors",
        json!([{
            "file": "apps/web.yaml", "document": 3, "line": starts[2], "field": "kind",
            "kind": "missingField", "message": "object has no kind",
            "policy": null, "object": null,
        }]),
        &report["errors"],
    );
    assert_same("notices", json!([]), &report["notices"]);
    assert_same(
        "exceptions",
        json!({"used": [], "expired": []}),
        &report["exceptions"],
    );
    assert_same(
        "files",
        json!([{"file": "apps/web.yaml", "objects": 2, "notSelected": 0}]),
        &report["files"],
    );
    // The Deployment is judged by two policies, the binding by two.
    let policy = |id: &str, evaluations: u32, rejected: u32| json!({"id": id, "evaluations": evaluations, "rejected": rejected, "excepted": 0, "errors": 0});
    assert_same(
        "summary",
        json!({
            "files": 1, "objects": 2, "evaluations": 4, "rejected": 1, "accepted": 3,
            "errors": 1, "excepted": 0, "warnings": 0, "notices": 0,
            "policies": [
                policy("no-cluster-admin-users", 1, 0),
                policy("no-local-accounts", 1, 0),
                policy("no-plaintext-secret-env", 1, 1),
                policy("workload-identity-labels", 1, 0),
            ],
        }),
        &report["summary"],
    );
}
