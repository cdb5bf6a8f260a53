//! A large tree of real manifests for the benchmark's memory row. There is no network here, so
//! it stands in for Argo CD's 15 MB manifest tree (the size the security review measured): the
//! third-party manifests vendored in `tests/corpus/real` and `tests/corpus/wild`, copied until
//! the tree holds the size asked for, each copy in its own directory with its objects renamed
//! (so the run holds distinct objects, as a real tree does) and its files in a seeded order.
//!
//! Files that do not load cleanly (unrendered Helm templates, a malformed example) are left out:
//! a repository's tree is rendered, and the bench measures objects, not error messages.
//!
//! ```
//! let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
//! let files = aksid_bench::real_tree::build(&corpus, 1_000_000, 7).unwrap();
//! let bytes: usize = files.iter().map(|(_, text)| text.len()).sum();
//! assert!(bytes >= 1_000_000);
//! assert!(files[0].0.starts_with("copy-000/"));
//! assert_eq!(files, aksid_bench::real_tree::build(&corpus, 1_000_000, 7).unwrap());
//! ```

use crate::generate::rng::Rng;
use std::io;
use std::path::Path;

/// The size the benchmark builds: Argo CD's manifest tree, 15 MB.
pub const ARGO_CD_BYTES: usize = 15_000_000;

/// The corpus folders copied.
const FOLDERS: [&str; 2] = ["real", "wild"];

/// `(relative path, text)` of a tree of at least `bytes` bytes built from the clean manifests
/// under `corpus` (`tests/corpus`). Deterministic in `(corpus, bytes, seed)`.
pub fn build(corpus: &Path, bytes: usize, seed: u64) -> io::Result<Vec<(String, String)>> {
    let originals = clean_files(corpus)?;
    if originals.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no clean manifests under {}", corpus.display()),
        ));
    }
    let mut rng = Rng::new(seed);
    let mut files = Vec::new();
    let mut total = 0;
    let mut copy = 0;
    while total < bytes {
        let mut order: Vec<usize> = (0..originals.len()).collect();
        // Fisher–Yates with the seeded generator: each copy lists its files differently.
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &i in &order {
            let (path, text) = &originals[i];
            let renamed = rename(text, &format!("-c{copy:03}"));
            total += renamed.len();
            files.push((format!("copy-{copy:03}/{path}"), renamed));
        }
        copy += 1;
    }
    Ok(files)
}

/// The `.yaml` files of the corpus folders, sorted, that load without errors.
fn clean_files(corpus: &Path) -> io::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for folder in FOLDERS {
        let mut names: Vec<String> = std::fs::read_dir(corpus.join(folder))?
            .filter_map(|entry| Some(entry.ok()?.file_name().to_str()?.to_owned()))
            .filter(|name| name.ends_with(".yaml"))
            .collect();
        names.sort();
        for name in names {
            let path = format!("{folder}/{name}");
            let text = std::fs::read_to_string(corpus.join(&path))?;
            if !aksid_manifests::load(&path, text.as_bytes()).has_errors() {
                files.push((path, text));
            }
        }
    }
    Ok(files)
}

/// `text` with each top-level object's `metadata.name` given `suffix` (a line `  name: X`
/// inside a top-level `metadata:` block). Only that field: renaming a `roleRef` or an image
/// would change what the policies judge.
fn rename(text: &str, suffix: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut in_metadata = false;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if !content.starts_with([' ', '#', '-']) && !content.is_empty() {
            in_metadata = content == "metadata:";
        }
        match content.strip_prefix("  name: ").filter(|_| in_metadata) {
            Some(value) => {
                let (value, quote) = match value.strip_suffix(['"', '\'']) {
                    Some(unquoted) => (unquoted, &value[unquoted.len()..]),
                    None => (value, ""),
                };
                out.push_str(&format!("  name: {value}{suffix}{quote}"));
                out.push_str(&line[content.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_top_level_metadata_names_are_renamed() {
        let text = "apiVersion: v1\nkind: X\nmetadata:\n  name: web\n  labels:\n    name: keep\nroleRef:\n  name: cluster-admin\n---\nmetadata:\n  name: \"quoted\"\r\n";
        assert_eq!(
            rename(text, "-c001"),
            "apiVersion: v1\nkind: X\nmetadata:\n  name: web-c001\n  labels:\n    name: keep\nroleRef:\n  name: cluster-admin\n---\nmetadata:\n  name: \"quoted-c001\"\r\n"
        );
    }
}
