//! The Kubernetes objects a context-aware policy can read offline: usually the manifests being
//! checked. Served to guests through `kubewarden/kubernetes/*` host calls.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A set of Kubernetes objects indexed by apiVersion, kind, namespace and name.
///
/// Cheap to clone (the objects are shared), so one set can serve thousands of evaluations from
/// many threads. Objects are stored as given: a namespaced object written without
/// `metadata.namespace` is found only by lookups without a namespace, so callers that know the
/// default namespace should fill it in before inserting.
///
/// ```
/// use serde_json::json;
/// let objects = aksid_host::ObjectSet::from_objects([json!({
///     "apiVersion": "v1", "kind": "ServiceAccount",
///     "metadata": {"name": "api", "namespace": "shop"},
/// })]).unwrap();
/// assert!(objects.get("v1", "ServiceAccount", Some("shop"), "api").is_some());
/// assert!(objects.get("v1", "ServiceAccount", Some("other"), "api").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ObjectSet {
    inner: Arc<BTreeMap<TypeKey, BTreeMap<ObjectKey, Value>>>,
}

/// (apiVersion, kind)
type TypeKey = (String, String);
/// (namespace or "", name)
type ObjectKey = (String, String);

/// Why an object cannot be put in an [`ObjectSet`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ObjectSetError {
    /// The object lacks a string field every Kubernetes object has.
    #[error("object has no string `{field}`, so it cannot be looked up")]
    MissingField {
        /// `apiVersion`, `kind` or `metadata.name`.
        field: &'static str,
    },
}

impl ObjectSet {
    /// An empty set.
    pub fn new() -> ObjectSet {
        ObjectSet::default()
    }

    /// A set of the given objects (a later object replaces an earlier one with the same key).
    pub fn from_objects(
        objects: impl IntoIterator<Item = Value>,
    ) -> Result<ObjectSet, ObjectSetError> {
        let mut set = ObjectSet::new();
        for object in objects {
            set.insert(object)?;
        }
        Ok(set)
    }

    /// Adds an object, returning the one it replaces.
    pub fn insert(&mut self, object: Value) -> Result<Option<Value>, ObjectSetError> {
        let field = |pointer: &str, name: &'static str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(ObjectSetError::MissingField { field: name })
        };
        let api_version = field("/apiVersion", "apiVersion")?;
        let kind = field("/kind", "kind")?;
        let name = field("/metadata/name", "metadata.name")?;
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Arc::make_mut(&mut self.inner)
            .entry((api_version, kind))
            .or_default()
            .insert((namespace, name), object))
    }

    /// The object of that type and name; `namespace` is `None` (or empty) for cluster-scoped
    /// objects.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&Value> {
        self.of_type(api_version, kind)?
            .get(&(namespace.unwrap_or_default().to_owned(), name.to_owned()))
    }

    /// The objects of that type, in one namespace (`Some`) or in all (`None`), ordered by
    /// namespace then name.
    pub fn list<'a>(
        &'a self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.of_type(api_version, kind)
            .into_iter()
            .flat_map(|objects| objects.iter())
            .filter(move |((ns, _), _)| namespace.is_none_or(|wanted| ns == wanted))
            .map(|(_, object)| object)
    }

    /// Every object, ordered by apiVersion, kind, namespace and name.
    pub fn iter(&self) -> impl Iterator<Item = &Value> {
        self.inner.values().flat_map(BTreeMap::values)
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.inner.values().map(BTreeMap::len).sum()
    }

    /// True when the set holds no object.
    pub fn is_empty(&self) -> bool {
        self.inner.values().all(BTreeMap::is_empty)
    }

    fn of_type(&self, api_version: &str, kind: &str) -> Option<&BTreeMap<ObjectKey, Value>> {
        self.inner.get(&(api_version.to_owned(), kind.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(kind: &str, ns: Option<&str>, name: &str) -> Value {
        let mut o = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
        if let Some(ns) = ns {
            o["metadata"]["namespace"] = json!(ns);
        }
        o
    }

    #[test]
    fn lists_by_namespace_and_all_in_key_order() {
        let set = ObjectSet::from_objects([
            object("ConfigMap", Some("b"), "x"),
            object("ConfigMap", Some("a"), "y"),
            object("ConfigMap", Some("a"), "x"),
            object("Secret", Some("a"), "x"),
        ])
        .unwrap();
        let names = |it: Vec<&Value>| {
            it.iter()
                .map(|o| {
                    format!(
                        "{}/{}",
                        o["metadata"]["namespace"].as_str().unwrap(),
                        o["metadata"]["name"].as_str().unwrap()
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(set.list("v1", "ConfigMap", Some("a")).collect()),
            ["a/x", "a/y"]
        );
        assert_eq!(
            names(set.list("v1", "ConfigMap", None).collect()),
            ["a/x", "a/y", "b/x"]
        );
        assert_eq!(set.list("apps/v1", "ConfigMap", None).count(), 0);
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn cluster_scoped_objects_are_found_without_namespace() {
        let set = ObjectSet::from_objects([object("Namespace", None, "shop")]).unwrap();
        assert!(set.get("v1", "Namespace", None, "shop").is_some());
        assert!(set.get("v1", "Namespace", Some(""), "shop").is_some());
        assert!(set.get("v1", "Namespace", Some("shop"), "shop").is_none());
    }

    #[test]
    fn objects_without_identity_are_refused() {
        let err =
            ObjectSet::from_objects([json!({"apiVersion": "v1", "kind": "Pod"})]).unwrap_err();
        assert_eq!(
            err,
            ObjectSetError::MissingField {
                field: "metadata.name"
            }
        );
    }

    #[test]
    fn clones_share_until_written() {
        let mut a = ObjectSet::from_objects([object("Pod", Some("a"), "p")]).unwrap();
        let b = a.clone();
        a.insert(object("Pod", Some("a"), "q")).unwrap();
        assert_eq!((a.len(), b.len()), (2, 1));
    }
}
