//! The AdmissionRequest the API server would send a validating webhook when the object is
//! created (or updated, with its old object), and the policy selection by admission rules that
//! Kubewarden applies.

use crate::Manifest;
use crate::resources::resource_for;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Who the request claims to come from (`userInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// Default `kubectl-aksid`.
    pub username: String,
    /// Optional user UID; omitted from the request when `None`.
    pub uid: Option<String>,
    /// Default `["system:authenticated"]`.
    pub groups: Vec<String>,
    /// Extra attributes; omitted from the request when empty.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl Default for UserInfo {
    fn default() -> Self {
        UserInfo {
            username: "kubectl-aksid".to_owned(),
            uid: None,
            groups: vec!["system:authenticated".to_owned()],
            extra: BTreeMap::new(),
        }
    }
}

/// The admission operation of a request. `check` only builds CREATE; `test` can build UPDATE,
/// whose request also carries the object as it was (`oldObject`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Operation {
    /// `CREATE`, with `CreateOptions` (the default).
    #[default]
    Create,
    /// `UPDATE`, with `UpdateOptions` and an `oldObject`.
    Update,
}

impl Operation {
    /// The wire name: `CREATE`, `UPDATE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
        }
    }

    /// The `options` kind the API server sends with it.
    fn options_kind(self) -> &'static str {
        match self {
            Operation::Create => "CreateOptions",
            Operation::Update => "UpdateOptions",
        }
    }
}

/// How requests are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    /// Namespace for namespaced objects that name none (default `default`, as kubectl).
    pub namespace: String,
    /// The requesting user.
    pub user_info: UserInfo,
    /// The operation (default CREATE).
    pub operation: Operation,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            namespace: "default".to_owned(),
            user_info: UserInfo::default(),
            operation: Operation::Create,
        }
    }
}

impl RequestOptions {
    /// Namespace for namespaced objects without `metadata.namespace` (default `default`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The requesting username (default `kubectl-aksid`).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.user_info.username = username.into();
        self
    }

    /// The requesting user's groups (default `["system:authenticated"]`).
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.user_info.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// The whole `userInfo`.
    pub fn user_info(mut self, user_info: UserInfo) -> Self {
        self.user_info = user_info;
        self
    }

    /// The operation (default CREATE); see [`admission_request_with_old`] for UPDATE.
    pub fn operation(mut self, operation: Operation) -> Self {
        self.operation = operation;
        self
    }
}

/// A deterministic UUID-shaped request uid: a SHA-256 of the object's file, document, line and
/// identity, so the same input always yields the same report.
pub fn request_uid(manifest: &Manifest) -> String {
    let mut hasher = Sha256::new();
    for part in [
        manifest.source.as_ref(),
        &manifest.document.to_string(),
        &manifest.line.to_string(),
        manifest.api_version(),
        manifest.kind(),
        manifest.namespace().unwrap_or(""),
        manifest.name().unwrap_or(""),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let mut b: [u8; 16] = hasher.finalize()[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80; // version 8: custom (RFC 9562)
    b[8] = (b[8] & 0x3f) | 0x80; // RFC variant
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The AdmissionRequest (camelCase, as the API server and policy-server send it) for creating
/// the object: `operation` from `options` (CREATE by default, without an old object), the object's group/version/kind and plural resource,
/// `metadata.namespace` filled in from `options` for namespaced kinds that name none (and
/// dropped for cluster-scoped kinds, as the API server does before validating admission),
/// `userInfo` from `options`, `dryRun: false` and `CreateOptions` (for CREATE).
///
/// ```
/// use aksid_manifests::{admission_request, load, RequestOptions};
/// let loaded = load("pod.yaml", b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: nginx\n");
/// let request = admission_request(&loaded.objects[0], &RequestOptions::default());
/// assert_eq!(request["resource"]["resource"], "pods");
/// assert_eq!(request["namespace"], "default");
/// assert_eq!(request["object"]["metadata"]["namespace"], "default");
/// assert_eq!(request["userInfo"]["username"], "kubectl-aksid");
/// ```
pub fn admission_request(manifest: &Manifest, options: &RequestOptions) -> Value {
    admission_request_with_old(manifest, None, options)
}

/// The AdmissionRequest of [`admission_request`], with `operation` from `options` and, when
/// given, `oldObject` (namespaced like the object: the API server sends both as stored). An
/// UPDATE without an old object carries `oldObject: null`, which no API server sends: callers
/// should give one.
///
/// ```
/// use aksid_manifests::{admission_request_with_old, load, Operation, RequestOptions};
/// let new = load("new.yaml", b"apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {v: '2'}}\n");
/// let old = load("old.yaml", b"apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {v: '1'}}\n");
/// let options = RequestOptions::default().operation(Operation::Update);
/// let request = admission_request_with_old(&new.objects[0], Some(&old.objects[0]), &options);
/// assert_eq!(request["operation"], "UPDATE");
/// assert_eq!(request["oldObject"]["metadata"]["labels"]["v"], "1");
/// assert_eq!(request["oldObject"]["metadata"]["namespace"], "default");
/// assert_eq!(request["options"]["kind"], "UpdateOptions");
/// ```
pub fn admission_request_with_old(
    manifest: &Manifest,
    old: Option<&Manifest>,
    options: &RequestOptions,
) -> Value {
    let resource = resource_for(manifest.api_version(), manifest.kind());
    let gvk =
        json!({"group": resource.group, "version": resource.version, "kind": manifest.kind()});
    let gvr =
        json!({"group": resource.group, "version": resource.version, "resource": resource.plural});
    let namespace = resource.namespaced.then(|| {
        manifest
            .namespace()
            .unwrap_or(&options.namespace)
            .to_owned()
    });
    let object = stored_object(&manifest.object, namespace.as_deref());
    let mut user = Map::new();
    user.insert("username".into(), json!(options.user_info.username));
    if let Some(uid) = &options.user_info.uid {
        user.insert("uid".into(), json!(uid));
    }
    user.insert("groups".into(), json!(options.user_info.groups));
    if !options.user_info.extra.is_empty() {
        user.insert("extra".into(), json!(options.user_info.extra));
    }
    let mut request = Map::new();
    request.insert("uid".into(), json!(request_uid(manifest)));
    request.insert("kind".into(), gvk.clone());
    request.insert("resource".into(), gvr.clone());
    request.insert("requestKind".into(), gvk);
    request.insert("requestResource".into(), gvr);
    if let Some(name) = manifest.name() {
        request.insert("name".into(), json!(name));
    }
    if let Some(ns) = &namespace {
        request.insert("namespace".into(), json!(ns));
    }
    request.insert("operation".into(), json!(options.operation.as_str()));
    request.insert("userInfo".into(), Value::Object(user));
    request.insert("object".into(), object);
    if options.operation == Operation::Update {
        let old = old.map_or(Value::Null, |m| {
            stored_object(&m.object, namespace.as_deref())
        });
        request.insert("oldObject".into(), old);
    }
    request.insert("dryRun".into(), json!(false));
    request.insert(
        "options".into(),
        json!({"apiVersion": "meta.k8s.io/v1", "kind": options.operation.options_kind()}),
    );
    Value::Object(request)
}

/// The object as the API server stores it: `metadata.namespace` set for namespaced kinds,
/// dropped for cluster-scoped ones.
fn stored_object(object: &Value, namespace: Option<&str>) -> Value {
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        match namespace {
            Some(ns) => {
                let metadata = map
                    .entry("metadata")
                    .or_insert_with(|| Value::Object(Map::new()));
                if metadata.is_null() {
                    *metadata = Value::Object(Map::new());
                }
                if let Value::Object(metadata) = metadata {
                    metadata.insert("namespace".to_owned(), Value::String(ns.to_owned()));
                }
            }
            None => {
                if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
                    metadata.remove("namespace");
                }
            }
        }
    }
    object
}

/// True when a policy with `metadata` would be called for `request`: one of its rules names the
/// request's group, version, plural resource (with subresource, if any) and operation, with the
/// API server's wildcard semantics.
pub fn selects(metadata: &aksid_metadata::Metadata, request: &Value) -> bool {
    let field = |section: &str, key: &str| {
        request[section][key]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let mut resource = field("resource", "resource");
    if let Some(sub) = request["subResource"].as_str().filter(|s| !s.is_empty()) {
        resource = format!("{resource}/{sub}");
    }
    metadata.matches_request(
        &field("resource", "group"),
        &field("resource", "version"),
        &resource,
        request["operation"].as_str().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load;

    fn one(yaml: &str) -> Manifest {
        let loaded = load("x.yaml", yaml.as_bytes());
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        loaded.objects.into_iter().next().unwrap()
    }

    /// The §1.4 example of the research notes (the wire payload policy-server sends), with
    /// aksid's uid and userInfo.
    #[test]
    fn request_has_the_api_server_shape() {
        let m = one(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nginx\nspec:\n  containers:\n  - name: nginx\n    image: nginx\n",
        );
        let options = RequestOptions::default()
            .username("kubernetes-admin")
            .groups(["system:masters", "system:authenticated"]);
        let mut request = admission_request(&m, &options);
        let uid = request["uid"].as_str().unwrap().to_owned();
        assert_eq!(uid.len(), 36);
        assert_eq!(uid.as_bytes()[14], b'8');
        request["uid"] = json!("1299d386-525b-4032-98ae-1949f69f9cfc");
        let expected = json!({
           "uid":"1299d386-525b-4032-98ae-1949f69f9cfc",
           "kind":{"group":"","version":"v1","kind":"Pod"},
           "resource":{"group":"","version":"v1","resource":"pods"},
           "requestKind":{"group":"","version":"v1","kind":"Pod"},
           "requestResource":{"group":"","version":"v1","resource":"pods"},
           "name":"nginx","namespace":"default","operation":"CREATE",
           "userInfo":{"username":"kubernetes-admin","groups":["system:masters","system:authenticated"]},
           "object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nginx","namespace":"default"},"spec":{"containers":[{"name":"nginx","image":"nginx"}]}},
           "dryRun":false,
           "options":{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}
        });
        assert_eq!(request, expected);
    }

    #[test]
    fn namespaces_follow_the_object_then_the_option() {
        let m = one(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n",
        );
        let r = admission_request(&m, &RequestOptions::default().namespace("other"));
        assert_eq!(r["namespace"], "shop");
        let m = one("apiVersion: v1\nkind: ConfigMap\n");
        let r = admission_request(&m, &RequestOptions::default().namespace("other"));
        assert_eq!(r["namespace"], "other");
        assert_eq!(r["object"]["metadata"]["namespace"], "other");
        assert!(r.get("name").is_none(), "no name, no key");
    }

    #[test]
    fn cluster_scoped_objects_have_no_namespace() {
        let m = one(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: admins\n  namespace: stray\n",
        );
        let r = admission_request(&m, &RequestOptions::default());
        assert!(r.get("namespace").is_none());
        assert!(r["object"]["metadata"].get("namespace").is_none());
        assert_eq!(r["resource"]["resource"], "clusterrolebindings");
        let kubeconfig = one("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\n");
        let r = admission_request(&kubeconfig, &RequestOptions::default());
        assert_eq!(
            r["resource"],
            json!({"group":"","version":"v1","resource":"configs"})
        );
        assert!(
            r["object"].get("metadata").is_none(),
            "a kubeconfig is passed unchanged"
        );
    }

    #[test]
    fn update_carries_the_old_object_and_update_options() {
        let new = one("apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\n");
        let old = one("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {x: 1}\n");
        let options = RequestOptions::default().operation(Operation::Update);
        let r = admission_request_with_old(&new, Some(&old), &options);
        assert_eq!(r["operation"], "UPDATE");
        assert_eq!(r["options"]["kind"], "UpdateOptions");
        assert_eq!(
            r["oldObject"],
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"x": 1}}),
            "the old object is stored in the new object's namespace"
        );
        let create = admission_request_with_old(&new, Some(&old), &RequestOptions::default());
        assert!(create.get("oldObject").is_none(), "CREATE has no oldObject");
        assert_eq!(create["operation"], "CREATE");
    }

    #[test]
    fn uids_are_deterministic_and_distinct() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n";
        let loaded = load("x.yaml", text.as_bytes());
        let a = request_uid(&loaded.objects[0]);
        assert_eq!(a, request_uid(&load("x.yaml", text.as_bytes()).objects[0]));
        assert_ne!(a, request_uid(&loaded.objects[1]));
    }

    #[test]
    fn selection_uses_the_plural_resource() {
        let metadata = aksid_metadata::Metadata::from_yaml(
            "rules:\n- apiGroups: [containerservice.azure.com]\n  apiVersions: ['*']\n  resources: [managedclusters]\n  operations: [CREATE, UPDATE]\nmutating: false\n",
        )
        .unwrap();
        let cluster = one(
            "apiVersion: containerservice.azure.com/v1api20231001\nkind: ManagedCluster\nmetadata: {name: c}\n",
        );
        let binding = one(
            "apiVersion: containerservice.azure.com/v1api20240901\nkind: TrustedAccessRoleBinding\nmetadata: {name: b}\n",
        );
        let options = RequestOptions::default();
        assert!(selects(&metadata, &admission_request(&cluster, &options)));
        assert!(!selects(&metadata, &admission_request(&binding, &options)));
    }
}
