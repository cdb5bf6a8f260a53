//! Registry credentials: the `AKSID_REGISTRY_USERNAME`/`AKSID_REGISTRY_PASSWORD` environment
//! pair for the registry `AKSID_REGISTRY_SERVER` names, then the Docker config file's `auths`,
//! else anonymous access. Every source is bound to one registry host: no credential is ever
//! offered to a registry it was not configured for.
//!
//! | source | used when |
//! |---|---|
//! | both environment variables and `AKSID_REGISTRY_SERVER` | the registry is that server (`HOST[:PORT]`, as Docker config keys match); the Docker config is not read for it |
//! | both environment variables without `AKSID_REGISTRY_SERVER` | never: [`crate::Client::new`] fails and says to set it |
//! | one environment variable | never: [`crate::Client::new`] fails, naming the missing one |
//! | `auths[HOST]` with `auth` (base64 `user:pass`) or `username`/`password` | the registry matches the key (scheme and path ignored) |
//! | `credHelpers[HOST]`, or an empty `auths[HOST]` with `credsStore` | never: an error says to use the environment or plain `auths` |
//! | nothing | anonymous |
//!
//! The Docker config file is read lazily, on the first push or pull that needs credentials, so a
//! broken file or a credential helper only matters when it would be used.

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment variable holding the registry user name (used together with [`ENV_PASSWORD`]).
pub const ENV_USERNAME: &str = "AKSID_REGISTRY_USERNAME";
/// Environment variable holding the registry password or token (used with [`ENV_USERNAME`]).
pub const ENV_PASSWORD: &str = "AKSID_REGISTRY_PASSWORD";
/// Environment variable naming the one registry (`HOST[:PORT]`) that [`ENV_USERNAME`] and
/// [`ENV_PASSWORD`] are for.
pub const ENV_SERVER: &str = "AKSID_REGISTRY_SERVER";

/// Why credentials could not be determined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// Only one of the two environment variables is set.
    #[error(
        "{set} is set but {missing} is not\n\nSet both {ENV_USERNAME} and {ENV_PASSWORD}, or neither"
    )]
    IncompleteEnvironment {
        /// The variable that is set.
        set: &'static str,
        /// The variable that is missing or empty.
        missing: &'static str,
    },
    /// The environment pair is set without the registry it is for.
    #[error(
        "{ENV_USERNAME} and {ENV_PASSWORD} are set but {ENV_SERVER} is not\n\n\
         Set {ENV_SERVER} to the registry these credentials are for (HOST or HOST:PORT, e.g. \
         {ENV_SERVER}=myregistry.azurecr.io). aksid no longer sends them to every registry it \
         contacts, since that handed them to any registry named in a policy reference"
    )]
    EnvironmentWithoutServer,
    /// `AKSID_REGISTRY_SERVER` is not a registry host.
    #[error(
        "{ENV_SERVER}={value:?} is not a registry: give HOST or HOST:PORT, without scheme or \
         path (e.g. myregistry.azurecr.io or 127.0.0.1:5000)"
    )]
    InvalidServer {
        /// The value given.
        value: String,
    },
    /// The Docker config file could not be read.
    #[error("cannot read Docker config file {}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The Docker config file is not valid JSON of the expected shape.
    #[error("invalid Docker config file {}", path.display())]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// An `auths` entry's `auth` field is not base64 of `user:password`.
    #[error("invalid `auth` for {registry} in Docker config file {}: {reason}", path.display())]
    InvalidAuth {
        /// The file.
        path: PathBuf,
        /// The registry whose entry is broken.
        registry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The credentials live in a Docker credential helper, which aksid does not run.
    #[error(
        "the credentials for {registry} are kept by the Docker credential helper \
         `docker-credential-{helper}` (configured in {}), which aksid does not run\n\n\
         Set {ENV_USERNAME} and {ENV_PASSWORD}, or store the credentials in the config file's \
         `auths` (docker login writes them there when no credsStore is configured)",
        path.display()
    )]
    CredentialHelperUnsupported {
        /// The file.
        path: PathBuf,
        /// The registry.
        registry: String,
        /// The helper name, as in `credsStore`/`credHelpers`.
        helper: String,
    },
    /// The entry holds only an OAuth identity token, which aksid does not exchange.
    #[error(
        "the Docker config file {} holds only an identity token for {registry}, which aksid does \
         not support\n\nSet {ENV_USERNAME} and {ENV_PASSWORD} (for ACR: the user \
         00000000-0000-0000-0000-000000000000 and an access token)",
        path.display()
    )]
    IdentityTokenUnsupported {
        /// The file.
        path: PathBuf,
        /// The registry.
        registry: String,
    },
}

/// Where the credentials used for a registry came from, for error hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Anonymous,
    Environment,
    DockerConfig(PathBuf),
}

impl Origin {
    pub(crate) fn describe(&self) -> String {
        match self {
            Origin::Anonymous => "no credentials (anonymous access)".to_owned(),
            Origin::Environment => format!("the credentials from {ENV_USERNAME}/{ENV_PASSWORD}"),
            Origin::DockerConfig(path) => {
                format!("the credentials from Docker config file {}", path.display())
            }
        }
    }
}

/// Which Docker config file to read, and whether its absence is an error.
#[derive(Debug, Clone)]
pub(crate) struct DockerConfigLocation {
    path: Option<PathBuf>,
    explicit: bool,
}

impl DockerConfigLocation {
    /// `explicit` if given; else `$DOCKER_CONFIG/config.json`; else `$HOME/.docker/config.json`.
    pub(crate) fn resolve(explicit: Option<&Path>) -> DockerConfigLocation {
        if let Some(path) = explicit {
            return DockerConfigLocation {
                path: Some(path.to_owned()),
                explicit: true,
            };
        }
        let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let path = from_env("DOCKER_CONFIG")
            .map(|dir| PathBuf::from(dir).join("config.json"))
            .or_else(|| {
                from_env("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
            });
        DockerConfigLocation {
            path,
            explicit: false,
        }
    }
}

/// Credentials from the environment, bound to the registry `server` (normalised).
#[derive(Clone)]
pub(crate) struct EnvironmentCredentials {
    server: String,
    user: String,
    password: String,
}

impl std::fmt::Debug for EnvironmentCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentCredentials")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// The environment credentials from the values of [`ENV_USERNAME`], [`ENV_PASSWORD`] and
/// [`ENV_SERVER`] (empty counts as unset).
pub(crate) fn environment_credentials(
    user: Option<String>,
    password: Option<String>,
    server: Option<String>,
) -> Result<Option<EnvironmentCredentials>, CredentialsError> {
    let non_empty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (user, password) = match (non_empty(user), non_empty(password)) {
        (Some(user), Some(password)) => (user, password),
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(CredentialsError::IncompleteEnvironment {
                set: ENV_USERNAME,
                missing: ENV_PASSWORD,
            });
        }
        (None, Some(_)) => {
            return Err(CredentialsError::IncompleteEnvironment {
                set: ENV_PASSWORD,
                missing: ENV_USERNAME,
            });
        }
    };
    let value = non_empty(server).ok_or(CredentialsError::EnvironmentWithoutServer)?;
    let trimmed = value.trim();
    let valid = !trimmed.contains("://")
        && !trimmed.contains('/')
        && !trimmed.contains(char::is_whitespace)
        && !trimmed.contains('@');
    if !valid {
        return Err(CredentialsError::InvalidServer { value });
    }
    Ok(Some(EnvironmentCredentials {
        server: normalize_registry_key(trimmed),
        user,
        password,
    }))
}

/// Resolves the credentials of each registry.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    environment: Option<EnvironmentCredentials>,
    docker_config: DockerConfigLocation,
}

impl Credentials {
    /// Reads the environment pair now (so a half-set pair fails early) and remembers where the
    /// Docker config file is.
    pub(crate) fn new(
        docker_config: DockerConfigLocation,
    ) -> Result<Credentials, CredentialsError> {
        let var = |name| std::env::var(name).ok();
        let environment =
            environment_credentials(var(ENV_USERNAME), var(ENV_PASSWORD), var(ENV_SERVER))?;
        Ok(Credentials {
            environment,
            docker_config,
        })
    }

    /// The authentication to use for `registry` (`HOST` or `HOST:PORT`).
    pub(crate) fn for_registry(
        &self,
        registry: &str,
    ) -> Result<(RegistryAuth, Origin), CredentialsError> {
        if let Some(env) = &self.environment
            && env.server == normalize_registry_key(registry)
        {
            return Ok((
                RegistryAuth::Basic(env.user.clone(), env.password.clone()),
                Origin::Environment,
            ));
        }
        let Some(path) = &self.docker_config.path else {
            return Ok((RegistryAuth::Anonymous, Origin::Anonymous));
        };
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.docker_config.explicit => {
                return Ok((RegistryAuth::Anonymous, Origin::Anonymous));
            }
            Err(source) => {
                return Err(CredentialsError::ReadConfig {
                    path: path.clone(),
                    source,
                });
            }
        };
        let config: DockerConfig =
            serde_json::from_slice(&text).map_err(|source| CredentialsError::ParseConfig {
                path: path.clone(),
                source,
            })?;
        match config.lookup(registry, path)? {
            Some((user, password)) => Ok((
                RegistryAuth::Basic(user, password),
                Origin::DockerConfig(path.clone()),
            )),
            None => Ok((RegistryAuth::Anonymous, Origin::Anonymous)),
        }
    }
}

/// The parts of `~/.docker/config.json` that matter here; other keys are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

impl DockerConfig {
    fn lookup(
        &self,
        registry: &str,
        path: &Path,
    ) -> Result<Option<(String, String)>, CredentialsError> {
        let wanted = normalize_registry_key(registry);
        let entry = self
            .auths
            .iter()
            .find(|(key, _)| normalize_registry_key(key) == wanted)
            .map(|(_, entry)| entry);
        let helper = self
            .cred_helpers
            .iter()
            .find(|(key, _)| normalize_registry_key(key) == wanted)
            .map(|(_, helper)| helper.clone());
        let helper_error = |helper: String| CredentialsError::CredentialHelperUnsupported {
            path: path.to_owned(),
            registry: registry.to_owned(),
            helper,
        };
        let non_empty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        if let Some(entry) = entry {
            if let Some(auth) = non_empty(&entry.auth) {
                return decode_auth(&auth).map(Some).map_err(|reason| {
                    CredentialsError::InvalidAuth {
                        path: path.to_owned(),
                        registry: registry.to_owned(),
                        reason,
                    }
                });
            }
            if let (Some(user), Some(password)) =
                (non_empty(&entry.username), non_empty(&entry.password))
            {
                return Ok(Some((user, password)));
            }
            if let Some(helper) = helper.or_else(|| self.creds_store.clone()) {
                return Err(helper_error(helper));
            }
            if non_empty(&entry.identitytoken).is_some() {
                return Err(CredentialsError::IdentityTokenUnsupported {
                    path: path.to_owned(),
                    registry: registry.to_owned(),
                });
            }
            return Ok(None);
        }
        match helper {
            Some(helper) => Err(helper_error(helper)),
            None => Ok(None),
        }
    }
}

/// `https://index.docker.io/v1/`, `http://host:5000` and `HOST:5000` all name the registry the
/// same way Docker does: without scheme and path, case-insensitively; Docker Hub's aliases are one.
fn normalize_registry_key(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_owned(),
        _ => host,
    }
}

fn decode_auth(auth: &str) -> Result<(String, String), &'static str> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(auth.trim()))
        .map_err(|_| "it is not base64")?;
    let text = String::from_utf8(bytes).map_err(|_| "it does not decode to UTF-8 text")?;
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        _ => Err("it does not decode to `user:password`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        serde_json::from_str(json).unwrap()
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn auths_entries_match_the_registry_whatever_the_key_spelling() {
        let json = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "http://127.0.0.1:5000": {{"auth": "{}"}},
                "myreg.azurecr.io": {{"username": "u3", "password": "p:3"}}
            }}}}"#,
            b64("u1:p1"),
            b64("u2:p:2")
        );
        let c = config(&json);
        let path = Path::new("config.json");
        assert_eq!(
            c.lookup("docker.io", path).unwrap(),
            Some(("u1".into(), "p1".into()))
        );
        assert_eq!(
            c.lookup("127.0.0.1:5000", path).unwrap(),
            Some(("u2".into(), "p:2".into()))
        );
        assert_eq!(
            c.lookup("MyReg.azurecr.io", path).unwrap(),
            Some(("u3".into(), "p:3".into()))
        );
        assert_eq!(c.lookup("127.0.0.1:5001", path).unwrap(), None);
        assert_eq!(c.lookup("ghcr.io", path).unwrap(), None);
    }

    #[test]
    fn helpers_are_an_error_only_for_the_registries_they_hold() {
        let c = config(
            r#"{"auths": {"ghcr.io": {}, "quay.io": {"auth": "dTpw"}},
                "credsStore": "desktop",
                "credHelpers": {"myreg.azurecr.io": "acr-env"}}"#,
        );
        let path = Path::new("/home/u/.docker/config.json");
        let err = c.lookup("ghcr.io", path).unwrap_err();
        assert!(
            matches!(&err, CredentialsError::CredentialHelperUnsupported { helper, .. } if helper == "desktop"),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(ENV_USERNAME) && message.contains("ghcr.io"),
            "{message}"
        );
        assert!(matches!(
            c.lookup("myreg.azurecr.io", path).unwrap_err(),
            CredentialsError::CredentialHelperUnsupported { helper, .. } if helper == "acr-env"
        ));
        // Plain auths still work beside a credsStore, and unknown registries stay anonymous.
        assert_eq!(
            c.lookup("quay.io", path).unwrap(),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(c.lookup("127.0.0.1:5000", path).unwrap(), None);
    }

    #[test]
    fn broken_auth_fields_name_the_registry() {
        let path = Path::new("config.json");
        for auth in ["%%%", &b64("no-colon"), &b64(":p")] {
            let c = config(&format!(
                r#"{{"auths": {{"ghcr.io": {{"auth": "{auth}"}}}}}}"#
            ));
            let err = c.lookup("ghcr.io", path).unwrap_err();
            assert!(
                matches!(&err, CredentialsError::InvalidAuth { registry, .. } if registry == "ghcr.io"),
                "{auth}: {err:?}"
            );
        }
        let c = config(r#"{"auths": {"x.io": {"identitytoken": "t"}}}"#);
        assert!(matches!(
            c.lookup("x.io", path).unwrap_err(),
            CredentialsError::IdentityTokenUnsupported { .. }
        ));
    }

    #[test]
    fn missing_default_config_is_anonymous_but_missing_explicit_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("config.json");
        let implicit = Credentials {
            environment: None,
            docker_config: DockerConfigLocation {
                path: Some(missing.clone()),
                explicit: false,
            },
        };
        assert!(matches!(
            implicit.for_registry("ghcr.io").unwrap(),
            (RegistryAuth::Anonymous, Origin::Anonymous)
        ));
        let explicit = Credentials {
            environment: None,
            docker_config: DockerConfigLocation::resolve(Some(&missing)),
        };
        assert!(matches!(
            explicit.for_registry("ghcr.io").unwrap_err(),
            CredentialsError::ReadConfig { .. }
        ));
    }

    #[test]
    fn environment_credentials_win_without_reading_the_config_for_their_server_only() {
        let env = environment_credentials(
            Some("env-user".into()),
            Some("env-pass".into()),
            Some("GHCR.io".into()),
        )
        .unwrap();
        let credentials = Credentials {
            environment: env,
            docker_config: DockerConfigLocation {
                path: None,
                explicit: false,
            },
        };
        let (auth, origin) = credentials.for_registry("ghcr.io").unwrap();
        assert!(matches!(auth, RegistryAuth::Basic(u, p) if u == "env-user" && p == "env-pass"));
        assert_eq!(origin, Origin::Environment);
        for other in [
            "evil.example",
            "ghcr.io:8443",
            "ghcr.io.evil.example",
            "127.0.0.1:5000",
        ] {
            let (auth, origin) = credentials.for_registry(other).unwrap();
            assert!(matches!(auth, RegistryAuth::Anonymous), "{other}");
            assert_eq!(origin, Origin::Anonymous, "{other}");
        }
    }

    #[rstest::rstest]
    #[case::none_set(None, None, None, Ok(None))]
    #[case::server_alone_is_harmless(None, None, Some("ghcr.io"), Ok(None))]
    #[case::bound(Some("u"), Some("p"), Some("ghcr.io"), Ok(Some("ghcr.io")))]
    #[case::bound_with_port(
        Some("u"),
        Some("p"),
        Some("127.0.0.1:5000"),
        Ok(Some("127.0.0.1:5000"))
    )]
    #[case::docker_hub_alias(Some("u"), Some("p"), Some("index.docker.io"), Ok(Some("docker.io")))]
    #[case::pair_without_server(Some("u"), Some("p"), None, Err("AKSID_REGISTRY_SERVER is not"))]
    #[case::pair_with_empty_server(
        Some("u"),
        Some("p"),
        Some(" "),
        Err("AKSID_REGISTRY_SERVER is not")
    )]
    #[case::server_with_scheme(
        Some("u"),
        Some("p"),
        Some("https://ghcr.io"),
        Err("is not a registry")
    )]
    #[case::server_with_path(Some("u"), Some("p"), Some("ghcr.io/org"), Err("is not a registry"))]
    #[case::user_alone(
        Some("u"),
        None,
        Some("ghcr.io"),
        Err("AKSID_REGISTRY_PASSWORD is not")
    )]
    #[case::password_alone(
        None,
        Some("p"),
        Some("ghcr.io"),
        Err("AKSID_REGISTRY_USERNAME is not")
    )]
    fn environment_credentials_are_bound_to_a_server(
        #[case] user: Option<&str>,
        #[case] password: Option<&str>,
        #[case] server: Option<&str>,
        #[case] expected: Result<Option<&str>, &str>,
    ) {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        let result = environment_credentials(owned(user), owned(password), owned(server));
        match (result, expected) {
            (Ok(env), Ok(server)) => assert_eq!(env.map(|e| e.server), server.map(str::to_owned)),
            (Err(e), Err(words)) => {
                let message = e.to_string();
                assert!(message.contains(words), "{message}");
            }
            (other, expected) => panic!("{other:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn the_unbound_pair_error_says_how_to_fix_it_and_that_it_changed() {
        let message = environment_credentials(Some("u".into()), Some("secret".into()), None)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("Set AKSID_REGISTRY_SERVER") && message.contains("no longer"),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
    }
}
