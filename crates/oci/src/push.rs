//! Pushing a module as the OCI artifact Kubewarden publishes: config blob `{}` of media type
//! `application/vnd.wasm.config.v1+json`, one layer `application/vnd.wasm.content.layer.v1+wasm`,
//! and the policy metadata's annotations on the manifest.

use crate::client::{Client, Operation, Session, SessionError};
use crate::credentials::CredentialsError;
use crate::http::{Failure, TimeoutKind};
use crate::reference::Reference;
use crate::registry_error::RegistryError;
use crate::{WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE, sha256_digest};
use aksid_metadata::{Metadata, MetadataError};
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
use std::collections::BTreeMap;

/// Kubewarden's annotation naming the policy's source repository.
const POLICY_SOURCE: &str = "io.kubewarden.policy.source";
/// The OCI annotation registries (GHCR, ACR) show as the artifact's source.
const OCI_SOURCE: &str = oci_client::annotations::ORG_OPENCONTAINERS_IMAGE_SOURCE;

/// The config blob Kubewarden pushes: an empty JSON object.
const CONFIG_BLOB: &[u8] = b"{}";

/// A pushed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedPolicy {
    /// The reference that was pushed, pinned to the manifest digest
    /// (`registry://HOST/REPO:TAG@sha256:…`): what a `ClusterAdmissionPolicy` should name.
    pub reference_with_digest: Reference,
    /// `sha256:…` of the manifest.
    pub manifest_digest: String,
    /// `sha256:…` of the module (the wasm layer).
    pub layer_digest: String,
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The target pins a digest; a push names a tag and the registry computes the digest.
    #[error(
        "cannot push to {reference}: a push target names a tag, not a digest\n\n\
         Drop the `@sha256:…` part; the pushed digest is reported after the push"
    )]
    DigestReference {
        /// The target.
        reference: Box<Reference>,
    },
    /// The bytes are not a WebAssembly module.
    #[error("cannot push to {reference}: the module is not WebAssembly (no `\\0asm` header)")]
    NotWasm {
        /// The target.
        reference: Box<Reference>,
    },
    /// The module's sections or metadata could not be read.
    #[error("cannot push to {reference}: cannot read the module's Kubewarden metadata")]
    Metadata {
        /// The target.
        reference: Box<Reference>,
        /// The parse error.
        #[source]
        source: MetadataError,
    },
    /// The module has no Kubewarden metadata and force was not set.
    #[error(
        "cannot push to {reference}: the module is not annotated with Kubewarden metadata, so \
         Kubewarden would refuse to run it\n\nPush the annotated module (the aksid build writes \
         them to artifacts/), or push it anyway with force (`kubectl aksid push --force`)"
    )]
    NotAnnotated {
        /// The target.
        reference: Box<Reference>,
    },
    /// Credentials could not be determined.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The registry refused or failed.
    #[error("cannot push to {reference}")]
    Registry {
        /// The target.
        reference: Box<Reference>,
        /// What the registry said.
        #[source]
        source: RegistryError,
    },
    /// The registry stored the manifest under another digest than its content's.
    #[error(
        "the registry stored the manifest of {reference} as {stored}, but the manifest sent \
         hashes to {sent}"
    )]
    ManifestDigestMismatch {
        /// The target.
        reference: Box<Reference>,
        /// What was sent.
        sent: String,
        /// What the registry's `Location` header names.
        stored: String,
    },
}

impl Client {
    /// Pushes `module` to `reference` as a Kubewarden policy artifact and returns the digests.
    ///
    /// The module must carry Kubewarden metadata (`io.kubewarden.metadata`) unless
    /// [`ClientOptions::force`](crate::ClientOptions::force) is set. Its annotations become the
    /// manifest's, minus multi-line values (OCI annotations are single-line), with
    /// `io.kubewarden.policy.source` copied to `org.opencontainers.image.source`, as `kwctl push`
    /// does. The manifest is serialised deterministically, so pushing the same module twice gives
    /// the same digest.
    pub fn push(&self, module: &[u8], reference: &Reference) -> Result<PushedPolicy, PushError> {
        if reference.digest().is_some() {
            return Err(PushError::DigestReference {
                reference: Box::new(reference.clone()),
            });
        }
        if !module.starts_with(b"\0asm") {
            return Err(PushError::NotWasm {
                reference: Box::new(reference.clone()),
            });
        }
        let metadata = Metadata::from_wasm(module).map_err(|source| PushError::Metadata {
            reference: Box::new(reference.clone()),
            source,
        })?;
        if metadata.is_none() && !self.options.force {
            return Err(PushError::NotAnnotated {
                reference: Box::new(reference.clone()),
            });
        }
        let annotations = metadata
            .map(|m| manifest_annotations(&m.annotations))
            .filter(|a| !a.is_empty());

        let layer = ImageLayer::new(module.to_vec(), WASM_LAYER_MEDIA_TYPE.to_owned(), None);
        let config = Config::new(
            CONFIG_BLOB.to_vec(),
            WASM_CONFIG_MEDIA_TYPE.to_owned(),
            None,
        );
        let mut manifest =
            OciImageManifest::build(std::slice::from_ref(&layer), &config, annotations);
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_owned());
        let body = serde_json::to_vec(&manifest).expect("an OCI manifest serialises");
        let manifest_digest = sha256_digest(&body);
        let layer_digest = manifest.layers[0].digest.clone();
        let config_digest = manifest.config.digest.clone();

        let registry_error = |source| PushError::Registry {
            reference: Box::new(reference.clone()),
            source,
        };
        let session = self
            .session(reference, Operation::Push)
            .map_err(|e| match e {
                SessionError::Credentials(e) => PushError::Credentials(e),
                SessionError::Registry(e) => registry_error(e),
            })?;
        let oci_reference = reference.to_oci();
        let upload = async {
            let oci = &session.oci;
            // A bearer token obtained by this session means oci-client never sees the password.
            oci.store_auth_if_needed(oci_reference.resolve_registry(), &session.auth)
                .await;
            oci.push_blob(&oci_reference, layer.data, &layer_digest)
                .await?;
            oci.push_blob(&oci_reference, config.data, &config_digest)
                .await?;
            oci.push_manifest_raw(
                &oci_reference,
                body,
                http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
            )
            .await
        };
        let location = self
            .block_on(bounded_upload(&session, upload))
            .map_err(registry_error)?;

        // The Location header names the stored manifest; a registry that rewrote it would
        // make the returned pin wrong, so say so rather than return it.
        if let Some(stored) = location.rsplit('/').next()
            && stored.starts_with("sha256:")
            && stored != manifest_digest
        {
            return Err(PushError::ManifestDigestMismatch {
                reference: Box::new(reference.clone()),
                sent: manifest_digest,
                stored: stored.to_owned(),
            });
        }

        Ok(PushedPolicy {
            reference_with_digest: reference
                .with_digest(&manifest_digest)
                .expect("a sha256 digest is valid"),
            manifest_digest,
            layer_digest,
        })
    }
}

/// Runs an oci-client upload until the session's deadline at most, wording its timeouts as
/// aksid-oci's own requests word them.
async fn bounded_upload<T>(
    session: &Session,
    upload: impl std::future::Future<Output = Result<T, oci_client::errors::OciDistributionError>>,
) -> Result<T, crate::registry_error::RegistryError> {
    use oci_client::errors::OciDistributionError;
    let deadline = Failure::Timeout(TimeoutKind::Deadline(session.limits.operation_timeout));
    let left = session.limits.remaining().map_err(|f| session.failure(f))?;
    match tokio::time::timeout(left, upload).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(OciDistributionError::RequestError(e))) if e.is_timeout() => {
            Err(session.failure(session.limits.classify(e)))
        }
        Ok(Err(e)) => Err(session.error(e)),
        Err(_) => Err(session.failure(deadline)),
    }
}

/// The manifest annotations for a policy's metadata annotations, as `kwctl push` builds them.
fn manifest_annotations(annotations: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = annotations
        .iter()
        .filter(|(_, value)| value.lines().count() <= 1)
        .map(|(key, value)| (key.clone(), value.trim().to_owned()))
        .collect();
    if let Some(source) = out.get(POLICY_SOURCE).cloned() {
        out.entry(OCI_SOURCE.to_owned()).or_insert(source);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_annotations_drop_multi_line_values_and_copy_the_source() {
        let annotations: BTreeMap<String, String> = [
            ("io.kubewarden.policy.title", "no-local-accounts"),
            (
                "io.kubewarden.policy.source",
                "https://github.com/aksid/aksid",
            ),
            ("io.kubewarden.policy.usage", "# Usage\n\nLong README"),
            (
                "io.kubewarden.policy.description",
                "one line with a newline\n",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let out = manifest_annotations(&annotations);
        let expected: BTreeMap<String, String> = [
            ("io.kubewarden.policy.title", "no-local-accounts"),
            (
                "io.kubewarden.policy.source",
                "https://github.com/aksid/aksid",
            ),
            (
                "io.kubewarden.policy.description",
                "one line with a newline",
            ),
            (
                "org.opencontainers.image.source",
                "https://github.com/aksid/aksid",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn an_explicit_oci_source_is_kept() {
        let annotations: BTreeMap<String, String> = [
            ("io.kubewarden.policy.source", "https://a"),
            ("org.opencontainers.image.source", "https://b"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(manifest_annotations(&annotations)[OCI_SOURCE], "https://b");
    }

    #[test]
    fn refusals_happen_before_any_network_access() {
        // The registry below does not exist: each refusal must come before a connection.
        let client = Client::new(crate::ClientOptions::new(
            std::env::temp_dir().join("aksid-unused"),
        ))
        .unwrap();
        let target = Reference::parse("registry://registry.invalid/a/p:v1").unwrap();
        let bare = b"\0asm\x01\0\0\0";
        assert!(matches!(
            client.push(bare, &target).unwrap_err(),
            PushError::NotAnnotated { .. }
        ));
        assert!(matches!(
            client.push(b"MZ\x90\0", &target).unwrap_err(),
            PushError::NotWasm { .. }
        ));
        let pinned = target
            .with_digest(&format!("sha256:{}", "0".repeat(64)))
            .unwrap();
        assert!(matches!(
            client.push(bare, &pinned).unwrap_err(),
            PushError::DigestReference { .. }
        ));
        let message = client.push(bare, &target).unwrap_err().to_string();
        assert!(
            message.contains("registry://registry.invalid/a/p:v1"),
            "{message}"
        );
        assert!(message.contains("--force"), "{message}");
    }
}
