#!/usr/bin/env python3
"""A Kubernetes API server stand-in for the audit tests: HTTPS on 127.0.0.1, serving recorded
responses from a fixtures directory (tests/e2e/fixtures/cluster/ or one a test writes).

It answers what `kubectl get --raw` asks of a real API server, shaped as the real one answers:
- discovery: GET /version, /api, /apis, /api/v1, /apis/GROUP/VERSION from `discovery/`
  (`discovery/api.json`, `discovery/apis.json`, `discovery/api/v1.json`,
  `discovery/apis/GROUP/VERSION.json`);
- lists: GET /api/v1/RESOURCE, /api/v1/namespaces/NS/RESOURCE (and the /apis/GROUP/VERSION
  forms) from `lists/core/v1/RESOURCE.json` or `lists/GROUP/VERSION/RESOURCE.json`, each
  holding the objects of the resource (`{"items": [...]}`); the server adds `kind: ...List`,
  `apiVersion`, `metadata.resourceVersion`, pages with `limit` and an opaque `continue`
  token, as the API server does;
- `forbidden.json` (a list of resource paths, e.g. "/api/v1/secrets") answers 403 with a
  `Status` whose message is the API server's RBAC wording;
- every request must carry `Authorization: Bearer TOKEN` (what the exec credential plugin of the
  test's kubeconfig prints), else 401.

Every request line (path and query) is appended to --log, so tests can assert that `limit` and
`continue` were sent. The chosen port is written to --port-file once the server listens.

Usage: fake-apiserver.py --fixtures DIR --cert CERT --key KEY --token TOKEN --port-file FILE --log FILE
"""

import argparse
import base64
import http.server
import json
import os
import ssl
import sys
import urllib.parse

KINDS_RESOURCE_VERSION = "48213"


def status(code, reason, message, details=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return code, body


def split_list_path(path):
    """(group, version, namespace, resource) of a list path, or None."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if len(rest) == 1:
        return group, version, None, rest[0]
    if len(rest) == 3 and rest[0] == "namespaces":
        return group, version, rest[1], rest[2]
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "fake-apiserver/1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(self.server.log_path, "a") as log:
            log.write(self.path + "\n")
        if self.headers.get("Authorization") != "Bearer " + self.server.token:
            code, body = status(401, "Unauthorized", "Unauthorized")
        else:
            code, body = self.answer()
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fixture(self, *relative):
        path = os.path.join(self.server.fixtures, *relative)
        if not os.path.isfile(path):
            return None
        with open(path) as f:
            return json.load(f)

    def answer(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/")
        query = urllib.parse.parse_qs(url.query)
        if path == "/version":
            return 200, self.fixture("discovery", "version.json")
        if path in ("/api", "/apis"):
            return 200, self.fixture("discovery", path[1:] + ".json")
        parts = [p for p in path.split("/") if p]
        if (parts[:1] == ["api"] and len(parts) == 2) or (parts[:1] == ["apis"] and len(parts) == 3):
            found = self.fixture("discovery", *parts[:-1], parts[-1] + ".json")
            if found is not None:
                return 200, found
        target = split_list_path(path)
        if target is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        return self.list(target, query)

    def list(self, target, query):
        group, version, namespace, resource = target
        everywhere = ("/api/" + version if not group else "/apis/%s/%s" % (group, version)) + "/" + resource
        if everywhere in self.server.forbidden:
            group_name = group or ""
            scope = "in the namespace \"%s\"" % namespace if namespace else "at the cluster scope"
            return status(
                403,
                "Forbidden",
                '%s is forbidden: User "alice@contoso.com" cannot list resource "%s" in API group "%s" %s'
                % (resource if not group else resource + "." + group, resource, group_name, scope),
                {"kind": resource},
            )
        recorded = self.fixture("lists", group or "core", version, resource + ".json")
        if recorded is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        items = recorded["items"]
        if namespace is not None:
            items = [i for i in items if i.get("metadata", {}).get("namespace") == namespace]
        offset = 0
        if "continue" in query:
            try:
                offset = json.loads(base64.b64decode(query["continue"][0]))["start"]
            except Exception:
                return status(410, "Expired", "The provided continue parameter is too old")
        limit = int(query.get("limit", ["0"])[0] or 0)
        end = len(items) if limit <= 0 else min(len(items), offset + limit)
        metadata = {"resourceVersion": KINDS_RESOURCE_VERSION}
        if end < len(items):
            metadata["continue"] = base64.b64encode(json.dumps({"rv": KINDS_RESOURCE_VERSION, "start": end}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - end
        return 200, {
            "kind": recorded["kind"],
            "apiVersion": recorded["apiVersion"],
            "metadata": metadata,
            "items": items[offset:end],
        }


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--fixtures", "--cert", "--key", "--token", "--port-file", "--log"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.fixtures = args.fixtures
    server.token = args.token
    server.log_path = args.log
    forbidden = os.path.join(args.fixtures, "forbidden.json")
    server.forbidden = set(json.load(open(forbidden))) if os.path.isfile(forbidden) else set()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
