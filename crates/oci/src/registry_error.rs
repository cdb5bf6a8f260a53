//! What went wrong talking to a registry, classified so that callers can match on the kind and
//! users get the likely fix (credentials, plain HTTP, a typo in the tag) as a second paragraph.

use crate::credentials::{ENV_PASSWORD, ENV_SERVER, ENV_USERNAME, Origin};
use crate::http::{Failure, TimeoutKind};
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
    /// No HTTP exchange happened: DNS, connection refused, TLS handshake, connect timeout.
    Connection,
    /// The registry stopped sending (read timeout) or the operation outlived its deadline.
    Timeout,
    /// aksid refused to go on: a redirect that lowers the transport, or credentials that would
    /// go to another host or over plain HTTP.
    Refused,
    /// The registry sent more than aksid accepts for that response.
    TooLarge,
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
                     {ENV_PASSWORD} with {ENV_SERVER}={registry}, or log in (`docker login {registry}`) so that the Docker \
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

impl RegistryError {
    /// Words a [`Failure`] of aksid-oci's own requests, as [`RegistryError::new`] does
    /// oci-client's errors.
    pub(crate) fn from_failure(
        failure: Failure,
        registry: &str,
        transport: Transport,
        origin: &Origin,
    ) -> RegistryError {
        let plain = |kind, detail: String, hint: String| RegistryError { kind, detail, hint };
        match failure {
            Failure::Status { code, url, body } => RegistryError::new(
                OciDistributionError::ServerError {
                    code,
                    url,
                    message: body,
                },
                registry,
                transport,
                origin,
            ),
            Failure::Request(e) if e.is_redirect() => plain(
                RegistryErrorKind::Refused,
                format!(
                    "not following a redirect from {registry}: {}",
                    error_chain(&e)
                ),
                String::new(),
            ),
            Failure::Request(e) => RegistryError::new(
                OciDistributionError::RequestError(e),
                registry,
                transport,
                origin,
            ),
            Failure::Timeout(TimeoutKind::Idle(limit)) => plain(
                RegistryErrorKind::Timeout,
                format!(
                    "the registry {registry} sent nothing for {} s (the read timeout)",
                    limit.as_secs_f64()
                ),
                "\n\nThe registry is stalled or very slow. Retry later, or raise the read \
                 timeout (kubectl aksid: AKSID_REGISTRY_TIMEOUT=SECONDS)"
                    .to_owned(),
            ),
            Failure::Timeout(TimeoutKind::Deadline(limit)) => plain(
                RegistryErrorKind::Timeout,
                format!(
                    "the exchange with the registry {registry} took longer than {} s, the \
                     limit for one pull or push",
                    limit.as_secs_f64()
                ),
                "\n\nThe registry is too slow, or sends data a trickle at a time. Retry later"
                    .to_owned(),
            ),
            Failure::TooLarge {
                what,
                limit,
                declared,
            } => plain(
                RegistryErrorKind::TooLarge,
                match declared {
                    Some(declared) if declared > limit => format!(
                        "the registry {registry} announced a {what} of {declared} bytes, more \
                         than the {limit} bytes accepted"
                    ),
                    _ => format!(
                        "the registry {registry} sent more than the {limit} bytes accepted for \
                         the {what}; reading stopped there"
                    ),
                },
                String::new(),
            ),
            Failure::Refused(reason) => plain(
                RegistryErrorKind::Refused,
                format!("refusing to send credentials: {reason}"),
                String::new(),
            ),
            Failure::Protocol(reason) => plain(
                RegistryErrorKind::Other,
                format!("{registry}: {reason}"),
                String::new(),
            ),
        }
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
