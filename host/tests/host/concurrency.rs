//! Many threads evaluating one policy at once get the verdicts one thread gets, even while
//! some of their evaluations trap.

use crate::util::*;
use aksid_host::{Error, ObjectSet};
use serde_json::json;

#[test]
fn threads_share_a_policy_and_agree() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let objects = ObjectSet::from_objects([json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "shop"}, "data": {"k": "v"},
    })])
    .unwrap();
    let cases: Vec<_> = ["echo", "reject", "mutate", "warn", "log", "get-configmap"]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let request = admission_request(pod(&format!("pod-{i}")));
            let settings = json!({"mode": m, "name": "settings"});
            let expected = policy.validate(&request, &settings, &objects).unwrap();
            (request, settings, expected)
        })
        .collect();

    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (policy, cases, objects) = (&policy, &cases, &objects);
            scope.spawn(move || {
                for i in 0..60 {
                    if (i + thread) % 15 == 0 {
                        let err = policy
                            .validate(&cases[0].0, &mode("trap"), objects)
                            .unwrap_err();
                        assert!(matches!(err, Error::Trap { .. }));
                        continue;
                    }
                    let (request, settings, expected) = &cases[(i + thread) % cases.len()];
                    let verdict = policy.validate(request, settings, objects).unwrap();
                    assert_eq!(&verdict, expected, "thread {thread}, iteration {i}");
                }
            });
        }
    });
}
