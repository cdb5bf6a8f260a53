//! Identifier shapes: Entra object and client IDs (GUIDs) and unrendered placeholders.

/// True for a GUID in the 8-4-4-4-12 hexadecimal form Entra uses for object, client and tenant IDs.
pub fn is_guid(s: &str) -> bool {
    let groups = [8, 4, 4, 4, 12];
    let mut parts = s.split('-');
    groups.iter().all(|&len| {
        parts
            .next()
            .is_some_and(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_hexdigit()))
    }) && parts.next().is_none()
}

/// True for a value that is still a template placeholder: `${VAR}`, `$(VAR)`, `$VAR`,
/// `{{ .Values.x }}` or `<your-client-id>`. Such values are unknown, not wrong: the real value
/// only exists after rendering (envsubst, Helm, a human), so rules treat them as "can't tell".
pub fn is_placeholder(s: &str) -> bool {
    let t = s.trim();
    (t.contains("${") && t.contains('}'))
        || (t.contains("$(") && t.contains(')'))
        || t.contains("{{")
        || (t.starts_with('<') && t.ends_with('>'))
        || (t.starts_with('$')
            && t.len() > 1
            && t[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids() {
        assert!(is_guid("00000000-0000-0000-0000-000000000000"));
        assert!(is_guid("b1ff04bb-8A4E-4dc4-8eb5-8693973ce19b"));
        assert!(!is_guid("PLACEHOLDER_CLIENT_ID"));
        assert!(!is_guid("{b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b}"));
        assert!(!is_guid("b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b-0"));
        assert!(!is_guid("b1ff04bb8a4e4dc48eb58693973ce19b"));
        assert!(!is_guid(""));
    }

    #[test]
    fn placeholders() {
        for p in [
            "${USER_ASSIGNED_CLIENT_ID}",
            "$(CLIENT)",
            "$POD_IDENTITY_NAME",
            "{{ .Values.id }}",
            "<IDENTITY_CLIENT_ID>",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for p in [
            "PLACEHOLDER_CLIENT_ID",
            "abc",
            "$",
            "pa$$word",
            "https://x/${",
        ] {
            assert!(!is_placeholder(p), "{p}");
        }
    }
}
