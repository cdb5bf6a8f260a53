//! Context-aware lookups, behind one trait so rule code is identical in unit tests and in wasm.
//!
//! In a module, [`HostCluster`] asks the host through Kubewarden's `kubernetes/get_resource`
//! capability (the object must be listed in the policy's `contextAwareResources`). Offline, the
//! aksid host answers from the manifests being checked. Unit tests use `testing::ObjectSet`.

use serde_json::Value;

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The object exists.
    Found(Value),
    /// The host answered that no such object exists.
    NotFound,
    /// The lookup itself failed (capability not granted, API error, not available offline).
    /// Rules judge only what the admitted object shows and say so in a warning.
    Unavailable(String),
}

/// Read access to other objects of the cluster (or of the manifest set being checked).
pub trait ClusterContext {
    /// Looks up one object. `namespace` is `None` for cluster-scoped kinds.
    fn get_resource(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Lookup;
}

/// Lookups through the Kubewarden host capability `kubernetes/get_resource`.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostCluster;

impl ClusterContext for HostCluster {
    fn get_resource(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Lookup {
        use kubewarden_policy_sdk::host_capabilities::kubernetes::{
            GetResourceRequest, get_resource,
        };
        let request = GetResourceRequest {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
            disable_cache: false,
            field_masks: None,
        };
        match get_resource::<Value>(&request) {
            Ok(object) => Lookup::Found(object),
            Err(e) => classify_error(&e.to_string()),
        }
    }
}

/// Kubewarden reports a missing object as an error whose text carries the API server's
/// "not found"; everything else is a failed lookup.
fn classify_error(message: &str) -> Lookup {
    if message.to_ascii_lowercase().contains("not found") {
        Lookup::NotFound
    } else {
        Lookup::Unavailable(message.to_owned())
    }
}

/// A cluster with no objects and no lookups, for callers that have no context to offer.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCluster;

impl ClusterContext for NoCluster {
    fn get_resource(&self, _: &str, _: &str, _: Option<&str>, _: &str) -> Lookup {
        Lookup::Unavailable("no cluster context".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_errors_are_distinguished() {
        assert_eq!(
            classify_error("serviceaccounts \"x\" not found"),
            Lookup::NotFound
        );
        assert!(matches!(
            classify_error("access denied"),
            Lookup::Unavailable(_)
        ));
    }
}
