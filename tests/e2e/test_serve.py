"""`make serve` (reporting serve): starts on a fresh home, prints working dev tokens, renders what it is asked,
and stops its database when interrupted."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reporting.devenv.pubsub_emulator import free_port

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_serve_answers_with_dev_tokens_and_renders_in_the_background(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    process = subprocess.Popen([sys.executable, "-m", "reporting.cli", "serve", "--port", str(port), "--home",
                                str(tmp_path / "home"), "--out", str(tmp_path / "out")],
                               stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=REPO)
    try:
        deadline = time.monotonic() + 90
        while "operator token" not in log.read_text(errors="replace") or "Running on" not in log.read_text(
                errors="replace"):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        text = log.read_text()
        token = re.search(r"operator\s+token: (\S+)", text)[1]
        property_id = re.search(r"property (\S+)", text)[1]
        base = f"http://127.0.0.1:{port}/api/v1/reports"

        def call(method, path, body=None):
            request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "serve",
                                                      "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())

        status, run = call("POST", "/runs", {"property_id": property_id, "template_key": "daily_occupancy",
                                             "formats": ["pdf"]})
        assert status == 202
        while True:
            _, got = call("GET", f"/runs/{run['run_id']}")
            if got["state"] == "succeeded":
                break
            assert got["state"] in ("requested", "rendering") and time.monotonic() < deadline, got
            time.sleep(0.3)
        assert got["artifacts"][0]["download_url"].endswith("/pdf")
        # Its own database, in its home (the Debian cluster, or the embedded server elsewhere):
        assert any((tmp_path / "home" / d / "postmaster.pid").exists() for d in ("pg-debian", "pg-embedded"))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    # Ctrl-C stops the database it started: no server left behind.
    assert not any((tmp_path / "home" / d / "postmaster.pid").exists() for d in ("pg-debian", "pg-embedded"))
