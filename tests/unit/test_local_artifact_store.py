"""LocalArtifactStore: write-once like the GCS bucket (SPEC §7)."""
from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reporting.domain.artifact import RETENTION_DAYS, StoredObject, artifact_name
from reporting.domain.errors import ArtifactExists, NotFound, ValidationFailed
from reporting.adapters.local.artifact_store import LocalArtifactStore

NAME = artifact_name("t-1", "r-1", "pdf")


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts", region="local-af")


def test_put_once_returns_uri_generation_sha256_and_size(store: LocalArtifactStore, tmp_path: Path) -> None:
    data = b"%PDF-1.4 report bytes"
    stored = store.put_once(NAME, data, "operational")
    path = (tmp_path / "artifacts" / NAME).resolve()
    assert stored.uri == path.as_uri()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size_bytes == len(data)
    assert isinstance(stored.generation, int) and stored.generation > 0
    assert stored.retention_class == "operational"
    assert path.read_bytes() == data
    assert store.read(NAME) == data


def test_second_put_once_of_same_name_is_refused_and_keeps_first_bytes(store: LocalArtifactStore) -> None:
    first = store.put_once(NAME, b"first", "operational")
    with pytest.raises(ArtifactExists):
        store.put_once(NAME, b"second, longer", "operational")
    assert store.read(NAME) == b"first"
    assert store.stat(NAME) == first


def test_refused_second_write_leaves_no_temp_files(store: LocalArtifactStore, tmp_path: Path) -> None:
    store.put_once(NAME, b"first", "operational")
    with pytest.raises(ArtifactExists):
        store.put_once(NAME, b"second", "operational")
    leftovers = sorted(p.name for p in (tmp_path / "artifacts" / NAME).parent.iterdir())
    assert leftovers == ["report.pdf", "report.pdf.meta.json"]


def test_racing_writers_exactly_one_wins_and_stored_bytes_are_the_winners(store: LocalArtifactStore,
                                                                          tmp_path: Path) -> None:
    writers = 8
    barrier = threading.Barrier(writers)
    winners: list[StoredObject] = []
    refused: list[int] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def write(i: int) -> None:
        payload = f"writer {i} ".encode() * (1000 * (i + 1))  # different bytes and sizes per writer
        barrier.wait()
        try:
            stored = store.put_once(NAME, payload, "operational")
            with lock:
                winners.append(stored)
        except ArtifactExists:
            with lock:
                refused.append(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                unexpected.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert unexpected == []
    assert len(winners) == 1 and len(refused) == writers - 1
    [winner] = winners
    on_disk = (tmp_path / "artifacts" / NAME).read_bytes()
    assert hashlib.sha256(on_disk).hexdigest() == winner.sha256
    assert len(on_disk) == winner.size_bytes
    assert store.stat(NAME) == winner


@pytest.mark.parametrize("name", ["../x", "../../etc/passwd", "a/../../x", "/etc/passwd", "/tmp/x", "", "."])
def test_names_escaping_the_root_are_refused(store: LocalArtifactStore, tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationFailed):
        store.put_once(name, b"x", "operational")
    with pytest.raises(ValidationFailed):
        store.read(name)
    with pytest.raises(ValidationFailed):
        store.stat(name)
    assert not (tmp_path / "x").exists()


def test_metadata_sidecar_names_are_refused(store: LocalArtifactStore) -> None:
    store.put_once(NAME, b"x", "operational")
    with pytest.raises(ValidationFailed):
        store.put_once(NAME + ".meta.json", b"{}", "operational")


def test_read_of_missing_name_is_not_found(store: LocalArtifactStore) -> None:
    with pytest.raises(NotFound):
        store.read(NAME)


def test_stat_of_missing_name_is_none(store: LocalArtifactStore) -> None:
    assert store.stat(NAME) is None


def test_stored_object_is_read_only(store: LocalArtifactStore, tmp_path: Path) -> None:
    store.put_once(NAME, b"x", "operational")
    assert (tmp_path / "artifacts" / NAME).stat().st_mode & 0o222 == 0


@pytest.mark.parametrize(("retention_class", "days"), [
    ("operational", 400),
    ("regulatory-af-police", RETENTION_DAYS["regulatory-af-police"]),
    ("regulatory-ksa-vat", RETENTION_DAYS["regulatory-ksa-vat"]),
    ("regulatory-in-formc", RETENTION_DAYS["regulatory-in-formc"]),
])
def test_locked_until_follows_the_retention_class(store: LocalArtifactStore, retention_class: str,
                                                  days: int) -> None:
    before = datetime.now(timezone.utc)
    stored = store.put_once(NAME, b"x", retention_class)
    after = datetime.now(timezone.utc)
    assert stored.locked_until is not None
    assert before + timedelta(days=days) <= stored.locked_until <= after + timedelta(days=days)
    assert store.stat(NAME) == stored


def test_regulatory_retention_is_at_least_the_legal_years() -> None:
    assert RETENTION_DAYS["operational"] == 400
    assert RETENTION_DAYS["regulatory-af-police"] >= 5 * 365
    assert RETENTION_DAYS["regulatory-ksa-vat"] >= 6 * 365
    assert RETENTION_DAYS["regulatory-in-formc"] >= 3 * 365


def test_stat_rebuilds_lost_metadata_from_the_object(store: LocalArtifactStore, tmp_path: Path) -> None:
    stored = store.put_once(NAME, b"payload", "operational")
    Path(str(tmp_path / "artifacts" / NAME) + ".meta.json").unlink()
    rebuilt = store.stat(NAME)
    assert rebuilt is not None
    assert (rebuilt.sha256, rebuilt.size_bytes) == (stored.sha256, stored.size_bytes)


def test_artifact_names_are_deterministic_per_run_and_format() -> None:
    assert artifact_name("t", "r", "pdf") == artifact_name("t", "r", "pdf") == "tenants/t/runs/r/report.pdf"
    assert artifact_name("t", "r", "csv") != artifact_name("t", "r", "pdf")
