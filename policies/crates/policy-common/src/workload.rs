//! Finding the pod template in every workload kind, and walking its containers.
//!
//! | kind                                                   | pod metadata / spec at            |
//! |--------------------------------------------------------|-----------------------------------|
//! | Pod                                                    | `metadata` / `spec`               |
//! | Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController | `spec.template.metadata` / `spec.template.spec` |
//! | CronJob                                                | `spec.jobTemplate.spec.template.…` |
//!
//! Rules only ever see a [`PodTemplate`], so a check written once covers every kind.

use crate::json;
use serde_json::Value;

/// The kinds that carry a pod template.
pub const WORKLOAD_KINDS: [&str; 8] = [
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// The three container lists of a pod spec, in the order they are reported.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The pod template of a workload object: its metadata and spec, and where they live.
#[derive(Debug, Clone, Copy)]
pub struct PodTemplate<'a> {
    /// Field path prefix of the template (`""` for a Pod, `spec.template.` for a Deployment).
    pub base: &'static str,
    /// The template's metadata, if present.
    pub metadata: Option<&'a Value>,
    /// The template's pod spec, if present.
    pub spec: Option<&'a Value>,
}

/// The pod template of `object` when `kind` is a workload kind, else `None`.
pub fn pod_template<'a>(kind: &str, object: &'a Value) -> Option<PodTemplate<'a>> {
    let (base, path): (&'static str, &[&str]) = match kind {
        "Pod" => ("", &[]),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => ("spec.template.", &["spec", "template"]),
        "CronJob" => (
            "spec.jobTemplate.spec.template.",
            &["spec", "jobTemplate", "spec", "template"],
        ),
        _ => return None,
    };
    let template = json::get(object, path);
    Some(PodTemplate {
        base,
        metadata: template.and_then(|t| t.get("metadata")),
        spec: template.and_then(|t| t.get("spec")),
    })
}

impl<'a> PodTemplate<'a> {
    /// The field path of `rest` inside the template: `field("metadata.labels")` is
    /// `spec.template.metadata.labels` for a Deployment and `metadata.labels` for a Pod.
    pub fn field(&self, rest: &str) -> String {
        format!("{}{}", self.base, rest)
    }

    /// The template's labels (string values only).
    pub fn labels(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        json::string_entries(self.metadata.and_then(|m| m.get("labels")))
    }

    /// The raw label map, for rules that report values of the wrong type.
    pub fn labels_value(&self) -> Option<&'a Value> {
        self.metadata.and_then(|m| m.get("labels"))
    }

    /// The value of label `key`, if present and a string.
    pub fn label(&self, key: &str) -> Option<&'a str> {
        self.labels().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The template's annotations (string values only).
    pub fn annotations(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        json::string_entries(self.metadata.and_then(|m| m.get("annotations")))
    }

    /// The ServiceAccount the pods run as: `serviceAccountName`, else the deprecated
    /// `serviceAccount`, else `default` (what the API server and the WI webhook do).
    pub fn service_account_name(&self) -> &'a str {
        let spec = self.spec.unwrap_or(&Value::Null);
        [
            json::str_at(spec, &["serviceAccountName"]),
            json::str_at(spec, &["serviceAccount"]),
        ]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .unwrap_or("default")
    }

    /// The pod volumes (objects only).
    pub fn volumes(&self) -> impl Iterator<Item = (usize, &'a Value)> {
        let volumes = self
            .spec
            .map(|s| json::array_at(s, &["volumes"]))
            .unwrap_or(&[]);
        volumes.iter().enumerate().filter(|(_, v)| v.is_object())
    }

    /// Every container of every list (containers, initContainers, ephemeralContainers).
    pub fn containers(&self) -> impl Iterator<Item = Container<'a>> {
        let spec = self.spec.unwrap_or(&Value::Null);
        let base = self.base;
        CONTAINER_LISTS.into_iter().flat_map(move |list| {
            json::array_at(spec, &[list])
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_object())
                .map(move |(index, value)| Container {
                    base,
                    list,
                    index,
                    value,
                })
        })
    }
}

/// One container of a pod template.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    base: &'static str,
    /// `containers`, `initContainers` or `ephemeralContainers`.
    pub list: &'static str,
    /// Position in its list.
    pub index: usize,
    /// The container object.
    pub value: &'a Value,
}

impl<'a> Container<'a> {
    /// The container's name, or `#<index>` when it has none.
    pub fn name(&self) -> String {
        match json::str_at(self.value, &["name"]) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => format!("#{}", self.index),
        }
    }

    /// The container's field path, e.g. `spec.template.spec.initContainers[migrate]`.
    pub fn path(&self) -> String {
        format!("{}spec.{}[{}]", self.base, self.list, self.name())
    }

    /// The container image, if set.
    pub fn image(&self) -> Option<&'a str> {
        json::str_at(self.value, &["image"])
    }

    /// The container's `env` entries (objects only), with their position.
    pub fn env(&self) -> impl Iterator<Item = (usize, &'a Value)> {
        json::array_at(self.value, &["env"])
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_object())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cronjob_template_and_all_container_lists() {
        let cronjob = json!({"spec": {"jobTemplate": {"spec": {"template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"serviceAccount": "legacy",
                     "containers": [{"name": "app"}, "junk"],
                     "initContainers": [{"name": "init"}],
                     "ephemeralContainers": [{}]}}}}}});
        let t = pod_template("CronJob", &cronjob).unwrap();
        assert_eq!(t.label("a"), Some("b"));
        assert_eq!(t.service_account_name(), "legacy");
        let paths: Vec<_> = t.containers().map(|c| c.path()).collect();
        assert_eq!(
            paths,
            [
                "spec.jobTemplate.spec.template.spec.containers[app]",
                "spec.jobTemplate.spec.template.spec.initContainers[init]",
                "spec.jobTemplate.spec.template.spec.ephemeralContainers[#0]",
            ]
        );
    }

    #[test]
    fn pod_defaults_to_the_default_service_account() {
        let pod = json!({"spec": {"serviceAccountName": ""}});
        let t = pod_template("Pod", &pod).unwrap();
        assert_eq!(t.service_account_name(), "default");
        assert_eq!(t.field("metadata.labels"), "metadata.labels");
        assert!(pod_template("Service", &pod).is_none());
        assert_eq!(
            pod_template("Deployment", &json!(42))
                .unwrap()
                .containers()
                .count(),
            0
        );
    }
}
