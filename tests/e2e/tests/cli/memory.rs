//! What a run may hold in memory: the inputs together are capped (`--max-total-size`, counted
//! while reading), and peak memory follows what the policies need, not the number of objects
//! (the two passes of `check`: only the kinds context-aware policies look up are kept while
//! the rest is judged a batch at a time).

use crate::fixtures::*;
use crate::util::{assert_same, binary, errors_of_kind, module_cache, python, scratch};
use std::ffi::OsStr;

/// `text` padded with a comment to exactly `len` bytes.
fn padded(text: &str, len: usize) -> String {
    let mut out = format!("{text}#");
    assert!(out.len() < len, "{} bytes already", out.len());
    out.push_str(&"x".repeat(len - out.len() - 1));
    out.push('\n');
    out
}

#[test]
fn inputs_past_the_total_cap_are_errors_and_what_was_read_is_checked() {
    let s = scratch!();
    // 900 bytes each: the first two fit in 2 KiB together, the third does not.
    s.write("a.yaml", padded(BAD_DEPLOYMENT, 900))
        .write("b.yaml", padded(GOOD_DEPLOYMENT, 900))
        .write("c.yaml", padded(USER_CLUSTER_ADMIN, 900));
    let args = ["check", "-f", "a.yaml", "-f", "b.yaml", "-f", "c.yaml"];
    let cap = ["--max-total-size", "2Ki"];
    s.aksid(&[&args[..], &cap[..]].concat())
        .code(2)
        .stdout_has(
            "✗ c.yaml: not read: the run's inputs together would pass the 2 KiB limit (1.8 KiB \
             already read); raise it with --max-total-size",
        )
        .stdout_has("Deployment shop/api")
        .stdout_has("b.yaml\n  ✓ 1 object accepted")
        .stdout_lacks("bob-cluster-admin");
    let report = s
        .aksid(&[&args[..], &cap[..], &["-o", "json"]].concat())
        .json();
    let refused: Vec<&str> = errors_of_kind(&report, "tooLarge")
        .iter()
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    assert_same("the files past the total", vec!["c.yaml"], refused);
    assert_same(
        "objects checked",
        2,
        report["summary"]["objects"].as_u64().unwrap(),
    );
    // Stdin counts too, and is cut while it is read.
    let stdin = padded(USER_CLUSTER_ADMIN, 1500);
    s.aksid_stdin(
        &[
            "check",
            "-f",
            "a.yaml",
            "-f",
            "-",
            "--max-total-size",
            "2Ki",
        ],
        stdin.as_bytes(),
    )
    .code(2)
    .stdout_has(
        "✗ -: not read: the run's inputs together would pass the 2 KiB limit (900 bytes \
             already read); raise it with --max-total-size",
    )
    .stdout_lacks("bob-cluster-admin");
    // Within the default (256 MiB) everything is read.
    s.aksid(&args).code(1).stdout_has("bob-cluster-admin");
}

/// `files` files of `per_file` objects: three Deployments (one with a literal password) for each
/// ServiceAccount, which workload-identity-labels looks up, so the run has a context to keep.
fn many_objects(files: usize, per_file: usize) -> Vec<(String, String)> {
    (0..files)
        .map(|f| {
            let mut text = String::new();
            for i in 0..per_file {
                let name = format!("app-{f}-{i}");
                let object = match i % 4 {
                    0 => format!(
                        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  \
                         namespace: team-{f}\n  annotations:\n    \
                         azure.workload.identity/client-id: 6f1c9d3e-2b4a-4c8e-9f7d-1a2b3c4d5e6f\n"
                    ),
                    1 => BAD_DEPLOYMENT.replace("name: api\n", &format!("name: {name}\n")),
                    _ => GOOD_DEPLOYMENT.replace("name: web\n", &format!("name: {name}\n")),
                };
                text.push_str("---\n");
                text.push_str(&object);
            }
            (format!("team-{f}/manifests.yaml"), text)
        })
        .collect()
}

/// Peak resident set of `check -f` on 20,000 objects (about 12 MB of YAML), as the kernel counts
/// it for the child (`getrusage(RUSAGE_CHILDREN)`, read by Python, which runs nothing else).
/// Holding every parsed object until the end, as aksid did before its two passes, peaked at
/// 249 MiB here; the two passes (the ServiceAccounts, the report and one batch) at 96–111 MiB.
#[test]
fn peak_memory_stays_bounded_on_20000_objects() {
    const OBJECTS: usize = 20_000;
    const BOUND_MIB: u64 = 160;
    let s = scratch!();
    for (path, text) in many_objects(40, OBJECTS / 40) {
        s.write(&format!("manifests/{path}"), text);
    }
    // Compiling the modules is not what is measured: fill the shared cache first.
    s.write("warm.yaml", GOOD_DEPLOYMENT);
    s.aksid(&["check", "-f", "warm.yaml"]).code(0);
    let script = "\
import json, resource, subprocess, sys
run = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
report = json.loads(run.stdout)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(run.returncode, report['summary']['objects'], peak // 1024)
";
    let (binary, cache) = (binary(), module_cache());
    let args: Vec<&OsStr> = vec![
        binary.as_os_str(),
        OsStr::new("check"),
        OsStr::new("-f"),
        OsStr::new("manifests"),
        OsStr::new("-o"),
        OsStr::new("json"),
        OsStr::new("--cache-dir"),
        cache.as_os_str(),
    ];
    let run = python(&s.dir, script, &args);
    let fields: Vec<u64> = run
        .stdout
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    let [code, objects, peak_mib] = fields[..] else {
        panic!("unexpected output: {}", run.stdout);
    };
    assert_same("exit code (rejections found)", 1, code);
    assert_same("objects checked", OBJECTS as u64, objects);
    assert!(
        peak_mib <= BOUND_MIB,
        "check -f on {OBJECTS} objects peaked at {peak_mib} MiB, over the {BOUND_MIB} MiB bound"
    );
}
