//! The compiled-module caches: in memory per host, on disk across hosts (and processes).

use crate::util::*;
use aksid_host::{Host, HostConfig, ModuleSource};
use std::time::Instant;

fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("aksid-host-{test}-"))
        .tempdir()
        .unwrap()
}

fn cache_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_fresh_host_deserialises_instead_of_compiling() {
    let dir = scratch("cache-hit");
    let config = || HostConfig::default().cache_dir(Some(dir.path().to_owned()));
    let wasm = hostile_module();

    let first = Host::new(config()).unwrap();
    let started = Instant::now();
    let compiled = first.load(&wasm).unwrap();
    let compile_time = started.elapsed();
    assert_eq!(compiled.module_source(), ModuleSource::Compiled);
    assert_eq!(
        first.load(&wasm).unwrap().module_source(),
        ModuleSource::MemoryCache
    );

    let files = cache_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].ends_with(".cwasm") && files[0].len() == 64 + 6,
        "{files:?}"
    );

    let second = Host::new(config()).unwrap();
    let started = Instant::now();
    let cached = second.load(&wasm).unwrap();
    let cached_time = started.elapsed();
    assert_eq!(cached.module_source(), ModuleSource::DiskCache);
    eprintln!("hostile-policy: compiled in {compile_time:?}, from the cache in {cached_time:?}");
    assert!(
        cached_time < compile_time,
        "{cached_time:?} vs {compile_time:?}"
    );
    assert_evaluates_normally(&cached);
}

#[test]
fn a_damaged_cache_file_is_recompiled_and_replaced() {
    let dir = scratch("cache-damaged");
    let config = || HostConfig::default().cache_dir(Some(dir.path().to_owned()));
    let wasm = hostile_module();
    Host::new(config()).unwrap().load(&wasm).unwrap();
    let file = dir.path().join(&cache_files(dir.path())[0]);
    let whole = std::fs::read(&file).unwrap();
    std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();

    let policy = Host::new(config()).unwrap().load(&wasm).unwrap();
    assert_eq!(policy.module_source(), ModuleSource::Compiled);
    assert_evaluates_normally(&policy);
    assert_eq!(std::fs::read(&file).unwrap(), whole, "rewritten whole");
    let again = Host::new(config()).unwrap().load(&wasm).unwrap();
    assert_eq!(again.module_source(), ModuleSource::DiskCache);
}

#[test]
fn no_cache_dir_means_no_files() {
    let host = Host::new(HostConfig::default()).unwrap();
    let policy = host.load(&hostile_module()).unwrap();
    assert_eq!(policy.module_source(), ModuleSource::Compiled);
}

const ACCEPT: &str = r#"(module
    (import "wapc" "__guest_response" (func $response (param i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "{\"accepted\":true}")
    (func (export "__guest_call") (param i32 i32) (result i32)
        (call $response (i32.const 0) (i32.const 17))
        (i32.const 1)))"#;

/// Rejects everything: its compiled code planted under the accepting module's name must never
/// change the verdict.
const REJECT: &str = r#"(module
    (import "wapc" "__guest_response" (func $response (param i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "{\"accepted\":false,\"message\":\"planted\"}")
    (func (export "__guest_call") (param i32 i32) (result i32)
        (call $response (i32.const 0) (i32.const 38))
        (i32.const 1)))"#;

fn accepted(policy: &aksid_host::Policy) -> bool {
    policy
        .validate(
            &admission_request(pod("p")),
            &serde_json::json!({}),
            &Default::default(),
        )
        .unwrap()
        .accepted
}

/// Compiles `wasm` into a fresh cache `dir` and returns its cache file.
fn cached_file(dir: &std::path::Path, wasm: &[u8]) -> std::path::PathBuf {
    let before = cache_files(dir);
    let host = Host::new(HostConfig::default().cache_dir(Some(dir.to_owned()))).unwrap();
    assert_eq!(
        host.load(wasm).unwrap().module_source(),
        ModuleSource::Compiled
    );
    let after = cache_files(dir);
    let new: Vec<_> = after.iter().filter(|f| !before.contains(f)).collect();
    assert_eq!(new.len(), 1, "{after:?}");
    dir.join(new[0])
}

fn flip_a_byte_of_code(file: &std::path::Path) {
    let mut bytes = std::fs::read(file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(file, bytes).unwrap();
}

fn truncate(file: &std::path::Path) {
    let bytes = std::fs::read(file).unwrap();
    std::fs::write(file, &bytes[..bytes.len() - 100]).unwrap();
}

fn plant_the_rejecting_modules_entry(file: &std::path::Path) {
    let other = cached_file(file.parent().unwrap(), &wat_module("reject", REJECT));
    std::fs::rename(other, file).unwrap();
}

fn make_group_writable(file: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o620)).unwrap();
}

fn give_to_another_user(file: &std::path::Path) {
    // Only root can give a file away; as another user the case cannot be built.
    std::os::unix::fs::chown(file, Some(4242), None).expect("the suite runs as root");
}

fn replace_with_a_symlink_to_the_rejecting_modules_entry(file: &std::path::Path) {
    let other = cached_file(file.parent().unwrap(), &wat_module("reject", REJECT));
    std::fs::remove_file(file).unwrap();
    std::os::unix::fs::symlink(other, file).unwrap();
}

/// Issue 9: a planted or damaged cache entry changed a verdict or crashed every later run.
#[rstest::rstest]
#[case::a_flipped_byte(flip_a_byte_of_code)]
#[case::a_truncated_file(truncate)]
#[case::another_modules_entry_under_this_name(plant_the_rejecting_modules_entry)]
#[case::a_group_writable_file(make_group_writable)]
#[case::a_file_of_another_user(give_to_another_user)]
#[case::a_symlink_to_another_entry(replace_with_a_symlink_to_the_rejecting_modules_entry)]
fn a_bad_cache_entry_is_recompiled_and_judges_as_before(#[case] spoil: fn(&std::path::Path)) {
    let dir = scratch("cache-bad-entry");
    let wasm = wat_module("accept", ACCEPT);
    let file = cached_file(dir.path(), &wasm);
    spoil(&file);

    let host = Host::new(HostConfig::default().cache_dir(Some(dir.path().to_owned()))).unwrap();
    let policy = host.load(&wasm).unwrap();
    assert_eq!(policy.module_source(), ModuleSource::Compiled);
    assert!(accepted(&policy), "the verdict of the accepting module");
    let meta = std::fs::symlink_metadata(&file).unwrap();
    assert!(meta.file_type().is_file(), "replaced by a regular file");
    let again = Host::new(HostConfig::default().cache_dir(Some(dir.path().to_owned()))).unwrap();
    let policy = again.load(&wasm).unwrap();
    assert_eq!(
        policy.module_source(),
        ModuleSource::DiskCache,
        "and rewritten whole"
    );
    assert!(accepted(&policy));
}

/// Issue 9: temporary cache files had predictable names and were created through symlinks
/// (a root-owned 0600 file was overwritten).
#[test]
fn a_symlink_planted_at_the_destination_is_replaced_not_followed() {
    let dir = scratch("cache-planted-symlink");
    let wasm = wat_module("accept", ACCEPT);
    let probe = scratch("cache-planted-symlink-probe");
    let name = cached_file(probe.path(), &wasm);
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let destination = cache.join(name.file_name().unwrap());
    std::os::unix::fs::symlink(&victim, &destination).unwrap();

    let host = Host::new(HostConfig::default().cache_dir(Some(cache.clone()))).unwrap();
    assert!(accepted(&host.load(&wasm).unwrap()));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::symlink_metadata(&destination).unwrap().is_file());
    let names = cache_files(&cache);
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
}

#[test]
fn cache_files_and_created_directories_are_private() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch("cache-private");
    let cache = dir.path().join("nested/modules");
    let host = Host::new(HostConfig::default().cache_dir(Some(cache.clone()))).unwrap();
    host.load(&wat_module("accept", ACCEPT)).unwrap();
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("nested")), 0o700);
    assert_eq!(mode(&cache), 0o700);
    let files = cache_files(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(mode(&cache.join(&files[0])), 0o600);
}

#[test]
fn verify_dir_removes_bad_entries_and_keeps_good_and_unknown_files() {
    let dir = scratch("cache-verify");
    let good = cached_file(dir.path(), &wat_module("accept", ACCEPT));
    let bad = cached_file(dir.path(), &wat_module("reject", REJECT));
    flip_a_byte_of_code(&bad);
    let unknown = dir.path().join("notes.txt");
    std::fs::write(&unknown, b"not aksid's").unwrap();

    let scan = aksid_host::cache::verify_dir(dir.path()).unwrap();
    assert_eq!(scan.entries, 2);
    assert_eq!(scan.removed.len(), 1, "{scan:?}");
    assert_eq!(scan.removed[0].path, bad);
    assert_eq!(
        scan.removed[0].reason,
        "its SHA-256 does not match its content (damaged or tampered with)"
    );
    assert!(good.exists() && unknown.exists() && !bad.exists());

    let cleared = aksid_host::cache::clear_dir(dir.path()).unwrap();
    assert_eq!(cleared.removed.len(), 1);
    assert!(cleared.removed_bytes > 1000, "{cleared:?}");
    assert!(!good.exists() && unknown.exists());
}
