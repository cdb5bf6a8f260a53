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

#[cfg(test)]
mod tests {
    /// `include_bytes!` needs literal paths, so the list above is written out; it must name
    /// exactly the policies of `policies/*/metadata.yml`, the one list the build derives.
    #[test]
    fn every_policy_of_the_tree_is_embedded_once() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut tree: Vec<String> = std::fs::read_dir(root.join("policies"))
            .unwrap()
            .filter_map(|e| {
                let path = e.ok()?.path();
                path.join("metadata.yml").is_file().then_some(())?;
                Some(path.file_name()?.to_string_lossy().into_owned())
            })
            .collect();
        tree.sort();
        let mut embedded: Vec<String> = super::POLICIES
            .iter()
            .map(|(id, _)| id.to_string())
            .collect();
        embedded.sort();
        assert_eq!(embedded, tree);
    }
}
