//! Kubeconfig files (`apiVersion: v1`, `kind: Config`), checked offline only.
//!
//! A kubeconfig is not an API object: the aksid CLI maps it to the resource `configs` so the
//! policy's rules route it here; in a cluster this rule never matches. A user entry that holds
//! a static credential (client certificate and key, bearer token, password, or files holding
//! them) is rejected; users that authenticate through an `exec` plugin (kubelogin) pass, unless
//! the plugin's arguments or environment carry a secret ([`exec`], setting `execCredentials`).
//! Messages name the user entry and the fields, never their values.

mod exec;

use crate::settings::Settings;
use aksid_policy_common::{Violation, json};
use serde_json::Value;

/// The `users[].user` fields that hold or point to a static credential, in the order they are
/// reported.
const STATIC_CREDENTIAL_FIELDS: [&str; 7] = [
    "client-certificate-data",
    "client-key-data",
    "client-certificate",
    "client-key",
    "token",
    "tokenFile",
    "password",
];

/// Judges a kubeconfig: per user entry, one violation for static credential fields and one
/// for credentials stored in its `exec` plugin.
pub(crate) fn validate_kubeconfig(config: &Value, settings: &Settings) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (index, entry) in json::array_at(config, &["users"]).iter().enumerate() {
        let Some(user) = json::get(entry, &["user"]) else {
            continue;
        };
        let name = match json::str_at(entry, &["name"]) {
            Some(name) if !name.is_empty() => name,
            _ => "<unnamed>",
        };
        let fields: Vec<&str> = STATIC_CREDENTIAL_FIELDS
            .into_iter()
            .filter(|field| user.get(field).is_some_and(holds_something))
            .collect();
        if !fields.is_empty() {
            violations.push(static_credentials(index, name, &fields));
        }
        if settings.exec_credentials
            && let Some(exec) = user.get("exec").filter(|e| e.is_object())
        {
            let stored = exec::stored_credentials(exec);
            if !stored.is_empty() {
                violations.push(exec_credentials(index, name, &stored));
            }
        }
    }
    violations
}

fn static_credentials(index: usize, name: &str, fields: &[&str]) -> Violation {
    Violation::new(
        format!("users[{index}] ({name}).user"),
        format!(
            "holds static credentials ({}): whoever has this file signs in as that user, without \
             Microsoft Entra ID, MFA or Conditional Access, until the credential is rotated",
            fields.join(", ")
        ),
    )
    .fix(
        "replace them with a kubelogin exec user: `az aks get-credentials` without --admin, then \
         `kubelogin convert-kubeconfig -l azurecli` (or -l workloadidentity / -l msi for automation), \
         and disable local accounts on the cluster",
    )
}

/// Most credential places listed in one message; a hostile file can hold thousands.
const MAX_LISTED: usize = 10;

fn exec_credentials(index: usize, name: &str, stored: &[String]) -> Violation {
    let mut listed = stored[..stored.len().min(MAX_LISTED)].join(", ");
    if stored.len() > MAX_LISTED {
        listed.push_str(&format!(" and {} more", stored.len() - MAX_LISTED));
    }
    Violation::new(
        format!("users[{index}] ({name}).user.exec"),
        format!(
            "stores a credential for the exec plugin ({}): a service principal secret, password \
             or certificate in a kubeconfig travels with every copy of the file (laptops, CI logs, \
             backups), and whoever has a copy signs in to the cluster until it is rotated",
            listed
        ),
    )
    .fix(
        "remove it and let kubelogin get tokens without a stored secret: `kubelogin convert-kubeconfig \
         -l workloadidentity` in a pod with Microsoft Entra Workload ID, `-l msi` on an Azure VM or \
         agent with a managed identity, `-l azurecli` for a person or a pipeline signed in with az \
         login; if a service principal cannot be avoided, give kubelogin its secret through \
         AAD_SERVICE_PRINCIPAL_CLIENT_SECRET in the calling environment, not in the file",
    )
}

/// An empty string or `null` holds no credential; any other value does (even of the wrong type).
fn holds_something(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::testing::assert_messages_start_with;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::aks_admin_certificate(json!([{"name": "clusterAdmin_rg_aks",
        "user": {"client-certificate-data": "LS0tQ0VSVA==", "client-key-data": "LS0tS0VZ", "token": "0123abcd"}}]),
        &["users[0] (clusterAdmin_rg_aks).user: holds static credentials (client-certificate-data, client-key-data, token)"][..])]
    #[case::basic_auth(json!([{"name": "old", "user": {"username": "admin", "password": "hunter2"}}]),
        &["users[0] (old).user: holds static credentials (password)"][..])]
    #[case::file_paths(json!([{"name": "files", "user": {"client-certificate": "/a.crt", "client-key": "/a.key", "tokenFile": "/t"}}]),
        &["users[0] (files).user: holds static credentials (client-certificate, client-key, tokenFile)"][..])]
    #[case::kubelogin(json!([{"name": "clusterUser_rg_aks", "user": {"exec": {"command": "kubelogin",
        "args": ["get-token", "--login", "azurecli"], "apiVersion": "client.authentication.k8s.io/v1beta1"}}}]), &[][..])]
    #[case::exec_and_token(json!([{"name": "both", "user": {"exec": {"command": "kubelogin"}, "token": "abc"}}]),
        &["users[0] (both).user: holds static credentials (token)"][..])]
    #[case::second_user_only(json!([{"name": "entra", "user": {"exec": {}}}, {"user": {"token": "x"}}]),
        &["users[1] (<unnamed>).user: holds static credentials (token)"][..])]
    #[case::empty_values(json!([{"name": "blank", "user": {"token": "", "password": null}}]), &[][..])]
    #[case::wrong_types(json!([3, {"name": "n", "user": "token"}, {"name": ["x"], "user": {"token": 7}}]),
        &["users[2] (<unnamed>).user: holds static credentials (token)"][..])]
    #[case::users_of_wrong_type(json!({"name": "a", "user": {"token": "x"}}), &[][..])]
    #[case::kubelogin_spn_secret(json!([{"name": "ci", "user": {"exec": {"command": "kubelogin",
        "args": ["get-token", "--login", "spn", "--client-secret", "s3cr3t"]}}}]),
        &["users[0] (ci).user.exec: stores a credential for the exec plugin (--client-secret in args[3]): a service principal secret"][..])]
    #[case::token_and_exec_secret(json!([{"name": "both", "user": {"token": "abc",
        "exec": {"env": [{"name": "AZURE_CLIENT_SECRET", "value": "s3cr3t"}]}}}]),
        &["users[0] (both).user: holds static credentials (token)",
          "users[0] (both).user.exec: stores a credential for the exec plugin (AZURE_CLIENT_SECRET in env[0])"][..])]
    #[case::exec_of_wrong_type(json!([{"name": "odd", "user": {"exec": ["--client-secret", "s3cr3t"]}}]), &[][..])]
    fn kubeconfig_users(#[case] users: Value, #[case] expected: &[&str]) {
        let config = json!({"apiVersion": "v1", "kind": "Config", "users": users});
        assert_messages_start_with(
            &validate_kubeconfig(&config, &Settings::default()),
            expected,
        );
    }

    #[test]
    fn exec_credentials_setting_turns_only_the_exec_check_off() {
        let config = json!({"users": [{"name": "ci", "user": {"token": "abc",
            "exec": {"args": ["--client-secret", "s3cr3t"]}}}]});
        let settings = Settings {
            exec_credentials: false,
            ..Settings::default()
        };
        assert_messages_start_with(
            &validate_kubeconfig(&config, &settings),
            &["users[0] (ci).user: holds static credentials (token)"],
        );
    }

    #[test]
    fn credentials_are_never_printed() {
        let config = json!({"users": [{"name": "u", "user": {"client-key-data": "S3VwZXJTZWNyZXRLZXk=",
            "token": "eyJhbGciOiJSUzI1NiJ9.secret", "password": "hunter2",
            "exec": {"args": ["--client-secret", "Wk71Q~AbCdEfGhIjKlMnOp", "--password=Tr0ub4dor"],
                     "env": [{"name": "AZURE_CLIENT_SECRET", "value": "qzkvhwpxjmtrbnlf"}]}}}]});
        let violations = validate_kubeconfig(&config, &Settings::default());
        assert_eq!(violations.len(), 2);
        let message: Vec<String> = violations.iter().map(ToString::to_string).collect();
        let message = message.join("\n");
        for secret in [
            "S3VwZXJTZWNyZXRLZXk=",
            "eyJhbGciOiJSUzI1NiJ9",
            "hunter2",
            "Wk71Q~",
            "Tr0ub4dor",
            "qzkvhwpxjmtrbnlf",
        ] {
            assert!(!message.contains(secret), "{message}");
        }
    }
}
