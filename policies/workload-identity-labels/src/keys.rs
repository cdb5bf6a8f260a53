//! The `azure.workload.identity/*` keys: which object and field the Workload ID webhook reads
//! each one from, misspellings of them, and the value rules it enforces.
//!
//! Source of truth: `pkg/webhook/consts.go` and `pkg/webhook/webhook.go` of
//! Azure/azure-workload-identity (v1.6.0). The webhook reads the pod label through its
//! `objectSelector`, `client-id`/`tenant-id` only from the ServiceAccount, the token expiration
//! from the pod first and then the ServiceAccount, and everything else from pod annotations.

use crate::Settings;
use aksid_policy_common::{Verdict, Violation, ids};

/// Prefix of every Workload ID key.
pub(crate) const PREFIX: &str = "azure.workload.identity/";
/// The pod label the webhook's `objectSelector` matches, value `"true"` exactly.
pub(crate) const USE: &str = "azure.workload.identity/use";
/// ServiceAccount annotation: the client ID of the managed identity or app registration.
pub(crate) const CLIENT_ID: &str = "azure.workload.identity/client-id";
/// ServiceAccount annotation: the tenant of that identity (defaults to the cluster's tenant).
pub(crate) const TENANT_ID: &str = "azure.workload.identity/tenant-id";
/// Pod or ServiceAccount annotation: projected token lifetime in seconds.
pub(crate) const TOKEN_EXPIRATION: &str =
    "azure.workload.identity/service-account-token-expiration";
/// Pod annotation: inject the IMDS proxy sidecar (on presence, whatever the value).
pub(crate) const INJECT_PROXY_SIDECAR: &str = "azure.workload.identity/inject-proxy-sidecar";
/// Pod annotation: port of the proxy sidecar.
pub(crate) const PROXY_SIDECAR_PORT: &str = "azure.workload.identity/proxy-sidecar-port";

/// Token lifetime bounds enforced by the webhook (`MinServiceAccountTokenExpiration`, `Max...`).
const TOKEN_EXPIRATION_RANGE: (i64, i64) = (3600, 86400);

/// Every key suffix the webhook knows, besides the `use-<suffix>` custom token annotations.
const KNOWN_SUFFIXES: [&str; 7] = [
    "use",
    "client-id",
    "tenant-id",
    "service-account-token-expiration",
    "skip-containers",
    "inject-proxy-sidecar",
    "proxy-sidecar-port",
];

/// Where a key was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Pod (template) label.
    PodLabel,
    /// Pod (template) annotation.
    PodAnnotation,
    /// ServiceAccount label.
    ServiceAccountLabel,
    /// ServiceAccount annotation.
    ServiceAccountAnnotation,
}

/// Why a known key in this place is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Misplacement {
    /// The key is read as a label (only `use`).
    MustBeLabel,
    /// The key is read as an annotation.
    MustBeAnnotation,
    /// The key is read from the ServiceAccount only (`client-id`, `tenant-id`).
    ServiceAccountOnly,
    /// The key is read from the pod only (`skip-containers`, proxy keys, `use-<suffix>`).
    PodOnly,
}

impl Misplacement {
    /// The problem, in words, for a message.
    pub(crate) fn problem(self) -> &'static str {
        match self {
            Misplacement::MustBeLabel => {
                "is read by the webhook as a pod label, not as an annotation, so it is ignored here"
            }
            Misplacement::MustBeAnnotation => {
                "is read by the webhook as an annotation, not as a label, so it is ignored here"
            }
            Misplacement::ServiceAccountOnly => {
                "is read by the webhook from the pod's ServiceAccount only, so it is ignored on a pod"
            }
            Misplacement::PodOnly => {
                "is read by the webhook from pod annotations only, so it is ignored on a ServiceAccount"
            }
        }
    }
}

/// What a key found on a pod or ServiceAccount is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// Not a Workload ID key.
    Other,
    /// A Workload ID key the webhook reads in this place.
    Known,
    /// `use` on a ServiceAccount: read before v1.0, a no-op since.
    DeprecatedOnServiceAccount,
    /// A known key in a place the webhook does not read it from.
    Misplaced(Misplacement),
    /// A misspelling of the given key.
    Misspelled(String),
    /// Under the prefix, but no key the webhook knows and nothing close to one.
    Unknown,
}

/// Classifies `key` found at `place`.
pub(crate) fn classify(key: &str, place: Place) -> KeyKind {
    let Some(suffix) = key.strip_prefix(PREFIX) else {
        return match misspelled_prefix(key) {
            Some(right) => KeyKind::Misspelled(right),
            None => KeyKind::Other,
        };
    };
    let is_label = matches!(place, Place::PodLabel | Place::ServiceAccountLabel);
    let on_pod = matches!(place, Place::PodLabel | Place::PodAnnotation);
    match suffix {
        "use" => match place {
            Place::PodLabel => KeyKind::Known,
            Place::PodAnnotation => KeyKind::Misplaced(Misplacement::MustBeLabel),
            _ => KeyKind::DeprecatedOnServiceAccount,
        },
        _ if is_label => {
            if is_known_suffix(suffix) {
                KeyKind::Misplaced(Misplacement::MustBeAnnotation)
            } else {
                closest(suffix).map_or(KeyKind::Unknown, KeyKind::Misspelled)
            }
        }
        "client-id" | "tenant-id" if on_pod => KeyKind::Misplaced(Misplacement::ServiceAccountOnly),
        "client-id" | "tenant-id" | "service-account-token-expiration" => KeyKind::Known,
        "skip-containers" | "inject-proxy-sidecar" | "proxy-sidecar-port" if !on_pod => {
            KeyKind::Misplaced(Misplacement::PodOnly)
        }
        "skip-containers" | "inject-proxy-sidecar" | "proxy-sidecar-port" => KeyKind::Known,
        _ if is_custom_token_suffix(suffix) && on_pod => KeyKind::Known,
        _ if is_custom_token_suffix(suffix) => KeyKind::Misplaced(Misplacement::PodOnly),
        _ => closest(suffix).map_or(KeyKind::Unknown, KeyKind::Misspelled),
    }
}

/// The key names the webhook knows, for messages.
pub(crate) fn known_keys() -> String {
    let mut keys: Vec<String> = KNOWN_SUFFIXES
        .iter()
        .map(|s| format!("{PREFIX}{s}"))
        .collect();
    keys.push(format!("{PREFIX}use-<suffix>"));
    keys.join(", ")
}

fn is_known_suffix(suffix: &str) -> bool {
    KNOWN_SUFFIXES.contains(&suffix) || is_custom_token_suffix(suffix)
}

/// `use-<suffix>` (v1.6.0 custom token endpoint, e.g. AKS identity bindings' `use-identity-binding`).
fn is_custom_token_suffix(suffix: &str) -> bool {
    suffix
        .strip_prefix("use-")
        .is_some_and(|rest| !rest.is_empty())
}

/// The known key `suffix` most likely meant: same letters ignoring case and punctuation
/// (`client_id`, `clientId`, `ClientID`), or at most two edits away (`cliend-id`).
fn closest(suffix: &str) -> Option<String> {
    let wanted = normalize(suffix);
    if wanted.is_empty() || wanted.len() > 64 {
        return None;
    }
    KNOWN_SUFFIXES
        .iter()
        .find(|known| normalize(known) == wanted)
        .or_else(|| {
            KNOWN_SUFFIXES
                .iter()
                .filter(|known| known.len() >= 5)
                .find(|known| edit_distance(&normalize(known), &wanted) <= 2)
        })
        .map(|known| format!("{PREFIX}{known}"))
}

/// A key whose prefix is a misspelling of `azure.workload.identity/` but whose rest is a known
/// key: `azure.workload.identity.use`, `azure-workload-identity/client-id`,
/// `azure.workload.identitiy/use`. The webhook's own `azure-workload-identity.io/system` label
/// is not one (its rest, `system`, is no key).
fn misspelled_prefix(key: &str) -> Option<String> {
    const PREFIX_LETTERS: &str = "azureworkloadidentity";
    if key.len() > 128 {
        return None;
    }
    let rest = match key.split_once('/') {
        Some((prefix, rest)) if edit_distance(&normalize(prefix), PREFIX_LETTERS) <= 2 => {
            normalize(rest)
        }
        Some(_) => return None,
        None => normalize(key).strip_prefix(PREFIX_LETTERS)?.to_owned(),
    };
    KNOWN_SUFFIXES
        .iter()
        .find(|known| normalize(known) == rest)
        .map(|known| format!("{PREFIX}{known}"))
}

/// Lowercase ASCII letters and digits only.
fn normalize(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Levenshtein distance over bytes (inputs are short, bounded by the callers).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// How a value that should be an identifier reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdValue {
    /// A GUID.
    Guid,
    /// An unrendered template placeholder: unknown, not wrong.
    Placeholder,
    /// Empty or whitespace.
    Empty,
    /// Anything else.
    Invalid,
}

/// Reads a client or tenant ID.
pub(crate) fn read_id(value: &str) -> IdValue {
    let value = value.trim();
    if value.is_empty() {
        IdValue::Empty
    } else if ids::is_guid(value) {
        IdValue::Guid
    } else if ids::is_placeholder(value) {
        IdValue::Placeholder
    } else {
        IdValue::Invalid
    }
}

/// Why a numeric Workload ID value is refused, or `Ok` for a value the webhook accepts.
/// Placeholders are `Err(None)`: unknown.
pub(crate) fn check_token_expiration(value: &str) -> Result<(), Option<String>> {
    let (min, max) = TOKEN_EXPIRATION_RANGE;
    match parse_go_int(value) {
        Some(seconds) if (min..=max).contains(&seconds) => Ok(()),
        Some(_) => Err(Some(format!(
            "is outside {min}..{max} seconds; the webhook refuses to create the pod"
        ))),
        None if ids::is_placeholder(value) => Err(None),
        None => Err(Some(
            "is not a whole number of seconds; the webhook refuses to create the pod".to_owned(),
        )),
    }
}

/// Checks `proxy-sidecar-port` (`strconv.ParseInt(v, 10, 32)` in the webhook, then a TCP port).
pub(crate) fn check_proxy_port(value: &str) -> Result<(), Option<String>> {
    match parse_go_int(value) {
        Some(port) if (1..=65535).contains(&port) => Ok(()),
        Some(_) => Err(Some("is not a TCP port (1..65535)".to_owned())),
        None if ids::is_placeholder(value) => Err(None),
        None => Err(Some(
            "is not a number; the webhook refuses to create the pod".to_owned(),
        )),
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits, nothing else.
pub(crate) fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.ParseBool`, which the Secrets Store provider uses for its parameters.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A value quoted for a message, cut to a readable length.
pub(crate) fn quote(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() > MAX {
        let cut: String = value.chars().take(MAX).collect();
        format!("{:?}…", cut)
    } else {
        format!("{value:?}")
    }
}

/// An unrendered placeholder: a warning, or a rejection with `rejectPlaceholders`.
pub(crate) fn placeholder(
    location: &str,
    value: &str,
    fix: &str,
    settings: &Settings,
    verdict: &mut Verdict,
) {
    let problem = format!("{} is an unrendered placeholder", quote(value));
    if settings.reject_placeholders {
        verdict.reject(
            Violation::new(location, format!("{problem} (rejectPlaceholders is on)")).fix(format!(
                "render the manifest (envsubst, Helm, Kustomize) first, or {fix}"
            )),
        );
    } else {
        verdict.warn(format!(
            "{location}: {problem}, so it could not be checked; render the manifest before deploying"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::pod_label(USE, Place::PodLabel, KeyKind::Known)]
    #[case::use_as_pod_annotation(
        USE,
        Place::PodAnnotation,
        KeyKind::Misplaced(Misplacement::MustBeLabel)
    )]
    #[case::use_on_service_account(
        USE,
        Place::ServiceAccountLabel,
        KeyKind::DeprecatedOnServiceAccount
    )]
    #[case::client_id_on_sa(CLIENT_ID, Place::ServiceAccountAnnotation, KeyKind::Known)]
    #[case::client_id_on_pod(
        CLIENT_ID,
        Place::PodAnnotation,
        KeyKind::Misplaced(Misplacement::ServiceAccountOnly)
    )]
    #[case::client_id_as_label(
        CLIENT_ID,
        Place::ServiceAccountLabel,
        KeyKind::Misplaced(Misplacement::MustBeAnnotation)
    )]
    #[case::expiration_on_pod(TOKEN_EXPIRATION, Place::PodAnnotation, KeyKind::Known)]
    #[case::expiration_on_sa(TOKEN_EXPIRATION, Place::ServiceAccountAnnotation, KeyKind::Known)]
    #[case::proxy_on_sa(
        INJECT_PROXY_SIDECAR,
        Place::ServiceAccountAnnotation,
        KeyKind::Misplaced(Misplacement::PodOnly)
    )]
    #[case::identity_binding(
        "azure.workload.identity/use-identity-binding",
        Place::PodAnnotation,
        KeyKind::Known
    )]
    #[case::identity_binding_on_sa(
        "azure.workload.identity/use-identity-binding",
        Place::ServiceAccountAnnotation,
        KeyKind::Misplaced(Misplacement::PodOnly)
    )]
    #[case::underscore("azure.workload.identity/client_id", Place::ServiceAccountAnnotation, KeyKind::Misspelled(CLIENT_ID.into()))]
    #[case::no_dash("azure.workload.identity/clientid", Place::ServiceAccountAnnotation, KeyKind::Misspelled(CLIENT_ID.into()))]
    #[case::camel("azure.workload.identity/clientId", Place::ServiceAccountAnnotation, KeyKind::Misspelled(CLIENT_ID.into()))]
    #[case::tenant("azure.workload.identity/tenant_id", Place::ServiceAccountAnnotation, KeyKind::Misspelled(TENANT_ID.into()))]
    #[case::typo("azure.workload.identity/inject-proxy-sidcar", Place::PodAnnotation, KeyKind::Misspelled(INJECT_PROXY_SIDECAR.into()))]
    #[case::misspelled_label("azure.workload.identity/Use", Place::PodLabel, KeyKind::Misspelled(USE.into()))]
    #[case::dotted_prefix("azure.workload.identity.use", Place::PodLabel, KeyKind::Misspelled(USE.into()))]
    #[case::dashed_prefix("azure-workload-identity/client-id", Place::ServiceAccountAnnotation, KeyKind::Misspelled(CLIENT_ID.into()))]
    #[case::webhook_system_label(
        "azure-workload-identity.io/system",
        Place::PodLabel,
        KeyKind::Other
    )]
    #[case::unknown(
        "azure.workload.identity/something-else",
        Place::PodAnnotation,
        KeyKind::Unknown
    )]
    #[case::unrelated("app.kubernetes.io/name", Place::PodLabel, KeyKind::Other)]
    fn classify_keys(#[case] key: &str, #[case] place: Place, #[case] expected: KeyKind) {
        assert_eq!(classify(key, place), expected);
    }

    #[rstest]
    #[case::min("3600", true)]
    #[case::max("86400", true)]
    #[case::plus_sign("+7200", true)]
    #[case::too_short("600", false)]
    #[case::too_long("86401", false)]
    #[case::negative("-3600", false)]
    #[case::duration("1h", false)]
    #[case::spaces(" 3600", false)]
    fn token_expiration(#[case] value: &str, #[case] ok: bool) {
        assert_eq!(check_token_expiration(value).is_ok(), ok, "{value}");
    }

    #[test]
    fn placeholders_are_unknown_not_wrong() {
        assert_eq!(check_token_expiration("${TOKEN_TTL}"), Err(None));
        assert_eq!(check_proxy_port("$PORT"), Err(None));
        assert_eq!(read_id("${USER_ASSIGNED_CLIENT_ID}"), IdValue::Placeholder);
        assert_eq!(read_id("PLACEHOLDER_CLIENT_ID"), IdValue::Invalid);
        assert_eq!(
            read_id(" 00000000-0000-0000-0000-000000000000 "),
            IdValue::Guid
        );
        assert_eq!(read_id(""), IdValue::Empty);
    }

    #[test]
    fn go_bools_and_ints() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Some(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Some(false));
        }
        for bad in ["yes", "tRUE", " true", ""] {
            assert_eq!(parse_go_bool(bad), None);
        }
        assert_eq!(parse_go_int("99999999999999999999"), None);
        assert_eq!(parse_go_int("-"), None);
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(500);
        assert!(quote(&long).chars().count() < 90);
        assert_eq!(quote("a\"b"), r#""a\"b""#);
    }
}
