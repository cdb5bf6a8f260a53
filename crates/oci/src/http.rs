//! The HTTP requests aksid-oci makes itself (the authentication challenge, token, manifest and
//! blob downloads): one reqwest client per operation with a connect timeout, a read (idle)
//! timeout, a deadline for the whole operation, a redirect policy that never lowers the
//! transport, and bodies read with a byte cap enforced as the bytes arrive.
//!
//! oci-client buffers whole bodies and follows every redirect reqwest follows, so pulls do not
//! go through it; pushes still do, with the authentication this module obtained.

use crate::transport::Transport;
use reqwest::Url;
use std::time::{Duration, Instant};

/// Most redirects followed for one request (blob downloads redirect once, to storage).
const MAX_REDIRECTS: usize = 5;

/// Largest error body kept to quote the registry's own words.
pub(crate) const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Why a request failed, before it is worded for the user (see [`crate::RegistryError`]).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The registry answered with a non-success status; `body` is its (capped) text.
    Status {
        code: u16,
        url: String,
        body: String,
    },
    /// reqwest failed: connection, TLS, a refused redirect, or a timeout it measured.
    Request(reqwest::Error),
    /// Nothing arrived for the read timeout, or the operation outlived its deadline.
    Timeout(TimeoutKind),
    /// A body exceeded its cap (`declared` is the `Content-Length` the registry announced).
    TooLarge {
        what: &'static str,
        limit: u64,
        declared: Option<u64>,
    },
    /// Credentials would have gone somewhere they must not; the reason names where and why.
    Refused(String),
    /// The registry broke the protocol (an unparsable challenge or token answer).
    Protocol(String),
}

/// Which timeout expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeoutKind {
    /// No byte arrived for this long.
    Idle(Duration),
    /// The whole operation took longer than this.
    Deadline(Duration),
}

/// Timeouts of one registry operation (a pull or a push).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) read_timeout: Duration,
    pub(crate) operation_timeout: Duration,
    pub(crate) deadline: Instant,
}

impl Limits {
    pub(crate) fn start(read_timeout: Duration, operation_timeout: Duration) -> Limits {
        Limits {
            read_timeout,
            operation_timeout,
            deadline: Instant::now() + operation_timeout,
        }
    }

    /// Time left before the deadline, or the deadline failure when none is left.
    pub(crate) fn remaining(&self) -> Result<Duration, Failure> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(Failure::Timeout(TimeoutKind::Deadline(
                self.operation_timeout,
            )))
        } else {
            Ok(left)
        }
    }

    /// Runs `future` until the deadline at most.
    pub(crate) async fn bound<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.remaining()?, future).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout(TimeoutKind::Deadline(
                self.operation_timeout,
            ))),
        }
    }

    /// A reqwest timeout is either the idle timeout or the deadline: the clock tells which.
    pub(crate) fn classify(&self, error: reqwest::Error) -> Failure {
        if !error.is_timeout() {
            return Failure::Request(error);
        }
        // The deadline is enforced by the per-request total timeout, which expires at the
        // deadline; an idle timeout expires earlier.
        if Instant::now() + Duration::from_millis(50) >= self.deadline {
            Failure::Timeout(TimeoutKind::Deadline(self.operation_timeout))
        } else {
            Failure::Timeout(TimeoutKind::Idle(self.read_timeout))
        }
    }
}

/// Whether plain HTTP may be used to `authority` (`HOST` or `HOST:PORT`): loopback registries
/// always, others only when listed in `insecure` (`HOST` = any port, `HOST:PORT` = that port).
pub(crate) fn plain_http_allowed(insecure: &[String], authority: &str) -> bool {
    let authority = authority.to_ascii_lowercase();
    let (host, _) = crate::reference::split_port(&authority);
    is_loopback_host(host)
        || insecure.iter().any(|entry| {
            let entry = entry.trim().to_ascii_lowercase();
            entry == authority || entry == host
        })
}

/// The hosts aksid treats as this machine. Other loopback addresses (127.0.0.2) are not on the
/// list, so tests can use them to stand for remote hosts.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    matches!(
        host.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "[::1]"
    )
}

/// `HOST[:PORT]` of a URL, IPv6 hosts in brackets, as registries are named.
pub(crate) fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// Whether a redirect from `previous` (the first is the URL requested) to `next` is followed.
///
/// A redirect never lowers the transport: after HTTPS, only HTTPS; plain HTTP only to hosts
/// that may be reached over plain HTTP at all ([`plain_http_allowed`]). reqwest already drops
/// the `Authorization` header when a redirect leaves the origin.
pub(crate) fn redirect_decision(
    insecure: &[String],
    next: &Url,
    previous: &[Url],
) -> Result<(), String> {
    if previous.len() > MAX_REDIRECTS {
        return Err(format!("more than {MAX_REDIRECTS} redirects"));
    }
    let from = previous.last().map(Url::as_str).unwrap_or("the request");
    match next.scheme() {
        "https" => Ok(()),
        "http" if previous.iter().any(|url| url.scheme() == "https") => Err(format!(
            "refusing the redirect from HTTPS ({from}) to plain HTTP ({next}): \
             it would drop TLS"
        )),
        "http" if plain_http_allowed(insecure, &authority(next)) => Ok(()),
        "http" => Err(format!(
            "refusing the redirect from {from} to plain HTTP ({next}): {} is neither a \
             loopback registry nor listed as an insecure registry",
            authority(next)
        )),
        other => Err(format!(
            "refusing the redirect from {from} to {next}: scheme `{other}` is not HTTP(S)"
        )),
    }
}

/// The reqwest client of one operation: timeouts, the redirect policy and no cookies.
pub(crate) fn build_client(
    insecure: &[String],
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    let insecure = insecure.to_vec();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        match redirect_decision(&insecure, attempt.url(), attempt.previous()) {
            Ok(()) => attempt.follow(),
            Err(reason) => attempt.error(reason),
        }
    });
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .read_timeout(read_timeout)
        .redirect(policy)
        .user_agent(concat!("aksid/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// `scheme://registry` for `transport`.
pub(crate) fn base_url(registry: &str, transport: Transport) -> String {
    match transport {
        Transport::Https => format!("https://{registry}"),
        Transport::Http => format!("http://{registry}"),
    }
}

/// Reads `response`'s body into `sink`, failing as soon as more than `limit` bytes arrived
/// (or when the announced `Content-Length` is already larger): memory stays at one chunk.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    limits: &Limits,
    limit: u64,
    what: &'static str,
    mut sink: impl FnMut(&[u8]),
) -> Result<u64, Failure> {
    if let Some(length) = response.content_length()
        && length > limit
    {
        return Err(Failure::TooLarge {
            what,
            limit,
            declared: Some(length),
        });
    }
    let mut total: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(|e| limits.classify(e))? {
        total = total.saturating_add(chunk.len() as u64);
        if total > limit {
            return Err(Failure::TooLarge {
                what,
                limit,
                declared: response.content_length(),
            });
        }
        sink(&chunk);
    }
    Ok(total)
}

/// The error text of a failed response, capped, for quoting the registry.
pub(crate) async fn error_body(mut response: reqwest::Response, limits: &Limits) -> String {
    let mut body = Vec::new();
    // A body too large or too slow to read is not worth quoting: keep what arrived.
    let _ = read_capped(&mut response, limits, MAX_ERROR_BODY, "error", |chunk| {
        let room = (MAX_ERROR_BODY as usize).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    })
    .await;
    String::from_utf8_lossy(&body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn urls(list: &[&str]) -> Vec<Url> {
        list.iter().map(|u| Url::parse(u).unwrap()).collect()
    }

    #[rstest]
    #[case::https_to_https("https://r.io/v2/a/blobs/x", &["https://r.io/v2/a/blobs/x"], true)]
    #[case::https_to_other_https_host("https://blob.core.windows.net/x", &["https://r.io/v2/a/blobs/x"], true)]
    #[case::https_to_http_remote("http://evil.example/x", &["https://r.io/v2/a/blobs/x"], false)]
    #[case::https_to_http_loopback("http://127.0.0.1:5000/x", &["https://r.io/v2/a/blobs/x"], false)]
    #[case::https_then_https_then_http("http://127.0.0.1/x", &["https://r.io/a", "https://s.io/b"], false)]
    #[case::http_loopback_to_http_loopback("http://localhost:5001/x", &["http://127.0.0.1:5000/a"], true)]
    #[case::http_loopback_to_http_remote("http://127.0.0.2:5001/x", &["http://127.0.0.1:5000/a"], false)]
    #[case::http_loopback_to_listed_http("http://mirror.internal/x", &["http://127.0.0.1:5000/a"], true)]
    #[case::http_to_https("https://r.io/x", &["http://127.0.0.1:5000/a"], true)]
    #[case::other_scheme("file:///etc/passwd", &["https://r.io/a"], false)]
    #[case::too_many("https://r.io/7", &["https://r.io/1", "https://r.io/2", "https://r.io/3", "https://r.io/4", "https://r.io/5", "https://r.io/6"], false)]
    fn redirects_never_lower_the_transport(
        #[case] next: &str,
        #[case] previous: &[&str],
        #[case] followed: bool,
    ) {
        let insecure = vec!["mirror.internal".to_owned()];
        let decision = redirect_decision(&insecure, &Url::parse(next).unwrap(), &urls(previous));
        assert_eq!(decision.is_ok(), followed, "{decision:?}");
        if let Err(reason) = decision {
            assert!(
                reason.contains("refusing") || reason.contains("redirects"),
                "{reason}"
            );
        }
    }

    #[test]
    fn an_https_to_http_refusal_says_it_would_drop_tls() {
        let reason = redirect_decision(
            &[],
            &Url::parse("http://evil.example/x").unwrap(),
            &urls(&["https://r.io/a"]),
        )
        .unwrap_err();
        assert!(
            reason.contains("drop TLS") && reason.contains("http://evil.example/x"),
            "{reason}"
        );
    }

    #[test]
    fn deadline_is_a_timeout_failure_once_passed() {
        let limits = Limits {
            read_timeout: Duration::from_secs(1),
            operation_timeout: Duration::from_secs(3),
            deadline: Instant::now(),
        };
        assert!(matches!(
            limits.remaining(),
            Err(Failure::Timeout(TimeoutKind::Deadline(d))) if d == Duration::from_secs(3)
        ));
    }
}
