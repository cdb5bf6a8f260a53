//! Pulling a policy: the manifest (checked against a pinned digest), its wasm layer (checked
//! against the layer digest), and the verified local cache that serves pinned references.

use crate::client::{Client, Operation, Session, SessionError};
use crate::credentials::CredentialsError;
use crate::http;
use crate::reference::Reference;
use crate::registry_error::RegistryError;
use crate::{WASM_LAYER_MEDIA_TYPE, sha256_digest};
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use std::path::PathBuf;

/// The largest wasm layer a pull accepts, judged from the manifest before downloading (and the
/// download is then capped at the size the manifest declares, as the bytes arrive): real
/// policies weigh a few MiB, and a hostile registry must not make the CLI buffer gigabytes.
pub const MAX_MODULE_SIZE: u64 = 128 * 1024 * 1024;

/// The largest manifest a pull reads, enforced as it streams: the distribution registry's own
/// limit. A policy's manifest is well under 10 KiB.
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;

/// Manifest types asked for. Indexes are accepted only to report them clearly.
const ACCEPTED_MANIFESTS: &[&str] = &[
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

/// A pulled policy module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledPolicy {
    /// The module: the artifact's wasm layer, verified against [`PulledPolicy::layer_digest`].
    pub bytes: Vec<u8>,
    /// The reference pulled, pinned to the manifest digest.
    pub reference_with_digest: Reference,
    /// `sha256:…` of the manifest.
    pub manifest_digest: String,
    /// `sha256:…` of the module.
    pub layer_digest: String,
    /// Whether the module came from the local cache rather than the registry.
    pub from_cache: bool,
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// Credentials could not be determined.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The registry refused or failed.
    #[error("cannot pull {reference}")]
    Registry {
        /// The reference pulled.
        reference: Box<Reference>,
        /// What the registry said.
        #[source]
        source: RegistryError,
    },
    /// The manifest served for a pinned reference has another digest.
    #[error(
        "{reference} pins manifest {pinned}, but the registry served a manifest whose digest is \
         {actual}\n\nThe registry content does not match the pin: do not use it. Check the pin, \
         or re-push the policy and pin the digest the push reports"
    )]
    PinMismatch {
        /// The reference pulled.
        reference: Box<Reference>,
        /// The digest in the reference.
        pinned: String,
        /// The digest of what was served.
        actual: String,
    },
    /// The manifest does not hash to the digest the registry announced for it.
    #[error(
        "the registry announced manifest {announced} for {reference}, but what it served hashes \
         to {actual}"
    )]
    ManifestDigestMismatch {
        /// The reference pulled.
        reference: Box<Reference>,
        /// The `Docker-Content-Digest` header.
        announced: String,
        /// The digest of the body.
        actual: String,
    },
    /// The wasm layer does not hash to the digest the manifest names.
    #[error(
        "the module layer of {reference} should be {expected}, but the registry served content \
         whose digest is {actual}\n\nThe registry content is corrupt or was tampered with: do not \
         use it"
    )]
    LayerDigestMismatch {
        /// The reference pulled.
        reference: Box<Reference>,
        /// The layer digest in the manifest.
        expected: String,
        /// The digest of the bytes served.
        actual: String,
    },
    /// The reference names a multi-platform image index, not a policy.
    #[error(
        "{reference} is an image index (a multi-platform container image), not a Kubewarden policy"
    )]
    ImageIndex {
        /// The reference pulled.
        reference: Box<Reference>,
    },
    /// The artifact has no wasm layer: it is not a Kubewarden policy.
    #[error(
        "{reference} is not a Kubewarden policy: it has no layer of media type \
         {WASM_LAYER_MEDIA_TYPE} (config: {config_media_type}, layers: {})\n\n\
         Publish policies with `kubectl aksid push` or `kwctl push`",
        if layer_media_types.is_empty() { "none".to_owned() } else { layer_media_types.join(", ") }
    )]
    NotAPolicy {
        /// The reference pulled.
        reference: Box<Reference>,
        /// The config's media type.
        config_media_type: String,
        /// The layers' media types.
        layer_media_types: Vec<String>,
    },
    /// The manifest is not a well-formed image manifest.
    #[error("invalid manifest for {reference}: {reason}")]
    InvalidManifest {
        /// The reference pulled.
        reference: Box<Reference>,
        /// What is wrong.
        reason: String,
    },
    /// The wasm layer is larger than [`MAX_MODULE_SIZE`].
    #[error(
        "the module layer of {reference} is {size} bytes, more than the {MAX_MODULE_SIZE} bytes \
         a policy may weigh"
    )]
    TooLarge {
        /// The reference pulled.
        reference: Box<Reference>,
        /// The size the manifest states.
        size: u64,
    },
    /// The verified module could not be written to the cache.
    #[error("cannot write the policy cache entry {}", path.display())]
    Cache {
        /// The cache entry directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl PullError {
    /// What kind of refusal or failure the registry gave, when the registry is why.
    pub fn registry_kind(&self) -> Option<crate::RegistryErrorKind> {
        match self {
            PullError::Registry { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

impl Client {
    /// Pulls the policy module `reference` names.
    ///
    /// A reference that pins a digest is served from the cache when a verified entry exists,
    /// without contacting the registry. Otherwise the manifest is fetched (by digest when one is
    /// pinned: the tag is then informational, as in Kubewarden and containerd), its digest
    /// checked against the pin, the first layer of media type
    /// `application/vnd.wasm.content.layer.v1+wasm` downloaded and checked against the layer
    /// digest, and the result stored in the cache. A tag is never answered from the cache
    /// (tags move), but once resolved, a cached module for its digest is used.
    pub fn pull(&self, reference: &Reference) -> Result<PulledPolicy, PullError> {
        let pinned = reference.digest();
        if let Some(pinned) = pinned
            && let Some(hit) = self.cache.read(pinned)
        {
            return Ok(PulledPolicy {
                bytes: hit.bytes,
                reference_with_digest: reference.clone(),
                manifest_digest: pinned.to_owned(),
                layer_digest: hit.layer_digest,
                from_cache: true,
            });
        }
        let session = self
            .session(reference, Operation::Pull)
            .map_err(|e| match e {
                SessionError::Credentials(e) => PullError::Credentials(e),
                SessionError::Registry(e) => registry_error(reference, e),
            })?;
        let body = self.fetch_manifest(&session, reference)?;
        let manifest_digest = sha256_digest(&body);
        let reference_with_digest = reference
            .with_digest(&manifest_digest)
            .expect("a sha256 digest is valid");
        let layer = wasm_layer(&body, reference)?;
        if let Some(hit) = self.cache.read(&manifest_digest) {
            return Ok(PulledPolicy {
                bytes: hit.bytes,
                reference_with_digest,
                manifest_digest,
                layer_digest: hit.layer_digest,
                from_cache: true,
            });
        }
        let bytes = self.fetch_layer(&session, reference, &layer)?;
        self.cache
            .write(&manifest_digest, &body, &bytes)
            .map_err(|source| PullError::Cache {
                path: self.cache.entry_dir(&manifest_digest),
                source,
            })?;
        Ok(PulledPolicy {
            bytes,
            reference_with_digest,
            manifest_digest,
            layer_digest: layer.digest,
            from_cache: false,
        })
    }

    /// The raw manifest (at most [`MAX_MANIFEST_SIZE`] bytes, enforced as it streams),
    /// checked against the reference's pinned digest, else against the digest the registry
    /// announced.
    fn fetch_manifest(
        &self,
        session: &Session,
        reference: &Reference,
    ) -> Result<Vec<u8>, PullError> {
        let pinned = reference.digest();
        let wanted = pinned.or(reference.tag()).unwrap_or("latest");
        let url = format!(
            "{}/v2/{}/manifests/{wanted}",
            session.base_url(),
            reference.repository()
        );
        let (body, announced) = self
            .block_on(session.limits.bound(async {
                let mut response = session
                    .get(&url, Some(&ACCEPTED_MANIFESTS.join(", ")))
                    .await?;
                let announced = response
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.trim().to_ascii_lowercase());
                let mut body = Vec::new();
                http::read_capped(
                    &mut response,
                    &session.limits,
                    MAX_MANIFEST_SIZE,
                    "manifest",
                    |chunk| body.extend_from_slice(chunk),
                )
                .await?;
                Ok::<_, http::Failure>((body, announced))
            }))
            .map_err(|f| registry_error(reference, session.failure(f)))?;
        let actual = sha256_digest(&body);
        match (pinned, announced) {
            (Some(pinned), _) if pinned != actual => Err(PullError::PinMismatch {
                reference: Box::new(reference.clone()),
                pinned: pinned.to_owned(),
                actual,
            }),
            (None, Some(announced)) if announced.starts_with("sha256:") && announced != actual => {
                Err(PullError::ManifestDigestMismatch {
                    reference: Box::new(reference.clone()),
                    announced,
                    actual,
                })
            }
            _ => Ok(body),
        }
    }

    /// The module's bytes, verified against the layer digest. The download stops as soon as it
    /// exceeds the size the manifest declares, so memory never exceeds that size.
    fn fetch_layer(
        &self,
        session: &Session,
        reference: &Reference,
        layer: &WasmLayer,
    ) -> Result<Vec<u8>, PullError> {
        use sha2::Digest as _;
        let url = format!(
            "{}/v2/{}/blobs/{}",
            session.base_url(),
            reference.repository(),
            layer.digest
        );
        let (bytes, actual) = self
            .block_on(session.limits.bound(async {
                let mut response = session.get(&url, None).await?;
                // Preallocate what is declared, within reason: the declaration is the registry's.
                let mut bytes = Vec::with_capacity(layer.size.min(8 << 20) as usize);
                let mut hasher = sha2::Sha256::new();
                http::read_capped(
                    &mut response,
                    &session.limits,
                    layer.size,
                    "module layer (the size its manifest declares)",
                    |chunk| {
                        hasher.update(chunk);
                        bytes.extend_from_slice(chunk);
                    },
                )
                .await?;
                let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
                Ok::<_, http::Failure>((bytes, actual))
            }))
            .map_err(|f| registry_error(reference, session.failure(f)))?;
        if actual != layer.digest {
            return Err(PullError::LayerDigestMismatch {
                reference: Box::new(reference.clone()),
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }
}

fn registry_error(reference: &Reference, source: RegistryError) -> PullError {
    PullError::Registry {
        reference: Box::new(reference.clone()),
        source,
    }
}

struct WasmLayer {
    digest: String,
    size: u64,
}

/// The first wasm layer of an image manifest, as Kubewarden's policy fetcher picks it.
fn wasm_layer(body: &[u8], reference: &Reference) -> Result<WasmLayer, PullError> {
    let invalid = |reason: &str| PullError::InvalidManifest {
        reference: Box::new(reference.clone()),
        reason: reason.to_owned(),
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(&format!("not JSON: {e}")))?;
    let media_type = manifest["mediaType"].as_str().unwrap_or_default();
    if media_type == OCI_IMAGE_INDEX_MEDIA_TYPE
        || media_type == IMAGE_MANIFEST_LIST_MEDIA_TYPE
        || manifest.get("manifests").is_some()
    {
        return Err(PullError::ImageIndex {
            reference: Box::new(reference.clone()),
        });
    }
    let layers = manifest["layers"]
        .as_array()
        .ok_or_else(|| invalid("no `layers` array"))?;
    let Some(layer) = layers
        .iter()
        .find(|layer| layer["mediaType"] == WASM_LAYER_MEDIA_TYPE)
    else {
        return Err(PullError::NotAPolicy {
            reference: Box::new(reference.clone()),
            config_media_type: manifest["config"]["mediaType"]
                .as_str()
                .unwrap_or("none")
                .to_owned(),
            layer_media_types: layers
                .iter()
                .map(|l| l["mediaType"].as_str().unwrap_or("none").to_owned())
                .collect(),
        });
    };
    let digest = layer["digest"]
        .as_str()
        .filter(|d| {
            d.strip_prefix("sha256:")
                .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .ok_or_else(|| invalid("the wasm layer has no sha256 digest"))?
        .to_ascii_lowercase();
    let size = layer["size"]
        .as_u64()
        .ok_or_else(|| invalid("the wasm layer has no size"))?;
    if size > MAX_MODULE_SIZE {
        return Err(PullError::TooLarge {
            reference: Box::new(reference.clone()),
            size,
        });
    }
    Ok(WasmLayer { digest, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Reference {
        Reference::parse("registry://127.0.0.1:5000/a/p:v1").unwrap()
    }

    fn layer_json(media_type: &str, size: u64) -> serde_json::Value {
        serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{}", "a".repeat(64)), "size": size})
    }

    #[test]
    fn a_container_image_is_not_a_policy_and_the_error_lists_its_media_types() {
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json"},
            "layers": [layer_json("application/vnd.oci.image.layer.v1.tar+gzip", 10)],
        }))
        .unwrap();
        let err = wasm_layer(&body, &reference()).err().unwrap();
        let message = err.to_string();
        assert!(matches!(err, PullError::NotAPolicy { .. }), "{message}");
        assert!(
            message.contains("application/vnd.oci.image.layer.v1.tar+gzip")
                && message.contains("application/vnd.oci.image.config.v1+json")
                && message.contains(WASM_LAYER_MEDIA_TYPE),
            "{message}"
        );
    }

    #[test]
    fn indexes_oversized_layers_and_garbage_are_refused() {
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_IMAGE_INDEX_MEDIA_TYPE, "manifests": []
        }))
        .unwrap();
        assert!(matches!(
            wasm_layer(&index, &reference()),
            Err(PullError::ImageIndex { .. })
        ));
        let huge = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "layers": [layer_json(WASM_LAYER_MEDIA_TYPE, MAX_MODULE_SIZE + 1)]
        }))
        .unwrap();
        assert!(matches!(
            wasm_layer(&huge, &reference()),
            Err(PullError::TooLarge { .. })
        ));
        assert!(matches!(
            wasm_layer(b"<html>", &reference()),
            Err(PullError::InvalidManifest { .. })
        ));
        let ok = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "layers": [layer_json("text/plain", 1), layer_json(WASM_LAYER_MEDIA_TYPE, 7)]
        }))
        .unwrap();
        let layer = wasm_layer(&ok, &reference()).unwrap();
        assert_eq!(layer.size, 7);
    }
}
