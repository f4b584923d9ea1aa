"""A recording HTTP tap between the BigQuery client and the emulator.

The adapter under test talks real HTTP to the real emulator through it, and the
tests read what actually went over the wire: every job's configuration, so
`maximumBytesBilled`, the parameters and the SQL text are observed, not assumed.
Requests pass unchanged. Two answers it can change, each standing in for what
BigQuery does and bqemulator does not:
- `dry_run_bytes` sets a dry run's estimate (bqemulator always answers 0);
- `fail_jobs` answers job requests with a BigQuery-shaped error (5xx, rate limit,
  bytes-billed limit), as BigQuery does when it has one.
"""
from __future__ import annotations

import copy
import http.client
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}


@dataclass(frozen=True)
class SeenRequest:
    """One request as the client sent it."""

    method: str
    path: str
    body: dict[str, Any] | None


@dataclass
class JobFailure:
    """An error answer for the next `count` job requests matching `dry_run`."""

    status: int
    reason: str
    count: int
    dry_run: bool | None = None  # None: dry runs and real jobs alike


@dataclass
class WireTap:
    """Forwards to `upstream`; records requests; optional estimate override and injected failures."""

    upstream: str
    requests: list[SeenRequest] = field(default_factory=list)
    dry_run_bytes: int | None = None
    failures: list[JobFailure] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Listen on a free 127.0.0.1 port, serving in a daemon thread."""
        self._lock = threading.Lock()
        tap = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                """Quiet: the test output is not the place for access logs."""

            def do_GET(self) -> None:
                tap._handle(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """The URL the client uses as its api_endpoint."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Forget what was seen and every override."""
        with self._lock:
            self.requests.clear()
            self.failures.clear()
            self.dry_run_bytes = None

    def fail_jobs(self, status: int, reason: str, *, count: int = 10**6, dry_run: bool | None = None) -> None:
        """Answer matching job requests with a BigQuery error of this HTTP status and reason."""
        with self._lock:
            self.failures.append(JobFailure(status, reason, count, dry_run))

    def job_configurations(self) -> list[dict[str, Any]]:
        """The `configuration` of every job the client asked the server to run, in order."""
        with self._lock:
            return [r.body["configuration"] for r in self.requests
                    if r.method == "POST" and r.path.endswith("/jobs") and r.body and "configuration" in r.body]

    # -- proxying ---------------------------------------------------------------------------

    def _failure_for(self, body: dict[str, Any] | None) -> JobFailure | None:
        """The injected failure that applies to this job request, if any (consumes one)."""
        if not body or "configuration" not in body:
            return None
        dry = bool(body["configuration"].get("dryRun"))
        with self._lock:
            for failure in self.failures:
                if failure.count > 0 and failure.dry_run in (None, dry):
                    failure.count -= 1
                    return failure
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        """Record, maybe rewrite or fail, forward, maybe rewrite the answer."""
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = None
        if raw and "json" in (handler.headers.get("Content-Type") or ""):
            body = json.loads(raw)
        path = urlsplit(handler.path).path
        with self._lock:
            self.requests.append(SeenRequest(handler.command, path, copy.deepcopy(body)))
        is_job = handler.command == "POST" and path.endswith("/jobs") and body is not None
        failure = self._failure_for(body) if is_job else None
        if failure is not None:
            error = {"code": failure.status, "message": f"injected by the test: {failure.reason}",
                     "errors": [{"reason": failure.reason, "message": f"injected: {failure.reason}"}]}
            self._reply(handler, failure.status, {"Content-Type": "application/json"},
                        json.dumps({"error": error}).encode())
            return
        status, headers, answer = self._forward(handler, raw)
        if is_job and self.dry_run_bytes is not None and body["configuration"].get("dryRun") and status == 200:
            job = json.loads(answer)
            stats = job.setdefault("statistics", {})
            stats["totalBytesProcessed"] = str(self.dry_run_bytes)
            stats.setdefault("query", {})["totalBytesProcessed"] = str(self.dry_run_bytes)
            answer = json.dumps(job).encode()
        self._reply(handler, status, headers, answer)

    def _forward(self, handler: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send the request upstream unchanged (but for `raw`); return its answer."""
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}}
            headers["Content-Length"] = str(len(raw))
            conn.request(handler.command, handler.path, body=raw or None, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            return response.status, kept, answer
        finally:
            conn.close()

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        """Answer the client."""
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
