//! The run's limits: `--deadline` (no evaluation starts after it; what was not judged is a
//! `deadline` error) and `--max-module-size` (a larger `--policy` module is refused before it
//! is compiled).

use crate::fixtures::*;
use crate::util::{errors_of_kind, scratch};

#[test]
fn objects_not_judged_before_the_deadline_are_deadline_errors() {
    let s = scratch!();
    s.write("api.yaml", BAD_DEPLOYMENT);
    // A deadline of 1ns has passed before the first evaluation: nothing is judged.
    let run = s.aksid(&["check", "-f", "api.yaml", "--deadline", "1ns", "-o", "json"]);
    run.code(2);
    let report = run.json();
    let errors = errors_of_kind(&report, "deadline");
    assert!(!errors.is_empty(), "no deadline error in {report:#}");
    for error in errors {
        assert_eq!(error["file"], "api.yaml");
        assert_eq!(error["object"]["kind"], "Deployment");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("the run's --deadline passed first"),
            "{error}"
        );
    }
    assert!(
        report["results"].as_array().unwrap().is_empty(),
        "nothing may be judged after the deadline: {report:#}"
    );
    // A generous deadline changes nothing.
    s.aksid(&["check", "-f", "api.yaml", "--deadline", "10m"])
        .code(1);
}

#[test]
fn module_over_the_size_limit_is_refused_naming_the_flag() {
    let s = scratch!();
    s.write("api.yaml", BAD_DEPLOYMENT);
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.resize(4096, 0);
    s.write("big.wasm", &module);
    s.aksid(&[
        "check",
        "-f",
        "api.yaml",
        "--policy",
        "big.wasm",
        "--max-module-size",
        "1Ki",
    ])
    .code(2)
    .stderr_has("over the --max-module-size limit");
}
