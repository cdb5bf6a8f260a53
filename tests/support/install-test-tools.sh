#!/usr/bin/env bash
# Installs what the OCI distribution tests (`cargo test --release -p aksid-oci`) need:
#   - Debian's distribution registry (`docker-registry`), started by the tests on 127.0.0.1;
#   - `skopeo` and `htpasswd` (apache2-utils), independent clients/tools the tests call;
#   - a Python venv at `.venv/` (repo root) with `oras`, a second independent OCI client;
# and what the CLI end-to-end tests (`cargo test --release -p aksid-tests --test cli`) need, in
# the same venv: `jsonschema` (with its format checkers) to validate `-o sarif` against the
# official SARIF 2.1.0 schema, `junitparser` as a real consumer of `-o junit`, and `pre-commit`
# to run aksid as a remote hook (plus `git`, which pre-commit and the tests drive).
# The distribution tests (`--test distribution`) use the same `jsonschema` to validate generated
# ClusterAdmissionPolicies against Kubewarden's CRD (tests/schemas/), and the registry tools above.
# The playground tests (`--test playground`) need Debian's `chromium` and `chromium-driver`.
# Idempotent: every step is skipped when its result is already there. Uses sudo only when not root.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
else
    as_root=(sudo)
fi

missing=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v git >/dev/null 2>&1 || missing+=(git)
# The playground tests (`--test playground`) drive a real headless Chromium over WebDriver.
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# The venv module is a separate Debian package; probe it rather than guess.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-test-tools: installing ${missing[*]}" >&2
    "${as_root[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

venv="$repo_root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    echo "install-test-tools: creating $venv" >&2
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import oras.client' >/dev/null 2>&1; then
    echo "install-test-tools: installing oras into $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check oras
fi
# jsonschema with the format checkers our schemas use (SARIF's `uri`, `uri-reference` and
# `date-time`: rfc3986_validator and rfc3339_validator), not its `format-nongpl` extra: that
# extra's rfc3987-syntax builds a grammar whenever jsonschema is imported (1.1 s of CPU per
# Python start here) for `iri` formats no schema of ours uses. One probe for them all;
# find_spec looks the modules up without importing them.
if ! "$venv/bin/python" -c 'import importlib.util as u, sys
sys.exit(not all(u.find_spec(m) for m in ("jsonschema", "rfc3986_validator", "rfc3339_validator", "junitparser", "pre_commit")))' >/dev/null 2>&1; then
    echo "install-test-tools: installing jsonschema, junitparser and pre-commit into $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check jsonschema rfc3986-validator rfc3339-validator junitparser pre-commit
fi
if "$venv/bin/python" -c 'import importlib.util as u, sys; sys.exit(not u.find_spec("rfc3987_syntax"))' >/dev/null 2>&1; then
    echo "install-test-tools: removing rfc3987-syntax from $venv (slows every start of jsonschema)" >&2
    "$venv/bin/pip" uninstall --quiet --yes rfc3987-syntax
fi

echo "install-test-tools: ok (docker-registry, skopeo, htpasswd, chromium, chromedriver, $venv with oras, jsonschema, junitparser, pre-commit)" >&2
