//! Credentials stored in a kubeconfig `exec` user (kubelogin and other credential plugins).
//!
//! An exec plugin only moves the sign-in out of the file when the file holds no secret for it.
//! `kubelogin convert-kubeconfig -l spn --client-secret …` writes the service principal's
//! secret into `exec.args`, and an `exec.env` entry can carry one the same way; client-go
//! passes both to the plugin verbatim (no variable expansion), so any non-empty value is the
//! credential itself. What counts:
//!
//! | where       | what                                                                     |
//! |-------------|--------------------------------------------------------------------------|
//! | `args`      | `--client-secret`, `--password`, `--client-certificate-password`, as `--flag VALUE` or `--flag=VALUE` |
//! | `args`      | certificate content (PEM, or long base64) given to `--client-certificate` |
//! | `env[].name`| kubelogin's and Azure Identity's secret variables (`AAD_SERVICE_PRINCIPAL_CLIENT_SECRET`, `AZURE_CLIENT_SECRET`, `AZURE_PASSWORD`, …) and any name whose last word is `SECRET`, `PASSWORD` or `TOKEN` |
//! | `env[].value`| certificate content, under any name                                     |
//!
//! Paths (`--client-certificate /etc/kubelogin/sp.pfx`, `AZURE_FEDERATED_TOKEN_FILE`) and IDs
//! are not credentials. Findings name the flag or variable and its index, never the value.

use aksid_policy_common::json;
use serde_json::Value;

/// Flags whose value is a secret.
const SECRET_FLAGS: [&str; 3] = [
    "--client-secret",
    "--password",
    "--client-certificate-password",
];

/// The flag whose value should be a path, and is a credential when it is the content instead.
const CERTIFICATE_FLAG: &str = "--client-certificate";

/// Secret variables of kubelogin (`AAD_…`), Azure Identity (`AZURE_…`) and, with
/// `--use-azurerm-env-vars`, the Terraform Azure provider (`ARM_…`).
const SECRET_VARIABLES: [&str; 8] = [
    "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET",
    "AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE_PASSWORD",
    "AAD_USER_PRINCIPAL_PASSWORD",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_PASSWORD",
    "ARM_CLIENT_SECRET",
    "ARM_CLIENT_CERTIFICATE_PASSWORD",
];

/// Endings of the last word of a variable name that say it holds a credential
/// (`AZURE_CLIENT_SECRET`, `SYSTEM_ACCESSTOKEN`).
const SECRET_LAST_WORDS: [&str; 3] = ["SECRET", "PASSWORD", "TOKEN"];

/// Shortest run of base64 taken for certificate content rather than a file name.
const MIN_CERTIFICATE_BASE64: usize = 100;

/// Where an `exec` user keeps each credential, as `--client-secret in args[11]` or
/// `AZURE_CLIENT_SECRET in env[0]`, in the order they appear.
pub(super) fn stored_credentials(exec: &Value) -> Vec<String> {
    let mut found = in_args(json::array_at(exec, &["args"]));
    found.extend(in_env(json::array_at(exec, &["env"])));
    found
}

fn in_args(args: &[Value]) -> Vec<String> {
    let mut found = Vec::new();
    for (index, arg) in args.iter().enumerate() {
        let Some(arg) = arg.as_str() else { continue };
        let (flag, value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg, args.get(index + 1).and_then(Value::as_str)),
        };
        let value = value.unwrap_or("").trim();
        if value.is_empty() {
            continue;
        }
        if SECRET_FLAGS.contains(&flag) {
            found.push(format!("{flag} in args[{index}]"));
        } else if flag == CERTIFICATE_FLAG && is_certificate_content(value) {
            found.push(format!("certificate content for {flag} in args[{index}]"));
        }
    }
    found
}

fn in_env(env: &[Value]) -> Vec<String> {
    env.iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            let name = json::str_at(entry, &["name"]).unwrap_or("");
            let value = json::str_at(entry, &["value"]).unwrap_or("").trim();
            if value.is_empty() {
                None
            } else if is_secret_variable(name) {
                Some(format!("{name} in env[{index}]"))
            } else if is_certificate_content(value) {
                Some(format!("certificate content in env[{index}]"))
            } else {
                None
            }
        })
        .collect()
}

fn is_secret_variable(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let last_word = upper.rsplit(['_', '-', '.']).next().unwrap_or("");
    SECRET_VARIABLES.contains(&upper.as_str())
        || SECRET_LAST_WORDS.iter().any(|w| last_word.ends_with(w))
}

/// A PEM block, or a long run of base64 (a certificate or PFX pasted in place of its path).
fn is_certificate_content(value: &str) -> bool {
    value.contains("-----BEGIN ")
        || (value.len() >= MIN_CERTIFICATE_BASE64
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn pem() -> String {
        format!("-----BEGIN {}-----\nMIIEvQIBADANBg\n", "PRIVATE KEY")
    }

    #[rstest]
    #[case::spn_client_secret(json!({"args": ["get-token", "--login", "spn", "--client-secret", "s3cr3t"]}),
        &["--client-secret in args[3]"][..])]
    #[case::inline_flag(json!({"args": ["get-token", "-l", "ropc", "--password=hunter2"]}), &["--password in args[3]"][..])]
    #[case::certificate_password(json!({"args": ["--client-certificate", "/sp.pfx", "--client-certificate-password", "pfx"]}),
        &["--client-certificate-password in args[2]"][..])]
    #[case::certificate_content(json!({"args": ["--client-certificate", pem()]}),
        &["certificate content for --client-certificate in args[0]"][..])]
    #[case::certificate_content_inline(json!({"args": [format!("--client-certificate={}", "QUJD".repeat(40))]}),
        &["certificate content for --client-certificate in args[0]"][..])]
    #[case::kubelogin_variable(json!({"env": [{"name": "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET", "value": "s3cr3t"}]}),
        &["AAD_SERVICE_PRINCIPAL_CLIENT_SECRET in env[0]"][..])]
    #[case::azure_identity_variables(json!({"env": [{"name": "AZURE_CLIENT_ID", "value": "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"},
        {"name": "AZURE_CLIENT_SECRET", "value": "s3cr3t"}, {"name": "AZURE_PASSWORD", "value": "p"}]}),
        &["AZURE_CLIENT_SECRET in env[1]", "AZURE_PASSWORD in env[2]"][..])]
    #[case::pipeline_token(json!({"env": [{"name": "SYSTEM_ACCESSTOKEN", "value": "eyJ0eXAi"}]}),
        &["SYSTEM_ACCESSTOKEN in env[0]"][..])]
    #[case::certificate_in_variable(json!({"env": [{"name": "AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE", "value": pem()}]}),
        &["certificate content in env[0]"][..])]
    #[case::both_places(json!({"args": ["--client-secret", "a"], "env": [{"name": "ARM_CLIENT_SECRET", "value": "b"}]}),
        &["--client-secret in args[0]", "ARM_CLIENT_SECRET in env[0]"][..])]
    #[case::azurecli(json!({"args": ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]}), &[][..])]
    #[case::workload_identity(json!({"args": ["get-token", "-l", "workloadidentity"],
        "env": [{"name": "AZURE_FEDERATED_TOKEN_FILE", "value": "/var/run/secrets/azure/tokens/azure-identity-token"}]}), &[][..])]
    #[case::certificate_path(json!({"args": ["--client-certificate", "/etc/kubelogin/sp.pfx", "-l", "spn"]}), &[][..])]
    #[case::secret_from_the_calling_environment(json!({"args": ["get-token", "-l", "spn"], "env": null}), &[][..])]
    #[case::flag_without_value(json!({"args": ["get-token", "--client-secret"]}), &[][..])]
    #[case::empty_values(json!({"args": ["--client-secret", "", "--password="], "env": [{"name": "AZURE_CLIENT_SECRET", "value": ""}]}), &[][..])]
    #[case::wrong_types(json!({"args": [1, "--client-secret", 2], "env": [3, {"name": 4, "value": "x"}, {"name": "AZURE_CLIENT_SECRET", "value": 5}]}), &[][..])]
    #[case::args_not_a_list(json!({"args": "--client-secret s3cr3t"}), &[][..])]
    fn finds_stored_credentials(#[case] exec: Value, #[case] expected: &[&str]) {
        assert_eq!(stored_credentials(&exec), expected);
    }
}
