//! Command-line flags. Doc comments are the help text; `after_help` shows worked examples.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  kubectl aksid check -f deploy/                     check every manifest under deploy/
  helm template my-chart | kubectl aksid check -f -  check a rendered chart from stdin
  kubectl aksid check -f k8s/ -o sarif > aksid.sarif  SARIF for GitHub code scanning
  kubectl aksid check -f k8s/ -o github              annotations in GitHub Actions
  kubectl aksid test                                  run every aksid-test.yaml below .
  kubectl aksid policies                              list the policies and what they check
  kubectl aksid explain workload-identity-labels      what a policy checks, why, how to fix
  kubectl aksid manifests --mode monitor | kubectl apply -f -   install the policies with Kubewarden
  kubectl aksid audit -A                              audit the objects of the current cluster

Exit status: 0 everything accepted, 1 something rejected, 2 an input or a policy could not be read.";

/// Check Kubernetes manifests against the aksid AKS identity controls, offline, with the same
/// Kubewarden policy modules the cluster runs.
#[derive(Debug, Parser)]
#[command(name = "kubectl-aksid", bin_name = "kubectl aksid", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests (files, directories, or - for stdin) against the policies.
    Check(CheckArgs),
    /// Run test files: expected verdicts per object and policy, with their settings.
    Test(TestArgs),
    /// Audit the objects of a running cluster, listed through your own kubectl.
    Audit(AuditArgs),
    /// List the policies with one-line descriptions.
    Policies(PoliciesArgs),
    /// Explain a policy: what it checks, why, its settings, a failing and a passing example.
    Explain(ExplainArgs),
    /// Print ClusterAdmissionPolicy manifests that install the policies with Kubewarden.
    Manifests(ManifestsArgs),
    /// Push a policy module to an OCI registry, as Kubewarden publishes policies.
    Push(PushArgs),
    /// Pull a policy module from an OCI registry into the local cache (or a file).
    Pull(PullArgs),
    /// Serve the browser playground on loopback and open it: paste manifests, see verdicts.
    Playground(PlaygroundArgs),
    /// Show, clear or verify the caches of compiled modules and pulled policies.
    Cache(crate::commands::cache::CacheArgs),
}

/// Options of `playground`.
#[derive(Debug, Args)]
pub struct PlaygroundArgs {
    /// Loopback address to listen on (127.0.0.0/8 or [::1]); port 0 picks a free one.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    pub address: std::net::SocketAddr,
    /// Print the URL without opening a browser.
    #[arg(long)]
    pub no_open: bool,
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Findings grouped by file (by namespace for audit), for people.
    Text,
    /// The report as JSON (stable schema, see README).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF consumers.
    Sarif,
    /// JUnit XML, for CI test reports.
    Junit,
    /// GitHub Actions workflow commands (::error file=…,line=…::…), one per finding.
    Github,
    /// Azure Pipelines logging commands (##vso[task.logissue …]…), one per finding.
    AzureDevops,
}

/// Output formats of `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestOutputFormat {
    /// What failed, expected against got, for people.
    Text,
    /// Every test and expectation as JSON.
    Json,
    /// JUnit XML: one test case per expectation.
    Junit,
    /// GitHub Actions workflow commands, one per failed expectation.
    Github,
    /// Azure Pipelines logging commands, one per failed expectation.
    AzureDevops,
}

impl From<OutputFormat> for aksid_report::Format {
    fn from(format: OutputFormat) -> Self {
        use aksid_report::Format;
        match format {
            OutputFormat::Text => Format::Text,
            OutputFormat::Json => Format::Json,
            OutputFormat::Sarif => Format::Sarif,
            OutputFormat::Junit => Format::Junit,
            OutputFormat::Github => Format::Github,
            OutputFormat::AzureDevops => Format::AzureDevops,
        }
    }
}

/// Output formats of `audit`: every `check` format, plus OpenReports. Built from
/// [`OutputFormat`]'s own list, so a format added to `check` is an `audit` format too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    /// A `check` format, rendered as `check` renders it.
    Check(OutputFormat),
    /// OpenReports Report (per namespace) and ClusterReport objects, for kubectl apply and
    /// Policy Reporter.
    Openreports,
}

impl ValueEnum for AuditFormat {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::OnceLock<Vec<AuditFormat>> = std::sync::OnceLock::new();
        ALL.get_or_init(|| {
            OutputFormat::value_variants()
                .iter()
                .copied()
                .map(AuditFormat::Check)
                .chain([AuditFormat::Openreports])
                .collect()
        })
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self {
            AuditFormat::Check(format) => format.to_possible_value(),
            AuditFormat::Openreports => {
                Some(clap::builder::PossibleValue::new("openreports").help(
                    "OpenReports Report (per namespace) and ClusterReport objects, for kubectl \
                     apply and Policy Reporter",
                ))
            }
        }
    }
}

/// How aksid reaches a cluster: through the user's own kubectl, so kubeconfig, contexts, exec
/// credential plugins (kubelogin), proxies and CA bundles behave as in the shell.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// The kubeconfig context to use [default: the current context].
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// The kubeconfig file [default: kubectl's own choice: $KUBECONFIG, ~/.kube/config].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Objects per list request (the API server's `limit`).
    #[arg(long, value_name = "NUM", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub chunk_size: u32,
    /// The kubectl to run [default: kubectl on the PATH].
    #[arg(long, value_name = "PROGRAM", env = "KUBECTL")]
    pub kubectl: Option<PathBuf>,
}

/// When to colour text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Options shared by every command that runs or fetches policies.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Add a policy module: a .wasm path or registry://HOST/REPO:TAG[@sha256:DIGEST].
    /// A module titled like a built-in policy replaces it only with --replace-builtin.
    /// Repeatable.
    #[arg(long = "policy", value_name = "MODULE")]
    pub policies: Vec<String>,
    /// Settings per policy: a YAML or JSON map from policy id to its settings.
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Directory for compiled modules and pulled policies [default: $XDG_CACHE_HOME/aksid, env AKSID_CACHE_DIR].
    #[arg(long, value_name = "DIR", env = "AKSID_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile modules in memory only, without the on-disk cache.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// Allow plain HTTP to this registry host (localhost is always allowed). Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Largest policy module (--policy file or registry layer) loaded, a Kubernetes quantity:
    /// 32Mi. Refused before compiling.
    #[arg(long, value_name = "SIZE", default_value = "32Mi", value_parser = parse_size)]
    pub max_module_size: usize,
    /// Wall-clock limit for the whole run, e.g. 5m: after it no evaluation starts, and the
    /// objects not yet judged are reported as `deadline` errors (exit 2). Default: none.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<Duration>,
    /// Refuse registry modules whose cosign signatures do not satisfy this Kubewarden
    /// verification config (YAML or JSON: apiVersion v1, allOf / anyOf of kind pubKey entries,
    /// as `kwctl verify` reads). Without it or --verify-key, registry modules are NOT verified.
    #[arg(long, value_name = "FILE", conflicts_with = "verify_key")]
    pub verification_config: Option<PathBuf>,
    /// Refuse registry modules not signed by this PEM public key (a verification config of
    /// allOf one pubKey). Without it or --verification-config, registry modules are NOT verified.
    #[arg(long, value_name = "KEY.pub")]
    pub verify_key: Option<PathBuf>,
}

/// What `--policy` modules may do beyond judging: granted by the user, never implied.
#[derive(Debug, Clone, Default, Args)]
pub struct TrustArgs {
    /// Let `--policy` modules look up these kinds (their declared contextAwareResources), as a
    /// Kubewarden administrator grants them, e.g. ConfigMap,Secret. Without it, a third-party
    /// module's lookups are refused and the report says so. Built-in policies keep their own.
    #[arg(long, value_name = "KIND[,KIND...]", value_delimiter = ',')]
    pub allow_context: Vec<String>,
    /// Let a `--policy` module titled like a built-in policy replace it (the report says so).
    /// Without it, such a module is refused.
    #[arg(long)]
    pub replace_builtin: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl aksid check -f deploy/ -f k8s/prod.yaml
  kustomize build overlays/prod | kubectl aksid check -f -
  kubectl aksid check -f overlays/prod --kustomize   render with kubectl kustomize, judge the result
  kubectl aksid check -f deploy/ --settings aksid-settings.yaml -o json
  kubectl aksid check -f deploy/ --policy registry://myacr.azurecr.io/policies/no-local-accounts:v0.1.0

Each object becomes the CREATE AdmissionRequest the API server would send, and is judged by every
policy whose rules select it, as Kubewarden would. All objects of a run are the cluster context of
context-aware policies: a Pod and its ServiceAccount in different files are judged together.

Exceptions live in .aksid.yaml files: for each checked file, every .aksid.yaml from the
repository root (the git top-level; outside git, the directory given with -f) down to the file's
directory applies, a deeper one adding to what the root says, never removing it, and only to
the files below it; none above the root is read. --exceptions FILE uses that file for every
checked file instead of the search. Each exception names a policy, what it matches, a reason
and an optional expiry date. See README.

Exit status: 0 everything accepted, 1 something rejected, 2 an input or a policy could not be read
(the other inputs are still checked and reported). A run that finds no objects at all exits 2.")]
pub struct CheckArgs {
    /// Manifest files or directories (searched recursively for .yaml, .yml, .json, skipping
    /// hidden and git-ignored entries); - reads stdin.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Namespace for namespaced objects that do not set one.
    #[arg(short, long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// userInfo.username of the generated admission requests.
    #[arg(long, value_name = "NAME", default_value = "kubectl-aksid")]
    pub user: String,
    /// userInfo.groups of the generated admission requests. Repeatable.
    #[arg(long = "group", value_name = "GROUP", default_values_t = ["system:authenticated".to_owned()])]
    pub groups: Vec<String>,
    /// Exceptions file to use, for every checked file, instead of the .aksid.yaml files from
    /// the repository root down (the search is not made).
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
    /// Ignore .aksid.yaml exceptions.
    #[arg(long, conflicts_with = "exceptions")]
    pub no_exceptions: bool,
    /// Wall-clock limit per policy evaluation, e.g. 2s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Memory budget per evaluation: the policy's linear memory plus what the host holds for it
    /// (responses, refused host calls, logs, output). A Kubernetes quantity: 256Mi, 1Gi.
    #[arg(long, value_name = "SIZE", default_value = "256Mi", value_parser = parse_size)]
    pub memory_limit: usize,
    /// Largest manifest file (or stdin) read, a Kubernetes quantity: 64Mi. Enforced while
    /// reading, whatever the file claims; devices and FIFOs are refused.
    #[arg(long, value_name = "SIZE", default_value = "64Mi", value_parser = parse_size)]
    pub max_file_size: usize,
    /// Most bytes all inputs of the run may hold together (files, stdin, kustomize renders), a
    /// Kubernetes quantity: 256Mi. Counted while reading; an input that would pass it is an
    /// error (exit 2), and what was read is still checked.
    #[arg(long, value_name = "SIZE", default_value = "256Mi", value_parser = parse_size)]
    pub max_total_size: usize,
    /// Also check files that .gitignore or .ignore files exclude, when walking directories.
    #[arg(long)]
    pub no_ignore: bool,
    /// Render each PATH that holds a kustomization.yaml with `kubectl kustomize` (or $KUBECTL)
    /// and judge the result; findings name the file of each resource. Without it, the patch
    /// files a walked kustomization names are skipped with a notice, not judged as objects.
    #[arg(long)]
    pub kustomize: bool,
    /// When to colour text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Never show a progress bar (it only appears on a terminal for large runs).
    #[arg(long)]
    pub no_progress: bool,
    /// Would this cluster admit it? Judge with the aksid policies the cluster runs
    /// (ClusterAdmissionPolicy, AdmissionPolicy), their settings and mode; lookups see the
    /// cluster's objects merged with the checked manifests (the manifest wins).
    #[arg(long, conflicts_with = "settings")]
    pub against_cluster: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl aksid audit -A                                    every namespace of the current context
  kubectl aksid audit --context prod -n shop                one namespace of another context
  kubectl aksid audit -A -o openreports | kubectl apply -f -   reports for Policy Reporter

Lists, through your kubectl, the kinds the policies' rules select and the kinds their
contextAwareResources declare, and judges each object as Kubewarden's audit scanner does: one
CREATE request per object, context-aware lookups answered from the listed objects. Objects owned
by a controller that is itself listed are judged once, through their owner (--include-owned
judges them too). What you may not list (RBAC forbidden) is reported, and the audit goes on.

Exit status: 0 everything accepted, 1 something rejected, 2 something could not be listed or
evaluated.")]
pub struct AuditArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Audit only this namespace (cluster-scoped kinds are still listed for lookups).
    #[arg(short, long, value_name = "NS", conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Audit every namespace (the default when -n is not given).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Also judge objects owned by a listed controller (Pods of a ReplicaSet, ...).
    #[arg(long)]
    pub include_owned: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = AuditFormat::Check(OutputFormat::Text))]
    pub output: AuditFormat,
    /// Wall-clock limit per policy evaluation, e.g. 2s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Memory budget per evaluation: the policy's linear memory plus what the host holds for it
    /// (responses, refused host calls, logs, output). A Kubernetes quantity: 256Mi, 1Gi.
    #[arg(long, value_name = "SIZE", default_value = "256Mi", value_parser = parse_size)]
    pub memory_limit: usize,
    /// When to colour text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Never show progress (it only appears on a terminal).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl aksid test                         every aksid-test.yaml below the current directory
  kubectl aksid test policies/ ci/extra.yaml  the test files below policies/, and one more
  kubectl aksid test -o junit > tests.xml     JUnit for CI test reports
  kubectl aksid test --init deploy/          freeze what check finds in deploy/ today

A test file (aksid-test.yaml) names manifests, policies and their settings, the request
(user, groups, namespace, operation, old objects for UPDATE), an exceptions file, and the
expected result per object and policy: accept, reject, warn or skip. See README.

Exit status: 0 every test passed, 1 a test failed, 2 a test file is wrong.")]
pub struct TestArgs {
    /// Test files, or directories searched recursively for aksid-test.yaml (and .yml)
    /// [default: .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write DIR/aksid-test.yaml expecting what `check` finds in DIR today (one expectation
    /// per object and policy), instead of running tests.
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    pub init: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = TestOutputFormat::Text)]
    pub output: TestOutputFormat,
    /// Wall-clock limit per policy evaluation, e.g. 2s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Memory budget per evaluation: the policy's linear memory plus what the host holds for it
    /// (responses, refused host calls, logs, output). A Kubernetes quantity: 256Mi, 1Gi.
    #[arg(long, value_name = "SIZE", default_value = "256Mi", value_parser = parse_size)]
    pub memory_limit: usize,
    /// Largest manifest file read, a Kubernetes quantity: 64Mi.
    #[arg(long, value_name = "SIZE", default_value = "64Mi", value_parser = parse_size)]
    pub max_file_size: usize,
    /// Directory for compiled modules and pulled policies [default: $XDG_CACHE_HOME/aksid, env AKSID_CACHE_DIR].
    #[arg(long, value_name = "DIR", env = "AKSID_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile modules in memory only, without the on-disk cache.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// Allow plain HTTP to this registry host (localhost is always allowed). Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PoliciesArgs {
    /// Print the policies as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kubectl aksid explain no-plaintext-secret-env")]
pub struct ExplainArgs {
    /// Policy id, e.g. no-local-accounts.
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// Modes of the generated ClusterAdmissionPolicies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Rejections block requests.
    Protect,
    /// Rejections are only reported (start here, then switch to protect).
    Monitor,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl aksid manifests --mode monitor | kubectl apply -f -
  kubectl aksid manifests --registry myacr.azurecr.io/aksid --tag v0.1.0 --settings aksid-settings.yaml
  kubectl aksid manifests --registry myacr.azurecr.io/aksid --digest   # pin each module by digest

The module references default to ghcr.io/aksid/policies/<id>:v<version>. Settings are validated
by each policy before they are written.")]
pub struct ManifestsArgs {
    /// Registry prefix of the modules, e.g. myacr.azurecr.io/aksid.
    #[arg(long, value_name = "PREFIX", default_value = "ghcr.io/aksid/policies")]
    pub registry: String,
    /// Tag of the modules [default: v<policy version>].
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Pin each module by the digest it has in the registry (pulls each manifest).
    #[arg(long)]
    pub digest: bool,
    /// Policy mode.
    #[arg(long, value_enum, default_value_t = Mode::Protect)]
    pub mode: Mode,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl aksid push artifacts/no-local-accounts/policy.wasm registry://myacr.azurecr.io/aksid/no-local-accounts:v0.1.0
  kubectl aksid push no-local-accounts registry://localhost:5000/aksid/no-local-accounts:v0.1.0

MODULE is a .wasm path or the id of a built-in policy. Credentials come from AKSID_REGISTRY_USERNAME /
AKSID_REGISTRY_PASSWORD for the one registry AKSID_REGISTRY_SERVER names (host[:port]), else from the
Docker config file (docker login / az acr login); they are never sent to another host, nor over plain
HTTP except to localhost. AKSID_REGISTRY_TIMEOUT (seconds, default 30) bounds a stalled read. Prints the
reference pinned by digest, for ClusterAdmissionPolicy module fields.

Signing (--sign-key) stores a signature of the pushed manifest digest at sha256-<hex>.sig in the
same repository, in the layout `cosign sign --key` writes and `kwctl verify` / Kubewarden's
verification config read (ECDSA P-256 over cosign's simple-signing payload). Make a key pair with
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out aksid.key
  openssl pkey -in aksid.key -pubout -out aksid.pub
and verify with `kubectl aksid pull --verify-key aksid.pub REFERENCE`.")]
pub struct PushArgs {
    /// The module: a .wasm path or a built-in policy id.
    #[arg(value_name = "MODULE")]
    pub module: String,
    /// Destination, registry://HOST/REPO:TAG.
    #[arg(value_name = "REFERENCE")]
    pub reference: String,
    /// Push a module without Kubewarden metadata.
    #[arg(long)]
    pub force: bool,
    /// Sign the pushed manifest with this unencrypted PEM EC P-256 private key (PKCS#8 or
    /// SEC1; cosign's encrypted keys are not read). See below for how to make one.
    #[arg(long, value_name = "KEY.pem")]
    pub sign_key: Option<PathBuf>,
    /// An annotation KEY=VALUE in the signed payload (checked by a verification config's
    /// pubKey `annotations`). Repeatable; needs --sign-key.
    #[arg(long = "sign-annotation", value_name = "KEY=VALUE", requires = "sign_key", value_parser = parse_annotation)]
    pub sign_annotations: Vec<(String, String)>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl aksid pull registry://myacr.azurecr.io/aksid/no-local-accounts:v0.1.0
  kubectl aksid pull registry://myacr.azurecr.io/aksid/no-local-accounts@sha256:<digest> -o policy.wasm
  kubectl aksid pull --verify-key aksid.pub registry://myacr.azurecr.io/aksid/no-local-accounts:v0.1.0
  kubectl aksid pull --verification-config verification.yaml registry://myacr.azurecr.io/aksid/no-local-accounts:v0.1.0

Without --verify-key or --verification-config the module is checked against its digest only:
its signatures are NOT verified. With either, a module whose cosign signatures do not satisfy them
is refused (exit 2), whether it comes from the registry or the cache.")]
pub struct PullArgs {
    /// Source, registry://HOST/REPO:TAG or registry://HOST/REPO@sha256:DIGEST.
    #[arg(value_name = "REFERENCE")]
    pub reference: String,
    /// Also write the module to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Parses `KEY=VALUE`.
fn parse_annotation(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// Parses `2s`, `500ms`, `1m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = split_unit(s);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; use e.g. 2s or 500ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?}: unknown unit {unit:?}; use ms, s or m")),
    }
}

/// Parses sizes as Kubernetes quantities and their `B`-suffixed spellings: `256Mi`, `256MiB`,
/// `1Gi` (powers of 1024), `500M`, `64MB`, `1G` (powers of 1000, as Kubernetes reads them),
/// `1048576` (bytes).
fn parse_size(s: &str) -> Result<usize, String> {
    let (number, unit) = split_unit(s);
    let n: usize = number.parse().map_err(|_| {
        format!("{s:?} is not a size; use e.g. 256Mi (a Kubernetes quantity) or 256MiB")
    })?;
    let binary = unit.strip_suffix('B').unwrap_or(unit);
    let factor: usize = match binary {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?}; use Ki, Mi, Gi (1024-based) or k, M, G (1000-based)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn split_unit(s: &str) -> (&str, &str) {
    let s = s.trim();
    let at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..at], s[at..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    /// `audit` takes every `check` format, by the same names, plus openreports.
    #[test]
    fn audit_formats_are_check_formats_plus_openreports() {
        let names = |values: Vec<Option<clap::builder::PossibleValue>>| -> Vec<String> {
            values
                .into_iter()
                .map(|v| v.unwrap().get_name().to_owned())
                .collect()
        };
        let check = names(
            OutputFormat::value_variants()
                .iter()
                .map(ValueEnum::to_possible_value)
                .collect(),
        );
        let audit = names(
            AuditFormat::value_variants()
                .iter()
                .map(ValueEnum::to_possible_value)
                .collect(),
        );
        let mut expected = check.clone();
        expected.push("openreports".to_owned());
        assert_eq!(audit, expected);
        assert!(check.contains(&"github".to_owned()) && check.contains(&"azure-devops".to_owned()));
        let parsed = Cli::try_parse_from(["kubectl-aksid", "audit", "-o", "azure-devops"]).unwrap();
        let Command::Audit(args) = parsed.command else {
            panic!("audit parses as audit");
        };
        assert_eq!(args.output, AuditFormat::Check(OutputFormat::AzureDevops));
    }

    #[test]
    fn human_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("2h").is_err());
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("256Mi"), Ok(256 << 20));
        assert_eq!(parse_size("1Gi"), Ok(1 << 30));
        assert_eq!(parse_size("512Ki"), Ok(512 << 10));
        assert_eq!(parse_size("64M"), Ok(64_000_000));
        assert_eq!(parse_size("1G"), Ok(1_000_000_000));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("12mi").unwrap_err().contains("Ki, Mi, Gi"));
    }
}
