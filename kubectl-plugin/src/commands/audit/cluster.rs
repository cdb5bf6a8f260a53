//! The cluster, reached only through the user's own `kubectl` (`$KUBECTL`, else `kubectl` on the
//! PATH): one `kubectl proxy` per run ([`proxy`]) answers API discovery and paged lists, so
//! kubeconfig, contexts, exec credential plugins (kubelogin), proxies and CA bundles behave
//! exactly as in the user's shell, and aksid holds no credential of its own.

mod proxy;

use crate::cli::ClusterArgs;
use anyhow::{Result, anyhow};
use proxy::Proxy;
use serde_json::Value;
use std::ffi::OsString;
use std::path::PathBuf;

/// A resource the API server serves, as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResource {
    /// API group (`""` for the core group).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural resource name.
    pub resource: String,
    /// Kind.
    pub kind: String,
    /// True for namespaced resources.
    pub namespaced: bool,
    /// Whether `list` is among its verbs.
    pub listable: bool,
}

impl ApiResource {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `resource.group` (`pods` for the core group), as RBAC and kubectl name it.
    pub fn label(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    /// The list path, in one namespace or across all.
    fn path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.resource),
            None => format!("{base}/{}", self.resource),
        }
    }
}

/// Why a resource could not be listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    /// RBAC refused it; the server's message.
    Forbidden(String),
    /// Otherwise failed (kubectl did not start, could not reach the API server or get a
    /// credential, or the server answered an error); the message.
    Failed(String),
}

/// The user's kubectl with the context and kubeconfig flags given, serving through its proxy.
pub struct Kubectl {
    proxy: Proxy,
    chunk_size: u32,
}

impl Kubectl {
    /// Starts kubectl as the flags (and `$KUBECTL`, read by clap) say, and fails with kubectl's
    /// own words when the cluster cannot be reached at all. What kubectl says on standard error
    /// while it serves (a credential plugin's sign-in prompt) is printed as `kubectl: …` lines,
    /// above `progress`.
    pub fn connect(args: &ClusterArgs, progress: &indicatif::ProgressBar) -> Result<Kubectl> {
        let program = args
            .kubectl
            .clone()
            .unwrap_or_else(|| PathBuf::from("kubectl"));
        let mut flags: Vec<OsString> = Vec::new();
        if let Some(kubeconfig) = &args.kubeconfig {
            flags.extend(["--kubeconfig".into(), kubeconfig.into()]);
        }
        if let Some(context) = &args.context {
            flags.extend(["--context".into(), context.into()]);
        }
        let connected = Proxy::start(&program, &flags, {
            let progress = progress.clone();
            Box::new(move |line| progress.suspend(|| eprintln!("kubectl: {line}")))
        })
        .and_then(|proxy| {
            let kubectl = Kubectl {
                proxy,
                chunk_size: args.chunk_size,
            };
            match kubectl.get_raw("/version") {
                Ok(_) | Err(ListError::Forbidden(_)) => Ok(kubectl),
                Err(ListError::Failed(m)) => Err(m),
            }
        });
        connected.map_err(|m| {
            anyhow!(
                "cannot reach the cluster through kubectl: {m}\n\nCheck that `kubectl get --raw \
                 /version` works with the same --context and --kubeconfig."
            )
        })
    }

    /// `GET PATH` of the API server, parsed as JSON.
    fn get_raw(&self, path: &str) -> Result<Value, ListError> {
        self.proxy.get(path)
    }

    /// Every listable resource of the cluster (the preferred version of each group, plus every
    /// version the `wanted` group/version pairs name).
    pub fn discover(&self, wanted: &[(String, String)]) -> Result<Vec<ApiResource>> {
        let [core, groups] = self
            .get_all(&["/api".to_owned(), "/apis".to_owned()])
            .try_into()
            .expect("two answers");
        let (core, groups) = (
            core.map_err(discovery_error)?,
            groups.map_err(discovery_error)?,
        );
        let mut versions: Vec<(String, String)> = core["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|v| (String::new(), v.to_owned()))
            .collect();
        for group in groups["groups"].as_array().into_iter().flatten() {
            let name = group["name"].as_str().unwrap_or_default();
            let preferred = group["preferredVersion"]["version"].as_str();
            for version in group["versions"].as_array().into_iter().flatten() {
                let v = version["version"].as_str().unwrap_or_default();
                let named = wanted.iter().any(|(g, wv)| g == name && wv == v);
                if Some(v) == preferred || named {
                    versions.push((name.to_owned(), v.to_owned()));
                }
            }
        }
        let paths: Vec<String> = versions
            .iter()
            .map(|(group, version)| match group.as_str() {
                "" => format!("/api/{version}"),
                group => format!("/apis/{group}/{version}"),
            })
            .collect();
        let lists = self.get_all(&paths);
        Ok(versions
            .iter()
            .zip(lists)
            // A group whose discovery fails (an aggregated API that is down) only loses itself.
            .filter_map(|((group, version), list)| {
                Some(parse_resource_list(group, version, &list.ok()?))
            })
            .flatten()
            .collect())
    }

    /// `GET` of each path, answers in the order of `paths`; up to [`PARALLEL_GETS`] at once
    /// (each a round trip to the API server).
    fn get_all(&self, paths: &[String]) -> Vec<Result<Value, ListError>> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let answers: Vec<_> = paths.iter().map(|_| std::sync::OnceLock::new()).collect();
        std::thread::scope(|scope| {
            for _ in 0..paths.len().min(PARALLEL_GETS) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break };
                        let _ = answers[i].set(self.get_raw(path));
                    }
                });
            }
        });
        answers
            .into_iter()
            .map(|answer| answer.into_inner().expect("every path was fetched"))
            .collect()
    }

    /// Lists `resource` page by page (`limit` = `--chunk-size`, then `continue`), returning its
    /// items with `apiVersion` and `kind` set, as a single get would show them.
    pub fn list(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
        mut on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, ListError> {
        let mut items = Vec::new();
        let mut token = String::new();
        loop {
            let mut path = format!("{}?limit={}", resource.path(namespace), self.chunk_size);
            if !token.is_empty() {
                path.push_str("&continue=");
                path.push_str(&percent_encode(&token));
            }
            let mut page = self.get_raw(&path)?;
            let Some(Value::Array(page_items)) = page.get_mut("items").map(Value::take) else {
                return Err(ListError::Failed(format!(
                    "{} of {}: the answer has no items list",
                    path,
                    resource.label()
                )));
            };
            for mut item in page_items {
                if let Some(object) = item.as_object_mut() {
                    object.insert("apiVersion".into(), resource.api_version().into());
                    object.insert("kind".into(), resource.kind.clone().into());
                    items.push(item);
                }
            }
            on_page(items.len());
            token = page["metadata"]["continue"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if token.is_empty() {
                return Ok(items);
            }
        }
    }
}

/// How many discovery requests run at once: enough for a cluster's API groups to take a few
/// round trips, few enough not to swamp the API server.
const PARALLEL_GETS: usize = 8;

fn discovery_error(e: ListError) -> anyhow::Error {
    match e {
        ListError::Forbidden(m) | ListError::Failed(m) => {
            anyhow!("API discovery through kubectl failed: {m}")
        }
    }
}

/// The resources of one `APIResourceList`, without subresources.
fn parse_resource_list(group: &str, version: &str, list: &Value) -> Vec<ApiResource> {
    list["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let resource = r["name"].as_str()?;
            if resource.contains('/') {
                return None;
            }
            let verbs = r["verbs"].as_array();
            Some(ApiResource {
                group: group.to_owned(),
                version: version.to_owned(),
                resource: resource.to_owned(),
                kind: r["kind"].as_str()?.to_owned(),
                namespaced: r["namespaced"].as_bool().unwrap_or(false),
                listable: verbs.is_some_and(|v| v.iter().any(|v| v == "list")),
            })
        })
        .collect()
}

/// Percent-encodes a `continue` token for a query string (tokens are base64, which has `+`,
/// `/` and `=`).
fn percent_encode(token: &str) -> String {
    token
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::core_namespaced("", "pods", true, Some("shop"), "/api/v1/namespaces/shop/pods")]
    #[case::core_all_namespaces("", "pods", true, None, "/api/v1/pods")]
    #[case::cluster_scoped_ignores_namespace(
        "rbac.authorization.k8s.io",
        "clusterroles",
        false,
        Some("shop"),
        "/apis/rbac.authorization.k8s.io/v1/clusterroles"
    )]
    fn list_paths(
        #[case] group: &str,
        #[case] resource: &str,
        #[case] namespaced: bool,
        #[case] namespace: Option<&str>,
        #[case] expected: &str,
    ) {
        let r = ApiResource {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: "K".into(),
            namespaced,
            listable: true,
        };
        assert_eq!(r.path(namespace), expected);
    }

    #[test]
    fn subresources_are_not_listed() {
        let list = json!({"resources": [
            {"name": "pods", "kind": "Pod", "namespaced": true, "verbs": ["get", "list"]},
            {"name": "pods/log", "kind": "Pod", "namespaced": true, "verbs": ["get"]},
        ]});
        let resources = parse_resource_list("", "v1", &list);
        assert_eq!(resources.len(), 1);
        assert!(resources[0].listable && resources[0].namespaced);
    }

    #[test]
    fn continue_tokens_are_encoded() {
        assert_eq!(percent_encode("eyJ+/="), "eyJ%2B%2F%3D");
    }
}
