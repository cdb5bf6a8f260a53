//! Policy references: `registry://HOST[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST]`, parsed and
//! validated once so that everything downstream can trust the parts.
//!
//! Grammar, after the OCI distribution spec (repository components, tags) and Kubewarden's
//! `registry://` URIs:
//!
//! | part | rule |
//! |---|---|
//! | `registry://` | optional; any other scheme (`https://`, `file://`) is refused |
//! | host | required: a DNS name with a dot, `localhost`, an IPv4 address or `[IPv6]`, optional `:PORT` |
//! | repository | `/`-separated lowercase components `[a-z0-9]+` joined by `.`, `_`, `__` or `-`s |
//! | tag | `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`; `latest` when neither tag nor digest is given |
//! | digest | `sha256:` and 64 lowercase hex digits |
//!
//! There is no implicit Docker Hub: `aksid/no-local-accounts:v1` is refused rather than silently
//! resolved to `docker.io`, because a policy pulled from the wrong registry is a supply-chain
//! incident, not a convenience.

use std::fmt;
use std::str::FromStr;

/// The scheme Kubewarden uses for policies kept in an OCI registry.
pub const SCHEME: &str = "registry://";

/// Shown under every parse error, so that one look fixes the reference.
const VALID_EXAMPLE: &str = "A valid reference looks like registry://ghcr.io/aksid/no-local-accounts:v0.1.0, \
optionally pinned: registry://ghcr.io/aksid/no-local-accounts:v0.1.0@sha256:<64 hex digits>";

/// A policy's address in an OCI registry.
///
/// ```
/// use aksid_oci::Reference;
/// let r = Reference::parse("registry://127.0.0.1:5000/aksid/no-local-accounts:v0.1.0").unwrap();
/// assert_eq!(r.registry(), "127.0.0.1:5000");
/// assert_eq!(r.repository(), "aksid/no-local-accounts");
/// assert_eq!(r.tag(), Some("v0.1.0"));
/// assert_eq!(r.digest(), None);
/// assert_eq!(r.to_string(), "registry://127.0.0.1:5000/aksid/no-local-accounts:v0.1.0");
///
/// // The scheme is optional and the tag defaults to `latest`.
/// assert_eq!(Reference::parse("ghcr.io/aksid/p").unwrap().to_string(), "registry://ghcr.io/aksid/p:latest");
///
/// // A reference without a registry host is refused, with an example of a valid one.
/// let err = Reference::parse("aksid/no-local-accounts:v1").unwrap_err();
/// assert!(err.to_string().contains("registry://ghcr.io/aksid/no-local-accounts:v0.1.0"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not a valid [`Reference`]. Its message quotes the input, says what is wrong
/// and shows a valid reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid registry reference `{input}`: {kind}\n\n{VALID_EXAMPLE}")]
pub struct ParseReferenceError {
    input: String,
    kind: InvalidReference,
}

impl ParseReferenceError {
    /// What is wrong, for code that matches on it.
    pub fn kind(&self) -> &InvalidReference {
        &self.kind
    }
}

/// The part of a reference that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidReference {
    /// The input is empty (or only `registry://`).
    #[error("it is empty")]
    Empty,
    /// A scheme other than `registry://`.
    #[error("scheme `{0}` is not supported: only `registry://` names an OCI registry")]
    UnsupportedScheme(String),
    /// The first path component is not a registry host.
    #[error(
        "`{0}` is not a registry host: the reference must start with the registry, such as ghcr.io, \
         myregistry.azurecr.io or 127.0.0.1:5000 (there is no implicit Docker Hub)"
    )]
    MissingRegistry(String),
    /// The host or port is malformed.
    #[error("registry host `{0}` is not a valid HOST or HOST:PORT")]
    InvalidRegistry(String),
    /// Nothing after the host.
    #[error("it names no repository after the registry host")]
    MissingRepository,
    /// A repository component breaks the OCI naming rules.
    #[error(
        "repository `{0}` is invalid: each `/`-separated component must be lowercase letters and \
         digits, joined by `.`, `_`, `__` or dashes"
    )]
    InvalidRepository(String),
    /// The tag breaks the OCI tag rules.
    #[error(
        "tag `{0}` is invalid: a tag is 1 to 128 of A-Z a-z 0-9 _ . - and cannot start with . or -"
    )]
    InvalidTag(String),
    /// The digest is not `sha256:` and 64 lowercase hex digits.
    #[error("digest `{0}` is invalid: expected sha256: followed by 64 lowercase hex digits")]
    InvalidDigest(String),
}

impl Reference {
    /// Parses `registry://HOST[:PORT]/REPOSITORY[:TAG][@sha256:HEX]` (the `registry://` prefix
    /// is optional). The host is lowercased; the tag defaults to `latest` unless a digest is given.
    pub fn parse(input: &str) -> Result<Reference, ParseReferenceError> {
        parse_parts(input).map_err(|kind| ParseReferenceError {
            input: input.to_owned(),
            kind,
        })
    }

    /// `HOST` or `HOST:PORT`, as credentials and the Docker config file name it.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host without the port (`[::1]` keeps its brackets).
    pub fn host(&self) -> &str {
        split_port(&self.registry).0
    }

    /// The repository path inside the registry, such as `aksid/no-local-accounts`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag; `None` only for a reference that pins a digest without naming a tag.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The pinned manifest digest (`sha256:…`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same reference pinned to `digest` (which must be `sha256:` and 64 hex digits).
    /// The tag is kept, for readers; when a digest is present the tag is informational.
    pub fn with_digest(&self, digest: &str) -> Result<Reference, ParseReferenceError> {
        check_digest(digest).map_err(|kind| ParseReferenceError {
            input: format!("{}@{digest}", self.without_digest()),
            kind,
        })?;
        Ok(Reference {
            digest: Some(digest.to_owned()),
            ..self.clone()
        })
    }

    /// The same reference without its digest (a digest-only reference gets tag `latest`).
    pub fn without_digest(&self) -> Reference {
        Reference {
            tag: Some(self.tag.clone().unwrap_or_else(|| "latest".to_owned())),
            digest: None,
            ..self.clone()
        }
    }

    /// The reference in `oci-client`'s form (no scheme).
    pub(crate) fn to_oci(&self) -> oci_client::Reference {
        let (registry, repository) = (self.registry.clone(), self.repository.clone());
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => oci_client::Reference::with_tag_and_digest(
                registry,
                repository,
                tag.clone(),
                digest.clone(),
            ),
            (None, Some(digest)) => {
                oci_client::Reference::with_digest(registry, repository, digest.clone())
            }
            (tag, None) => oci_client::Reference::with_tag(
                registry,
                repository,
                tag.clone().unwrap_or_else(|| "latest".to_owned()),
            ),
        }
    }
}

impl FromStr for Reference {
    type Err = ParseReferenceError;

    fn from_str(s: &str) -> Result<Reference, ParseReferenceError> {
        Reference::parse(s)
    }
}

/// Always with the `registry://` scheme; parsing the output gives the same reference back.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn parse_parts(input: &str) -> Result<Reference, InvalidReference> {
    let rest = match input.find("://") {
        Some(i) if &input[..i + 3] == SCHEME => &input[i + 3..],
        Some(i) => {
            return Err(InvalidReference::UnsupportedScheme(
                input[..i + 3].to_owned(),
            ));
        }
        None => input,
    };
    if rest.is_empty() {
        return Err(InvalidReference::Empty);
    }
    let (rest, digest) = match rest.split_once('@') {
        Some((name, digest)) => {
            check_digest(digest)?;
            (name, Some(digest.to_owned()))
        }
        None => (rest, None),
    };
    let Some((host, path)) = rest.split_once('/') else {
        return Err(if looks_like_host(rest) {
            InvalidReference::MissingRepository
        } else {
            InvalidReference::MissingRegistry(rest.to_owned())
        });
    };
    if !looks_like_host(host) {
        return Err(InvalidReference::MissingRegistry(host.to_owned()));
    }
    let registry = check_registry(host)?;
    // A `:` in the path can only start the tag: the host (and its port) is already split off.
    let (repository, tag) = match path.rsplit_once(':') {
        Some((repository, tag)) => {
            check_tag(tag)?;
            (repository, Some(tag.to_owned()))
        }
        None => (path, None),
    };
    if repository.is_empty() {
        return Err(InvalidReference::MissingRepository);
    }
    if !repository.split('/').all(is_repository_component) {
        return Err(InvalidReference::InvalidRepository(repository.to_owned()));
    }
    let tag = match (tag, &digest) {
        (None, None) => Some("latest".to_owned()),
        (tag, _) => tag,
    };
    Ok(Reference {
        registry,
        repository: repository.to_owned(),
        tag,
        digest,
    })
}

/// Docker's rule for telling a registry host from a Docker Hub namespace.
fn looks_like_host(component: &str) -> bool {
    component.contains('.')
        || component.contains(':')
        || component.starts_with('[')
        || component.eq_ignore_ascii_case("localhost")
}

/// Splits `host:port`, `[v6]:port`, `host` or `[v6]` into host and optional port text.
pub(crate) fn split_port(registry: &str) -> (&str, Option<&str>) {
    if registry.starts_with('[') {
        match registry.find(']') {
            Some(end) => {
                let (host, rest) = registry.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (registry, None),
        }
    } else {
        match registry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        }
    }
}

fn check_registry(host: &str) -> Result<String, InvalidReference> {
    let invalid = || InvalidReference::InvalidRegistry(host.to_owned());
    let (name, port) = split_port(host);
    if let Some(port) = port
        && !(port.parse::<u16>().is_ok_and(|p| p > 0) && port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid());
    }
    let valid_name = if let Some(inner) = name.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    if !valid_name {
        return Err(invalid());
    }
    Ok(host.to_ascii_lowercase())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` without a regex engine.
fn is_repository_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[sep_start..i];
        let dashes = separator.bytes().all(|b| b == b'-');
        if !(separator == "." || separator == "_" || separator == "__" || dashes) {
            return false;
        }
    }
}

fn check_tag(tag: &str) -> Result<(), InvalidReference> {
    let ok = (1..=128).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !tag.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(InvalidReference::InvalidTag(tag.to_owned()))
    }
}

fn check_digest(digest: &str) -> Result<(), InvalidReference> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(InvalidReference::InvalidDigest(digest.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    const DIGEST_HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[rstest]
    #[case::loopback_registry_with_port_and_tag(
        "registry://127.0.0.1:5000/aksid/no-local-accounts:v0.1.0",
        "127.0.0.1:5000",
        "aksid/no-local-accounts",
        Some("v0.1.0"),
        None,
        "registry://127.0.0.1:5000/aksid/no-local-accounts:v0.1.0"
    )]
    #[case::no_scheme_and_no_tag_defaults_to_latest(
        "ghcr.io/aksid/policies/no-cluster-admin-users",
        "ghcr.io",
        "aksid/policies/no-cluster-admin-users",
        Some("latest"),
        None,
        "registry://ghcr.io/aksid/policies/no-cluster-admin-users:latest"
    )]
    #[case::digest_only_has_no_tag_and_the_host_is_lowercased(
        &format!("registry://Myreg.AzureCR.io/p@sha256:{DIGEST_HEX}"),
        "myreg.azurecr.io", "p", None, Some(DIGEST),
        &format!("registry://myreg.azurecr.io/p@{DIGEST}")
    )]
    #[case::tag_and_digest_with_every_separator(
        &format!("registry://localhost:5000/a/b-c__d.e:v1_2.3-rc@{DIGEST}"),
        "localhost:5000", "a/b-c__d.e", Some("v1_2.3-rc"), Some(DIGEST),
        &format!("registry://localhost:5000/a/b-c__d.e:v1_2.3-rc@{DIGEST}")
    )]
    #[case::ipv6_loopback(
        "registry://[::1]:5000/x:y",
        "[::1]:5000",
        "x",
        Some("y"),
        None,
        "registry://[::1]:5000/x:y"
    )]
    fn valid_reference_parses_into_its_parts_and_display_round_trips(
        #[case] input: &str,
        #[case] registry: &str,
        #[case] repository: &str,
        #[case] tag: Option<&str>,
        #[case] digest: Option<&str>,
        #[case] display: &str,
    ) {
        let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.registry(), registry);
        assert_eq!(r.repository(), repository);
        assert_eq!(r.tag(), tag);
        assert_eq!(r.digest(), digest);
        assert_eq!(r.to_string(), display);
        assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
    }

    #[rstest]
    #[case::empty("", InvalidReference::Empty)]
    #[case::scheme_only("registry://", InvalidReference::Empty)]
    #[case::https_scheme("https://ghcr.io/a/b:v1", InvalidReference::UnsupportedScheme("https://".into()))]
    #[case::file_scheme("file:///tmp/policy.wasm", InvalidReference::UnsupportedScheme("file://".into()))]
    #[case::docker_hub_shorthand("aksid/no-local-accounts:v1", InvalidReference::MissingRegistry("aksid".into()))]
    #[case::bare_name("policy", InvalidReference::MissingRegistry("policy".into()))]
    #[case::host_only("ghcr.io", InvalidReference::MissingRepository)]
    #[case::tag_without_repository("ghcr.io/:v1", InvalidReference::MissingRepository)]
    #[case::port_out_of_range("ghcr.io:99999/a", InvalidReference::InvalidRegistry("ghcr.io:99999".into()))]
    #[case::underscore_in_host("gh_cr.io/a", InvalidReference::InvalidRegistry("gh_cr.io".into()))]
    #[case::bad_ipv6("[zz]:5000/a", InvalidReference::InvalidRegistry("[zz]:5000".into()))]
    #[case::uppercase_repository("ghcr.io/Aksid/p", InvalidReference::InvalidRepository("Aksid/p".into()))]
    #[case::empty_component("ghcr.io/a//p", InvalidReference::InvalidRepository("a//p".into()))]
    #[case::trailing_dash("ghcr.io/a/p-:v1", InvalidReference::InvalidRepository("a/p-".into()))]
    #[case::tag_starting_with_dot("ghcr.io/a/p:.v1", InvalidReference::InvalidTag(".v1".into()))]
    #[case::empty_tag("ghcr.io/a/p:", InvalidReference::InvalidTag("".into()))]
    #[case::short_digest("ghcr.io/a/p@sha256:abc", InvalidReference::InvalidDigest("sha256:abc".into()))]
    #[case::uppercase_digest(
        &format!("ghcr.io/a/p@sha256:{}", DIGEST_HEX.to_uppercase()),
        InvalidReference::InvalidDigest(format!("sha256:{}", DIGEST_HEX.to_uppercase()))
    )]
    #[case::sha512_digest(
        &format!("ghcr.io/a/p@sha512:{DIGEST_HEX}"),
        InvalidReference::InvalidDigest(format!("sha512:{DIGEST_HEX}"))
    )]
    fn invalid_reference_says_what_is_wrong_and_shows_a_valid_one(
        #[case] input: &str,
        #[case] kind: InvalidReference,
    ) {
        let err = Reference::parse(input).expect_err(input);
        assert_eq!(err.kind(), &kind);
        let message = err.to_string();
        assert!(message.contains(&format!("`{input}`")), "{message}");
        assert!(
            message.contains("registry://ghcr.io/aksid/no-local-accounts:v0.1.0"),
            "{message}"
        );
    }

    #[test]
    fn with_digest_pins_and_keeps_the_tag() {
        let r = Reference::parse("registry://ghcr.io/a/p:v1").unwrap();
        let pinned = r.with_digest(DIGEST).unwrap();
        assert_eq!(
            pinned.to_string(),
            format!("registry://ghcr.io/a/p:v1@{DIGEST}")
        );
        assert_eq!(pinned.without_digest(), r);
        assert!(r.with_digest("sha256:nothex").is_err());
    }

    #[test]
    fn conversion_to_oci_client_keeps_every_part() {
        let r = Reference::parse(&format!("registry://127.0.0.1:5000/a/p:v1@{DIGEST}")).unwrap();
        let oci = r.to_oci();
        assert_eq!(oci.registry(), "127.0.0.1:5000");
        assert_eq!(oci.repository(), "a/p");
        assert_eq!(oci.tag(), Some("v1"));
        assert_eq!(oci.digest(), Some(DIGEST));
        assert_eq!(
            Reference::parse("ghcr.io/a/p").unwrap().to_oci().tag(),
            Some("latest")
        );
    }
}
