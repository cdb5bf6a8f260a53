//! The test file format: one YAML document per test, read with the manifest loader (so YAML
//! parsing is the project's one parser) and checked field by field. Every problem is a
//! [`SpecError`] naming the file, the test and the field.
//!
//! ```yaml
//! apiVersion: aksid.io/v1alpha1
//! kind: Test
//! metadata: {name: no-local-accounts}
//! spec:
//!   manifests: [bad.yaml, {apiVersion: v1, kind: Secret, ...}]  # paths (relative to this file) or inline
//!   policies: [no-local-accounts, ./my.wasm, registry://...]   # default: every built-in policy
//!   settings: {no-local-accounts: {...}}
//!   request: {user: alice, groups: [g], namespace: default, operation: UPDATE}
//!   oldObjects: [old.yaml]                                      # UPDATE only, like manifests
//!   exceptions: .aksid.yaml
//!   expect:
//!   - {kind: Secret, namespace: default, name: x, policy: no-local-accounts, result: reject, message: token}
//!   - {kind: Config, file: kubeconfig.yaml, policy: no-local-accounts, result: accept}       # name, namespace, file optional
//! ```

use aksid_manifests::{Manifest, Operation};
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// The `apiVersion` of test documents.
pub const API_VERSION: &str = "aksid.io/v1alpha1";
/// The `kind` of test documents.
pub const KIND: &str = "Test";

/// A problem with a test file: exit 2.
#[derive(Debug, Clone, Serialize)]
pub struct SpecError {
    /// The test file.
    pub file: String,
    /// The test (`metadata.name`), when known.
    pub test: Option<String>,
    /// The field, as a path (`spec.expect[2].result`).
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(test) = &self.test {
            write!(f, ": test {test:?}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A manifest source: a path (relative to the test file) or an inline document.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file or directory.
    Path(PathBuf),
    /// An inline object, and its field path.
    Inline(Value, String),
}

/// The expected result of one policy for one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Expected {
    /// Accepted without warnings (an exception-allowed rejection counts as accepted).
    Accept,
    /// Rejected.
    Reject,
    /// Accepted with at least one warning.
    Warn,
    /// Not selected by the policy's rules.
    Skip,
}

impl Expected {
    /// The name the test file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Accept => "accept",
            Expected::Reject => "reject",
            Expected::Warn => "warn",
            Expected::Skip => "skip",
        }
    }
}

/// One `spec.expect` entry.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Its field path (`spec.expect[2]`).
    pub field: String,
    /// Object kind.
    pub kind: String,
    /// Namespace; `None` matches any (and cluster-scoped objects).
    pub namespace: Option<String>,
    /// `metadata.name`; `None` matches every object of the kind (a kubeconfig has no name).
    pub name: Option<String>,
    /// The object's file, relative to the test file: tells apart objects of the same kind,
    /// namespace and name in different files (a good and a bad example).
    pub file: Option<PathBuf>,
    /// Policy id.
    pub policy: String,
    /// Expected result.
    pub result: Expected,
    /// A substring the message (or, for `warn`, a warning) must contain.
    pub message: Option<String>,
}

/// The request fields of a test.
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    /// `userInfo.username`.
    pub user: Option<String>,
    /// `userInfo.groups`.
    pub groups: Option<Vec<String>>,
    /// Namespace for objects that name none.
    pub namespace: Option<String>,
    /// CREATE (default) or UPDATE.
    pub operation: Operation,
}

/// One test.
#[derive(Debug, Clone)]
pub struct TestSpec {
    /// The test file.
    pub file: String,
    /// Its directory: relative paths are resolved from here.
    pub dir: PathBuf,
    /// 1-based line where the test's document starts.
    pub line: usize,
    /// `metadata.name`.
    pub name: String,
    /// The objects to judge.
    pub manifests: Vec<Source>,
    /// Policies: ids, paths, registry references; empty means every built-in.
    pub policies: Vec<String>,
    /// Settings per policy id.
    pub settings: Map<String, Value>,
    /// The request.
    pub request: RequestSpec,
    /// Old objects of UPDATE requests.
    pub old_objects: Vec<Source>,
    /// An exceptions file, relative to the test file.
    pub exceptions: Option<PathBuf>,
    /// What must hold.
    pub expect: Vec<Expectation>,
}

const SPEC_KEYS: [&str; 7] = [
    "manifests",
    "policies",
    "settings",
    "request",
    "oldObjects",
    "exceptions",
    "expect",
];

/// Field-level errors of one test document.
struct Ctx<'a> {
    file: &'a str,
    test: Option<String>,
}

impl Ctx<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> SpecError {
        SpecError {
            file: self.file.to_owned(),
            test: self.test.clone(),
            field: (!field.is_empty()).then(|| field.to_owned()),
            message: message.into(),
        }
    }

    fn string(&self, v: &Value, field: &str) -> Result<String, SpecError> {
        match v {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(self.err(field, "expected a non-empty string")),
        }
    }

    fn list<'v>(&self, v: &'v Value, field: &str) -> Result<&'v Vec<Value>, SpecError> {
        v.as_array()
            .ok_or_else(|| self.err(field, "expected a list"))
    }

    fn known_keys(
        &self,
        map: &Map<String, Value>,
        keys: &[&str],
        field: &str,
    ) -> Result<(), SpecError> {
        match map.keys().find(|k| !keys.contains(&k.as_str())) {
            Some(k) => Err(self.err(
                &format!("{field}.{k}"),
                format!("unknown field; expected one of {}", keys.join(", ")),
            )),
            None => Ok(()),
        }
    }
}

/// Reads one test document (a loaded object of kind `Test`).
pub fn parse_test(manifest: &Manifest, dir: &Path) -> Result<TestSpec, SpecError> {
    let file: &str = &manifest.source;
    let mut ctx = Ctx { file, test: None };
    if manifest.api_version() != API_VERSION || manifest.kind() != KIND {
        return Err(ctx.err(
            "kind",
            format!(
                "document {} is {} {}, not a test; a test file holds only `apiVersion: {API_VERSION}`, `kind: {KIND}` documents",
                manifest.document,
                manifest.api_version(),
                manifest.kind()
            ),
        ));
    }
    let name = ctx.string(&manifest.object["metadata"]["name"], "metadata.name")?;
    ctx.test = Some(name.clone());
    let spec = manifest.object["spec"].as_object().ok_or_else(|| {
        ctx.err(
            "spec",
            "missing; a test needs spec.manifests and spec.expect",
        )
    })?;
    ctx.known_keys(spec, &SPEC_KEYS, "spec")?;
    let manifests = sources(&ctx, spec.get("manifests"), "spec.manifests")?;
    if manifests.is_empty() {
        return Err(ctx.err(
            "spec.manifests",
            "missing or empty; name the manifests to judge (paths or inline objects)",
        ));
    }
    let policies = match spec.get("policies") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => ctx
            .list(v, "spec.policies")?
            .iter()
            .enumerate()
            .map(|(i, p)| ctx.string(p, &format!("spec.policies[{i}]")))
            .collect::<Result<_, _>>()?,
    };
    let settings = match spec.get("settings") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(ctx.err(
                "spec.settings",
                "expected a map from policy id to its settings",
            ));
        }
    };
    let request = request(&ctx, spec.get("request"))?;
    let old_objects = sources(&ctx, spec.get("oldObjects"), "spec.oldObjects")?;
    if !old_objects.is_empty() && request.operation != Operation::Update {
        return Err(ctx.err(
            "spec.oldObjects",
            "old objects are only sent with UPDATE; set spec.request.operation: UPDATE",
        ));
    }
    if old_objects.is_empty() && request.operation == Operation::Update {
        return Err(ctx.err("spec.oldObjects", "an UPDATE request needs the object as it was; add spec.oldObjects (paths or inline objects)"));
    }
    let exceptions = match spec.get("exceptions") {
        None | Some(Value::Null) => None,
        Some(v) => Some(dir.join(ctx.string(v, "spec.exceptions")?)),
    };
    let expect = expectations(&ctx, spec.get("expect"))?;
    Ok(TestSpec {
        file: file.to_owned(),
        dir: dir.to_owned(),
        line: manifest.line,
        name,
        manifests,
        policies,
        settings,
        request,
        old_objects,
        exceptions,
        expect,
    })
}

fn sources(ctx: &Ctx, value: Option<&Value>, field: &str) -> Result<Vec<Source>, SpecError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    ctx.list(value, field)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let field = format!("{field}[{i}]");
            match v {
                Value::String(s) if !s.is_empty() => Ok(Source::Path(PathBuf::from(s))),
                Value::Object(_) => Ok(Source::Inline(v.clone(), field)),
                _ => Err(ctx.err(
                    &field,
                    "expected a path (relative to the test file) or an inline Kubernetes object",
                )),
            }
        })
        .collect()
}

fn request(ctx: &Ctx, value: Option<&Value>) -> Result<RequestSpec, SpecError> {
    let mut out = RequestSpec::default();
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(out);
    };
    let map = value.as_object().ok_or_else(|| {
        ctx.err(
            "spec.request",
            "expected a map (user, groups, namespace, operation)",
        )
    })?;
    ctx.known_keys(
        map,
        &["user", "groups", "namespace", "operation"],
        "spec.request",
    )?;
    if let Some(v) = map.get("user") {
        out.user = Some(ctx.string(v, "spec.request.user")?);
    }
    if let Some(v) = map.get("namespace") {
        out.namespace = Some(ctx.string(v, "spec.request.namespace")?);
    }
    if let Some(v) = map.get("groups") {
        let groups = ctx.list(v, "spec.request.groups")?;
        out.groups = Some(
            groups
                .iter()
                .enumerate()
                .map(|(i, g)| ctx.string(g, &format!("spec.request.groups[{i}]")))
                .collect::<Result<_, _>>()?,
        );
    }
    if let Some(v) = map.get("operation") {
        out.operation = match v.as_str() {
            Some("CREATE") => Operation::Create,
            Some("UPDATE") => Operation::Update,
            _ => return Err(ctx.err("spec.request.operation", "expected CREATE or UPDATE")),
        };
    }
    Ok(out)
}

fn expectations(ctx: &Ctx, value: Option<&Value>) -> Result<Vec<Expectation>, SpecError> {
    let list = match value {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            return Err(ctx.err("spec.expect", "missing or empty: a test that expects nothing proves nothing; add one entry per object and policy (kind, name, policy, result)"));
        }
        Some(_) => return Err(ctx.err("spec.expect", "expected a list")),
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| expectation(ctx, v, &format!("spec.expect[{i}]")))
        .collect()
}

fn expectation(ctx: &Ctx, v: &Value, field: &str) -> Result<Expectation, SpecError> {
    let map = v.as_object().ok_or_else(|| {
        ctx.err(
            field,
            "expected a map (kind, namespace, name, policy, result, message)",
        )
    })?;
    ctx.known_keys(
        map,
        &[
            "kind",
            "namespace",
            "name",
            "file",
            "policy",
            "result",
            "message",
        ],
        field,
    )?;
    let required = |key: &str| {
        ctx.string(
            &map.get(key).cloned().unwrap_or(Value::Null),
            &format!("{field}.{key}"),
        )
    };
    let optional = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => ctx.string(v, &format!("{field}.{key}")).map(Some),
    };
    let result = match required("result")?.as_str() {
        "accept" => Expected::Accept,
        "reject" => Expected::Reject,
        "warn" => Expected::Warn,
        "skip" => Expected::Skip,
        other => {
            return Err(ctx.err(
                &format!("{field}.result"),
                format!("{other:?} is not a result; expected accept, reject, warn or skip"),
            ));
        }
    };
    let message = optional("message")?;
    if message.is_some() && result == Expected::Skip {
        return Err(ctx.err(
            &format!("{field}.message"),
            "a skipped policy says nothing; remove message",
        ));
    }
    Ok(Expectation {
        field: field.to_owned(),
        kind: required("kind")?,
        namespace: optional("namespace")?,
        name: optional("name")?,
        file: optional("file")?.map(PathBuf::from),
        policy: required("policy")?,
        result,
        message,
    })
}
