//! Kubewarden's signature verification config (`kwctl verify --verification-config-path`,
//! policy-server's `verification-config`): which signatures a policy module must carry.
//!
//! ```yaml
//! apiVersion: v1
//! allOf:                 # every entry must be satisfied
//!   - kind: pubKey
//!     owner: release-team          # optional, only named in messages
//!     key: |
//!       -----BEGIN PUBLIC KEY-----
//!       ...
//!       -----END PUBLIC KEY-----
//!     annotations: {env: prod}     # optional: must appear in the payload's `optional`
//! anyOf:                 # at least minimumMatches entries must be satisfied
//!   minimumMatches: 1
//!   signatures: [ ... ]
//! ```
//!
//! The file is parsed strictly (unknown keys refused) and degenerate configs are refused as
//! Kubewarden 1.37.2 refuses them, because each used to make verification always pass. Keyless
//! entries (`genericIssuer`, `githubAction`) need Fulcio and Rekor: they are refused with a clear
//! error rather than accepted and silently not checked.

use crate::signature::PublicKey;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The largest verification config read: real ones are a few keys of a few hundred bytes.
const MAX_CONFIG_SIZE: u64 = 1024 * 1024;

/// A validated verification config: what signatures a module must carry.
#[derive(Debug, Clone)]
pub struct VerificationConfig {
    origin: String,
    all_of: Vec<Requirement>,
    any_of: Option<AnyOf>,
}

/// One accepted signer: a public key and the annotations its signature must carry.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// Where it is in the config: `allOf[0]`, `anyOf.signatures[1]`.
    pub position: String,
    /// The `owner` the config names, if any (informational, as in Kubewarden).
    pub owner: Option<String>,
    /// The key signatures must verify with.
    pub key: PublicKey,
    /// Annotations the signed payload's `optional` section must contain, with these values.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct AnyOf {
    minimum_matches: usize,
    signatures: Vec<Requirement>,
}

/// Why a verification config was refused.
#[derive(Debug, thiserror::Error)]
#[error("verification config {origin}: {reason}")]
pub struct VerificationConfigError {
    origin: String,
    reason: String,
}

impl VerificationConfigError {
    fn new(origin: &str, reason: impl Into<String>) -> VerificationConfigError {
        VerificationConfigError {
            origin: origin.to_owned(),
            reason: reason.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    api_version: Option<String>,
    all_of: Option<Vec<RawSignature>>,
    any_of: Option<RawAnyOf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawAnyOf {
    minimum_matches: Option<u64>,
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSignature {
    kind: String,
    owner: Option<String>,
    key: Option<String>,
    annotations: Option<BTreeMap<String, String>>,
    // Keyless fields, read only so that a keyless entry gets the keyless error, not "unknown key".
    #[allow(dead_code)]
    issuer: Option<serde_json::Value>,
    #[allow(dead_code)]
    subject: Option<serde_json::Value>,
    #[allow(dead_code)]
    repo: Option<serde_json::Value>,
}

impl VerificationConfig {
    /// Reads and validates the config file at `path` (YAML or JSON, at most 1 MiB).
    pub fn from_file(path: &Path) -> Result<VerificationConfig, VerificationConfigError> {
        let origin = path.display().to_string();
        let file = std::fs::File::open(path)
            .map_err(|e| VerificationConfigError::new(&origin, format!("cannot open it: {e}")))?;
        let mut text = String::new();
        file.take(MAX_CONFIG_SIZE + 1)
            .read_to_string(&mut text)
            .map_err(|e| VerificationConfigError::new(&origin, format!("cannot read it: {e}")))?;
        if text.len() as u64 > MAX_CONFIG_SIZE {
            return Err(VerificationConfigError::new(
                &origin,
                format!("larger than {MAX_CONFIG_SIZE} bytes; a verification config lists keys"),
            ));
        }
        VerificationConfig::from_yaml(&text, &origin)
    }

    /// Parses and validates a config; `origin` names it in errors (a file name).
    pub fn from_yaml(
        text: &str,
        origin: &str,
    ) -> Result<VerificationConfig, VerificationConfigError> {
        let options = serde_saphyr::options! { with_snippet: false };
        let raw: RawConfig = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
            VerificationConfigError::new(origin, format!("not a valid config: {e}"))
        })?;
        match raw.api_version.as_deref() {
            Some("v1") => {}
            Some(other) => {
                return Err(VerificationConfigError::new(
                    origin,
                    format!("apiVersion {other:?} is not supported; use apiVersion: v1"),
                ));
            }
            None => {
                return Err(VerificationConfigError::new(
                    origin,
                    "apiVersion is missing; add apiVersion: v1",
                ));
            }
        }
        let all_of = entries(origin, "allOf", raw.all_of.unwrap_or_default())?;
        let any_of = raw.any_of.map(|any| any_of(origin, any)).transpose()?;
        if all_of.is_empty() && any_of.is_none() {
            return Err(VerificationConfigError::new(
                origin,
                "neither allOf nor anyOf lists a signature, so every module would pass; list at \
                 least one pubKey entry",
            ));
        }
        Ok(VerificationConfig {
            origin: origin.to_owned(),
            all_of,
            any_of,
        })
    }

    /// The shorthand `--verify-key KEY.pem`: `allOf` one `pubKey` with that key.
    pub fn from_public_key_pem(
        pem: &str,
        origin: &str,
    ) -> Result<VerificationConfig, VerificationConfigError> {
        let key = PublicKey::from_pem(pem)
            .map_err(|e| VerificationConfigError::new(origin, e.to_string()))?;
        Ok(VerificationConfig {
            origin: origin.to_owned(),
            all_of: vec![Requirement {
                position: "allOf[0]".to_owned(),
                owner: None,
                key,
                annotations: BTreeMap::new(),
            }],
            any_of: None,
        })
    }

    /// Where the config came from (a file name), for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The `allOf` entries.
    pub fn all_of(&self) -> &[Requirement] {
        &self.all_of
    }

    /// The `anyOf` entries and `minimumMatches`, if the config has an `anyOf`.
    pub fn any_of(&self) -> Option<(&[Requirement], usize)> {
        self.any_of
            .as_ref()
            .map(|a| (a.signatures.as_slice(), a.minimum_matches))
    }
}

fn any_of(origin: &str, raw: RawAnyOf) -> Result<AnyOf, VerificationConfigError> {
    let signatures = entries(origin, "anyOf.signatures", raw.signatures)?;
    let minimum = raw.minimum_matches.unwrap_or(1);
    if signatures.is_empty() {
        return Err(VerificationConfigError::new(
            origin,
            "anyOf.signatures is empty, so anyOf could never be satisfied; list pubKey entries or \
             remove anyOf",
        ));
    }
    if minimum == 0 {
        return Err(VerificationConfigError::new(
            origin,
            "anyOf.minimumMatches is 0, so every module would pass; use 1 or more",
        ));
    }
    if minimum > signatures.len() as u64 {
        return Err(VerificationConfigError::new(
            origin,
            format!(
                "anyOf.minimumMatches is {minimum} but anyOf.signatures lists only {} entries, so \
                 no module could pass; lower minimumMatches or add entries",
                signatures.len()
            ),
        ));
    }
    Ok(AnyOf {
        minimum_matches: minimum as usize,
        signatures,
    })
}

fn entries(
    origin: &str,
    list: &str,
    raw: Vec<RawSignature>,
) -> Result<Vec<Requirement>, VerificationConfigError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let position = format!("{list}[{i}]");
            let fail = |reason: String| {
                VerificationConfigError::new(origin, format!("{position}: {reason}"))
            };
            match entry.kind.as_str() {
                "pubKey" => {}
                "genericIssuer" | "githubAction" | "certificate" => {
                    return Err(fail(format!(
                        "kind {} is keyless (Fulcio certificates and the Rekor transparency log), \
                         which aksid does not support offline; sign with a key pair and list it \
                         as kind: pubKey",
                        entry.kind
                    )));
                }
                other => {
                    return Err(fail(format!(
                        "unknown kind {other:?}; use pubKey (or genericIssuer/githubAction, which \
                         need keyless verification)"
                    )));
                }
            }
            let pem = entry
                .key
                .ok_or_else(|| fail("kind pubKey needs `key`, the PEM public key".to_owned()))?;
            let key = PublicKey::from_pem(&pem).map_err(|e| fail(e.to_string()))?;
            Ok(Requirement {
                position,
                owner: entry.owner,
                key,
                annotations: entry.annotations.unwrap_or_default(),
            })
        })
        .collect()
}

impl Requirement {
    /// `allOf[0] (pubKey SHA256:ab12…, owner release-team)`, for messages.
    pub fn describe(&self) -> String {
        let owner = self
            .owner
            .as_deref()
            .map(|o| format!(", owner {o}"))
            .unwrap_or_default();
        format!(
            "{} (pubKey {}{owner})",
            self.position,
            self.key.fingerprint()
        )
    }
}
