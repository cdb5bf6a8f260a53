//! Extra value patterns from the `extraPatterns` setting, on `regex-lite`.
//!
//! Why `regex-lite` and not `regex`: the full engine with its Unicode tables is about 1.3 MiB of
//! wasm, over the project's 600 KiB module budget, and secret patterns need none of it.
//! `regex-lite` has the same syntax (Unicode classes such as `\p{L}` excepted) with ASCII-only
//! `\d \w \s \b`, and matches in time linear in the value. Compiled programs are capped so a
//! hostile setting cannot make compilation explode. Settings validation compiles every pattern
//! to report errors; evaluation takes them from a small cache keyed by pattern text, because
//! Kubewarden hands the settings to each request as JSON.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// A compiled pattern.
pub(crate) type Pattern = regex_lite::Regex;

/// A compiled pattern, or why the text is not one.
type Compiled = Result<Arc<Pattern>, String>;

/// Upper bound of a compiled program; enough for any realistic secret pattern.
const SIZE_LIMIT: usize = 1 << 20;
/// Patterns kept compiled between requests; the cache starts over when full.
const CACHE_CAPACITY: usize = 64;

static CACHE: LazyLock<Mutex<HashMap<String, Compiled>>> = LazyLock::new(Default::default);

/// Compiles `pattern`.
pub(crate) fn compile(pattern: &str) -> Compiled {
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(SIZE_LIMIT)
        .nest_limit(64)
        .build()
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// `pattern` compiled, from the cache when it was compiled before.
pub(crate) fn compiled(pattern: &str) -> Compiled {
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(hit) = cache.get(pattern) {
        return hit.clone();
    }
    if cache.len() >= CACHE_CAPACITY {
        cache.clear();
    }
    let fresh = compile(pattern);
    cache.insert(pattern.to_owned(), fresh.clone());
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::secret_shape("ctso_[0-9a-f]{16}", "token=ctso_4f1d9a0b7c3e5f21;", true)]
    #[case::anchored("^acme_[a-f]+$", "acme_dead", true)]
    #[case::case_insensitive("(?i)^acme_[a-f]+$", "ACME_DeAd", true)]
    #[case::case_sensitive_by_default("^acme$", "ACME", false)]
    #[case::word_boundary(r"\bkey\b", "monkeys", false)]
    fn matches(#[case] pattern: &str, #[case] value: &str, #[case] expected: bool) {
        assert_eq!(
            compile(pattern).unwrap().is_match(value),
            expected,
            "{pattern} on {value:?}"
        );
    }

    #[rstest]
    #[case::unclosed_group("(unclosed")]
    #[case::unclosed_class("[abc")]
    #[case::lookahead("(?=a)")]
    #[case::backreference(r"(a)\1")]
    #[case::unicode_class(r"\p{L}")]
    #[case::too_large("a{1000}{1000}{1000}")]
    fn refuses_bad_patterns(#[case] pattern: &str) {
        assert!(compile(pattern).is_err(), "{pattern} compiled");
    }

    #[test]
    fn compiled_patterns_are_shared() {
        let a = compiled("shared-[0-9]+").unwrap();
        let b = compiled("shared-[0-9]+").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(compiled("(").is_err());
    }
}
