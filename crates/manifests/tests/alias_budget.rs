//! Alias bombs are refused quickly and within a small memory bound (issue 9: a 1 MiB file built
//! on one large string once expanded past 5 GB). The allocator of this test binary counts the
//! peak of live heap bytes, so the bound is measured, not assumed.

use aksid_manifests::{ProblemKind, load};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One test only: the peak is per process.
#[test]
fn alias_bombs_are_refused_quickly_within_a_small_memory_bound() {
    let big = "x".repeat(1 << 20);
    let aliases = vec!["*a"; 5000].join(", ");
    let one_string = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a: &a {big}\n  b: [{aliases}]\n"
    );
    let mut nested = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\nx:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10]
            .join(", ")
            .replace("*a0", "*a");
        nested.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    for (name, text) in [("one-string.yaml", &one_string), ("nested.yaml", &nested)] {
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let started = Instant::now();
        let loaded = load(name, text.as_bytes());
        let elapsed = started.elapsed();
        let peak = PEAK.load(Ordering::Relaxed) - before;
        assert_eq!(loaded.problems.len(), 1, "{name}: {:?}", loaded.problems);
        let problem = &loaded.problems[0];
        assert_eq!(problem.kind, ProblemKind::MalformedYaml, "{problem}");
        assert!(
            problem
                .message
                .contains("aliases expand to more than 32 MiB"),
            "{problem}"
        );
        assert!(elapsed < Duration::from_secs(2), "{name}: took {elapsed:?}");
        assert!(peak < 96 << 20, "{name}: peaked at {} MiB", peak >> 20);
    }
}
