//! All objects of a run are the cluster context-aware policies see, across files.

use crate::util::{results, scratch};

const SERVICE_ACCOUNT: &str = "\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: orders
  namespace: shop
  annotations:
    azure.workload.identity/client-id: 0f3a5b7c-1d2e-4f60-8a9b-cdef01234567
";

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: orders
  namespace: shop
spec:
  serviceAccountName: orders
  containers:
    - name: app
      image: contoso.azurecr.io/orders:1.0
";

#[test]
fn pod_is_judged_with_its_service_account_from_another_file() {
    let s = scratch!();
    s.write("identity/sa.yaml", SERVICE_ACCOUNT)
        .write("workloads/pod.yaml", POD);
    s.aksid(&["check", "-f", "identity", "-f", "workloads"])
            .code(1)
            .stdout_has("workloads/pod.yaml\n  line 1  Pod shop/orders\n    ✗ rejected by workload-identity-labels")
            .stdout_has("ServiceAccount shop/orders, which has azure.workload.identity/client-id")
            .stdout_has("azure.workload.identity/use");
    // With the label the same pair is accepted.
    let labelled = POD.replace(
        "  namespace: shop\n",
        "  namespace: shop\n  labels:\n    azure.workload.identity/use: \"true\"\n",
    );
    s.write("workloads/pod.yaml", labelled);
    s.aksid(&["check", "-f", "identity", "-f", "workloads"])
        .code(0);
}

#[test]
fn pod_without_its_service_account_is_accepted() {
    let s = scratch!();
    s.write("workloads/pod.yaml", POD);
    let run = s.aksid(&["check", "-f", "workloads/pod.yaml", "-o", "json"]);
    run.code(0);
    let report = run.json();
    let verdicts: Vec<bool> = results(&report, "workloads/pod.yaml", "workload-identity-labels")
        .iter()
        .map(|r| r["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(verdicts, [true], "{report:#}");
}
