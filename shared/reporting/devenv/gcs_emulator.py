"""gcp-storage-emulator as a child process: tests start one per session, in memory, on a free port.

Point the real client at it with STORAGE_EMULATOR_HOST=`emulator.host` and AnonymousCredentials. It
implements buckets, uploads (multipart and resumable), downloads, metadata and CRC32C/MD5, but ignores
generation preconditions and object retention (EMULATORS.md): those are tested against the honest fake
in tests/storage/fake_gcs.py.
"""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from reporting.devenv.processes import stop_process_group
from reporting.devenv.pubsub_emulator import free_port


class EmulatorUnavailable(RuntimeError):
    pass


def _installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("gcp_storage_emulator") is not None


@dataclass
class GcsEmulator:
    host: str  # "http://127.0.0.1:PORT", the value of STORAGE_EMULATOR_HOST
    process: subprocess.Popen
    log_path: Path
    started_in_seconds: float

    def stop(self) -> None:
        stop_process_group(self.process)

    def __enter__(self) -> "GcsEmulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _healthy(host: str) -> bool:
    try:
        with urllib.request.urlopen(host + "/", timeout=0.5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(workdir: Path, *, port: int | None = None, timeout_seconds: float = 30.0) -> GcsEmulator:
    """Start it (in memory) and wait for its health check; EmulatorUnavailable if it is missing or fails."""
    if not _installed():
        raise EmulatorUnavailable("gcp-storage-emulator is not installed: pip install 'gcp-storage-emulator>=2024'")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "gcs-emulator.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port),
             "--in-memory", "--quiet"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    host = f"http://127.0.0.1:{port}"
    emulator = GcsEmulator(host, process, log_path, 0.0)
    deadline = started + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorUnavailable(f"GCS emulator exited with {process.returncode}; see {log_path}")
        if _healthy(host):
            emulator.started_in_seconds = time.monotonic() - started
            return emulator
        time.sleep(0.02)  # polling a child's readiness, not synchronising a test
    emulator.stop()
    raise EmulatorUnavailable(f"GCS emulator not ready after {timeout_seconds:.0f} s; see {log_path}")
