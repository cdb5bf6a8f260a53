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
