//! `policies`, `explain` and the help texts.

use crate::util::{assert_same, scratch, workspace};

const IDS: [&str; 4] = [
    "no-local-accounts",
    "no-cluster-admin-users",
    "workload-identity-labels",
    "no-plaintext-secret-env",
];

#[test]
fn policies_lists_every_policy() {
    let s = scratch!();
    let run = s.aksid(&["policies"]);
    run.code(0).stdout_has("kubectl aksid explain ID");
    for id in IDS {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| run.fail("a line per policy", id, None));
        assert!(
            line.contains("high") && line.len() > id.len() + 30,
            "no severity or description: {line}"
        );
    }
    let listed = s.aksid(&["policies", "--json"]).code(0).json();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, IDS);
}

#[test]
fn explain_prints_the_readme_and_the_rules() {
    let s = scratch!();
    for id in IDS {
        let run = s.aksid(&["explain", id]);
        run.code(0);
        let readme =
            std::fs::read_to_string(workspace().join("policies").join(id).join("README.md"))
                .unwrap();
        run.stdout_has(readme.trim_end());
        for heading in ["## What it checks", "## Why", "## Settings"] {
            run.stdout_has(heading);
        }
        // The rules, exactly those of the policy's metadata.yml.
        let metadata: serde_json::Value = serde_saphyr::from_str(
            &std::fs::read_to_string(workspace().join("policies").join(id).join("metadata.yml"))
                .unwrap(),
        )
        .unwrap();
        let section = run
            .stdout
            .split("## Objects it judges (Kubewarden rules)\n")
            .nth(1)
            .unwrap_or_else(|| {
                run.fail(
                    "a rules section",
                    "## Objects it judges (Kubewarden rules)",
                    None,
                )
            });
        let rules = section.split("\n\nReads other objects").next().unwrap();
        let rules: serde_json::Value = serde_saphyr::from_str(rules)
            .unwrap_or_else(|e| run.fail("the rules as YAML", &e.to_string(), None));
        assert_same(
            &format!("{id}: the rules explain prints"),
            &metadata["rules"],
            &rules,
        );
    }
}

#[test]
fn explain_unknown_id_exits_2_listing_the_ids() {
    let s = scratch!();
    let run = s.aksid(&["explain", "nope"]);
    run.code(2).stderr_has("no policy \"nope\"");
    for id in IDS {
        run.stderr_has(id);
    }
}

#[test]
fn help_shows_examples() {
    let s = scratch!();
    s.aksid(&["--help"])
        .code(0)
        .stdout_has("Examples:")
        .stdout_has("kubectl aksid check -f deploy/")
        .stdout_has("Exit status: 0 everything accepted, 1 something rejected, 2");
    s.aksid(&["check", "--help"])
        .code(0)
        .stdout_has("Examples:")
        .stdout_has("kustomize build overlays/prod | kubectl aksid check -f -")
        .stdout_has("--max-file-size");
}
