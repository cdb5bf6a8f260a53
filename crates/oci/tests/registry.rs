//! aksid-oci against a real OCI registry: Debian's distribution registry (`docker-registry`)
//! started per test on a loopback address and a free port, read back with independent clients
//! (skopeo, oras). Install the tools with `tests/support/install-test-tools.sh`.

#[path = "registry/support.rs"]
mod support;

use aksid_oci::{
    PullError, PushError, RegistryErrorKind, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE,
    sha256_digest,
};
use aksid_test_registry::error_chain;
use support::{Htpasswd, OciReference, Registry, client_in, scratch};

mod round_trip {
    use super::*;

    #[test]
    fn push_all_four_policies_pull_them_back_and_compare_digests() {
        let registry = Registry::start("round-trip");
        let dir = scratch("round-trip");
        let client = client_in(dir.path(), None);
        for module in support::policy_modules() {
            eprintln!("pushing {} from {}", module.name, module.origin);
            let target = registry.oci_reference(&format!("aksid/{}:v0.1.0", module.name));
            let pushed = client
                .push(&module.bytes, &target)
                .unwrap_or_else(|e| panic!("push {}: {}", module.name, error_chain(&e)));
            assert_eq!(pushed.layer_digest, sha256_digest(&module.bytes));
            assert_eq!(
                pushed.reference_with_digest.to_string(),
                format!("{target}@{}", pushed.manifest_digest)
            );

            let by_tag = client.pull(&target).unwrap();
            assert_eq!(by_tag.bytes, module.bytes, "{}", module.name);
            assert_eq!(by_tag.manifest_digest, pushed.manifest_digest);
            assert_eq!(by_tag.layer_digest, pushed.layer_digest);
            assert_eq!(by_tag.reference_with_digest, pushed.reference_with_digest);
            assert!(!by_tag.from_cache);

            // Pushing the same module again gives the same manifest digest.
            let again = client.push(&module.bytes, &target).unwrap();
            assert_eq!(again.manifest_digest, pushed.manifest_digest);
        }
    }

    #[test]
    fn pull_by_sha256_pin_alone() {
        let registry = Registry::start("pin-alone");
        let dir = scratch("pin-alone");
        let client = client_in(dir.path(), None);
        let module = support::stand_in_module("pin-alone", 0);
        let pushed = client
            .push(&module, &registry.oci_reference("aksid/pin-alone:v1"))
            .unwrap();
        let digest_only = aksid_oci::Reference::parse(&format!(
            "registry://{}/aksid/pin-alone@{}",
            registry.address(),
            pushed.manifest_digest
        ))
        .unwrap();
        let pulled = client.pull(&digest_only).unwrap();
        assert_eq!(pulled.bytes, module);
        assert_eq!(pulled.manifest_digest, pushed.manifest_digest);
        assert!(!pulled.from_cache);
    }

    #[test]
    fn a_module_larger_than_one_upload_chunk_round_trips() {
        // oci-client uploads in 4 MiB chunks: 9 MiB takes three.
        let registry = Registry::start("large");
        let dir = scratch("large");
        let client = client_in(dir.path(), None);
        let module = support::stand_in_module("large", 9 * 1024 * 1024);
        let pushed = client
            .push(&module, &registry.oci_reference("aksid/large:v1"))
            .unwrap();
        let pulled = client.pull(&pushed.reference_with_digest).unwrap();
        assert_eq!(pulled.bytes.len(), module.len());
        assert!(pulled.bytes == module);
    }

    #[test]
    fn force_pushes_an_unannotated_module_without_annotations() {
        let registry = Registry::start("force");
        let dir = scratch("force");
        let bare = wat::parse_str("(module)").unwrap();
        let target = registry.oci_reference("aksid/bare:v1");
        let err = client_in(dir.path(), None)
            .push(&bare, &target)
            .unwrap_err();
        assert!(matches!(err, PushError::NotAnnotated { .. }), "{err}");

        let config = dir.path().join("empty.json");
        std::fs::write(&config, "{}").unwrap();
        let forced = aksid_oci::Client::new(
            aksid_oci::ClientOptions::new(dir.path().join("cache"))
                .docker_config(&config)
                .force(true),
        )
        .unwrap();
        let pushed = forced.push(&bare, &target).unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&support::skopeo_raw_manifest(
            &format!("{}/aksid/bare:v1", registry.address()),
        ))
        .unwrap();
        assert!(manifest.get("annotations").is_none(), "{manifest}");
        assert_eq!(forced.pull(&target).unwrap().bytes, bare);
        assert_eq!(pushed.layer_digest, sha256_digest(&bare));
    }
}

mod independent_clients {
    use super::*;

    #[test]
    fn skopeo_and_oras_see_the_kubewarden_artifact_shape() {
        let registry = Registry::start("independent");
        let dir = scratch("independent");
        let client = client_in(dir.path(), None);
        let mut oras_args = vec![registry.address().to_owned()];
        let mut expected = Vec::new();
        for module in support::policy_modules() {
            let repository = format!("aksid/{}", module.name);
            let pushed = client
                .push(
                    &module.bytes,
                    &registry.oci_reference(&format!("{repository}:v0.1.0")),
                )
                .unwrap();
            let image = format!("{}/{repository}:v0.1.0", registry.address());

            // skopeo: the manifest bytes, exactly as the registry serves them.
            let raw = support::skopeo_raw_manifest(&image);
            assert_eq!(sha256_digest(&raw), pushed.manifest_digest);
            let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(manifest["schemaVersion"], 2);
            assert_eq!(
                manifest["mediaType"],
                "application/vnd.oci.image.manifest.v1+json"
            );
            assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG_MEDIA_TYPE);
            assert_eq!(manifest["config"]["digest"], sha256_digest(b"{}"));
            assert_eq!(manifest["config"]["size"], 2);
            let layers = manifest["layers"].as_array().unwrap();
            assert_eq!(layers.len(), 1, "{manifest}");
            assert_eq!(layers[0]["mediaType"], WASM_LAYER_MEDIA_TYPE);
            assert_eq!(layers[0]["digest"], pushed.layer_digest.as_str());
            assert_eq!(layers[0]["size"], module.bytes.len() as u64);

            // The annotations are the module's metadata annotations, single-line ones only,
            // with the source copied to the OCI key.
            let metadata = aksid_metadata::Metadata::from_wasm(&module.bytes)
                .unwrap()
                .unwrap();
            let annotations = manifest["annotations"].as_object().unwrap();
            for (key, value) in &metadata.annotations {
                if value.lines().count() <= 1 {
                    assert_eq!(annotations[key], value.trim(), "{key}");
                } else {
                    assert!(
                        !annotations.contains_key(key),
                        "multi-line {key} in manifest"
                    );
                }
            }
            assert_eq!(
                annotations["io.kubewarden.policy.title"],
                module.name.as_str()
            );
            if let Some(source) = metadata.annotation("io.kubewarden.policy.source") {
                assert_eq!(annotations["org.opencontainers.image.source"], source);
            }

            let out_dir = dir.path().join(format!("oras-{}", module.name));
            oras_args.extend([image, out_dir.to_str().unwrap().to_owned()]);
            expected.push((module, manifest));
        }

        // oras (Python): the same manifests, and the layer bytes equal the modules.
        let args: Vec<&str> = oras_args.iter().map(String::as_str).collect();
        let pulled: Vec<serde_json::Value> =
            serde_json::from_str(&support::oras(support::ORAS_PULL, &args)).unwrap();
        assert_eq!(pulled.len(), expected.len());
        for ((module, manifest), pulled) in expected.iter().zip(&pulled) {
            assert_eq!(pulled["manifest"], *manifest, "{}", module.name);
            let files = pulled["files"].as_array().unwrap();
            assert_eq!(files.len(), 1, "{pulled}");
            let layer = std::fs::read(files[0].as_str().unwrap()).unwrap();
            assert!(
                layer == module.bytes,
                "oras got other bytes for {}",
                module.name
            );
        }
    }

    #[test]
    fn an_artifact_that_is_not_a_policy_is_refused_with_its_media_types() {
        let registry = Registry::start("not-a-policy");
        let dir = scratch("not-a-policy");
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "not a policy").unwrap();
        let image = format!("{}/aksid/notes:v1", registry.address());
        support::oras(
            support::ORAS_PUSH_FILE,
            &[registry.address(), &image, file.to_str().unwrap()],
        );
        let client = client_in(dir.path(), None);
        let err = client
            .pull(&registry.oci_reference("aksid/notes:v1"))
            .unwrap_err();
        let message = error_chain(&err);
        assert!(matches!(err, PullError::NotAPolicy { .. }), "{message}");
        assert!(message.contains(WASM_LAYER_MEDIA_TYPE), "{message}");
        assert!(
            message.contains("application/vnd.oci.image.layer.v1.tar"),
            "{message}"
        );
    }
}

mod pinning {
    use super::*;

    #[test]
    fn a_registry_serving_another_manifest_for_the_pin_is_refused_naming_both_digests() {
        let mut registry = Registry::start("pin-mismatch");
        let dir = scratch("pin-mismatch");
        let client = client_in(dir.path(), None);
        let a = client
            .push(
                &support::stand_in_module("pin-mismatch-a", 0),
                &registry.oci_reference("aksid/p:a"),
            )
            .unwrap();
        let b = client
            .push(
                &support::stand_in_module("pin-mismatch-b", 0),
                &registry.oci_reference("aksid/p:b"),
            )
            .unwrap();
        // Tamper with the registry's storage: A's manifest blob now holds B's manifest.
        let b_manifest = std::fs::read(registry.blob_path(&b.manifest_digest)).unwrap();
        std::fs::write(registry.blob_path(&a.manifest_digest), &b_manifest).unwrap();

        let err = client.pull(&a.reference_with_digest).unwrap_err();
        let message = error_chain(&err);
        assert!(
            matches!(&err, PullError::PinMismatch { pinned, actual, .. }
                if *pinned == a.manifest_digest && *actual == b.manifest_digest),
            "{message}\n\nregistry log:\n{}",
            registry.log()
        );
        assert!(
            message.contains(&a.manifest_digest) && message.contains(&b.manifest_digest),
            "{message}"
        );
        // Nothing was cached for the pin.
        registry.stop();
        assert!(client.pull(&a.reference_with_digest).is_err());
    }

    #[test]
    fn a_tampered_layer_is_refused() {
        let registry = Registry::start("layer-tamper");
        let dir = scratch("layer-tamper");
        let client = client_in(dir.path(), None);
        let module = support::stand_in_module("layer-tamper", 0);
        let pushed = client
            .push(&module, &registry.oci_reference("aksid/p:v1"))
            .unwrap();
        let mut tampered = module.clone();
        *tampered.last_mut().unwrap() ^= 0xff;
        std::fs::write(registry.blob_path(&pushed.layer_digest), &tampered).unwrap();
        let err = client.pull(&pushed.reference_with_digest).unwrap_err();
        assert!(
            matches!(&err, PullError::LayerDigestMismatch { expected, .. } if *expected == pushed.layer_digest),
            "{}",
            error_chain(&err)
        );
    }

    #[test]
    fn an_unknown_pin_is_not_found() {
        let registry = Registry::start("unknown-pin");
        let dir = scratch("unknown-pin");
        let client = client_in(dir.path(), None);
        client
            .push(
                &support::stand_in_module("unknown-pin", 0),
                &registry.oci_reference("aksid/p:v1"),
            )
            .unwrap();
        let unknown = registry
            .oci_reference("aksid/p:v1")
            .with_digest(&sha256_digest(b"nothing"))
            .unwrap();
        let err = client.pull(&unknown).unwrap_err();
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::NotFound),
            "{}",
            error_chain(&err)
        );
        let missing_tag = client
            .pull(&registry.oci_reference("aksid/p:v2"))
            .unwrap_err();
        assert_eq!(
            missing_tag.registry_kind(),
            Some(RegistryErrorKind::NotFound)
        );
        assert!(
            error_chain(&missing_tag).contains("does not exist"),
            "{}",
            error_chain(&missing_tag)
        );
    }

    #[test]
    fn the_pinned_digest_wins_over_a_moved_tag() {
        // As in Kubewarden and containerd: with a digest, the tag is informational.
        let registry = Registry::start("moved-tag");
        let dir = scratch("moved-tag");
        let client = client_in(dir.path(), None);
        let old = support::stand_in_module("moved-tag-old", 0);
        let first = client
            .push(&old, &registry.oci_reference("aksid/p:v1"))
            .unwrap();
        let new = support::stand_in_module("moved-tag-new", 0);
        client
            .push(&new, &registry.oci_reference("aksid/p:v1"))
            .unwrap();
        assert_eq!(
            client
                .pull(&registry.oci_reference("aksid/p:v1"))
                .unwrap()
                .bytes,
            new
        );
        let pinned = client.pull(&first.reference_with_digest).unwrap();
        assert_eq!(pinned.bytes, old);
        assert_eq!(pinned.manifest_digest, first.manifest_digest);
    }
}

mod cache {
    use super::*;

    #[test]
    fn a_pinned_pull_is_served_from_the_cache_the_second_time_even_offline() {
        let mut registry = Registry::start("cache-hit");
        let dir = scratch("cache-hit");
        let client = client_in(dir.path(), None);
        let module = support::stand_in_module("cache-hit", 0);
        let pushed = client
            .push(&module, &registry.oci_reference("aksid/p:v1"))
            .unwrap();
        let first = client.pull(&pushed.reference_with_digest).unwrap();
        assert!(!first.from_cache);
        // A tag resolves at the registry, then uses the cached module for its digest.
        let by_tag = client.pull(&registry.oci_reference("aksid/p:v1")).unwrap();
        assert!(by_tag.from_cache);
        assert_eq!(by_tag.manifest_digest, pushed.manifest_digest);

        registry.stop();
        let second = client.pull(&pushed.reference_with_digest).unwrap();
        assert!(second.from_cache);
        assert_eq!(second.bytes, module);
        assert_eq!(second.layer_digest, pushed.layer_digest);
        // A tag is never answered from the cache alone: tags move.
        let err = client
            .pull(&registry.oci_reference("aksid/p:v1"))
            .unwrap_err();
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::Connection),
            "{}",
            error_chain(&err)
        );
    }

    #[test]
    fn a_corrupt_cache_entry_is_fetched_again() {
        let registry = Registry::start("cache-corrupt");
        let dir = scratch("cache-corrupt");
        let client = client_in(dir.path(), None);
        let module = support::stand_in_module("cache-corrupt", 0);
        let pushed = client
            .push(&module, &registry.oci_reference("aksid/p:v1"))
            .unwrap();
        assert!(
            !client
                .pull(&pushed.reference_with_digest)
                .unwrap()
                .from_cache
        );

        let entry = dir
            .path()
            .join("cache/sha256")
            .join(pushed.manifest_digest.strip_prefix("sha256:").unwrap());
        let cached = entry.join("policy.wasm");
        assert_eq!(
            std::fs::read(&cached).unwrap(),
            module,
            "documented cache layout"
        );
        let mut corrupt = module.clone();
        corrupt[8] ^= 0x01;
        std::fs::write(&cached, &corrupt).unwrap();

        let refetched = client.pull(&pushed.reference_with_digest).unwrap();
        assert!(!refetched.from_cache, "a corrupt entry must not be served");
        assert_eq!(refetched.bytes, module);
        assert_eq!(
            std::fs::read(&cached).unwrap(),
            module,
            "the entry is repaired"
        );
        assert!(
            client
                .pull(&pushed.reference_with_digest)
                .unwrap()
                .from_cache
        );

        // A truncated manifest is caught too.
        std::fs::write(entry.join("manifest.json"), b"{").unwrap();
        assert!(
            !client
                .pull(&pushed.reference_with_digest)
                .unwrap()
                .from_cache
        );
    }
}

mod auth {
    use super::*;
    use base64::Engine as _;

    const USER: &str = "aksid-ci";
    const PASSWORD: &str = "s3cret:with-colon";

    fn docker_config(
        dir: &std::path::Path,
        registry: &str,
        entry: serde_json::Value,
    ) -> std::path::PathBuf {
        let path = dir.join("config.json");
        let config = serde_json::json!({"auths": {registry: entry}});
        std::fs::write(&path, config.to_string()).unwrap();
        path
    }

    fn basic(user: &str, password: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    }

    #[test]
    fn docker_config_credentials_push_and_pull() {
        let registry = Registry::start_with_auth(
            "auth-config",
            Htpasswd {
                user: USER,
                password: PASSWORD,
            },
        );
        let module = support::stand_in_module("auth-config", 0);
        let target = registry.oci_reference("aksid/p:v1");
        let entries = [
            serde_json::json!({"auth": basic(USER, PASSWORD)}),
            serde_json::json!({"username": USER, "password": PASSWORD}),
        ];
        for (i, entry) in entries.into_iter().enumerate() {
            let dir = scratch(&format!("auth-config-{i}"));
            let key = if i == 0 {
                format!("http://{}", registry.address())
            } else {
                registry.address().to_owned()
            };
            let config = docker_config(dir.path(), &key, entry);
            let client = client_in(dir.path(), Some(&config));
            let pushed = client
                .push(&module, &target)
                .unwrap_or_else(|e| panic!("push: {}\n{}", error_chain(&e), registry.log()));
            let pulled = client.pull(&target).unwrap();
            assert_eq!(pulled.bytes, module);
            assert_eq!(pulled.manifest_digest, pushed.manifest_digest);
        }
    }

    #[test]
    fn anonymous_and_wrong_credentials_are_refused_with_a_hint() {
        let registry = Registry::start_with_auth(
            "auth-refused",
            Htpasswd {
                user: USER,
                password: PASSWORD,
            },
        );
        let module = support::stand_in_module("auth-refused", 0);
        let target = registry.oci_reference("aksid/p:v1");

        let dir = scratch("auth-anonymous");
        let err = client_in(dir.path(), None)
            .push(&module, &target)
            .unwrap_err();
        let message = error_chain(&err);
        assert!(
            matches!(&err, PushError::Registry { source, .. } if source.kind() == RegistryErrorKind::Unauthorized),
            "{message}"
        );
        assert!(message.contains("AKSID_REGISTRY_USERNAME"), "{message}");
        let err = client_in(dir.path(), None).pull(&target).unwrap_err();
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::Unauthorized),
            "{}",
            error_chain(&err)
        );

        let dir = scratch("auth-wrong");
        let config = docker_config(
            dir.path(),
            registry.address(),
            serde_json::json!({"auth": basic(USER, "wrong")}),
        );
        let err = client_in(dir.path(), Some(&config))
            .push(&module, &target)
            .unwrap_err();
        let message = error_chain(&err);
        assert!(
            matches!(&err, PushError::Registry { source, .. } if source.kind() == RegistryErrorKind::Unauthorized),
            "{message}"
        );
        assert!(
            message.contains("refused") && message.contains("config.json"),
            "{message}"
        );
    }

    #[test]
    fn a_credential_helper_is_reported_only_for_its_registry() {
        let registry = Registry::start_with_auth(
            "auth-helper",
            Htpasswd {
                user: USER,
                password: PASSWORD,
            },
        );
        let dir = scratch("auth-helper");
        let path = dir.path().join("docker-config.json");
        let config =
            serde_json::json!({"auths": {registry.address(): {}}, "credsStore": "desktop"});
        std::fs::write(&path, config.to_string()).unwrap();
        let client = client_in(dir.path(), Some(&path));
        let err = client
            .pull(&registry.oci_reference("aksid/p:v1"))
            .unwrap_err();
        let message = error_chain(&err);
        assert!(matches!(err, PullError::Credentials(_)), "{message}");
        assert!(
            message.contains("docker-credential-desktop")
                && message.contains("AKSID_REGISTRY_PASSWORD"),
            "{message}"
        );
    }

    /// The environment pair, in a child process so that no other test sees the variables.
    #[test]
    fn environment_credentials_push_and_pull() {
        let registry = Registry::start_with_auth(
            "auth-env",
            Htpasswd {
                user: USER,
                password: PASSWORD,
            },
        );
        let dir = scratch("auth-env");
        let module_path = dir.path().join("module.wasm");
        std::fs::write(&module_path, support::stand_in_module("auth-env", 0)).unwrap();
        // A Docker config with wrong credentials: the environment must win over it.
        let config = docker_config(
            dir.path(),
            registry.address(),
            serde_json::json!({"auth": basic(USER, "wrong")}),
        );
        let run = |user: Option<&str>, password: Option<&str>, server: Option<&str>| {
            let mut command = std::process::Command::new(std::env::current_exe().unwrap());
            command
                .args([
                    "--exact",
                    "auth::child_push_pull_with_environment",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("AKSID_OCI_TEST_CHILD", "1")
                .env(
                    "AKSID_OCI_TEST_REFERENCE",
                    registry.oci_reference("aksid/env:v1").to_string(),
                )
                .env("AKSID_OCI_TEST_MODULE", &module_path)
                .env("AKSID_OCI_TEST_DIR", dir.path())
                .env("DOCKER_CONFIG", config.parent().unwrap())
                .env_remove("AKSID_REGISTRY_USERNAME")
                .env_remove("AKSID_REGISTRY_PASSWORD")
                .env_remove("AKSID_REGISTRY_SERVER");
            if let Some(server) = server {
                command.env("AKSID_REGISTRY_SERVER", server);
            }
            if let Some(user) = user {
                command.env("AKSID_REGISTRY_USERNAME", user);
            }
            if let Some(password) = password {
                command.env("AKSID_REGISTRY_PASSWORD", password);
            }
            command.output().unwrap()
        };
        let address = Some(registry.address());
        let ok = run(Some(USER), Some(PASSWORD), address);
        let stdout = String::from_utf8_lossy(&ok.stdout);
        assert!(
            ok.status.success() && stdout.contains("child: pushed and pulled"),
            "child failed:\n```\n{stdout}\n{}\n```",
            String::from_utf8_lossy(&ok.stderr)
        );
        let half = run(Some(USER), None, address);
        let stdout = String::from_utf8_lossy(&half.stdout);
        assert!(stdout.contains("child: client error: AKSID_REGISTRY_USERNAME is set but AKSID_REGISTRY_PASSWORD is not"), "{stdout}");
        // The pair without the server it is for is refused, saying what to set.
        let unbound = run(Some(USER), Some(PASSWORD), None);
        let stdout = String::from_utf8_lossy(&unbound.stdout);
        assert!(
            stdout.contains("child: client error: AKSID_REGISTRY_USERNAME and AKSID_REGISTRY_PASSWORD are set but AKSID_REGISTRY_SERVER is not")
                && stdout.contains("Set AKSID_REGISTRY_SERVER"),
            "{stdout}"
        );
        assert!(!stdout.contains(PASSWORD), "{stdout}");
        // Bound to another registry, the environment pair is not used here: the Docker config's
        // (wrong) credentials are, and the registry refuses them.
        let elsewhere = run(Some(USER), Some(PASSWORD), Some("registry.example.com"));
        let stderr = String::from_utf8_lossy(&elsewhere.stderr);
        assert!(
            !elsewhere.status.success() && stderr.contains("Docker config file"),
            "{stderr}"
        );
    }

    #[test]
    #[ignore = "run by environment_credentials_push_and_pull in a child process"]
    fn child_push_pull_with_environment() {
        if std::env::var_os("AKSID_OCI_TEST_CHILD").is_none() {
            return;
        }
        let var = |name| std::env::var(name).unwrap();
        let dir = std::path::PathBuf::from(var("AKSID_OCI_TEST_DIR"));
        let client =
            match aksid_oci::Client::new(aksid_oci::ClientOptions::new(dir.join("child-cache"))) {
                Ok(client) => client,
                Err(e) => {
                    println!("child: client error: {}", error_chain(&e));
                    return;
                }
            };
        let module = std::fs::read(var("AKSID_OCI_TEST_MODULE")).unwrap();
        let target = aksid_oci::Reference::parse(&var("AKSID_OCI_TEST_REFERENCE")).unwrap();
        let pushed = client
            .push(&module, &target)
            .unwrap_or_else(|e| panic!("push: {}", error_chain(&e)));
        let pulled = client
            .pull(&pushed.reference_with_digest)
            .unwrap_or_else(|e| panic!("pull: {}", error_chain(&e)));
        assert_eq!(pulled.bytes, module);
        println!("child: pushed and pulled {}", pushed.reference_with_digest);
    }
}

mod transport {
    use super::*;

    #[test]
    fn plain_http_to_a_non_local_host_needs_the_insecure_flag() {
        // 127.0.0.2 is loopback to the kernel but not on the client's plain-HTTP list, so it
        // stands for any remote plain-HTTP registry without leaving the machine.
        let registry = Registry::start_on("insecure", "127.0.0.2");
        let dir = scratch("insecure");
        let module = support::stand_in_module("insecure", 0);
        let target = registry.oci_reference("aksid/p:v1");

        let err = client_in(dir.path(), None)
            .push(&module, &target)
            .unwrap_err();
        let message = error_chain(&err);
        assert!(
            matches!(&err, PushError::Registry { source, .. } if source.kind() == RegistryErrorKind::Connection),
            "{message}"
        );
        assert!(message.contains("insecure registry"), "{message}");

        let config = dir.path().join("empty.json");
        std::fs::write(&config, "{}").unwrap();
        let flagged = aksid_oci::Client::new(
            aksid_oci::ClientOptions::new(dir.path().join("cache"))
                .docker_config(&config)
                .insecure_registry("127.0.0.2"),
        )
        .unwrap();
        let pushed = flagged.push(&module, &target).unwrap();
        assert_eq!(
            flagged.pull(&pushed.reference_with_digest).unwrap().bytes,
            module
        );
    }
}
