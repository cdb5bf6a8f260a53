//! The two passes of `check` over the inputs it read, so that peak memory follows what the
//! policies need rather than the size of the run.
//!
//! Context-aware policies look objects up in the whole run (a Pod's ServiceAccount may be in
//! another file), so nothing can be judged before every input is parsed. Holding every parsed
//! object until then made memory about 20 times the input (10,000 objects: 206 MiB). Instead:
//!
//! - Pass 1 ([`survey`]) parses every input, in parallel, and keeps only what outlives an
//!   object: its file and load problems (recorded in the report), the object count and sources,
//!   and the objects of the kinds some policy declares in `contextAwareResources`. Every other
//!   object is dropped as soon as its input is parsed.
//! - Pass 2 ([`judge_sources`]) parses the inputs again, a batch of about [`BATCH_BYTES`] at a
//!   time, judges the batch's objects against the now complete context, records their verdicts
//!   and drops the objects and the batch's bytes before the next batch.
//!
//! Peak memory is then the context, the report, one batch, and the bytes of the inputs that
//! cannot be read again (stdin, kustomize renders; capped by `--max-total-size`). A regular
//! file is read again in pass 2 and must be what pass 1 read (same length and hash), else it
//! is an error of the run: a report must not mix two versions of a file. Without declared kinds
//! there is no context to collect: pass 1 is skipped and pass 2 records what it would have (one
//! parse, nothing read twice). Parsing is deterministic, so both passes see the same objects in
//! the same order.

use super::{Judge, Outcomes, context_objects, evaluate_objects, record_verdicts};
use crate::inputs::Input;
use crate::kustomize;
use crate::policy_set::ReadyPolicy;
use aksid_host::ObjectSet;
use aksid_manifests::{
    InputProblem, LoadOptions, Loaded, Manifest, ProblemKind, RequestOptions, load_with,
};
use aksid_report::{InputError, ReportBuilder};
use rayon::prelude::*;
use std::path::PathBuf;

/// Input bytes parsed and judged together in pass 2: enough files to keep every core busy, few
/// enough that their parsed objects (about 10 to 20 times the bytes) stay small next to the
/// rest of the run. A batch ends once it holds this much, so it is at most this plus one input.
pub const BATCH_BYTES: usize = 1 << 20;

/// One input of a run, between the passes.
#[derive(Debug)]
pub struct Source {
    name: String,
    walked: bool,
    kustomize_root: Option<PathBuf>,
    content: Content,
}

/// Where pass 2 gets an input's bytes.
#[derive(Debug)]
enum Content {
    /// Held since it was read: stdin and renders cannot be read again, and pass 1 has not
    /// parsed a file yet.
    Held(Vec<u8>),
    /// A regular file pass 1 read and let go, to be read again.
    File { len: usize, hash: u64 },
}

impl Source {
    /// An input as read from `-f`: a regular file is read again in pass 2 rather than held.
    pub fn read(input: Input) -> Source {
        Source {
            name: input.name,
            walked: input.walked,
            kustomize_root: None,
            content: Content::Held(input.bytes),
        }
    }

    /// A `kubectl kustomize` render, whose objects name the files under `root` they came from.
    pub fn rendered(input: Input, root: PathBuf) -> Source {
        Source {
            kustomize_root: Some(root),
            ..Source::read(input)
        }
    }

    /// The bytes held now (before pass 1; stdin and renders always).
    pub fn held_len(&self) -> usize {
        match &self.content {
            Content::Held(bytes) => bytes.len(),
            Content::File { len, .. } => *len,
        }
    }

    /// Whether pass 2 can read this input again from its path (a regular file, not stdin or
    /// a render; the name is the path as found).
    fn rereadable(&self) -> bool {
        self.kustomize_root.is_none()
            && self.name != "-"
            && std::fs::metadata(&self.name).is_ok_and(|m| m.is_file())
    }

    /// After pass 1: a regular file's bytes are let go, with what identifies them.
    fn release(&mut self) {
        if let Content::Held(bytes) = &self.content
            && self.rereadable()
        {
            self.content = Content::File {
                len: bytes.len(),
                hash: hash(bytes),
            };
        }
    }

    /// The bytes pass 2 parses: those held, or the file read again, which must be what pass 1
    /// read.
    fn bytes(&self) -> Result<std::borrow::Cow<'_, [u8]>, String> {
        let (len, expected) = match &self.content {
            Content::Held(bytes) => return Ok(std::borrow::Cow::Borrowed(bytes)),
            Content::File { len, hash } => (*len, *hash),
        };
        let changed = "changed while it was being checked (its two reads differ), so its \
                       objects were not judged; check it again";
        let file = std::fs::File::open(&self.name)
            .map_err(|e| format!("cannot read again: {e}; its objects were not judged"))?;
        match crate::inputs::read_bounded(file, len) {
            Ok(Some(bytes)) if bytes.len() == len && hash(&bytes) == expected => {
                Ok(std::borrow::Cow::Owned(bytes))
            }
            Ok(_) => Err(changed.to_owned()),
            Err(e) => Err(format!(
                "cannot read again: {e}; its objects were not judged"
            )),
        }
    }
}

/// A fingerprint of an input's bytes, to notice a file that changed between the passes (an
/// editor saving during a run), not to resist an attacker, who could as well write the file
/// before the run.
fn hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// What a pass learnt about the run's objects, for what follows judging.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Objects the inputs hold.
    pub objects: usize,
    /// Each object's file, in input order, consecutive repeats removed (the `.aksid.yaml`
    /// search needs each file once).
    pub sources: Vec<String>,
}

impl Tally {
    fn add(&mut self, objects: &[Manifest]) {
        self.objects += objects.len();
        for object in objects {
            if self.sources.last().map(String::as_str) != Some(&*object.source) {
                self.sources.push(object.source.to_string());
            }
        }
    }
}

/// The objects of the kinds some policy declares in `contextAwareResources`: what the host can
/// serve to lookups. Empty when no policy looks anything up.
pub fn declared_kinds(policies: &[ReadyPolicy]) -> Vec<(String, String)> {
    let mut declared: Vec<(String, String)> = policies
        .iter()
        .flat_map(|p| p.metadata.context_aware_resources.iter())
        .map(|r| (r.api_version.clone(), r.kind.clone()))
        .collect();
    declared.sort();
    declared.dedup();
    declared
}

/// Parses one input as `check` does: walked files are lenient about tools' files, and a
/// kustomize render's objects are named after the files they came from.
fn load_source(source: &Source, bytes: &[u8], options: &LoadOptions) -> Loaded {
    let options = options.clone().found_by_walking(source.walked);
    let mut loaded = load_with(&source.name, bytes, &options);
    if let Some(root) = &source.kustomize_root {
        kustomize::attribute_origins(&mut loaded.objects, root);
    }
    loaded
}

/// Records an input's file, its load problems and its objects' files (a render's objects name
/// the files of their resources).
fn record_load(report: &mut ReportBuilder, name: &str, problems: &[InputProblem], tally: &Tally) {
    report.add_file(name);
    for problem in problems {
        report.add_problem(problem);
    }
    for file in &tally.sources {
        report.add_file(file);
    }
}

/// What pass 1 keeps of one input.
struct Surveyed {
    problems: Vec<InputProblem>,
    tally: Tally,
    context: Vec<Manifest>,
}

/// Pass 1: records every input's file and problems, and returns the tally and the cluster
/// context: `cluster` (a live cluster's objects, or none) with the run's objects of `declared`
/// kinds laid over it, in input order, as [`context_objects`] builds it.
pub fn survey(
    report: &mut ReportBuilder,
    sources: &mut [Source],
    load_options: &LoadOptions,
    declared: &[(String, String)],
    context: (ObjectSet, &[ReadyPolicy], &RequestOptions),
) -> (Tally, ObjectSet) {
    let surveyed: Vec<Surveyed> = sources
        .par_iter_mut()
        .map(|source| {
            let loaded = match &source.content {
                Content::Held(bytes) => load_source(source, bytes, load_options),
                Content::File { .. } => Loaded::default(),
            };
            source.release();
            let mut tally = Tally::default();
            tally.add(&loaded.objects);
            // Everything else is dropped here, one input at a time.
            let context = loaded
                .objects
                .into_iter()
                .filter(|m| {
                    declared
                        .iter()
                        .any(|(v, k)| v == m.api_version() && k == m.kind())
                })
                .collect();
            Surveyed {
                problems: loaded.problems,
                tally,
                context,
            }
        })
        .collect();
    let (mut objects, policies, options) = context;
    let mut tally = Tally::default();
    for (source, one) in sources.iter().zip(surveyed) {
        record_load(report, &source.name, &one.problems, &one.tally);
        tally.objects += one.tally.objects;
        merge_sources(&mut tally.sources, one.tally.sources);
        objects = context_objects(objects, &one.context, policies, options);
    }
    // The parsed context objects were copied into the set on this thread; their originals
    // and every other object parsed in pass 1 are free now.
    release_freed_memory();
    (tally, objects)
}

/// Appends `more` to `into`, consecutive repeats removed. Copied on this (the main) thread
/// rather than moved: one string per input allocated by the parsing thread would pin a page of
/// its arena each for the rest of the run (on 8,670 files, about 17 MiB).
fn merge_sources(into: &mut Vec<String>, more: Vec<String>) {
    for source in more {
        if into.last() != Some(&source) {
            into.push(source.as_str().to_owned());
        }
    }
}

/// How pass 2 runs.
pub struct Pass2<'a> {
    /// The policies, request options and progress bar.
    pub judge: &'a Judge<'a>,
    /// The complete cluster context.
    pub context: &'a ObjectSet,
    /// As pass 1 did.
    pub load_options: &'a LoadOptions,
    /// Pass 1 was skipped: record files and problems here, and grow the progress bar's length
    /// as objects are found.
    pub single_pass: bool,
    /// Adjusts a batch's verdicts before they are recorded (the cluster's policy modes).
    pub adjust: &'a (dyn Fn(&mut Outcomes, &[Manifest]) + Sync),
}

/// Pass 2: judges every input's objects a batch at a time, recording each object's verdicts
/// in input order, and frees each batch (its objects and bytes) before the next one is parsed.
/// Returns the tally of what it judged.
pub fn judge_sources(report: &mut ReportBuilder, sources: Vec<Source>, pass: &Pass2) -> Tally {
    let mut tally = Tally::default();
    let mut trim = Trim::default();
    let mut sources = sources.into_iter().peekable();
    while sources.peek().is_some() {
        let batch = next_batch(&mut sources);
        let loaded: Vec<Result<Loaded, String>> = batch
            .par_iter()
            .map(|source| {
                let bytes = source.bytes()?;
                Ok(load_source(source, &bytes, pass.load_options))
            })
            .collect();
        let mut manifests: Vec<Manifest> = Vec::new();
        for (source, one) in batch.iter().zip(loaded) {
            let one = match one {
                Ok(one) => one,
                Err(message) => {
                    report.add_error(reread_error(&source.name, message));
                    continue;
                }
            };
            let mut this = Tally::default();
            this.add(&one.objects);
            if pass.single_pass {
                record_load(report, &source.name, &one.problems, &this);
            }
            tally.objects += this.objects;
            merge_sources(&mut tally.sources, this.sources);
            manifests.extend(one.objects);
        }
        drop(batch);
        if pass.single_pass {
            pass.judge.progress.inc_length(manifests.len() as u64);
        }
        let mut outcomes = evaluate_objects(&manifests, pass.judge, pass.context);
        (pass.adjust)(&mut outcomes, &manifests);
        record_verdicts(report, &manifests, pass.judge.policies, outcomes);
        drop(manifests);
        trim.after_batch();
    }
    pass.judge.progress.finish_and_clear();
    tally
}

/// A file pass 2 could not read as pass 1 did.
fn reread_error(file: &str, message: String) -> InputError {
    InputError {
        file: file.to_owned(),
        document: None,
        line: 1,
        field: None,
        kind: ProblemKind::Unreadable,
        message,
        policy: None,
        object: None,
    }
}

/// The next inputs whose bytes add up to about [`BATCH_BYTES`] (at least one input).
fn next_batch(sources: &mut std::iter::Peekable<std::vec::IntoIter<Source>>) -> Vec<Source> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some(source) = sources.next_if(|_| batch.is_empty() || bytes < BATCH_BYTES) {
        bytes += source.held_len();
        batch.push(source);
    }
    batch
}

/// When to return freed memory during pass 2. Each `malloc_trim` walks the whole heap, so
/// trimming after every batch made 100,000 objects cost 6 s more CPU; trimming only once the
/// resident set has grown by a quarter (at least 8 MiB) since the last trim keeps the number of
/// trims logarithmic while what the allocator keeps stays within that quarter.
#[derive(Debug, Default)]
struct Trim {
    resident_after_last: usize,
}

impl Trim {
    fn after_batch(&mut self) {
        let Some(resident) = resident_bytes() else {
            return;
        };
        let allowed = (self.resident_after_last / 4).max(8 << 20);
        if resident > self.resident_after_last + allowed {
            release_freed_memory();
            self.resident_after_last = resident_bytes().unwrap_or(resident);
        }
    }
}

/// This process's resident set (`/proc/self/statm`, in pages), where there is one.
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.checked_mul(usize::try_from(page_size).ok()?)
}

/// Hands the whole free pages of the allocator back to the system (glibc's `malloc_trim`;
/// nothing elsewhere). glibc keeps what a batch freed, so without this the resident set grew
/// with every batch while little stayed alive: on 10,000 generated objects the live heap was
/// under 31 MiB and the resident set 70 MiB, 59 MiB with it.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it takes the allocator's own
    // locks and touches no memory the program owns.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn scratch_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aksid-passes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn source_of(path: &std::path::Path) -> Source {
        let bytes = std::fs::read(path).unwrap();
        Source::read(Input {
            name: path.display().to_string(),
            bytes,
            walked: false,
        })
    }

    /// What pass 2 gets from a file pass 1 read and let go, after `change` (or not).
    #[rstest]
    #[case::unchanged_file_is_read_again(None, Ok("kind: A\n"))]
    #[case::same_length_other_bytes_is_refused(Some("kind: B\n"), Err("changed while"))]
    #[case::grown_file_is_refused(Some("kind: A\nkind: B\n"), Err("changed while"))]
    #[case::shrunk_file_is_refused(Some("k"), Err("changed while"))]
    fn files_are_read_again_only_as_pass_1_read_them(
        #[case] change: Option<&str>,
        #[case] expected: Result<&str, &str>,
    ) {
        let name = format!("{:?}.yaml", change.map(str::len));
        let path = scratch_file(&name, "kind: A\n");
        let mut source = source_of(&path);
        source.release();
        assert_eq!(source.held_len(), 8);
        assert!(matches!(source.content, Content::File { .. }));
        if let Some(text) = change {
            std::fs::write(&path, text).unwrap();
        }
        match (source.bytes(), expected) {
            (Ok(bytes), Ok(text)) => assert_eq!(&*bytes, text.as_bytes()),
            (Err(message), Err(start)) => assert!(message.starts_with(start), "{message}"),
            (got, expected) => panic!("{got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn stdin_and_renders_stay_held() {
        let stdin = Input {
            name: "-".to_owned(),
            bytes: b"kind: A\n".to_vec(),
            walked: false,
        };
        let mut stdin = Source::read(stdin);
        stdin.release();
        assert!(matches!(stdin.content, Content::Held(_)));
        let path = scratch_file("rendered.yaml", "kind: A\n");
        let mut render = source_of(&path);
        render.kustomize_root = Some(PathBuf::from("/nonexistent"));
        render.release();
        assert!(matches!(render.content, Content::Held(_)));
    }

    #[test]
    fn batches_hold_about_batch_bytes_and_at_least_one_input() {
        let input = |len: usize| {
            Source::read(Input {
                name: "-".to_owned(),
                bytes: vec![b'#'; len],
                walked: false,
            })
        };
        let half = BATCH_BYTES / 2;
        let sources = vec![
            input(half),
            input(half),
            input(1),
            input(3 * BATCH_BYTES),
            input(1),
        ];
        let mut sources = sources.into_iter().peekable();
        let mut sizes = Vec::new();
        while sources.peek().is_some() {
            sizes.push(next_batch(&mut sources).len());
        }
        assert_eq!(sizes, [2, 2, 1]);
    }

    #[test]
    fn tally_lists_each_file_once_per_run_of_objects() {
        let m = |file: &str| Manifest::new(file, 1, 1, serde_json::json!({"kind": "A"}));
        let mut tally = Tally::default();
        tally.add(&[m("a"), m("a"), m("b")]);
        let mut sources = tally.sources.clone();
        merge_sources(&mut sources, vec!["b".to_owned(), "c".to_owned()]);
        assert_eq!(tally.objects, 3);
        assert_eq!(sources, ["a", "b", "c"]);
    }
}
