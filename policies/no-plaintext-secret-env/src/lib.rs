//! `no-plaintext-secret-env`: rejects workloads (Pod, Deployment, ReplicaSet, StatefulSet,
//! DaemonSet, Job, CronJob, ReplicationController) whose containers, init containers or
//! ephemeral containers carry a secret as a literal `env[].value`: a value in a known secret
//! format (Azure connection strings and SAS, Entra client secrets, PEM private keys, JWTs,
//! AWS, GitHub, Slack and Google keys, credentials in URLs), also after one base64 decoding,
//! or a value that looks like a real secret in a variable named like one (`*_TOKEN`,
//! `*_API_KEY`, …), any literal password (`DB_PASSWORD`, `RABBITMQ_DEFAULT_PASS`), or a
//! key-shaped value under a key name (`COSMOS_KEY`, `CosmosDb__Key`). `valueFrom` passes,
//! unless the `rejectSecretKeyRef` setting also asks for Secrets to be mounted as files.

mod encoded;
mod env;
mod formats;
mod key_shape;
mod names;
mod patterns;
mod settings;
mod shape;
#[cfg(test)]
mod tests;

use aksid_policy_common::{AdmissionRequest, ClusterContext, Policy, Verdict};
pub use settings::{ExtraPattern, Settings};

/// The control, as a [`Policy`] (used natively by tests and benchmarks).
pub struct NoPlaintextSecretEnv;

impl Policy for NoPlaintextSecretEnv {
    type Settings = Settings;

    fn validate(
        request: &AdmissionRequest,
        settings: &Settings,
        _cluster: &dyn ClusterContext,
    ) -> Verdict {
        env::validate_workload(request, settings)
    }
}

aksid_policy_common::export_policy!(NoPlaintextSecretEnv);
