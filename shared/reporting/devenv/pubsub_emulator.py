"""The official Pub/Sub emulator as a child process: tests start one per session, `make serve` one per run.

Started through its launcher directly (about a second; `gcloud beta emulators
pubsub start` takes three and leaves a java child behind when stopped), in its
own process group, and stopped by that group so no java process outlives us.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from reporting.devenv.processes import stop_process_group

LAUNCHER = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
KNOWN_SDK_ROOTS = (Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk"),
                   Path("/opt/google-cloud-sdk"))


class EmulatorUnavailable(RuntimeError):
    pass


def find_launcher() -> Path:
    """REPORTING_PUBSUB_EMULATOR, else the Cloud SDK's platform/pubsub-emulator (Debian package
    google-cloud-cli-pubsub-emulator), located through `gcloud` or the usual install roots."""
    explicit = os.environ.get("REPORTING_PUBSUB_EMULATOR")
    if explicit:
        return Path(explicit)
    roots = list(KNOWN_SDK_ROOTS)
    gcloud = shutil.which("gcloud")
    if gcloud:
        # /usr/bin/gcloud -> <sdk>/bin/gcloud
        roots.insert(0, Path(os.path.realpath(gcloud)).parent.parent)
    for root in roots:
        if (root / LAUNCHER).is_file():
            return root / LAUNCHER
    raise EmulatorUnavailable(
        "Pub/Sub emulator not found: install the Debian package google-cloud-cli-pubsub-emulator "
        "(apt-get install google-cloud-cli-pubsub-emulator) or set REPORTING_PUBSUB_EMULATOR to its launcher")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PubSubEmulator:
    host: str  # "127.0.0.1:PORT", the value of PUBSUB_EMULATOR_HOST
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        stop_process_group(self.process)

    def __enter__(self) -> "PubSubEmulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(workdir: Path, *, port: int | None = None, timeout_seconds: float = 30.0) -> PubSubEmulator:
    launcher = find_launcher()
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "pubsub-emulator.log"
    log = log_path.open("wb")
    process = subprocess.Popen([str(launcher), "--host=127.0.0.1", f"--port={port}"], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    emulator = PubSubEmulator(f"127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorUnavailable(f"Pub/Sub emulator exited with {process.returncode}; see {log_path}")
        if b"Server started" in log_path.read_bytes():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return emulator
            except OSError:
                pass
        time.sleep(0.05)
    emulator.stop()
    raise EmulatorUnavailable(f"Pub/Sub emulator not ready after {timeout_seconds:.0f} s; see {log_path}")
