//! The limits on what a guest makes the host hold and on a whole run: the host-held share of
//! the memory budget, messages cut to size, idle instances dropped when they grew, module size,
//! compile time and the run deadline.

use crate::util::*;
use aksid_host::{Error, Host, HostConfig, Policy};
use serde_json::json;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

/// A host with a memory limit of 32 MiB and a timeout long enough that only the memory
/// budget can stop a flood.
fn budget_host() -> Host {
    Host::new(
        HostConfig::default()
            .timeout(Duration::from_secs(10))
            .memory_limit(32 * MIB),
    )
    .unwrap()
}

#[test]
fn host_call_flood_ends_at_the_memory_limit() {
    let host = budget_host();
    let policy = hostile_policy(&host);
    let err = validate_in_mode(&policy, "host-call-flood").unwrap_err();
    let Error::HostMemoryLimit {
        what, size, limit, ..
    } = &err
    else {
        panic!("expected a host memory limit error, got {err:?}");
    };
    assert_eq!(*what, "refused host calls");
    assert_eq!(*limit, 32 * MIB);
    // The flood is stopped by the refusal that overflows: one bounded record past the limit.
    assert!(
        *size > *limit && *size - *limit < 16 << 10,
        "stopped at {size} bytes"
    );
    assert!(
        err.to_string().starts_with(
            "policy hostile-policy exceeded its memory limit of 33554432 bytes in `validate`: \
             refused host calls would have brought"
        ),
        "{err}"
    );
    assert_evaluates_normally(&policy);
}

const FLOOD_CHILD_ENV: &str = "AKSID_HOST_TEST_FLOOD_CHILD";

/// Peak resident memory of this process (`VmHWM`), in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib << 10
}

/// Run by `host_call_flood_peak_memory_stays_under_the_limit` in a child process (a fresh
/// peak RSS); a no-op otherwise.
#[test]
fn host_call_flood_child() {
    if std::env::var_os(FLOOD_CHILD_ENV).is_none() {
        return;
    }
    let host = budget_host();
    let policy = hostile_policy(&host);
    assert_evaluates_normally(&policy);
    let before = peak_rss();
    let err = validate_in_mode(&policy, "host-call-flood").unwrap_err();
    assert!(matches!(err, Error::HostMemoryLimit { .. }), "{err:?}");
    println!("PEAK-RSS {before} {}", peak_rss());
}

#[test]
fn host_call_flood_peak_memory_stays_under_the_limit() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "limits::host_call_flood_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FLOOD_CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("PEAK-RSS ").map(|(_, numbers)| numbers))
        .unwrap_or_else(|| panic!("the child did not report its peak:\n{stdout}"));
    let numbers: Vec<usize> = line.split(' ').map(|n| n.parse().unwrap()).collect();
    let growth = numbers[1].saturating_sub(numbers[0]);
    // The host holds at most the 32 MiB budget (less the guest's memory, which grows by its
    // 1 MiB payload); 16 MiB more covers allocator slack.
    assert!(
        growth < 48 * MIB,
        "the flood grew the peak RSS by {} MiB",
        growth / MIB
    );
}

#[test]
fn huge_message_is_cut_in_the_verdict() {
    let host = budget_host();
    let policy = hostile_policy(&host);
    let verdict = policy
        .validate(
            &admission_request(pod("p")),
            &json!({"mode": "huge-message", "size": 4 * MIB}),
            &Default::default(),
        )
        .unwrap();
    assert!(!verdict.accepted);
    let message = verdict.message.unwrap();
    assert_eq!(
        message,
        format!(
            "{}… ({} more bytes cut by the host)",
            "m".repeat(64 << 10),
            4 * MIB - (64 << 10)
        )
    );
    assert_evaluates_normally(&policy);
}

/// A WAT guest that grows its memory by `grow` pages, responds with `len` bytes at 0, then
/// grows by `grow_after` pages; a refused growth traps.
fn responding_guest(host: &Host, grow: u32, len: usize, grow_after: u32) -> Policy {
    let wat = format!(
        r#"(module
            (import "wapc" "__guest_response" (func $response (param i32 i32)))
            (memory (export "memory") 1)
            (func (export "__guest_call") (param i32 i32) (result i32)
                (if (i32.lt_s (memory.grow (i32.const {grow})) (i32.const 0)) (then unreachable))
                (call $response (i32.const 0) (i32.const {len}))
                (if (i32.lt_s (memory.grow (i32.const {grow_after})) (i32.const 0)) (then unreachable))
                (i32.const 1)))"#
    );
    host.load(&wat_module("responder", &wat)).unwrap()
}

fn validate(policy: &Policy) -> Result<aksid_host::Verdict, Error> {
    policy.validate(
        &admission_request(pod("p")),
        &json!({}),
        &Default::default(),
    )
}

#[test]
fn response_past_the_memory_left_is_a_host_memory_error() {
    let host = budget_host();
    // 301 pages (18.8 MiB) of memory and a 15 MiB response: 33.8 MiB in all.
    let policy = responding_guest(&host, 300, 15 * MIB, 0);
    let err = validate(&policy).unwrap_err();
    assert!(
        matches!(&err, Error::HostMemoryLimit { what, size, limit, .. }
            if *what == "the guest's response" && *size == 301 * 65536 + 15 * MIB && *limit == 32 * MIB),
        "{err:?}"
    );
}

#[test]
fn guest_memory_cannot_grow_into_what_the_host_holds() {
    let host = budget_host();
    // 16 MiB of memory and a 12 MiB response fit; 100 more pages (6.25 MiB) would not.
    let policy = responding_guest(&host, 255, 12 * MIB, 100);
    let err = validate(&policy).unwrap_err();
    assert!(
        matches!(&err, Error::MemoryLimit { limit, .. } if *limit == 32 * MIB),
        "{err:?}"
    );
}

/// A WAT guest that grows its memory by 32 pages (2 MiB) per call and accepts only on the
/// first call of its instance, so a rejection shows the instance was reused.
fn growing_guest(host: &Host) -> Policy {
    let wat = r#"(module
        (import "wapc" "__guest_response" (func $response (param i32 i32)))
        (memory (export "memory") 1)
        (global $calls (mut i32) (i32.const 0))
        (data (i32.const 0) "{\"accepted\":true}")
        (data (i32.const 32) "{\"accepted\":false}")
        (func (export "__guest_call") (param i32 i32) (result i32)
            (drop (memory.grow (i32.const 32)))
            (if (i32.eqz (global.get $calls))
                (then (call $response (i32.const 0) (i32.const 17)))
                (else (call $response (i32.const 32) (i32.const 18))))
            (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
            (i32.const 1)))"#;
    host.load(&wat_module("grower", wat)).unwrap()
}

#[test]
fn idle_instances_that_grew_past_the_threshold_are_dropped() {
    let host = Host::new(HostConfig::default().max_idle_memory(MIB)).unwrap();
    let policy = growing_guest(&host);
    for _ in 0..3 {
        assert!(
            validate(&policy).unwrap().accepted,
            "each call gets a fresh instance"
        );
    }
}

#[test]
fn idle_instances_under_the_threshold_are_reused() {
    let host = Host::new(HostConfig::default().max_idle_instances(1)).unwrap();
    let policy = growing_guest(&host);
    assert!(validate(&policy).unwrap().accepted);
    assert!(
        !validate(&policy).unwrap().accepted,
        "the second call reuses the instance"
    );
}

#[test]
fn module_over_the_size_limit_is_refused_before_compiling() {
    let host = Host::new(HostConfig::default().max_module_size(1000)).unwrap();
    let module = hostile_module();
    let err = host.load_named(&module, "big.wasm").unwrap_err();
    assert!(
        matches!(&err, Error::ModuleTooLarge { size, limit: 1000, .. } if *size == module.len()),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "policy big.wasm: the module is {} bytes, over the 1000-byte module size limit",
            module.len()
        )
    );
}

#[test]
fn compilation_past_the_time_limit_is_abandoned() {
    let module = hostile_module();
    let host = Host::new(HostConfig::default().compile_timeout(Duration::from_nanos(1))).unwrap();
    let err = host.load(&module).unwrap_err();
    assert!(
        matches!(&err, Error::CompileTimeout { timeout, .. } if *timeout == Duration::from_nanos(1)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "policy hostile-policy: compiling the module took longer than the 1ns compile time limit; it was abandoned"
    );
    assert!(
        Host::new(HostConfig::default())
            .unwrap()
            .load(&module)
            .is_ok()
    );
}

#[test]
fn no_evaluation_starts_after_the_run_deadline() {
    let host = Host::new(HostConfig::default().run_deadline(Some(Instant::now()))).unwrap();
    let policy = hostile_policy(&host);
    let err = validate_in_mode(&policy, "echo").unwrap_err();
    assert!(
        matches!(&err, Error::Deadline { operation, .. } if *operation == "validate"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "policy hostile-policy: `validate` not completed: the run's deadline passed"
    );
}

#[test]
fn a_running_evaluation_is_interrupted_at_the_run_deadline() {
    let deadline = Instant::now() + Duration::from_secs(1);
    let host = Host::new(
        HostConfig::default()
            .timeout(Duration::from_secs(60))
            .run_deadline(Some(deadline)),
    )
    .unwrap();
    let wat = r#"(module
        (memory (export "memory") 1)
        (func (export "__guest_call") (param i32 i32) (result i32)
            (loop $forever (br $forever))
            (i32.const 0)))"#;
    let policy = host.load(&wat_module("spinner", wat)).unwrap();
    assert!(
        Instant::now() + Duration::from_millis(500) < deadline,
        "loading took too long for this test to start before the deadline"
    );
    let err = validate(&policy).unwrap_err();
    assert!(matches!(&err, Error::Deadline { .. }), "{err:?}");
    assert!(Instant::now() >= deadline);
}
