//! The run's limits: `--deadline` (no evaluation starts after it; what was not judged is a
//! `deadline` error) and `--max-module-size` (a larger `--policy` module is refused before it
//! is compiled).

use crate::fixtures::*;
use crate::util::scratch;

#[test]
fn objects_not_judged_before_the_deadline_are_deadline_errors() {
    let s = scratch!();
    s.write("api.yaml", BAD_DEPLOYMENT);
    // A deadline of 1ms has passed before the first evaluation (loading the policies takes
    // longer): nothing is judged.
    let run = s.aksid(&["check", "-f", "api.yaml", "--deadline", "1ms", "-o", "json"]);
    run.code(2);
    let report = run.json();
    // Whatever the deadline caught first (a policy's settings check, or an object), it is
    // named in the report and nothing is judged after it.
    let errors = report["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "no error in {report:#}");
    for error in errors {
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("deadline"), "{error}");
        if error["kind"] == "deadline" {
            assert_eq!(error["file"], "api.yaml");
            assert_eq!(error["object"]["kind"], "Deployment");
        }
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
    // Over the limit, which the built-in modules (at most 420 KiB) are under.
    module.resize(600 << 10, 0);
    s.write("big.wasm", &module);
    s.aksid(&[
        "check",
        "-f",
        "api.yaml",
        "--policy",
        "big.wasm",
        "--max-module-size",
        "500Ki",
    ])
    .code(2)
    .stdout_has("over the --max-module-size limit")
    .stdout_has("4 policies");
}
