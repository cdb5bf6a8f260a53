use super::*;
use rstest::rstest;
use std::time::{Duration, Instant};

/// Reads `paths` with a 1 KiB cap per file and no total.
fn read(paths: &[PathBuf], no_ignore: bool) -> ReadResult {
    read_all(paths, no_ignore, &mut Budget::new(1024, usize::MAX))
}

/// A scratch directory named after the test, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aksid-inputs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn names(result: &ReadResult, dir: &Path) -> Vec<String> {
    let prefix = dir.to_str().unwrap();
    result
        .inputs
        .iter()
        .map(|i| i.name.trim_start_matches(prefix).to_owned())
        .collect()
}

#[test]
fn directories_are_walked_in_order_skipping_hidden_and_other_files() {
    let dir = scratch("order");
    std::fs::create_dir_all(dir.join("b/.git")).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    for f in ["b/z.yaml", "a.yml", "b/.git/x.yaml", "notes.txt", "c.JSON"] {
        std::fs::write(dir.join(f), "kind: X").unwrap();
    }
    std::fs::write(dir.join("big.yaml"), vec![b'#'; 2048]).unwrap();
    let result = read(
        &[dir.clone(), dir.join("empty"), dir.join("missing.yaml")],
        false,
    );
    assert_eq!(names(&result, &dir), ["/a.yml", "/b/z.yaml", "/c.JSON"]);
    assert!(result.inputs.iter().all(|i| i.walked));
    let messages: Vec<&str> = result.failures.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages[0],
        "file is 2.0 KiB, larger than the 1 KiB limit; raise it with --max-file-size"
    );
    assert_eq!(result.failures[0].kind, ProblemKind::TooLarge);
    assert!(
        messages[1].contains("no .yaml, .yml or .json"),
        "{messages:?}"
    );
    assert!(messages[2].contains("cannot read"), "{messages:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// Regression: `ln -s . loop` inside a checked directory read every file 42 times, and two such
// links made the walk effectively endless (2,000,000 directory visits in 72 s, still going).
#[test]
fn symlink_loops_are_not_followed_and_each_file_is_read_once() {
    let dir = scratch("loops");
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::write(dir.join("apps/web.yaml"), "kind: X").unwrap();
    std::fs::write(dir.join("top.yaml"), "kind: X").unwrap();
    std::os::unix::fs::symlink(".", dir.join("loop")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("apps/up")).unwrap();
    let started = Instant::now();
    let result = read(std::slice::from_ref(&dir), false);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(names(&result, &dir), ["/apps/web.yaml", "/top.yaml"]);
    let notices: Vec<String> = result
        .failures
        .iter()
        .map(|f| {
            format!(
                "{} {:?} {} {}",
                f.name.trim_start_matches(dir.to_str().unwrap()),
                f.kind,
                f.is_error,
                f.message
            )
        })
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices
            .iter()
            .all(|n| n.contains("NotFollowed false symbolic link to")),
        "{notices:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gitignored_files_are_skipped_unless_no_ignore() {
    let dir = scratch("gitignore");
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::create_dir_all(dir.join("charts/out")).unwrap();
    std::fs::write(dir.join(".gitignore"), "out/\n").unwrap();
    std::fs::write(dir.join("charts/out/rendered.yaml"), "kind: X").unwrap();
    std::fs::write(dir.join("charts/app.yaml"), "kind: X").unwrap();
    let result = read(std::slice::from_ref(&dir), false);
    assert_eq!(names(&result, &dir), ["/charts/app.yaml"]);
    let all = read(std::slice::from_ref(&dir), true);
    assert_eq!(
        names(&all, &dir),
        ["/charts/app.yaml", "/charts/out/rendered.yaml"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// Regression: the size limit was checked against the reported size, 0 for devices and FIFOs:
// `-f /dev/zero` reached 3 GB in 4 s.
#[test]
fn devices_and_fifos_are_refused_without_reading() {
    let dir = scratch("devices");
    let fifo = dir.join("pipe.yaml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let result = read(&[PathBuf::from("/dev/zero"), fifo], false);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(result.inputs.is_empty());
    assert_eq!(result.failures.len(), 2);
    for failure in &result.failures {
        assert_eq!(failure.kind, ProblemKind::Unreadable);
        assert!(
            failure.message.starts_with("not a regular file"),
            "{}",
            failure.message
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reads_stop_at_the_limit_whatever_the_source() {
    assert_eq!(
        read_bounded(&b"12345"[..], 5).unwrap(),
        Some(b"12345".to_vec())
    );
    assert_eq!(read_bounded(&b"123456"[..], 5).unwrap(), None);
    let endless = std::io::repeat(b'a');
    assert_eq!(read_bounded(endless, 1 << 20).unwrap(), None);
}

/// Three files of 400, 500 and 300 bytes under a total of `total` bytes (1 KiB each at most):
/// which are read, and the message of each that is not.
#[rstest]
#[case::all_fit_under_the_total(1200, &["a.yaml", "b.yaml", "c.yaml"], &[])]
#[case::the_one_that_passes_the_total_is_refused_and_a_later_one_that_fits_is_read(
    800,
    &["a.yaml", "c.yaml"],
    &["b.yaml: not read: the run's inputs together would pass the 800 bytes limit (400 bytes already read); raise it with --max-total-size"]
)]
#[case::nothing_left_refuses_every_later_file(
    400,
    &["a.yaml"],
    &[
        "b.yaml: not read: the run's inputs together would pass the 400 bytes limit (400 bytes already read); raise it with --max-total-size",
        "c.yaml: not read: the run's inputs together would pass the 400 bytes limit (400 bytes already read); raise it with --max-total-size",
    ]
)]
fn the_total_cap_is_counted_across_files(
    #[case] total: usize,
    #[case] read_files: &[&str],
    #[case] refused: &[&str],
) {
    let dir = scratch(&format!("total-{total}"));
    for (name, size) in [("a.yaml", 400), ("b.yaml", 500), ("c.yaml", 300)] {
        std::fs::write(dir.join(name), vec![b'#'; size]).unwrap();
    }
    let mut budget = Budget::new(1024, total);
    let result = read_all(std::slice::from_ref(&dir), false, &mut budget);
    let prefix = format!("{}/", dir.display());
    let names: Vec<&str> = result
        .inputs
        .iter()
        .map(|i| i.name.trim_start_matches(&prefix))
        .collect();
    assert_eq!(names, read_files);
    let messages: Vec<String> = result
        .failures
        .iter()
        .map(|f| {
            assert_eq!(f.kind, ProblemKind::TooLarge);
            format!("{}: {}", f.name.trim_start_matches(&prefix), f.message)
        })
        .collect();
    assert_eq!(messages, refused);
    let kept: usize = result.inputs.iter().map(|i| i.bytes.len()).sum();
    assert!(kept <= total);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stream (stdin, a kustomize render) has no size to check first: the total is enforced
/// while reading, and which limit stopped it is named.
#[rstest]
#[case::per_file_cap_is_the_smaller(Budget::new(100, 1000), "per-file")]
#[case::what_is_left_of_the_total_is_the_smaller(Budget { read: 950, ..Budget::new(100, 1000) }, "not read: the run's inputs together would pass the 1000 bytes limit (950 bytes already read); raise it with --max-total-size")]
fn streams_stop_at_the_smaller_limit(#[case] budget: Budget, #[case] message: &str) {
    let endless = std::io::repeat(b'a');
    assert_eq!(read_bounded(endless, budget.allowance()).unwrap(), None);
    assert_eq!(budget.overflow("per-file".to_owned()), message);
}
