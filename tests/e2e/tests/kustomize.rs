//! End-to-end tests of repositories laid out for kustomize (issue 10, point 1): a walked
//! kustomization and its patch files are notices, never errors or findings; `--kustomize`
//! renders with the installed `kubectl kustomize` and names each resource's own file.

use aksid_tests::Scratch;
use serde_json::Value;

const SUITE: &str = "kustomize";

/// ingress-nginx's `deploy/static/provider/cloud/` layout: a kustomization without `kind`, the
/// rendered manifest it names, and patches in all three forms kustomize accepts.
fn ingress_nginx_layout(s: &Scratch) {
    s.write(
        "cloud/kustomization.yaml",
        "resources:\n- deploy.yaml\npatches:\n- path: service-patch.yaml\npatchesStrategicMerge:\n- controller-patch.yaml\npatchesJson6902:\n- path: args-patch.yaml\n  target: {kind: Deployment, name: ingress-nginx-controller}\n",
    )
    .write(
        "cloud/deploy.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ingress-nginx\n  namespace: ingress-nginx\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ingress-nginx-controller\n  namespace: ingress-nginx\nspec:\n  selector: {matchLabels: {app: ingress-nginx}}\n  template:\n    metadata: {labels: {app: ingress-nginx}}\n    spec:\n      serviceAccountName: ingress-nginx\n      containers:\n      - name: controller\n        image: registry.k8s.io/ingress-nginx/controller:v1.12.0\n        env:\n        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n",
    )
    // A strategic-merge patch looks like an object but holds only what it changes; judged as
    // a whole object it would be a false finding or an error.
    .write(
        "cloud/controller-patch.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ingress-nginx-controller\n  namespace: ingress-nginx\nspec:\n  template:\n    spec:\n      containers:\n      - name: controller\n        env:\n        - {name: DB_PASSWORD, value: placeholder-in-a-patch}\n",
    )
    .write(
        "cloud/service-patch.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: ingress-nginx-controller\n  namespace: ingress-nginx\nspec:\n  externalTrafficPolicy: Local\n",
    )
    .write(
        "cloud/args-patch.yaml",
        "- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: --enable-metrics\n",
    );
}

#[test]
fn a_kustomize_directory_as_ingress_nginx_lays_it_out_exits_0_with_notices_only() {
    let s = Scratch::new(SUITE, "ingress-nginx");
    ingress_nginx_layout(&s);
    let run = s.aksid(&["check", "-f", "cloud", "-o", "json"]);
    run.code(0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "{run}");
    assert_eq!(report["summary"]["objects"], 2, "{run}");
    let notices: Vec<(String, String)> = report["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["file"].as_str().unwrap().to_owned(),
                n["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for file in [
        "args-patch.yaml",
        "controller-patch.yaml",
        "kustomization.yaml",
        "service-patch.yaml",
    ] {
        assert!(
            notices
                .iter()
                .any(|(f, k)| f == &format!("cloud/{file}") && k == "notAResource"),
            "cloud/{file} is a notice: {notices:?}"
        );
    }
}

#[test]
fn a_file_named_with_f_that_is_no_object_is_still_an_error() {
    let s = Scratch::new(SUITE, "named");
    ingress_nginx_layout(&s);
    s.aksid(&["check", "-f", "cloud/kustomization.yaml"])
        .code(2);
}

/// A base with a Deployment holding a literal password, and an overlay patching it.
fn base_and_overlay(s: &Scratch) {
    s.write("base/kustomization.yaml", "resources: [deploy.yaml]\n")
        .write(
            "base/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: contoso.azurecr.io/web:1.0\n        env:\n        - {name: DB_PASSWORD, value: hunter2}\n",
        )
        .write(
            "overlay/kustomization.yaml",
            "resources: [../base]\npatches:\n- path: replicas.yaml\n",
        )
        .write(
            "overlay/replicas.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 3\n",
        );
}

#[test]
fn kustomize_renders_and_gives_one_finding_per_object_in_the_resource_file() {
    let s = Scratch::new(SUITE, "render");
    base_and_overlay(&s);
    let run = s.aksid(&["check", "-f", "overlay", "--kustomize", "-o", "json"]);
    run.code(1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let rejected: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["allowed"] == false)
        .collect();
    assert_eq!(rejected.len(), 1, "{run}");
    assert_eq!(rejected[0]["policy"], "no-plaintext-secret-env");
    assert_eq!(rejected[0]["file"], "base/deploy.yaml", "{run}");
    assert_eq!(report["summary"]["objects"], 1, "{run}");
    assert!(!run.stdout.contains("hunter2"), "the value never appears");
    assert!(!run.stdout.contains("config.kubernetes.io/origin"), "{run}");
}

#[test]
fn a_failing_kustomization_is_an_error_that_quotes_nothing_of_it() {
    let s = Scratch::new(SUITE, "failing");
    s.write("broken/kustomization.yaml", "resources: [missing.yaml]\n")
        .write("broken/other.yaml", "password: hunter2-in-the-tree\n");
    let run = s.aksid(&["check", "-f", "broken", "--kustomize", "-o", "json"]);
    run.code(2);
    assert!(run.stdout.contains("kubectl kustomize failed"), "{run}");
    assert!(
        run.stdout
            .contains("run `kubectl kustomize broken` to see why"),
        "{run}"
    );
    assert!(
        !run.stdout.contains("missing.yaml") && !run.stdout.contains("hunter2"),
        "{run}"
    );
}

/// JSON 6902 patch lists that no kustomization names (kept for a `kubectl patch --type json`,
/// or for an overlay elsewhere), in a .json and a .yaml file: notices when walked, the
/// "neither apiVersion nor kind" error when named with -f.
#[test]
fn unnamed_json_patch_lists_are_notices_when_walked_and_errors_when_named() {
    let s = Scratch::new(SUITE, "json-patches");
    s.write(
        "app/deploy.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n  namespace: shop\n",
    )
    .write(
        "app/ops/scale.json",
        "[{\"op\":\"add\",\"path\":\"/x\",\"value\":1}]\n",
    )
    .write(
        "app/ops/args.yaml",
        "- op: replace\n  path: /spec/replicas\n  value: 3\n- op: remove\n  path: /spec/paused\n",
    );
    let run = s.aksid(&["check", "-f", "app", "-o", "json"]);
    run.code(0);
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]), "{run}");
    assert_eq!(report["summary"]["objects"], 1, "{run}");
    let notices: Vec<(String, String, String)> = report["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let text = |k: &str| n[k].as_str().unwrap().to_owned();
            (text("file"), text("kind"), text("message"))
        })
        .collect();
    let notice = |file: &str| {
        (
            file.to_owned(),
            "notAResource".to_owned(),
            "a JSON 6902 patch, not a Kubernetes object; skipped".to_owned(),
        )
    };
    assert_eq!(
        notices,
        vec![notice("app/ops/args.yaml"), notice("app/ops/scale.json")],
        "{run}"
    );
    for named in ["app/ops/scale.json", "app/ops/args.yaml"] {
        s.aksid(&["check", "-f", named])
            .code(2)
            .stdout_has("object has neither apiVersion nor kind");
    }
}
