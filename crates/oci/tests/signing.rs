//! Cosign-format signing and verification against a real registry (Debian's `docker-registry` on
//! loopback): aksid signs, independent tools (skopeo reads the signature manifest, openssl checks
//! the ECDSA signature) and aksid verify; tampered,
//! foreign and missing signatures, wrong keys and degenerate configs are refused. Keys are made
//! with the real `openssl` CLI.

#[path = "registry/support.rs"]
#[allow(dead_code, unused_imports)]
mod support;

use aksid_oci::{Client, PublicKey, SigningKey, VerificationConfig, VerifyError, signature_tag};
use rstest::rstest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{OciReference, Registry, client_in, python, scratch};

/// A key pair made by openssl: the private key PEM path and the public key PEM path.
struct KeyPair {
    private: PathBuf,
    public: PathBuf,
}

impl KeyPair {
    fn generate(dir: &Path, name: &str) -> KeyPair {
        let private = dir.join(format!("{name}.key"));
        let public = dir.join(format!("{name}.pub"));
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ],
            &[&private],
        );
        openssl(
            &["pkey", "-pubout", "-in"],
            &[&private, Path::new("-out"), &public],
        );
        KeyPair { private, public }
    }

    fn signing(&self) -> SigningKey {
        SigningKey::from_pem(&std::fs::read_to_string(&self.private).unwrap()).unwrap()
    }

    fn public_pem(&self) -> String {
        std::fs::read_to_string(&self.public).unwrap()
    }
}

fn openssl(args: &[&str], paths: &[&Path]) {
    let out = Command::new(aksid_test_registry::tool("openssl"))
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `pubKey` entry for `key`, with `annotations`.
fn pub_key_entry(key: &KeyPair, annotations: &[(&str, &str)]) -> String {
    let pem: String = key
        .public_pem()
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let mut entry = format!("  - kind: pubKey\n    key: |\n{pem}");
    if !annotations.is_empty() {
        entry.push_str("    annotations:\n");
        for (k, v) in annotations {
            entry.push_str(&format!("      {k}: {v}\n"));
        }
    }
    entry
}

fn all_of(entries: &[String]) -> VerificationConfig {
    let yaml = format!("apiVersion: v1\nallOf:\n{}", entries.concat());
    VerificationConfig::from_yaml(&yaml, "test-config.yaml").unwrap()
}

fn any_of(minimum: usize, entries: &[String]) -> VerificationConfig {
    let indented: String = entries
        .concat()
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    let yaml =
        format!("apiVersion: v1\nanyOf:\n  minimumMatches: {minimum}\n  signatures:\n{indented}");
    VerificationConfig::from_yaml(&yaml, "test-config.yaml").unwrap()
}

/// A registry, a client, a pushed stand-in module and two key pairs.
struct Setup {
    registry: Registry,
    dir: tempfile::TempDir,
    client: Client,
    pushed: aksid_oci::PushedPolicy,
    alice: KeyPair,
    bob: KeyPair,
}

fn setup(test: &str) -> Setup {
    let registry = Registry::start(test);
    let dir = scratch(test);
    let client = client_in(dir.path(), None);
    let module = support::stand_in_module(test, 0);
    let pushed = client
        .push(
            &module,
            &registry.oci_reference(&format!("aksid/{test}:v1")),
        )
        .unwrap();
    let alice = KeyPair::generate(dir.path(), "alice");
    let bob = KeyPair::generate(dir.path(), "bob");
    Setup {
        registry,
        dir,
        client,
        pushed,
        alice,
        bob,
    }
}

fn no_annotations() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn failure(result: Result<Vec<String>, VerifyError>) -> String {
    match result {
        Err(e @ VerifyError::Unsatisfied { .. }) => e.to_string(),
        other => panic!("expected Unsatisfied, got {other:?}"),
    }
}

/// Verifies the stored signatures with independent tools, as cosign would: skopeo reads the
/// `sha256-<hex>.sig` manifest, the payloads are read from the registry's own storage, and
/// `openssl dgst -verify` checks each signature with `public`; the payload must name the
/// manifest digest. Ok(()) when one signature verifies, else what failed.
///
/// Debian's skopeo 1.9 has sigstore verification compiled out ("Debian-local change: sigstore
/// disabled"), so skopeo can read the signature manifest but not judge it.
fn independently_verify(setup: &Setup, public: &Path) -> Result<(), String> {
    use base64::Engine as _;
    let digest = &setup.pushed.manifest_digest;
    let image = format!(
        "{}/{}:{}",
        setup.registry.address(),
        setup.pushed.reference_with_digest.repository(),
        signature_tag(digest)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&support::skopeo_raw_manifest(&image)).unwrap();
    let mut failures = Vec::new();
    for (i, layer) in manifest["layers"].as_array().unwrap().iter().enumerate() {
        assert_eq!(layer["mediaType"], aksid_oci::SIMPLE_SIGNING_MEDIA_TYPE);
        let payload =
            std::fs::read(setup.registry.blob_path(layer["digest"].as_str().unwrap())).unwrap();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(
                layer["annotations"][aksid_oci::SIGNATURE_ANNOTATION]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let dir = setup.dir.path();
        let (payload_path, signature_path) = (
            dir.join(format!("payload-{i}")),
            dir.join(format!("sig-{i}.der")),
        );
        std::fs::write(&payload_path, &payload).unwrap();
        std::fs::write(&signature_path, &signature).unwrap();
        let out = Command::new(aksid_test_registry::tool("openssl"))
            .args(["dgst", "-sha256", "-verify"])
            .arg(public)
            .arg("-signature")
            .arg(&signature_path)
            .arg(&payload_path)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_default();
        if !out.status.success() {
            failures.push(format!(
                "layer {i}: openssl: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            ));
        } else if json["critical"]["image"]["docker-manifest-digest"] != digest.as_str()
            || json["critical"]["type"] != aksid_oci::PAYLOAD_TYPE
        {
            failures.push(format!("layer {i}: payload names another image: {json}"));
        } else {
            return Ok(());
        }
    }
    Err(failures.join("; "))
}

#[test]
fn aksid_signs_and_openssl_and_aksid_verify_with_the_key() {
    let s = setup("sign-verify");
    let signed = s
        .client
        .sign(&s.pushed, &s.alice.signing(), &no_annotations())
        .unwrap();
    assert!(!signed.already_signed);
    assert_eq!(
        signed.signature_reference.tag(),
        Some(signature_tag(&s.pushed.manifest_digest).as_str())
    );

    independently_verify(&s, &s.alice.public).expect("openssl accepts the aksid signature");
    let err = independently_verify(&s, &s.bob.public).expect_err("openssl refuses another key");
    assert!(err.contains("Verification failure"), "{err}");

    let config = all_of(&[pub_key_entry(&s.alice, &[])]);
    let by_tag = s.registry.oci_reference("aksid/sign-verify:v1");
    let verified = s.client.pull_verified(&by_tag, &config).unwrap();
    assert_eq!(verified.pulled.manifest_digest, s.pushed.manifest_digest);
    assert_eq!(verified.satisfied.len(), 1);
    assert!(verified.satisfied[0].starts_with("allOf[0] (pubKey SHA256:"));
}

#[test]
fn signing_twice_with_one_key_adds_nothing_and_a_second_key_adds_a_layer() {
    let s = setup("sign-twice");
    let first = s
        .client
        .sign(&s.pushed, &s.alice.signing(), &no_annotations())
        .unwrap();
    let again = s
        .client
        .sign(&s.pushed, &s.alice.signing(), &no_annotations())
        .unwrap();
    assert!(again.already_signed);
    assert_eq!(
        again.signature_manifest_digest,
        first.signature_manifest_digest
    );
    let second = s
        .client
        .sign(&s.pushed, &s.bob.signing(), &no_annotations())
        .unwrap();
    assert!(!second.already_signed);
    let manifest: serde_json::Value =
        serde_json::from_slice(&support::skopeo_raw_manifest(&format!(
            "{}/aksid/sign-twice:{}",
            s.registry.address(),
            signature_tag(&s.pushed.manifest_digest)
        )))
        .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    for layer in layers {
        assert_eq!(layer["mediaType"], aksid_oci::SIMPLE_SIGNING_MEDIA_TYPE);
        assert!(layer["annotations"][aksid_oci::SIGNATURE_ANNOTATION].is_string());
    }
    // Both signers now satisfy an allOf of both keys.
    let both = all_of(&[pub_key_entry(&s.alice, &[]), pub_key_entry(&s.bob, &[])]);
    s.client
        .verify(&s.pushed.reference_with_digest, &both)
        .unwrap();
}

#[test]
fn a_module_without_signatures_is_refused_naming_reference_digest_and_requirement() {
    let s = setup("unsigned");
    let config = all_of(&[pub_key_entry(&s.alice, &[])]);
    let message = failure(s.client.verify(&s.pushed.reference_with_digest, &config));
    assert!(
        message.contains(&s.pushed.reference_with_digest.to_string()),
        "{message}"
    );
    assert!(message.contains(&s.pushed.manifest_digest), "{message}");
    assert!(message.contains("not signed"), "{message}");
    assert!(message.contains("allOf[0] (pubKey SHA256:"), "{message}");
    assert!(message.contains("test-config.yaml"), "{message}");
}

#[test]
fn another_key_is_refused() {
    let s = setup("wrong-key");
    s.client
        .sign(&s.pushed, &s.bob.signing(), &no_annotations())
        .unwrap();
    let config = all_of(&[pub_key_entry(&s.alice, &[])]);
    let message = failure(s.client.verify(&s.pushed.reference_with_digest, &config));
    assert!(
        message.contains("no signature made with this key (1 signature(s) found)"),
        "{message}"
    );
}

#[test]
fn a_cached_pinned_module_is_still_verified() {
    let s = setup("cached");
    // An unverified pull fills the cache; the verified pull of the pin must still refuse.
    assert!(
        !s.client
            .pull(&s.pushed.reference_with_digest)
            .unwrap()
            .from_cache
    );
    let config = all_of(&[pub_key_entry(&s.alice, &[])]);
    let err = s
        .client
        .pull_verified(&s.pushed.reference_with_digest, &config)
        .unwrap_err();
    assert!(matches!(err, VerifyError::Unsatisfied { .. }), "{err}");
    s.client
        .sign(&s.pushed, &s.alice.signing(), &no_annotations())
        .unwrap();
    let verified = s
        .client
        .pull_verified(&s.pushed.reference_with_digest, &config)
        .unwrap();
    assert!(verified.pulled.from_cache);
}

#[rstest]
#[case::required_annotation_present(&[("env", "prod")], &[("env", "prod")], true)]
#[case::subset_of_signed_annotations(&[("env", "prod"), ("team", "aks")], &[("env", "prod")], true)]
#[case::required_annotation_has_another_value(&[("env", "dev")], &[("env", "prod")], false)]
#[case::required_annotation_missing(&[], &[("env", "prod")], false)]
fn pub_key_annotations_must_be_in_the_signed_payload(
    #[case] signed: &[(&str, &str)],
    #[case] required: &[(&str, &str)],
    #[case] accepted: bool,
) {
    let s = setup("annotations");
    let annotations = signed
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    s.client
        .sign(&s.pushed, &s.alice.signing(), &annotations)
        .unwrap();
    let config = all_of(&[pub_key_entry(&s.alice, required)]);
    let result = s.client.verify(&s.pushed.reference_with_digest, &config);
    if accepted {
        result.unwrap();
    } else {
        let message = failure(result);
        assert!(
            message.contains("without the annotation(s) env=prod"),
            "{message}"
        );
    }
}

#[rstest]
#[case::two_of_three_signed_by_two(2, &["alice", "bob", "carol"], true, "")]
#[case::one_of_one_unsigned_key(1, &["carol"], false, "anyOf needs 1 of its 1 entries, 0 matched")]
#[case::three_of_three_but_two_signed(3, &["alice", "bob", "carol"], false, "anyOf needs 3 of its 3 entries, 2 matched")]
#[case::two_of_two_one_signed(2, &["alice", "carol"], false, "anyOf needs 2 of its 2 entries, 1 matched")]
// minimumMatches counts entries, not distinct signers, as in Kubewarden: one key listed twice
// counts twice.
#[case::one_key_listed_twice_counts_twice(2, &["alice", "alice"], true, "")]
fn any_of_counts_matched_entries(
    #[case] minimum: usize,
    #[case] keys: &[&str],
    #[case] accepted: bool,
    #[case] expected: &str,
) {
    let s = setup("any-of");
    let carol = KeyPair::generate(s.dir.path(), "carol");
    s.client
        .sign(&s.pushed, &s.alice.signing(), &no_annotations())
        .unwrap();
    s.client
        .sign(&s.pushed, &s.bob.signing(), &no_annotations())
        .unwrap();
    let entries: Vec<String> = keys
        .iter()
        .map(|k| match *k {
            "alice" => pub_key_entry(&s.alice, &[]),
            "bob" => pub_key_entry(&s.bob, &[]),
            _ => pub_key_entry(&carol, &[]),
        })
        .collect();
    let result = s
        .client
        .verify(&s.pushed.reference_with_digest, &any_of(minimum, &entries));
    if accepted {
        assert_eq!(result.unwrap().len(), minimum.max(2).min(keys.len()));
    } else {
        let message = failure(result);
        assert!(message.contains(expected), "{message}");
    }
}

/// Pushes a signature manifest with one layer (`payload`, `signature`) at `tag` with the
/// registry's HTTP API (python requests), bypassing aksid: what an attacker can write.
const PUSH_SIGNATURE: &str = r#"
import hashlib, json, sys, requests
host, repo, tag, payload, signature = sys.argv[1:6]
payload = payload.encode()
base = f"http://{host}/v2/{repo}"
def blob(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.post(f"{base}/blobs/uploads/"); r.raise_for_status()
    loc = r.headers["Location"]
    loc = loc if loc.startswith("http") else f"http://{host}{loc}"
    sep = "&" if "?" in loc else "?"
    r = requests.put(f"{loc}{sep}digest={digest}", data=data,
                     headers={"Content-Type": "application/octet-stream"}); r.raise_for_status()
    return digest
config = b"{}"
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config), "digest": blob(config)},
  "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": len(payload),
    "digest": blob(payload), "annotations": {"dev.cosignproject.cosign/signature": signature}}]}
r = requests.put(f"{base}/manifests/{tag}", data=json.dumps(manifest),
                 headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}); r.raise_for_status()
"#;

fn push_raw_signature(s: &Setup, payload: &[u8], signature: &str) {
    python(
        "requests",
        PUSH_SIGNATURE,
        &[
            s.registry.address(),
            s.pushed.reference_with_digest.repository(),
            &signature_tag(&s.pushed.manifest_digest),
            std::str::from_utf8(payload).unwrap(),
            signature,
        ],
        b"",
    );
}

#[rstest]
#[case::tampered_payload("tampered-payload", "no signature made with this key")]
#[case::tampered_signature("tampered-signature", "no signature made with this key")]
#[case::signature_of_another_module("other-module", "signed by this key, but for manifest sha256:")]
#[case::not_a_cosign_payload(
    "not-cosign",
    "signed by this key, but the payload is not a cosign payload"
)]
fn forged_signatures_are_refused(#[case] test: &str, #[case] expected: &str) {
    let s = setup(test);
    let key = s.alice.signing();
    let docker_reference = format!("{}/aksid/{test}", s.registry.address());
    let genuine = aksid_oci::payload(
        &docker_reference,
        &s.pushed.manifest_digest,
        &no_annotations(),
    );
    let (payload, signature) = match test {
        "tampered-payload" => {
            // The genuine signature, over a payload that now claims an annotation.
            let mut annotations = BTreeMap::new();
            annotations.insert("env".to_owned(), "prod".to_owned());
            let forged =
                aksid_oci::payload(&docker_reference, &s.pushed.manifest_digest, &annotations);
            (forged, key.sign(&genuine))
        }
        "tampered-signature" => {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut der = b64.decode(key.sign(&genuine)).unwrap();
            let last = der.len() - 1;
            der[last] ^= 1;
            (genuine, b64.encode(der))
        }
        "other-module" => {
            let other = format!("sha256:{}", "1".repeat(64));
            let payload = aksid_oci::payload(&docker_reference, &other, &no_annotations());
            let signature = key.sign(&payload);
            (payload, signature)
        }
        _ => {
            let payload = br#"{"hello":"world"}"#.to_vec();
            let signature = key.sign(&payload);
            (payload, signature)
        }
    };
    push_raw_signature(&s, &payload, &signature);
    let config = all_of(&[pub_key_entry(&s.alice, &[])]);
    let message = failure(s.client.verify(&s.pushed.reference_with_digest, &config));
    assert!(message.contains(expected), "{message}");
    if test == "tampered-payload" {
        assert!(independently_verify(&s, &s.alice.public).is_err());
    }
}

#[test]
fn a_hand_written_cosign_signature_verifies_like_an_aksid_one() {
    // The signature manifest written by raw HTTP (the layout cosign writes), not by aksid.
    let s = setup("raw-cosign");
    let key = s.alice.signing();
    let docker_reference = format!("{}/aksid/raw-cosign", s.registry.address());
    let payload = aksid_oci::payload(
        &docker_reference,
        &s.pushed.manifest_digest,
        &no_annotations(),
    );
    push_raw_signature(&s, &payload, &key.sign(&payload));
    let config = all_of(&[pub_key_entry(&s.alice, &[])]);
    s.client
        .verify(&s.pushed.reference_with_digest, &config)
        .unwrap();
    independently_verify(&s, &s.alice.public).unwrap();
}

#[rstest]
#[case::no_entries_at_all("apiVersion: v1\n", "neither allOf nor anyOf")]
#[case::empty_all_of_and_no_any_of("apiVersion: v1\nallOf: []\n", "neither allOf nor anyOf")]
#[case::minimum_matches_zero(
    "apiVersion: v1\nanyOf:\n  minimumMatches: 0\n  signatures:\n{KEY}",
    "minimumMatches is 0"
)]
#[case::minimum_matches_above_entries(
    "apiVersion: v1\nanyOf:\n  minimumMatches: 2\n  signatures:\n{KEY}",
    "minimumMatches is 2 but anyOf.signatures lists only 1"
)]
#[case::empty_any_of_signatures(
    "apiVersion: v1\nanyOf:\n  signatures: []\n",
    "anyOf.signatures is empty"
)]
#[case::generic_issuer_is_keyless(
    "apiVersion: v1\nallOf:\n  - kind: genericIssuer\n    issuer: https://token.actions.githubusercontent.com\n    subject:\n      equal: https://github.com/a/b/.github/workflows/release.yml@refs/heads/main\n",
    "allOf[0]: kind genericIssuer is keyless"
)]
#[case::github_action_is_keyless(
    "apiVersion: v1\nallOf:\n  - kind: githubAction\n    owner: kubewarden\n",
    "not support offline"
)]
#[case::unknown_kind(
    "apiVersion: v1\nallOf:\n  - kind: pgp\n    key: x\n",
    "unknown kind \"pgp\""
)]
#[case::missing_api_version("allOf:\n{KEY}", "apiVersion is missing")]
#[case::unsupported_api_version(
    "apiVersion: v2\nallOf:\n{KEY}",
    "apiVersion \"v2\" is not supported"
)]
#[case::unknown_field("apiVersion: v1\nallof:\n{KEY}", "not a valid config")]
#[case::not_a_key(
    "apiVersion: v1\nallOf:\n  - kind: pubKey\n    key: hello\n",
    "allOf[0]: not a PEM public key"
)]
#[case::private_key_instead_of_public(
    "apiVersion: v1\nallOf:\n  - kind: pubKey\n    key: |\n      -----BEGIN PRIVATE KEY-----\n      AAAA\n      -----END PRIVATE KEY-----\n",
    "found BEGIN PRIVATE KEY"
)]
fn degenerate_and_unsupported_configs_are_refused(#[case] yaml: &str, #[case] expected: &str) {
    let dir = scratch("config");
    let key = KeyPair::generate(dir.path(), "k");
    let entry: String = pub_key_entry(&key, &[])
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    let yaml = yaml.replace("{KEY}", &entry);
    let err = VerificationConfig::from_yaml(&yaml, "cfg.yaml")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("verification config cfg.yaml: "), "{err}");
    assert!(err.contains(expected), "{err}");
}

#[rstest]
#[case::pkcs8_p256(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], None)]
#[case::sec1_p256(&["ecparam", "-name", "prime256v1", "-genkey", "-noout"], None)]
#[case::p384_refused(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], Some("not an EC P-256 key"))]
#[case::rsa_refused(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], Some("not an EC P-256 key"))]
fn signing_keys(#[case] openssl: &[&str], #[case] refused: Option<&str>) {
    let out = Command::new(aksid_test_registry::tool("openssl"))
        .args(openssl)
        .output()
        .unwrap();
    assert!(out.status.success());
    let pem = String::from_utf8(out.stdout).unwrap();
    match (SigningKey::from_pem(&pem), refused) {
        (Ok(key), None) => {
            let payload = b"payload";
            assert!(key.public_key().verifies(payload, &key.sign(payload)));
            assert!(!key.public_key().verifies(b"other", &key.sign(payload)));
            let round = PublicKey::from_pem(&key.public_key().to_pem()).unwrap();
            assert_eq!(round, key.public_key());
        }
        (Err(e), Some(expected)) => {
            let message = e.to_string();
            assert!(message.contains(expected), "{message}");
            assert!(message.contains("openssl genpkey"), "{message}");
            assert!(
                !message.contains(pem.lines().nth(1).unwrap()),
                "key material in {message}"
            );
        }
        (result, _) => panic!("unexpected {result:?}"),
    }
}

#[test]
fn an_encrypted_key_is_refused_without_echoing_it() {
    let pem = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
    let message = SigningKey::from_pem(pem).unwrap_err().to_string();
    assert!(message.contains("encrypted"), "{message}");
    assert!(!message.contains("c2VjcmV0"), "{message}");
    let debug = format!(
        "{:?}",
        SigningKey::from_pem(&{
            let out = Command::new(aksid_test_registry::tool("openssl"))
                .args([
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        })
        .unwrap()
    );
    assert!(debug.starts_with("SigningKey(SHA256:"), "{debug}");
}

#[test]
fn the_verify_key_shorthand_is_all_of_one_pub_key() {
    let dir = scratch("shorthand");
    let key = KeyPair::generate(dir.path(), "k");
    let config =
        VerificationConfig::from_public_key_pem(&key.public_pem(), "--verify-key k.pub").unwrap();
    assert_eq!(config.all_of().len(), 1);
    assert!(config.any_of().is_none());
}
