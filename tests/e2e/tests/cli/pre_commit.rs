//! aksid as a remote pre-commit hook, installed by the real `pre-commit` from this repository's
//! committed HEAD (`.pre-commit-hooks.yaml`; pre-commit runs `cargo install --path .`).

use crate::fixtures::*;
use crate::util::{Run, module_cache, run, scratch, venv_bin, workspace};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Runs `program ARGS` in `dir` with the hook's caches: pre-commit's home under `target/`,
/// so the hook environment survives between test runs, and cargo's build directory shared
/// with the workspace, so `cargo install` reuses the compiled dependencies (a cold install
/// otherwise compiles wasmtime again: minutes). Its final artifacts go to a directory of their
/// own: the install must not replace `target/release/kubectl-aksid`, which the other tests run
/// while it builds. Git reads no user or system configuration.
fn command(program: &Path, dir: &Path, args: &[&str]) -> Run {
    let target = workspace().join("target");
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env("PRE_COMMIT_HOME", target.join("pre-commit-home"))
        .env("CARGO_BUILD_BUILD_DIR", &target)
        .env("CARGO_TARGET_DIR", target.join("pre-commit-home/out"))
        // The hook's own crates get units of their own for each HEAD: cargo names a workspace
        // crate's unit after its workspace wrapper too, and the wrapper here is a pass-through
        // named after the HEAD. Shared unit names would let `cargo install` from pre-commit's
        // clone overwrite the workspace's units, and a later HEAD's install take an earlier
        // clone's units as fresh (their dependency info points into that unchanged clone).
        .env("RUSTC_WORKSPACE_WRAPPER", hook_build(&target))
        .env_remove("CLIPPY_ARGS")
        // `cargo install` (pre-commit's rust hooks) ignores Cargo.lock and would resolve
        // the newest releases on crates.io, recompiling much of the tree; offline, cargo
        // resolves to the crates already downloaded, which are the locked ones.
        .env("CARGO_NET_OFFLINE", "true")
        .env("AKSID_CACHE_DIR", module_cache())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "aksid tests")
        .env("GIT_AUTHOR_EMAIL", "tests@aksid.invalid")
        .env("GIT_COMMITTER_NAME", "aksid tests")
        .env("GIT_COMMITTER_EMAIL", "tests@aksid.invalid")
        .env("NO_COLOR", "1");
    // What cargo sets for this test binary (CARGO_MANIFEST_DIR, CARGO_PKG_NAME ...) is not in a
    // user's shell; ring's build script reruns when it changes, and would rebuild ring, rustls
    // and their dependents for the install, then again for the next build of the workspace.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
            || ["CARGO", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR"].contains(&&*name);
        if set_by_cargo {
            command.env_remove(&*name);
        }
    }
    let label = format!("{} {}", program.display(), args.join(" "));
    run(command, &label, None)
}

/// Prepares, once per test process, how pre-commit's `cargo install` builds the hook, and returns
/// its compiler wrapper: `target/pre-commit-home/rustc-HEAD`, which runs rustc as given (see
/// `command`). Beside it, a cargo configuration the install reads (it runs in its clone, below
/// `pre-commit-home`): the hook's own crates unoptimised, as they judge a few small files here;
/// the dependencies (wasmtime, Cranelift) stay the optimised units the workspace built.
fn hook_build(target: &Path) -> &'static Path {
    static WRAPPER: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    WRAPPER.get_or_init(|| {
        let home = target.join("pre-commit-home");
        std::fs::create_dir_all(home.join(".cargo")).unwrap();
        let unoptimised: String = HOOK_CRATES
            .iter()
            .map(|c| format!("[profile.release.package.{c}]\nopt-level = 0\n"))
            .collect();
        std::fs::write(home.join(".cargo/config.toml"), unoptimised).unwrap();
        let head = workspace_git(&["rev-parse", "--short=12", "HEAD"]);
        let wrapper = home.join(format!("rustc-{}", head.code(0).stdout.trim()));
        if !wrapper.exists() {
            aksid_tests::write_script(&wrapper, "#!/bin/sh\nexec \"$@\"\n");
        }
        wrapper
    })
}

/// The workspace crates `cargo install` of kubectl-aksid compiles.
const HOOK_CRATES: [&str; 8] = [
    "kubectl-aksid",
    "aksid-host",
    "aksid-manifests",
    "aksid-report",
    "aksid-metadata",
    "aksid-oci",
    "private-fs",
    "aksid-workspace-hack",
];

fn git(dir: &Path, args: &[&str]) -> Run {
    command(Path::new("git"), dir, args)
}

/// Reads the workspace's repository with the user's own git configuration (which may be
/// what marks it a safe directory).
fn workspace_git(args: &[&str]) -> Run {
    let mut command = Command::new("git");
    command.args(args).current_dir(workspace());
    run(command, &format!("git {}", args.join(" ")), None)
}

#[test]
fn aksid_as_a_remote_hook_blocks_a_bad_commit_and_passes_a_good_one() {
    let pre_commit = venv_bin("pre-commit");
    let workspace = workspace();
    let head = workspace_git(&["rev-parse", "HEAD"]);
    let head = head.code(0).stdout.trim().to_owned();
    for path in [
        ".pre-commit-hooks.yaml",
        "Cargo.toml",
        "Cargo.lock",
        "kubectl-plugin/src/main.rs",
        "artifacts/no-local-accounts/policy.wasm",
    ] {
        if workspace_git(&["cat-file", "-e", &format!("HEAD:{path}")]).code != Some(0) {
            panic!(
                "HEAD ({head}) lacks {path}: pre-commit installs the hook from committed content; commit it"
            );
        }
    }
    let dirty = workspace_git(&[
        "status",
        "--porcelain",
        "--",
        ".pre-commit-hooks.yaml",
        "Cargo.toml",
        "Cargo.lock",
        "kubectl-plugin",
        "host",
        "policies",
        "artifacts",
    ]);
    if !dirty.stdout.trim().is_empty() {
        eprintln!(
            "note: pre-commit builds the committed HEAD {head}; these uncommitted changes are not part of this test:\n{}",
            dirty.stdout
        );
    }

    let s = scratch!();
    let repo = s.dir.join("manifests");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]).code(0);
    s.write(
        "manifests/.pre-commit-config.yaml",
        format!(
            "repos:\n  - repo: {}\n    rev: {head}\n    hooks:\n      - id: aksid\n",
            workspace.display()
        ),
    );
    command(&pre_commit, &repo, &["install"]).code(0);
    let started = Instant::now();
    let install = command(&pre_commit, &repo, &["install-hooks"]);
    install.code(0);
    eprintln!(
        "pre-commit install-hooks: {:.0?} (cargo install of kubectl-aksid at {head} unless target/pre-commit-home already had it)",
        started.elapsed()
    );

    s.write("manifests/deploy/api.yaml", BAD_DEPLOYMENT)
        .write("manifests/README.md", "# manifests\n");
    git(&repo, &["add", "."]).code(0);
    let commit = git(&repo, &["commit", "-q", "-m", "add the api"]);
    let output = format!("{}{}", commit.stdout, commit.stderr);
    if commit.code == Some(0)
        || !output.contains("no-plaintext-secret-env")
        || !output.contains("deploy/api.yaml")
    {
        commit.fail(
            "the commit of a bad manifest to fail, naming the policy and the file",
            "non-zero exit; no-plaintext-secret-env; deploy/api.yaml",
            None,
        );
    }
    assert!(output.contains("Failed"), "pre-commit's verdict:\n{output}");
    git(&repo, &["rev-parse", "--verify", "-q", "HEAD"]).code(1);

    s.write("manifests/deploy/api.yaml", GOOD_DEPLOYMENT);
    git(&repo, &["add", "."]).code(0);
    let commit = git(
        &repo,
        &["commit", "-m", "add the api, secret from a Secret"],
    );
    commit.code(0);
    let output = format!("{}{}", commit.stdout, commit.stderr);
    assert!(output.contains("Passed"), "pre-commit's verdict:\n{output}");
    git(&repo, &["rev-parse", "--verify", "-q", "HEAD"]).code(0);
    // Hook environments of earlier HEADs are no longer used by any configuration.
    command(&pre_commit, &repo, &["gc"]).code(0);
}
