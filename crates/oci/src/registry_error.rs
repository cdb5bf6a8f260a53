//! What went wrong talking to a registry, classified so that callers can match on the kind and
//! users get the likely fix (credentials, plain HTTP, a typo in the tag) as a second paragraph.

use crate::credentials::{ENV_PASSWORD, ENV_USERNAME, Origin};
use crate::transport::Transport;
use oci_client::errors::{OciDistributionError, OciErrorCode};

/// A failed exchange with a registry. The message carries the registry's own words and, when
/// there is a likely fix, a hint.
#[derive(Debug, thiserror::Error)]
#[error("{detail}{hint}")]
pub struct RegistryError {
    kind: RegistryErrorKind,
    detail: String,
    hint: String,
}

/// The broad class of a [`RegistryError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryErrorKind {
    /// The registry refused the credentials, or wants some (401/403, `UNAUTHORIZED`, `DENIED`).
    Unauthorized,
    /// No such repository, tag, digest or blob (404, `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, ...).
    NotFound,
    /// No HTTP exchange happened: DNS, connection refused, TLS handshake, timeout.
    Connection,
    /// Anything else the registry or the client reported.
    Other,
}

impl RegistryError {
    /// The class of failure.
    pub fn kind(&self) -> RegistryErrorKind {
        self.kind
    }

    pub(crate) fn new(
        error: OciDistributionError,
        registry: &str,
        transport: Transport,
        origin: &Origin,
    ) -> RegistryError {
        let kind = classify(&error);
        let detail = describe(&error);
        let hint = match kind {
            RegistryErrorKind::Unauthorized => match origin {
                Origin::Anonymous => format!(
                    "\n\nThe registry {registry} wants credentials: set {ENV_USERNAME} and \
                     {ENV_PASSWORD}, or log in (`docker login {registry}`) so that the Docker \
                     config file has an `auths` entry for it"
                ),
                other => format!(
                    "\n\nThe registry {registry} refused {}: check the user, the password or \
                     token, and that it may read (pull) or write (push) this repository",
                    other.describe()
                ),
            },
            RegistryErrorKind::Connection if transport == Transport::Https => format!(
                "\n\nIs {registry} reachable and serving HTTPS? A registry that serves plain \
                 HTTP must be listed as an insecure registry: only localhost, 127.0.0.1 and \
                 [::1] use plain HTTP without that"
            ),
            RegistryErrorKind::Connection => {
                format!("\n\nIs the registry at {registry} running and reachable?")
            }
            RegistryErrorKind::NotFound => format!(
                "\n\nThe repository, tag or digest does not exist in {registry}: check the spelling, \
                 or push the policy first"
            ),
            _ => String::new(),
        };
        RegistryError { kind, detail, hint }
    }
}

fn classify(error: &OciDistributionError) -> RegistryErrorKind {
    use OciDistributionError as E;
    match error {
        E::UnauthorizedError { .. } | E::AuthenticationFailure(_) => {
            RegistryErrorKind::Unauthorized
        }
        E::RegistryError { envelope, .. } => {
            let codes = || envelope.errors.iter().map(|e| &e.code);
            if codes().any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied)) {
                RegistryErrorKind::Unauthorized
            } else if codes().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                RegistryErrorKind::NotFound
            } else {
                RegistryErrorKind::Other
            }
        }
        E::ServerError {
            code: 401 | 403, ..
        } => RegistryErrorKind::Unauthorized,
        E::ServerError { code: 404, .. } | E::ImageManifestNotFoundError(_) => {
            RegistryErrorKind::NotFound
        }
        E::RequestError(e) if e.is_connect() || e.is_timeout() || e.status().is_none() => {
            RegistryErrorKind::Connection
        }
        _ => RegistryErrorKind::Other,
    }
}

/// The registry's own words, without the JSON: `HTTP 401 from URL: UNAUTHORIZED: authentication
/// required`; other errors with all their causes.
fn describe(error: &OciDistributionError) -> String {
    use OciDistributionError as E;
    match error {
        E::RegistryError { envelope, url } => {
            let errors: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| {
                    let code = serde_json::to_value(&e.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("{:?}", e.code));
                    format!("{code}: {}", e.message)
                })
                .collect();
            format!("{url}: {}", errors.join("; "))
        }
        E::ServerError { code, url, message } => {
            #[derive(serde::Deserialize)]
            struct Envelope {
                errors: Vec<Entry>,
            }
            #[derive(serde::Deserialize)]
            struct Entry {
                code: String,
                #[serde(default)]
                message: String,
            }
            let message = match serde_json::from_str::<Envelope>(message) {
                Ok(envelope) if !envelope.errors.is_empty() => envelope
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => message.trim().to_owned(),
            };
            if message.is_empty() {
                format!("HTTP {code} from {url}")
            } else {
                format!("HTTP {code} from {url}: {message}")
            }
        }
        E::UnauthorizedError { url } => format!("HTTP 401 from {url}"),
        other => error_chain(other),
    }
}

/// The error and all its causes on one line: reqwest's own message ("error sending request")
/// hides the part a user needs ("connection refused", "invalid content type").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
