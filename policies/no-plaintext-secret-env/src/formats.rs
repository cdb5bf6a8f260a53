//! Known secret formats, recognised from the value alone, whatever the variable is called.
//!
//! Every detector is hand-written: it looks for a literal anchor (`Q~`, `AKIA`, `eyJ`,
//! `-----BEGIN `, `://`, `=`, …) with a plain substring search and only then checks the shape
//! around it, with bounded look-ahead, so a value is scanned in linear time and no regex runs
//! on the hot path. Detectors never return the matched text: callers only learn *which*
//! format was found, so a message cannot leak the value.

mod azure;
mod tokens;

use azure::{connection_string, entra_client_secret, sas_token};
pub(crate) use tokens::aws_secret_access_key;
use tokens::{
    aws_access_key_id, github_token, google_api_key, jwt, private_key, slack_token, slack_webhook,
    url_credentials,
};

/// A recognised secret format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    PrivateKey,
    StorageConnectionString,
    CosmosConnectionString,
    SharedAccessKeyConnectionString,
    PasswordConnectionString,
    SasToken,
    UrlCredentials,
    EntraClientSecret,
    Jwt,
    AwsAccessKeyId,
    AwsSecretAccessKey,
    GitHubToken,
    SlackToken,
    SlackWebhook,
    GoogleApiKey,
}

impl Format {
    /// What the value is, as the end of "value is …".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Format::PrivateKey => "a PEM private key",
            Format::StorageConnectionString => {
                "an Azure Storage connection string with an account key"
            }
            Format::CosmosConnectionString => {
                "an Azure Cosmos DB connection string with an account key"
            }
            Format::SharedAccessKeyConnectionString => {
                "an Azure Service Bus / Event Hubs connection string with a shared access key"
            }
            Format::PasswordConnectionString => "a connection string with a password",
            Format::SasToken => "an Azure shared access signature (SAS) with its signature",
            Format::UrlCredentials => "a URL with a user name and password in it",
            Format::EntraClientSecret => "a Microsoft Entra application client secret",
            Format::Jwt => "a JSON Web Token (JWT)",
            Format::AwsAccessKeyId => "an AWS access key ID",
            Format::AwsSecretAccessKey => "an AWS secret access key",
            Format::GitHubToken => "a GitHub access token",
            Format::SlackToken => "a Slack token",
            Format::SlackWebhook => "a Slack incoming-webhook URL",
            Format::GoogleApiKey => "a Google API key",
        }
    }

    /// A better way than any Secret, when Azure offers one.
    pub(crate) fn identity_hint(self) -> Option<&'static str> {
        match self {
            Format::EntraClientSecret => Some(
                "better, drop the client secret and give the workload a Microsoft Entra Workload ID (federated credential)",
            ),
            Format::StorageConnectionString
            | Format::CosmosConnectionString
            | Format::SharedAccessKeyConnectionString
            | Format::SasToken => Some(
                "better, drop the key and grant the workload's Microsoft Entra Workload ID an Azure RBAC role on the resource",
            ),
            _ => None,
        }
    }
}

/// A detector and the bytes its anchor needs: a value lacking any of them cannot match, so
/// the detector is skipped without searching (most values skip every detector this way).
type Detector = (fn(&str) -> Option<Format>, &'static [u8]);

/// The detectors, in the order they are tried (most specific first).
const DETECTORS: [Detector; 11] = [
    (private_key, b"-BGIN "),
    (connection_string, b"="),
    (sas_token, b"sig="),
    (url_credentials, b":/@"),
    (entra_client_secret, b"Q~"),
    (jwt, b"eyJ."),
    (aws_access_key_id, b"AI"),
    (github_token, b"gh_"),
    (slack_token, b"xo-"),
    (slack_webhook, b"hoks./"),
    (google_api_key, b"AIz"),
];

/// Which byte values occur in a value, as a 256-bit bitmap.
struct Present([u64; 4]);

impl Present {
    fn of(value: &str) -> Present {
        let mut bits = [0u64; 4];
        for &b in value.as_bytes() {
            bits[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        Present(bits)
    }

    fn all(&self, bytes: &[u8]) -> bool {
        bytes
            .iter()
            .all(|&b| self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0)
    }
}

/// The first known secret format found in `value`, if any.
pub(crate) fn detect(value: &str) -> Option<Format> {
    // The shortest detectable secret (`a://b:c@d`) has 9 bytes; most env values are shorter.
    if value.len() < 9 {
        return None;
    }
    let present = Present::of(value);
    DETECTORS
        .iter()
        .filter(|(_, needs)| present.all(needs))
        .find_map(|(detector, _)| detector(value))
}

pub(super) fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')
}

pub(super) fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_')
}

/// Length of the run of `class` bytes starting at `start`, counting at most `cap`.
pub(super) fn run(b: &[u8], start: usize, cap: usize, class: impl Fn(u8) -> bool) -> usize {
    b.get(start..)
        .unwrap_or(&[])
        .iter()
        .take(cap)
        .take_while(|&&c| class(c))
        .count()
}

/// True when the byte before `i` (if any) is not in `class`.
pub(super) fn starts_word(b: &[u8], i: usize, class: impl Fn(u8) -> bool) -> bool {
    i == 0 || b.get(i - 1).is_none_or(|&c| !class(c))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rstest::rstest;

    /// One value per detector, built at run time so the source holds no contiguous secret.
    pub(crate) fn samples() -> Vec<(Format, String)> {
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
        vec![
            (
                Format::PrivateKey,
                format!(
                    "-----BEGIN RSA {}-----\n{body}\n-----END RSA PRIVATE KEY-----",
                    "PRIVATE KEY"
                ),
            ),
            (
                Format::StorageConnectionString,
                format!(
                    "DefaultEndpointsProtocol=https;AccountName=stfake01;{}=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
                    "AccountKey"
                ),
            ),
            (
                Format::CosmosConnectionString,
                format!(
                    "AccountEndpoint=https://cosmos-fake.documents.azure.com:443/;{}=C2y6yDjf5R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==;",
                    "AccountKey"
                ),
            ),
            (
                Format::SharedAccessKeyConnectionString,
                format!(
                    "Endpoint=sb://ns-fake.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;{}=q8nR4fP2vW9kL3mX7tY1zB6cD0eF5gH8iJ2kL4mN6oP=",
                    "SharedAccessKey"
                ),
            ),
            (
                Format::PasswordConnectionString,
                format!(
                    "Server=tcp:sql-fake.database.windows.net,1433;User ID=app;{}=Tr0ub4dor&3x;Encrypt=True",
                    "Password"
                ),
            ),
            (
                Format::SasToken,
                format!(
                    "https://stfake01.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&{}=Qm9ndXNTaWduYXR1cmVWYWx1ZTEyMzQ1Njc4OTA%3D",
                    "sig"
                ),
            ),
            (
                Format::UrlCredentials,
                format!(
                    "postgres://appuser:{}@db.internal:5432/orders",
                    "Xk9#mQ2vL7pR"
                ),
            ),
            (
                Format::EntraClientSecret,
                format!("Wk71{}AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "Q~"),
            ),
            (
                Format::Jwt,
                format!(
                    "{}.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
                    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
                ),
            ),
            (
                Format::AwsAccessKeyId,
                format!("{}IOSFODNN7EXAMPLE", "AKIA"),
            ),
            (
                Format::GitHubToken,
                format!("{}_16C7e42F292c6912E7710c838347Ae178B4a", "ghp"),
            ),
            (
                Format::SlackToken,
                format!("{}-2400000000-2411111111-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb"),
            ),
            (
                Format::SlackWebhook,
                format!(
                    "https://hooks.slack.com/{}/T024BE7LD/B024BE7LH/Vr9GbF3kQ2mX7pL1sW4tY8zN",
                    "services"
                ),
            ),
            (
                Format::GoogleApiKey,
                format!("{}SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", "AIza"),
            ),
        ]
    }

    #[test]
    fn every_detector_finds_its_sample() {
        for (format, value) in samples() {
            assert_eq!(detect(&value), Some(format), "{value}");
        }
    }

    #[rstest]
    #[case::short_value("8000")]
    #[case::storage_connection_string_without_key(
        "DefaultEndpointsProtocol=https;AccountName=stfake01;EndpointSuffix=core.windows.net"
    )]
    #[case::storage_key_placeholder(
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=<your-account-key>"
    )]
    #[case::storage_key_from_variable("AccountName=x;AccountKey=$(STORAGE_KEY)")]
    #[case::shared_access_key_name_only(
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey"
    )]
    #[case::password_placeholder("Server=db;User ID=app;Password=${DB_PASSWORD}")]
    #[case::password_masked("Server=db;User ID=app;Password=*****")]
    #[case::password_alone_is_not_a_connection_string("Password=hunter2hunter2")]
    #[case::sas_without_signature("https://st.blob.core.windows.net/c?sv=2022-11-02&sp=r")]
    #[case::sas_placeholder_signature("?sv=2022-11-02&sig=XXXXXXXXXXXXXXXXXXXXXXXXXXXX")]
    #[case::sig_inside_a_word("config=abc&mysig=Qm9ndXNTaWduYXR1cmVWYWx1ZTEyMzQ1Njc4OTA")]
    #[case::url_with_user_only("https://user@example.com/path")]
    #[case::url_without_credentials("https://PLACEHOLDER_STORAGE_ACCOUNT.blob.core.windows.net/")]
    #[case::url_password_reference("amqp://app:$(RABBIT_PASSWORD)@rabbitmq:5672")]
    #[case::url_password_placeholder("redis://:${REDIS_PASSWORD}@redis:6379")]
    #[case::url_masked_password("mongodb://root:****@mongo:27017")]
    #[case::url_port_only("http://cost-analysis-agent-svc.kube-system:9094")]
    #[case::url_at_in_path("https://example.com/users/a:b@c")]
    #[case::entra_low_entropy("bP88Q~xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    #[case::entra_too_short("Wk71Q~AbCdEfGhIjKlMnOp")]
    #[case::entra_inside_longer_run("zzzzWk71Q~AbCdEfGhIjKlMnOpQrStUvWxYz01234567")]
    #[case::jwt_header_only("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9")]
    #[case::jwt_without_signature("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.")]
    #[case::aws_lowercase("akiaiosfodnn7example")]
    #[case::aws_too_short("AKIAIOSFODNN7EXAMP")]
    #[case::aws_inside_a_word("XAKIAIOSFODNN7EXAMPLE")]
    #[case::aws_uniform("AKIAXXXXXXXXXXXXXXXX")]
    #[case::aws_upper_case_word("ASIAPACIFICSOUTHEAST")]
    #[case::github_short("ghp_shorttoken")]
    #[case::github_placeholder("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    #[case::slack_placeholder("xoxb-your-token-goes-here-please")]
    #[case::slack_webhook_placeholder("https://hooks.slack.com/services/XXX/YYY/ZZZ")]
    #[case::google_short("AIzaSyShort")]
    #[case::pem_certificate(
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----"
    )]
    #[case::pem_key_header_without_body(
        "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----"
    )]
    #[case::java_options("-Xmx512m -Dspring.profiles.active=prod -Dserver.port=8080")]
    fn ignores_lookalikes(#[case] value: &str) {
        assert_eq!(detect(value), None, "{value}");
    }

    #[test]
    fn detectors_are_linear_on_adversarial_values() {
        let long_jwt_like = "eyJ".repeat(200_000);
        let many_urls = "a://".repeat(200_000);
        let many_sigs = "&sig=".repeat(200_000);
        let started = std::time::Instant::now();
        for value in [
            long_jwt_like,
            many_urls,
            many_sigs,
            "Q~".repeat(200_000),
            "AKIA".repeat(200_000),
        ] {
            assert_eq!(detect(&value), None);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
