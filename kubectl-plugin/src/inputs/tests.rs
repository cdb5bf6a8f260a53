use super::*;
use std::time::{Duration, Instant};

const OPTIONS: ReadOptions = ReadOptions {
    max_file_size: 1024,
    no_ignore: false,
};

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
    let result = read_all(
        &[dir.clone(), dir.join("empty"), dir.join("missing.yaml")],
        OPTIONS,
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
    let result = read_all(std::slice::from_ref(&dir), OPTIONS);
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
    let result = read_all(std::slice::from_ref(&dir), OPTIONS);
    assert_eq!(names(&result, &dir), ["/charts/app.yaml"]);
    let all = read_all(
        std::slice::from_ref(&dir),
        ReadOptions {
            no_ignore: true,
            ..OPTIONS
        },
    );
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
    let result = read_all(&[PathBuf::from("/dev/zero"), fifo], OPTIONS);
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
