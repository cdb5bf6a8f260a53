//! Push and pull Kubewarden policy modules to and from OCI registries (GHCR, ACR, Harbor, the
//! distribution registry), in exactly the artifact shape Kubewarden's `kwctl push` produces and
//! its policy-server pulls:
//!
//! Depends on oci-client, rustls and aksid-metadata; must never depend on wasmtime, aksid-host,
//! aksid-manifests, aksid-report or the CLI: it moves bytes, it does not judge them.
//!
//! | part | value |
//! |---|---|
//! | manifest | OCI image manifest (`application/vnd.oci.image.manifest.v1+json`) |
//! | config | blob `{}`, media type [`WASM_CONFIG_MEDIA_TYPE`] |
//! | layer | the annotated module, media type [`WASM_LAYER_MEDIA_TYPE`] |
//! | annotations | the module's `io.kubewarden.*` metadata annotations minus multi-line values, plus `org.opencontainers.image.source` |
//!
//! The client is blocking (it drives its requests on its own current-thread runtime), takes
//! credentials from `AKSID_REGISTRY_USERNAME`/`AKSID_REGISTRY_PASSWORD` for the one registry
//! `AKSID_REGISTRY_SERVER` names, or from the Docker config file's entry for the registry; sends
//! them only to that registry's own host, over HTTPS or to a loopback registry; speaks plain
//! HTTP only to loopback registries and hosts listed explicitly, never follows a redirect that
//! lowers the transport; bounds every body as it streams and every operation in time; and
//! caches pulled modules by manifest digest, verifying every cached byte on every read.
//!
//! ```no_run
//! use aksid_oci::{Client, ClientOptions, Reference};
//!
//! let client = Client::new(ClientOptions::new("/home/me/.cache/aksid/oci"))?;
//! let module = std::fs::read("artifacts/no-local-accounts.wasm")?;
//! let target = Reference::parse("registry://127.0.0.1:5000/aksid/no-local-accounts:v0.1.0")?;
//! let pushed = client.push(&module, &target)?;
//! // registry://127.0.0.1:5000/aksid/no-local-accounts:v0.1.0@sha256:…
//! println!("{}", pushed.reference_with_digest);
//!
//! let pulled = client.pull(&pushed.reference_with_digest)?;
//! assert_eq!(pulled.bytes, module);
//! assert_eq!(pulled.manifest_digest, pushed.manifest_digest);
//! // A pinned reference is served from the verified cache the second time.
//! assert!(client.pull(&pushed.reference_with_digest)?.from_cache);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! References are parsed once, up front, and a bad one says what is wrong with an example:
//!
//! ```
//! use aksid_oci::Reference;
//! let err = Reference::parse("registry://ghcr.io/Aksid/policy:v1").unwrap_err();
//! assert!(err.to_string().contains("lowercase"));
//! ```

#![deny(missing_docs)]

mod auth;
pub mod cache;
mod client;
mod credentials;
mod http;
mod pull;
mod push;
mod reference;
mod registry_error;
mod signature;
mod transport;
mod verification_config;

pub use client::{Client, ClientError, ClientOptions, Transport};
pub use credentials::{CredentialsError, ENV_PASSWORD, ENV_SERVER, ENV_USERNAME};
pub use pull::{MAX_MANIFEST_SIZE, MAX_MODULE_SIZE, PullError, PulledPolicy};
pub use push::{PushError, PushedPolicy};
pub use reference::{InvalidReference, ParseReferenceError, Reference, SCHEME};
pub use registry_error::{RegistryError, RegistryErrorKind};
pub use signature::{
    FoundSignature, KEY_HINT, KeyError, PAYLOAD_TYPE, PublicKey, SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE, SignError, SignedPolicy, SigningKey, VerifiedPolicy, VerifyError,
    payload, signature_tag,
};
pub use verification_config::{Requirement, VerificationConfig, VerificationConfigError};

/// Media type of a Kubewarden policy's layer (the wasm module).
pub const WASM_LAYER_MEDIA_TYPE: &str = oci_client::manifest::WASM_LAYER_MEDIA_TYPE;
/// Media type of a Kubewarden policy's config blob (`{}`).
pub const WASM_CONFIG_MEDIA_TYPE: &str = oci_client::manifest::WASM_CONFIG_MEDIA_TYPE;

/// `sha256:<hex>` of `bytes`, the form OCI digests take.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
