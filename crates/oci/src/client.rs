//! The blocking registry client: options, transport choice (HTTPS, or plain HTTP for loopback
//! and listed hosts), credentials, the cache and the small runtime that drives `oci-client`.

use crate::cache::Cache;
use crate::credentials::{Credentials, CredentialsError, DockerConfigLocation, Origin};
use crate::reference::{Reference, split_port};
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
    /// `AKSID_REGISTRY_USERNAME` and `AKSID_REGISTRY_PASSWORD`, when both are set, win over the
    /// file for every registry. Credential helpers (`credsStore`, `credHelpers`) are not run.
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
}

impl ClientOptions {
    /// Defaults: no extra insecure registries, the default Docker config, no force, 30 s connect
    /// timeout, and pulls cached in `cache_dir`.
    pub fn new(cache_dir: impl Into<PathBuf>) -> ClientOptions {
        ClientOptions {
            insecure_registries: Vec::new(),
            docker_config: None,
            cache_dir: cache_dir.into(),
            force: false,
            connect_timeout: Duration::from_secs(30),
        }
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
        let registry = registry.to_ascii_lowercase();
        let (host, _) = split_port(&registry);
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
        let listed = self.insecure_registries.iter().any(|entry| {
            let entry = entry.trim().to_ascii_lowercase();
            entry == registry || entry == host
        });
        if loopback || listed {
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

/// What one registry operation needs: the `oci-client` for the registry's transport, the
/// authentication and where it came from.
pub(crate) struct Session {
    pub(crate) oci: oci_client::Client,
    pub(crate) auth: RegistryAuth,
    pub(crate) origin: Origin,
    pub(crate) transport: Transport,
    pub(crate) registry: String,
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
            // A Kubewarden policy is an image manifest; an index is reported, not resolved.
            platform_resolver: None,
            ..ClientConfig::default()
        }
    }

    /// Credentials, transport and an `oci-client` for `reference`'s registry.
    pub(crate) fn session(&self, reference: &Reference) -> Result<Session, SessionError> {
        let registry = reference.registry().to_owned();
        let (auth, origin) = self.credentials.for_registry(&registry)?;
        let transport = self.options.transport_for(&registry);
        match oci_client::Client::try_from(self.oci_config(&registry)) {
            Ok(oci) => Ok(Session {
                oci,
                auth,
                origin,
                transport,
                registry,
            }),
            Err(e) => Err(SessionError::Registry(RegistryError::new(
                e, &registry, transport, &origin,
            ))),
        }
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
