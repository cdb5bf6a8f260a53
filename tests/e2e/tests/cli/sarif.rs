//! `-o sarif`: valid against the official SARIF 2.1.0 schema (vendored at
//! `tests/schemas/sarif-schema-2.1.0.json`) and usable by GitHub code scanning.

use crate::fixtures::*;
use crate::util::{assert_same, python, scratch, workspace};
use serde_json::Value;
use std::ffi::OsStr;

/// Validates each instance with the validator the schema's `$schema` names (draft 7), format
/// checks on (`uri`, `uri-reference`, ... need `jsonschema[format-nongpl]`), after checking
/// the schema itself, whose `pattern`s must all compile with Python's `re`: the `language`
/// pattern `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$` has a stray `]`, which `re` reads as a
/// literal, so the schema is used unpatched.
pub(crate) const VALIDATE: &str = r#"
import json, re, sys
import jsonschema
schema = json.load(open(sys.argv[1], encoding="utf-8"))
def patterns(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            yield from patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from patterns(value)
compiled = [re.compile(p) for p in patterns(schema)]
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
errors = {}
for path in sys.argv[2:]:
    instance = json.load(open(path, encoding="utf-8"))
    errors[path] = ["/" + "/".join(map(str, e.absolute_path)) + ": " + e.message[:200]
                    for e in validator.iter_errors(instance)]
print(json.dumps({"validator": cls.__name__, "patterns": len(compiled),
                  "formats": sorted(cls.FORMAT_CHECKER.checkers), "errors": errors}))
"#;

#[test]
fn validates_against_the_official_schema_with_code_scanning_essentials() {
    let s = scratch!();
    s.write("apps/api.yaml", BAD_DEPLOYMENT)
            .write("apps/my app.yaml", GOOD_DEPLOYMENT)
            .write("rbac/bindings.yaml", format!("{GROUP_CLUSTER_ADMIN}---\n{USER_CLUSTER_ADMIN}"))
            .write("broken.yaml", MALFORMED)
            .write("empty.yaml", "")
            // An accepted exception: a suppressed result.
            .write(
                "exceptions.yaml",
                "exceptions:\n- policy: no-cluster-admin-users\n  match: {name: bob-cluster-admin}\n  reason: break-glass account, JIRA-7\n",
            );
    s.write(
        "apps/wi.yaml",
        BAD_DEPLOYMENT.replace("name: api", "name: api2").replace(
            "labels: {app: api}",
            "labels: {app: api, aadpodidbinding: api}",
        ),
    );
    let args = [
        "check",
        "-f",
        "apps",
        "-f",
        "rbac",
        "-f",
        "broken.yaml",
        "-f",
        "empty.yaml",
        "--exceptions",
        "exceptions.yaml",
    ];
    let sarif_run = s.aksid(&[&args[..], &["-o", "sarif"]].concat());
    sarif_run.code(2);
    let json_run = s.aksid(&[&args[..], &["-o", "json"]].concat());
    s.write("aksid.sarif", &sarif_run.stdout);
    let sarif = sarif_run.json();

    // A broken copy proves the validator does reject: no tool name, a line 0.
    let mut broken = sarif.clone();
    broken["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    s.write("broken.sarif", serde_json::to_string(&broken).unwrap());

    let schema = workspace().join("tests/schemas/sarif-schema-2.1.0.json");
    let out = python(
        &s.dir,
        VALIDATE,
        &[
            schema.as_os_str(),
            OsStr::new("aksid.sarif"),
            OsStr::new("broken.sarif"),
        ],
    );
    let verdict: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_same(
        "the validator the schema selects",
        "Draft7Validator",
        verdict["validator"].as_str().unwrap(),
    );
    let formats: Vec<&str> = verdict["formats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        formats.contains(&"uri") && formats.contains(&"uri-reference"),
        "format checks missing: {formats:?}; run tests/support/install-test-tools.sh"
    );
    assert!(verdict["patterns"].as_u64().unwrap() > 10, "{verdict}");
    assert_same(
        "schema violations of aksid's SARIF",
        Vec::<String>::new(),
        serde_json::from_value::<Vec<String>>(verdict["errors"]["aksid.sarif"].clone()).unwrap(),
    );
    let control = verdict["errors"]["broken.sarif"].as_array().unwrap();
    assert!(
        control.len() >= 2,
        "the validator accepted a broken log: {control:?}"
    );

    // GitHub code scanning's essentials.
    assert_same("version", "2.1.0", sarif["version"].as_str().unwrap());
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = rule_ids.clone();
    sorted.sort();
    assert_same(
        "one rule per policy",
        vec![
            "no-cluster-admin-users",
            "no-local-accounts",
            "no-plaintext-secret-env",
            "workload-identity-labels",
        ],
        sorted,
    );
    for rule in rules {
        assert!(
            rule["shortDescription"]["text"].is_string() && rule["help"]["text"].is_string(),
            "{rule:#}"
        );
    }
    let report = json_run.json();
    let results = run["results"].as_array().unwrap();
    let mut located = Vec::new();
    for result in results {
        let rule_id = result["ruleId"]
            .as_str()
            .unwrap_or_else(|| panic!("no ruleId: {result:#}"));
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_same("the rule at ruleIndex", rule_id, rule_ids[index]);
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        assert!(
            !uri.starts_with('/') && !uri.contains(':'),
            "not a relative path: {uri}"
        );
        let line = location["region"]["startLine"].as_u64().unwrap();
        assert!(line >= 1, "{result:#}");
        let suppressed = result.get("suppressions").is_some();
        located.push((uri.to_owned(), line, rule_id.to_owned(), suppressed));
    }
    located.sort();
    // What the JSON report rejected (or excepted), located the same way.
    let mut expected: Vec<(String, u64, String, bool)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["allowed"] == false || !r["exception"].is_null())
        .map(|r| {
            let uri = r["file"].as_str().unwrap().replace(' ', "%20");
            (
                uri,
                r["line"].as_u64().unwrap(),
                r["policy"].as_str().unwrap().to_owned(),
                !r["exception"].is_null(),
            )
        })
        .collect();
    expected.sort();
    assert_same(
        "SARIF results: (uri, startLine, ruleId, suppressed)",
        &expected,
        &located,
    );
    assert_same(
        "the fixture's findings",
        vec![
            (
                "apps/api.yaml".to_owned(),
                1,
                "no-plaintext-secret-env".to_owned(),
                false,
            ),
            (
                "apps/wi.yaml".to_owned(),
                1,
                "no-plaintext-secret-env".to_owned(),
                false,
            ),
            (
                "apps/wi.yaml".to_owned(),
                1,
                "workload-identity-labels".to_owned(),
                false,
            ),
            (
                "rbac/bindings.yaml".to_owned(),
                GROUP_CLUSTER_ADMIN.lines().count() as u64 + 2,
                "no-cluster-admin-users".to_owned(),
                true,
            ),
        ],
        &located,
    );
    // The input error is a tool execution notification, and the run is marked failed.
    let invocation = &run["invocations"][0];
    assert_same(
        "executionSuccessful",
        false,
        invocation["executionSuccessful"].as_bool().unwrap(),
    );
    let notifications: Vec<(&str, &str)> = invocation["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["level"].as_str().unwrap(),
                n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    assert_same(
        "notifications",
        vec![("error", "broken.yaml"), ("note", "empty.yaml")],
        notifications,
    );
}
