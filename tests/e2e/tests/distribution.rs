//! End-to-end tests of distribution (issue 5): each committed module is small, annotated and
//! loads (that `artifacts/` is what this tree builds, byte for byte, is checked by `make test`
//! itself, which builds the wasm tree once); every
//! ClusterAdmissionPolicy aksid writes conforms to Kubewarden's own CRD; and the CLI pushes the
//! modules to a real OCI registry in Kubewarden's artifact shape, pulls them back, and runs them
//! from the registry with the built-in verdicts, refusing a pin the registry does not honour.
//!
//! Needs `target/release/kubectl-aksid` (`make build`) and the tools of
//! `tests/support/install-test-tools.sh` (`make test-tools`). One module per feature; each test
//! works in its own scratch directory named after it.

#[path = "distribution/support.rs"]
mod support;

#[path = "common/crd_schema.rs"]
mod common_crd_schema;

use serde_json::{Value, json};
use support::{POLICIES, Registry, aksid_run, artifact, digest, fenced, repo_root, scratch};

/// The tag the round-trip tests push, as a release would.
const TAG: &str = "v0.1.0";

/// The embedded metadata of `artifacts/<id>/policy.wasm`.
fn module_metadata(id: &str) -> aksid_metadata::Metadata {
    aksid_metadata::Metadata::from_wasm(&artifact(id, "policy.wasm"))
        .unwrap_or_else(|e| panic!("artifacts/{id}/policy.wasm: {e}"))
        .unwrap_or_else(|| panic!("artifacts/{id}/policy.wasm has no io.kubewarden.metadata"))
}

/// Kubewarden's CRD schema, made strict; see [`crd_schema::strict`].
mod crd_schema {
    use super::*;

    const CRD: &str = "tests/schemas/clusteradmissionpolicies.policies.kubewarden.io.yaml";

    /// The `v1` schema of the vendored ClusterAdmissionPolicy CRD, made strict (see
    /// [`common_crd_schema::strict`]; the CRD is cluster-scoped).
    pub fn strict() -> Value {
        let schema = common_crd_schema::strict(
            &repo_root().join(CRD),
            "policies.kubewarden.io",
            "ClusterAdmissionPolicy",
            "v1",
        );
        assert!(
            schema["properties"]["metadata"]["properties"]
                .get("namespace")
                .is_none(),
            "{CRD} is cluster-scoped"
        );
        schema
    }

    /// Asserts every document conforms to [`strict`].
    #[track_caller]
    pub fn assert_conform(documents: &[(String, Value)]) {
        let results = support::jsonschema_errors(&strict(), documents);
        assert_eq!(results.len(), documents.len());
        let failures: Vec<String> = results
            .iter()
            .zip(documents)
            .filter(|((_, errors), _)| !errors.is_empty())
            .map(|((name, errors), (_, object))| {
                format!(
                    "{name} does not conform to Kubewarden's CRD:\n```\n{}```\nthe object:\n```\n{}\n```",
                    support::bullets(errors),
                    serde_json::to_string_pretty(object).unwrap()
                )
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

mod artifacts {
    use super::*;
    use aksid_host::{Host, HostConfig};

    /// Kubewarden's annotations every aksid policy carries.
    const ANNOTATIONS: [&str; 9] = [
        "title",
        "description",
        "author",
        "url",
        "source",
        "license",
        "usage",
        "severity",
        "category",
    ];

    #[test]
    fn sha256sums_verifies_and_covers_every_file() {
        let dir = repo_root().join("artifacts");
        let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).expect("artifacts/SHA256SUMS");
        let mut listed = Vec::new();
        let mut mismatches = Vec::new();
        for line in sums.lines() {
            let (hex, file) = line
                .split_once("  ")
                .unwrap_or_else(|| panic!("SHA256SUMS: not `<sha256>  <file>`: {line:?}"));
            let bytes = std::fs::read(dir.join(file))
                .unwrap_or_else(|e| panic!("SHA256SUMS lists {file}, which cannot be read: {e}"));
            let actual = digest(&bytes);
            if actual != format!("sha256:{hex}") {
                mismatches.push(format!("{file}: listed sha256:{hex}, file {actual}"));
            }
            listed.push(file.to_owned());
        }
        assert!(
            mismatches.is_empty(),
            "SHA256SUMS does not verify (run `make artifacts` and commit):\n```\n{}```",
            support::bullets(&mismatches)
        );
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted, "SHA256SUMS is sorted, as sha256sum output");
        let files: Vec<String> = support::files_under(&dir)
            .into_iter()
            .filter(|f| f != "README.md" && f != "SHA256SUMS")
            .collect();
        assert_eq!(
            listed, files,
            "SHA256SUMS lists exactly the distributed files"
        );
        // The playground is its own distributable: the site, the browser host, and a copy of
        // each policy's module byte for byte (checked here, so the page judges as the CLI does).
        let (site, files): (Vec<String>, Vec<String>) = files
            .into_iter()
            .partition(|f| f.starts_with("playground/"));
        let site_policies: Vec<&String> = site
            .iter()
            .filter(|f| f.starts_with("playground/policies/"))
            .collect();
        assert_eq!(site_policies.len(), POLICIES.len(), "{site:?}");
        for id in POLICIES {
            assert!(
                std::fs::read(dir.join(format!("playground/policies/{id}.wasm"))).unwrap()
                    == std::fs::read(dir.join(format!("{id}/policy.wasm"))).unwrap(),
                "playground/policies/{id}.wasm is not {id}/policy.wasm"
            );
        }
        for file in [
            "index.html",
            "aksid_browser.js",
            "aksid_browser_bg.wasm",
            "examples.json",
        ] {
            assert!(site.contains(&format!("playground/{file}")), "{site:?}");
        }
        let expected: Vec<String> = {
            let mut ids = POLICIES.to_vec();
            ids.sort_unstable();
            ids.iter()
                .flat_map(|id| {
                    [
                        "artifacthub-pkg.yml",
                        "cluster-admission-policy.yaml",
                        "metadata.yml",
                        "policy.wasm",
                    ]
                    .map(|f| format!("{id}/{f}"))
                })
                .collect()
        };
        assert_eq!(files, expected, "four files per policy");
    }

    #[test]
    fn every_module_is_small_annotated_and_loads() {
        // A host of its own with no on-disk compile cache: `Policy::load` is this with the
        // shared host, which would write compiled modules to the user's cache directory.
        let host = Host::new(HostConfig::default().cache_dir(None)).expect("host");
        for id in POLICIES {
            let module = artifact(id, "policy.wasm");
            assert!(
                module.len() <= 600 * 1024,
                "{id}: {} bytes, over the 600 KiB budget",
                module.len()
            );
            let metadata = module_metadata(id);
            assert_eq!(metadata.protocol_version.as_deref(), Some("v1"), "{id}");
            assert_eq!(metadata.execution_mode, "kubewarden-wapc", "{id}");
            assert!(!metadata.rules.is_empty(), "{id}: no rules");
            let missing: Vec<&str> = ANNOTATIONS
                .iter()
                .copied()
                .filter(|key| {
                    metadata
                        .annotation(&format!("io.kubewarden.policy.{key}"))
                        .is_none_or(|v| v.trim().is_empty())
                })
                .collect();
            assert!(
                missing.is_empty(),
                "{id}: annotations missing or empty: {missing:?}"
            );
            assert_eq!(metadata.title(), Some(id));
            assert_eq!(
                metadata.annotation(aksid_metadata::VERSION),
                Some(env!("CARGO_PKG_VERSION")),
                "{id}: the policy version is the workspace version"
            );
            let readme =
                std::fs::read_to_string(repo_root().join("policies").join(id).join("README.md"))
                    .unwrap();
            assert!(
                metadata.annotation(aksid_metadata::USAGE) == Some(readme.as_str()),
                "{id}: io.kubewarden.policy.usage is not policies/{id}/README.md"
            );

            let policy = host
                .load(&module)
                .unwrap_or_else(|e| panic!("{id} does not load: {e}"));
            assert_eq!(policy.name(), id);
            let verdict = policy.validate_settings(&json!({})).unwrap();
            assert!(verdict.valid, "{id}: default settings refused: {verdict:?}");

            // The load checks the protocol version: the same module without it is refused.
            let mut unversioned = metadata.clone();
            unversioned.protocol_version = None;
            let stripped = aksid_metadata::annotate(&module, &unversioned).unwrap();
            let err = host
                .load(&stripped)
                .expect_err("a module without protocolVersion loads");
            assert!(
                matches!(err, aksid_host::Error::UnsupportedProtocol { .. }),
                "{id}: {err}"
            );
        }
    }

    #[test]
    fn metadata_and_artifacthub_files_agree_with_the_module() {
        let release_date = support::makefile_var("RELEASE_DATE");
        for id in POLICIES {
            let embedded = module_metadata(id);
            let source =
                std::fs::read(repo_root().join("policies").join(id).join("metadata.yml")).unwrap();
            assert!(
                artifact(id, "metadata.yml") == source,
                "artifacts/{id}/metadata.yml is not policies/{id}/metadata.yml: run `make artifacts`"
            );
            let mut from_yaml =
                aksid_metadata::Metadata::from_yaml(std::str::from_utf8(&source).unwrap())
                    .unwrap()
                    .with_protocol_version();
            let usage = embedded
                .annotation(aksid_metadata::USAGE)
                .unwrap()
                .to_owned();
            from_yaml
                .annotations
                .insert(aksid_metadata::USAGE.into(), usage);
            assert!(
                from_yaml == embedded,
                "{id}: the module's metadata is not metadata.yml (+ usage, protocolVersion)\n{}",
                fenced(
                    &serde_json::to_value(&from_yaml).unwrap(),
                    &serde_json::to_value(&embedded).unwrap()
                )
            );

            let version = embedded.annotation(aksid_metadata::VERSION).unwrap();
            let pkg = &support::yaml_documents(
                std::str::from_utf8(&artifact(id, "artifacthub-pkg.yml")).unwrap(),
            )[0];
            assert_eq!(pkg["name"], id);
            assert_eq!(pkg["version"], version);
            assert_eq!(
                pkg["createdAt"],
                release_date.as_str(),
                "{id}: the Makefile's RELEASE_DATE"
            );
            assert_eq!(
                pkg["containersImages"][0]["image"],
                format!("ghcr.io/aksid/policies/{id}:v{version}").as_str()
            );
            assert_eq!(
                pkg["annotations"]["kubewarden/mutation"],
                embedded.mutating.to_string().as_str()
            );
            let rules: Value = serde_saphyr::from_str(
                pkg["annotations"]["kubewarden/rules"]
                    .as_str()
                    .expect("kubewarden/rules"),
            )
            .unwrap();
            assert_eq!(
                rules,
                serde_json::to_value(&embedded.rules).unwrap(),
                "{id}"
            );
            assert_eq!(
                pkg["annotations"]
                    .get("kubewarden/contextAwareResources")
                    .is_some(),
                !embedded.context_aware_resources.is_empty(),
                "{id}: kubewarden/contextAwareResources iff the policy is context-aware"
            );
        }
    }
}

mod crd {
    use super::*;

    /// What the ClusterAdmissionPolicy of `id` must carry, whatever the flags: the CRD's
    /// required fields and the rules, mutating, backgroundAudit and context the module declares.
    #[track_caller]
    pub(super) fn assert_policy(
        id: &str,
        policy: &Value,
        module: &str,
        mode: &str,
        settings: &Value,
    ) {
        let metadata = module_metadata(id);
        let context = |what: &str| format!("{id}: {what}\n```\n{policy:#}\n```");
        assert_eq!(
            policy["apiVersion"],
            "policies.kubewarden.io/v1",
            "{}",
            context("apiVersion")
        );
        assert_eq!(
            policy["kind"],
            "ClusterAdmissionPolicy",
            "{}",
            context("kind")
        );
        assert_eq!(policy["metadata"]["name"], id, "{}", context("name"));
        let annotations = &policy["metadata"]["annotations"];
        for key in [
            aksid_metadata::TITLE,
            aksid_metadata::SEVERITY,
            aksid_metadata::CATEGORY,
        ] {
            assert_eq!(
                annotations[key],
                metadata.annotation(key).unwrap(),
                "{}",
                context(key)
            );
        }
        let spec = &policy["spec"];
        assert_eq!(spec["module"], module, "{}", context("module"));
        assert_eq!(spec["mode"], mode, "{}", context("mode"));
        assert_eq!(&spec["settings"], settings, "{}", context("settings"));
        assert_eq!(
            spec["rules"],
            serde_json::to_value(&metadata.rules).unwrap(),
            "{}",
            context("rules")
        );
        assert_eq!(
            spec["mutating"],
            metadata.mutating,
            "{}",
            context("mutating")
        );
        assert_eq!(
            spec["backgroundAudit"],
            metadata.background_audit,
            "{}",
            context("backgroundAudit")
        );
        let context_aware = serde_json::to_value(&metadata.context_aware_resources).unwrap();
        match spec.get("contextAwareResources") {
            Some(declared) => assert_eq!(declared, &context_aware, "{}", context("context")),
            None => assert_eq!(
                context_aware,
                json!([]),
                "{}",
                context("contextAwareResources missing")
            ),
        }
    }

    /// `kubectl-aksid manifests ARGS`: four documents, in policy order.
    fn manifests(dir: &std::path::Path, args: &[&str]) -> Vec<Value> {
        let cache = dir.join("cache");
        let mut all = vec!["manifests", "--cache-dir", cache.to_str().unwrap()];
        all.extend_from_slice(args);
        let run = aksid_run(dir, &all).expect_code(0);
        let documents = support::yaml_documents(&run.stdout);
        let names: Vec<&str> = documents
            .iter()
            .map(|d| d["metadata"]["name"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(
            names,
            POLICIES,
            "one policy per document\n{}",
            run.describe()
        );
        documents
    }

    fn named(prefix: &str, documents: &[Value]) -> Vec<(String, Value)> {
        POLICIES
            .iter()
            .zip(documents)
            .map(|(id, d)| (format!("{prefix} ({id})"), d.clone()))
            .collect()
    }

    #[test]
    fn committed_cluster_admission_policies_conform_to_the_crd() {
        let mut documents = Vec::new();
        for id in POLICIES {
            let text = String::from_utf8(artifact(id, "cluster-admission-policy.yaml")).unwrap();
            let parsed = support::yaml_documents(&text);
            assert_eq!(
                parsed.len(),
                1,
                "artifacts/{id}/cluster-admission-policy.yaml"
            );
            let version = module_metadata(id)
                .annotation(aksid_metadata::VERSION)
                .unwrap()
                .to_owned();
            let module = format!("registry://ghcr.io/aksid/policies/{id}:v{version}");
            assert_policy(id, &parsed[0], &module, "protect", &json!({}));
            documents.push((
                format!("artifacts/{id}/cluster-admission-policy.yaml"),
                parsed[0].clone(),
            ));
        }
        crd_schema::assert_conform(&documents);
    }

    #[test]
    fn manifests_output_conforms_for_every_flag_combination() {
        let dir = scratch("manifests-flags");
        let settings_file = dir.path().join("aksid-settings.yaml");
        std::fs::write(
            &settings_file,
            "no-local-accounts:\n  requireAzureRBAC: true\n\
             no-cluster-admin-users:\n  allowedGroups: [platform-admins]\n\
             workload-identity-labels:\n  exemptNamespaces: [kube-system]\n\
             no-plaintext-secret-env:\n  allowedNames: [FEATURE_FLAG_TOKEN_AUDIENCE]\n  minLength: 12\n",
        )
        .unwrap();
        let settings: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&settings_file).unwrap()).unwrap();
        let version = |id: &str| {
            module_metadata(id)
                .annotation(aksid_metadata::VERSION)
                .unwrap()
                .to_owned()
        };
        let default_module =
            |id: &str| format!("registry://ghcr.io/aksid/policies/{id}:v{}", version(id));

        let default = manifests(dir.path(), &[]);
        let monitor = manifests(dir.path(), &["--mode", "monitor"]);
        let elsewhere = manifests(
            dir.path(),
            &["--registry", "r.example/aksid", "--tag", "v9"],
        );
        let configured = manifests(dir.path(), &["--settings", settings_file.to_str().unwrap()]);
        for (i, id) in POLICIES.into_iter().enumerate() {
            assert_policy(id, &default[i], &default_module(id), "protect", &json!({}));
            assert_policy(id, &monitor[i], &default_module(id), "monitor", &json!({}));
            assert_policy(
                id,
                &elsewhere[i],
                &format!("registry://r.example/aksid/{id}:v9"),
                "protect",
                &json!({}),
            );
            assert_policy(
                id,
                &configured[i],
                &default_module(id),
                "protect",
                &settings[id],
            );
            // The defaults are exactly what the build ships in artifacts/.
            let shipped = &support::yaml_documents(
                std::str::from_utf8(&artifact(id, "cluster-admission-policy.yaml")).unwrap(),
            )[0];
            assert!(
                &default[i] == shipped,
                "{id}: `manifests` differs from artifacts/{id}/cluster-admission-policy.yaml\n{}",
                fenced(shipped, &default[i])
            );
        }
        let mut documents = named("manifests", &default);
        documents.extend(named("manifests --mode monitor", &monitor));
        documents.extend(named(
            "manifests --registry r.example/aksid --tag v9",
            &elsewhere,
        ));
        documents.extend(named("manifests --settings FILE", &configured));
        crd_schema::assert_conform(&documents);
    }

    /// The strict schema is only worth something if it refuses what the CRD does not define
    /// (and accepts what it does, such as free-form settings and the newest fields).
    #[test]
    fn the_strict_schema_refuses_what_the_crd_does_not_define() {
        let base = support::yaml_documents(
            std::str::from_utf8(&artifact(
                "no-local-accounts",
                "cluster-admission-policy.yaml",
            ))
            .unwrap(),
        )
        .remove(0);
        let with = |change: &dyn Fn(&mut Value)| {
            let mut policy = base.clone();
            change(&mut policy);
            policy
        };
        let refused: Vec<(&str, Value)> = vec![
            (
                "unknown spec field",
                with(&|p| p["spec"]["enforce"] = json!(true)),
            ),
            ("unknown top-level field", with(&|p| p["specs"] = json!({}))),
            (
                "mode outside the enum",
                with(&|p| p["spec"]["mode"] = json!("audit")),
            ),
            (
                "module missing",
                with(&|p| {
                    p["spec"].as_object_mut().unwrap().remove("module");
                }),
            ),
            (
                "misspelt rule field",
                with(&|p| p["spec"]["rules"][0]["apiGroup"] = json!(["apps"])),
            ),
            (
                "rules not a list",
                with(&|p| p["spec"]["rules"] = json!({"apiGroups": ["apps"]})),
            ),
            (
                "mutating as a string",
                with(&|p| p["spec"]["mutating"] = json!("false")),
            ),
            (
                "timeoutEvalSeconds below 2",
                with(&|p| p["spec"]["timeoutEvalSeconds"] = json!(1)),
            ),
            (
                "extra field in a context resource",
                with(&|p| {
                    p["spec"]["contextAwareResources"] =
                        json!([{"apiVersion": "v1", "kind": "Secret", "namespace": "default"}]);
                }),
            ),
            (
                "namespace on a cluster-scoped object",
                with(&|p| p["metadata"]["namespace"] = json!("default")),
            ),
            (
                "name that is not a DNS subdomain",
                with(&|p| p["metadata"]["name"] = json!("No_Local")),
            ),
        ];
        let accepted: Vec<(&str, Value)> = vec![
            ("as shipped", base.clone()),
            (
                "free-form settings",
                with(&|p| {
                    p["spec"]["settings"] = json!({"any": {"nested": [1, "two", {"three": null}]}});
                }),
            ),
            (
                "null settings",
                with(&|p| p["spec"]["settings"] = Value::Null),
            ),
            (
                "the newest CRD fields",
                with(&|p| {
                    p["spec"]["timeoutEvalSeconds"] = json!(5);
                    p["spec"]["message"] = json!("blocked by aksid");
                    p["spec"]["matchConditions"] = json!([{"name": "not-kube-system", "expression": "request.namespace != 'kube-system'"}]);
                    p["spec"]["policyServer"] = json!("default");
                }),
            ),
        ];
        let documents: Vec<(String, Value)> = refused
            .iter()
            .chain(&accepted)
            .map(|(name, object)| ((*name).to_owned(), object.clone()))
            .collect();
        let results = support::jsonschema_errors(&crd_schema::strict(), &documents);
        let mut wrong = Vec::new();
        for (i, (name, errors)) in results.iter().enumerate() {
            let should_refuse = i < refused.len();
            if should_refuse == errors.is_empty() {
                wrong.push(format!(
                    "{name}: expected {}, got {errors:?}",
                    if should_refuse { "errors" } else { "no errors" }
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "the strict CRD schema misjudged:\n```\n{}```",
            support::bullets(&wrong)
        );
    }

    #[test]
    fn invalid_settings_exit_2_and_print_nothing() {
        let dir = scratch("manifests-invalid-settings");
        let cases = [
            (
                "refused by the policy itself",
                "no-cluster-admin-users:\n  allowedGroups: [\"system:authenticated\"]\n",
                &[
                    "settings for no-cluster-admin-users are invalid",
                    "system:authenticated",
                ][..],
            ),
            (
                "an unknown settings key",
                "no-plaintext-secret-env:\n  allowedNamez: [X]\n",
                &[
                    "settings for no-plaintext-secret-env are invalid",
                    "allowedNamez",
                ][..],
            ),
            (
                "an unknown policy id",
                "no-local-account:\n  requireAzureRBAC: true\n",
                &["unknown policy \"no-local-account\""][..],
            ),
        ];
        for (what, settings, mentions) in cases {
            let file = dir.path().join("settings.yaml");
            std::fs::write(&file, settings).unwrap();
            let run = aksid_run(
                dir.path(),
                &[
                    "manifests",
                    "--no-cache",
                    "--settings",
                    file.to_str().unwrap(),
                ],
            )
            .expect_code(2);
            assert!(
                run.stdout.is_empty(),
                "{what}: printed manifests anyway\n{}",
                run.describe()
            );
            for mention in mentions {
                assert!(
                    run.stderr.contains(mention),
                    "{what}: no {mention:?}\n{}",
                    run.describe()
                );
            }
        }
    }
}

mod registry {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    /// What `push` printed: the reference pinned by digest, and the digest.
    struct Pushed {
        reference: String,
        digest: String,
    }

    /// `kubectl-aksid push ID registry://ADDR/aksid/ID:v0.1.0` for each built-in policy.
    fn push_all(registry: &Registry, dir: &Path) -> BTreeMap<&'static str, Pushed> {
        POLICIES
            .into_iter()
            .map(|id| (id, push(registry, dir, id, &format!("aksid/{id}:{TAG}"))))
            .collect()
    }

    /// Pushes `module` (an id or a path) to `repository_and_tag`; checks what push prints.
    fn push(registry: &Registry, dir: &Path, module: &str, repository_and_tag: &str) -> Pushed {
        let target = registry.reference(repository_and_tag);
        let run = aksid_run(dir, &["push", module, &target]).expect_code(0);
        let reference = run.stdout.trim_end().to_owned();
        let digest = reference
            .strip_prefix(&format!("{target}@"))
            .filter(|d| {
                d.strip_prefix("sha256:").is_some_and(|hex| {
                    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
                })
            })
            .unwrap_or_else(|| {
                panic!(
                    "push must print {target}@sha256:<digest>\n{}",
                    run.describe()
                )
            })
            .to_owned();
        Pushed { reference, digest }
    }

    /// The cache entry of `manifest_digest` under `--cache-dir cache`.
    fn cache_entry(cache: &Path, manifest_digest: &str) -> std::path::PathBuf {
        cache
            .join("oci/sha256")
            .join(manifest_digest.strip_prefix("sha256:").unwrap())
    }

    /// `check -f examples -o json --no-exceptions` with the given extra arguments.
    /// A JSON report's verdicts and summary, without where each module came from (a module
    /// pulled from a registry judges exactly as the built-in, but is labelled as pulled).
    fn verdicts(report: &str) -> Value {
        let mut report: Value = serde_json::from_str(report).expect("a JSON report");
        for result in report["results"].as_array_mut().into_iter().flatten() {
            result.as_object_mut().unwrap().remove("thirdParty");
        }
        json!({"results": report["results"], "errors": report["errors"], "summary": report["summary"]})
    }

    fn check_examples(dir: &Path, extra: &[&str]) -> support::Run {
        let mut args = vec!["check", "-f", "examples", "-o", "json", "--no-exceptions"];
        args.extend_from_slice(extra);
        aksid_run(dir, &args)
    }

    #[test]
    fn push_prints_the_pin_and_pull_returns_the_same_bytes_through_the_cache() {
        let mut registry = Registry::start("round-trip");
        let dir = scratch("round-trip");
        let cache = dir.path().join("cache");
        let cache_arg = cache.to_str().unwrap();
        let pushed = push_all(&registry, dir.path());
        for id in POLICIES {
            let module = artifact(id, "policy.wasm");
            let tagged = registry.reference(&format!("aksid/{id}:{TAG}"));
            let out = dir.path().join(format!("{id}.wasm"));
            let first = aksid_run(
                dir.path(),
                &[
                    "pull",
                    &tagged,
                    "-o",
                    out.to_str().unwrap(),
                    "--cache-dir",
                    cache_arg,
                ],
            )
            .expect_code(0);
            assert_eq!(
                first.stdout.trim_end(),
                pushed[id].reference,
                "{}",
                first.describe()
            );
            assert!(
                first
                    .stderr
                    .contains(&format!("pulled {id} {}", pushed[id].digest))
                    && !first.stderr.contains("from cache"),
                "{}",
                first.describe()
            );
            let pulled = std::fs::read(&out).unwrap();
            assert!(
                pulled == module,
                "{id}: pulled {} ({} bytes), artifacts/ holds {} ({} bytes); if the binary is \
                 older than artifacts/, run `make build`",
                digest(&pulled),
                pulled.len(),
                digest(&module),
                module.len()
            );

            // The pulled module landed in the cache, verified: manifest by its digest, module
            // by the layer digest.
            let entry = cache_entry(&cache, &pushed[id].digest);
            let manifest = std::fs::read(entry.join("manifest.json"))
                .unwrap_or_else(|e| panic!("no cache entry {}: {e}", entry.display()));
            assert_eq!(digest(&manifest), pushed[id].digest);
            assert!(std::fs::read(entry.join("policy.wasm")).unwrap() == module);

            for again in [&tagged, &pushed[id].reference] {
                let second = aksid_run(dir.path(), &["pull", again, "--cache-dir", cache_arg])
                    .expect_code(0);
                assert_eq!(second.stdout.trim_end(), pushed[id].reference);
                assert!(
                    second.stderr.contains(", from cache)"),
                    "{}",
                    second.describe()
                );
            }
        }
        // Pushing the same module again gives the same digest.
        let again = push(
            &registry,
            dir.path(),
            "no-local-accounts",
            &format!("aksid/no-local-accounts:{TAG}"),
        );
        assert_eq!(again.digest, pushed["no-local-accounts"].digest);

        let addr = registry.address().to_owned();
        registry.stop();
        assert!(
            !registry.answers(),
            "the registry at {addr} still answers after stop"
        );
    }

    #[test]
    fn independent_clients_see_kubewarden_media_types_and_annotations() {
        let registry = Registry::start("media-types");
        let dir = scratch("media-types");
        let pushed = push_all(&registry, dir.path());
        let mut oras_args = vec![registry.address().to_owned()];
        let mut pulls = Vec::new();
        for id in POLICIES {
            let module = artifact(id, "policy.wasm");
            let image = format!("{}/aksid/{id}:{TAG}", registry.address());
            let raw = support::skopeo_raw_manifest(&image);
            assert_eq!(
                digest(&raw),
                pushed[id].digest,
                "{id}: push printed another digest"
            );
            let manifest: Value = serde_json::from_slice(&raw).unwrap();
            let context = format!("{id}:\n```\n{manifest:#}\n```");
            assert_eq!(manifest["schemaVersion"], 2, "{context}");
            assert_eq!(manifest["mediaType"], support::OCI_MANIFEST, "{context}");
            assert_eq!(
                manifest["config"]["mediaType"],
                support::WASM_CONFIG,
                "{context}"
            );
            assert_eq!(manifest["config"]["digest"], digest(b"{}"), "{context}");
            let layers = manifest["layers"].as_array().unwrap();
            assert_eq!(layers.len(), 1, "{context}");
            assert_eq!(layers[0]["mediaType"], support::WASM_LAYER, "{context}");
            assert_eq!(layers[0]["digest"], digest(&module), "{context}");
            assert_eq!(layers[0]["size"], module.len(), "{context}");

            // The metadata's annotations, single-line ones (OCI annotations are one line each),
            // with the source also under the OCI key registries display.
            let metadata = module_metadata(id);
            let mut expected = serde_json::Map::new();
            for (key, value) in &metadata.annotations {
                if value.lines().count() <= 1 {
                    expected.insert(key.clone(), json!(value.trim()));
                }
            }
            expected.insert(
                "org.opencontainers.image.source".into(),
                json!(metadata.annotation("io.kubewarden.policy.source").unwrap()),
            );
            let expected = Value::Object(expected);
            assert!(
                manifest["annotations"] == expected,
                "{id}: manifest annotations\n{}",
                fenced(&expected, &manifest["annotations"])
            );
            assert!(
                expected.get(aksid_metadata::USAGE).is_none(),
                "the multi-line usage stays out"
            );

            let out_dir = dir.path().join(format!("oras-{id}"));
            oras_args.extend([image, out_dir.to_str().unwrap().to_owned()]);
            pulls.push((id, module, manifest));
        }

        // oras (Python) receives the same manifests and the modules' exact bytes.
        let args: Vec<&str> = oras_args.iter().map(String::as_str).collect();
        let pulled: Vec<Value> = serde_json::from_str(&support::python(
            "oras.client",
            support::ORAS_PULL,
            &args,
            b"",
        ))
        .unwrap();
        assert_eq!(pulled.len(), pulls.len());
        for ((id, module, manifest), pulled) in pulls.iter().zip(&pulled) {
            assert_eq!(pulled["manifest"], *manifest, "{id}");
            let files = pulled["files"].as_array().unwrap();
            assert_eq!(files.len(), 1, "{pulled}");
            let layer = std::fs::read(files[0].as_str().unwrap()).unwrap();
            assert!(layer == *module, "{id}: oras got other bytes");
        }
    }

    #[test]
    fn check_runs_pulled_modules_with_the_built_in_verdicts() {
        let registry = Registry::start("check-pulled");
        let dir = scratch("check-pulled");
        let pushed = push_all(&registry, dir.path());
        // Each run below gets a fresh cache directory, so that its policies must come from the
        // registry (`<dir>/oci`), seeded with the modules the built-in run compiled
        // (`<dir>/modules`, keyed by module hash): the pulled bytes are the same, and compiling
        // them again would only cost time.
        let built_in_cache = dir.path().join("built-in");
        let cache = |name: &str| {
            let path = dir.path().join(name);
            let compiled = built_in_cache.join("modules");
            if compiled.is_dir() {
                std::fs::create_dir_all(path.join("modules")).unwrap();
                for entry in std::fs::read_dir(&compiled).unwrap() {
                    let entry = entry.unwrap();
                    std::fs::copy(entry.path(), path.join("modules").join(entry.file_name()))
                        .unwrap();
                }
            }
            path.to_str().unwrap().to_owned()
        };

        let built_in =
            check_examples(dir.path(), &["--cache-dir", &cache("built-in")]).expect_code(1);
        let report: Value = serde_json::from_str(&built_in.stdout).unwrap();
        let summary = &report["summary"];
        assert!(
            summary["rejected"].as_u64() > Some(0) && summary["accepted"].as_u64() > Some(0),
            "the fixture must hold rejected and accepted objects\n{}",
            built_in.describe()
        );
        for policy in summary["policies"].as_array().unwrap() {
            assert!(
                policy["evaluations"].as_u64() > Some(0),
                "{policy} judges no example"
            );
        }

        let by_tag: Vec<String> = POLICIES
            .iter()
            .map(|id| registry.reference(&format!("aksid/{id}:{TAG}")))
            .collect();
        let by_pin: Vec<String> = POLICIES
            .iter()
            .map(|id| pushed[id].reference.clone())
            .collect();
        let by_digest: Vec<String> = POLICIES
            .iter()
            .map(|id| registry.reference(&format!("aksid/{id}@{}", pushed[id].digest)))
            .collect();
        for (what, references) in [
            ("tag", &by_tag),
            ("tag@digest", &by_pin),
            ("digest", &by_digest),
        ] {
            let cache_dir = cache(&format!("cache-{what}"));
            // Titled like the built-ins, so they replace them only when asked to, and granted
            // the lookups the built-ins make.
            let mut args = vec![
                "--cache-dir",
                cache_dir.as_str(),
                "--replace-builtin",
                "--allow-context",
                "ServiceAccount,ClusterRoleBinding,RoleBinding,ClusterRole,Role",
            ];
            for reference in references {
                args.extend(["--policy", reference.as_str()]);
            }
            let run = check_examples(dir.path(), &args);
            assert!(
                run.code == Some(1) && verdicts(&run.stdout) == verdicts(&built_in.stdout),
                "--policy by {what}: not the built-in verdicts\nbuilt-in:\n```\n{}\n```\n{}",
                built_in.stdout,
                run.describe()
            );
            // The modules came from the registry: each is in this run's fresh cache.
            for id in POLICIES {
                let entry = cache_entry(Path::new(&cache_dir), &pushed[id].digest);
                assert!(
                    entry.join("policy.wasm").is_file(),
                    "--policy by {what}: {id} not pulled"
                );
            }
            // And they replaced the built-ins (same ids, registry origin).
            let mut args = vec![
                "policies",
                "--json",
                "--cache-dir",
                cache_dir.as_str(),
                "--replace-builtin",
            ];
            for reference in references {
                args.extend(["--policy", reference.as_str()]);
            }
            let listed: Value =
                serde_json::from_str(&aksid_run(dir.path(), &args).expect_code(0).stdout).unwrap();
            let origins: Vec<(&str, &str)> = listed
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["id"].as_str().unwrap(), p["origin"].as_str().unwrap()))
                .collect();
            assert_eq!(origins.len(), 4, "{listed:#}");
            for ((id, origin), reference) in origins.iter().zip(references) {
                assert!(
                    origin.starts_with(reference.as_str()) && origin.contains(&pushed[id].digest),
                    "{id} comes from {origin}, not {reference}"
                );
            }
        }

        // A pulled module that differs from the built-in changes the verdicts: a
        // no-local-accounts whose rules select Secrets only judges nothing else.
        let mut narrowed = module_metadata("no-local-accounts");
        narrowed.rules = serde_saphyr::from_str(
            "- {apiGroups: [''], apiVersions: [v1], resources: [secrets], operations: [CREATE, UPDATE]}",
        )
        .unwrap();
        let module =
            aksid_metadata::annotate(&artifact("no-local-accounts", "policy.wasm"), &narrowed)
                .unwrap();
        let file = dir.path().join("narrowed.wasm");
        std::fs::write(&file, module).unwrap();
        let narrowed = push(
            &registry,
            dir.path(),
            file.to_str().unwrap(),
            "aksid/no-local-accounts:narrowed",
        );
        let kinds = |report: &Value| -> std::collections::BTreeSet<String> {
            report["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["policy"] == "no-local-accounts")
                .map(|r| r["kind"].as_str().unwrap().to_owned())
                .collect()
        };
        let run = check_examples(
            dir.path(),
            &[
                "--cache-dir",
                &cache("cache-narrowed"),
                "--replace-builtin",
                "--policy",
                &narrowed.reference,
            ],
        );
        let narrowed_report: Value =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.describe()));
        let built_in_kinds = kinds(&report);
        assert!(
            built_in_kinds.len() > 1,
            "the built-in judges several kinds: {built_in_kinds:?}"
        );
        assert_eq!(
            kinds(&narrowed_report),
            ["Secret".to_owned()].into(),
            "the narrowed module from the registry was not the one run\n{}",
            run.describe()
        );
    }

    #[test]
    fn a_wrong_pin_fails_with_exit_2_naming_the_digest() {
        let registry = Registry::start("wrong-pin");
        let dir = scratch("wrong-pin");
        let pushed = push(
            &registry,
            dir.path(),
            "no-local-accounts",
            &format!("aksid/no-local-accounts:{TAG}"),
        );
        // The right shape, one hex digit off.
        let mut wrong = pushed.digest.clone();
        let last = if wrong.ends_with('0') { "1" } else { "0" };
        wrong.replace_range(wrong.len() - 1.., last);
        let reference = registry.reference(&format!("aksid/no-local-accounts:{TAG}@{wrong}"));
        let cache = dir.path().join("cache");
        let cache_arg = cache.to_str().unwrap();

        let check = check_examples(
            dir.path(),
            &["--cache-dir", cache_arg, "--policy", &reference],
        )
        .expect_code(2);
        // The failed policy is an error inside the report (exit 2), naming the digest.
        let report: Value = serde_json::from_str(&check.stdout)
            .unwrap_or_else(|e| panic!("a JSON report ({e})\n{}", check.describe()));
        assert!(
            report["errors"].to_string().contains(&wrong),
            "{}",
            check.describe()
        );
        let pull =
            aksid_run(dir.path(), &["pull", &reference, "--cache-dir", cache_arg]).expect_code(2);
        assert!(
            pull.stderr.contains(&wrong) && pull.stdout.is_empty(),
            "{}",
            pull.describe()
        );
        assert!(
            !cache_entry(&cache, &wrong).exists(),
            "something was cached for the wrong pin"
        );
    }

    #[test]
    fn a_pin_the_registry_does_not_honour_fails_naming_both_digests() {
        let registry = Registry::start("tampered");
        let dir = scratch("tampered");
        let a = push(
            &registry,
            dir.path(),
            "no-local-accounts",
            "aksid/tampered:a",
        );
        let b = push(
            &registry,
            dir.path(),
            "no-cluster-admin-users",
            "aksid/tampered:b",
        );
        // A compromised registry: the manifest stored as A's digest now holds B's manifest.
        let b_manifest = std::fs::read(registry.blob_path(&b.digest)).unwrap();
        std::fs::write(registry.blob_path(&a.digest), &b_manifest).unwrap();

        let cache = dir.path().join("cache");
        let cache_arg = cache.to_str().unwrap();
        let check = check_examples(
            dir.path(),
            &["--cache-dir", cache_arg, "--policy", &a.reference],
        )
        .expect_code(2);
        let pull = aksid_run(
            dir.path(),
            &["pull", &a.reference, "--cache-dir", cache_arg],
        )
        .expect_code(2);
        // check reports the failed policy inside its report; pull has no report.
        for (run, text) in [(&check, &check.stdout), (&pull, &pull.stderr)] {
            assert!(
                text.contains(&a.digest) && text.contains(&b.digest),
                "the error must name the pinned and the served digest\nregistry log:\n```\n{}\n```\n{}",
                registry.log(),
                run.describe()
            );
        }
        assert!(
            !cache_entry(&cache, &a.digest).exists(),
            "the tampered module was cached"
        );
        assert!(
            !cache_entry(&cache, &b.digest).exists(),
            "the tampered module was cached"
        );
    }

    #[test]
    fn manifests_digest_pins_each_module_by_its_pushed_digest() {
        let registry = Registry::start("manifests-digest");
        let dir = scratch("manifests-digest");
        let prefix = format!("{}/aksid", registry.address());
        let cache = dir.path().join("cache");
        let args = [
            "manifests",
            "--registry",
            &prefix,
            "--digest",
            "--cache-dir",
            cache.to_str().unwrap(),
        ];

        // Nothing pushed yet: there is no digest to pin.
        let early = aksid_run(dir.path(), &args).expect_code(2);
        assert!(
            early
                .stderr
                .contains(&format!("registry://{prefix}/no-local-accounts:{TAG}"))
                && early.stdout.is_empty(),
            "{}",
            early.describe()
        );

        let pushed = push_all(&registry, dir.path());
        let run = aksid_run(dir.path(), &args).expect_code(0);
        let documents = support::yaml_documents(&run.stdout);
        assert_eq!(documents.len(), 4, "{}", run.describe());
        let mut named = Vec::new();
        for (id, document) in POLICIES.into_iter().zip(documents) {
            let module = format!("registry://{prefix}/{id}@{}", pushed[id].digest);
            crd::assert_policy(id, &document, &module, "protect", &json!({}));
            named.push((format!("manifests --digest ({id})"), document));
        }
        crd_schema::assert_conform(&named);
    }
}
