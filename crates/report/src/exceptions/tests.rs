//! Exceptions: matching by each field, globs, expiry today vs yesterday, invalid files.

use super::*;

fn finding(file: &str, kind: &str, namespace: Option<&str>, name: &str, policy: &str) -> Finding {
    Finding {
        file: file.to_owned(),
        line: 1,
        document: 1,
        api_version: "v1".to_owned(),
        kind: kind.to_owned(),
        namespace: namespace.map(str::to_owned),
        name: Some(name.to_owned()),
        policy: policy.to_owned(),
        allowed: false,
        message: Some("no".to_owned()),
        warnings: Vec::new(),
        exception: None,
        enforced: true,
        third_party: false,
    }
}

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

fn parse(text: &str) -> Exceptions {
    Exceptions::parse(text, ".aksid.yaml").unwrap()
}

fn one(matcher: &str) -> Exceptions {
    parse(&format!(
        "exceptions:\n- policy: p\n  match: {{{matcher}}}\n  reason: because\n"
    ))
}

fn applies(exceptions: &Exceptions, f: &Finding) -> bool {
    let mut results = vec![f.clone()];
    exceptions.apply(&mut results, date("2026-01-01"));
    results[0].allowed
}

#[test]
fn each_match_field_must_match() {
    let base = finding(
        "apps/legacy/a.yaml",
        "Deployment",
        Some("legacy"),
        "billing-api",
        "p",
    );
    for (matcher, hit) in [
        ("kind: Deployment", true),
        ("kind: Pod", false),
        ("namespace: legacy", true),
        ("namespace: default", false),
        ("name: billing-*", true),
        ("name: 'billing-?pi'", true),
        ("name: web", false),
        ("file: 'apps/legacy/**'", true),
        ("file: 'apps/*.yaml'", false),
        ("file: '**/a.yaml'", true),
        ("kind: Deployment, name: web", false),
        ("kind: '[DS]*', namespace: 'leg*'", true),
    ] {
        assert_eq!(applies(&one(matcher), &base), hit, "{matcher}");
    }
    let cluster_scoped = finding("a.yaml", "ClusterRole", None, "x", "p");
    // (`namespace: '*'` alone is refused: it selects every namespaced object.)
    assert!(!applies(&one("namespace: '?*'"), &cluster_scoped));
    assert!(applies(&one("kind: ClusterRole"), &cluster_scoped));
}

#[test]
fn policy_must_match_or_be_a_wildcard() {
    let f = finding("a.yaml", "Pod", Some("default"), "x", "other");
    assert!(!applies(&one("kind: Pod"), &f));
    let any = parse("exceptions:\n- policy: '*'\n  match: {kind: Pod}\n  reason: r\n");
    assert!(applies(&any, &f));
}

#[test]
fn accepted_results_are_left_alone() {
    let mut f = finding("a.yaml", "Pod", Some("default"), "x", "p");
    f.allowed = true;
    let mut results = vec![f];
    let usage = one("kind: Pod").apply(&mut results, date("2026-01-01"));
    assert!(results[0].exception.is_none());
    assert!(usage.used.is_empty());
}

#[test]
fn expiry_today_applies_yesterday_does_not() {
    let text = "exceptions:\n- policy: p\n  match: {kind: Pod}\n  reason: vendor chart\n  expires: 2026-01-31\n";
    let exceptions = parse(text);
    let f = finding("a.yaml", "Pod", Some("default"), "x", "p");

    let mut results = vec![f.clone()];
    let usage = exceptions.apply(&mut results, date("2026-01-31"));
    assert!(results[0].allowed);
    let applied = results[0].exception.as_ref().unwrap();
    assert_eq!((applied.id, applied.reason.as_str()), (1, "vendor chart"));
    assert_eq!(usage.used.len(), 1);
    assert_eq!(usage.used[0].matched, 1);
    assert!(usage.expired.is_empty());

    let mut results = vec![f];
    let usage = exceptions.apply(&mut results, date("2026-02-01"));
    assert!(!results[0].allowed, "expired exceptions stop applying");
    assert!(results[0].exception.is_none());
    assert!(usage.used.is_empty());
    assert_eq!(usage.expired.len(), 1);
    assert_eq!(usage.expired[0].expires, Some(date("2026-01-31")));
    assert_eq!(usage.expired[0].matched, 1);
}

#[test]
fn the_first_unexpired_match_wins_and_expired_ones_are_listed_even_unmatched() {
    let text = "exceptions:\n- policy: p\n  match: {kind: Pod}\n  reason: old\n  expires: 2020-01-01\n- policy: p\n  match: {kind: Pod}\n  reason: new\n- policy: p\n  match: {kind: Pod}\n  reason: also\n- policy: p\n  match: {kind: Secret}\n  reason: stale\n  expires: 2020-01-01\n";
    let exceptions = parse(text);
    let mut results = vec![finding("a.yaml", "Pod", Some("d"), "x", "p")];
    let usage = exceptions.apply(&mut results, date("2026-01-01"));
    assert_eq!(results[0].exception.as_ref().unwrap().id, 2);
    assert_eq!(usage.used.iter().map(|u| u.id).collect::<Vec<_>>(), vec![2]);
    assert_eq!(
        usage
            .expired
            .iter()
            .map(|u| (u.id, u.matched))
            .collect::<Vec<_>>(),
        vec![(1, 1), (4, 0)]
    );
}

#[test]
fn file_globs_are_relative_to_the_exceptions_directory() {
    let exceptions = one("file: 'apps/**'").with_base("repo");
    assert_eq!(
        exceptions.relative_path("repo/apps/a.yaml").as_deref(),
        Some("apps/a.yaml")
    );
    assert_eq!(
        exceptions
            .relative_path("./repo/x/../apps/a.yaml")
            .as_deref(),
        Some("apps/a.yaml")
    );
    assert_eq!(exceptions.relative_path("other/apps/a.yaml"), None);
    assert!(applies(
        &exceptions,
        &finding("repo/apps/a.yaml", "Pod", None, "x", "p")
    ));
    assert!(!applies(
        &exceptions,
        &finding("apps/a.yaml", "Pod", None, "x", "p")
    ));
    let absolute = one("file: 'apps/*'").with_base("/src/repo/");
    assert_eq!(
        absolute.relative_path("/src/repo/apps/a.yaml").as_deref(),
        Some("apps/a.yaml")
    );
    assert_eq!(absolute.relative_path("src/repo/apps/a.yaml"), None);
    let windows = one("file: 'apps/*'");
    assert_eq!(
        windows.relative_path("apps\\a.yaml").as_deref(),
        Some("apps/a.yaml")
    );
}

#[test]
fn a_custom_path_mapping_can_be_given() {
    let exceptions = one("file: 'apps/*'");
    let mut results = vec![finding("/abs/apps/a.yaml", "Pod", None, "x", "p")];
    exceptions.apply_with(&mut results, date("2026-01-01"), &|f| {
        f.strip_prefix("/abs/").map(str::to_owned)
    });
    assert!(results[0].allowed);
}

#[test]
fn invalid_files_name_the_entry_and_field() {
    for (text, expected) in [
        (
            "exceptions: 3\n",
            ".aksid.yaml: exceptions: must be a list of exceptions",
        ),
        (
            "exception: []\n",
            ".aksid.yaml: exception: unknown key (the file holds only `exceptions`)",
        ),
        (
            "- a\n",
            ".aksid.yaml: must be a mapping with an `exceptions` list",
        ),
        (
            "exceptions:\n- policy: p\n  match: {kind: Pod}\n  reason: r\n- policy: p\n  match: {kinds: Pod}\n  reason: r\n",
            ".aksid.yaml: exception #2: match.kinds: unknown key (expected one of kind, namespace, name, file)",
        ),
        (
            "exceptions:\n- policy: p\n  match: {kind: Pod}\n  reason: r\n  until: 2026-01-01\n",
            ".aksid.yaml: exception #1: until: unknown key (expected one of policy, match, reason, expires)",
        ),
        (
            "exceptions:\n- match: {kind: Pod}\n  reason: r\n",
            ".aksid.yaml: exception #1: policy: is required (a policy id, or \"*\" for every policy)",
        ),
        (
            "exceptions:\n- policy: p\n  match: {kind: Pod}\n  reason: '  '\n",
            ".aksid.yaml: exception #1: reason: is required (why is this exception needed?)",
        ),
        (
            "exceptions:\n- policy: p\n  reason: r\n",
            ".aksid.yaml: exception #1: match: needs at least one of kind, namespace, name, file (an exception for everything would disable the policy)",
        ),
        (
            "exceptions:\n- policy: p\n  match: {}\n  reason: r\n",
            ".aksid.yaml: exception #1: match: needs at least one of kind, namespace, name, file (an exception for everything would disable the policy)",
        ),
        (
            "exceptions:\n- policy: p\n  match: {kind: Pod}\n  reason: r\n  expires: 2026-02-30\n",
            ".aksid.yaml: exception #1: expires: \"2026-02-30\" is not a date in the form YYYY-MM-DD (for example 2026-12-31)",
        ),
        (
            "exceptions:\n- policy: p\n  match: {name: 'a[b'}\n  reason: r\n",
            ".aksid.yaml: exception #1: match.name: invalid glob \"a[b\": unclosed character class; missing ']'",
        ),
        (
            "exceptions:\n- policy: [p]\n  match: {kind: Pod}\n  reason: r\n",
            ".aksid.yaml: exception #1: policy: must be a string",
        ),
        (
            "exceptions:\n- just text\n",
            ".aksid.yaml: exception #1: must be a mapping with policy, match and reason",
        ),
        (
            "exceptions:\n- policy: p\n  match: 3\n  reason: r\n",
            ".aksid.yaml: exception #1: match: must be a mapping of kind, namespace, name, file",
        ),
        (
            "exceptions:\n- policy: p\n  match: {kind: Pod}\n  reason: r\n- policy: p\n  match: {kind: Pod}\n  reason: {a: b}\n",
            ".aksid.yaml: exception #2: reason: must be a string",
        ),
    ] {
        let err = Exceptions::parse(text, ".aksid.yaml").unwrap_err();
        assert_eq!(err.to_string(), expected, "{text}");
    }
    let err = Exceptions::parse("exceptions: [\n", ".aksid.yaml").unwrap_err();
    assert!(
        err.to_string().starts_with(".aksid.yaml: not valid YAML: "),
        "{err}"
    );
}

#[test]
fn plain_scalars_are_read_as_written() {
    let e = parse(
        "exceptions:\n- policy: p\n  match: {namespace: 0644, name: yes}\n  reason: 1e3\n  expires: 2026-12-31\n",
    );
    let e = &e.entries()[0];
    assert_eq!(e.namespace.as_ref().unwrap().as_str(), "0644");
    assert_eq!(e.name.as_ref().unwrap().as_str(), "yes");
    assert_eq!(e.reason, "1e3");
    assert_eq!(e.expires, Some(date("2026-12-31")));
}

#[test]
fn empty_files_have_no_exceptions() {
    for text in ["", "# nothing yet\n", "exceptions:\n", "exceptions: []\n"] {
        assert!(parse(text).entries().is_empty(), "{text:?}");
    }
}

#[test]
fn unknown_policies_are_noticed() {
    let exceptions = parse(
        "exceptions:\n- policy: no-plaintext-secret-envv\n  match: {kind: Pod}\n  reason: r\n- policy: '*'\n  match: {kind: Pod}\n  reason: r\n",
    );
    let known: BTreeSet<&str> = ["no-plaintext-secret-env"].into();
    let notices = exceptions.unknown_policies(&known);
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].message.contains("exception #1"),
        "{}",
        notices[0].message
    );
    assert!(exceptions.unknown_policies(&BTreeSet::new()).is_empty());
}

/// Issue 9: one `policy: "*"`, `match: {kind: "*"}` entry silenced every policy.
#[rstest::rstest]
#[case::every_policy_every_kind("'*'", "{kind: '*'}", true)]
#[case::every_policy_every_name_and_file("'*'", "{name: '**', file: '**/*'}", true)]
#[case::every_policy_every_namespace("'*'", "{namespace: '*'}", true)]
#[case::one_policy_every_kind("no-local-accounts", "{kind: '*'}", true)]
#[case::every_policy_one_kind_is_allowed("'*'", "{kind: Deployment}", false)]
#[case::every_kind_in_one_namespace_is_allowed("'*'", "{kind: '*', namespace: legacy}", false)]
#[case::every_kind_by_name_prefix_is_allowed("'*'", "{kind: '*', name: 'billing-*'}", false)]
fn match_everything_entries_are_refused(
    #[case] policy: &str,
    #[case] matcher: &str,
    #[case] refused: bool,
) {
    let text = format!(
        "exceptions:\n- {{policy: x, match: {{kind: Pod}}, reason: r}}\n- policy: {policy}\n  match: {matcher}\n  reason: r\n"
    );
    match Exceptions::parse(&text, "repo/.aksid.yaml") {
        Ok(_) => assert!(!refused, "accepted {matcher}"),
        Err(e) => {
            assert!(refused, "refused {matcher}: {e}");
            let message = e.to_string();
            assert!(
                message.starts_with("repo/.aksid.yaml: exception #2: match: selects every object"),
                "{message}"
            );
            assert!(message.contains("narrow"), "{message}");
        }
    }
}
