//! Findings in `kube-system` are marked as what the cluster will not enforce (AKS keeps admission
//! webhooks, Kubewarden's included, out of it), in every format of `check`; the same finding in
//! another namespace is not.

use crate::fixtures::BAD_DEPLOYMENT;
use crate::util::{assert_same, lines_of, scratch};
use serde_json::Value;

const NOTE: &str = "(kube-system: AKS keeps admission webhooks, Kubewarden's included, out of \
                    kube-system, so the cluster will not enforce this; fix it at the source)";

#[test]
fn a_kube_system_finding_is_marked_not_enforced_in_every_format() {
    let s = scratch!();
    let system = BAD_DEPLOYMENT
        .replace("namespace: shop", "namespace: kube-system")
        .replace("name: api\n", "name: agent\n");
    let text = format!("{system}---\n{BAD_DEPLOYMENT}");
    let starts = lines_of(&text, "apiVersion:");
    s.write("two.yaml", &text);
    let [text, json, sarif, junit] = s.check_all_formats(&["-f", "two.yaml", "--no-exceptions"]);
    json.code(1);

    // Every policy's result on the object in kube-system is unenforced, accepted or not.
    let report = json.json();
    let enforced: Vec<(String, String, bool, bool)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["namespace"].as_str().unwrap().to_owned(),
                r["policy"].as_str().unwrap().to_owned(),
                r["allowed"].as_bool().unwrap(),
                r["enforced"].as_bool().unwrap(),
            )
        })
        .collect();
    let row = |n: &str, p: &str, a, e| (n.to_owned(), p.to_owned(), a, e);
    assert_same(
        "(namespace, policy, allowed, enforced) of each result",
        vec![
            row("kube-system", "no-plaintext-secret-env", false, false),
            row("kube-system", "workload-identity-labels", true, false),
            row("shop", "no-plaintext-secret-env", false, true),
            row("shop", "workload-identity-labels", true, true),
        ],
        enforced,
    );

    let system_block = format!("  line {}  Deployment kube-system/agent\n", starts[0]);
    let shop_block = format!("  line {}  Deployment shop/api\n", starts[1]);
    let after = |needle: &str| text.stdout.split(needle).nth(1).map(str::to_owned);
    let system_part = after(&system_block)
        .unwrap_or_else(|| text.fail("the kube-system object", &system_block, None));
    let system_part = system_part.split("  line ").next().unwrap();
    assert!(
        system_part.contains(NOTE),
        "kube-system rejection without the note:\n{}",
        text.stdout
    );
    let shop_part =
        after(&shop_block).unwrap_or_else(|| text.fail("the shop object", &shop_block, None));
    assert!(
        !shop_part.contains("will not enforce"),
        "note under the shop rejection:\n{}",
        text.stdout
    );
    assert_eq!(
        text.stdout.matches("will not enforce").count(),
        1,
        "{}",
        text.stdout
    );

    let log: Value = serde_json::from_str(&sarif.stdout).unwrap();
    let marks: Vec<(String, Value, bool)> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                r["properties"]["enforced"].clone(),
                r["message"]["text"].as_str().unwrap().contains(NOTE),
            )
        })
        .collect();
    assert_same(
        "SARIF (object, properties.enforced, note in the message)",
        vec![
            (
                "kube-system/Deployment/agent".to_owned(),
                Value::Bool(false),
                true,
            ),
            ("shop/Deployment/api".to_owned(), Value::Null, false),
        ],
        marks,
    );

    let case = |label: &str| {
        junit
            .stdout
            .split("<testcase ")
            .find(|c| c.contains(label))
            .unwrap_or_else(|| junit.fail("a test case", label, None))
            .to_owned()
    };
    let system_case = case("Deployment kube-system/agent");
    assert!(
        system_case.contains("<property name=\"enforced\" value=\"false\"/>")
            && system_case.contains("will not enforce this"),
        "{system_case}"
    );
    assert!(
        !case("Deployment shop/api").contains("enforce"),
        "{}",
        junit.stdout
    );
}
