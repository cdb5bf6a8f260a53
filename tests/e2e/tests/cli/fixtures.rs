//! Manifests shared by the tests. Secret-looking values are fake, shaped like the real formats.

/// Takes its password from a Secret: every policy accepts it.
pub const GOOD_DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: contoso.azurecr.io/web:1.4.2
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {name: web-db, key: password}
            - name: LOG_LEVEL
              value: info
";

/// A literal password in `env`: rejected by no-plaintext-secret-env.
pub const BAD_DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: contoso.azurecr.io/api:3.0.0
          env:
            - name: DB_PASSWORD
              value: \"S3cr3tP@ssw0rd!2024xyz\"
";

/// cluster-admin for a user: rejected by no-cluster-admin-users.
pub const USER_CLUSTER_ADMIN: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bob-cluster-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: bob@contoso.com
";

/// cluster-admin for an Entra group by object ID: accepted.
pub const GROUP_CLUSTER_ADMIN: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: platform-admins
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: 6f1c9d3e-2b4a-4c8e-9f7d-1a2b3c4d5e6f
";

/// No policy selects a ConfigMap.
pub const CONFIG_MAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  LOG_LEVEL: info
";

/// Not YAML: an unclosed flow sequence on line 5.
pub const MALFORMED: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
  labels: [unclosed
";
