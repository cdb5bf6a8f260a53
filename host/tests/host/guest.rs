//! The ordinary waPC paths through a real SDK guest: settings validation, verdict fields,
//! mutation patches, logs, and the kwctl-shaped AdmissionResponse.

use crate::util::*;
use aksid_host::{LogLevel, LogSource, ObjectSet};
use serde_json::{Value, json};

#[test]
fn settings_are_validated_by_the_guest() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let valid = policy.validate_settings(&mode("loop")).unwrap();
    assert!(valid.valid && valid.message.is_none(), "{valid:?}");
    assert!(
        policy.validate_settings(&Value::Null).unwrap().valid,
        "null means {{}}"
    );
    let invalid = policy.validate_settings(&mode("bogus")).unwrap();
    assert!(!invalid.valid);
    assert!(
        invalid
            .message
            .unwrap()
            .starts_with("unknown mode \"bogus\"")
    );
    // (A guest *error* from validate_settings, as the SDK returns for settings that do not
    // deserialise, is an invalid verdict too: see policies::aksid_policies_load_and_check_their_settings.)
}

#[test]
fn rejection_carries_message_and_code() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let verdict = policy
        .validate(
            &admission_request(pod("p")),
            &mode("reject"),
            &ObjectSet::new(),
        )
        .unwrap();
    assert!(!verdict.accepted);
    assert_eq!(verdict.message.as_deref(), Some("hostile-policy rejects"));
    assert_eq!(verdict.code, Some(418));
    assert_eq!(
        serde_json::to_string(&verdict.to_admission_response("u1")).unwrap(),
        r#"{"uid":"u1","allowed":false,"status":{"message":"hostile-policy rejects","code":418},"auditAnnotations":null,"warnings":null}"#
    );
}

#[test]
fn warnings_and_audit_annotations_are_returned() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let verdict = policy
        .validate(
            &admission_request(pod("p")),
            &mode("warn"),
            &ObjectSet::new(),
        )
        .unwrap();
    assert!(verdict.accepted);
    assert_eq!(verdict.warnings, ["hostile-policy warns"]);
    assert_eq!(verdict.audit_annotations["hostile"], "warned");
}

#[test]
fn mutation_is_a_json_patch_against_the_object() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let verdict = policy
        .validate(
            &admission_request(pod("p")),
            &mode("mutate"),
            &ObjectSet::new(),
        )
        .unwrap();
    assert!(verdict.accepted);
    assert_eq!(
        verdict.patch,
        Some(vec![
            json!({"op": "add", "path": "/metadata/labels/hostile", "value": "yes"})
        ])
    );
    let response = serde_json::to_value(verdict.to_admission_response("u")).unwrap();
    assert_eq!(response["patchType"], "JSONPatch");
}

#[test]
fn logs_become_records_not_output() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let verdict = policy
        .validate(
            &admission_request(pod("p")),
            &mode("log"),
            &ObjectSet::new(),
        )
        .unwrap();
    assert!(verdict.accepted);
    assert_eq!(verdict.logs.len(), 2, "{:?}", verdict.logs);
    let tracing = &verdict.logs[0];
    assert_eq!(
        (tracing.level, tracing.source, tracing.message.as_str()),
        (
            LogLevel::Warning,
            LogSource::Tracing,
            "hostile-policy says hi"
        )
    );
    assert_eq!(tracing.fields["mode"], "log");
    assert_eq!(verdict.logs[1].source, LogSource::Console);
    assert_eq!(verdict.logs[1].message, "console hello");
    assert!(verdict.output.stdout.is_empty());
}

#[test]
fn instances_are_reused_without_leaking_state_between_evaluations() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    for name in ["a", "b", "c"] {
        let request = admission_request(pod(name));
        let verdict = policy
            .validate(&request, &mode("log"), &ObjectSet::new())
            .unwrap();
        assert_eq!(verdict.logs.len(), 2, "logs of one evaluation only");
        let verdict = policy
            .validate(&request, &json!({}), &ObjectSet::new())
            .unwrap();
        let echoed: Value = serde_json::from_str(verdict.message.as_deref().unwrap()).unwrap();
        assert_eq!(echoed["object"]["metadata"]["name"], name);
    }
}
