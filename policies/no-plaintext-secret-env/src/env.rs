//! The rule: the environment of every container of a workload.
//!
//! For each `env[]` entry of every container, init container and ephemeral container:
//!
//! 1. names in `allowedNames` are skipped;
//! 2. a literal `value` is rejected when it is in a known secret format ([`formats`]), when its
//!    base64 decoding is ([`encoded`]), when it matches an `extraPatterns` regex, or by its name
//!    ([`names`]): under a password name (`strictPasswords`) whenever it is a password at all
//!    ([`shape::is_not_a_password`]), under another secret name when it looks like a secret
//!    ([`shape`]), under a key name (`keyNames`) when it has a key's shape ([`key_shape`]);
//! 3. with `rejectSecretKeyRef`, `valueFrom.secretKeyRef` and `envFrom[].secretRef` are rejected.
//!
//! One reason is given per variable (the most specific), and every variable is reported.
//! Messages name the container, the variable and the detector, never the value.

use crate::formats::{self, Format};
use crate::patterns::Pattern;
use crate::settings::Settings;
use crate::{encoded, key_shape, names, patterns, shape};
use aksid_policy_common::settings::matches_name;
use aksid_policy_common::workload::{self, Container};
use aksid_policy_common::{AdmissionRequest, Verdict, Violation, json};
use serde_json::Value;
use std::sync::Arc;

const FIX_USE_SECRET: &str = "move it to a Secret and use valueFrom.secretKeyRef, or mount it from Key Vault with the Secrets Store CSI driver";
const FIX_USE_FILE: &str = "mount it from Key Vault with the Secrets Store CSI driver, or put it in a Secret mounted as a file (a secret volume)";
const FIX_SECRET_AS_FILE: &str = "mount the Secret as a file (a secret volume) and have the application read the file, or mount the value from Key Vault with the Secrets Store CSI driver";

/// A compiled extra pattern and how messages name it.
type ExtraPattern = (String, Arc<Pattern>);

/// Why one variable is rejected.
struct Finding {
    problem: String,
    fix: String,
}

/// Judges the containers of a workload; other kinds are accepted.
pub(crate) fn validate_workload(request: &AdmissionRequest, settings: &Settings) -> Verdict {
    let mut verdict = Verdict::default();
    let Some(template) = workload::pod_template(&request.kind, &request.object) else {
        return verdict;
    };
    let extras = match compile_extra_patterns(settings) {
        Ok(extras) => extras,
        Err(violation) => {
            // Settings validation refuses such patterns; if one gets here anyway, fail closed.
            verdict.reject(violation);
            return verdict;
        }
    };
    for container in template.containers() {
        let path = container.path();
        validate_env(&container, &path, settings, &extras, &mut verdict);
        if settings.reject_secret_key_ref {
            validate_env_from(&container, &path, &mut verdict);
        }
    }
    verdict
}

fn compile_extra_patterns(settings: &Settings) -> Result<Vec<ExtraPattern>, Violation> {
    settings
        .extra_patterns
        .iter()
        .enumerate()
        .map(|(i, p)| match patterns::compiled(&p.regex) {
            Ok(regex) => Ok((p.label(i), regex)),
            Err(e) => Err(Violation::new(
                format!("settings.extraPatterns[{i}]"),
                format!("is not a valid regex: {e}"),
            )
            .fix("correct the policy settings")),
        })
        .collect()
}

fn validate_env(
    container: &Container,
    path: &str,
    settings: &Settings,
    extras: &[ExtraPattern],
    verdict: &mut Verdict,
) {
    for (index, env) in container.env() {
        let name = json::str_at(env, &["name"]).unwrap_or("");
        if !name.is_empty()
            && settings
                .allowed_names
                .iter()
                .any(|pattern| matches_name(pattern, name))
        {
            continue;
        }
        let location = || match name {
            "" => format!("{path}.env[#{index}]"),
            _ => format!("{path}.env[{name}]"),
        };
        if let Some(value) = json::str_at(env, &["value"]).filter(|v| !v.is_empty())
            && let Some(finding) = judge_value(name, value, settings, extras)
        {
            verdict.reject(Violation::new(location(), finding.problem).fix(finding.fix));
        }
        if settings.reject_secret_key_ref
            && let Some(reference) =
                json::get(env, &["valueFrom", "secretKeyRef"]).filter(|r| r.is_object())
        {
            let problem = format!(
                "reads key {} of {} into an environment variable, which the setting rejectSecretKeyRef forbids",
                quoted(reference, "key", "?"),
                secret_named(reference)
            );
            verdict.reject(
                Violation::new(format!("{}.valueFrom.secretKeyRef", location()), problem)
                    .fix(FIX_SECRET_AS_FILE),
            );
        }
    }
}

fn validate_env_from(container: &Container, path: &str, verdict: &mut Verdict) {
    for (index, source) in json::array_at(container.value, &["envFrom"])
        .iter()
        .enumerate()
    {
        if let Some(reference) = source.get("secretRef").filter(|r| r.is_object()) {
            let problem = format!(
                "imports every key of {} as environment variables, which the setting rejectSecretKeyRef forbids",
                secret_named(reference)
            );
            verdict.reject(
                Violation::new(format!("{path}.envFrom[{index}].secretRef"), problem)
                    .fix(FIX_SECRET_AS_FILE),
            );
        }
    }
}

/// `` `value` `` of a string field, or `fallback`.
fn quoted(object: &Value, field: &str, fallback: &str) -> String {
    match json::str_at(object, &[field]) {
        Some(v) if !v.is_empty() => format!("`{v}`"),
        _ => fallback.to_owned(),
    }
}

fn secret_named(reference: &Value) -> String {
    match json::str_at(reference, &["name"]) {
        Some(name) if !name.is_empty() => format!("Secret `{name}`"),
        _ => "a Secret".to_owned(),
    }
}

/// The most specific reason to reject the literal `value` of variable `name`, if any.
fn judge_value(
    name: &str,
    value: &str,
    settings: &Settings,
    extras: &[ExtraPattern],
) -> Option<Finding> {
    let fix = if settings.reject_secret_key_ref {
        FIX_USE_FILE
    } else {
        FIX_USE_SECRET
    };
    let format_finding = |intro: &str, format: Format| Finding {
        problem: format!("{intro} {}", format.describe()),
        fix: match format.identity_hint() {
            Some(hint) => format!("{fix}; {hint}"),
            None => fix.to_owned(),
        },
    };
    if let Some(format) = formats::detect(value) {
        return Some(format_finding("value is", format));
    }
    if let Some(format) = encoded::detect_base64(value) {
        return Some(format_finding("value is base64 that decodes to", format));
    }
    if let Some((label, _)) = extras.iter().find(|(_, regex)| regex.is_match(value)) {
        return Some(Finding {
            problem: format!("value matches the extra pattern {label}"),
            fix: fix.to_owned(),
        });
    }
    judge_by_name(name, value, settings, fix)
}

/// The name rules: the value is judged by what the variable is called.
fn judge_by_name(name: &str, value: &str, settings: &Settings, fix: &str) -> Option<Finding> {
    let allow = format!("add {name} to the policy's allowedNames setting");
    if settings.strict_passwords
        && let Some(word) = names::password_word(name)
    {
        return (!shape::is_not_a_password(value)).then(|| Finding {
            problem: format!(
                "value is a literal password in plain text (the name ends in {word}); however short or common, it is the working credential, readable by anyone who can read the workload or its manifest"
            ),
            fix: format!(
                "{fix}; if it is not a password, {allow}, or set strictPasswords: false to judge such names by the value's shape"
            ),
        });
    }
    if let Some(word) = names::secret_word(name) {
        if names::is_aws_secret_key_name(name)
            && let Some(format) = formats::aws_secret_access_key(value)
        {
            return Some(Finding {
                problem: format!("value is {}", format.describe()),
                fix: fix.to_owned(),
            });
        }
        return shape::looks_like_secret(value, settings.min_length).then(|| Finding {
            problem: format!(
                "value looks like a real secret in plain text (the name contains {word})"
            ),
            fix: format!("{fix}; if it is not a secret, {allow}"),
        });
    }
    if settings.key_names && names::is_key_name(name) {
        return key_shape::key_shape(value).map(|shape| Finding {
            problem: format!(
                "value has the shape of {} and the name ends in KEY; whoever can read the workload or its manifest can use the key",
                shape.describe()
            ),
            fix: format!(
                "{fix}; better, where the service accepts Microsoft Entra ID (Cosmos DB, Event Hubs, Service Bus, AI Search, Azure OpenAI, Speech), drop the key and grant the workload's Microsoft Entra Workload ID an Azure RBAC role; if it is not a key, {allow}, or set keyNames: false"
            ),
        });
    }
    None
}
