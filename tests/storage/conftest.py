"""One gcp-storage-emulator per test session (in memory, free port; never skipped: its absence fails),
fresh buckets per test, and the honest fake for what the emulator ignores."""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from google.auth.credentials import AnonymousCredentials

from reporting.devenv import gcs_emulator
from tests.integration import conftest as integration
from tests.storage.fake_gcs import FakeClient, FakeGcsServer

# The integration suite's hotel fixtures, for the download tests (real Postgres, real render).
clock = integration.clock
warehouse = integration.warehouse
make_hotel = integration.make_hotel

_started_in: list[float] = []


@pytest.fixture(scope="session")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gcs_emulator.GcsEmulator]:
    """The real emulator; STORAGE_EMULATOR_HOST points the real client library at it."""
    emulator = gcs_emulator.start(tmp_path_factory.mktemp("gcs"))
    _started_in.append(emulator.started_in_seconds)
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = emulator.host
    yield emulator
    if previous is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = previous
    emulator.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _started_in:
        terminalreporter.write_line(f"gcp-storage-emulator ready in {_started_in[0]:.3f} s")


def emulator_client() -> Any:
    """A real storage client as the cloud code builds it, talking to the emulator (STORAGE_EMULATOR_HOST)."""
    from google.cloud import storage

    return storage.Client(project="test-project", credentials=AnonymousCredentials())


@dataclass(frozen=True)
class Buckets:
    """A fresh operational + regulatory bucket pair, and how to make a client that sees them."""

    operational: str
    regulatory: str
    client_factory: Callable[[], Any]
    kind: str  # "emulator" or "fake"
    server: FakeGcsServer | None = None


def _names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:12]
    return f"op-{suffix}", f"reg-{suffix}"


@pytest.fixture
def emulator_buckets(gcs: gcs_emulator.GcsEmulator) -> Buckets:
    operational, regulatory = _names()
    client = emulator_client()
    client.create_bucket(operational)
    client.create_bucket(regulatory)
    return Buckets(operational, regulatory, emulator_client, "emulator")


@pytest.fixture
def fake_buckets() -> Buckets:
    """Configured like terraform's buckets: object retention only where the regulatory classes live."""
    server = FakeGcsServer()
    operational, regulatory = _names()
    client = FakeClient(server)
    client.create_bucket(operational)
    client.create_bucket(regulatory, enable_object_retention=True)
    return Buckets(operational, regulatory, lambda: FakeClient(server), "fake", server)
