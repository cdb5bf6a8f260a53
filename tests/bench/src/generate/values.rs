//! Names and environment variables: mostly harmless values (flags, ports, URLs, paths, IDs,
//! references to secrets), some `valueFrom`, and now and then a plaintext secret in a known
//! format. The secrets are fake, shaped like the real formats.

use super::rng::{ALNUM, BASE64, Rng};

pub(crate) const TEAMS: &[&str] = &[
    "payments",
    "shop",
    "identity",
    "search",
    "billing",
    "logistics",
    "analytics",
    "platform",
    "media",
    "risk",
    "crm",
    "ledger",
];

pub(crate) const APPS: &[&str] = &[
    "api",
    "web",
    "worker",
    "gateway",
    "orders",
    "inventory",
    "reports",
    "notifier",
    "cart",
    "catalog",
    "auth",
    "scheduler",
    "exporter",
    "ingest",
    "profile",
    "pricing",
    "checkout",
    "search",
    "thumbnailer",
    "audit",
];

const SIDECARS: &[&str] = &[
    "envoy",
    "otel-collector",
    "fluent-bit",
    "oauth2-proxy",
    "cloudsql-proxy",
];

/// One environment variable of a container.
pub(crate) enum EnvVar {
    /// `value:` written in the manifest.
    Literal(String, String),
    /// `valueFrom.secretKeyRef`.
    SecretKeyRef(String, String, String),
    /// `valueFrom.configMapKeyRef`.
    ConfigMapKeyRef(String, String, String),
    /// `valueFrom.fieldRef`.
    FieldRef(String, &'static str),
}

impl EnvVar {
    pub(crate) fn name(&self) -> &str {
        match self {
            EnvVar::Literal(name, _)
            | EnvVar::SecretKeyRef(name, ..)
            | EnvVar::ConfigMapKeyRef(name, ..)
            | EnvVar::FieldRef(name, _) => name,
        }
    }

    /// The YAML list item, with `indent` spaces before the `-`.
    pub(crate) fn write(&self, out: &mut String, indent: usize) {
        let pad = " ".repeat(indent);
        match self {
            EnvVar::Literal(name, value) => {
                out.push_str(&format!("{pad}- name: {name}\n{pad}  value: {}\n", quote(value)));
            }
            EnvVar::SecretKeyRef(name, secret, key) => out.push_str(&format!(
                "{pad}- name: {name}\n{pad}  valueFrom:\n{pad}    secretKeyRef:\n\
                 {pad}      name: {secret}\n{pad}      key: {key}\n"
            )),
            EnvVar::ConfigMapKeyRef(name, map, key) => out.push_str(&format!(
                "{pad}- name: {name}\n{pad}  valueFrom:\n{pad}    configMapKeyRef:\n\
                 {pad}      name: {map}\n{pad}      key: {key}\n"
            )),
            EnvVar::FieldRef(name, path) => out.push_str(&format!(
                "{pad}- name: {name}\n{pad}  valueFrom:\n{pad}    fieldRef:\n{pad}      fieldPath: {path}\n"
            )),
        }
    }
}

/// A YAML double-quoted scalar (the generated values are printable ASCII).
pub(crate) fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// `count` distinct environment variables for a container of `app`; each is a plaintext
/// secret with probability `secret_rate`.
pub(crate) fn env_vars(rng: &mut Rng, app: &str, count: usize, secret_rate: f64) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = Vec::with_capacity(count);
    let mut attempts = 0;
    while vars.len() < count && attempts < count * 20 {
        attempts += 1;
        let var = if rng.chance(secret_rate) {
            plaintext_secret(rng, app)
        } else if rng.chance(0.2) {
            value_from(rng, app)
        } else {
            harmless(rng, app)
        };
        let taken = vars.iter().any(|v| v.name() == var.name());
        if !taken {
            vars.push(var);
        }
    }
    vars
}

fn harmless(rng: &mut Rng, app: &str) -> EnvVar {
    let upper = app.to_uppercase().replace('-', "_");
    let (name, value): (String, String) = match rng.below(24) {
        0 => (
            "LOG_LEVEL".into(),
            rng.pick(&["info", "debug", "warn", "error"]).to_string(),
        ),
        1 => (
            "PORT".into(),
            rng.pick(&["8080", "8443", "3000", "5000"]).to_string(),
        ),
        2 => (
            "ASPNETCORE_ENVIRONMENT".into(),
            rng.pick(&["Production", "Staging"]).to_string(),
        ),
        3 => (
            "JAVA_OPTS".into(),
            format!("-Xms{0}m -Xmx{0}m -XX:+UseG1GC", 128 << rng.below(4)),
        ),
        4 => (
            format!("{upper}_TIMEOUT_SECONDS"),
            rng.range(5, 120).to_string(),
        ),
        5 => (
            "AZURE_REGION".into(),
            rng.pick(&["westeurope", "northeurope", "eastus2"])
                .to_string(),
        ),
        6 => (
            format!("{upper}_API_URL"),
            format!("https://{app}.contoso.com/api/v{}", rng.range(1, 3)),
        ),
        7 => (
            "KEYVAULT_URL".into(),
            format!(
                "https://kv-{app}-{}.vault.azure.net/",
                rng.string(b"0123456789", 3)
            ),
        ),
        8 => ("AZURE_CLIENT_ID".into(), rng.guid()),
        9 => ("AZURE_TENANT_ID".into(), rng.guid()),
        10 => ("CONFIG_DIR".into(), format!("/etc/{app}")),
        11 => ("SECRETS_DIR".into(), "/mnt/secrets-store".into()),
        12 => (
            "DB_PASSWORD_FILE".into(),
            "/mnt/secrets-store/db-password".into(),
        ),
        13 => ("DB_SECRET_NAME".into(), format!("{app}-db-credentials")),
        14 => (
            "FEATURE_NEW_CHECKOUT".into(),
            rng.pick(&["true", "false"]).to_string(),
        ),
        15 => (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            "http://otel-collector.observability:4317".into(),
        ),
        16 => (
            "REDIS_HOST".into(),
            format!("{app}-redis.redis.cache.windows.net"),
        ),
        17 => ("POD_URL".into(), "http://$(POD_IP):8080/healthz".into()),
        18 => ("TOKEN_AUDIENCE".into(), "api://AzureADTokenExchange".into()),
        19 => ("MAX_CONNECTIONS".into(), rng.range(10, 500).to_string()),
        20 => ("CACHE_TTL".into(), format!("{}m", rng.range(1, 60))),
        21 => (
            "IMAGE_TAG".into(),
            format!("{}.{}.{}", rng.range(1, 5), rng.below(20), rng.below(10)),
        ),
        22 => (
            "STORAGE_ACCOUNT_NAME".into(),
            format!("st{app}{}", rng.string(b"0123456789", 4)),
        ),
        _ => ("HOME".into(), "/tmp".into()),
    };
    EnvVar::Literal(name, value)
}

fn value_from(rng: &mut Rng, app: &str) -> EnvVar {
    match rng.below(4) {
        0 => EnvVar::SecretKeyRef("DB_PASSWORD".into(), format!("{app}-db"), "password".into()),
        1 => EnvVar::SecretKeyRef(
            "API_TOKEN".into(),
            format!("{app}-tokens"),
            "api-token".into(),
        ),
        2 => EnvVar::ConfigMapKeyRef(
            "FEATURE_FLAGS".into(),
            format!("{app}-config"),
            "flags".into(),
        ),
        _ => {
            let (name, path) = rng.pick(&[
                ("POD_NAME", "metadata.name"),
                ("POD_NAMESPACE", "metadata.namespace"),
                ("POD_IP", "status.podIP"),
            ]);
            EnvVar::FieldRef(name.to_owned(), path)
        }
    }
}

/// A literal secret in one of the formats scanners know (all fake).
fn plaintext_secret(rng: &mut Rng, app: &str) -> EnvVar {
    let (name, value) = match rng.below(6) {
        0 => (
            "AZURE_CLIENT_SECRET".to_owned(),
            format!(
                "{}8Q~{}",
                rng.string(ALNUM, 3),
                rng.string(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-",
                    34
                )
            ),
        ),
        1 => (
            "STORAGE_CONNECTION_STRING".to_owned(),
            format!(
                "DefaultEndpointsProtocol=https;AccountName=st{app};AccountKey={}==;EndpointSuffix=core.windows.net",
                rng.string(BASE64, 86)
            ),
        ),
        2 => (
            "AWS_ACCESS_KEY_ID".to_owned(),
            format!(
                "AKIA{}",
                rng.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
            ),
        ),
        3 => (
            "GITHUB_TOKEN".to_owned(),
            format!("ghp_{}", rng.string(ALNUM, 36)),
        ),
        4 => (
            "DB_PASSWORD".to_owned(),
            format!(
                "{}!{}#{}",
                rng.string(ALNUM, 6),
                rng.string(ALNUM, 4),
                rng.range(1000, 9999)
            ),
        ),
        _ => (
            "SQL_CONNECTION_STRING".to_owned(),
            format!(
                "Server=tcp:sql-{app}.database.windows.net,1433;Database={app};User ID={app}admin;Password={}@{};",
                rng.string(ALNUM, 10),
                rng.range(10, 99)
            ),
        ),
    };
    EnvVar::Literal(name, value)
}

/// The image of a container: the app itself first, sidecars after it.
pub(crate) fn container(rng: &mut Rng, app: &str, index: usize) -> (String, String) {
    if index == 0 {
        (
            app.to_owned(),
            format!(
                "contoso.azurecr.io/{app}:{}.{}.{}",
                rng.range(1, 4),
                rng.below(30),
                rng.below(10)
            ),
        )
    } else {
        let sidecar = SIDECARS[(index - 1) % SIDECARS.len()];
        (
            sidecar.to_owned(),
            format!(
                "mcr.microsoft.com/oss/{sidecar}:v{}.{}",
                rng.range(1, 3),
                rng.below(20)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_distinct() {
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let vars = env_vars(&mut rng, "api", 12, 0.05);
            let mut names: Vec<&str> = vars.iter().map(EnvVar::name).collect();
            let before = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), before);
        }
    }

    #[test]
    fn quoting_escapes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
