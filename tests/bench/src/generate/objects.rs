//! One writer per kind: each appends one YAML document (without the `---` separator) to a
//! file's text. The share of problems in each kind is set here, so the mix is realistic: most
//! objects are fine, a few break each control.

use super::rng::{ALNUM, BASE64, Rng};
use super::values::{self, quote};

/// A ServiceAccount written earlier in the same file, for workloads to use.
#[derive(Debug, Clone)]
pub(crate) struct ServiceAccountRef {
    pub(crate) name: String,
    /// Carries `azure.workload.identity/client-id`.
    pub(crate) workload_identity: bool,
}

/// Writes the objects of one file, all in one namespace, with unique names per kind.
pub(crate) struct FileWriter<'a> {
    pub(crate) rng: &'a mut Rng,
    pub(crate) namespace: String,
    pub(crate) team: &'static str,
    pub(crate) service_accounts: Vec<ServiceAccountRef>,
    /// Global counter for unique names (also across files, for cluster-scoped kinds).
    pub(crate) serial: &'a mut usize,
}

const ENTRA_ROLES: &[&str] = &["view", "edit", "admin"];

impl FileWriter<'_> {
    fn next_name(&mut self, stem: &str) -> String {
        *self.serial += 1;
        format!("{stem}-{}", *self.serial)
    }

    fn app(&mut self) -> &'static str {
        self.rng.pick(values::APPS)
    }

    fn metadata(&self, out: &mut String, name: &str, app: &str) {
        out.push_str(&format!(
            "metadata:\n  name: {name}\n  namespace: {}\n  labels:\n    app.kubernetes.io/name: {app}\n    \
             app.kubernetes.io/part-of: {}\n",
            self.namespace, self.team
        ));
    }

    pub(crate) fn service_account(&mut self, out: &mut String) {
        let app = self.app();
        let name = self.next_name(app);
        let workload_identity = self.rng.chance(0.45);
        out.push_str("apiVersion: v1\nkind: ServiceAccount\n");
        self.metadata(out, &name, app);
        if workload_identity {
            out.push_str("  annotations:\n");
            out.push_str(&format!(
                "    azure.workload.identity/client-id: {}\n",
                self.rng.guid()
            ));
            if self.rng.chance(0.3) {
                out.push_str(&format!(
                    "    azure.workload.identity/tenant-id: {}\n",
                    self.rng.guid()
                ));
            }
            if self.rng.chance(0.1) {
                out.push_str(
                    "    azure.workload.identity/service-account-token-expiration: \"3600\"\n",
                );
            }
        }
        if self.rng.chance(0.2) {
            out.push_str("automountServiceAccountToken: false\n");
        }
        self.service_accounts.push(ServiceAccountRef {
            name,
            workload_identity,
        });
    }

    /// The pod's extra labels and its annotations (`key: value` lines), deciding the Workload
    /// ID label from the ServiceAccount: mostly right, sometimes missing or misplaced.
    fn pod_labels(
        &mut self,
        name: &str,
        sa: Option<&ServiceAccountRef>,
    ) -> (Vec<String>, Vec<String>) {
        let (mut labels, mut annotations) = (Vec::new(), Vec::new());
        match sa {
            Some(sa) if sa.workload_identity => {
                if self.rng.chance(0.9) {
                    labels.push("azure.workload.identity/use: \"true\"".to_owned());
                } else if self.rng.chance(0.5) {
                    // A common mistake: the label written as an annotation.
                    annotations.push("azure.workload.identity/use: \"true\"".to_owned());
                }
            }
            _ => {
                if self.rng.chance(0.03) {
                    labels.push("azure.workload.identity/use: \"true\"".to_owned());
                } else if self.rng.chance(0.02) {
                    labels.push(format!("aadpodidbinding: {name}-identity"));
                }
            }
        }
        if self.rng.chance(0.3) {
            annotations.push("prometheus.io/scrape: \"true\"".to_owned());
            annotations.push("prometheus.io/port: \"9090\"".to_owned());
        }
        (labels, annotations)
    }

    /// A pod template's `metadata:` at `indent`.
    fn pod_metadata(
        &mut self,
        out: &mut String,
        indent: usize,
        name: &str,
        sa: Option<&ServiceAccountRef>,
    ) {
        let pad = " ".repeat(indent);
        let (labels, annotations) = self.pod_labels(name, sa);
        out.push_str(&format!(
            "{pad}metadata:\n{pad}  labels:\n{pad}    app: {name}\n"
        ));
        for label in labels {
            out.push_str(&format!("{pad}    {label}\n"));
        }
        if !annotations.is_empty() {
            out.push_str(&format!("{pad}  annotations:\n"));
            for annotation in annotations {
                out.push_str(&format!("{pad}    {annotation}\n"));
            }
        }
    }

    /// A pod spec at `indent` with `containers` containers of `env` (min, max) variables each.
    fn pod_spec(
        &mut self,
        out: &mut String,
        indent: usize,
        app: &str,
        sa: Option<&ServiceAccountRef>,
        containers: usize,
        env: (usize, usize),
    ) {
        let pad = " ".repeat(indent);
        out.push_str(&format!("{pad}spec:\n"));
        if let Some(sa) = sa {
            out.push_str(&format!("{pad}  serviceAccountName: {}\n", sa.name));
        }
        out.push_str(&format!("{pad}  containers:\n"));
        for index in 0..containers {
            let (name, image) = values::container(self.rng, app, index);
            out.push_str(&format!(
                "{pad}    - name: {name}\n{pad}      image: {image}\n"
            ));
            if index == 0 {
                out.push_str(&format!(
                    "{pad}      ports:\n{pad}        - containerPort: 8080\n"
                ));
            }
            let count = self.rng.range(env.0, env.1);
            let vars = values::env_vars(self.rng, app, count, 0.006);
            if !vars.is_empty() {
                out.push_str(&format!("{pad}      env:\n"));
                for var in &vars {
                    var.write(out, indent + 8);
                }
            }
            out.push_str(&format!(
                "{pad}      resources:\n{pad}        requests:\n{pad}          cpu: {}m\n{pad}          memory: {}Mi\n",
                50 * self.rng.range(1, 8),
                64 << self.rng.below(4)
            ));
        }
    }

    fn workload_service_account(&mut self) -> Option<ServiceAccountRef> {
        if self.service_accounts.is_empty() || self.rng.chance(0.1) {
            None
        } else {
            let index = self.rng.below(self.service_accounts.len());
            Some(self.service_accounts[index].clone())
        }
    }

    pub(crate) fn deployment(&mut self, out: &mut String) {
        let app = self.app();
        let name = self.next_name(app);
        let sa = self.workload_service_account();
        out.push_str("apiVersion: apps/v1\nkind: Deployment\n");
        self.metadata(out, &name, app);
        if self.rng.chance(0.02) {
            // Wrong place: the webhook reads the pod's labels, not the Deployment's.
            out.push_str("    azure.workload.identity/use: \"true\"\n");
        }
        out.push_str(&format!(
            "spec:\n  replicas: {}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n",
            self.rng.range(1, 6)
        ));
        self.pod_metadata(out, 4, &name, sa.as_ref());
        let containers = self.rng.range(2, 4);
        self.pod_spec(out, 4, app, sa.as_ref(), containers, (5, 12));
    }

    pub(crate) fn pod(&mut self, out: &mut String) {
        let app = self.app();
        let name = self.next_name(&format!("{app}-debug"));
        let sa = self.workload_service_account();
        let (labels, annotations) = self.pod_labels(&name, sa.as_ref());
        out.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {}\n  labels:\n    app: {name}\n    \
             app.kubernetes.io/name: {app}\n",
            self.namespace
        ));
        for label in labels {
            out.push_str(&format!("    {label}\n"));
        }
        if !annotations.is_empty() {
            out.push_str("  annotations:\n");
            for annotation in annotations {
                out.push_str(&format!("    {annotation}\n"));
            }
        }
        let containers = self.rng.range(1, 2);
        self.pod_spec(out, 0, app, sa.as_ref(), containers, (3, 8));
    }

    pub(crate) fn cron_job(&mut self, out: &mut String) {
        let app = self.app();
        let name = self.next_name(&format!("{app}-nightly"));
        let sa = self.workload_service_account();
        out.push_str("apiVersion: batch/v1\nkind: CronJob\n");
        self.metadata(out, &name, app);
        out.push_str(&format!(
            "spec:\n  schedule: \"{} {} * * *\"\n  concurrencyPolicy: Forbid\n  jobTemplate:\n    spec:\n      template:\n",
            self.rng.below(60),
            self.rng.below(24)
        ));
        self.pod_metadata(out, 8, &name, sa.as_ref());
        let containers = self.rng.range(1, 2);
        self.pod_spec(out, 8, app, sa.as_ref(), containers, (5, 9));
        out.push_str("          restartPolicy: OnFailure\n");
    }

    pub(crate) fn service(&mut self, out: &mut String) {
        let app = self.app();
        let name = self.next_name(app);
        out.push_str("apiVersion: v1\nkind: Service\n");
        self.metadata(out, &name, app);
        out.push_str(&format!(
            "spec:\n  type: ClusterIP\n  selector:\n    app: {name}\n  ports:\n    - name: http\n      port: 80\n      targetPort: 8080\n"
        ));
    }

    pub(crate) fn config_map(&mut self, out: &mut String) {
        let app = self.app();
        let name = self.next_name(&format!("{app}-config"));
        out.push_str("apiVersion: v1\nkind: ConfigMap\n");
        self.metadata(out, &name, app);
        out.push_str(&format!(
            "data:\n  LOG_FORMAT: json\n  flags: \"checkout-v2,dark-mode\"\n  appsettings.json: |\n    {{\n      \"Logging\": {{ \"LogLevel\": {{ \"Default\": \"Information\" }} }},\n      \"Api\": {{ \"BaseUrl\": \"https://{app}.contoso.com\" }}\n    }}\n"
        ));
    }

    pub(crate) fn secret(&mut self, out: &mut String) {
        let app = self.app();
        if self.rng.chance(0.15) && !self.service_accounts.is_empty() {
            // A long-lived ServiceAccount token (no-local-accounts rejects it).
            let sa = self.service_accounts[self.rng.below(self.service_accounts.len())]
                .name
                .clone();
            let name = self.next_name(&format!("{sa}-token"));
            out.push_str(&format!(
                "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/service-account-token\nmetadata:\n  name: {name}\n  \
                 namespace: {}\n  annotations:\n    kubernetes.io/service-account.name: {sa}\n",
                self.namespace
            ));
        } else {
            let name = self.next_name(&format!("{app}-db"));
            out.push_str("apiVersion: v1\nkind: Secret\ntype: Opaque\n");
            self.metadata(out, &name, app);
            out.push_str(&format!(
                "data:\n  username: {}\n  password: {}\n",
                self.rng.string(BASE64, 12),
                self.rng.string(BASE64, 24)
            ));
        }
    }

    pub(crate) fn role(&mut self, out: &mut String) {
        let app = self.app();
        let name = self.next_name(&format!("{app}-reader"));
        out.push_str("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n");
        self.metadata(out, &name, app);
        out.push_str(
            "rules:\n  - apiGroups: [\"\"]\n    resources: [\"configmaps\", \"pods\"]\n    verbs: [\"get\", \"list\", \"watch\"]\n",
        );
    }

    pub(crate) fn role_binding(&mut self, out: &mut String) {
        let app = self.app();
        let name = self.next_name(&format!("{app}-binding"));
        out.push_str("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n");
        self.metadata(out, &name, app);
        let (role_kind, role) = if self.rng.chance(0.04) {
            ("ClusterRole", "cluster-admin")
        } else if self.rng.chance(0.5) {
            ("ClusterRole", self.rng.pick(ENTRA_ROLES))
        } else {
            ("Role", "app-reader")
        };
        out.push_str(&format!(
            "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: {role_kind}\n  name: {role}\nsubjects:\n"
        ));
        match self.rng.below(10) {
            0 => out.push_str(&format!(
                "  - apiGroup: rbac.authorization.k8s.io\n    kind: User\n    name: {}@contoso.com\n",
                self.rng.pick(&["alice", "bob", "carol", "dave"])
            )),
            1..=5 => out.push_str(&format!(
                "  - apiGroup: rbac.authorization.k8s.io\n    kind: Group\n    name: {}\n",
                self.rng.guid()
            )),
            _ => {
                let sa = self.service_accounts.last().map_or_else(|| "default".to_owned(), |sa| sa.name.clone());
                out.push_str(&format!("  - kind: ServiceAccount\n    name: {sa}\n    namespace: {}\n", self.namespace));
            }
        }
    }

    pub(crate) fn cluster_role_binding(&mut self, out: &mut String) {
        let name = self.next_name(&format!("{}-cluster", self.team));
        out.push_str(&format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {name}\n  labels:\n    \
             app.kubernetes.io/part-of: {}\n",
            self.team
        ));
        let (role, subject) = match self.rng.below(20) {
            0..=2 => (
                "cluster-admin",
                format!(
                    "  - apiGroup: rbac.authorization.k8s.io\n    kind: User\n    name: {}@contoso.com\n",
                    self.rng.pick(&["alice", "bob", "ops", "breakglass"])
                ),
            ),
            3 => ("view", "  - apiGroup: rbac.authorization.k8s.io\n    kind: Group\n    name: system:masters\n".to_owned()),
            4..=8 => (
                "cluster-admin",
                format!("  - apiGroup: rbac.authorization.k8s.io\n    kind: Group\n    name: {}\n", self.rng.guid()),
            ),
            9..=14 => (
                self.rng.pick(&["view", "system:aggregate-to-view"]),
                format!("  - apiGroup: rbac.authorization.k8s.io\n    kind: Group\n    name: {}\n", self.rng.guid()),
            ),
            _ => {
                let sa = self.service_accounts.last().map_or_else(|| "default".to_owned(), |sa| sa.name.clone());
                (
                    "system:auth-delegator",
                    format!("  - kind: ServiceAccount\n    name: {sa}\n    namespace: {}\n", self.namespace),
                )
            }
        };
        out.push_str(&format!(
            "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {role}\nsubjects:\n{subject}"
        ));
    }

    /// An Azure Service Operator ManagedCluster: mostly Entra-only, sometimes with local
    /// accounts left on (the default).
    pub(crate) fn managed_cluster(&mut self, out: &mut String) {
        let name = self.next_name(&format!("{}-aks", self.team));
        let entra_only = self.rng.chance(0.7);
        out.push_str(&format!(
            "apiVersion: containerservice.azure.com/v1api20240901\nkind: ManagedCluster\nmetadata:\n  name: {name}\n  \
             namespace: {}\nspec:\n  location: westeurope\n  owner:\n    name: rg-{}\n  dnsPrefix: {name}\n  \
             kubernetesVersion: \"1.32\"\n  agentPoolProfiles:\n    - name: system\n      count: 3\n      \
             vmSize: Standard_D4s_v5\n      mode: System\n  identity:\n    type: SystemAssigned\n",
            self.namespace, self.team
        ));
        if entra_only {
            out.push_str(&format!(
                "  disableLocalAccounts: true\n  aadProfile:\n    managed: true\n    enableAzureRBAC: true\n    \
                 adminGroupObjectIDs:\n      - {}\n  oidcIssuerProfile:\n    enabled: true\n  securityProfile:\n    \
                 workloadIdentity:\n      enabled: true\n",
                self.rng.guid()
            ));
        } else {
            out.push_str(&format!(
                "  operatorSpec:\n    secrets:\n      adminCredentials:\n        name: {name}-admin\n        key: value\n  \
                 tags:\n    costcenter: {}\n",
                quote(&self.rng.string(ALNUM, 6))
            ));
        }
    }
}
