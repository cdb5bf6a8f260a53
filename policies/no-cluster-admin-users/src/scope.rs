//! Where a binding grants its role: the whole cluster, `kube-system`, or another namespace. The
//! scope decides which grants matter (a RoleBinding cannot grant cluster-scoped resources) and
//! how messages say where.

/// The namespace whose Secrets and service accounts belong to the system components.
const KUBE_SYSTEM: &str = "kube-system";

/// Where the role applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// A ClusterRoleBinding: the whole cluster.
    Cluster,
    /// A RoleBinding in this namespace (empty when unknown).
    Namespace(&'a str),
}

impl Scope<'_> {
    /// True for a ClusterRoleBinding.
    pub(crate) fn is_cluster(self) -> bool {
        self == Scope::Cluster
    }

    /// True for a ClusterRoleBinding or a RoleBinding in `kube-system`: where reading Secrets
    /// or acting as service accounts reaches the system components' own credentials.
    pub(crate) fn reaches_kube_system(self) -> bool {
        matches!(self, Scope::Cluster | Scope::Namespace(KUBE_SYSTEM))
    }

    /// "cluster-wide" / "in namespace dev".
    pub(crate) fn where_(self) -> String {
        match self {
            Scope::Cluster => "cluster-wide".to_owned(),
            Scope::Namespace("") => "in its namespace".to_owned(),
            Scope::Namespace(ns) => format!("in namespace {ns}"),
        }
    }

    /// "the cluster" / "namespace dev".
    pub(crate) fn what(self) -> String {
        match self {
            Scope::Cluster => "the cluster".to_owned(),
            Scope::Namespace("") => "its namespace".to_owned(),
            Scope::Namespace(ns) => format!("namespace {ns}"),
        }
    }
}
