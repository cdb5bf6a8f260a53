//! What every aksid policy shares, written once.
//!
//! Depends on kubewarden-policy-sdk (without `cluster-context`: no k8s-openapi), serde and
//! serde_json; compiled to wasm32-wasip1, so it must never depend on the host side (wasmtime,
//! aksid-report, the CLI). Its `testing` feature (native tests only) adds aksid-manifests and
//! aksid-metadata, so the policy tests read manifests exactly as the CLI does.
//!
//! A policy crate implements [`Policy`]: it receives an [`AdmissionRequest`] whose object is
//! plain JSON, its typed settings and a [`ClusterContext`] for context-aware lookups, and
//! returns a [`Verdict`]. This crate turns the waPC payload into those inputs and the verdict
//! into Kubewarden's `ValidationResponse`, so rule code never parses envelopes or builds JSON.
//!
//! Rules read objects as [`serde_json::Value`] through the helpers in [`json`] rather than as
//! typed Kubernetes structs: a policy must give a verdict (never trap) on any JSON it can be
//! sent, and a field of the wrong type is a finding or is ignored, not a deserialisation error.
//!
//! ```
//! use aksid_policy_common::{AdmissionRequest, ClusterContext, Policy, Verdict, Violation};
//!
//! struct NoDefaultNamespace;
//! impl Policy for NoDefaultNamespace {
//!     type Settings = aksid_policy_common::settings::NoSettings;
//!     fn validate(req: &AdmissionRequest, _: &Self::Settings, _: &dyn ClusterContext) -> Verdict {
//!         let mut verdict = Verdict::default();
//!         if req.namespace == "default" {
//!             verdict.reject(Violation::new("metadata.namespace", "objects must not live in the default namespace")
//!                 .fix("set metadata.namespace to the team's namespace"));
//!         }
//!         verdict
//!     }
//! }
//!
//! let payload = br#"{"request":{"operation":"CREATE","namespace":"default",
//!   "kind":{"group":"","version":"v1","kind":"ConfigMap"},"object":{}},"settings":{}}"#;
//! let response = aksid_policy_common::validate::<NoDefaultNamespace>(payload, &aksid_policy_common::NoCluster).unwrap();
//! assert!(String::from_utf8(response).unwrap().contains(r#""accepted":false"#));
//! ```

pub mod cluster;
pub mod ids;
pub mod json;
pub mod listing;
pub mod request;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub mod verdict;
pub mod workload;

pub use cluster::{ClusterContext, HostCluster, Lookup, NoCluster};
pub use listing::{HostLister, Listing, ResourceLister};
pub use request::AdmissionRequest;
pub use verdict::{Verdict, Violation};

use kubewarden_policy_sdk::settings::Validatable;
use kubewarden_policy_sdk::wapc_guest::CallResult;
use serde::de::DeserializeOwned;

/// One aksid control: a pure function from an admission request to a verdict.
pub trait Policy {
    /// The policy's settings; `Default` is what an empty settings object means.
    type Settings: DeserializeOwned + Default + Validatable;

    /// Judges one CREATE or UPDATE request. DELETE and CONNECT never reach this function.
    fn validate(
        request: &AdmissionRequest,
        settings: &Self::Settings,
        cluster: &dyn ClusterContext,
    ) -> Verdict;
}

/// The waPC `validate` entry point shared by every policy.
///
/// Never returns a guest error for bad input: a payload that is not an admission request, or
/// settings that do not parse, is rejected with a message saying so, so the caller always gets
/// a verdict it can show.
pub fn validate<P: Policy>(payload: &[u8], cluster: &dyn ClusterContext) -> CallResult {
    let verdict = match request::parse_payload::<P::Settings>(payload) {
        Err(problem) => Verdict::invalid_request(problem),
        Ok((request, _)) if !request.is_judged_operation() => Verdict::default(),
        Ok((request, settings)) => P::validate(&request, &settings, cluster),
    };
    verdict.into_response()
}

/// The waPC `validate_settings` entry point shared by every policy.
pub fn validate_settings<S: DeserializeOwned + Validatable>(payload: &[u8]) -> CallResult {
    settings::validate_settings_payload::<S>(payload)
}

/// What the [`export_policy!`] expansion needs from the SDK, so policy crates need not name it.
#[doc(hidden)]
pub mod reexports {
    pub use kubewarden_policy_sdk::protocol_version_guest;
    pub use kubewarden_policy_sdk::wapc_guest;
    pub use kubewarden_policy_sdk::wapc_guest::CallResult;
}

/// Exports a [`Policy`] as a Kubewarden waPC module: the functions `validate` and
/// `validate_settings` (plain Rust functions, which tests and the native benchmark call
/// directly), and `wapc_init` registering them with `protocol_version`.
///
/// `wapc_init` exists only in the wasm module, so the four policy crates can also be linked
/// together natively without clashing symbols.
///
/// ```ignore
/// aksid_policy_common::export_policy!(NoLocalAccounts);
/// ```
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        /// waPC `validate`: judges one admission request, looking other objects up through the
        /// Kubewarden host.
        pub fn validate(payload: &[u8]) -> $crate::reexports::CallResult {
            $crate::validate::<$policy>(payload, &$crate::HostCluster)
        }

        /// waPC `validate_settings`.
        pub fn validate_settings(payload: &[u8]) -> $crate::reexports::CallResult {
            $crate::validate_settings::<<$policy as $crate::Policy>::Settings>(payload)
        }

        /// Registers the waPC functions Kubewarden calls.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn wapc_init() {
            use $crate::reexports::wapc_guest::register_function;
            register_function("validate", validate);
            register_function("validate_settings", validate_settings);
            register_function(
                "protocol_version",
                $crate::reexports::protocol_version_guest,
            );
        }
    };
}
