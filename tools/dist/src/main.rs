//! `aksid-dist`: writes the distributable set to `artifacts/` from the built policy modules.
//!
//! For each policy under `policies/` (a folder with `metadata.yml`): the module annotated with its
//! metadata and README (`<id>/policy.wasm`, as `kwctl annotate -m metadata.yml -u README.md`
//! writes it), `metadata.yml`, `artifacthub-pkg.yml` and `cluster-admission-policy.yaml`; then
//! `SHA256SUMS` over everything. With `--browser-wasm`, also the browser playground
//! (`playground/`, see [`playground`]). The output depends only on its inputs and `--created-at`, so two
//! builds of one commit give identical bytes.

use aksid_metadata::{Metadata, PolicyMode, annotate, cluster_admission_policy};
use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

mod playground;

/// Kubewarden policy-server and kwctl load modules of any size, but aksid keeps each one small
/// enough to pull and compile quickly; the build fails rather than ship a bloated module.
const MAX_MODULE_BYTES: usize = 600 * 1024;

/// Write the distributable set (annotated modules, manifests, SHA256SUMS) to a directory.
#[derive(Parser)]
#[command(
    version,
    after_help = "Example:\n  cargo build --release --target wasm32-wasip1 -p no-local-accounts ...\n  cargo build --release --target wasm32-unknown-unknown -p aksid-browser\n  aksid-dist --policies policies --modules target/wasm32-wasip1/release --out artifacts \\\n    --browser-wasm target/wasm32-unknown-unknown/release/aksid_browser.wasm"
)]
struct Args {
    /// Folder holding one folder per policy (each with metadata.yml and README.md).
    #[arg(long, value_name = "DIR", default_value = "policies")]
    policies: PathBuf,
    /// Folder holding the built modules (`<crate_name>.wasm`).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/wasm32-wasip1/release"
    )]
    modules: PathBuf,
    /// Output folder; files aksid-dist writes are replaced, others left alone.
    #[arg(long, value_name = "DIR", default_value = "artifacts")]
    out: PathBuf,
    /// Registry prefix used in the ClusterAdmissionPolicy module references.
    #[arg(long, value_name = "PREFIX", default_value = "ghcr.io/aksid/policies")]
    registry: String,
    /// The browser host (`aksid_browser.wasm`, built for wasm32-unknown-unknown): with it, the
    /// playground site is written to `OUT/playground/` as well.
    #[arg(long, value_name = "FILE")]
    browser_wasm: Option<PathBuf>,
    /// The playground's HTML, CSS and JavaScript.
    #[arg(long, value_name = "DIR", default_value = "host/browser/site")]
    site: PathBuf,
    /// The examples offered in the playground's picker.
    #[arg(long, value_name = "DIR", default_value = "examples")]
    examples: PathBuf,
    /// RFC 3339 timestamp recorded in artifacthub-pkg.yml (use the commit date for reproducible builds).
    #[arg(long, value_name = "TIME", default_value = "1970-01-01T00:00:00Z")]
    created_at: String,
}

fn main() {
    if let Err(e) = run(&Args::parse()) {
        eprintln!("aksid-dist: {e:#}");
        std::process::exit(2);
    }
}

fn run(args: &Args) -> Result<()> {
    let ids = policy_ids(&args.policies)?;
    ensure!(
        !ids.is_empty(),
        "no policy folders with metadata.yml under {}",
        args.policies.display()
    );
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut written = Vec::new();
    for id in &ids {
        written.extend(write_policy(args, id).with_context(|| format!("policy {id}"))?);
    }
    if let Some(browser_wasm) = &args.browser_wasm {
        let inputs = playground::Inputs {
            browser_wasm,
            site: &args.site,
            examples: &args.examples,
        };
        written.extend(playground::write(&args.out, &inputs, &ids).context("playground")?);
    }
    written.sort();
    let sums: String = written
        .iter()
        .map(|rel| {
            let bytes = fs::read(args.out.join(rel))?;
            Ok(format!("{}  {rel}\n", hex::encode(Sha256::digest(&bytes))))
        })
        .collect::<Result<_>>()?;
    write(&args.out.join("SHA256SUMS"), sums.as_bytes())?;
    println!("wrote {} policies to {}", ids.len(), args.out.display());
    Ok(())
}

/// Policy ids: the folders under `dir` that hold a `metadata.yml`, sorted.
fn policy_ids(dir: &Path) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.join("metadata.yml").is_file() {
            ids.push(
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    ids.sort();
    Ok(ids)
}

/// Writes one policy's files and returns their paths relative to the output folder.
fn write_policy(args: &Args, id: &str) -> Result<Vec<String>> {
    let dir = args.policies.join(id);
    let metadata_yml = read_text(&dir.join("metadata.yml"))?;
    let readme = read_text(&dir.join("README.md"))?;
    let mut metadata = Metadata::from_yaml(&metadata_yml).context("metadata.yml")?;
    ensure!(
        metadata.title() == Some(id),
        "metadata.yml: io.kubewarden.policy.title must be {id:?}"
    );
    metadata
        .annotations
        .insert(aksid_metadata::USAGE.to_owned(), readme);
    let module_path = args.modules.join(format!("{}.wasm", id.replace('-', "_")));
    let module = fs::read(&module_path).with_context(|| {
        format!(
            "reading {}; build it first: cargo build --release --target wasm32-wasip1 -p {id}",
            module_path.display()
        )
    })?;
    let annotated = annotate(&module, &metadata.with_protocol_version())?;
    if annotated.len() > MAX_MODULE_BYTES {
        bail!(
            "annotated module is {} KiB, over the {} KiB budget",
            annotated.len() / 1024,
            MAX_MODULE_BYTES / 1024
        );
    }
    let version = metadata
        .annotation(aksid_metadata::VERSION)
        .unwrap_or("0.1.0")
        .to_owned();
    let image = format!("{}/{id}:v{version}", args.registry);
    let policy = cluster_admission_policy(
        id,
        &format!("registry://{image}"),
        &metadata,
        &json!({}),
        PolicyMode::Protect,
    );
    let files = [
        ("policy.wasm", annotated),
        ("metadata.yml", metadata_yml.into_bytes()),
        (
            "artifacthub-pkg.yml",
            artifacthub_pkg(id, &version, &image, &metadata, &args.created_at)?.into_bytes(),
        ),
        (
            "cluster-admission-policy.yaml",
            serde_saphyr::to_string(&policy)?.into_bytes(),
        ),
    ];
    let out = args.out.join(id);
    fs::create_dir_all(&out)?;
    files
        .into_iter()
        .map(|(name, bytes)| {
            write(&out.join(name), &bytes)?;
            Ok(format!("{id}/{name}"))
        })
        .collect()
}

/// The Artifact Hub package description, in the shape `kwctl scaffold artifacthub` writes.
fn artifacthub_pkg(
    id: &str,
    version: &str,
    image: &str,
    metadata: &Metadata,
    created_at: &str,
) -> Result<String> {
    let annotation = |k: &str| metadata.annotation(k).unwrap_or_default().to_owned();
    let rules = serde_saphyr::to_string(&metadata.rules)?;
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        "kubewarden/mutation".into(),
        json!(metadata.mutating.to_string()),
    );
    annotations.insert("kubewarden/rules".into(), json!(rules));
    if !metadata.context_aware_resources.is_empty() {
        annotations.insert(
            "kubewarden/contextAwareResources".into(),
            json!(serde_saphyr::to_string(&metadata.context_aware_resources)?),
        );
    }
    let resources: Vec<String> = metadata
        .rules
        .iter()
        .flat_map(|r| r.resources.clone())
        .collect();
    annotations.insert("kubewarden/resources".into(), json!(resources.join(",")));
    let pkg = json!({
        "version": version,
        "name": id,
        "displayName": id,
        "createdAt": created_at,
        "description": annotation(aksid_metadata::DESCRIPTION),
        "license": annotation("io.kubewarden.policy.license"),
        "homeURL": annotation("io.kubewarden.policy.url"),
        "containersImages": [{"name": "policy", "image": image}],
        "keywords": ["aks", "azure", "identity", "kubewarden", id],
        "links": [
            {"name": "policy", "url": format!("https://github.com/aksid/aksid/releases/download/v{version}/{id}.wasm")},
            {"name": "source", "url": annotation("io.kubewarden.policy.source")},
        ],
        "install": format!("kubectl aksid pull registry://{image}\n"),
        "maintainers": [{"name": annotation("io.kubewarden.policy.author"), "email": "aksid@users.noreply.github.com"}],
        "provider": {"name": "aksid"},
        "recommendations": [{"url": "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller"}],
        "annotations": annotations,
    });
    Ok(serde_saphyr::to_string(&pkg)?)
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
