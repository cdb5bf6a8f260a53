//! Kubewarden host capabilities (`__host_call`), answered offline.
//!
//! - `kubewarden/tracing/log`: always succeeds with an empty answer; the payload becomes a
//!   [`LogRecord`](crate::LogRecord). (The SDK's logger is a `slog::Fuse` that panics when
//!   the drain fails, so refusing it would crash every logging policy.)
//! - `kubewarden/kubernetes/{get_resource, list_resources_by_namespace, list_resources_all}`:
//!   served from the evaluation's [`ObjectSet`], for the kinds the policy declared in
//!   `contextAwareResources` only, as Kubewarden gates them.
//! - `kubernetes/can_i`, `oci/*`, `net/*`, `crypto/*`: a "not available offline" error.
//! - anything else: an error naming the unknown binding or capability.
//!
//! An error never traps: the guest sees `__host_call` return 0 and reads the message with
//! `__host_error`, as with policy-server.

use crate::capture::{Capture, LogSource, parse_log};
use crate::objects::ObjectSet;
use crate::selector::{FieldSelector, LabelSelector};
use aksid_metadata::ContextAwareResource;
use serde::Deserialize;

/// A host call the host refused during an evaluation (a missing object is not a refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCallFailure {
    /// `namespace/operation`, e.g. `kubernetes/get_resource` (prefixed with the binding when
    /// it is not `kubewarden`).
    pub capability: String,
    /// The error text the guest received.
    pub message: String,
}

/// The answer to one host call.
pub(crate) enum Answer {
    /// Success, with the response bytes.
    Ok(Vec<u8>),
    /// A regular error the guest is expected to handle (an object that does not exist).
    NotFound(String),
    /// The host refused the call.
    Refused(HostCallFailure),
}

/// What a host call may read.
pub(crate) struct Context<'a> {
    pub objects: &'a ObjectSet,
    pub allowed: &'a [ContextAwareResource],
    pub capture: &'a mut Capture,
}

pub(crate) fn dispatch(
    context: Context<'_>,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Answer {
    let capability = if binding == "kubewarden" {
        format!("{namespace}/{operation}")
    } else {
        format!("{binding}/{namespace}/{operation}")
    };
    let refuse = |message: String| {
        Answer::Refused(HostCallFailure {
            capability: capability.clone(),
            message: bounded(message),
        })
    };
    if binding != "kubewarden" {
        return refuse(format!(
            "unknown waPC binding '{binding}' (capability '{capability}'): aksid answers host \
             calls of the 'kubewarden' binding only"
        ));
    }
    let result = match (namespace, operation) {
        ("tracing", "log") => {
            context
                .capture
                .log(payload.len(), || parse_log(payload, LogSource::Tracing));
            return Answer::Ok(Vec::new());
        }
        ("kubernetes", "get_resource") => get_resource(&context, payload),
        ("kubernetes", "list_resources_by_namespace") => list(&context, payload, true),
        ("kubernetes", "list_resources_all") => list(&context, payload, false),
        ("kubernetes", "can_i") | ("oci" | "net" | "crypto", _) => Err(Failure::Refused(format!(
            "the host capability '{capability}' is not available offline (aksid evaluates \
             policies without a cluster or network)"
        ))),
        ("kubernetes", _) => Err(Failure::Refused(format!(
            "unknown host capability '{capability}': aksid knows kubernetes/get_resource, \
             kubernetes/list_resources_by_namespace and kubernetes/list_resources_all"
        ))),
        _ => Err(Failure::Refused(format!(
            "unknown host capability '{capability}': aksid knows the kubewarden namespaces \
             tracing, kubernetes, oci, net and crypto"
        ))),
    };
    match result {
        Ok(bytes) => Answer::Ok(bytes),
        Err(Failure::NotFound(message)) => Answer::NotFound(message),
        Err(Failure::Refused(message)) => refuse(message),
    }
}

/// Longest refusal message kept: a refusal may quote what the guest sent (a selector, a
/// name), and a guest may be refused many times in one evaluation.
const MAX_MESSAGE: usize = 4 << 10;

fn bounded(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("… (truncated)");
    }
    message
}

enum Failure {
    NotFound(String),
    Refused(String),
}

/// `GetResourceRequest` of the SDK (snake_case; `disable_cache`, `field_masks` and unknown
/// keys are accepted and ignored).
#[derive(Deserialize)]
struct GetResource {
    api_version: String,
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

/// `ListResourcesByNamespaceRequest` and `ListAllResourcesRequest` of the SDK.
#[derive(Deserialize)]
struct ListResources {
    api_version: String,
    kind: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    label_selector: Option<String>,
    #[serde(default)]
    field_selector: Option<String>,
}

fn parse<'de, T: Deserialize<'de>>(payload: &'de [u8]) -> Result<T, Failure> {
    serde_json::from_slice(payload).map_err(|e| Failure::Refused(format!("invalid request: {e}")))
}

fn check_granted(context: &Context<'_>, api_version: &str, kind: &str) -> Result<(), Failure> {
    let granted = context
        .allowed
        .iter()
        .any(|r| r.api_version == api_version && r.kind == kind);
    if granted {
        Ok(())
    } else {
        Err(Failure::Refused(format!(
            "Policy has not been granted access to Kubernetes {api_version}/{kind} resources: \
             declare it in contextAwareResources (apiVersion: {api_version}, kind: {kind})"
        )))
    }
}

fn get_resource(context: &Context<'_>, payload: &[u8]) -> Result<Vec<u8>, Failure> {
    let request: GetResource = parse(payload)?;
    check_granted(context, &request.api_version, &request.kind)?;
    let namespace = request.namespace.as_deref().filter(|ns| !ns.is_empty());
    match context.objects.get(
        &request.api_version,
        &request.kind,
        namespace,
        &request.name,
    ) {
        Some(object) => Ok(object.as_bytes().to_vec()),
        None => Err(Failure::NotFound(match namespace {
            Some(ns) => format!(
                "{} \"{}\" not found in namespace \"{ns}\"",
                request.kind, request.name
            ),
            None => format!("{} \"{}\" not found", request.kind, request.name),
        })),
    }
}

fn list(context: &Context<'_>, payload: &[u8], by_namespace: bool) -> Result<Vec<u8>, Failure> {
    let request: ListResources = parse(payload)?;
    check_granted(context, &request.api_version, &request.kind)?;
    let namespace =
        if by_namespace {
            Some(request.namespace.as_deref().ok_or_else(|| {
                Failure::Refused("invalid request: missing field `namespace`".into())
            })?)
        } else {
            None
        };
    let labels = LabelSelector::parse(request.label_selector.as_deref().unwrap_or_default())
        .map_err(Failure::Refused)?;
    let fields = FieldSelector::parse(request.field_selector.as_deref().unwrap_or_default())
        .map_err(Failure::Refused)?;
    let items = context
        .objects
        .list(&request.api_version, &request.kind, namespace)
        .filter(|o| labels.matches(o.labels) && fields.matches(o.namespace, o.name))
        .map(|o| o.json);
    Ok(list_json(&request.api_version, &request.kind, items))
}

/// A `<Kind>List` of the objects' stored text, which is spliced in, not parsed again. The SDK
/// deserialises this into k8s-openapi's `List<T>`, which checks apiVersion and kind.
fn list_json<'a>(api_version: &str, kind: &str, items: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let head = serde_json::json!({
        "apiVersion": api_version,
        "kind": format!("{kind}List"),
        "metadata": {},
    })
    .to_string();
    let mut list = head.into_bytes();
    list.pop(); // the closing brace: the items follow
    list.extend_from_slice(br#","items":["#);
    for (i, item) in items.enumerate() {
        if i > 0 {
            list.push(b',');
        }
        list.extend_from_slice(item.as_bytes());
    }
    list.extend_from_slice(b"]}");
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn objects() -> ObjectSet {
        ObjectSet::from_objects([
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web"}}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "ns"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "other", "labels": {"app": "web"}}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}}),
        ])
        .unwrap()
    }

    fn call(namespace: &str, operation: &str, payload: Value) -> Answer {
        let allowed = [ContextAwareResource {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
        }];
        let mut capture = Capture::new(1 << 10);
        let context = Context {
            objects: &objects(),
            allowed: &allowed,
            capture: &mut capture,
        };
        dispatch(
            context,
            "kubewarden",
            namespace,
            operation,
            &serde_json::to_vec(&payload).unwrap(),
        )
    }

    fn ok(answer: Answer) -> Value {
        match answer {
            Answer::Ok(bytes) => serde_json::from_slice(&bytes).unwrap(),
            Answer::NotFound(m) => panic!("not found: {m}"),
            Answer::Refused(f) => panic!("refused: {f:?}"),
        }
    }

    fn refused(answer: Answer) -> HostCallFailure {
        match answer {
            Answer::Refused(f) => f,
            _ => panic!("expected a refusal"),
        }
    }

    #[test]
    fn get_resource_finds_declared_kinds() {
        let object = ok(call(
            "kubernetes",
            "get_resource",
            json!({"api_version": "v1", "kind": "ConfigMap", "name": "a", "namespace": "ns",
                   "disable_cache": false, "field_masks": null, "extra": 1}),
        ));
        assert_eq!(object["metadata"]["name"], "a");
        match call(
            "kubernetes",
            "get_resource",
            json!({"api_version": "v1", "kind": "ConfigMap", "name": "zz", "namespace": "ns"}),
        ) {
            Answer::NotFound(m) => assert_eq!(m, r#"ConfigMap "zz" not found in namespace "ns""#),
            _ => panic!("expected not found"),
        }
    }

    #[test]
    fn undeclared_kinds_are_refused_like_kubewarden() {
        let failure = refused(call(
            "kubernetes",
            "get_resource",
            json!({"api_version": "v1", "kind": "Secret", "name": "s", "namespace": "ns"}),
        ));
        assert_eq!(failure.capability, "kubernetes/get_resource");
        assert!(
            failure.message.starts_with(
                "Policy has not been granted access to Kubernetes v1/Secret resources"
            ),
            "{}",
            failure.message
        );
        let failure = refused(call(
            "kubernetes",
            "list_resources_all",
            json!({"api_version": "v1", "kind": "Secret"}),
        ));
        assert!(failure.message.contains("contextAwareResources"));
    }

    #[test]
    fn lists_honour_namespace_and_selectors() {
        let names = |list: Value| {
            assert_eq!(list["kind"], "ConfigMapList");
            assert_eq!(list["apiVersion"], "v1");
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let all = json!({"api_version": "v1", "kind": "ConfigMap", "label_selector": "app=web", "field_selector": null});
        assert_eq!(
            names(ok(call("kubernetes", "list_resources_all", all))),
            ["a", "c"]
        );
        let by_ns = json!({"api_version": "v1", "kind": "ConfigMap", "namespace": "ns", "label_selector": null, "field_selector": "metadata.name!=a"});
        assert_eq!(
            names(ok(call("kubernetes", "list_resources_by_namespace", by_ns))),
            ["b"]
        );
        let bad = json!({"api_version": "v1", "kind": "ConfigMap", "label_selector": "app in (", "field_selector": null});
        assert!(
            refused(call("kubernetes", "list_resources_all", bad))
                .message
                .contains("invalid label selector")
        );
    }

    #[test]
    fn network_capabilities_are_unavailable_offline() {
        for (ns, op) in [
            ("kubernetes", "can_i"),
            ("oci", "v1/verify"),
            ("net", "v1/dns_lookup_host"),
            ("crypto", "v1/is_certificate_trusted"),
        ] {
            let failure = refused(call(ns, op, json!({})));
            assert_eq!(
                failure.message,
                format!(
                    "the host capability '{ns}/{op}' is not available offline (aksid evaluates policies without a cluster or network)"
                )
            );
        }
        assert!(
            refused(call("nonsense", "op", json!({})))
                .message
                .contains("'nonsense/op'")
        );
    }

    #[test]
    fn tracing_log_always_succeeds() {
        match call("tracing", "log", json!("not an object")) {
            Answer::Ok(bytes) => assert!(bytes.is_empty()),
            _ => panic!("tracing/log must succeed"),
        }
    }
}
