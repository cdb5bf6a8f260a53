//! One page's policies and the check in progress: manifests → admission requests → a plan of
//! guest calls for the JavaScript host to run → outcomes → the JSON report.
//!
//! The steps are those of `kubectl aksid check` (`kubectl-plugin/src/commands/check.rs`), with
//! the same pure crates, so the report the page shows is the CLI's `-o json` by construction;
//! only the guest calls themselves run in JavaScript, on the browser's WebAssembly engine.

use crate::capabilities::{self, Answer, HostCallFailure};
use crate::capture::Capture;
use crate::objects::ObjectSet;
use crate::outcome::{self, Outcome};
use aksid_manifests::{
    LoadOptions, Manifest, ProblemKind, RequestOptions, admission_request, load_with, selects,
};
use aksid_metadata::Metadata;
use aksid_report::{InputError, PolicyInfo, ReportBuilder, render};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// What the wasmtime host keeps of a guest's stdout, stderr and logs per call (its default).
const CAPTURED_OUTPUT_LIMIT: usize = 64 << 10;

/// A loaded policy module, known by its metadata.
struct Policy {
    id: String,
    metadata: Metadata,
}

/// What the page shows of a policy.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDescription {
    /// Its position in the session: the index the plan and the host calls name it by.
    pub index: usize,
    /// The policy id (its title, else the file stem).
    pub id: String,
    /// One line of description.
    pub description: String,
    /// Its README (`io.kubewarden.policy.usage`), what `kubectl aksid explain` prints.
    pub usage: String,
    /// `apiVersion kind` of every kind it may look up.
    pub context_aware_resources: Vec<String>,
    /// Whether it replaced a policy of the same id, as `--policy` does.
    pub replaced: bool,
}

/// The options of one check, as `window.aksid.check` takes them (all optional).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckOptions {
    /// The file name results carry (default `playground.yaml`).
    #[serde(default)]
    pub file: Option<String>,
    /// `--namespace` (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `--user`.
    #[serde(default)]
    pub user: Option<String>,
    /// `--group`, repeated.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `--settings`: policy id → settings.
    #[serde(default)]
    pub settings: serde_json::Map<String, Value>,
    /// `--timeout` in milliseconds (default 2000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// One guest call the JavaScript host must make.
#[derive(Debug, Serialize)]
pub struct Call {
    /// The policy's index.
    pub policy: usize,
    /// The waPC payload.
    pub payload: String,
}

/// The guest calls of a check: every policy's `validate_settings`, then every `validate`.
#[derive(Debug, Serialize)]
pub struct Plan {
    /// One `validate_settings` per policy, in policy order.
    pub settings: Vec<Call>,
    /// One `validate` per selected (object, policy), in the order `record` expects them.
    pub evaluations: Vec<Call>,
}

/// A check in progress.
struct Run {
    report: ReportBuilder,
    manifests: Vec<Manifest>,
    /// (manifest, policy) of each planned evaluation.
    evaluations: Vec<(usize, usize)>,
    objects: ObjectSet,
    timeout: Duration,
}

/// The policies of a page and its check in progress.
#[derive(Default)]
pub struct Session {
    policies: Vec<Policy>,
    run: Option<Run>,
    capture: Capture,
    refused: Vec<HostCallFailure>,
}

impl Session {
    /// A session without policies.
    pub fn new() -> Session {
        Session {
            capture: Capture::new(CAPTURED_OUTPUT_LIMIT),
            ..Session::default()
        }
    }

    /// Adds a module, annotated or described by `metadata_yaml` (a `metadata.yml`); one with the
    /// id of a loaded policy replaces it, as `--policy` does.
    pub fn add_policy(
        &mut self,
        file_name: &str,
        module: &[u8],
        metadata_yaml: Option<&str>,
    ) -> Result<PolicyDescription, String> {
        let metadata = match metadata_yaml {
            // A metadata.yml as written by hand, before `kwctl annotate` adds the protocol.
            Some(text) => Metadata::from_yaml(text)
                .map_err(|e| format!("{file_name}: the metadata file is not valid: {e}"))?
                .with_protocol_version(),
            None => match Metadata::from_wasm(module) {
                Ok(Some(metadata)) => metadata,
                Ok(None) => {
                    return Err(format!(
                        "{file_name}: the module has no Kubewarden metadata; add its metadata.yml \
                         too, or annotate it first (kwctl annotate -m metadata.yml -o \
                         annotated.wasm {file_name})"
                    ));
                }
                Err(e) => return Err(format!("{file_name}: {e}")),
            },
        };
        metadata
            .validate()
            .map_err(|e| format!("{file_name}: invalid metadata: {e}"))?;
        let id = match metadata.title() {
            Some(title) if !title.is_empty() => title.to_owned(),
            _ => file_name.trim_end_matches(".wasm").to_owned(),
        };
        let policy = Policy { id, metadata };
        let (index, replaced) = match self.policies.iter().position(|p| p.id == policy.id) {
            Some(index) => {
                self.policies[index] = policy;
                (index, true)
            }
            None => {
                self.policies.push(policy);
                (self.policies.len() - 1, false)
            }
        };
        Ok(self.describe(index, replaced))
    }

    fn describe(&self, index: usize, replaced: bool) -> PolicyDescription {
        let p = &self.policies[index];
        let annotation = |key| p.metadata.annotation(key).unwrap_or_default().to_owned();
        PolicyDescription {
            index,
            id: p.id.clone(),
            description: annotation(aksid_metadata::DESCRIPTION),
            usage: annotation(aksid_metadata::USAGE),
            context_aware_resources: p
                .metadata
                .context_aware_resources
                .iter()
                .map(|r| format!("{} {}", r.api_version, r.kind))
                .collect(),
            replaced,
        }
    }

    /// Starts a check of `text`: loads it, builds every request and plans the guest calls.
    pub fn begin(&mut self, text: &str, options: &CheckOptions) -> Result<Plan, String> {
        for id in options.settings.keys() {
            if !self.policies.iter().any(|p| &p.id == id) {
                let ids: Vec<&str> = self.policies.iter().map(|p| p.id.as_str()).collect();
                return Err(format!(
                    "settings name the policy {id:?}, which is not loaded; the policies are: {}",
                    ids.join(", ")
                ));
            }
        }
        let file = options.file.as_deref().unwrap_or("playground.yaml");
        let namespace = options.namespace.as_deref().unwrap_or("default");
        let request_options = RequestOptions::default()
            .namespace(namespace)
            .username(options.user.clone().unwrap_or_default())
            .groups(options.groups.clone());
        let mut report = ReportBuilder::new().default_namespace(namespace);
        for p in &self.policies {
            report.add_policy(PolicyInfo::from_metadata(p.id.clone(), &p.metadata));
        }
        let loaded = load_with(file, text.as_bytes(), &LoadOptions::default());
        report.add_file(file);
        for problem in &loaded.problems {
            report.add_problem(problem);
        }
        let manifests = loaded.objects;
        if manifests.is_empty() {
            report.add_error(no_objects(file));
        }
        let objects = self.context_objects(&manifests, &request_options);
        let mut evaluations = Vec::new();
        let mut calls = Vec::new();
        for (m, manifest) in manifests.iter().enumerate() {
            let request = admission_request(manifest, &request_options);
            let request_json = serde_json::to_string(&request).unwrap_or_default();
            for (p, policy) in self.policies.iter().enumerate() {
                if selects(&policy.metadata, &request) {
                    let settings = settings_json(options.settings.get(&policy.id));
                    evaluations.push((m, p));
                    calls.push(Call {
                        policy: p,
                        payload: format!("{{\"request\":{request_json},\"settings\":{settings}}}"),
                    });
                }
            }
        }
        let settings = (0..self.policies.len())
            .map(|p| Call {
                policy: p,
                payload: settings_json(options.settings.get(&self.policies[p].id)),
            })
            .collect();
        self.run = Some(Run {
            report,
            manifests,
            evaluations,
            objects,
            timeout: Duration::from_millis(options.timeout_ms.unwrap_or(2000)),
        });
        Ok(Plan {
            settings,
            evaluations: calls,
        })
    }

    /// The cluster context-aware policies see, as the CLI builds it: every object whose kind
    /// some policy declared in `contextAwareResources`, with the namespace its request gives it.
    fn context_objects(&self, manifests: &[Manifest], options: &RequestOptions) -> ObjectSet {
        let declared: Vec<(&str, &str)> = self
            .policies
            .iter()
            .flat_map(|p| p.metadata.context_aware_resources.iter())
            .map(|r| (r.api_version.as_str(), r.kind.as_str()))
            .collect();
        let mut objects = ObjectSet::new();
        for manifest in manifests {
            if declared.contains(&(manifest.api_version(), manifest.kind())) {
                let mut request = admission_request(manifest, options);
                if let Some(object) = request.get_mut("object") {
                    // An object without a name cannot be looked up; it is not in the context.
                    let _ = objects.insert(object.take());
                }
            }
        }
        objects
    }

    /// Forgets what the previous guest call said: call before each `_start`, `wapc_init`,
    /// `validate_settings` and `validate`.
    pub fn start_call(&mut self) {
        self.capture = Capture::new(CAPTURED_OUTPUT_LIMIT);
        self.refused.clear();
    }

    /// What the guest wrote to stdout (1) or stderr (2).
    pub fn write_output(&mut self, fd: u32, bytes: &[u8]) {
        self.capture.write(fd, bytes);
    }

    /// A waPC `__host_call` of `policy`: `Ok` is the response (guest sees 1), `Err` the error
    /// text (guest sees 0), exactly as the wasmtime host answers.
    pub fn host_call(
        &mut self,
        policy: usize,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        let empty = ObjectSet::new();
        let objects = self.run.as_ref().map_or(&empty, |run| &run.objects);
        let allowed = self
            .policies
            .get(policy)
            .map_or(&[][..], |p| &p.metadata.context_aware_resources[..]);
        let context = capabilities::Context {
            objects,
            allowed,
            capture: &mut self.capture,
        };
        match capabilities::dispatch(context, binding, namespace, operation, payload) {
            Answer::Ok(bytes) => Ok(bytes),
            Answer::NotFound(message) => Err(message),
            Answer::Refused(failure) => {
                let message = failure.message.clone();
                self.refused.push(failure);
                Err(message)
            }
        }
    }

    /// The outcome of `policy`'s `validate_settings`: `Err` is the CLI's message for settings
    /// that are invalid or could not be validated.
    pub fn settings_outcome(&mut self, policy: usize, outcome: Outcome) -> Result<(), String> {
        let id = self.policy_id(policy);
        let timeout = self.timeout();
        let guest_message = self.capture.guest_message();
        let refused = std::mem::take(&mut self.refused);
        match outcome::settings_verdict(&id, outcome, timeout, guest_message, refused) {
            Ok((true, _)) => Ok(()),
            Ok((false, message)) => Err(format!(
                "settings for {id} are invalid: {}\n\nSee `kubectl aksid explain {id}` for its \
                 settings.",
                message.unwrap_or_default()
            )),
            Err(error) => Err(format!("policy {id}: validating settings: {error}")),
        }
    }

    /// Records the outcome of the planned evaluation number `evaluation`.
    pub fn record(&mut self, evaluation: usize, outcome: Outcome) {
        let guest_message = self.capture.guest_message();
        let refused = std::mem::take(&mut self.refused);
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let Some(&(m, p)) = run.evaluations.get(evaluation) else {
            return;
        };
        let id = &self.policies[p].id;
        let manifest = &run.manifests[m];
        match outcome::verdict(id, outcome, run.timeout, guest_message, refused) {
            Ok(verdict) => run.report.add_verdict(manifest, id, verdict),
            Err(message) => run.report.add_policy_failure(manifest, id, &message),
        }
    }

    /// Ends the check: the JSON report, as `kubectl aksid check -o json` prints it.
    pub fn report(&mut self) -> Result<String, String> {
        let run = self.run.take().ok_or("no check in progress")?;
        let mut builder = run.report;
        for manifest in &run.manifests {
            builder.add_object(manifest);
        }
        Ok(render::json(&builder.build()))
    }

    fn policy_id(&self, policy: usize) -> String {
        self.policies
            .get(policy)
            .map_or_else(|| format!("#{policy}"), |p| p.id.clone())
    }

    fn timeout(&self) -> Duration {
        self.run
            .as_ref()
            .map_or(Duration::from_secs(2), |run| run.timeout)
    }
}

/// The settings as the host sends them: `null` or absent means `{}`.
fn settings_json(settings: Option<&Value>) -> String {
    match settings {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(value) => serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned()),
    }
}

/// A check that finds no objects fails, with the CLI's words.
fn no_objects(file: &str) -> InputError {
    InputError {
        file: file.to_owned(),
        document: None,
        line: 1,
        field: None,
        kind: ProblemKind::NoObjects,
        message: "no Kubernetes objects found; if the input comes from helm template or kustomize \
                  build, check that step produced output"
            .to_owned(),
        policy: None,
        object: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const METADATA: &str = "rules:\n  - apiGroups: [\"\"]\n    apiVersions: [v1]\n    resources: [pods]\n    operations: [CREATE]\nmutating: false\ncontextAwareResources:\n  - apiVersion: v1\n    kind: ServiceAccount\nannotations:\n  io.kubewarden.policy.title: pods-only\n";

    const MANIFESTS: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n  namespace: shop\n";

    fn session() -> Session {
        let mut session = Session::new();
        let description = session
            .add_policy("pods-only.wasm", b"", Some(METADATA))
            .unwrap();
        assert_eq!(
            (description.index, description.id.as_str()),
            (0, "pods-only")
        );
        session
    }

    #[test]
    fn a_check_plans_settings_and_selected_objects_then_reports_like_the_cli() {
        let mut session = session();
        let options: CheckOptions = serde_json::from_str(
            r#"{"file": "app.yaml", "user": "alice", "settings": {"pods-only": {"strict": true}}}"#,
        )
        .unwrap();
        let plan = session.begin(MANIFESTS, &options).unwrap();
        assert_eq!(plan.settings.len(), 1);
        assert_eq!(plan.settings[0].payload, r#"{"strict":true}"#);
        // The rules select the Pod only; its request carries the user and the settings.
        assert_eq!(plan.evaluations.len(), 1);
        let payload: Value = serde_json::from_str(&plan.evaluations[0].payload).unwrap();
        assert_eq!(payload["request"]["kind"]["kind"], "Pod");
        assert_eq!(payload["request"]["userInfo"]["username"], "alice");
        assert_eq!(payload["settings"]["strict"], true);
        let response = r#"{"accepted":false,"message":"no pods"}"#;
        session
            .settings_outcome(
                0,
                Outcome::Response {
                    response: r#"{"valid":true}"#.into(),
                },
            )
            .unwrap();
        session.record(
            0,
            Outcome::Response {
                response: response.into(),
            },
        );
        let report: Value = serde_json::from_str(&session.report().unwrap()).unwrap();
        assert_eq!(report["version"], 1);
        let result = &report["results"][0];
        assert_eq!(
            (
                &result["file"],
                &result["line"],
                &result["name"],
                &result["allowed"],
                &result["message"]
            ),
            (
                &Value::from("app.yaml"),
                &Value::from(1),
                &Value::from("web"),
                &Value::from(false),
                &Value::from("no pods")
            )
        );
        assert_eq!(report["summary"]["objects"], 2);
    }

    #[rstest]
    #[case::declared_kind_is_served_from_the_page(
        r#"{"api_version":"v1","kind":"ServiceAccount","name":"web","namespace":"shop"}"#,
        Ok("web")
    )]
    #[case::missing_object_is_not_found(
        r#"{"api_version":"v1","kind":"ServiceAccount","name":"api","namespace":"shop"}"#,
        Err("ServiceAccount \"api\" not found in namespace \"shop\"")
    )]
    #[case::undeclared_kind_is_refused(
        r#"{"api_version":"v1","kind":"Secret","name":"web","namespace":"shop"}"#,
        Err(
            "Policy has not been granted access to Kubernetes v1/Secret resources: declare it in contextAwareResources (apiVersion: v1, kind: Secret)"
        )
    )]
    fn lookups_answer_as_the_cli_does(#[case] request: &str, #[case] expected: Result<&str, &str>) {
        let mut session = session();
        session.begin(MANIFESTS, &CheckOptions::default()).unwrap();
        session.start_call();
        let answer = session.host_call(
            0,
            "kubewarden",
            "kubernetes",
            "get_resource",
            request.as_bytes(),
        );
        let answer = answer.map(|bytes| {
            let object: Value = serde_json::from_slice(&bytes).unwrap();
            object["metadata"]["name"].as_str().unwrap().to_owned()
        });
        assert_eq!(answer.as_deref().map_err(String::as_str), expected);
    }

    #[test]
    fn invalid_settings_stop_the_check_with_the_clis_words() {
        let mut session = session();
        session.begin(MANIFESTS, &CheckOptions::default()).unwrap();
        let outcome = Outcome::Response {
            response: r#"{"valid":false,"message":"bad key"}"#.into(),
        };
        assert_eq!(
            session.settings_outcome(0, outcome).unwrap_err(),
            "settings for pods-only are invalid: bad key\n\nSee `kubectl aksid explain pods-only` for its settings."
        );
    }

    #[test]
    fn an_empty_text_is_an_error_as_in_the_cli() {
        let mut session = session();
        session.begin("", &CheckOptions::default()).unwrap();
        let report: Value = serde_json::from_str(&session.report().unwrap()).unwrap();
        assert_eq!(report["errors"][0]["kind"], "noObjects");
    }

    #[test]
    fn a_module_without_metadata_is_refused_with_the_fix() {
        let error = Session::new()
            .add_policy("mine.wasm", b"\0asm\x01\0\0\0", None)
            .unwrap_err();
        assert!(error.contains("add its metadata.yml"), "{error}");
    }
}
