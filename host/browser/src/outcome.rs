//! How a guest call ended in the browser, and what the CLI reports for it: the verdict, or the
//! wording of the wasmtime host's `aksid_host::Error` for the same failure, so a timeout, a trap
//! or a guest error reads the same on the page as in `kubectl aksid check`.

use crate::capabilities::HostCallFailure;
use aksid_report::Verdict;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// How the JavaScript host saw a guest call end.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// `__guest_call` returned 1 and handed over this response.
    Response {
        /// The response text.
        response: String,
    },
    /// `__guest_call` returned 1 without calling `__guest_response`.
    NoResponse {
        /// The waPC operation.
        operation: String,
    },
    /// `__guest_call` returned 0 with this `__guest_error` text (or none).
    GuestError {
        /// The guest's error text.
        message: Option<String>,
    },
    /// The guest trapped; `reason` is already in wasmtime's words.
    Trap {
        /// The waPC operation, or `_start`/`wapc_init` during start-up.
        operation: String,
        /// The trap's description.
        reason: String,
    },
    /// The worker was stopped at the time limit.
    Timeout {
        /// The waPC operation, or `_start`/`wapc_init` during start-up.
        operation: String,
    },
    /// The module could not be compiled, linked or started.
    Load {
        /// The host's whole message.
        message: String,
    },
}

/// The SDK's `ValidationResponse`, reduced to what reports show.
#[derive(Deserialize)]
struct ValidationResponse {
    accepted: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
    #[allow(
        dead_code,
        reason = "read so that its type is checked, as the host does"
    )]
    #[serde(default)]
    audit_annotations: Option<BTreeMap<String, String>>,
}

/// The SDK's `SettingsValidationResponse`.
#[derive(Deserialize)]
struct SettingsValidationResponse {
    valid: bool,
    #[serde(default)]
    message: Option<String>,
}

/// The verdict of a `validate` call, or the CLI's message for its failure.
pub(crate) fn verdict(
    policy: &str,
    outcome: Outcome,
    timeout: Duration,
    guest_message: Option<String>,
    refused: Vec<HostCallFailure>,
) -> Result<Verdict, String> {
    match outcome {
        Outcome::Response { response } => {
            let parsed: ValidationResponse = serde_json::from_str(&response).map_err(|e| {
                format!(
                    "policy {policy}: its `validate` response is not valid: expected a \
                     ValidationResponse: {e}"
                )
            })?;
            Ok(Verdict {
                allowed: parsed.accepted,
                message: parsed.message,
                warnings: parsed.warnings.unwrap_or_default(),
            })
        }
        Outcome::GuestError { message } => Err(guest_failure(
            policy,
            "validate",
            message.unwrap_or_else(|| {
                "the guest reported a failure without an error message".to_owned()
            }),
            refused,
        )),
        other => Err(failure(policy, other, timeout, guest_message, refused)),
    }
}

/// Whether settings are valid (and why not), or the host's message for a call that failed.
pub(crate) fn settings_verdict(
    policy: &str,
    outcome: Outcome,
    timeout: Duration,
    guest_message: Option<String>,
    refused: Vec<HostCallFailure>,
) -> Result<(bool, Option<String>), String> {
    match outcome {
        Outcome::Response { response } => {
            let parsed: SettingsValidationResponse =
                serde_json::from_str(&response).map_err(|e| {
                    format!(
                        "policy {policy}: its `validate_settings` response is not valid: \
                         expected a SettingsValidationResponse: {e}"
                    )
                })?;
            Ok((parsed.valid, parsed.message))
        }
        // As policy-server: a guest error (settings that do not deserialise) is an invalid
        // verdict with the guest's message.
        Outcome::GuestError { message } => Ok((
            false,
            Some(message.unwrap_or_else(|| {
                "the guest reported a failure without an error message".to_owned()
            })),
        )),
        other => Err(failure(policy, other, timeout, guest_message, refused)),
    }
}

/// The message of `aksid_host::Error` for a call that did not end with the guest's answer.
fn failure(
    policy: &str,
    outcome: Outcome,
    timeout: Duration,
    guest_message: Option<String>,
    refused: Vec<HostCallFailure>,
) -> String {
    match outcome {
        Outcome::Timeout { operation } => {
            format!("policy {policy} timed out after {timeout:?} in `{operation}`")
        }
        Outcome::NoResponse { operation } => format!(
            "policy {policy}: its `{operation}` response is not valid: the guest reported \
             success without handing over a response"
        ),
        Outcome::Trap { operation, reason } => match refused.into_iter().next() {
            Some(failure) => format!(
                "policy {policy} failed in `{operation}` after the host refused `{}`: {}",
                failure.capability, failure.message
            ),
            None => format!(
                "policy {policy} trapped in `{operation}`: {reason}{}",
                guest_message.map(|m| format!("\n{m}")).unwrap_or_default()
            ),
        },
        Outcome::Load { message } => message,
        Outcome::Response { .. } | Outcome::GuestError { .. } => {
            format!("policy {policy}: an unexpected outcome")
        }
    }
}

fn guest_failure(
    policy: &str,
    operation: &str,
    message: String,
    refused: Vec<HostCallFailure>,
) -> String {
    match refused.into_iter().next() {
        Some(failure) => format!(
            "policy {policy} failed in `{operation}` after the host refused `{}`: {}",
            failure.capability, failure.message
        ),
        None => format!("policy {policy} failed in `{operation}`: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn fail(outcome: Outcome) -> String {
        verdict("p", outcome, Duration::from_secs(2), None, Vec::new()).unwrap_err()
    }

    #[rstest]
    #[case::timeout_reads_as_the_cli_timeout(
        Outcome::Timeout { operation: "validate".into() },
        "policy p timed out after 2s in `validate`"
    )]
    #[case::trap_names_operation_and_reason(
        Outcome::Trap { operation: "validate".into(), reason: "wasm `unreachable` instruction executed".into() },
        "policy p trapped in `validate`: wasm `unreachable` instruction executed"
    )]
    #[case::guest_error_is_a_failure(
        Outcome::GuestError { message: Some("boom".into()) },
        "policy p failed in `validate`: boom"
    )]
    #[case::missing_response_is_a_bad_response(
        Outcome::NoResponse { operation: "validate".into() },
        "policy p: its `validate` response is not valid: the guest reported success without handing over a response"
    )]
    fn failures_read_as_the_wasmtime_host_says(#[case] outcome: Outcome, #[case] expected: &str) {
        assert_eq!(fail(outcome), expected);
    }

    #[test]
    fn a_refused_host_call_explains_a_guest_error() {
        let refused = vec![HostCallFailure {
            capability: "kubernetes/can_i".into(),
            message: "not available offline".into(),
        }];
        let outcome = Outcome::GuestError {
            message: Some("x".into()),
        };
        assert_eq!(
            verdict("p", outcome, Duration::from_secs(2), None, refused).unwrap_err(),
            "policy p failed in `validate` after the host refused `kubernetes/can_i`: not available offline"
        );
    }

    #[test]
    fn a_rejection_keeps_message_and_warnings() {
        let outcome = Outcome::Response {
            response: r#"{"accepted":false,"message":"no","warnings":["w"],"code":null}"#.into(),
        };
        let v = verdict("p", outcome, Duration::from_secs(2), None, Vec::new()).unwrap();
        assert_eq!(
            (v.allowed, v.message.as_deref(), v.warnings),
            (false, Some("no"), vec!["w".to_owned()])
        );
    }

    #[test]
    fn a_guest_error_in_settings_is_an_invalid_verdict() {
        let outcome = Outcome::GuestError {
            message: Some("unknown field `x`".into()),
        };
        assert_eq!(
            settings_verdict("p", outcome, Duration::from_secs(2), None, Vec::new()),
            Ok((false, Some("unknown field `x`".to_owned())))
        );
    }
}
