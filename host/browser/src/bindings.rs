//! The JavaScript face of [`Session`]: strings and bytes in, JSON strings out, errors as
//! exceptions carrying the CLI's message.

use crate::session::{CheckOptions, Session};
use wasm_bindgen::prelude::*;

/// A page's policies and its check in progress (see [`Session`]).
#[wasm_bindgen(js_name = Session)]
pub struct JsSession(Session);

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[wasm_bindgen(js_class = Session)]
impl JsSession {
    /// A session without policies.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsSession {
        JsSession(Session::new())
    }

    /// Adds a module (annotated, or with its metadata.yml text); returns its description.
    #[wasm_bindgen(js_name = addPolicy)]
    pub fn add_policy(
        &mut self,
        file_name: &str,
        module: &[u8],
        metadata_yaml: Option<String>,
    ) -> Result<String, JsError> {
        self.0
            .add_policy(file_name, module, metadata_yaml.as_deref())
            .map(|d| json(&d))
            .map_err(|e| JsError::new(&e))
    }

    /// Starts a check; `options` is the JSON of `window.aksid.check`'s options.
    pub fn begin(&mut self, text: &str, options: &str) -> Result<String, JsError> {
        let options: CheckOptions = if options.trim().is_empty() {
            CheckOptions::default()
        } else {
            serde_json::from_str(options)
                .map_err(|e| JsError::new(&format!("check options: {e}")))?
        };
        self.0
            .begin(text, &options)
            .map(|plan| json(&plan))
            .map_err(|e| JsError::new(&e))
    }

    /// Forgets what the previous guest call said.
    #[wasm_bindgen(js_name = startCall)]
    pub fn start_call(&mut self) {
        self.0.start_call();
    }

    /// What the guest wrote to stdout (1) or stderr (2).
    #[wasm_bindgen(js_name = writeOutput)]
    pub fn write_output(&mut self, fd: u32, bytes: &[u8]) {
        self.0.write_output(fd, bytes);
    }

    /// A waPC host call: the response bytes, or an exception whose message is the host error.
    #[wasm_bindgen(js_name = hostCall)]
    pub fn host_call(
        &mut self,
        policy: usize,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        self.0
            .host_call(policy, binding, namespace, operation, payload)
    }

    /// The outcome (JSON) of a policy's `validate_settings`; throws the CLI's message when the
    /// settings are invalid.
    #[wasm_bindgen(js_name = settingsOutcome)]
    pub fn settings_outcome(&mut self, policy: usize, outcome: &str) -> Result<(), JsError> {
        let outcome =
            serde_json::from_str(outcome).map_err(|e| JsError::new(&format!("outcome: {e}")))?;
        self.0
            .settings_outcome(policy, outcome)
            .map_err(|e| JsError::new(&e))
    }

    /// Records the outcome (JSON) of the planned evaluation number `evaluation`.
    pub fn record(&mut self, evaluation: usize, outcome: &str) -> Result<(), JsError> {
        let outcome =
            serde_json::from_str(outcome).map_err(|e| JsError::new(&format!("outcome: {e}")))?;
        self.0.record(evaluation, outcome);
        Ok(())
    }

    /// Ends the check: the JSON report of `kubectl aksid check -o json`.
    pub fn report(&mut self) -> Result<String, JsError> {
        self.0.report().map_err(|e| JsError::new(&e))
    }
}

impl Default for JsSession {
    fn default() -> Self {
        JsSession::new()
    }
}

/// One guest instance's WASI random generator (the wasmtime host's fixed stream).
#[wasm_bindgen]
pub struct Random(crate::random::Drbg);

#[wasm_bindgen]
impl Random {
    /// A generator at the start of the stream: one per instance.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Random {
        Random(crate::random::Drbg::new())
    }

    /// The next `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.0.fill(&mut out);
        out
    }
}

impl Default for Random {
    fn default() -> Self {
        Random::new()
    }
}
