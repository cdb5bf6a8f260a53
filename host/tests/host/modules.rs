//! Tiny inline modules: loading checks (metadata, imports, exports) and hostile start-up and
//! memory behaviour, asserting the error kind.

use crate::util::*;
use aksid_host::{Error, ObjectSet, Trap};
use serde_json::json;

const ACCEPT: &str = r#"(module
    (import "wapc" "__guest_response" (func $response (param i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "{\"accepted\":true}")
    (func (export "__guest_call") (param i32 i32) (result i32)
        (call $response (i32.const 0) (i32.const 17))
        (i32.const 1)))"#;

fn validate(policy: &aksid_host::Policy) -> Result<aksid_host::Verdict, Error> {
    policy.validate(&admission_request(pod("p")), &json!({}), &ObjectSet::new())
}

#[test]
fn endless_wapc_init_times_out_at_load_and_the_host_goes_on() {
    let host = strict_host();
    let looping = wat_module(
        "endless-init",
        r#"(module
            (memory (export "memory") 1)
            (func (export "wapc_init") (loop $l (br $l)))
            (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let err = host.load(&looping).unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { operation, policy, .. } if *operation == "wapc_init" && policy == "endless-init"),
        "{err:?}"
    );
    assert_evaluates_normally(&hostile_policy(&host));
}

#[test]
fn memory_grow_loop_hits_the_memory_limit() {
    let host = strict_host();
    let grower = wat_module(
        "grower",
        r#"(module
            (memory (export "memory") 1)
            (func (export "__guest_call") (param i32 i32) (result i32)
                (loop $grow
                    (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
                unreachable))"#,
    );
    let policy = host.load(&grower).unwrap();
    let err = validate(&policy).unwrap_err();
    assert!(matches!(err, Error::MemoryLimit { .. }), "{err:?}");
    // The next evaluation gets a fresh instance, which fails the same way (not worse).
    assert!(matches!(
        validate(&policy).unwrap_err(),
        Error::MemoryLimit { .. }
    ));
}

#[test]
fn initial_memory_over_the_limit_fails_at_load() {
    let host = strict_host();
    // 1024 pages = 64 MiB > 32 MiB.
    let big = wat_module(
        "big",
        r#"(module (memory (export "memory") 1024)
            (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let err = host.load(&big).unwrap_err();
    assert!(matches!(err, Error::MemoryLimit { .. }), "{err:?}");
}

#[test]
fn accepting_module_evaluates() {
    let host = strict_host();
    let policy = host.load(&wat_module("accept", ACCEPT)).unwrap();
    assert!(validate(&policy).unwrap().accepted);
}

#[test]
fn missing_import_is_named() {
    let host = strict_host();
    let module = wat_module(
        "needs-env",
        r#"(module
            (import "env" "getenv" (func (param i32) (result i32)))
            (memory (export "memory") 1)
            (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let err = host.load(&module).unwrap_err();
    assert!(
        matches!(&err, Error::MissingImport { module, name, .. } if module == "env" && name == "getenv"),
        "{err:?}"
    );
    assert!(err.to_string().contains("`env::getenv`"), "{err}");
}

#[test]
fn missing_wapc_export_is_named() {
    let host = strict_host();
    let module = wat_module("no-call", r#"(module (memory (export "memory") 1))"#);
    let err = host.load(&module).unwrap_err();
    assert!(
        matches!(&err, Error::MissingExport { export, .. } if export == "__guest_call"),
        "{err:?}"
    );
}

#[test]
fn modules_without_usable_metadata_are_refused() {
    let host = strict_host();
    let bare = wat::parse_str(ACCEPT).unwrap();
    assert!(matches!(
        host.load(&bare).unwrap_err(),
        Error::MissingMetadata { .. }
    ));
    let err = host.load_named(&bare, "named").unwrap_err();
    assert_eq!(err.policy(), Some("named"));

    let metadata = aksid_metadata::Metadata::from_yaml(
        "rules: [{apiGroups: [''], apiVersions: [v1], resources: [pods], operations: [CREATE]}]\nmutating: false\n",
    )
    .unwrap();
    let unversioned = aksid_metadata::annotate(&bare, &metadata).unwrap();
    assert!(
        matches!(host.load(&unversioned).unwrap_err(), Error::UnsupportedProtocol { found, .. } if found == "missing")
    );
    let opa = aksid_metadata::Metadata {
        execution_mode: "opa".into(),
        ..metadata.with_protocol_version()
    };
    let opa = aksid_metadata::annotate(&bare, &opa).unwrap();
    assert!(matches!(
        host.load(&opa).unwrap_err(),
        Error::UnsupportedExecutionMode { .. }
    ));
    assert!(matches!(
        host.load(b"not wasm").unwrap_err(),
        Error::InvalidModule { .. }
    ));
}

#[test]
fn pointer_outside_memory_traps() {
    let host = strict_host();
    let module = wat_module(
        "bad-pointer",
        r#"(module
            (import "wapc" "__guest_response" (func $response (param i32 i32)))
            (memory (export "memory") 1)
            (func (export "__guest_call") (param i32 i32) (result i32)
                (call $response (i32.const 65530) (i32.const 100))
                (i32.const 1)))"#,
    );
    let policy = host.load(&module).unwrap();
    let err = validate(&policy).unwrap_err();
    match &err {
        Error::Trap {
            trap: None, reason, ..
        } => assert!(reason.contains("outside its memory"), "{reason}"),
        other => panic!("expected a host-raised trap, got {other:?}"),
    }
}

#[test]
fn oversized_response_is_refused_before_copying() {
    let host =
        aksid_host::Host::new(aksid_host::HostConfig::default().max_response_size(8)).unwrap();
    let policy = host.load(&wat_module("chatty", ACCEPT)).unwrap();
    let err = validate(&policy).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ResponseTooLarge {
                size: 17,
                limit: 8,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn oversized_request_is_refused_before_running() {
    let host =
        aksid_host::Host::new(aksid_host::HostConfig::default().max_request_size(64)).unwrap();
    let policy = host.load(&wat_module("small", ACCEPT)).unwrap();
    let err = validate(&policy).unwrap_err();
    assert!(
        matches!(err, Error::RequestTooLarge { limit: 64, .. }),
        "{err:?}"
    );
}

#[test]
fn guest_error_is_reported_with_its_message() {
    let host = strict_host();
    let module = wat_module(
        "erring",
        r#"(module
            (import "wapc" "__guest_error" (func $error (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "bad input")
            (func (export "__guest_call") (param i32 i32) (result i32)
                (call $error (i32.const 0) (i32.const 9))
                (i32.const 0)))"#,
    );
    let policy = host.load(&module).unwrap();
    let err = validate(&policy).unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy erring failed in `validate`: bad input"
    );
    assert!(matches!(err, Error::Guest { .. }));
}

#[test]
fn proc_exit_stops_the_guest() {
    let host = strict_host();
    let module = wat_module(
        "exiting",
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "__guest_call") (param i32 i32) (result i32)
                (call $exit (i32.const 3))
                (i32.const 1)))"#,
    );
    let policy = host.load(&module).unwrap();
    let err = validate(&policy).unwrap_err();
    assert!(
        matches!(&err, Error::Trap { trap: None, reason, .. } if reason.contains("proc_exit(3)")),
        "{err:?}"
    );
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap() {
    let host = strict_host();
    let module = wat_module(
        "recursive",
        r#"(module
            (memory (export "memory") 1)
            (func $f (export "__guest_call") (param i32 i32) (result i32)
                (call $f (local.get 0) (local.get 1))))"#,
    );
    let policy = host.load(&module).unwrap();
    let err = validate(&policy).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Trap {
                trap: Some(Trap::StackOverflow),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn typed_function_references_compile_as_newer_go_toolchains_emit_them() {
    // Go >= 1.26 emits the function-references proposal (`call_ref`, typed `ref` types);
    // policy-server enables it for that reason.
    let host = strict_host();
    let module = wat_module(
        "function-references",
        r#"(module
            (import "wapc" "__guest_response" (func $response (param i32 i32)))
            (type $answer (func (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "{\"accepted\":true}")
            (func $one (type $answer) (i32.const 1))
            (elem declare func $one)
            (func (export "__guest_call") (param i32 i32) (result i32)
                (call $response (i32.const 0) (i32.const 17))
                (call_ref $answer (ref.func $one))))"#,
    );
    let policy = host.load(&module).unwrap();
    assert!(validate(&policy).unwrap().accepted);
}
