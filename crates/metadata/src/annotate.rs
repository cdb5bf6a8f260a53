//! Embedding metadata in a module, as `kwctl annotate` does, and reading it back.

use crate::{Metadata, MetadataError};
use wasmparser::{Parser, Payload};

/// Name of the custom section Kubewarden reads policy metadata from.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// Custom sections dropped from the distributed module: debug info and names only serve a
/// debugger, and their absolute build paths would make the artifact depend on the checkout.
fn is_dropped_section(name: &str) -> bool {
    name == METADATA_SECTION || name == "name" || name == "producers" || name.starts_with(".debug")
}

/// Returns `module` with `metadata` in its `io.kubewarden.metadata` section (replacing any
/// earlier one) and without debug and name sections. The metadata is validated first.
pub fn annotate(module: &[u8], metadata: &Metadata) -> Result<Vec<u8>, MetadataError> {
    metadata.validate()?;
    let mut out = Vec::with_capacity(module.len());
    out.extend_from_slice(
        module
            .get(..8)
            .ok_or_else(|| MetadataError::Wasm("too short".into()))?,
    );
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| MetadataError::Wasm(e.to_string()))?;
        if let Payload::CustomSection(reader) = &payload
            && is_dropped_section(reader.name())
        {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            append_section(
                &mut out,
                &wasm_encoder::RawSection {
                    id,
                    data: &module[range],
                },
            );
        }
    }
    let section = wasm_encoder::CustomSection {
        name: METADATA_SECTION.into(),
        data: metadata.to_json().into(),
    };
    append_section(&mut out, &section);
    Ok(out)
}

/// Writes a whole section: its id, then its size-prefixed content.
fn append_section(out: &mut Vec<u8>, section: &impl wasm_encoder::Section) {
    out.push(section.id());
    section.encode(out);
}

/// The bytes of the metadata section, if present.
pub(crate) fn find_section(module: &[u8]) -> Result<Option<&[u8]>, MetadataError> {
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::CustomSection(reader) =
            payload.map_err(|e| MetadataError::Wasm(e.to_string()))?
            && reader.name() == METADATA_SECTION
        {
            return Ok(Some(reader.data()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> Metadata {
        Metadata::from_yaml("rules:\n- apiGroups: ['']\n  apiVersions: [v1]\n  resources: [pods]\n  operations: [CREATE]\nmutating: false\n")
            .unwrap()
            .with_protocol_version()
    }

    #[test]
    fn annotating_twice_keeps_one_section_and_drops_names() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        append_section(
            &mut module,
            &wasm_encoder::CustomSection {
                name: "producers".into(),
                data: b"x"[..].into(),
            },
        );
        let once = annotate(&module, &metadata()).unwrap();
        let twice = annotate(&once, &metadata()).unwrap();
        assert_eq!(once, twice, "annotation is idempotent and deterministic");
        let names: Vec<String> = Parser::new(0)
            .parse_all(&twice)
            .filter_map(|p| match p.unwrap() {
                Payload::CustomSection(r) => Some(r.name().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(names, [METADATA_SECTION]);
        assert_eq!(Metadata::from_wasm(&twice).unwrap().unwrap(), metadata());
    }

    #[test]
    fn garbage_is_not_a_module() {
        assert!(annotate(b"hello world", &metadata()).is_err());
        assert!(Metadata::from_wasm(b"\0asm\x01\0\0\0").unwrap().is_none());
    }
}
