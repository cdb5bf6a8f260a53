//! The admission request as a policy sees it, parsed leniently from the waPC payload.
//!
//! Kubewarden sends `{"request": <AdmissionRequest>, "settings": {...}}`. The SDK's typed
//! `ValidationRequest` fails on a field of the wrong type; this view takes what is usable and
//! leaves the object as raw JSON for the rules.

use crate::json;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The parts of a Kubernetes `AdmissionRequest` the aksid rules read.
#[derive(Debug, Clone, Default)]
pub struct AdmissionRequest {
    /// API group of the object (`""` for the core group).
    pub group: String,
    /// API version of the object (`v1`, `v1api20240901`, ...).
    pub version: String,
    /// Kind of the object (`Deployment`, `ManagedCluster`, ...).
    pub kind: String,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: String,
    /// Name of the object (may be empty, e.g. with `generateName`).
    pub name: String,
    /// Namespace of the request (empty for cluster-scoped objects).
    pub namespace: String,
    /// The object being admitted, as sent.
    pub object: Value,
}

impl AdmissionRequest {
    /// Builds the view from the `request` member of the payload, moving the object out of it
    /// rather than copying (this runs once per evaluation). The kind falls back to the object's
    /// own `apiVersion`/`kind` when the request's `kind` is missing.
    pub fn from_value(mut request: Value) -> Result<AdmissionRequest, String> {
        if !request.is_object() {
            return Err(format!(
                "the request must be a JSON object, got {}",
                json::type_name(&request)
            ));
        }
        let object = request
            .get_mut("object")
            .map(Value::take)
            .unwrap_or(Value::Null);
        let request = &request;
        let (object_group, object_version) =
            split_api_version(json::str_at(&object, &["apiVersion"]).unwrap_or(""));
        let field = |path: &[&str]| json::str_at(request, path).map(str::to_owned);
        Ok(AdmissionRequest {
            group: field(&["kind", "group"]).unwrap_or_else(|| object_group.to_owned()),
            version: field(&["kind", "version"]).unwrap_or_else(|| object_version.to_owned()),
            kind: field(&["kind", "kind"])
                .or_else(|| json::str_at(&object, &["kind"]).map(str::to_owned))
                .unwrap_or_default(),
            operation: field(&["operation"]).unwrap_or_else(|| "CREATE".to_owned()),
            name: field(&["name"]).unwrap_or_else(|| json::name(&object).to_owned()),
            namespace: field(&["namespace"])
                .or_else(|| json::str_at(&object, &["metadata", "namespace"]).map(str::to_owned))
                .unwrap_or_default(),
            object,
        })
    }

    /// True for the operations aksid judges: CREATE and UPDATE. DELETE is always accepted.
    pub fn is_judged_operation(&self) -> bool {
        matches!(self.operation.as_str(), "CREATE" | "UPDATE")
    }

    /// `group/version`, or `version` for the core group, as written in `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Splits an `apiVersion` into group and version: `apps/v1` → (`apps`, `v1`), `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// Parses the `validate` payload into the request view and typed settings.
pub(crate) fn parse_payload<S: DeserializeOwned + Default>(
    payload: &[u8],
) -> Result<(AdmissionRequest, S), String> {
    let mut envelope: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the validation payload is not valid JSON: {e}"))?;
    let request = envelope
        .get_mut("request")
        .map(Value::take)
        .ok_or("the validation payload has no `request` member")?;
    let request = AdmissionRequest::from_value(request)?;
    let settings = match envelope.get("settings") {
        None | Some(Value::Null) => S::default(),
        Some(settings) => S::deserialize(settings).map_err(|e| format!("invalid settings: {e}"))?,
    };
    Ok((request, settings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kind_falls_back_to_the_object() {
        let req = AdmissionRequest::from_value(json!({
            "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "ns"}}
        }))
        .unwrap();
        assert_eq!(
            (req.group.as_str(), req.version.as_str(), req.kind.as_str()),
            ("apps", "v1", "Deployment")
        );
        assert_eq!((req.name.as_str(), req.namespace.as_str()), ("a", "ns"));
        assert_eq!(req.operation, "CREATE");
    }

    #[test]
    fn a_request_of_the_wrong_type_is_an_error() {
        assert!(AdmissionRequest::from_value(json!([1, 2])).is_err());
        assert!(parse_payload::<crate::settings::NoSettings>(b"{}").is_err());
        assert!(parse_payload::<crate::settings::NoSettings>(b"nope").is_err());
    }
}
