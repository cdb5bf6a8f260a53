//! Signatures in the registry: pushing a signature as a layer of the `sha256-<hex>.sig` manifest
//! (appended to the signatures already there, as cosign does) and fetching them back, bounded,
//! to check against a verification config.

use super::{
    FoundSignature, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SigningKey, check, payload,
    signature_tag,
};
use crate::client::{Client, Operation, Session, SessionError};
use crate::credentials::CredentialsError;
use crate::pull::{PullError, PulledPolicy};
use crate::push::PushedPolicy;
use crate::reference::Reference;
use crate::registry_error::{RegistryError, RegistryErrorKind};
use crate::sha256_digest;
use crate::verification_config::VerificationConfig;
use oci_client::manifest::{IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The most signature layers read from one `.sig` manifest: real ones have one per signer.
pub const MAX_SIGNATURES: usize = 64;
/// The largest signature payload read: a cosign payload is a few hundred bytes.
pub const MAX_PAYLOAD_SIZE: u64 = 64 * 1024;
/// Config media type of cosign's signature manifests.
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// A pushed signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPolicy {
    /// `registry://HOST/REPO:sha256-<hex>.sig`, where the signatures are stored.
    pub signature_reference: Reference,
    /// `sha256:…` of the signature manifest after the push.
    pub signature_manifest_digest: String,
    /// Whether this exact signature was already there (nothing was pushed).
    pub already_signed: bool,
}

/// A module whose signatures satisfy a verification config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPolicy {
    /// The pulled module.
    pub pulled: PulledPolicy,
    /// The config entries that matched, e.g. `allOf[0] (pubKey SHA256:…)`.
    pub satisfied: Vec<String>,
}

/// Why a signature could not be pushed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// Credentials could not be determined.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The registry refused or failed.
    #[error("cannot push the signature of {reference}")]
    Registry {
        /// The signed reference.
        reference: Box<Reference>,
        /// What the registry said.
        #[source]
        source: RegistryError,
    },
    /// The existing signature manifest is not one aksid can append to.
    #[error("cannot add a signature to {reference}: {reason}")]
    InvalidSignatureManifest {
        /// The `.sig` reference.
        reference: Box<Reference>,
        /// What is wrong.
        reason: String,
    },
}

/// Why a module was refused by verification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The module itself could not be pulled.
    #[error(transparent)]
    Pull(#[from] PullError),
    /// The registry refused or failed while fetching the signatures.
    #[error("cannot fetch the signatures of {reference}")]
    Registry {
        /// The reference verified.
        reference: Box<Reference>,
        /// What the registry said.
        #[source]
        source: RegistryError,
    },
    /// The signature manifest is malformed or too large.
    #[error("refusing {reference} ({digest}): its signature manifest is invalid: {reason}")]
    InvalidSignatures {
        /// The reference verified.
        reference: Box<Reference>,
        /// The module's manifest digest.
        digest: String,
        /// What is wrong.
        reason: String,
    },
    /// The config's requirements are not met.
    #[error(
        "refusing {reference} ({digest}): its signatures do not satisfy the verification config \
         {origin}:\n  - {}\n\nUse only modules signed by the keys the config lists: sign with \
         `kubectl aksid push --sign-key KEY` (or cosign), or fix the config",
        failures.join("\n  - ")
    )]
    Unsatisfied {
        /// The reference verified.
        reference: Box<Reference>,
        /// The module's manifest digest.
        digest: String,
        /// The config file.
        origin: String,
        /// One line per failed requirement.
        failures: Vec<String>,
    },
}

impl Client {
    /// Signs the manifest `pushed` names with `key` and pushes the signature to
    /// `sha256-<hex>.sig` in the same repository, keeping the signatures already there.
    /// `annotations` become the payload's `optional` section (what `pubKey.annotations` checks).
    pub fn sign(
        &self,
        pushed: &PushedPolicy,
        key: &SigningKey,
        annotations: &BTreeMap<String, String>,
    ) -> Result<SignedPolicy, SignError> {
        let reference = &pushed.reference_with_digest;
        let registry_error = |source| SignError::Registry {
            reference: Box::new(reference.clone()),
            source,
        };
        let session = self
            .session(reference, Operation::Push)
            .map_err(|e| match e {
                SessionError::Credentials(e) => SignError::Credentials(e),
                SessionError::Registry(e) => registry_error(e),
            })?;
        let sig_ref = signature_reference(reference, &pushed.manifest_digest);
        let body = payload(
            &format!("{}/{}", reference.registry(), reference.repository()),
            &pushed.manifest_digest,
            annotations,
        );
        let signature = key.sign(&body);
        let payload_digest = sha256_digest(&body);
        let mut layers = match self.fetch_manifest_json(&session, &sig_ref) {
            Ok(Some(manifest)) => manifest["layers"].as_array().cloned().ok_or_else(|| {
                SignError::InvalidSignatureManifest {
                    reference: Box::new(sig_ref.clone()),
                    reason: "it has no `layers` array".to_owned(),
                }
            })?,
            Ok(None) => Vec::new(),
            Err(e) => return Err(registry_error(e)),
        };
        let already_signed = layers.iter().any(|l| {
            l["digest"] == payload_digest.as_str()
                && l["annotations"][SIGNATURE_ANNOTATION] == signature.as_str()
        });
        if !already_signed {
            layers.push(json!({
                "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
                "size": body.len(),
                "digest": payload_digest,
                "annotations": {SIGNATURE_ANNOTATION: signature},
            }));
        }
        let manifest = signature_manifest(&layers);
        let manifest_digest = sha256_digest(&manifest.1);
        if !already_signed {
            self.push_signature(&session, &sig_ref, body, &payload_digest, manifest)
                .map_err(registry_error)?;
        }
        Ok(SignedPolicy {
            signature_reference: sig_ref,
            signature_manifest_digest: manifest_digest,
            already_signed,
        })
    }

    /// Pulls `reference` and checks its signatures against `config`; a module whose
    /// signatures do not satisfy it is refused, whether it came from the cache or not.
    pub fn pull_verified(
        &self,
        reference: &Reference,
        config: &VerificationConfig,
    ) -> Result<VerifiedPolicy, VerifyError> {
        let pulled = self.pull(reference)?;
        let satisfied = self.verify(&pulled.reference_with_digest, config)?;
        Ok(VerifiedPolicy { pulled, satisfied })
    }

    /// Checks the signatures of the manifest `reference_with_digest` pins against `config`;
    /// returns the satisfied entries.
    pub fn verify(
        &self,
        reference_with_digest: &Reference,
        config: &VerificationConfig,
    ) -> Result<Vec<String>, VerifyError> {
        let reference = reference_with_digest;
        let digest = reference.digest().unwrap_or_default().to_owned();
        let registry_error = |source| VerifyError::Registry {
            reference: Box::new(reference.clone()),
            source,
        };
        let session = self
            .session(reference, Operation::Pull)
            .map_err(|e| match e {
                SessionError::Credentials(e) => VerifyError::Pull(PullError::Credentials(e)),
                SessionError::Registry(e) => registry_error(e),
            })?;
        let found = self.fetch_signatures(&session, reference, &digest)?;
        let unsigned_note = |found: &[FoundSignature]| {
            if found.is_empty() {
                vec![format!(
                    "the module is not signed: the registry has no signature at {}",
                    signature_reference(reference, &digest)
                )]
            } else {
                Vec::new()
            }
        };
        check(config, &found, &digest).map_err(|failures| VerifyError::Unsatisfied {
            reference: Box::new(reference.clone()),
            digest: digest.clone(),
            origin: config.origin().to_owned(),
            failures: unsigned_note(&found).into_iter().chain(failures).collect(),
        })
    }

    /// Every cosign signature stored for `digest`, payloads downloaded and bounded.
    fn fetch_signatures(
        &self,
        session: &Session,
        reference: &Reference,
        digest: &str,
    ) -> Result<Vec<FoundSignature>, VerifyError> {
        let invalid = |reason: String| VerifyError::InvalidSignatures {
            reference: Box::new(reference.clone()),
            digest: digest.to_owned(),
            reason,
        };
        let sig_ref = signature_reference(reference, digest);
        let manifest = match self.fetch_manifest_json(session, &sig_ref) {
            Ok(Some(manifest)) => manifest,
            Ok(None) => return Ok(Vec::new()),
            Err(source) => {
                return Err(VerifyError::Registry {
                    reference: Box::new(reference.clone()),
                    source,
                });
            }
        };
        let layers = manifest["layers"]
            .as_array()
            .ok_or_else(|| invalid("no `layers` array".to_owned()))?;
        let signature_layers: Vec<&Value> = layers
            .iter()
            .filter(|l| l["mediaType"] == SIMPLE_SIGNING_MEDIA_TYPE)
            .collect();
        if signature_layers.len() > MAX_SIGNATURES {
            return Err(invalid(format!(
                "{} signature layers, more than the {MAX_SIGNATURES} aksid reads",
                signature_layers.len()
            )));
        }
        let mut found = Vec::new();
        for layer in signature_layers {
            let Some(signature) = layer["annotations"][SIGNATURE_ANNOTATION].as_str() else {
                continue; // keyless bundles without a plain signature: nothing to check here
            };
            let layer_digest = layer["digest"]
                .as_str()
                .filter(|d| d.starts_with("sha256:"))
                .ok_or_else(|| invalid("a signature layer has no sha256 digest".to_owned()))?;
            let size = layer["size"].as_u64().unwrap_or(u64::MAX);
            if size > MAX_PAYLOAD_SIZE {
                return Err(invalid(format!(
                    "a signature payload declares {size} bytes, more than {MAX_PAYLOAD_SIZE}"
                )));
            }
            let payload = self
                .fetch_payload(session, &sig_ref, layer_digest)
                .map_err(|reason| invalid(format!("payload {layer_digest}: {reason}")))?;
            found.push(FoundSignature {
                payload,
                signature: signature.to_owned(),
            });
        }
        Ok(found)
    }

    /// A blob of at most [`MAX_PAYLOAD_SIZE`] bytes, checked against its digest.
    fn fetch_payload(
        &self,
        session: &Session,
        sig_ref: &Reference,
        digest: &str,
    ) -> Result<Vec<u8>, String> {
        let mut out = CappedBuffer::default();
        let result = self.block_on(session.oci.pull_blob(&sig_ref.to_oci(), digest, &mut out));
        if out.exceeded {
            return Err(format!("larger than {MAX_PAYLOAD_SIZE} bytes"));
        }
        result.map_err(|e| session.error(e).to_string())?;
        let actual = sha256_digest(&out.bytes);
        if actual != digest {
            return Err(format!(
                "the registry served content whose digest is {actual}"
            ));
        }
        Ok(out.bytes)
    }

    /// The manifest at `reference` as JSON, or `None` when the registry has none (404).
    fn fetch_manifest_json(
        &self,
        session: &Session,
        reference: &Reference,
    ) -> Result<Option<Value>, RegistryError> {
        let oci_reference = reference.to_oci();
        let result = self.block_on(session.oci.pull_manifest_raw(
            &oci_reference,
            &session.auth,
            &[OCI_IMAGE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE],
        ));
        match result {
            Ok((body, _)) => Ok(Some(serde_json::from_slice(&body).unwrap_or(Value::Null))),
            Err(e) => {
                let error = session.error(e);
                if error.kind() == RegistryErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    fn push_signature(
        &self,
        session: &Session,
        sig_ref: &Reference,
        payload: Vec<u8>,
        payload_digest: &str,
        (config, manifest): (Vec<u8>, Vec<u8>),
    ) -> Result<(), RegistryError> {
        let oci_reference = sig_ref.to_oci();
        let config_digest = sha256_digest(&config);
        self.block_on(async {
            let oci = &session.oci;
            oci.store_auth_if_needed(oci_reference.resolve_registry(), &session.auth)
                .await;
            oci.push_blob(&oci_reference, payload, payload_digest)
                .await?;
            oci.push_blob(&oci_reference, config, &config_digest)
                .await?;
            oci.push_manifest_raw(
                &oci_reference,
                manifest,
                http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
            )
            .await
        })
        .map(|_| ())
        .map_err(|e| session.error(e))
    }
}

/// `registry://HOST/REPO:sha256-<hex>.sig`.
fn signature_reference(reference: &Reference, digest: &str) -> Reference {
    Reference::parse(&format!(
        "{}/{}:{}",
        reference.registry(),
        reference.repository(),
        signature_tag(digest)
    ))
    .expect("a signature tag is a valid reference")
}

/// The config blob and manifest of a signature manifest holding `layers`, as cosign writes them
/// (an image config whose `rootfs.diff_ids` are the payload digests).
fn signature_manifest(layers: &[Value]) -> (Vec<u8>, Vec<u8>) {
    let diff_ids: Vec<&Value> = layers.iter().map(|l| &l["digest"]).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("a config serialises");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_MEDIA_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "size": config.len(),
            "digest": sha256_digest(&config),
        },
        "layers": layers,
    }))
    .expect("a manifest serialises");
    (config, manifest)
}

/// An in-memory sink that stops accepting bytes past [`MAX_PAYLOAD_SIZE`], so a registry that
/// streams more than it declared cannot grow memory.
#[derive(Default)]
struct CappedBuffer {
    bytes: Vec<u8>,
    exceeded: bool,
}

impl tokio::io::AsyncWrite for CappedBuffer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.bytes.len() as u64 + buf.len() as u64 > MAX_PAYLOAD_SIZE {
            self.exceeded = true;
            return Poll::Ready(Err(std::io::Error::other(format!(
                "signature payload larger than {MAX_PAYLOAD_SIZE} bytes"
            ))));
        }
        self.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
