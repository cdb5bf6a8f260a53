//! Kubeconfig files (`apiVersion: v1`, `kind: Config`), checked offline only.
//!
//! A kubeconfig is not an API object: the aksid CLI maps it to the resource `configs` so the
//! policy's rules route it here; in a cluster this rule never matches. A user entry that holds
//! a static credential (client certificate and key, bearer token, password, or files holding
//! them) is rejected; users that authenticate through an `exec` plugin (kubelogin) pass.
//! Messages name the user entry and the fields, never their values.

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

/// Judges a kubeconfig: one violation per user entry holding static credentials.
pub(crate) fn validate_kubeconfig(config: &Value) -> Vec<Violation> {
    json::array_at(config, &["users"])
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            let user = json::get(entry, &["user"])?;
            let fields: Vec<&str> = STATIC_CREDENTIAL_FIELDS
                .into_iter()
                .filter(|field| user.get(field).is_some_and(holds_something))
                .collect();
            if fields.is_empty() {
                return None;
            }
            let name = match json::str_at(entry, &["name"]) {
                Some(name) if !name.is_empty() => name,
                _ => "<unnamed>",
            };
            Some(
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
                ),
            )
        })
        .collect()
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
    fn kubeconfig_users(#[case] users: Value, #[case] expected: &[&str]) {
        let config = json!({"apiVersion": "v1", "kind": "Config", "users": users});
        assert_messages_start_with(&validate_kubeconfig(&config), expected);
    }

    #[test]
    fn credentials_are_never_printed() {
        let config = json!({"users": [{"name": "u", "user": {"client-key-data": "S3VwZXJTZWNyZXRLZXk=",
            "token": "eyJhbGciOiJSUzI1NiJ9.secret", "password": "hunter2"}}]});
        let message = validate_kubeconfig(&config)[0].to_string();
        for secret in ["S3VwZXJTZWNyZXRLZXk=", "eyJhbGciOiJSUzI1NiJ9", "hunter2"] {
            assert!(!message.contains(secret), "{message}");
        }
    }
}
