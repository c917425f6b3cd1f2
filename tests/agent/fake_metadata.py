"""Fake instance metadata services on loopback, one per provider (AWS IMDSv2, Azure IMDS, GCP,
OpenStack), each answering only the paths and headers the real service requires."""

from __future__ import annotations

import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

AWS_DOC = {
    "accountId": "123456789012",
    "architecture": "x86_64",
    "availabilityZone": "eu-west-1a",
    "imageId": "ami-0abcdef1234567890",
    "instanceId": "i-0123456789abcdef0",
    "instanceType": "c6i.2xlarge",
    "pendingTime": "2026-01-01T00:00:00Z",
    "privateIp": "10.0.0.5",
    "region": "eu-west-1",
    "version": "2017-09-30",
}
AZURE_DOC = {
    "compute": {
        "location": "westeurope",
        "name": "worker-3",
        "resourceGroupName": "rg-batch",
        "resourceId": "/subscriptions/0000-sub/resourceGroups/rg-batch/providers/Microsoft.Compute/"
        "virtualMachines/worker-3",
        "storageProfile": {
            "imageReference": {
                "id": "",
                "offer": "0001-com-ubuntu-server-jammy",
                "publisher": "canonical",
                "sku": "22_04-lts-gen2",
                "version": "latest",
            }
        },
        "subscriptionId": "0000-sub",
        "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
        "vmSize": "Standard_D4s_v5",
    },
    "network": {"interface": []},
}
GCP_DOC = {
    "instance": {
        "id": 4567890123456789012,
        "image": "projects/debian-cloud/global/images/debian-12-bookworm-v20260101",
        "machineType": "projects/98765/machineTypes/n2-standard-8",
        "name": "gce-worker-1",
        "zone": "projects/98765/zones/europe-west4-a",
    },
    "project": {"numericProjectId": 98765, "projectId": "research-prod"},
}
OPENSTACK_DOC = {
    "uuid": "d8e02d56-2648-49a3-bf97-6be8f1204f38",
    "name": "os-worker-9",
    "availability_zone": "nova",
    "project_id": "f7ac731cc11f40efbc03a9f9e1d1d21f",
    "hostname": "os-worker-9.novalocal",
    "launch_index": 0,
    "meta": {},
}


class FakeMetadata(http.server.BaseHTTPRequestHandler):
    """Answers as `provider` does; every request is logged as (method, path, headers)."""

    provider = ""
    log: list[tuple[str, str, dict[str, str]]]
    tokens: set[str]

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, document: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(
            200, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})}
        )

    def _handle(self, method: str) -> None:
        self.log.append((method, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.headers.get("X-Forwarded-For"):  # all of them refuse proxied requests
            self._send(403, b"forbidden")
            return
        getattr(self, f"_{self.provider}")(method)

    def _aws(self, method: str) -> None:
        if self.path == "/latest/api/token":
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if method != "PUT" or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                self._send(400, b"")
                return
            token = secrets.token_urlsafe(16)
            self.tokens.add(token)
            self._send(200, token.encode(), {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
            return
        if method != "GET" or self.headers.get("X-aws-ec2-metadata-token") not in self.tokens:
            self._send(401, b"")
            return
        if self.path == "/latest/dynamic/instance-identity/document":
            self._json(AWS_DOC)
        elif self.path == "/latest/meta-data/tags/instance/Name":
            self._send(200, b"batch-worker-7", {"Content-Type": "text/plain"})
        else:
            self._send(404, b"")

    def _azure(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        if self.headers.get("Metadata") != "true" or "api-version=" not in query:
            body = json.dumps({"error": "Bad request. Required metadata header not specified"}).encode()
            self._send(400, body, {"Content-Type": "application/json"})
            return
        if method == "GET" and path == "/metadata/instance":
            self._json(AZURE_DOC)
        else:
            self._send(404, b"")

    def _gcp(self, method: str) -> None:
        if self.headers.get("Metadata-Flavor") != "Google":
            self._send(403, b"Missing Metadata-Flavor:Google header.")
            return
        if method == "GET" and self.path == "/computeMetadata/v1/?recursive=true":
            self._json(GCP_DOC, {"Metadata-Flavor": "Google"})
        else:
            self._send(404, b"", {"Metadata-Flavor": "Google"})

    def _openstack(self, method: str) -> None:
        if method == "GET" and self.path == "/openstack/latest/meta_data.json":
            self._json(OPENSTACK_DOC)
        elif method == "GET" and self.path == "/latest/meta-data/instance-type":
            self._send(200, b"m1.xlarge")
        else:
            self._send(405 if method == "PUT" else 404, b"")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def log_message(self, *args: object) -> None:
        return


@contextmanager
def fake_metadata(provider: str) -> Iterator[tuple[str, list[tuple[str, str, dict[str, str]]]]]:
    handler: type[FakeMetadata] = type(
        f"Fake_{provider}", (FakeMetadata,), {"provider": provider, "log": [], "tokens": set()}
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.log
    finally:
        httpd.shutdown()
        httpd.server_close()
