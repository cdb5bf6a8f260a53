//! The blocking registry client: options, transport choice (HTTPS, or plain HTTP for loopback
//! and listed hosts), credentials, the cache, the per-operation session (timeouts,
//! authentication) and the small runtime that drives the requests.

use crate::auth::{self, Authorization};
use crate::cache::Cache;
use crate::credentials::{Credentials, CredentialsError, DockerConfigLocation, Origin};
use crate::http::{Failure, Limits};
use crate::reference::Reference;
use crate::registry_error::RegistryError;
pub use crate::transport::Transport;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use std::path::PathBuf;
use std::time::Duration;

/// How a [`Client`] reaches registries, finds credentials and caches pulls.
///
/// Build it with [`ClientOptions::new`] and adjust the public fields or the chaining setters.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registries reached over plain HTTP besides the loopback ones. An entry `HOST` matches
    /// every port of that host; `HOST:PORT` only that port. Default: empty.
    ///
    /// `localhost`, `127.0.0.1` and `[::1]` always use plain HTTP (any port): a registry on the
    /// same machine is the development and test setup, and its traffic never leaves the host.
    /// Every other registry uses HTTPS with the system's root certificates, and a plain-HTTP
    /// registry that is not listed fails with a hint to list it; there is no fallback from
    /// HTTPS to HTTP, because a downgrade an attacker can provoke is no protection.
    ///
    /// See also [`ClientOptions::insecure_registry`].
    pub insecure_registries: Vec<String>,
    /// The Docker config file (`config.json`) to read credentials from. Default: `None`, which
    /// means `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, and anonymous access
    /// when that file does not exist. A file given here must exist.
    ///
    /// `AKSID_REGISTRY_USERNAME` and `AKSID_REGISTRY_PASSWORD`, set together with
    /// `AKSID_REGISTRY_SERVER`, win over the file for that registry only. Credential helpers
    /// (`credsStore`, `credHelpers`) are not run.
    pub docker_config: Option<PathBuf>,
    /// Where pulled policies are cached by manifest digest (the caller chooses it).
    /// Created on first use.
    pub cache_dir: PathBuf,
    /// Push modules without Kubewarden metadata, as `kwctl push --force` does. Default: `false`,
    /// so that a module Kubewarden would refuse to run never reaches a registry by mistake.
    pub force: bool,
    /// Time allowed to open a connection to a registry. Default: 30 s. A registry that does not
    /// answer at all fails after this instead of hanging the command.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes from a registry (an idle timeout, reset by every byte
    /// received). Default: 30 s. A registry that stalls mid-response fails after this.
    pub read_timeout: Duration,
    /// Longest a whole pull or push may take, however steadily the registry sends.
    /// Default: 10 min. A registry that trickles bytes just fast enough to beat
    /// [`ClientOptions::read_timeout`] fails after this.
    pub operation_timeout: Duration,
}

impl ClientOptions {
    /// Defaults: no extra insecure registries, the default Docker config, no force, 30 s connect
    /// and read timeouts, 10 min per operation, and pulls cached in `cache_dir`.
    pub fn new(cache_dir: impl Into<PathBuf>) -> ClientOptions {
        ClientOptions {
            insecure_registries: Vec::new(),
            docker_config: None,
            cache_dir: cache_dir.into(),
            force: false,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(600),
        }
    }

    /// Sets [`ClientOptions::read_timeout`].
    pub fn read_timeout(mut self, timeout: Duration) -> ClientOptions {
        self.read_timeout = timeout;
        self
    }

    /// Sets [`ClientOptions::operation_timeout`].
    pub fn operation_timeout(mut self, timeout: Duration) -> ClientOptions {
        self.operation_timeout = timeout;
        self
    }

    /// Adds `registry` (`HOST` or `HOST:PORT`) to [`ClientOptions::insecure_registries`].
    pub fn insecure_registry(mut self, registry: impl Into<String>) -> ClientOptions {
        self.insecure_registries.push(registry.into());
        self
    }

    /// Sets [`ClientOptions::docker_config`].
    pub fn docker_config(mut self, path: impl Into<PathBuf>) -> ClientOptions {
        self.docker_config = Some(path.into());
        self
    }

    /// Sets [`ClientOptions::force`].
    pub fn force(mut self, force: bool) -> ClientOptions {
        self.force = force;
        self
    }

    /// Sets [`ClientOptions::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientOptions {
        self.connect_timeout = timeout;
        self
    }

    /// The transport used for `registry` (`HOST` or `HOST:PORT`).
    pub fn transport_for(&self, registry: &str) -> Transport {
        if crate::http::plain_http_allowed(&self.insecure_registries, registry) {
            Transport::Http
        } else {
            Transport::Https
        }
    }
}

/// Why a [`Client`] could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The runtime that drives the network I/O could not start.
    #[error("cannot start the registry client's runtime")]
    Runtime(#[source] std::io::Error),
    /// The credentials configuration is contradictory (for example half of the environment pair).
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}

/// A blocking client for pushing and pulling Kubewarden policies.
///
/// It owns a current-thread tokio runtime and blocks on it, so it must not be called from
/// inside another tokio runtime (that panics); the aksid CLI is synchronous.
pub struct Client {
    pub(crate) options: ClientOptions,
    pub(crate) credentials: Credentials,
    pub(crate) cache: Cache,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What one registry operation needs: its timeouts, the HTTP client (aksid-oci's own
/// requests) and the `oci-client` (pushes), the authorization obtained and where the
/// credentials came from.
pub(crate) struct Session {
    pub(crate) oci: oci_client::Client,
    pub(crate) http: reqwest::Client,
    pub(crate) authorization: Authorization,
    pub(crate) auth: RegistryAuth,
    pub(crate) limits: Limits,
    pub(crate) origin: Origin,
    pub(crate) transport: Transport,
    pub(crate) registry: String,
}

/// What a session is for, which decides the token scope asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Pull,
    Push,
}

/// Why a [`Session`] could not be set up.
pub(crate) enum SessionError {
    Credentials(CredentialsError),
    Registry(RegistryError),
}

impl From<CredentialsError> for SessionError {
    fn from(e: CredentialsError) -> SessionError {
        SessionError::Credentials(e)
    }
}

impl Session {
    pub(crate) fn error(&self, error: oci_client::errors::OciDistributionError) -> RegistryError {
        RegistryError::new(error, &self.registry, self.transport, &self.origin)
    }

    pub(crate) fn failure(&self, failure: Failure) -> RegistryError {
        RegistryError::from_failure(failure, &self.registry, self.transport, &self.origin)
    }

    /// `GET url` with the session's authorization, within the deadline; a non-success status
    /// is a failure quoting the registry's (capped) answer.
    pub(crate) async fn get(
        &self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Response, Failure> {
        let mut request = self.http.get(url).timeout(self.limits.remaining()?);
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        let response = self
            .authorization
            .apply(request)
            .send()
            .await
            .map_err(|e| self.limits.classify(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(Failure::Status {
            code: status.as_u16(),
            url: url.to_owned(),
            body: crate::http::error_body(response, &self.limits).await,
        })
    }

    /// `scheme://registry`.
    pub(crate) fn base_url(&self) -> String {
        crate::http::base_url(&self.registry, self.transport)
    }
}

impl Client {
    /// Creates a client. Reads `AKSID_REGISTRY_USERNAME`/`AKSID_REGISTRY_PASSWORD` now; the
    /// Docker config file is read when a registry operation needs credentials.
    pub fn new(options: ClientOptions) -> Result<Client, ClientError> {
        // reqwest is built without a bundled crypto provider (aws-lc takes minutes to compile);
        // ring is installed as the process default. An Err only means a provider is already
        // installed, by us or by the embedding program, which is fine either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let credentials = Credentials::new(DockerConfigLocation::resolve(
            options.docker_config.as_deref(),
        ))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ClientError::Runtime)?;
        Ok(Client {
            cache: Cache::new(options.cache_dir.clone()),
            credentials,
            options,
            runtime,
        })
    }

    /// The options the client was created with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The transport used for `reference`'s registry.
    pub fn transport_for(&self, reference: &Reference) -> Transport {
        self.options.transport_for(reference.registry())
    }

    /// The `oci-client` configuration for `registry`: HTTPS for everything except that registry
    /// when it may use plain HTTP.
    pub(crate) fn oci_config(&self, registry: &str) -> ClientConfig {
        let exceptions = match self.options.transport_for(registry) {
            Transport::Http => vec![registry.to_owned()],
            Transport::Https => Vec::new(),
        };
        ClientConfig {
            protocol: ClientProtocol::HttpsExcept(exceptions),
            connect_timeout: Some(self.options.connect_timeout),
            read_timeout: Some(self.options.read_timeout),
            // A Kubewarden policy is an image manifest; an index is reported, not resolved.
            platform_resolver: None,
            ..ClientConfig::default()
        }
    }

    /// Credentials, transport, clients and the authorization for `operation` on
    /// `reference`'s repository: contacts the registry (its authentication challenge).
    pub(crate) fn session(
        &self,
        reference: &Reference,
        operation: Operation,
    ) -> Result<Session, SessionError> {
        let limits = Limits::start(self.options.read_timeout, self.options.operation_timeout);
        let registry = reference.registry().to_owned();
        let (configured, origin) = self.credentials.for_registry(&registry)?;
        let transport = self.options.transport_for(&registry);
        let failed = |failure| {
            SessionError::Registry(RegistryError::from_failure(
                failure, &registry, transport, &origin,
            ))
        };
        let http = crate::http::build_client(
            &self.options.insecure_registries,
            self.options.connect_timeout,
            self.options.read_timeout,
        )
        .map_err(|e| failed(Failure::Request(e)))?;
        let oci = oci_client::Client::try_from(self.oci_config(&registry)).map_err(|e| {
            SessionError::Registry(RegistryError::new(e, &registry, transport, &origin))
        })?;
        let credentials = match &configured {
            RegistryAuth::Basic(user, password) => Some((user.as_str(), password.as_str())),
            _ => None,
        };
        let scope = match operation {
            Operation::Pull => format!("repository:{}:pull", reference.repository()),
            Operation::Push => format!("repository:{}:pull,push", reference.repository()),
        };
        let target = auth::Target {
            client: &http,
            registry: &registry,
            transport,
            limits: &limits,
        };
        let authorization = self
            .block_on(limits.bound(auth::authenticate(&target, credentials, &scope)))
            .map_err(failed)?;
        Ok(Session {
            auth: authorization.to_oci(),
            oci,
            http,
            authorization,
            limits,
            origin,
            transport,
            registry,
        })
    }

    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_and_listed_registries() {
        let options = ClientOptions::new("/unused")
            .insecure_registry("registry.internal")
            .insecure_registry("mirror.example.com:5000");
        let cases = [
            ("localhost:5000", Transport::Http),
            ("localhost", Transport::Http),
            ("LOCALHOST:1234", Transport::Http),
            ("127.0.0.1:5000", Transport::Http),
            ("[::1]:5000", Transport::Http),
            ("registry.internal:8080", Transport::Http),
            ("registry.internal", Transport::Http),
            ("mirror.example.com:5000", Transport::Http),
            // Not listed, or listed with another port: HTTPS.
            ("mirror.example.com", Transport::Https),
            ("mirror.example.com:5001", Transport::Https),
            ("registry.example.com:5000", Transport::Https),
            ("127.0.0.2:5000", Transport::Https),
            ("localhost.example.com", Transport::Https),
            ("ghcr.io", Transport::Https),
        ];
        for (registry, expected) in cases {
            assert_eq!(options.transport_for(registry), expected, "{registry}");
        }
    }

    #[test]
    fn a_non_local_registry_gets_an_https_only_oci_client_without_the_flag() {
        let client = Client::new(ClientOptions::new("/unused")).unwrap();
        let remote = Reference::parse("registry://registry.example.com:5000/a/p:v1").unwrap();
        assert_eq!(client.transport_for(&remote), Transport::Https);
        assert_eq!(
            client.oci_config(remote.registry()).protocol,
            ClientProtocol::HttpsExcept(vec![])
        );
        let local = Reference::parse("registry://127.0.0.1:5000/a/p:v1").unwrap();
        assert_eq!(
            client.oci_config(local.registry()).protocol,
            ClientProtocol::HttpsExcept(vec!["127.0.0.1:5000".into()])
        );

        let flagged = Client::new(
            ClientOptions::new("/unused").insecure_registry("registry.example.com:5000"),
        )
        .unwrap();
        assert_eq!(
            flagged.oci_config(remote.registry()).protocol,
            ClientProtocol::HttpsExcept(vec!["registry.example.com:5000".into()])
        );
    }
}
