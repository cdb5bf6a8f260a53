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
        // The wire format of the SDK's `GetResourceRequest`, called directly: the SDK's
        // `cluster-context` feature would link k8s-openapi for this one call.
        let request = serde_json::json!({
            "api_version": api_version,
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "disable_cache": false,
        });
        let payload = serde_json::to_vec(&request).unwrap_or_default();
        let answer = kubewarden_policy_sdk::wapc_guest::host_call(
            "kubewarden",
            "kubernetes",
            "get_resource",
            &payload,
        );
        match answer.map(|raw| serde_json::from_slice::<Value>(&raw)) {
            Ok(Ok(object)) => Lookup::Found(object),
            Ok(Err(e)) => Lookup::Unavailable(format!("the host's answer is not JSON: {e}")),
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
