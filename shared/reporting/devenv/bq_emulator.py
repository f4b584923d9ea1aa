"""The `bqemulator` BigQuery emulator as a child process from its own virtualenv (tests start one per session).

bqemulator pins an older protobuf than google-cloud-pubsub needs, so it never
shares the project's .venv: `ensure_venv` creates `.venv-bqemulator` at the
repo root on first use (pinned versions; about 25 s) and `start` runs it from
there on a free 127.0.0.1 port, stopped later by its PID's process group.

The launcher is this file itself, run by the emulator virtualenv's python (it
imports only the standard library at module level): its `__main__` patches the
emulator, then hands over to bqemulator's own CLI. The patches, each for a
reason a test in tests/warehouse/test_emulator_quirks.py shows:
- the DuckDB `spatial` and `avro` extension loaders become no-ops: they download
  the extensions at start-up and fail offline (we need neither GEOGRAPHY nor Avro);
- comments are removed from a query's text before translation: bqemulator binds
  `@name` by a regex over the whole SQL, comments included, so a dataset whose
  header documents its parameters fails with "Parameter argument/count mismatch";
- DuckDB's DECIMAL(18, 3) after translation means DECIMAL(38, 9): sqlglot spells
  BigQuery's NUMERIC as DuckDB's bare DECIMAL, which is DECIMAL(18, 3), so
  CAST(x AS NUMERIC) rounded to 3 places where BigQuery keeps 9 (the local DuckDB
  adapter makes the same repair). NUMERIC(38, 9) does not help: sqlglot's BigQuery
  generator drops the parameters, and the emulator regenerates BigQuery text when a
  job has a default dataset. (So a parameterised NUMERIC(p, s) cast is not emulated.)
Everything else is the emulator as published.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the client is the caller's dependency; this module only starts processes
    from google.cloud import bigquery

REPO = Path(__file__).resolve().parents[3]
DEFAULT_VENV = REPO / ".venv-bqemulator"
# Pinned: the emulator's SQL translation and REST behaviour are what the contract tests rely on.
PINS: tuple[str, ...] = ("bqemulator==1.4.0", "numpy==2.4.6")
_MARKER = ".reporting-installed"


class EmulatorUnavailable(RuntimeError):
    """The emulator's virtualenv could not be built, or the emulator did not become ready."""


def venv_path() -> Path:
    """REPORTING_BQEMULATOR_VENV, else `.venv-bqemulator` at the repo root."""
    explicit = os.environ.get("REPORTING_BQEMULATOR_VENV")
    return Path(explicit) if explicit else DEFAULT_VENV


def ensure_venv(venv: Path | None = None, *, python: str = sys.executable) -> tuple[Path, float]:
    """Create (or repair) the emulator's virtualenv with the pinned packages; returns (its python, seconds spent).

    Idempotent and safe from two processes at once (a file lock); the marker file,
    written last and holding the pins, says a previous install completed."""
    venv = venv or venv_path()
    venv.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # The lock lives outside the repo (nothing to ignore) and outside the venv (`--clear` empties it).
    digest = hashlib.sha256(str(venv.resolve()).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"reporting-bqemulator-{digest}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = venv / _MARKER
        wanted = "\n".join(PINS)
        if not (marker.is_file() and marker.read_text() == wanted):
            _run([python, "-m", "venv", "--clear", str(venv)], "create the virtualenv")
            _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  *PINS], "install " + " ".join(PINS))
            marker.write_text(wanted)
    return venv / "bin" / "python", time.perf_counter() - started


def _run(argv: list[str], what: str) -> None:
    """Run one setup step; its output is shown only when it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise EmulatorUnavailable(f"bqemulator virtualenv: could not {what} (exit {done.returncode}):\n"
                                  f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class BigQueryEmulator:
    """A running emulator: its REST endpoint, project and process."""

    endpoint: str  # "http://127.0.0.1:PORT", the client's api_endpoint
    project: str
    process: subprocess.Popen[bytes]
    log_path: Path
    venv_seconds: float = 0.0  # time spent creating the virtualenv (0 when it existed)
    start_seconds: float = 0.0  # process start until /readyz answered 200
    _stopped: bool = field(default=False, repr=False)

    def client(self) -> "bigquery.Client":
        """A google-cloud-bigquery client talking to this emulator (anonymous credentials)."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(project=self.project, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=self.endpoint))

    def stop(self) -> None:
        """Stop the emulator by its PID (its own process group); SIGKILL if it ignores SIGTERM."""
        if self._stopped:
            return
        self._stopped = True
        from reporting.devenv.processes import stop_process_group  # module level stays stdlib-only (see above)

        stop_process_group(self.process)

    def __enter__(self) -> BigQueryEmulator:
        """Use as a context manager that stops the emulator on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop on exit."""
        self.stop()


def _ready(endpoint: str) -> bool:
    """True when the emulator's readiness probe answers 200 (DuckDB and catalog up)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/readyz", timeout=1) as response:
            return response.status == 200 and json.loads(response.read()).get("status") == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start(workdir: Path, *, project: str = "reporting-test", port: int | None = None, venv: Path | None = None,
          timeout_seconds: float = 60.0) -> BigQueryEmulator:
    """Build the virtualenv if needed, start an ephemeral emulator (on a free port by default), wait until ready."""
    python, venv_seconds = ensure_venv(venv)
    port = free_port() if port is None else port
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "bqemulator.log"
    argv = [str(python), str(Path(__file__).resolve()), "start", "--rest-host", "127.0.0.1", "--rest-port", str(port),
            "--grpc-host", "127.0.0.1", "--grpc-port", "0", "--ephemeral", "--project", project,
            "--log-level", os.environ.get("REPORTING_BQEMULATOR_LOG_LEVEL", "warning"), "--no-admin"]
    # Nothing of the caller's interpreter may leak in: its packages are the very ones the emulator conflicts with.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env={**env, "PYTHONUNBUFFERED": "1"})
    emulator = BigQueryEmulator(f"http://127.0.0.1:{port}", project, process, log_path, venv_seconds=venv_seconds)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorUnavailable(f"bqemulator exited with {process.returncode} before it was ready; "
                                      f"see {log_path}:\n{log_path.read_text(errors='replace')[-2000:]}")
        if _ready(emulator.endpoint):
            emulator.start_seconds = time.perf_counter() - started
            return emulator
        time.sleep(0.05)  # polling the readiness probe, not waiting in place of it
    emulator.stop()
    raise EmulatorUnavailable(f"bqemulator not ready after {timeout_seconds:.0f} s; see {log_path}")


# -- launcher: runs inside the emulator's virtualenv ---------------------------------------


def _without_comments(sql: str) -> str:
    """The SQL with its comments removed; every token and every comment-free gap kept byte for byte."""
    from sqlglot.dialects.bigquery import BigQuery

    try:
        tokens = BigQuery().tokenize(sql)
    except Exception:  # noqa: BLE001 - an untokenisable text gets the emulator's own error, unchanged
        return sql
    out: list[str] = []
    previous_end = -1
    for token in tokens:
        gap = sql[previous_end + 1:token.start]
        # Between two tokens there is only whitespace and comments.
        out.append(gap if not gap.strip() else ("\n" if "\n" in gap else " "))
        out.append(sql[token.start:token.end + 1])
        previous_end = token.end
    return "".join(out)


def _patch_emulator() -> None:
    """Apply the patches the module docstring lists (imports exist only in the emulator's virtualenv)."""
    from bqemulator.sql.rules import register
    from bqemulator.sql.rules._base import TranslationRule
    from bqemulator.sql.translator import SQLTranslator
    from bqemulator.storage.engine import DuckDBEngine
    from sqlglot import exp

    DuckDBEngine._load_spatial = lambda self: None  # type: ignore[method-assign]
    DuckDBEngine._load_format_extensions = lambda self: None  # type: ignore[method-assign]

    translate = SQLTranslator.translate

    def translate_without_comments(self: SQLTranslator, bq_sql: str, **kwargs: object) -> object:
        return translate(self, _without_comments(bq_sql), **kwargs)

    SQLTranslator.translate = translate_without_comments  # type: ignore[method-assign]

    @register
    class NumericIsDecimal38_9(TranslationRule):  # registered before any SQLTranslator exists
        name = "REPORTING_NUMERIC_SCALE_9"

        def applies_to(self, node: exp.Expression) -> bool:
            # Re-parsed DuckDB text: its bare DECIMAL comes back as DECIMAL(18, 3). BigQuery cannot ask for
            # that type by name (sqlglot drops NUMERIC(p, s) parameters), so every one is a NUMERIC.
            return isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL \
                and [p.name for p in node.expressions] in ([], ["18", "3"])

        def rewrite(self, node: exp.Expression) -> exp.Expression:
            return exp.DataType.build("DECIMAL(38, 9)", dialect="duckdb")


def _launch(argv: list[str]) -> None:
    """Patch bqemulator, then run its CLI with `argv` (e.g. `start --rest-port N`)."""
    _patch_emulator()
    from bqemulator.cli import main

    main(args=argv, prog_name="bqemulator")


if __name__ == "__main__":
    # Run as a script, this file's folder leads sys.path; its sibling modules must not shadow anything.
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        sys.path.pop(0)
    _launch(sys.argv[1:])
