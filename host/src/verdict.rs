//! What an evaluation returns: the policy's [`Verdict`] on a request (with the mutation as an
//! RFC 6902 JSON Patch, as policy-server computes it) or its [`SettingsVerdict`], plus what the
//! guest logged and printed; and the `AdmissionResponse` kwctl prints for a verdict.

use crate::capabilities::HostCallFailure;
use crate::capture::{CapturedOutput, LogRecord};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A policy's answer to one admission request.
///
/// `accepted` is the decision; a rejected request carries the policy's `message` (and
/// optionally an HTTP-like `code`). A mutating policy that changed the object is accepted with
/// a `patch`. Errors of the policy itself (trap, timeout, guest error) are not verdicts but
/// [`Error`](crate::Error)s.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    /// Whether the policy admits the request.
    pub accepted: bool,
    /// The policy's message (the rejection reason; rarely set on acceptance).
    pub message: Option<String>,
    /// The status code the policy chose, if any.
    pub code: Option<u16>,
    /// Warnings for the user, shown even when the request is accepted.
    pub warnings: Vec<String>,
    /// Audit annotations the policy attached.
    pub audit_annotations: BTreeMap<String, String>,
    /// The mutation: RFC 6902 operations from the request's `object` to the object the policy
    /// returned; `None` when the policy did not mutate or returned an identical object.
    pub patch: Option<Vec<Value>>,
    /// The whole object the policy returned, when it returned one.
    pub mutated_object: Option<Value>,
    /// Log records the policy emitted.
    pub logs: Vec<LogRecord>,
    /// What the policy wrote to stdout and stderr.
    pub output: CapturedOutput,
    /// Host calls the host refused (undeclared kind, capability not available offline), which
    /// the policy handled itself.
    pub host_call_failures: Vec<HostCallFailure>,
}

/// A policy's answer to `validate_settings`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingsVerdict {
    /// Whether the settings are valid for the policy.
    pub valid: bool,
    /// Why not, when they are invalid.
    pub message: Option<String>,
    /// Log records the policy emitted.
    pub logs: Vec<LogRecord>,
    /// What the policy wrote to stdout and stderr.
    pub output: CapturedOutput,
}

/// Kubernetes' `AdmissionResponse`, camelCase, fields in the order kwctl prints them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's uid.
    pub uid: String,
    /// The decision.
    pub allowed: bool,
    /// `JSONPatch` when there is a patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// The base64 of the JSON Patch document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// The message and code, when the policy set either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionStatus>,
    /// Audit annotations (`null` when none, as kwctl prints them).
    pub audit_annotations: Option<BTreeMap<String, String>>,
    /// Warnings (`null` when none).
    pub warnings: Option<Vec<String>>,
}

/// The `status` of an [`AdmissionResponse`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdmissionStatus {
    /// The policy's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The policy's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

impl Verdict {
    /// The `AdmissionResponse` kwctl prints for this verdict.
    ///
    /// ```
    /// let verdict = aksid_host::Verdict { accepted: false, message: Some("no".into()), ..Default::default() };
    /// let json = serde_json::to_string(&verdict.to_admission_response("42")).unwrap();
    /// assert_eq!(json, r#"{"uid":"42","allowed":false,"status":{"message":"no"},"auditAnnotations":null,"warnings":null}"#);
    /// ```
    pub fn to_admission_response(&self, uid: &str) -> AdmissionResponse {
        let patch = self.patch.as_ref().map(|operations| {
            base64::engine::general_purpose::STANDARD
                .encode(serde_json::to_vec(operations).unwrap_or_default())
        });
        AdmissionResponse {
            uid: uid.to_owned(),
            allowed: self.accepted,
            patch_type: patch.as_ref().map(|_| "JSONPatch".to_owned()),
            patch,
            status: (self.message.is_some() || self.code.is_some()).then(|| AdmissionStatus {
                message: self.message.clone(),
                code: self.code,
            }),
            audit_annotations: (!self.audit_annotations.is_empty())
                .then(|| self.audit_annotations.clone()),
            warnings: (!self.warnings.is_empty()).then(|| self.warnings.clone()),
        }
    }
}

/// The SDK's `ValidationResponse` (snake_case; every field but `accepted` optional).
#[derive(Deserialize)]
struct ValidationResponse {
    accepted: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    mutated_object: Option<Value>,
    #[serde(default)]
    audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
}

/// The SDK's `SettingsValidationResponse`.
#[derive(Deserialize)]
struct SettingsValidationResponse {
    valid: bool,
    #[serde(default)]
    message: Option<String>,
}

/// Reads a `validate` response; `object` is the request's object, the base of the patch.
pub(crate) fn parse_validation(bytes: &[u8], object: &Value) -> Result<Verdict, String> {
    let response: ValidationResponse =
        serde_json::from_slice(bytes).map_err(|e| format!("expected a ValidationResponse: {e}"))?;
    let mut verdict = Verdict {
        accepted: response.accepted,
        message: response.message,
        code: response.code,
        warnings: response.warnings.unwrap_or_default(),
        audit_annotations: response.audit_annotations.unwrap_or_default(),
        ..Verdict::default()
    };
    if let Some(mutated) = response.mutated_object {
        if object.is_null() {
            // As policy-server: only DELETE requests come without an object, and there is
            // nothing to patch.
            verdict.accepted = false;
            verdict.message = Some(
                "the policy returned a mutated object, but the request has no object to mutate \
                 (a DELETE request); mutation is not allowed"
                    .to_owned(),
            );
        } else {
            let operations = crate::patch::diff(object, &mutated);
            verdict.patch = (!operations.is_empty()).then_some(operations);
        }
        verdict.mutated_object = Some(mutated);
    }
    Ok(verdict)
}

/// Cuts `text` to at most `limit` bytes (at a character boundary) and says how much was cut,
/// so that a policy's message cannot make its caller hold megabytes per object.
pub(crate) fn truncate_text(text: &mut String, limit: usize) {
    if text.len() <= limit {
        return;
    }
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = text.len() - cut;
    text.truncate(cut);
    text.shrink_to_fit();
    text.push_str(&format!("… ({dropped} more bytes cut by the host)"));
}

/// Reads a `validate_settings` response.
pub(crate) fn parse_settings(bytes: &[u8]) -> Result<SettingsVerdict, String> {
    let response: SettingsValidationResponse = serde_json::from_slice(bytes)
        .map_err(|e| format!("expected a SettingsValidationResponse: {e}"))?;
    Ok(SettingsVerdict {
        valid: response.valid,
        message: response.message,
        ..SettingsVerdict::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_texts_are_cut_at_a_character_boundary() {
        let mut text = "é".repeat(10);
        truncate_text(&mut text, 5);
        assert_eq!(text, "éé… (16 more bytes cut by the host)");
        let mut short = "short".to_owned();
        truncate_text(&mut short, 5);
        assert_eq!(short, "short");
    }

    #[test]
    fn sdk_responses_with_nulls_parse() {
        let verdict = parse_validation(
            br#"{"accepted":false,"message":"m","code":null,"mutated_object":null,"audit_annotations":null,"warnings":null}"#,
            &json!({}),
        )
        .unwrap();
        assert!(!verdict.accepted);
        assert_eq!(verdict.message.as_deref(), Some("m"));
        assert!(verdict.patch.is_none());
        assert!(parse_validation(br#"{"message":"x"}"#, &json!({})).is_err());
    }

    #[test]
    fn mutation_becomes_a_base64_json_patch() {
        let object = json!({"metadata": {"name": "p"}});
        let verdict = parse_validation(
            br#"{"accepted":true,"mutated_object":{"metadata":{"name":"p","labels":{"a":"b"}}}}"#,
            &object,
        )
        .unwrap();
        let patch = verdict.patch.clone().unwrap();
        assert_eq!(
            patch,
            [json!({"op": "add", "path": "/metadata/labels", "value": {"a": "b"}})]
        );
        let response = serde_json::to_value(verdict.to_admission_response("u")).unwrap();
        assert_eq!(response["patchType"], "JSONPatch");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(response["patch"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&decoded).unwrap(),
            json!(patch)
        );
    }

    #[test]
    fn mutating_a_delete_is_rejected() {
        let verdict = parse_validation(
            br#"{"accepted":true,"mutated_object":{"a":1}}"#,
            &Value::Null,
        )
        .unwrap();
        assert!(!verdict.accepted);
        assert!(verdict.patch.is_none());
    }

    #[test]
    fn admission_response_matches_kwctl_shape() {
        let verdict = Verdict {
            accepted: true,
            warnings: vec!["w".into()],
            ..Verdict::default()
        };
        assert_eq!(
            serde_json::to_string(&verdict.to_admission_response("u")).unwrap(),
            r#"{"uid":"u","allowed":true,"auditAnnotations":null,"warnings":["w"]}"#
        );
    }
}
