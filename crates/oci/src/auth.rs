//! Authenticating to a registry, done here rather than by oci-client so that credentials go only
//! where they are safe: the `GET /v2/` challenge, then either HTTP Basic to the registry itself
//! or a token from the realm the registry names in `WWW-Authenticate`.
//!
//! Credentials (never anonymous requests) are sent only to an endpoint that
//! - has the registry's own host and port: GHCR, ACR, Quay, Harbor, GCR and Artifact Registry
//!   all name a realm on the registry's own host; a registry naming another host (Docker Hub's
//!   `auth.docker.io`) is refused, since aksid has no list of trusted token services and a
//!   hostile or misconfigured registry could otherwise collect them;
//! - and is reached over HTTPS, or over plain HTTP only on a loopback registry (localhost,
//!   127.0.0.1, [::1]), where the traffic never leaves the machine.

use crate::http::{self, Failure, Limits, authority, is_loopback_host};
use crate::reference::split_port;
use crate::transport::Transport;
use reqwest::Url;

/// Largest token answer read (real ones are a few KiB).
const MAX_TOKEN_BODY: u64 = 1024 * 1024;

/// What to send with each request once authenticated.
#[derive(Clone)]
pub(crate) enum Authorization {
    None,
    Basic(String, String),
    Bearer(String),
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        f.write_str(match self {
            Authorization::None => "None",
            Authorization::Basic(..) => "Basic(<redacted>)",
            Authorization::Bearer(_) => "Bearer(<redacted>)",
        })
    }
}

impl Authorization {
    pub(crate) fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Authorization::None => request,
            Authorization::Basic(user, password) => request.basic_auth(user, Some(password)),
            Authorization::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// The same authorization for oci-client (pushes), which then skips its own challenge
    /// when it is a bearer token.
    pub(crate) fn to_oci(&self) -> oci_client::secrets::RegistryAuth {
        use oci_client::secrets::RegistryAuth;
        match self {
            Authorization::None => RegistryAuth::Anonymous,
            Authorization::Basic(user, password) => {
                RegistryAuth::Basic(user.clone(), password.clone())
            }
            Authorization::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        }
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses `Basic realm="x"` or `Bearer realm="https://…",service="…",scope="…"`.
fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value.to_owned()),
            "service" => service = Some(value.to_owned()),
            _ => {}
        }
        rest = after.trim_start_matches([',', ' ']);
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
    })
}

/// Whether credentials for `registry` (reached over `transport`) may be sent to `url`; the
/// error says where they would have gone and why not.
pub(crate) fn credential_destination(
    registry: &str,
    transport: Transport,
    url: &Url,
) -> Result<(), String> {
    let registry = registry.to_ascii_lowercase();
    let (host, port) = split_port(&registry);
    let default_port = match transport {
        Transport::Https => 443,
        Transport::Http => 80,
    };
    let registry_port = port
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(default_port);
    let same_endpoint = url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host))
        && url.port_or_known_default() == Some(registry_port);
    if !same_endpoint {
        return Err(format!(
            "the registry {registry} asks for its credentials to be sent to {}, which is \
             not {registry} itself; aksid sends registry credentials only to the registry's \
             own host and port",
            authority(url)
        ));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        _ => Err(format!(
            "the registry {registry} is reached over plain HTTP ({}), and aksid sends \
             credentials over plain HTTP only to loopback registries (localhost, 127.0.0.1, \
             [::1]); serve the registry over HTTPS, or pull anonymously",
            url.origin().ascii_serialization()
        )),
    }
}

/// One registry's connection parameters, for authenticating.
pub(crate) struct Target<'a> {
    pub(crate) client: &'a reqwest::Client,
    pub(crate) registry: &'a str,
    pub(crate) transport: Transport,
    pub(crate) limits: &'a Limits,
}

/// Answers the registry's challenge for `scope` (`repository:REPO:pull[,push]`).
///
/// A registry that does not challenge gets no credentials, even when some are configured.
pub(crate) async fn authenticate(
    target: &Target<'_>,
    credentials: Option<(&str, &str)>,
    scope: &str,
) -> Result<Authorization, Failure> {
    let base = http::base_url(target.registry, target.transport);
    let probe = format!("{base}/v2/");
    let response = target
        .client
        .get(&probe)
        .timeout(target.limits.remaining()?)
        .send()
        .await
        .map_err(|e| target.limits.classify(e))?;
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .and_then(parse_challenge);
    drop(response);
    match (challenge, credentials) {
        (None, _) | (Some(Challenge::Basic), None) => Ok(Authorization::None),
        (Some(Challenge::Basic), Some((user, password))) => {
            let url = Url::parse(&probe).map_err(|e| Failure::Protocol(e.to_string()))?;
            credential_destination(target.registry, target.transport, &url)
                .map_err(Failure::Refused)?;
            Ok(Authorization::Basic(user.to_owned(), password.to_owned()))
        }
        (Some(Challenge::Bearer { realm, service }), credentials) => {
            let realm = Url::parse(&realm).map_err(|e| {
                Failure::Protocol(format!(
                    "the registry named an invalid token realm `{realm}`: {e}"
                ))
            })?;
            if credentials.is_some() {
                credential_destination(target.registry, target.transport, &realm)
                    .map_err(Failure::Refused)?;
            }
            fetch_token(target, realm, service, credentials, scope).await
        }
    }
}

async fn fetch_token(
    target: &Target<'_>,
    realm: Url,
    service: Option<String>,
    credentials: Option<(&str, &str)>,
    scope: &str,
) -> Result<Authorization, Failure> {
    let mut url = realm;
    url.query_pairs_mut().append_pair("scope", scope);
    if let Some(service) = &service {
        url.query_pairs_mut().append_pair("service", service);
    }
    let mut request = target
        .client
        .get(url.clone())
        .timeout(target.limits.remaining()?);
    if let Some((user, password)) = credentials {
        request = request.basic_auth(user, Some(password));
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| target.limits.classify(e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Failure::Status {
            code: status.as_u16(),
            url: url.origin().ascii_serialization() + url.path(),
            body: http::error_body(response, target.limits).await,
        });
    }
    let mut body = Vec::new();
    http::read_capped(
        &mut response,
        target.limits,
        MAX_TOKEN_BODY,
        "token answer",
        |chunk| body.extend_from_slice(chunk),
    )
    .await?;
    #[derive(serde::Deserialize)]
    struct TokenAnswer {
        token: Option<String>,
        access_token: Option<String>,
    }
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
        Failure::Protocol(format!(
            "the token service {} did not answer with a token: {e}",
            authority(&url)
        ))
    })?;
    answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
        .map(Authorization::Bearer)
        .ok_or_else(|| {
            Failure::Protocol(format!(
                "the token service {} answered without a token",
                authority(&url)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::ghcr("ghcr.io", Transport::Https, "https://ghcr.io/token", true)]
    #[case::acr(
        "myreg.azurecr.io",
        Transport::Https,
        "https://myreg.azurecr.io/oauth2/token",
        true
    )]
    #[case::explicit_default_port(
        "myreg.azurecr.io",
        Transport::Https,
        "https://myreg.azurecr.io:443/oauth2/token",
        true
    )]
    #[case::case_insensitive("GHCR.io", Transport::Https, "https://ghcr.IO/token", true)]
    #[case::docker_hub_realm("docker.io", Transport::Https, "https://auth.docker.io/token", false)]
    #[case::other_host_https("ghcr.io", Transport::Https, "https://collector.example/token", false)]
    #[case::same_host_plain_http("ghcr.io", Transport::Https, "http://ghcr.io/token", false)]
    #[case::same_host_other_port("ghcr.io", Transport::Https, "https://ghcr.io:8443/token", false)]
    #[case::loopback_http("127.0.0.1:5000", Transport::Http, "http://127.0.0.1:5000/token", true)]
    #[case::loopback_other_port(
        "127.0.0.1:5000",
        Transport::Http,
        "http://127.0.0.1:5001/token",
        false
    )]
    #[case::loopback_to_other_loopback_ip(
        "127.0.0.1:5000",
        Transport::Http,
        "http://127.0.0.2:5000/token",
        false
    )]
    #[case::localhost("localhost:5000", Transport::Http, "http://localhost:5000/v2/", true)]
    #[case::ipv6_loopback("[::1]:5000", Transport::Http, "http://[::1]:5000/v2/", true)]
    #[case::listed_insecure_plain_http(
        "registry.internal:5000",
        Transport::Http,
        "http://registry.internal:5000/v2/",
        false
    )]
    #[case::non_listed_loopback_ip_plain_http(
        "127.0.0.2:5000",
        Transport::Http,
        "http://127.0.0.2:5000/v2/",
        false
    )]
    #[case::https_upgrade_same_host(
        "127.0.0.1:5000",
        Transport::Http,
        "https://127.0.0.1:5000/token",
        true
    )]
    fn credentials_go_only_to_the_registry_itself_over_tls_or_loopback(
        #[case] registry: &str,
        #[case] transport: Transport,
        #[case] url: &str,
        #[case] allowed: bool,
    ) {
        let decision = credential_destination(registry, transport, &Url::parse(url).unwrap());
        assert_eq!(decision.is_ok(), allowed, "{decision:?}");
    }

    #[test]
    fn refusals_name_the_destination_and_the_rule() {
        let other = credential_destination(
            "ghcr.io",
            Transport::Https,
            &Url::parse("https://collector.example:8443/token").unwrap(),
        )
        .unwrap_err();
        assert!(
            other.contains("collector.example:8443") && other.contains("own host and port"),
            "{other}"
        );
        let plain = credential_destination(
            "registry.internal",
            Transport::Http,
            &Url::parse("http://registry.internal/v2/").unwrap(),
        )
        .unwrap_err();
        assert!(
            plain.contains("plain HTTP") && plain.contains("HTTPS"),
            "{plain}"
        );
    }

    #[rstest]
    #[case::basic("Basic realm=\"aksid-test\"", Some(Challenge::Basic))]
    #[case::bearer_full(
        "Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\",scope=\"repository:a/b:pull\"",
        Some(Challenge::Bearer { realm: "https://ghcr.io/token".into(), service: Some("ghcr.io".into()) })
    )]
    #[case::bearer_unquoted_spaces(
        "bearer realm=https://r.io/t, service=r.io",
        Some(Challenge::Bearer { realm: "https://r.io/t".into(), service: Some("r.io".into()) })
    )]
    #[case::bearer_without_realm("Bearer service=\"x\"", None)]
    #[case::unterminated_quote("Bearer realm=\"https://r.io", None)]
    #[case::unknown_scheme("Negotiate abc", None)]
    #[case::empty("", None)]
    fn challenges_parse(#[case] header: &str, #[case] expected: Option<Challenge>) {
        assert_eq!(parse_challenge(header), expected);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let text = format!(
            "{:?} {:?}",
            Authorization::Basic("user".into(), "hunter2".into()),
            Authorization::Bearer("tok-secret".into())
        );
        assert!(
            !text.contains("hunter2") && !text.contains("tok-secret"),
            "{text}"
        );
    }
}
