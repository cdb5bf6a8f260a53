//! The Kubernetes objects a context-aware policy can read offline: usually the manifests being
//! checked. Served to guests through `kubewarden/kubernetes/*` host calls.

use crate::selector::Labels;
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
/// Each object is kept as its JSON text, which is what a lookup answers with, and its labels,
/// which are all a selector reads besides the key. A parsed `Value` takes several times the
/// text's size, and a run over a large tree keeps thousands of ServiceAccounts and RBAC objects
/// for lookups: as text they are a fraction of the run's memory.
///
/// ```
/// use serde_json::json;
/// let objects = aksid_host::ObjectSet::from_objects([json!({
///     "apiVersion": "v1", "kind": "ServiceAccount",
///     "metadata": {"name": "api", "namespace": "shop"},
/// })]).unwrap();
/// assert!(objects.get("v1", "ServiceAccount", Some("shop"), "api").unwrap().contains(r#""name":"api""#));
/// assert!(objects.get("v1", "ServiceAccount", Some("other"), "api").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ObjectSet {
    inner: Arc<BTreeMap<TypeKey, BTreeMap<ObjectKey, Stored>>>,
}

/// (apiVersion, kind)
type TypeKey = (String, String);
/// (namespace or "", name)
type ObjectKey = (String, String);

#[derive(Debug, Clone)]
struct Stored {
    json: Box<str>,
    labels: Labels,
}

/// One object of a [`ObjectSet::list`]: its JSON text and what a selector reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listed<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub labels: &'a Labels,
    pub json: &'a str,
}

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

    /// Adds an object; true when it replaces one with the same key.
    pub fn insert(&mut self, object: Value) -> Result<bool, ObjectSetError> {
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
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect();
        let json = serde_json::to_string(&object)
            .unwrap_or_default()
            .into_boxed_str();
        Ok(Arc::make_mut(&mut self.inner)
            .entry((api_version, kind))
            .or_default()
            .insert((namespace, name), Stored { json, labels })
            .is_some())
    }

    /// The JSON text of the object of that type and name; `namespace` is `None` (or empty) for
    /// cluster-scoped objects.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&str> {
        self.of_type(api_version, kind)?
            .get(&(namespace.unwrap_or_default().to_owned(), name.to_owned()))
            .map(|stored| &*stored.json)
    }

    /// The objects of that type, in one namespace (`Some`) or in all (`None`), ordered by
    /// namespace then name.
    pub(crate) fn list<'a>(
        &'a self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = Listed<'a>> + 'a {
        self.of_type(api_version, kind)
            .into_iter()
            .flat_map(|objects| objects.iter())
            .filter(move |((ns, _), _)| namespace.is_none_or(|wanted| ns == wanted))
            .map(|((namespace, name), stored)| Listed {
                namespace,
                name,
                labels: &stored.labels,
                json: &stored.json,
            })
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.inner.values().map(BTreeMap::len).sum()
    }

    /// True when the set holds no object.
    pub fn is_empty(&self) -> bool {
        self.inner.values().all(BTreeMap::is_empty)
    }

    fn of_type(&self, api_version: &str, kind: &str) -> Option<&BTreeMap<ObjectKey, Stored>> {
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
        let names = |it: Vec<Listed>| {
            it.iter()
                .map(|o| format!("{}/{}", o.namespace, o.name))
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
    fn lookups_answer_with_the_objects_text_and_selectors_read_their_labels() {
        let mut labelled = object("ConfigMap", Some("a"), "x");
        labelled["metadata"]["labels"] = json!({"app": "web", "bad": 1});
        let set = ObjectSet::from_objects([labelled.clone()]).unwrap();
        let text = set.get("v1", "ConfigMap", Some("a"), "x").unwrap();
        assert_eq!(serde_json::from_str::<Value>(text).unwrap(), labelled);
        let listed: Vec<_> = set.list("v1", "ConfigMap", None).collect();
        assert_eq!(listed[0].json, text);
        assert_eq!(
            listed[0].labels,
            &Labels::from([("app".into(), "web".into())]),
            "a label that is not a string is no label"
        );
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
