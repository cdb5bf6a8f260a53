//! The hostile guest's modes: each yields its own clear error within the limits, and the same
//! policy then evaluates a normal request correctly.

use crate::util::*;
use aksid_host::{Error, Trap};
use std::time::{Duration, Instant};

#[test]
fn endless_loop_times_out_in_about_the_configured_time() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let started = Instant::now();
    let err = validate_in_mode(&policy, "loop").unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(&err, Error::Timeout { operation, timeout, .. } if *operation == "validate" && *timeout == Duration::from_millis(200)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "policy hostile-policy timed out after 200ms in `validate`"
    );
    assert!(
        elapsed >= Duration::from_millis(150) && elapsed < Duration::from_millis(1500),
        "interrupted after {elapsed:?}"
    );
    assert_evaluates_normally(&policy);
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let err = validate_in_mode(&policy, "alloc").unwrap_err();
    assert!(
        matches!(&err, Error::MemoryLimit { limit, .. } if *limit == 32 << 20),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "policy hostile-policy exceeded its memory limit of 33554432 bytes in `validate`"
    );
    assert_evaluates_normally(&policy);
}

#[test]
fn panic_is_a_trap_with_the_guest_message() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let err = validate_in_mode(&policy, "trap").unwrap_err();
    match &err {
        Error::Trap {
            trap,
            guest_message,
            ..
        } => {
            assert_eq!(*trap, Some(Trap::UnreachableCodeReached));
            let message = guest_message.as_deref().unwrap_or_default();
            assert!(
                message.contains("deliberate panic in trap mode"),
                "{message}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("policy hostile-policy trapped in `validate`"),
        "{err}"
    );
    assert_evaluates_normally(&policy);
}

#[test]
fn unreachable_is_a_trap_of_that_kind() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let err = validate_in_mode(&policy, "unreachable").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Trap {
                trap: Some(Trap::UnreachableCodeReached),
                ..
            }
        ),
        "{err:?}"
    );
    assert_evaluates_normally(&policy);
}

#[test]
fn stdout_flood_is_captured_and_bounded() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let verdict = validate_in_mode(&policy, "stdout").unwrap();
    assert!(verdict.accepted);
    assert_eq!(verdict.output.stdout.len(), 64 << 10);
    assert_eq!(verdict.output.stderr.len(), 64 << 10);
    assert_eq!(verdict.output.dropped_bytes, 2 * (4096 * 1024 - (64 << 10)));
    assert_evaluates_normally(&policy);
}

const CHILD_ENV: &str = "AKSID_HOST_TEST_STDOUT_CHILD";

/// Run by `stdout_flood_never_reaches_the_process_stdout` in a child process; a no-op otherwise.
#[test]
fn stdout_flood_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let host = strict_host();
    let policy = hostile_policy(&host);
    let verdict = validate_in_mode(&policy, "stdout").unwrap();
    assert!(verdict.accepted);
    println!("CHILD-DONE");
}

#[test]
fn stdout_flood_never_reaches_the_process_stdout() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hostile::stdout_flood_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child failed:\n```\n{stdout}\n```\n```\n{stderr}\n```"
    );
    assert!(
        stdout.contains("CHILD-DONE"),
        "the child did not run the scenario:\n```\n{stdout}\n```"
    );
    assert!(
        !stdout.contains("xxxxxxxx") && !stderr.contains("xxxxxxxx"),
        "guest output leaked into the process streams ({} bytes of stdout)",
        stdout.len()
    );
    assert!(
        stdout.len() < 4096,
        "unexpected stdout:\n```\n{stdout}\n```"
    );
}

#[test]
fn unknown_capability_error_names_it() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let err = validate_in_mode(&policy, "unknown-capability").unwrap_err();
    match &err {
        Error::HostCapability {
            capability,
            message,
            guest_message,
            ..
        } => {
            assert_eq!(capability, "nonsense/op");
            assert!(
                message.contains("unknown host capability 'nonsense/op'"),
                "{message}"
            );
            assert!(
                guest_message
                    .as_deref()
                    .unwrap_or_default()
                    .contains("nonsense/op")
            );
        }
        other => panic!("expected a host capability error, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with(
            "policy hostile-policy failed in `validate` after the host refused `nonsense/op`: unknown host capability 'nonsense/op'"
        ),
        "{err}"
    );
    assert_evaluates_normally(&policy);
}

#[test]
fn undeclared_kind_is_refused_with_kubewarden_wording() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let err = validate_in_mode(&policy, "undeclared-kind").unwrap_err();
    match &err {
        Error::HostCapability {
            capability,
            message,
            ..
        } => {
            assert_eq!(capability, "kubernetes/get_resource");
            assert!(
                message.starts_with(
                    "Policy has not been granted access to Kubernetes v1/Secret resources"
                ) && message.contains("contextAwareResources"),
                "{message}"
            );
        }
        other => panic!("expected a host capability error, got {other:?}"),
    }
    assert_evaluates_normally(&policy);
}

#[test]
fn each_failure_leaves_the_host_usable_in_sequence() {
    // One policy, every hostile mode in a row, then a normal request.
    let host = strict_host();
    let policy = hostile_policy(&host);
    for hostile in [
        "loop",
        "alloc",
        "trap",
        "unreachable",
        "unknown-capability",
        "undeclared-kind",
    ] {
        assert!(
            validate_in_mode(&policy, hostile).is_err(),
            "{hostile} must fail"
        );
        assert_evaluates_normally(&policy);
    }
}
