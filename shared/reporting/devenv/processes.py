"""Child processes the dev environment starts (emulators): each in its own process group, stopped as a group."""
from __future__ import annotations

import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen, *, timeout_seconds: float = 10.0) -> None:
    """SIGTERM the child's process group (started with start_new_session), SIGKILL if it lingers; then reap it.

    The group, not the PID: launchers such as the Pub/Sub emulator's wrap a java child."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout_seconds)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=timeout_seconds)
