"""The emulator's process and virtualenv: isolated from the project's, started ready, stopped for good."""
from __future__ import annotations

import importlib.util
import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reporting.devenv import bq_emulator


def test_the_emulator_lives_outside_the_projects_virtualenv(emulator) -> None:
    """It pins an older protobuf than google-cloud-pubsub needs: it must never be importable here."""
    assert importlib.util.find_spec("bqemulator") is None
    venv = bq_emulator.venv_path()
    assert (venv / ".reporting-installed").read_text() == "\n".join(bq_emulator.PINS)


def test_ensure_venv_reuses_a_complete_virtualenv(emulator) -> None:
    python, seconds = bq_emulator.ensure_venv()
    assert python == bq_emulator.venv_path() / "bin" / "python" and python.is_file()
    assert seconds < 5  # nothing was installed


def test_started_emulator_is_ready_and_stop_ends_it(emulator, tmp_path: Path) -> None:
    """A second emulator beside the session's: its own port, ready when start returns, gone after stop."""
    other = bq_emulator.start(tmp_path)
    try:
        assert other.endpoint != emulator.endpoint
        with urllib.request.urlopen(f"{other.endpoint}/readyz", timeout=5) as answer:
            assert answer.status == 200
    finally:
        other.stop()
    assert other.process.returncode is not None
    port = urlsplit(other.endpoint).port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    other.stop()  # stopping twice is harmless


def test_an_emulator_that_cannot_start_is_reported_not_waited_on(tmp_path: Path) -> None:
    with pytest.raises(bq_emulator.EmulatorUnavailable, match="exited"):
        bq_emulator.start(tmp_path, port=-1)  # uvicorn cannot bind it


def test_readiness_probe_of_nothing_is_false() -> None:
    assert not bq_emulator._ready(f"http://127.0.0.1:{bq_emulator.free_port()}")

