//! The browser playground as a static site (`<out>/playground/`): the browser host bound with
//! wasm-bindgen (the library the `wasm-bindgen` CLI is, so its version is the one Cargo.lock pins
//! beside the `wasm-bindgen` crate, as the two must match), the site's own files, the annotated
//! policy modules exactly as written to `<out>/<id>/policy.wasm`, and the shipped examples.
//! Like the rest of the set, the output depends only on its inputs.

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use std::fs;
use std::path::Path;

/// The files of `host/browser/site/` that are served as they are.
const SITE_FILES: [&str; 4] = ["index.html", "app.js", "worker.js", "style.css"];

/// Where the playground's parts come from.
pub struct Inputs<'a> {
    /// `aksid_browser.wasm` built for wasm32-unknown-unknown.
    pub browser_wasm: &'a Path,
    /// The site's HTML, CSS and JavaScript.
    pub site: &'a Path,
    /// The examples offered in the page's picker (`*.yaml`/`*.yml`, found recursively).
    pub examples: &'a Path,
}

/// Writes the playground under `out/playground` and returns its files relative to `out`.
/// `policies` are the ids whose annotated modules are already in `out/<id>/policy.wasm`.
pub fn write(out: &Path, inputs: &Inputs, policies: &[String]) -> Result<Vec<String>> {
    let dir = out.join("playground");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir.join("policies"))?;
    bindgen(inputs.browser_wasm, &dir)?;
    for name in SITE_FILES {
        copy(&inputs.site.join(name), &dir.join(name))?;
    }
    for id in policies {
        copy(
            &out.join(id).join("policy.wasm"),
            &dir.join("policies").join(format!("{id}.wasm")),
        )?;
    }
    let examples = serde_json::to_vec_pretty(&examples(inputs.examples)?)?;
    crate::write(&dir.join("examples.json"), &examples)?;
    let mut written = vec!["aksid_browser.js".into(), "aksid_browser_bg.wasm".into()];
    written.extend(SITE_FILES.map(String::from));
    written.extend(policies.iter().map(|id| format!("policies/{id}.wasm")));
    written.push("examples.json".into());
    Ok(written
        .into_iter()
        .map(|name| format!("playground/{name}"))
        .collect())
}

/// `wasm-bindgen --target web --no-typescript --out-dir DIR WASM`.
fn bindgen(wasm: &Path, dir: &Path) -> Result<()> {
    let context = || {
        format!(
            "binding {}; build it first: cargo build --release --target wasm32-unknown-unknown \
             -p aksid-browser",
            wasm.display()
        )
    };
    fs::metadata(wasm).with_context(context)?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .web(true)
        .map_err(|e| anyhow!("{e:#}"))?
        .typescript(false)
        // As the CLI does: `init()` without an argument fetches the `_bg.wasm` beside the script.
        .omit_default_module_path(false)
        .generate(dir)
        .map_err(|e| anyhow!("{e:#}"))
        .with_context(context)
}

/// One example as the page's picker lists it.
#[derive(Serialize)]
struct Example {
    file: String,
    text: String,
}

/// The examples, sorted by path (as written in the page: relative, with `/`).
fn examples(root: &Path) -> Result<Vec<Example>> {
    let base = root.parent().unwrap_or(Path::new(""));
    let mut examples = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", root.display()))?;
        let path = entry.path();
        let yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if !entry.file_type().is_file() || !yaml {
            continue;
        }
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let relative = path.strip_prefix(base).unwrap_or(path).components();
        let file: Vec<_> = relative.map(|c| c.as_os_str().to_string_lossy()).collect();
        examples.push(Example {
            file: file.join("/"),
            text,
        });
    }
    Ok(examples)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}
