//! The four aksid modules, embedded at build time from `artifacts/` (annotated, exactly the bytes
//! the cluster pulls), so the binary needs nothing else to run.

/// `(policy id, annotated module)` of every built-in policy, in the order reports list them.
pub const POLICIES: [(&str, &[u8]); 4] = [
    (
        "no-local-accounts",
        include_bytes!("../../artifacts/no-local-accounts/policy.wasm"),
    ),
    (
        "no-cluster-admin-users",
        include_bytes!("../../artifacts/no-cluster-admin-users/policy.wasm"),
    ),
    (
        "workload-identity-labels",
        include_bytes!("../../artifacts/workload-identity-labels/policy.wasm"),
    ),
    (
        "no-plaintext-secret-env",
        include_bytes!("../../artifacts/no-plaintext-secret-env/policy.wasm"),
    ),
];
