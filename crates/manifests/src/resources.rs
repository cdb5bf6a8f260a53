//! Kind → resource: the plural name and scope the API server would use for an object, from a
//! table of built-in kinds and the CRDs aksid knows, so admission rules (which name plural
//! resources) select objects offline exactly as they would in a cluster.

/// The resource an object of some `apiVersion`/`kind` is stored as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceInfo {
    /// API group; `""` for the core group.
    pub group: String,
    /// API version (`v1`, `v1beta1`, `v1api20231001`).
    pub version: String,
    /// Plural resource name, as admission rules name it (`deployments`).
    pub plural: String,
    /// True when objects of this kind live in a namespace.
    pub namespaced: bool,
    /// True when the kind (or its API group) is in aksid's table; false when the plural and
    /// scope are guessed (English plural of the lowercased kind, namespaced).
    pub known: bool,
}

/// `(group, kind, plural, namespaced)` for built-in kinds and the CRDs aksid knows. Plurals are
/// listed even when regular, so the table is the single reference for review.
#[rustfmt::skip]
const TABLE: &[(&str, &str, &str, bool)] = &[
    // core
    ("", "Binding", "bindings", true),
    ("", "ComponentStatus", "componentstatuses", false),
    ("", "ConfigMap", "configmaps", true),
    ("", "Endpoints", "endpoints", true),
    ("", "Event", "events", true),
    ("", "LimitRange", "limitranges", true),
    ("", "Namespace", "namespaces", false),
    ("", "Node", "nodes", false),
    ("", "PersistentVolume", "persistentvolumes", false),
    ("", "PersistentVolumeClaim", "persistentvolumeclaims", true),
    ("", "Pod", "pods", true),
    ("", "PodTemplate", "podtemplates", true),
    ("", "ReplicationController", "replicationcontrollers", true),
    ("", "ResourceQuota", "resourcequotas", true),
    ("", "Secret", "secrets", true),
    ("", "Service", "services", true),
    ("", "ServiceAccount", "serviceaccounts", true),
    // A kubeconfig file (`apiVersion: v1`, `kind: Config`) is not an API object; aksid gives it a
    // cluster-scoped resource `configs` so a policy (no-local-accounts) can select it by rule.
    ("", "Config", "configs", false),
    // apps, batch, autoscaling, policy
    ("apps", "ControllerRevision", "controllerrevisions", true),
    ("apps", "DaemonSet", "daemonsets", true),
    ("apps", "Deployment", "deployments", true),
    ("apps", "ReplicaSet", "replicasets", true),
    ("apps", "StatefulSet", "statefulsets", true),
    ("batch", "CronJob", "cronjobs", true),
    ("batch", "Job", "jobs", true),
    ("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true),
    ("policy", "PodDisruptionBudget", "poddisruptionbudgets", true),
    ("policy", "PodSecurityPolicy", "podsecuritypolicies", false),
    ("policy", "Eviction", "evictions", true),
    ("extensions", "DaemonSet", "daemonsets", true),
    ("extensions", "Deployment", "deployments", true),
    ("extensions", "Ingress", "ingresses", true),
    ("extensions", "NetworkPolicy", "networkpolicies", true),
    ("extensions", "PodSecurityPolicy", "podsecuritypolicies", false),
    ("extensions", "ReplicaSet", "replicasets", true),
    // rbac
    ("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", false),
    ("rbac.authorization.k8s.io", "Role", "roles", true),
    ("rbac.authorization.k8s.io", "RoleBinding", "rolebindings", true),
    // networking
    ("networking.k8s.io", "Ingress", "ingresses", true),
    ("networking.k8s.io", "IngressClass", "ingressclasses", false),
    ("networking.k8s.io", "NetworkPolicy", "networkpolicies", true),
    ("networking.k8s.io", "IPAddress", "ipaddresses", false),
    ("networking.k8s.io", "ServiceCIDR", "servicecidrs", false),
    // storage
    ("storage.k8s.io", "CSIDriver", "csidrivers", false),
    ("storage.k8s.io", "CSINode", "csinodes", false),
    ("storage.k8s.io", "CSIStorageCapacity", "csistoragecapacities", true),
    ("storage.k8s.io", "StorageClass", "storageclasses", false),
    ("storage.k8s.io", "VolumeAttachment", "volumeattachments", false),
    ("storage.k8s.io", "VolumeAttributesClass", "volumeattributesclasses", false),
    ("snapshot.storage.k8s.io", "VolumeSnapshot", "volumesnapshots", true),
    ("snapshot.storage.k8s.io", "VolumeSnapshotClass", "volumesnapshotclasses", false),
    ("snapshot.storage.k8s.io", "VolumeSnapshotContent", "volumesnapshotcontents", false),
    // apiextensions, apiregistration, admissionregistration
    ("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", false),
    ("apiregistration.k8s.io", "APIService", "apiservices", false),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", false),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", false),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy", "mutatingadmissionpolicies", false),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding", "mutatingadmissionpolicybindings", false),
    // coordination, scheduling, certificates, discovery, node, events
    ("coordination.k8s.io", "Lease", "leases", true),
    ("coordination.k8s.io", "LeaseCandidate", "leasecandidates", true),
    ("scheduling.k8s.io", "PriorityClass", "priorityclasses", false),
    ("certificates.k8s.io", "CertificateSigningRequest", "certificatesigningrequests", false),
    ("certificates.k8s.io", "ClusterTrustBundle", "clustertrustbundles", false),
    ("discovery.k8s.io", "EndpointSlice", "endpointslices", true),
    ("node.k8s.io", "RuntimeClass", "runtimeclasses", false),
    ("events.k8s.io", "Event", "events", true),
    // flowcontrol
    ("flowcontrol.apiserver.k8s.io", "FlowSchema", "flowschemas", false),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", "prioritylevelconfigurations", false),
    // resource (dynamic resource allocation)
    ("resource.k8s.io", "DeviceClass", "deviceclasses", false),
    ("resource.k8s.io", "ResourceClaim", "resourceclaims", true),
    ("resource.k8s.io", "ResourceClaimTemplate", "resourceclaimtemplates", true),
    ("resource.k8s.io", "ResourceSlice", "resourceslices", false),
    ("resource.k8s.io", "DeviceTaintRule", "devicetaintrules", false),
    // authentication, authorization, storage migration
    ("authentication.k8s.io", "TokenReview", "tokenreviews", false),
    ("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", false),
    ("authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", false),
    ("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", false),
    ("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", false),
    ("authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews", true),
    ("storagemigration.k8s.io", "StorageVersionMigration", "storageversionmigrations", false),
    // Gateway API
    ("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses", false),
    ("gateway.networking.k8s.io", "Gateway", "gateways", true),
    ("gateway.networking.k8s.io", "HTTPRoute", "httproutes", true),
    ("gateway.networking.k8s.io", "GRPCRoute", "grpcroutes", true),
    ("gateway.networking.k8s.io", "TLSRoute", "tlsroutes", true),
    ("gateway.networking.k8s.io", "TCPRoute", "tcproutes", true),
    ("gateway.networking.k8s.io", "UDPRoute", "udproutes", true),
    ("gateway.networking.k8s.io", "ReferenceGrant", "referencegrants", true),
    ("gateway.networking.k8s.io", "BackendTLSPolicy", "backendtlspolicies", true),
    // Azure Service Operator v2: AKS (every ASO resource is namespaced; other ASO groups below)
    ("containerservice.azure.com", "ManagedCluster", "managedclusters", true),
    ("containerservice.azure.com", "ManagedClustersAgentPool", "managedclustersagentpools", true),
    ("containerservice.azure.com", "TrustedAccessRoleBinding", "trustedaccessrolebindings", true),
    ("containerservice.azure.com", "IdentityBinding", "identitybindings", true),
    ("containerservice.azure.com", "MaintenanceConfiguration", "maintenanceconfigurations", true),
    ("containerservice.azure.com", "Fleet", "fleets", true),
    ("containerservice.azure.com", "FleetsMember", "fleetsmembers", true),
    ("containerservice.azure.com", "FleetsUpdateRun", "fleetsupdateruns", true),
    ("containerservice.azure.com", "Snapshot", "snapshots", true),
    ("managedidentity.azure.com", "UserAssignedIdentity", "userassignedidentities", true),
    ("managedidentity.azure.com", "FederatedIdentityCredential", "federatedidentitycredentials", true),
    ("resources.azure.com", "ResourceGroup", "resourcegroups", true),
    ("authorization.azure.com", "RoleAssignment", "roleassignments", true),
    ("authorization.azure.com", "RoleDefinition", "roledefinitions", true),
    // Cluster API and its Azure provider (CAPZ); every CAPI resource is namespaced
    ("cluster.x-k8s.io", "Cluster", "clusters", true),
    ("cluster.x-k8s.io", "ClusterClass", "clusterclasses", true),
    ("cluster.x-k8s.io", "Machine", "machines", true),
    ("cluster.x-k8s.io", "MachineSet", "machinesets", true),
    ("cluster.x-k8s.io", "MachineDeployment", "machinedeployments", true),
    ("cluster.x-k8s.io", "MachinePool", "machinepools", true),
    ("cluster.x-k8s.io", "MachineHealthCheck", "machinehealthchecks", true),
    ("cluster.x-k8s.io", "MachineDrainRule", "machinedrainrules", true),
    ("infrastructure.cluster.x-k8s.io", "AzureManagedControlPlane", "azuremanagedcontrolplanes", true),
    ("infrastructure.cluster.x-k8s.io", "AzureManagedControlPlaneTemplate", "azuremanagedcontrolplanetemplates", true),
    ("infrastructure.cluster.x-k8s.io", "AzureASOManagedControlPlane", "azureasomanagedcontrolplanes", true),
    ("infrastructure.cluster.x-k8s.io", "AzureASOManagedControlPlaneTemplate", "azureasomanagedcontrolplanetemplates", true),
    ("infrastructure.cluster.x-k8s.io", "AzureASOManagedCluster", "azureasomanagedclusters", true),
    ("infrastructure.cluster.x-k8s.io", "AzureASOManagedClusterTemplate", "azureasomanagedclustertemplates", true),
    ("infrastructure.cluster.x-k8s.io", "AzureASOManagedMachinePool", "azureasomanagedmachinepools", true),
    ("infrastructure.cluster.x-k8s.io", "AzureASOManagedMachinePoolTemplate", "azureasomanagedmachinepooltemplates", true),
    ("infrastructure.cluster.x-k8s.io", "AzureManagedMachinePool", "azuremanagedmachinepools", true),
    ("infrastructure.cluster.x-k8s.io", "AzureManagedMachinePoolTemplate", "azuremanagedmachinepooltemplates", true),
    ("infrastructure.cluster.x-k8s.io", "AzureManagedCluster", "azuremanagedclusters", true),
    ("infrastructure.cluster.x-k8s.io", "AzureManagedClusterTemplate", "azuremanagedclustertemplates", true),
    ("infrastructure.cluster.x-k8s.io", "AzureCluster", "azureclusters", true),
    ("infrastructure.cluster.x-k8s.io", "AzureClusterTemplate", "azureclustertemplates", true),
    ("infrastructure.cluster.x-k8s.io", "AzureClusterIdentity", "azureclusteridentities", true),
    ("infrastructure.cluster.x-k8s.io", "AzureMachine", "azuremachines", true),
    ("infrastructure.cluster.x-k8s.io", "AzureMachineTemplate", "azuremachinetemplates", true),
    ("infrastructure.cluster.x-k8s.io", "AzureMachinePool", "azuremachinepools", true),
    ("infrastructure.cluster.x-k8s.io", "AzureMachinePoolMachine", "azuremachinepoolmachines", true),
    ("bootstrap.cluster.x-k8s.io", "KubeadmConfig", "kubeadmconfigs", true),
    ("bootstrap.cluster.x-k8s.io", "KubeadmConfigTemplate", "kubeadmconfigtemplates", true),
    ("controlplane.cluster.x-k8s.io", "KubeadmControlPlane", "kubeadmcontrolplanes", true),
    ("controlplane.cluster.x-k8s.io", "KubeadmControlPlaneTemplate", "kubeadmcontrolplanetemplates", true),
    ("addons.cluster.x-k8s.io", "ClusterResourceSet", "clusterresourcesets", true),
    ("addons.cluster.x-k8s.io", "ClusterResourceSetBinding", "clusterresourcesetbindings", true),
    // Crossplane Upbound Azure providers: cluster-scoped in `*.upbound.io`, namespaced in
    // `*.m.upbound.io` (Crossplane v2 namespaced managed resources)
    ("containerservice.azure.upbound.io", "KubernetesCluster", "kubernetesclusters", false),
    ("containerservice.azure.upbound.io", "KubernetesClusterNodePool", "kubernetesclusternodepools", false),
    ("containerservice.azure.upbound.io", "KubernetesFleetManager", "kubernetesfleetmanagers", false),
    ("containerservice.azure.m.upbound.io", "KubernetesCluster", "kubernetesclusters", true),
    ("containerservice.azure.m.upbound.io", "KubernetesClusterNodePool", "kubernetesclusternodepools", true),
    ("containerservice.azure.m.upbound.io", "KubernetesFleetManager", "kubernetesfleetmanagers", true),
    // aad-pod-identity (deprecated; aksid flags its use)
    ("aadpodidentity.k8s.io", "AzureIdentity", "azureidentities", true),
    ("aadpodidentity.k8s.io", "AzureIdentityBinding", "azureidentitybindings", true),
    ("aadpodidentity.k8s.io", "AzureAssignedIdentity", "azureassignedidentities", true),
    ("aadpodidentity.k8s.io", "AzurePodIdentityException", "azurepodidentityexceptions", true),
    // Secrets Store CSI driver
    ("secrets-store.csi.x-k8s.io", "SecretProviderClass", "secretproviderclasses", true),
    ("secrets-store.csi.x-k8s.io", "SecretProviderClassPodStatus", "secretproviderclasspodstatuses", true),
    // Kubewarden
    ("policies.kubewarden.io", "ClusterAdmissionPolicy", "clusteradmissionpolicies", false),
    ("policies.kubewarden.io", "AdmissionPolicy", "admissionpolicies", true),
    ("policies.kubewarden.io", "ClusterAdmissionPolicyGroup", "clusteradmissionpolicygroups", false),
    ("policies.kubewarden.io", "AdmissionPolicyGroup", "admissionpolicygroups", true),
    ("policies.kubewarden.io", "PolicyServer", "policyservers", false),
];

/// Scope of whole API groups whose kinds follow the regular plural: `(suffix, namespaced)`.
/// A group matches a suffix when it equals it or ends with `.suffix`; checked in order, so
/// `m.upbound.io` comes before `upbound.io`.
#[rustfmt::skip]
const GROUPS: &[(&str, bool)] = &[
    ("azure.com", true),    // Azure Service Operator v2: every resource is namespaced
    ("m.upbound.io", true), // Crossplane v2 namespaced managed resources
    ("upbound.io", false),  // Crossplane v1 managed resources are cluster-scoped
    ("cluster.x-k8s.io", true), // Cluster API and its providers
];

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (`""`, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The resource the API server would use for an object of `api_version`/`kind`.
///
/// ```
/// use aksid_manifests::resource_for;
/// let r = resource_for("containerservice.azure.com/v1api20231001", "ManagedCluster");
/// assert_eq!((r.group.as_str(), r.plural.as_str(), r.namespaced, r.known),
///            ("containerservice.azure.com", "managedclusters", true, true));
/// let guess = resource_for("example.com/v1", "NetworkPolicy");
/// assert_eq!((guess.plural.as_str(), guess.known), ("networkpolicies", false));
/// ```
pub fn resource_for(api_version: &str, kind: &str) -> ResourceInfo {
    let (group, version) = split_api_version(api_version);
    let info = |plural: String, namespaced: bool, known: bool| ResourceInfo {
        group: group.to_owned(),
        version: version.to_owned(),
        plural,
        namespaced,
        known,
    };
    if let Some(&(_, _, plural, namespaced)) =
        TABLE.iter().find(|(g, k, _, _)| *g == group && *k == kind)
    {
        return info(plural.to_owned(), namespaced, true);
    }
    if let Some(&(_, namespaced)) = GROUPS.iter().find(|(suffix, _)| {
        group
            .strip_suffix(suffix)
            .is_some_and(|head| head.is_empty() || head.ends_with('.'))
    }) {
        return info(pluralize(kind), namespaced, true);
    }
    info(pluralize(kind), true, false)
}

/// English plural of the lowercased kind, as CRD generators (kubebuilder) derive it:
/// `Policy` → `policies`, `Ingress` → `ingresses`, `Gateway` → `gateways`.
pub fn pluralize(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.is_empty() {
        return lower;
    }
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|s| lower.ends_with(s))
    {
        return format!("{lower}es");
    }
    if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
        && !stem.is_empty()
    {
        return format!("{stem}ies");
    }
    format!("{lower}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(api_version: &str, kind: &str) -> (String, String, String, bool, bool) {
        let i = resource_for(api_version, kind);
        (i.group, i.version, i.plural, i.namespaced, i.known)
    }

    fn t(g: &str, v: &str, p: &str, ns: bool, known: bool) -> (String, String, String, bool, bool) {
        (g.into(), v.into(), p.into(), ns, known)
    }

    #[test]
    fn built_in_kinds() {
        assert_eq!(r("v1", "Pod"), t("", "v1", "pods", true, true));
        assert_eq!(r("v1", "Namespace"), t("", "v1", "namespaces", false, true));
        assert_eq!(r("v1", "Endpoints"), t("", "v1", "endpoints", true, true));
        assert_eq!(
            r("apps/v1", "Deployment"),
            t("apps", "v1", "deployments", true, true)
        );
        assert_eq!(
            r("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            t(
                "rbac.authorization.k8s.io",
                "v1",
                "clusterrolebindings",
                false,
                true
            )
        );
        assert_eq!(
            r("networking.k8s.io/v1", "Ingress"),
            t("networking.k8s.io", "v1", "ingresses", true, true)
        );
        assert_eq!(
            r("policy/v1", "PodDisruptionBudget").2,
            "poddisruptionbudgets"
        );
        assert!(!r("storage.k8s.io/v1", "StorageClass").3);
        assert!(!r("scheduling.k8s.io/v1", "PriorityClass").3);
        assert_eq!(
            r("flowcontrol.apiserver.k8s.io/v1", "FlowSchema").2,
            "flowschemas"
        );
        assert!(r("resource.k8s.io/v1", "ResourceClaim").3);
    }

    #[test]
    fn kubeconfig_is_a_cluster_scoped_config() {
        assert_eq!(r("v1", "Config"), t("", "v1", "configs", false, true));
    }

    #[test]
    fn crds_aksid_knows() {
        assert_eq!(
            r("containerservice.azure.com/v20260501", "ManagedCluster"),
            t(
                "containerservice.azure.com",
                "v20260501",
                "managedclusters",
                true,
                true
            )
        );
        assert_eq!(
            r(
                "containerservice.azure.com/v1api20240901",
                "TrustedAccessRoleBinding"
            )
            .2,
            "trustedaccessrolebindings"
        );
        assert_eq!(
            r(
                "managedidentity.azure.com/v1api20181130",
                "UserAssignedIdentity"
            )
            .2,
            "userassignedidentities"
        );
        assert_eq!(
            r("documentdb.azure.com/v1api20231115", "DatabaseAccount"),
            t(
                "documentdb.azure.com",
                "v1api20231115",
                "databaseaccounts",
                true,
                true
            )
        );
        assert_eq!(
            r(
                "infrastructure.cluster.x-k8s.io/v1beta1",
                "AzureClusterIdentity"
            )
            .2,
            "azureclusteridentities"
        );
        assert_eq!(r("cluster.x-k8s.io/v1beta1", "Cluster").2, "clusters");
        assert_eq!(
            r(
                "containerservice.azure.upbound.io/v1beta2",
                "KubernetesCluster"
            ),
            t(
                "containerservice.azure.upbound.io",
                "v1beta2",
                "kubernetesclusters",
                false,
                true
            )
        );
        assert_eq!(
            r(
                "containerservice.azure.m.upbound.io/v1beta1",
                "KubernetesCluster"
            ),
            t(
                "containerservice.azure.m.upbound.io",
                "v1beta1",
                "kubernetesclusters",
                true,
                true
            )
        );
        assert!(!r("azure.upbound.io/v1beta1", "ResourceGroup").3);
        assert!(r("azure.m.upbound.io/v1beta1", "ResourceGroup").3);
        assert_eq!(
            r("aadpodidentity.k8s.io/v1", "AzureIdentity").2,
            "azureidentities"
        );
        assert_eq!(
            r("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass").2,
            "secretproviderclasses"
        );
        assert!(!r("policies.kubewarden.io/v1", "ClusterAdmissionPolicy").3);
    }

    #[test]
    fn unknown_kinds_are_guessed_namespaced() {
        assert_eq!(
            r("example.com/v1", "Widget"),
            t("example.com", "v1", "widgets", true, false)
        );
        assert_eq!(pluralize("Policy"), "policies");
        assert_eq!(pluralize("Ingress"), "ingresses");
        assert_eq!(pluralize("Gateway"), "gateways");
        assert_eq!(pluralize("Box"), "boxes");
        assert_eq!(pluralize("Mesh"), "meshes");
        assert_eq!(pluralize("Y"), "ys");
        assert_eq!(pluralize(""), "");
        assert_eq!(r("", "").2, "");
    }
}
