//! Cosign-format ("Sigstore") signatures of policy modules, as Kubewarden, cosign and skopeo
//! read them: keys, the signed payload, and the check of signatures against a
//! [`VerificationConfig`]. The registry side (pushing and fetching the `sha256-<hex>.sig`
//! manifest) is in `signature/registry.rs`.
//!
//! A signature is a layer of the manifest tagged `sha256-<manifest hex>.sig` in the policy's
//! repository: media type [`SIMPLE_SIGNING_MEDIA_TYPE`], content the JSON payload
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"HOST/REPO"},
//!              "image":{"docker-manifest-digest":"sha256:…"},
//!              "type":"cosign container image signature"},
//!  "optional":null}
//! ```
//!
//! and annotation [`SIGNATURE_ANNOTATION`] the base64 ASN.1 DER ECDSA P-256 signature of the
//! payload's SHA-256. What is signed is the manifest digest, which pins the module's bytes.

mod registry;

use crate::verification_config::{Requirement, VerificationConfig};
use base64::Engine as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use registry::{SignError, SignedPolicy, VerifiedPolicy, VerifyError};

/// Media type of a cosign signature layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of every cosign payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

/// The tag cosign stores the signatures of `manifest_digest` under: `sha256-<hex>.sig`.
pub fn signature_tag(manifest_digest: &str) -> String {
    format!("{}.sig", manifest_digest.replacen(':', "-", 1))
}

/// An ECDSA P-256 private key that signs policy modules. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SigningKey(p256::ecdsa::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public_key().fingerprint())
    }
}

/// An ECDSA P-256 public key that verifies signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(p256::ecdsa::VerifyingKey);

/// Why a key could not be read. Never contains key material.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// How to make a key pair, for error messages and `--help`.
pub const KEY_HINT: &str = "make a key pair with `openssl genpkey -algorithm EC -pkeyopt \
    ec_paramgen_curve:P-256 -out aksid.key` and `openssl pkey -in aksid.key -pubout -out aksid.pub`";

impl SigningKey {
    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`),
    /// on curve P-256, unencrypted.
    pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let label = pem_label(pem);
        match label.as_deref() {
            Some("PRIVATE KEY") => p256::SecretKey::from_pkcs8_pem(pem)
                .map(|k| SigningKey(k.into()))
                .map_err(|_| {
                    KeyError(format!(
                        "the PKCS#8 private key is not an EC P-256 key (or is malformed); {KEY_HINT}"
                    ))
                }),
            Some("EC PRIVATE KEY") => p256::SecretKey::from_sec1_pem(pem)
                .map(|k| SigningKey(k.into()))
                .map_err(|_| {
                    KeyError(format!(
                        "the EC private key is not on curve P-256 (or is malformed); {KEY_HINT}"
                    ))
                }),
            Some(l) if l.starts_with("ENCRYPTED") => Err(KeyError(format!(
                "the private key is encrypted ({l}); aksid reads unencrypted PKCS#8 keys only. \
                 Keep the key in a secret store and pass it decrypted (`openssl pkey -in \
                 enc.key -out aksid.key`), or {KEY_HINT}"
            ))),
            Some(l) => Err(KeyError(format!(
                "expected a PEM private key (BEGIN PRIVATE KEY), found BEGIN {l}; {KEY_HINT}"
            ))),
            None => Err(KeyError(format!(
                "not a PEM private key (no -----BEGIN line); {KEY_HINT}"
            ))),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// The base64 ASN.1 DER signature of `payload` (ECDSA P-256 over SHA-256, RFC 6979).
    pub fn sign(&self, payload: &[u8]) -> String {
        let signature: p256::ecdsa::Signature = self.0.sign(payload);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }
}

impl PublicKey {
    /// Reads a PEM public key (`BEGIN PUBLIC KEY`, SubjectPublicKeyInfo) on curve P-256, the
    /// form of `cosign.pub` and of `openssl pkey -pubout`.
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        match pem_label(pem).as_deref() {
            Some("PUBLIC KEY") => p256::PublicKey::from_public_key_pem(pem)
                .map(|k| PublicKey(k.into()))
                .map_err(|_| {
                    KeyError(format!(
                        "the public key is not an EC P-256 key (or is malformed); {KEY_HINT}"
                    ))
                }),
            Some(l) => Err(KeyError(format!(
                "expected a PEM public key (BEGIN PUBLIC KEY), found BEGIN {l}; {KEY_HINT}"
            ))),
            None => Err(KeyError(format!(
                "not a PEM public key (no -----BEGIN line); {KEY_HINT}"
            ))),
        }
    }

    /// The key as PEM (`BEGIN PUBLIC KEY`).
    pub fn to_pem(&self) -> String {
        p256::PublicKey::from(&self.0)
            .to_public_key_pem(Default::default())
            .expect("a P-256 public key encodes")
    }

    /// `SHA256:<first 16 hex digits of the SubjectPublicKeyInfo hash>`, to name a key in messages.
    pub fn fingerprint(&self) -> String {
        let der = p256::PublicKey::from(&self.0)
            .to_public_key_der()
            .expect("a P-256 public key encodes");
        let digest = crate::sha256_digest(der.as_bytes());
        let hex = digest.trim_start_matches("sha256:");
        format!("SHA256:{}", &hex[..16])
    }

    /// Whether `signature` (base64 DER, or raw r‖s as some signers write) signs `payload`.
    pub fn verifies(&self, payload: &[u8], signature: &str) -> bool {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
            return false;
        };
        let parsed = p256::ecdsa::Signature::from_der(&bytes)
            .or_else(|_| p256::ecdsa::Signature::from_slice(&bytes));
        parsed.is_ok_and(|s| self.0.verify(payload, &s).is_ok())
    }
}

/// The PEM label of the first `-----BEGIN …-----` line.
fn pem_label(pem: &str) -> Option<String> {
    let line = pem
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("-----BEGIN "))?;
    Some(
        line.strip_prefix("-----BEGIN ")?
            .trim_end_matches('-')
            .trim()
            .to_owned(),
    )
}

/// The cosign simple-signing payload.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Payload {
    pub(crate) critical: Critical,
    pub(crate) optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Critical {
    pub(crate) identity: Identity,
    pub(crate) image: Image,
    #[serde(rename = "type")]
    pub(crate) kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Identity {
    #[serde(rename = "docker-reference")]
    pub(crate) docker_reference: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Image {
    #[serde(rename = "docker-manifest-digest")]
    pub(crate) docker_manifest_digest: String,
}

/// The payload cosign writes for `docker_reference` (`HOST/REPO`, no tag) at `manifest_digest`,
/// with `annotations` as its `optional` section (`null` when empty, as cosign writes it).
pub fn payload(
    docker_reference: &str,
    manifest_digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let payload = Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: docker_reference.to_owned(),
            },
            image: Image {
                docker_manifest_digest: manifest_digest.to_owned(),
            },
            kind: PAYLOAD_TYPE.to_owned(),
        },
        optional: (!annotations.is_empty()).then(|| {
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect()
        }),
    };
    serde_json::to_vec(&payload).expect("a payload serialises")
}

/// One signature found in the registry: the payload bytes and the base64 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundSignature {
    /// The payload exactly as stored (what was signed).
    pub payload: Vec<u8>,
    /// The base64 signature annotation.
    pub signature: String,
}

/// Why `requirement` is not satisfied by `signatures` for `manifest_digest`, or `None` if it is.
pub(crate) fn unsatisfied(
    requirement: &Requirement,
    signatures: &[FoundSignature],
    manifest_digest: &str,
) -> Option<String> {
    let mut reason = format!(
        "no signature made with this key ({} signature(s) found)",
        signatures.len()
    );
    for found in signatures {
        if !requirement.key.verifies(&found.payload, &found.signature) {
            continue;
        }
        let Ok(payload) = serde_json::from_slice::<Payload>(&found.payload) else {
            reason = "signed by this key, but the payload is not a cosign payload".to_owned();
            continue;
        };
        if payload.critical.kind != PAYLOAD_TYPE {
            reason = format!(
                "signed by this key, but of type {:?}",
                payload.critical.kind
            );
            continue;
        }
        if payload.critical.image.docker_manifest_digest != manifest_digest {
            reason = format!(
                "signed by this key, but for manifest {}, not this one",
                payload.critical.image.docker_manifest_digest
            );
            continue;
        }
        let optional = payload.optional.unwrap_or_default();
        let missing: Vec<String> = requirement
            .annotations
            .iter()
            .filter(|(k, v)| optional.get(*k).and_then(|x| x.as_str()) != Some(v.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if missing.is_empty() {
            return None;
        }
        reason = format!(
            "signed by this key, but without the annotation(s) {}",
            missing.join(", ")
        );
    }
    Some(reason)
}

/// Checks `signatures` of `manifest_digest` against `config`: every `allOf` entry, and at
/// least `minimumMatches` `anyOf` entries. Returns the satisfied entries, or every failure.
pub(crate) fn check(
    config: &VerificationConfig,
    signatures: &[FoundSignature],
    manifest_digest: &str,
) -> Result<Vec<String>, Vec<String>> {
    let mut satisfied = Vec::new();
    let mut failures = Vec::new();
    for requirement in config.all_of() {
        match unsatisfied(requirement, signatures, manifest_digest) {
            None => satisfied.push(requirement.describe()),
            Some(reason) => failures.push(format!("{}: {reason}", requirement.describe())),
        }
    }
    if let Some((entries, minimum)) = config.any_of() {
        let mut misses = Vec::new();
        let mut matched = 0;
        for requirement in entries {
            match unsatisfied(requirement, signatures, manifest_digest) {
                None => {
                    matched += 1;
                    satisfied.push(requirement.describe());
                }
                Some(reason) => misses.push(format!("{}: {reason}", requirement.describe())),
            }
        }
        if matched < minimum {
            failures.push(format!(
                "anyOf needs {minimum} of its {} entries, {matched} matched; {}",
                entries.len(),
                misses.join("; ")
            ));
        }
    }
    if failures.is_empty() {
        Ok(satisfied)
    } else {
        Err(failures)
    }
}
