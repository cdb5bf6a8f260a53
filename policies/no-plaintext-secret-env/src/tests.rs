//! End-to-end tests through the real waPC entry point: the `test_data` fixtures, message
//! redaction for every detector, the real-world corpus, and property tests.

use crate::NoPlaintextSecretEnv;
use crate::formats::tests::samples;
use aksid_policy_common::testing::{
    ObjectSet, arbitrary_object, assert_answers, corpus_mismatches, run, yaml_objects,
};
use aksid_policy_common::{NoCluster, validate};
use base64::Engine as _;
use proptest::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KINDS: &[(&str, &str)] = &[
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("v1", "ReplicationController"),
];

/// Runs a `test_data` fixture (a bare AdmissionRequest) with `settings` through `validate`.
fn run_fixture(file: &str, settings: Value) -> Value {
    let path = format!("{}/test_data/{file}", env!("CARGO_MANIFEST_DIR"));
    let request: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect(&path))
        .expect("fixture is JSON");
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
    serde_json::from_slice(&validate::<NoPlaintextSecretEnv>(&payload, &NoCluster).unwrap())
        .unwrap()
}

#[rstest]
// Known secret formats, whatever the variable is called.
#[case::reject_storage_connection_string(
    "deployment_with_storage_connection_string.json", json!({}), false,
    &["spec.template.spec.containers[api].env[STORAGE_CONNECTION]: value is an Azure Storage connection string with an account key; fix: move it to a Secret and use valueFrom.secretKeyRef, or mount it from Key Vault with the Secrets Store CSI driver; better, drop the key"])]
#[case::reject_entra_client_secret_in_init_container(
    "pod_with_entra_client_secret_in_init_container.json", json!({}), false,
    &["spec.initContainers[migrate].env[AZURE_CLIENT_SECRET]: value is a Microsoft Entra application client secret; fix: move it to a Secret and use valueFrom.secretKeyRef, or mount it from Key Vault with the Secrets Store CSI driver; better, drop the client secret and give the workload a Microsoft Entra Workload ID (federated credential)"])]
#[case::reject_credentials_in_a_url_named_url(
    "statefulset_with_credentials_in_database_url.json", json!({}), false,
    &["spec.template.spec.containers[catalog].env[DATABASE_URL]: value is a URL with a user name and password in it"])]
#[case::reject_base64_private_key_in_cronjob(
    "cronjob_with_base64_encoded_private_key.json", json!({}), false,
    &["spec.jobTemplate.spec.template.spec.containers[sign].env[SIGNING_MATERIAL]: value is base64 that decodes to a PEM private key"])]
#[case::reject_aws_key_id_despite_id_suffix(
    "replicationcontroller_with_aws_access_key_id.json", json!({}), false,
    &["spec.template.spec.containers[uploader].env[AWS_ACCESS_KEY_ID]: value is an AWS access key ID"])]
#[case::reject_sas_url_in_job(
    "job_with_sas_url.json", json!({}), false,
    &["spec.template.spec.containers[export].env[EXPORT_BLOB_URL]: value is an Azure shared access signature (SAS) with its signature"])]
#[case::reject_update_adding_a_github_token(
    "daemonset_update_adds_github_token.json", json!({}), false,
    &["spec.template.spec.containers[agent].env[GITHUB_TOKEN]: value is a GitHub access token"])]
#[case::reject_github_token_in_ephemeral_container(
    "pod_update_adds_github_token_in_ephemeral_container.json", json!({}), false,
    &["spec.ephemeralContainers[debugger].env[GH_TOKEN]: value is a GitHub access token"])]
#[case::accept_placeholders_references_and_urls_without_credentials(
    "deployment_with_connection_string_placeholders.json", json!({}), true, &[])]
// Variables named like secrets, with values that look real.
#[case::reject_literal_password_and_api_key(
    "deployment_with_literal_db_password.json", json!({}), false,
    &["spec.template.spec.containers[api].env[DB_PASSWORD]: value is a literal password in plain text (the name ends in PASSWORD); however short or common, it is the working credential, readable by anyone who can read the workload or its manifest; fix: move it to a Secret and use valueFrom.secretKeyRef, or mount it from Key Vault with the Secrets Store CSI driver; if it is not a password, add DB_PASSWORD to the policy's allowedNames setting, or set strictPasswords: false to judge such names by the value's shape",
      "spec.template.spec.containers[worker].env[PAYMENTS_API_KEY]: value looks like a real secret in plain text (the name contains API_KEY); fix: move it to a Secret and use valueFrom.secretKeyRef, or mount it from Key Vault with the Secrets Store CSI driver; if it is not a secret, add PAYMENTS_API_KEY to the policy's allowedNames setting"])]
#[case::reject_strong_password_by_shape_when_strict_passwords_is_off(
    "deployment_with_literal_db_password.json", json!({"strictPasswords": false}), false,
    &["spec.template.spec.containers[api].env[DB_PASSWORD]: value looks like a real secret in plain text (the name contains PASSWORD)",
      "spec.template.spec.containers[worker].env[PAYMENTS_API_KEY]: value looks like a real secret in plain text (the name contains API_KEY)"])]
#[case::accept_allowed_names_exact_and_prefix(
    "deployment_with_literal_db_password.json", json!({"allowedNames": ["DB_PASSWORD", "PAYMENTS_*"]}), true, &[])]
#[case::reject_passwords_whatever_min_length(
    "deployment_with_literal_db_password.json", json!({"minLength": 40}), false,
    &["containers[api].env[DB_PASSWORD]: value is a literal password"])]
#[case::reject_only_values_reaching_min_length(
    "deployment_with_literal_db_password.json", json!({"minLength": 30, "strictPasswords": false}), false,
    &["containers[worker].env[PAYMENTS_API_KEY]"])]
// Literal passwords, however short or common (strictPasswords).
#[case::reject_weak_literal_passwords(
    "statefulset_with_weak_literal_passwords.json", json!({}), false,
    &["spec.template.spec.containers[rabbitmq].env[RABBITMQ_DEFAULT_PASS]: value is a literal password in plain text (the name ends in PASS); however short or common, it is the working credential",
      "spec.template.spec.containers[grafana].env[GF_SECURITY_ADMIN_PASSWORD]: value is a literal password in plain text (the name ends in PASSWORD)",
      "spec.template.spec.containers[exporter].env[DB_PASSWORD]: value is a literal password",
      "spec.template.spec.containers[exporter].env[ADMIN_PASSWORD]: value is a literal password",
      "spec.template.spec.containers[exporter].env[MYSQL_PWD]: value is a literal password in plain text (the name ends in PWD)"])]
#[case::accept_weak_passwords_when_strict_passwords_is_off(
    "statefulset_with_weak_literal_passwords.json", json!({"strictPasswords": false}), true, &[])]
#[case::accept_password_names_with_references_paths_urls_numbers_durations_and_booleans(
    "deployment_with_password_names_and_non_password_values.json", json!({}), true, &[])]
// Key names as Azure samples write them (keyNames).
#[case::reject_azure_sample_keys(
    "deployment_with_azure_sample_keys.json", json!({}), false,
    &["spec.template.spec.containers[api].env[COSMOS_KEY]: value has the shape of an access key (long base64) and the name ends in KEY; whoever can read the workload or its manifest can use the key; fix: move it to a Secret and use valueFrom.secretKeyRef, or mount it from Key Vault with the Secrets Store CSI driver; better, where the service accepts Microsoft Entra ID (Cosmos DB, Event Hubs, Service Bus, AI Search, Azure OpenAI, Speech), drop the key and grant the workload's Microsoft Entra Workload ID an Azure RBAC role; if it is not a key, add COSMOS_KEY to the policy's allowedNames setting, or set keyNames: false",
      "containers[api].env[COSMOS_DB_KEY]: value has the shape of an access key (long base64)",
      "containers[api].env[EVENTHUB_KEY]: value has the shape of an access key (long base64)",
      "containers[api].env[SEARCH_KEY]: value has the shape of an access key (long base64)",
      "containers[api].env[OPENAI_KEY]: value has the shape of an access key (long hex)",
      "containers[api].env[SPEECH_KEY]: value has the shape of an access key (long hex)",
      "containers[api].env[HOST_KEY]: value has the shape of an access key (long base64)",
      "spec.template.spec.containers[dotnet].env[CosmosDb__Key]: value has the shape of an access key (long base64)"])]
#[case::accept_azure_sample_keys_when_key_names_is_off(
    "deployment_with_azure_sample_keys.json", json!({"keyNames": false}), true, &[])]
#[case::accept_key_names_with_empty_reference_path_and_data_key_values(
    "deployment_with_key_names_and_non_key_values.json", json!({}), true, &[])]
#[case::accept_paths_references_placeholders_and_metadata_names(
    "deployment_with_secret_references_and_metadata_names.json", json!({}), true, &[])]
// valueFrom passes; rejectSecretKeyRef adds the CIS rule.
#[case::accept_secret_key_ref_by_default(
    "deployment_with_secret_key_ref_and_csi_volume.json", json!({}), true, &[])]
#[case::reject_secret_key_ref_and_env_from_when_asked(
    "deployment_with_secret_key_ref_and_csi_volume.json", json!({"rejectSecretKeyRef": true}), false,
    &["spec.template.spec.containers[api].env[DB_PASSWORD].valueFrom.secretKeyRef: reads key `password` of Secret `orders-db` into an environment variable, which the setting rejectSecretKeyRef forbids; fix: mount the Secret as a file (a secret volume) and have the application read the file, or mount the value from Key Vault with the Secrets Store CSI driver",
      "spec.template.spec.containers[api].envFrom[1].secretRef: imports every key of Secret `orders-api-keys` as environment variables"])]
#[case::reject_only_env_from_when_the_variable_is_allowed(
    "deployment_with_secret_key_ref_and_csi_volume.json", json!({"rejectSecretKeyRef": true, "allowedNames": ["DB_PASSWORD"]}), false,
    &["envFrom[1].secretRef"])]
// Extra patterns.
#[case::accept_unknown_format_by_default("deployment_with_contoso_api_key.json", json!({}), true, &[])]
#[case::reject_extra_pattern_by_name(
    "deployment_with_contoso_api_key.json", json!({"extraPatterns": [{"name": "Contoso API key", "regex": "ctso_[0-9a-f]{16}"}]}), false,
    &["spec.template.spec.containers[api].env[UPSTREAM_HEADER_VALUE]: value matches the extra pattern `Contoso API key`; fix: move it to a Secret"])]
#[case::reject_extra_pattern_by_index(
    "deployment_with_contoso_api_key.json", json!({"extraPatterns": ["nope", "(?i)CTSO_[0-9A-F]+"]}), false,
    &["value matches the extra pattern extraPatterns[1]"])]
#[case::reject_uncompilable_extra_pattern_fail_closed(
    "deployment_with_contoso_api_key.json", json!({"extraPatterns": ["("]}), false,
    &["settings.extraPatterns[0]: is not a valid regex"])]
// Operations and kinds.
#[case::accept_delete("delete_of_deployment_with_literal_password.json", json!({}), true, &[])]
#[case::accept_kinds_without_containers("configmap_is_not_judged.json", json!({}), true, &[])]
fn fixtures(
    #[case] file: &str,
    #[case] settings: Value,
    #[case] accepted: bool,
    #[case] parts: &[&str],
) {
    let response = run_fixture(file, settings);
    assert_eq!(response["accepted"], accepted, "{file}: {response}");
    let message = response["message"].as_str().unwrap_or("");
    assert_eq!(
        message.lines().count(),
        parts.len(),
        "{file}: one line per expected finding\n```\n{message}\n```"
    );
    for part in parts {
        assert!(
            message.contains(part),
            "{file}: message\n```\n{message}\n```\ndoes not contain\n```\n{part}\n```"
        );
    }
}

#[test]
fn secret_key_ref_fixture_with_allowed_name_reports_only_env_from() {
    let response = run_fixture(
        "deployment_with_secret_key_ref_and_csi_volume.json",
        json!({"rejectSecretKeyRef": true, "allowedNames": ["DB_PASSWORD"]}),
    );
    assert_eq!(
        response["message"].as_str().unwrap().lines().count(),
        1,
        "{response}"
    );
}

fn deployment_with_env(name: &str, value: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "shop"},
           "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:1",
                    "env": [{"name": name, "value": value}]}]}}}})
}

/// Every way a value can be flagged, with the variable name it is flagged under.
fn flagged_values() -> Vec<(String, String)> {
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut cases = Vec::new();
    for (_, value) in samples() {
        cases.push(("VAR_UNDER_TEST".to_owned(), base64.encode(&value)));
        cases.push(("VAR_UNDER_TEST".to_owned(), value));
    }
    cases.push((
        "AWS_SECRET_ACCESS_KEY".to_owned(),
        format!("wJalrXUtnFEMI/K7MDENG/{}", "bPxRfiCYEXAMPLEKEY"),
    ));
    cases.push((
        "DB_PASSWORD".to_owned(),
        "S3cr3tP@ssw0rd!2024xyz".to_owned(),
    ));
    cases.push(("DB_PASSWORD".to_owned(), "hunter2".to_owned()));
    cases.push(("GF_SECURITY_ADMIN_PASSWORD".to_owned(), "Tr0ub4".to_owned()));
    cases.push((
        "CosmosDb__Key".to_owned(),
        format!(
            "C2y6yDjf5R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8{}",
            "mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
        ),
    ));
    cases.push((
        "OPENAI_KEY".to_owned(),
        format!("3f9c2a7b1e8d4f60{}", "a5c9b2e7d1f4a8c6"),
    ));
    cases.push((
        "CONTOSO_VALUE".to_owned(),
        "ctso_4f1d9a0b7c3e5f21".to_owned(),
    ));
    cases
}

#[rstest]
#[case::java_options("JAVA_OPTS", "-Xmx512m -XX:+UseG1GC -Dfile.encoding=UTF-8", true)]
#[case::no_proxy("NO_PROXY", "localhost,127.0.0.1,.svc,.cluster.local,10.0.0.0/8", true)]
#[case::token_endpoint(
    "TOKEN_ENDPOINT",
    "https://login.microsoftonline.com/contoso/oauth2/v2.0/token",
    true
)]
#[case::scoped_npm_registry("NPM_REGISTRY", "https://registry.npmjs.org/@contoso", true)]
#[case::git_ssh_url("GIT_REPO", "git+ssh://git@github.com/contoso/orders.git", true)]
#[case::upper_case_region("REGION", "ASIAPACIFICSOUTHEAST", true)]
#[case::secret_store_identifier("SECRET_STORE", "azure-keyvault", true)]
#[case::jwt_algorithm("JWT_ALGORITHM", "RS256", true)]
#[case::password_policy_number("PASSWORD_MIN_LENGTH", "12", true)]
#[case::api_key_header("API_KEY_HEADER", "X-Api-Key", true)]
#[case::auth_provider("AUTH_PROVIDER", "AzureADMultipleOrgs", true)]
#[case::dependent_variable("DB_PASSWORD", "$(DB_PASSWORD_FROM_SECRET)", true)]
#[case::otel_attributes(
    "OTEL_RESOURCE_ATTRIBUTES",
    "service.name=orders,deployment.environment=prod",
    true
)]
#[case::sql_managed_identity(
    "SQL_CONNECTION_STRING",
    "Server=tcp:sql-shop.database.windows.net;Authentication=Active Directory Managed Identity;Database=shop",
    true
)]
#[case::app_insights_connection_string(
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
    true
)]
#[case::secret_flag("SECRET", "true", true)]
#[case::jdbc_password(
    "SPRING_DATASOURCE_URL",
    "jdbc:sqlserver://db:1433;databaseName=shop;user=sa;password=Str0ng!Pass",
    false
)]
#[case::redis_access_key(
    "REDIS",
    "redis-shop.redis.cache.windows.net:6380,password=Qw3rtyXy9zAbCdEfGhIjKlMnOpQrStUvWxYz01234=,ssl=True,abortConnect=False",
    false
)]
#[case::bearer_header("AUTHORIZATION", "Bearer 9f86d081884c7d659a2feaa0c55ad015", false)]
#[case::quickstart_rabbitmq_password("RABBITMQ_DEFAULT_PASS", "password", false)]
#[case::grafana_admin_password("GF_SECURITY_ADMIN_PASSWORD", "admin", false)]
#[case::changeme_is_a_password("POSTGRES_PASSWORD", "changeme", false)]
#[case::password_with_spaces("MYSQL_ROOT_PASSWORD", "correct horse battery staple", false)]
#[case::dotnet_colon_key(
    "CosmosDb:Key",
    "C2y6yDjf5R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
    false
)]
#[case::glued_key_name("OPENAIKEY", "3f9c2a7b1e8d4f60a5c9b2e7d1f4a8c6", false)]
#[case::key_name_with_connection_string(
    "COSMOS_KEY",
    "AccountEndpoint=https://cosmos-shop.documents.azure.com:443/;AccountKey=shortkey1;",
    false
)]
#[case::unix_working_directory("PWD", "/app", true)]
#[case::password_duration("SESSION_PASSWORD", "30m", true)]
#[case::password_from_dependent_variable("DB_PASS", "$(DB_PASS_FROM_SECRET)", true)]
#[case::token_ttl("TOKEN_TTL", "1h", true)]
#[case::partition_key("PARTITION_KEY", "/customerId", true)]
#[case::key_name_with_identifier("SIGNING_KEY", "orders-signing-key-v2", true)]
#[case::public_key_material(
    "JWT_PUBLIC_KEY",
    "C2y6yDjf5R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
    true
)]
#[case::app_insights_key_name(
    "APPINSIGHTS_KEY",
    "InstrumentationKey=b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
    true
)]
fn common_values(#[case] name: &str, #[case] value: &str, #[case] accepted: bool) {
    let response =
        run::<NoPlaintextSecretEnv>(&deployment_with_env(name, value), json!({}), &NoCluster);
    assert_eq!(response["accepted"], accepted, "{name}={value}: {response}");
}

#[test]
fn messages_never_contain_the_value_or_any_part_of_it() {
    let settings =
        json!({"extraPatterns": [{"name": "Contoso API key", "regex": "ctso_[0-9a-f]{16}"}]});
    for (name, value) in flagged_values() {
        let response = run::<NoPlaintextSecretEnv>(
            &deployment_with_env(&name, &value),
            settings.clone(),
            &NoCluster,
        );
        assert_eq!(response["accepted"], false, "{name}={value} was accepted");
        let message = response["message"].as_str().unwrap();
        let chars: Vec<char> = value.chars().collect();
        assert!(
            !message.contains(&value),
            "message leaks the value of {name}:\n```\n{message}\n```"
        );
        for window in chars.windows(8) {
            let part: String = window.iter().collect();
            assert!(
                !message.contains(&part),
                "message leaks `{part}` of the value of {name}:\n```\n{message}\n```"
            );
        }
    }
}

#[test]
fn corpus_verdicts_match_expected() {
    let mismatches = corpus_mismatches::<NoPlaintextSecretEnv>("no-plaintext-secret-env");
    assert!(
        mismatches.is_empty(),
        "corpus mismatches:\n{}",
        mismatches.join("\n")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics(o in arbitrary_object(KINDS)) {
        assert_answers::<NoPlaintextSecretEnv>(&o, &json!({}), &ObjectSet(vec![o.clone()]));
    }

    #[test]
    fn never_panics_on_arbitrary_env_and_never_echoes_a_value(
        env in prop::collection::vec(("[A-Za-z_.-]{0,24}", "(?s).{0,120}|[A-Za-z0-9+/=~._:@;&?%-]{12,90}"), 0..12),
        reject_secret_key_ref in any::<bool>(),
    ) {
        let env: Vec<Value> = env.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                         "spec": {"initContainers": [{"name": "i", "env": env}], "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}]}});
        let settings = json!({"rejectSecretKeyRef": reject_secret_key_ref});
        assert_answers::<NoPlaintextSecretEnv>(&pod, &settings, &NoCluster);
        let response = run::<NoPlaintextSecretEnv>(&pod, settings, &NoCluster);
        let message = response["message"].as_str().unwrap_or("");
        for e in &env {
            let value = e["value"].as_str().unwrap_or("");
            if value.len() >= 12 && !e["name"].as_str().unwrap_or("").contains(value) {
                prop_assert!(!message.contains(value), "message echoes a value: {message}");
            }
        }
    }
}

#[test]
fn huge_env_lists_are_judged_quickly() {
    let env: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("VAR_{i}"), "value": format!("value-{i}-S3cr3t!")}))
        .collect();
    let flagged: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("DB_PASSWORD_{i}"), "value": format!("Zx9!{i}-qW7#rT")}))
        .collect();
    let mut containers: Vec<Value> = (0..4)
        .map(|i| json!({"name": format!("c{i}"), "env": env.clone()}))
        .collect();
    containers.push(json!({"name": "flagged", "env": flagged}));
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"},
                            "spec": {"template": {"spec": {"containers": containers}}}});
    let started = Instant::now();
    assert_answers::<NoPlaintextSecretEnv>(&deployment, &json!({}), &NoCluster);
    let response = run::<NoPlaintextSecretEnv>(&deployment, json!({}), &NoCluster);
    let message = response["message"].as_str().unwrap_or("");
    assert!(message.ends_with(
        "further violations are not listed; fix: fix the ones above and check the object again"
    ));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn deeply_nested_values_get_a_verdict() {
    let mut nested = json!("leaf");
    for _ in 0..200 {
        nested = json!({"env": [nested]});
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "deep"},
                     "spec": {"containers": [{"name": "c", "env": [{"name": "DB_PASSWORD", "value": nested.clone()}],
                                              "envFrom": [nested]}]}});
    assert_answers::<NoPlaintextSecretEnv>(&pod, &json!({"rejectSecretKeyRef": true}), &NoCluster);
}

/// A typical Deployment passes. How fast it is judged is `make bench`'s to measure (a timed test
/// fails on a loaded machine, not on a slow policy).
#[test]
fn typical_deployment_passes() {
    let env = |prefix: &str| -> Vec<Value> {
        [
            ("ASPNETCORE_ENVIRONMENT", "Production"),
            ("LOG_LEVEL", "info"),
            ("PORT", "8080"),
            ("AZURE_CLIENT_ID", "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"),
            ("KEYVAULT_URL", "https://kv-shop-prod.vault.azure.net/"),
            ("SECRETS_DIR", "/mnt/secrets-store"),
            ("SERVICE_BUS_NAMESPACE", "sb-shop.servicebus.windows.net"),
            ("FEATURE_FLAGS", "checkout-v2,search-v3"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://otel-collector.monitoring:4317",
            ),
            ("DB_PASSWORD_FILE", "/mnt/secrets-store/db-password"),
        ]
        .iter()
        .map(|(n, v)| json!({"name": format!("{prefix}{n}"), "value": v}))
        .collect()
    };
    let containers: Vec<Value> = ["api", "worker", "sidecar"]
        .iter()
        .map(|c| json!({"name": c, "image": "app:1", "env": env("")}))
        .collect();
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "orders", "namespace": "shop"},
                            "spec": {"template": {"spec": {"containers": containers}}}});
    let payload = aksid_policy_common::testing::payload(&deployment, json!({}));
    let response = crate::validate(&payload).unwrap();
    assert!(response.starts_with(br#"{"accepted":true"#));
}

/// The first fenced block of `kind` after `heading` in the README.
fn readme_block(heading: &str, kind: &str) -> String {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find(heading).expect(heading)..];
    let start = section.find(&format!("```{kind}\n")).expect(kind) + kind.len() + 4;
    let end = start + section[start..].find("```").expect("closing fence");
    section[start..end].to_owned()
}

#[test]
fn readme_examples_are_what_the_policy_answers() {
    let [rejected] = &yaml_objects(&readme_block("## Example: rejected", "yaml"))[..] else {
        panic!("one object in the rejected example")
    };
    let response = run::<NoPlaintextSecretEnv>(rejected, json!({}), &NoCluster);
    assert_eq!(
        response["message"].as_str().unwrap_or(""),
        readme_block("## Example: rejected", "text").trim_end()
    );
    for accepted in yaml_objects(&readme_block("## Example: accepted", "yaml")) {
        assert_eq!(
            run::<NoPlaintextSecretEnv>(&accepted, json!({}), &NoCluster)["accepted"],
            true
        );
    }
}

#[test]
fn readme_settings_examples_are_valid() {
    let readme = include_str!("../README.md");
    let section =
        &readme[readme.find("## Settings").unwrap()..readme.find("## Example: rejected").unwrap()];
    let blocks: Vec<&str> = section
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or(""))
        .collect();
    assert_eq!(blocks.len(), 2);
    for block in blocks {
        // Settings are not a Kubernetes object, so the CLI's reader only reads them as a field
        // of one.
        let indented: String = block.lines().map(|l| format!("  {l}\n")).collect();
        let wrapped = format!("apiVersion: v1\nkind: PolicySettings\nsettings:\n{indented}");
        let settings = yaml_objects(&wrapped)[0]["settings"].clone();
        assert!(settings.is_object(), "{block}");
        let answer = crate::validate_settings(&serde_json::to_vec(&settings).unwrap()).unwrap();
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["valid"], true, "{block}: {answer}");
    }
}
