//! aksid-oci against hostile registries: real HTTP servers on loopback addresses whose answers
//! are scripted byte by byte ([`ScriptedServer`]) — stalls, trickles, bodies longer than
//! declared, huge manifests, redirects to plain HTTP, token realms on other hosts — and that
//! record every request, to prove where credentials went and where they did not.
//!
//! 127.0.0.2 stands for a remote host: the kernel routes it locally, but aksid treats only
//! localhost, 127.0.0.1 and [::1] as loopback. A real non-loopback name resolving to 127.0.0.1
//! would need /etc/hosts (root), so the remote cases use 127.0.0.2 and the decision functions
//! have their own table tests (`auth.rs`, `http.rs`).

use aksid_oci::{Client, ClientOptions, Reference, RegistryErrorKind, sha256_digest};
use aksid_test_registry::{
    RecordedRequest, ScriptedServer, error_chain, respond, scratch, stream_zeros,
};
use base64::Engine as _;
use rstest::rstest;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const USER: &str = "aksid-user";
const PASSWORD: &str = "s3cret-Passw0rd";
const TOKEN: &str = "issued-token-123";
const REPO: &str = "aksid/p";

/// A registry on `ip` that answers every request with a Basic challenge.
fn basic_challenge(ip: &str) -> ScriptedServer {
    ScriptedServer::start(ip, |_, stream| {
        respond(
            stream,
            "401 Unauthorized",
            &[("WWW-Authenticate", "Basic realm=\"x\"")],
            b"",
        )
    })
}

/// A policy as a registry serves it: the module, and a manifest whose layer declares `size`.
struct Artifact {
    module: Vec<u8>,
    manifest: Vec<u8>,
    layer_digest: String,
}

fn artifact(declared_size: Option<u64>) -> Arc<Artifact> {
    let module = b"\0asm\x01\0\0\0".to_vec();
    let layer_digest = sha256_digest(&module);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": aksid_oci::WASM_CONFIG_MEDIA_TYPE,
                   "digest": sha256_digest(b"{}"), "size": 2},
        "layers": [{"mediaType": aksid_oci::WASM_LAYER_MEDIA_TYPE, "digest": layer_digest,
                    "size": declared_size.unwrap_or(module.len() as u64)}],
    }))
    .unwrap();
    Arc::new(Artifact {
        module,
        manifest,
        layer_digest,
    })
}

/// Which registry endpoint a request is for.
fn endpoint(request: &RecordedRequest) -> &'static str {
    let path = request.path.as_str();
    if path == "/v2/" {
        "probe"
    } else if path.starts_with("/token") {
        "token"
    } else if path.contains("/manifests/") {
        "manifest"
    } else if path.contains("/blobs/") {
        "blob"
    } else {
        "other"
    }
}

/// Serves `artifact` as a well-behaved anonymous registry would.
fn serve_normally(artifact: &Artifact, request: &RecordedRequest, stream: &mut TcpStream) {
    match endpoint(request) {
        "probe" => respond(stream, "200 OK", &[], b"{}"),
        "manifest" => respond(
            stream,
            "200 OK",
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            &artifact.manifest,
        ),
        "blob" => respond(stream, "200 OK", &[], &artifact.module),
        _ => respond(stream, "404 Not Found", &[], b""),
    }
}

/// A client with short timeouts and credentials only from `docker_config` (none by default).
fn client(
    dir: &Path,
    docker_config: Option<serde_json::Value>,
    read: u64,
    deadline: u64,
) -> Client {
    let path = dir.join("docker-config.json");
    let config = docker_config.unwrap_or_else(|| serde_json::json!({}));
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    Client::new(
        ClientOptions::new(dir.join("cache"))
            .docker_config(&path)
            .insecure_registry("127.0.0.2")
            .read_timeout(Duration::from_millis(read))
            .operation_timeout(Duration::from_millis(deadline)),
    )
    .unwrap()
}

/// A Docker config holding the test credentials for `registry`.
fn credentials_for(registry: &str) -> serde_json::Value {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    serde_json::json!({"auths": {registry: {"auth": auth}}})
}

fn reference(server: &ScriptedServer) -> Reference {
    Reference::parse(&format!("registry://{}/{REPO}:v1", server.address())).unwrap()
}

/// No request `server` received carries the password, in any header.
fn assert_password_never_sent(server: &ScriptedServer) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for request in server.requests() {
        for (name, value) in &request.headers {
            assert!(
                !value.contains(&basic) && !value.contains(PASSWORD),
                "{} received the password in `{name}` of {} {}",
                server.address(),
                request.method,
                request.path
            );
        }
    }
}

mod limits {
    use super::*;

    /// What the streaming handler sent, once it has finished (the client hung up), waiting at
    /// most 6 s (its write timeout is 5 s).
    fn bytes_sent(counter: &std::sync::atomic::AtomicU64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(6);
        loop {
            let sent = counter.load(std::sync::atomic::Ordering::SeqCst);
            if sent != u64::MAX {
                return sent;
            }
            assert!(Instant::now() < deadline, "the server is still sending");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_well_behaved_registry_is_pulled_from() {
        let artifact = artifact(None);
        let served = artifact.clone();
        let server = ScriptedServer::start("127.0.0.1", move |request, stream| {
            serve_normally(&served, request, stream)
        });
        let dir = scratch("hostile-ok");
        let pulled = client(dir.path(), None, 2000, 10_000)
            .pull(&reference(&server))
            .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
        assert_eq!(pulled.bytes, artifact.module);
        assert_eq!(pulled.layer_digest, artifact.layer_digest);
    }

    #[test]
    fn a_stalled_manifest_fails_at_the_read_timeout_naming_the_registry() {
        let server = ScriptedServer::start("127.0.0.1", |request, stream| {
            if endpoint(request) == "probe" {
                return respond(stream, "200 OK", &[], b"{}");
            }
            use std::io::Write as _;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"schema");
            let _ = stream.flush();
            std::thread::sleep(Duration::from_secs(5));
        });
        let dir = scratch("hostile-stall");
        let started = Instant::now();
        let err = client(dir.path(), None, 500, 20_000)
            .pull(&reference(&server))
            .unwrap_err();
        let elapsed = started.elapsed();
        let message = error_chain(&err);
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::Timeout),
            "{message}"
        );
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
        assert!(
            message.contains(server.address())
                && message.contains("0.5 s")
                && message.contains("read timeout")
                && message.contains("AKSID_REGISTRY_TIMEOUT=SECONDS"),
            "{message}"
        );
    }

    #[test]
    fn a_trickling_layer_fails_at_the_operation_deadline() {
        let artifact = artifact(Some(1000));
        let served = artifact.clone();
        let server = ScriptedServer::start("127.0.0.1", move |request, stream| {
            if endpoint(request) != "blob" {
                return serve_normally(&served, request, stream);
            }
            use std::io::Write as _;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            // One byte every 50 ms: never idle for the read timeout, never done.
            for _ in 0..200 {
                if stream.write_all(b"x").and_then(|_| stream.flush()).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let dir = scratch("hostile-trickle");
        let started = Instant::now();
        let err = client(dir.path(), None, 1000, 1500)
            .pull(&reference(&server))
            .unwrap_err();
        let elapsed = started.elapsed();
        let message = error_chain(&err);
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::Timeout),
            "{message}"
        );
        assert!(message.contains("longer than 1.5 s"), "{message}");
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    }

    /// The layer is declared as 1,000 bytes and 2 GiB are on offer, announced or not.
    #[rstest]
    #[case::announced_in_content_length(Some(2u64 << 30))]
    #[case::unannounced(None)]
    fn a_layer_longer_than_declared_stops_at_the_declared_size(#[case] length: Option<u64>) {
        let artifact = artifact(Some(1000));
        let served = artifact.clone();
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let counter = sent.clone();
        let server = ScriptedServer::start("127.0.0.1", move |request, stream| {
            if endpoint(request) != "blob" {
                return serve_normally(&served, request, stream);
            }
            let n = stream_zeros(stream, length, 2 << 30);
            counter.store(n, std::sync::atomic::Ordering::SeqCst);
        });
        let dir = scratch("hostile-long-layer");
        let started = Instant::now();
        let err = client(dir.path(), None, 2000, 20_000)
            .pull(&reference(&server))
            .unwrap_err();
        let message = error_chain(&err);
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::TooLarge),
            "{message}"
        );
        assert!(
            message.contains("1000 bytes") && message.contains("module layer"),
            "{message}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        // The client hung up: the server managed to send socket buffers' worth, not 2 GiB.
        let sent = bytes_sent(&sent);
        assert!(sent < 64 << 20, "the server sent {sent} bytes");
    }

    /// A 3 GiB manifest, announced or not, is refused at 4 MiB without being buffered.
    #[rstest]
    #[case::announced_in_content_length(Some(3u64 << 30))]
    #[case::unannounced(None)]
    fn a_huge_manifest_is_refused_at_the_manifest_limit(#[case] length: Option<u64>) {
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let counter = sent.clone();
        let server = ScriptedServer::start("127.0.0.1", move |request, stream| {
            if endpoint(request) == "probe" {
                return respond(stream, "200 OK", &[], b"{}");
            }
            let n = stream_zeros(stream, length, 3 << 30);
            counter.store(n, std::sync::atomic::Ordering::SeqCst);
        });
        let dir = scratch("hostile-huge-manifest");
        let started = Instant::now();
        let err = client(dir.path(), None, 2000, 20_000)
            .pull(&reference(&server))
            .unwrap_err();
        let message = error_chain(&err);
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::TooLarge),
            "{message}"
        );
        assert!(
            message.contains(&aksid_oci::MAX_MANIFEST_SIZE.to_string())
                && message.contains("manifest"),
            "{message}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let sent = bytes_sent(&sent);
        assert!(sent < 64 << 20, "the server sent {sent} bytes");
    }
}

mod redirects {
    use super::*;

    #[test]
    fn a_blob_redirect_to_plain_http_on_another_host_is_refused_before_any_request() {
        let elsewhere = ScriptedServer::start("127.0.0.2", |_, stream| {
            respond(stream, "200 OK", &[], b"\0asm\x01\0\0\0")
        });
        let target = format!("http://{}/stolen-blob", elsewhere.address());
        let artifact = artifact(None);
        let served = artifact.clone();
        let registry = ScriptedServer::start("127.0.0.1", move |request, stream| {
            if endpoint(request) == "blob" {
                return respond(
                    stream,
                    "307 Temporary Redirect",
                    &[("Location", &target)],
                    b"",
                );
            }
            serve_normally(&served, request, stream)
        });
        let dir = scratch("hostile-redirect");
        // Without `insecure_registry("127.0.0.2")`, 127.0.0.2 models a remote plain-HTTP host.
        let config = dir.path().join("empty.json");
        std::fs::write(&config, "{}").unwrap();
        let client =
            Client::new(ClientOptions::new(dir.path().join("cache")).docker_config(&config))
                .unwrap();
        let err = client.pull(&reference(&registry)).unwrap_err();
        let message = error_chain(&err);
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::Refused),
            "{message}"
        );
        assert!(
            message.contains("plain HTTP") && message.contains("127.0.0.2"),
            "{message}"
        );
        assert!(
            elsewhere.requests().is_empty(),
            "{:?}",
            elsewhere.requests()
        );
    }
}

mod credentials {
    use super::*;

    #[test]
    fn an_anonymous_pull_may_use_a_foreign_token_realm_and_sends_it_nothing_secret() {
        // Docker Hub's shape: the token service is another host. Without credentials, nothing
        // secret can leak, so the anonymous token is fetched there.
        let realm = ScriptedServer::start("127.0.0.2", |_, stream| {
            respond(
                stream,
                "200 OK",
                &[],
                format!("{{\"token\": \"{TOKEN}\"}}").as_bytes(),
            )
        });
        let artifact = artifact(None);
        let registry = token_registry(
            format!("http://{}/token", realm.address()),
            artifact.clone(),
        );
        let dir = scratch("hostile-anonymous-realm");
        let pulled = client(dir.path(), None, 2000, 10_000)
            .pull(&reference(&registry))
            .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
        assert_eq!(pulled.bytes, artifact.module);
        let asked = realm.requests();
        assert_eq!(asked.len(), 1, "{asked:#?}");
        assert!(asked[0].header("authorization").is_none(), "{asked:#?}");
        assert!(
            asked[0]
                .path
                .contains("scope=repository%3Aaksid%2Fp%3Apull"),
            "{asked:#?}"
        );
    }

    /// A registry on 127.0.0.1 that challenges for a token at `realm` (formatted with its own
    /// address for `{self}`), checks the token, and serves the artifact.
    fn token_registry(realm: String, artifact: Arc<Artifact>) -> ScriptedServer {
        ScriptedServer::start("127.0.0.1", move |request, stream| {
            let bearer = format!("Bearer {TOKEN}");
            let own = request.header("host").unwrap_or_default().to_owned();
            let realm = realm.replace("{self}", &own);
            let challenge = format!("Bearer realm=\"{realm}\",service=\"test\"");
            match endpoint(request) {
                "token" => {
                    let expected = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{USER}:{PASSWORD}"))
                    );
                    if request.header("authorization") == Some(expected.as_str()) {
                        let body = format!("{{\"token\": \"{TOKEN}\"}}");
                        respond(stream, "200 OK", &[], body.as_bytes())
                    } else {
                        respond(stream, "401 Unauthorized", &[], b"")
                    }
                }
                _ if request.header("authorization") != Some(bearer.as_str()) => respond(
                    stream,
                    "401 Unauthorized",
                    &[("WWW-Authenticate", &challenge)],
                    b"{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"token required\"}]}",
                ),
                _ => serve_normally(&artifact, request, stream),
            }
        })
    }

    #[test]
    fn a_same_origin_token_realm_gets_the_credentials_and_nothing_else_does() {
        let artifact = artifact(None);
        let registry = token_registry("http://{self}/token".to_owned(), artifact.clone());
        let dir = scratch("hostile-token-ok");
        let pulled = client(
            dir.path(),
            Some(credentials_for(registry.address())),
            2000,
            10_000,
        )
        .pull(&reference(&registry))
        .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
        assert_eq!(pulled.bytes, artifact.module);
        let requests = registry.requests();
        let with_password: Vec<&str> = requests
            .iter()
            .filter(|r| {
                r.header("authorization")
                    .is_some_and(|a| a.starts_with("Basic "))
            })
            .map(|r| endpoint(r))
            .collect();
        assert_eq!(with_password, ["token"], "{requests:#?}");
        assert!(
            requests
                .iter()
                .filter(|r| matches!(endpoint(r), "manifest" | "blob"))
                .all(|r| r.header("authorization") == Some(&*format!("Bearer {TOKEN}"))),
            "{requests:#?}"
        );
    }

    /// The registry names a token realm that is not itself; a recording server stands there.
    #[rstest]
    #[case::another_host_plain_http("127.0.0.2")]
    #[case::same_host_another_port("127.0.0.1")]
    fn a_foreign_token_realm_never_receives_the_credentials(#[case] realm_ip: &str) {
        let recorder = ScriptedServer::start(realm_ip, |_, stream| {
            respond(
                stream,
                "200 OK",
                &[],
                format!("{{\"token\": \"{TOKEN}\"}}").as_bytes(),
            )
        });
        let realm = format!("http://{}/token", recorder.address());
        let registry = token_registry(realm, artifact(None));
        let dir = scratch("hostile-token-foreign");
        let started = Instant::now();
        let err = client(
            dir.path(),
            Some(credentials_for(registry.address())),
            2000,
            10_000,
        )
        .pull(&reference(&registry))
        .unwrap_err();
        let message = error_chain(&err);
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::Refused),
            "{message}"
        );
        assert!(
            message.contains(recorder.address()) && message.contains("own host and port"),
            "{message}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(recorder.requests().is_empty(), "{:#?}", recorder.requests());
        assert_password_never_sent(&registry);
        assert!(!message.contains(PASSWORD));
    }

    #[test]
    fn credentials_for_one_registry_are_never_offered_to_another() {
        let registry = basic_challenge("127.0.0.1");
        let dir = scratch("hostile-other-registry");
        // The credentials are for another port of the same host: another registry.
        let err = client(
            dir.path(),
            Some(credentials_for("127.0.0.1:1")),
            2000,
            10_000,
        )
        .pull(&reference(&registry))
        .unwrap_err();
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::Unauthorized),
            "{}",
            error_chain(&err)
        );
        assert!(!registry.requests().is_empty());
        assert!(
            registry
                .requests()
                .iter()
                .all(|r| r.header("authorization").is_none()),
            "{:#?}",
            registry.requests()
        );
    }

    #[test]
    fn credentials_never_go_over_plain_http_to_a_non_loopback_registry() {
        // 127.0.0.2 is listed as insecure (plain HTTP is allowed) and has credentials
        // configured, but it is not loopback to aksid: the Basic challenge is refused.
        let registry = basic_challenge("127.0.0.2");
        let dir = scratch("hostile-plain-http");
        let err = client(
            dir.path(),
            Some(credentials_for(registry.address())),
            2000,
            10_000,
        )
        .pull(&reference(&registry))
        .unwrap_err();
        let message = error_chain(&err);
        assert_eq!(
            err.registry_kind(),
            Some(RegistryErrorKind::Refused),
            "{message}"
        );
        assert!(
            message.contains("plain HTTP") && message.contains("loopback"),
            "{message}"
        );
        assert_password_never_sent(&registry);
        assert!(
            registry
                .requests()
                .iter()
                .all(|r| r.header("authorization").is_none()),
            "{:#?}",
            registry.requests()
        );
    }
}
