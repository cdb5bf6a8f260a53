//! [`ReportBuilder`]: collects a run's files, objects, verdicts and problems, applies exceptions,
//! and builds the sorted, summarised [`Report`].

use crate::model::ExceptionsUsage;
use crate::model::{
    FileSummary, Finding, InputError, ObjectRef, PolicyInfo, PolicySummary, Report, SCHEMA_VERSION,
    Summary, Verdict, object_label,
};
#[cfg(feature = "exceptions")]
use crate::{Date, exceptions::Exceptions};
use aksid_manifests::{InputProblem, Manifest, ProblemKind, Severity};
use std::collections::BTreeMap;

/// Collects a run and turns it into a [`Report`].
///
/// Call [`add_file`](Self::add_file) for every input (even one without objects),
/// [`add_problem`](Self::add_problem) for its load problems, [`add_object`](Self::add_object)
/// for every object, then [`add_verdict`](Self::add_verdict) or
/// [`add_policy_failure`](Self::add_policy_failure) per evaluation, optionally
/// [`apply_exceptions`](Self::apply_exceptions), and [`build`](Self::build). Order of calls does
/// not matter: the report is sorted.
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    default_namespace: String,
    files: BTreeMap<String, FileSummary>,
    objects: BTreeMap<(String, usize, usize, String, String, String), bool>,
    results: Vec<Finding>,
    errors: Vec<InputError>,
    notices: Vec<InputError>,
    policies: BTreeMap<String, PolicyInfo>,
    exceptions: ExceptionsUsage,
}

impl Default for ReportBuilder {
    fn default() -> Self {
        ReportBuilder::new()
    }
}

impl ReportBuilder {
    /// An empty run; namespaced objects without a namespace are reported in `default`.
    pub fn new() -> ReportBuilder {
        ReportBuilder {
            default_namespace: "default".to_owned(),
            files: BTreeMap::new(),
            objects: BTreeMap::new(),
            results: Vec::new(),
            errors: Vec::new(),
            notices: Vec::new(),
            policies: BTreeMap::new(),
            exceptions: ExceptionsUsage::default(),
        }
    }

    /// The namespace reported for namespaced objects that name none: pass the same value as
    /// `RequestOptions::namespace` (default `default`).
    pub fn default_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.default_namespace = namespace.into();
        self
    }

    /// Registers a policy of the run (its descriptions feed SARIF rules and the summary).
    pub fn add_policy(&mut self, policy: PolicyInfo) {
        self.policies.insert(policy.id.clone(), policy);
    }

    /// Registers an input file.
    pub fn add_file(&mut self, file: &str) {
        self.files
            .entry(file.to_owned())
            .or_insert_with(|| FileSummary {
                file: file.to_owned(),
                objects: 0,
                not_selected: 0,
            });
    }

    /// Records a load problem: errors go to `errors`, notices to `notices`.
    pub fn add_problem(&mut self, problem: &InputProblem) {
        self.add_file(&problem.file);
        let entry = InputError::from_problem(problem);
        match problem.severity {
            Severity::Error => self.errors.push(entry),
            Severity::Notice => self.notices.push(entry),
        }
    }

    /// Records any other error (a policy that could not be loaded, a directory without
    /// manifests, an unreadable file).
    pub fn add_error(&mut self, error: InputError) {
        self.errors.push(error);
    }

    /// Records a notice.
    pub fn add_notice(&mut self, notice: InputError) {
        self.notices.push(notice);
    }

    fn namespace_of(&self, manifest: &Manifest) -> Option<String> {
        match manifest.namespace() {
            Some(ns) => manifest.resource().namespaced.then(|| ns.to_owned()),
            None => manifest
                .resource()
                .namespaced
                .then(|| self.default_namespace.clone()),
        }
    }

    fn object_key(manifest: &Manifest) -> (String, usize, usize, String, String, String) {
        (
            manifest.source.to_string(),
            manifest.line,
            manifest.document,
            manifest.kind().to_owned(),
            manifest.namespace().unwrap_or_default().to_owned(),
            manifest.name().unwrap_or_default().to_owned(),
        )
    }

    /// Records an object read from an input (whether or not any policy selects it).
    pub fn add_object(&mut self, manifest: &Manifest) {
        self.add_file(&manifest.source);
        self.objects
            .entry(Self::object_key(manifest))
            .or_insert(false);
    }

    /// Records what `policy` said about `manifest`.
    pub fn add_verdict(&mut self, manifest: &Manifest, policy: &str, verdict: Verdict) {
        self.add_object(manifest);
        self.objects.insert(Self::object_key(manifest), true);
        self.results.push(Finding {
            file: manifest.source.to_string(),
            line: manifest.line,
            document: manifest.document,
            api_version: manifest.api_version().to_owned(),
            kind: manifest.kind().to_owned(),
            namespace: self.namespace_of(manifest),
            name: manifest.name().map(str::to_owned),
            policy: policy.to_owned(),
            allowed: verdict.allowed,
            message: verdict.message,
            warnings: verdict.warnings,
            exception: None,
            enforced: !is_unenforced_namespace(self.namespace_of(manifest).as_deref()),
            third_party: false,
        });
    }

    /// Records that `policy` could not evaluate `manifest` (timeout, trap, invalid response):
    /// an error with `policy` set. `message` says what happened ("timed out after 2s").
    pub fn add_policy_failure(&mut self, manifest: &Manifest, policy: &str, message: &str) {
        self.add_object(manifest);
        self.objects.insert(Self::object_key(manifest), true);
        let object = ObjectRef {
            api_version: manifest.api_version().to_owned(),
            kind: manifest.kind().to_owned(),
            namespace: self.namespace_of(manifest),
            name: manifest.name().map(str::to_owned),
        };
        let label = object_label(
            &object.kind,
            object.namespace.as_deref(),
            object.name.as_deref(),
        );
        self.errors.push(InputError {
            file: manifest.source.to_string(),
            document: Some(manifest.document),
            line: manifest.line,
            field: None,
            kind: ProblemKind::PolicyFailed,
            message: format!("policy {policy} failed on {label}: {message}"),
            policy: Some(policy.to_owned()),
            object: Some(object),
        });
    }

    /// Applies `exceptions` to the rejections recorded so far, matching `file` globs against
    /// each finding's file made relative to the exceptions' base
    /// ([`Exceptions::relative_path`]). Call once, after the last verdict.
    #[cfg(feature = "exceptions")]
    pub fn apply_exceptions(&mut self, exceptions: &Exceptions, today: Date) {
        self.apply_exceptions_with(exceptions, today, &|file| exceptions.relative_path(file));
    }

    /// Like [`apply_exceptions`](Self::apply_exceptions), with the caller mapping a finding's
    /// file to the path relative to the `.aksid.yaml` directory (`None`: outside it, so no
    /// `file` glob matches).
    #[cfg(feature = "exceptions")]
    pub fn apply_exceptions_with(
        &mut self,
        exceptions: &Exceptions,
        today: Date,
        relative_path: &dyn Fn(&str) -> Option<String>,
    ) {
        self.apply_exceptions_in_scope(exceptions, today, relative_path, &|_| true);
    }

    /// Like [`apply_exceptions_with`](Self::apply_exceptions_with), to the findings of the
    /// files `in_scope` accepts only (a subdirectory's `.aksid.yaml` speaks for its files).
    #[cfg(feature = "exceptions")]
    pub fn apply_exceptions_in_scope(
        &mut self,
        exceptions: &Exceptions,
        today: Date,
        relative_path: &dyn Fn(&str) -> Option<String>,
        in_scope: &dyn Fn(&str) -> bool,
    ) {
        let known: std::collections::BTreeSet<&str> =
            self.policies.keys().map(String::as_str).collect();
        for warning in exceptions.unknown_policies(&known) {
            self.notices.push(warning);
        }
        let usage = exceptions.apply_in_scope(&mut self.results, today, relative_path, in_scope);
        self.exceptions.used.extend(usage.used);
        self.exceptions.expired.extend(usage.expired);
    }

    /// The sorted, summarised report.
    pub fn build(self) -> Report {
        let ReportBuilder {
            mut files,
            objects,
            mut results,
            mut errors,
            mut notices,
            policies,
            mut exceptions,
            ..
        } = self;
        for ((file, ..), selected) in &objects {
            let f = files.entry(file.clone()).or_insert_with(|| FileSummary {
                file: file.clone(),
                objects: 0,
                not_selected: 0,
            });
            f.objects += 1;
            if !selected {
                f.not_selected += 1;
            }
        }
        sort(&mut results, &mut errors, &mut notices);
        for r in &mut results {
            r.third_party = policies
                .get(&r.policy)
                .is_some_and(PolicyInfo::is_third_party);
        }
        let summary = summarise(
            &results,
            &errors,
            &notices,
            &policies,
            files.len(),
            objects.len(),
        );
        let mut policies: Vec<PolicyInfo> = policies.into_values().collect();
        for p in &summary.policies {
            if !policies.iter().any(|i| i.id == p.id) {
                policies.push(PolicyInfo::new(p.id.clone()));
            }
        }
        policies.sort_by(|a, b| a.id.cmp(&b.id));
        exceptions.used.sort_by_key(|u| u.id);
        exceptions.expired.sort_by_key(|u| u.id);
        Report {
            version: SCHEMA_VERSION,
            results,
            errors,
            notices,
            exceptions,
            files: files.into_values().collect(),
            summary,
            policies,
        }
    }
}

/// The report's stable order: results by file, line, document and policy; errors and notices
/// by place (duplicate notices dropped).
fn sort(results: &mut [Finding], errors: &mut [InputError], notices: &mut Vec<InputError>) {
    fn key(f: &Finding) -> impl Ord + '_ {
        let Finding {
            file,
            line,
            document,
            policy,
            kind,
            namespace,
            name,
            ..
        } = f;
        (file, line, document, policy, kind, namespace, name)
    }
    results.sort_by(|a, b| key(a).cmp(&key(b)));
    let error_key = |e: &InputError| {
        (
            e.file.clone(),
            e.line,
            e.document,
            e.policy.clone(),
            e.kind.as_str(),
            e.message.clone(),
        )
    };
    errors.sort_by_key(error_key);
    notices.sort_by_key(error_key);
    notices.dedup();
}

fn summarise(
    results: &[Finding],
    errors: &[InputError],
    notices: &[InputError],
    policies: &BTreeMap<String, PolicyInfo>,
    files: usize,
    objects: usize,
) -> Summary {
    let mut per_policy: BTreeMap<String, PolicySummary> = policies
        .keys()
        .map(|id| (id.clone(), policy_summary(id)))
        .collect();
    for r in results {
        let p = per_policy
            .entry(r.policy.clone())
            .or_insert_with(|| policy_summary(&r.policy));
        p.evaluations += 1;
        p.rejected += usize::from(!r.allowed);
        p.excepted += usize::from(r.is_excepted());
    }
    for policy in errors.iter().filter_map(|e| e.policy.as_ref()) {
        per_policy
            .entry(policy.clone())
            .or_insert_with(|| policy_summary(policy))
            .errors += 1;
    }
    Summary {
        files,
        objects,
        evaluations: results.len(),
        rejected: results.iter().filter(|r| !r.allowed).count(),
        accepted: results.iter().filter(|r| r.allowed).count(),
        errors: errors.len(),
        excepted: results.iter().filter(|r| r.is_excepted()).count(),
        warnings: results.iter().map(|r| r.warnings.len()).sum(),
        notices: notices.len(),
        policies: per_policy.into_values().collect(),
    }
}

fn policy_summary(id: &str) -> PolicySummary {
    PolicySummary {
        id: id.to_owned(),
        evaluations: 0,
        rejected: 0,
        excepted: 0,
        errors: 0,
    }
}

/// AKS keeps admission webhooks, Kubewarden's included, away from `kube-system` (its admissions
/// enforcer adds a namespace selector to every webhook), so nothing there is enforced.
pub(crate) fn is_unenforced_namespace(namespace: Option<&str>) -> bool {
    namespace == Some("kube-system")
}
