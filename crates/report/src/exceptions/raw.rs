//! The shape of `.aksid.yaml` as serde reads it (serde-saphyr, unknown keys refused), and the
//! placing of its errors: which entry and field a YAML or type error belongs to.
//!
//! serde's errors do not say where in the structure they arose, so the deserializers below note
//! where they are (the entry and field being read) in a thread-local as they go; when parsing
//! fails, that note names the entry and field.

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

pub(super) const ENTRY_KEYS: &[&str] = &["policy", "match", "reason", "expires"];
pub(super) const MATCH_KEYS: &[&str] = &["kind", "namespace", "name", "file"];

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    exceptions: Option<RawList>,
}

/// One `exceptions` entry, before the domain checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    #[serde(default, deserialize_with = "policy")]
    pub policy: Option<String>,
    #[serde(rename = "match", default, deserialize_with = "matches")]
    pub matches: Option<RawMatch>,
    #[serde(default, deserialize_with = "reason")]
    pub reason: Option<String>,
    #[serde(default, deserialize_with = "expires")]
    pub expires: Option<String>,
}

/// An entry's `match`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatch {
    #[serde(default, deserialize_with = "kind")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "namespace")]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "name")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "file")]
    pub file: Option<String>,
}

/// Where the parse is.
#[derive(Clone, Copy, Debug)]
enum At {
    Root,
    List,
    Entry(usize),
    Field(usize, &'static str),
}

thread_local! {
    static AT: Cell<At> = const { Cell::new(At::Root) };
}

fn at() -> At {
    AT.with(Cell::get)
}

fn set(at: At) {
    AT.with(|a| a.set(at));
}

/// The entry being read (1-based), whatever field.
fn entry() -> usize {
    match at() {
        At::Entry(i) | At::Field(i, _) => i,
        At::Root | At::List => 0,
    }
}

struct RawList(Vec<RawEntry>);

impl<'de> Deserialize<'de> for RawList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = RawList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of exceptions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawList, A::Error> {
                let mut entries = Vec::new();
                loop {
                    set(At::Entry(entries.len() + 1));
                    match seq.next_element::<RawEntry>()? {
                        Some(entry) => entries.push(entry),
                        None => return Ok(RawList(entries)),
                    }
                }
            }
        }
        set(At::List);
        d.deserialize_seq(Entries)
    }
}

/// Reads one field with `At` naming it, and restores the entry afterwards.
fn field<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    name: &'static str,
) -> Result<Option<T>, D::Error> {
    let entry = entry();
    set(At::Field(entry, name));
    let value = Option::<T>::deserialize(d)?;
    set(At::Entry(entry));
    Ok(value)
}

/// A text field: YAML gives plain scalars (`2026-12-31`, `0644`) to a string as written.
macro_rules! text_fields {
    ($($fn:ident => $name:literal),* $(,)?) => {$(
        fn $fn<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
            field(d, $name)
        }
    )*};
}

text_fields! {
    policy => "policy",
    reason => "reason",
    expires => "expires",
    kind => "match.kind",
    namespace => "match.namespace",
    name => "match.name",
    file => "match.file",
}

fn matches<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RawMatch>, D::Error> {
    field(d, "match")
}

/// A parse error placed in the file's structure.
pub(super) struct Placed {
    pub entry: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

/// The entries of `.aksid.yaml` text (none for an empty file or no `exceptions`).
pub(super) fn parse(text: &str) -> Result<Vec<RawEntry>, Placed> {
    set(At::Root);
    let options = serde_saphyr::options! { with_snippet: false };
    match serde_saphyr::from_str_with_options::<Option<RawFile>>(text, options) {
        Ok(file) => Ok(file
            .and_then(|f| f.exceptions)
            .map_or_else(Vec::new, |l| l.0)),
        Err(e) => Err(place(&e, at())),
    }
}

fn place(e: &serde_saphyr::Error, at: At) -> Placed {
    use serde_saphyr::Error as E;
    let placed = |entry: Option<usize>, field: Option<String>, message: String| Placed {
        entry,
        field,
        message,
    };
    let e = e.without_snippet();
    match (e, at) {
        (E::SerdeUnknownField { field, .. }, At::Root) => placed(
            None,
            Some(field.clone()),
            "unknown key (the file holds only `exceptions`)".to_owned(),
        ),
        (E::SerdeUnknownField { field, .. }, At::Field(i, "match")) => placed(
            Some(i),
            Some(format!("match.{field}")),
            format!("unknown key (expected one of {})", MATCH_KEYS.join(", ")),
        ),
        (E::SerdeUnknownField { field, .. }, At::Entry(i) | At::Field(i, _)) => placed(
            Some(i),
            Some(field.clone()),
            format!("unknown key (expected one of {})", ENTRY_KEYS.join(", ")),
        ),
        (E::SerdeInvalidType { .. } | E::Unexpected { .. }, at) => wrong_type(at),
        (e, _) => placed(None, None, format!("not valid YAML: {e}")),
    }
}

/// A value of the wrong shape where `at` says.
fn wrong_type(at: At) -> Placed {
    let (entry, field, message) = match at {
        At::Root => (
            None,
            None,
            "must be a mapping with an `exceptions` list".to_owned(),
        ),
        At::List => (
            None,
            Some("exceptions".to_owned()),
            "must be a list of exceptions".to_owned(),
        ),
        At::Entry(i) => (
            Some(i),
            None,
            "must be a mapping with policy, match and reason".to_owned(),
        ),
        At::Field(i, "match") => (
            Some(i),
            Some("match".to_owned()),
            format!("must be a mapping of {}", MATCH_KEYS.join(", ")),
        ),
        At::Field(i, field) => (
            Some(i),
            Some(field.to_owned()),
            "must be a string".to_owned(),
        ),
    };
    Placed {
        entry,
        field,
        message,
    }
}
