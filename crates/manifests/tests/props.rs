//! Property tests: no input makes loading (or building requests from what loaded) panic.

use aksid_manifests::{RequestOptions, admission_request, load};
use proptest::prelude::*;

fn exercise(name: &str, bytes: &[u8]) {
    let loaded = load(name, bytes);
    for problem in &loaded.problems {
        assert!(problem.line >= 1);
        let _ = problem.to_string();
    }
    for m in &loaded.objects {
        assert!(!m.kind().is_empty() && !m.api_version().is_empty());
        let _ = admission_request(m, &RequestOptions::default());
    }
}

/// Fragments that stress the splitter, the parsers and the list/template paths.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("---\n".to_owned()),
        Just("...\n".to_owned()),
        Just("apiVersion: v1\n".to_owned()),
        Just("kind: List\n".to_owned()),
        Just("kind: Pod\n".to_owned()),
        Just("items:\n".to_owned()),
        Just("- ".to_owned()),
        Just("  ".to_owned()),
        Just("{{ .Values.x }}".to_owned()),
        Just("{".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("\"".to_owned()),
        Just(": ".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("<<: ".to_owned()),
        Just("# c\n".to_owned()),
        Just("\n".to_owned()),
        "[a-z0-9]{0,5}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise("x.yaml", &bytes);
        exercise("x.json", &bytes);
    }

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,300}") {
        exercise("x.yaml", text.as_bytes());
    }

    #[test]
    fn yaml_like_text_never_panics(text in yamlish()) {
        exercise("x.yaml", text.as_bytes());
        let json = format!("[{text}]");
        exercise("x.json", json.as_bytes());
    }
}
