//! The caches through the built binary (issue 9): a planted, damaged or foreign compiled module
//! never changes a verdict, an unsafe cache directory is refused with the fix, the size cap is
//! kept, and `kubectl aksid cache dir|clear|verify` do what their help says. Each test has its
//! own cache directory (never the suite's shared one) and a controlled environment.

use crate::util::{Run, binary, run, scratch};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Rejected by no-plaintext-secret-env: a literal password in an env value.
const LEAKY: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  namespace: shop
spec:
  selector:
    matchLabels: {app: orders}
  template:
    metadata:
      labels: {app: orders}
    spec:
      containers:
        - name: api
          image: contoso.azurecr.io/orders:1.4.2
          env:
            - name: RABBITMQ_PASS
              value: \"password\"
";

const FINDING: &str = "env[RABBITMQ_PASS]: value is a literal password in plain text";

/// Runs the binary in `dir` with only the environment given (no HOME, no AKSID_CACHE_DIR).
fn aksid(dir: &Path, env: &[(&str, &Path)], args: &[&str]) -> Run {
    let mut command = Command::new(binary());
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("NO_COLOR", "1");
    for (name, value) in env {
        command.env(name, value);
    }
    let run = run(command, &format!("kubectl-aksid {}", args.join(" ")), None);
    run.assert_no_crash();
    run
}

/// A run as fenced blocks, for failure messages.
fn shown(run: &Run) -> String {
    format!(
        "`{}` exited {:?}\nstdout:\n```\n{}\n```\nstderr:\n```\n{}\n```",
        run.command, run.code, run.stdout, run.stderr
    )
}

fn with_cache(dir: &Path, cache: &Path, args: &[&str]) -> Run {
    aksid(dir, &[("AKSID_CACHE_DIR", cache)], args)
}

/// The compiled-module files of a cache root, sorted.
fn modules(cache: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(cache.join("modules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

fn check_leaky(dir: &Path, cache: &Path) -> Run {
    let run = with_cache(dir, cache, &["check", "-f", "leaky.yaml"]);
    run.code(1).stdout_has(FINDING);
    run
}

fn flip_a_byte(file: &Path) {
    let mut bytes = std::fs::read(file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(file, bytes).unwrap();
}

fn truncate(file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    std::fs::write(file, &bytes[..bytes.len() / 3]).unwrap();
}

/// Issue 9: a planted cache entry made a Deployment with plaintext secrets pass (exit 0), and
/// one flipped byte made every later run crash until the cache was deleted by hand.
#[rstest::rstest]
#[case::a_flipped_byte_in_every_entry("flipped", |files: &[PathBuf]| files.iter().for_each(|f| flip_a_byte(f)))]
#[case::every_entry_truncated("truncated", |files: &[PathBuf]| files.iter().for_each(|f| truncate(f)))]
#[case::each_entry_replaced_by_another_policys(
    "foreign",
    |files: &[PathBuf]| {
        let first = std::fs::read(&files[0]).unwrap();
        for pair in files.windows(2) {
            std::fs::copy(&pair[1], &pair[0]).unwrap();
        }
        std::fs::write(files.last().unwrap(), first).unwrap();
    }
)]
fn a_bad_compiled_module_is_recompiled_and_the_verdict_holds(
    #[case] name: &str,
    #[case] spoil: fn(&[PathBuf]),
) {
    let s = scratch!(name);
    s.write("leaky.yaml", LEAKY);
    let cache = s.dir.join("cache");
    let first = check_leaky(&s.dir, &cache);
    let files = modules(&cache);
    assert!(files.len() >= 2, "{files:?}\n{}", shown(&first));
    spoil(&files);

    let run = check_leaky(&s.dir, &cache);
    assert_eq!(
        run.stdout,
        first.stdout,
        "the same findings\n{}",
        shown(&run)
    );
    run.stderr_has("warning: ignoring compiled-module cache file");
    let healed = check_leaky(&s.dir, &cache);
    assert!(
        !healed.stderr.contains("warning"),
        "rewritten whole:\n{}",
        shown(&healed)
    );
}

#[test]
fn a_group_writable_cache_directory_is_refused_with_the_fix() {
    let s = scratch!();
    s.write("leaky.yaml", LEAKY);
    let cache = s.dir.join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o775)).unwrap();

    let run = check_leaky(&s.dir, &cache);
    let expected = format!(
        "warning: not using the compiled-module cache: the cache directory {0} is writable by \
         group or others (mode 0775): another user could plant compiled code that aksid would \
         run\n\nRun `chmod 700 {0}`, or point --cache-dir or AKSID_CACHE_DIR at a private directory\n",
        cache.display()
    );
    assert_eq!(run.stderr, expected, "\n{}", shown(&run));
    assert!(!cache.join("modules").exists(), "nothing written there");

    let verify = with_cache(&s.dir, &cache, &["cache", "verify"]);
    verify
        .code(2)
        .stderr_has("is writable by group or others (mode 0775)");

    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = check_leaky(&s.dir, &cache);
    assert_eq!(run.stderr, "", "\n{}", shown(&run));
    assert!(!modules(&cache).is_empty());
}

#[test]
fn cache_dir_prints_the_root_or_says_how_to_set_one() {
    let s = scratch!();
    let cache = s.dir.join("mine");
    let run = with_cache(&s.dir, &cache, &["cache", "dir"]);
    run.code(0);
    assert_eq!(
        run.stdout,
        format!("{}\n", cache.display()),
        "\n{}",
        shown(&run)
    );
    let flag = aksid(&s.dir, &[], &["cache", "dir", "--cache-dir", "/ci/aksid"]);
    assert_eq!(flag.code(0).stdout, "/ci/aksid\n");
    let home = aksid(
        &s.dir,
        &[("HOME", Path::new("/home/me"))],
        &["cache", "dir"],
    );
    assert_eq!(home.code(0).stdout, "/home/me/.cache/aksid\n");

    let none = aksid(&s.dir, &[], &["cache", "dir"]);
    none.code(2)
        .stderr_has("no cache directory: --cache-dir and AKSID_CACHE_DIR are not set");
    none.stderr_has("Set AKSID_CACHE_DIR or pass --cache-dir DIR");
    assert_eq!(none.stdout, "");
}

#[test]
fn verify_removes_bad_entries_and_clear_removes_only_what_aksid_wrote() {
    let s = scratch!();
    s.write("leaky.yaml", LEAKY);
    let cache = s.dir.join("cache");
    check_leaky(&s.dir, &cache);
    let files = modules(&cache);
    let clean = with_cache(&s.dir, &cache, &["cache", "verify"]);
    clean
        .code(0)
        .stdout_has(&format!("{} entries, all good", files.len()));

    flip_a_byte(&files[0]);
    let planted = cache
        .join("modules")
        .join(format!("{}.cwasm", "ab".repeat(32)));
    std::fs::write(&planted, b"AKSIDCW\x02 planted").unwrap();
    let unknown = cache.join("modules/notes.txt");
    std::fs::write(&unknown, b"not aksid's").unwrap();
    let bad = with_cache(&s.dir, &cache, &["cache", "verify"]);
    bad.code(1)
        .stdout_has(&format!(
            "removed {}: its SHA-256 does not match its content (damaged or tampered with)",
            files[0].display()
        ))
        .stdout_has(&format!(
            "removed {}: it is shorter than its header",
            planted.display()
        ))
        .stdout_has("2 bad and removed");
    with_cache(&s.dir, &cache, &["cache", "verify"]).code(0);

    let cleared = with_cache(&s.dir, &cache, &["cache", "clear"]);
    cleared
        .code(0)
        .stdout_has(&format!(
            "{} compiled modules and 0 pulled policies removed",
            files.len() - 1
        ))
        .stdout_has(" freed");
    assert!(modules(&cache).is_empty());
    assert!(unknown.exists(), "unknown files stay");
    with_cache(&s.dir, &cache, &["cache", "verify"])
        .code(0)
        .stdout_has("0 entries, all good");
}

#[test]
fn clear_never_follows_a_symlink_out_of_the_cache() {
    let s = scratch!();
    let cache = s.dir.join("cache");
    let outside = s.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let precious = outside.join(format!("{}.cwasm", "cd".repeat(32)));
    std::fs::write(&precious, b"precious").unwrap();
    std::fs::create_dir_all(cache.join("modules")).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(
        cache.join("modules"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let link = cache
        .join("modules")
        .join(format!("{}.cwasm", "ef".repeat(32)));
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    std::os::unix::fs::symlink(&outside, cache.join("oci")).unwrap();

    let refused = with_cache(&s.dir, &cache, &["cache", "clear"]);
    refused.code(2).stderr_has(&format!(
        "the cache directory {} is a symlink",
        cache.join("oci").display()
    ));
    std::fs::remove_file(cache.join("oci")).unwrap();
    with_cache(&s.dir, &cache, &["cache", "clear"])
        .code(0)
        .stdout_has("1 compiled modules and 0 pulled policies removed, 0 bytes freed");
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "the link is gone"
    );
    assert_eq!(std::fs::read(&precious).unwrap(), b"precious");
}

#[test]
fn the_cache_stays_under_its_size_cap() {
    let s = scratch!();
    s.write("leaky.yaml", LEAKY);
    let uncapped = s.dir.join("uncapped");
    check_leaky(&s.dir, &uncapped);
    let mut sizes: Vec<u64> = modules(&uncapped)
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .collect();
    sizes.sort();
    assert!(sizes.len() >= 3, "{sizes:?}");
    let cap = sizes[sizes.len() - 1] + sizes[sizes.len() - 2];

    let capped = s.dir.join("capped");
    let cap_text = cap.to_string();
    let run = aksid(
        &s.dir,
        &[
            ("AKSID_CACHE_DIR", &capped),
            ("AKSID_CACHE_MAX_BYTES", Path::new(&cap_text)),
        ],
        &["check", "-f", "leaky.yaml"],
    );
    run.code(1).stdout_has(FINDING);
    let kept = modules(&capped);
    let total: u64 = kept
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(total <= cap, "{total} > {cap}: {kept:?}");
    assert!(kept.len() < sizes.len() && !kept.is_empty(), "{kept:?}");
}

#[test]
fn help_teaches_with_examples() {
    let s = scratch!();
    let help = aksid(&s.dir, &[], &["cache", "--help"]);
    help.code(0)
        .stdout_has("kubectl aksid cache verify")
        .stdout_has("AKSID_CACHE_MAX_BYTES")
        .stdout_has("/tmp")
        .stdout_has("least recently used evicted first");
}
