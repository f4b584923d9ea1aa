"""The ArtifactStore contract (SPEC §7), written once and subclassed per adapter (eventsourcing style).

- ArtifactStoreContract: what every store does, the GCS adapter on gcp-storage-emulator included.
- WriteOnceContract: a second write of a name is refused, also under a race. The emulator ignores
  `if_generation_match`, so for GCS these run against the honest fake (tests/storage/fake_gcs.py).
- RetentionContract: an object's lock is fixed when it is written; changing a default never shortens
  (nor moves) an existing object's lock. The emulator does not keep retention: fake again.

A subclass implements `setup_backing(request)` (fresh storage for one test) and `make_store(...)` (a store
instance over that storage; called again with other retention defaults to stand for a redeploy).
"""
from __future__ import annotations

import hashlib
import os
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import pytest

from reporting.domain.artifact import RETENTION_DAYS, StoredObject, artifact_name
from reporting.domain.errors import ArtifactExists, NotFound, ValidationFailed
from reporting.service_layer.ports import ArtifactStore

REGION = "test-region-1"
CLASSES = sorted(RETENTION_DAYS)


def new_name(fmt: str = "pdf") -> str:
    return artifact_name(str(uuid.uuid4()), str(uuid.uuid4()), fmt)


class StoreCase:
    """Plumbing shared by the contract classes."""

    store: ArtifactStore
    expected_encryption: Mapping[str, str] = {}  # retention class -> encryption ("none" when absent)

    @pytest.fixture(autouse=True)
    def _contract_setup(self, request: pytest.FixtureRequest) -> None:
        self.setup_backing(request)
        self.store = self.make_store()

    def setup_backing(self, request: pytest.FixtureRequest) -> None:
        raise NotImplementedError

    def make_store(self, retention_days: Mapping[str, int] | None = None) -> ArtifactStore:
        raise NotImplementedError

    def encryption_of(self, retention_class: str) -> str:
        return self.expected_encryption.get(retention_class, "none")


class ArtifactStoreContract(StoreCase):
    def test_put_once_then_read_returns_the_same_bytes(self) -> None:
        name = new_name()
        self.store.put_once(name, b"%PDF-1.4 the report", "operational")
        assert self.store.read(name) == b"%PDF-1.4 the report"
        assert self.store.read(name, "operational") == b"%PDF-1.4 the report"

    @pytest.mark.parametrize("retention_class", ["operational", "regulatory-af-police"])
    def test_put_once_reports_the_plaintext_sha256_size_and_class(self, retention_class: str) -> None:
        data = b"col1,col2\r\n1,2\r\n" * 100
        stored = self.store.put_once(new_name("csv"), data, retention_class)
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        assert stored.size_bytes == len(data)
        assert stored.retention_class == retention_class
        assert stored.encryption == self.encryption_of(retention_class)
        assert isinstance(stored.generation, int) and stored.generation > 0
        assert stored.uri

    @pytest.mark.parametrize("retention_class", CLASSES)
    def test_stat_reports_what_put_once_returned(self, retention_class: str) -> None:
        name = new_name()
        stored = self.store.put_once(name, b"bytes of " + retention_class.encode(), retention_class)
        for found in (self.store.stat(name, retention_class), self.store.stat(name)):
            assert found is not None
            assert _essentials(found) == _essentials(stored)

    def test_stat_of_a_missing_name_is_none(self) -> None:
        name = new_name()
        assert self.store.stat(name) is None
        assert self.store.stat(name, "operational") is None
        assert self.store.stat(name, "regulatory-ksa-vat") is None

    def test_read_of_a_missing_name_is_not_found(self) -> None:
        with pytest.raises(NotFound):
            self.store.read(new_name())
        with pytest.raises(NotFound):
            self.store.read(new_name(), "regulatory-in-formc")

    def test_every_byte_value_survives_the_round_trip(self) -> None:
        name, data = new_name(), bytes(range(256)) * 64
        stored = self.store.put_once(name, data, "operational")
        assert self.store.read(name) == data and stored.size_bytes == len(data)

    def test_an_empty_object_round_trips(self) -> None:
        name = new_name("csv")
        stored = self.store.put_once(name, b"", "operational")
        assert self.store.read(name) == b""
        assert (stored.size_bytes, stored.sha256) == (0, hashlib.sha256(b"").hexdigest())

    def test_a_large_object_round_trips(self) -> None:
        name, data = new_name(), os.urandom(9 * 1024 * 1024)  # past the client's 8 MiB multipart limit
        stored = self.store.put_once(name, data, "operational")
        assert self.store.read(name) == data
        assert stored.sha256 == hashlib.sha256(data).hexdigest()

    @pytest.mark.parametrize("retention_class", CLASSES)
    def test_locked_until_follows_the_retention_class(self, retention_class: str) -> None:
        days = RETENTION_DAYS[retention_class]
        before = datetime.now(timezone.utc)
        stored = self.store.put_once(new_name(), b"x", retention_class)
        after = datetime.now(timezone.utc)
        assert stored.locked_until is not None
        assert before + timedelta(days=days) - timedelta(seconds=1) <= stored.locked_until
        assert stored.locked_until <= after + timedelta(days=days) + timedelta(seconds=1)

    def test_an_unknown_retention_class_is_refused_before_anything_is_stored(self) -> None:
        name = new_name()
        with pytest.raises(ValidationFailed):
            self.store.put_once(name, b"x", "regulatory-nowhere")
        assert self.store.stat(name) is None

    def test_extra_metadata_is_kept_with_the_object(self) -> None:
        name = new_name()
        stored = self.store.put_once(name, b"x", "regulatory-ksa-vat", metadata={"template_key": "ksa_vat"})
        found = self.store.stat(name)
        assert found is not None
        assert stored.metadata["template_key"] == found.metadata["template_key"] == "ksa_vat"

    def test_objects_under_different_names_are_independent(self) -> None:
        first, second = new_name(), new_name()
        a = self.store.put_once(first, b"first", "operational")
        b = self.store.put_once(second, b"second", "operational")
        assert (self.store.read(first), self.store.read(second)) == (b"first", b"second")
        assert a.uri != b.uri and a.sha256 != b.sha256

    def test_region_is_the_configured_one(self) -> None:
        assert self.store.region == REGION


class WriteOnceContract(StoreCase):
    @pytest.mark.parametrize("retention_class", ["operational", "regulatory-af-police"])
    def test_second_put_once_of_a_name_is_refused_and_the_first_bytes_stay(self, retention_class: str) -> None:
        name = new_name()
        first = self.store.put_once(name, b"first", retention_class)
        with pytest.raises(ArtifactExists):
            self.store.put_once(name, b"second, longer", retention_class)
        assert self.store.read(name) == b"first"
        found = self.store.stat(name)
        assert found is not None and _essentials(found) == _essentials(first)

    def test_racing_writers_exactly_one_wins_and_its_bytes_are_stored(self) -> None:
        name, writers = new_name(), 8
        barrier = threading.Barrier(writers)
        winners: list[tuple[int, StoredObject]] = []
        refused: list[int] = []
        unexpected: list[BaseException] = []
        lock = threading.Lock()

        def write(i: int) -> None:
            payload = f"writer {i} ".encode() * (100 * (i + 1))
            barrier.wait()
            try:
                stored = self.store.put_once(name, payload, "operational")
                with lock:
                    winners.append((i, stored))
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
            t.join(timeout=60)
        assert unexpected == []
        assert len(winners) == 1 and len(refused) == writers - 1
        [(winner, stored)] = winners
        assert self.store.read(name) == f"writer {winner} ".encode() * (100 * (winner + 1))
        assert hashlib.sha256(self.store.read(name)).hexdigest() == stored.sha256


class RetentionContract(StoreCase):
    @pytest.mark.parametrize("retention_class", ["operational", "regulatory-af-police", "regulatory-ksa-vat"])
    def test_changing_a_default_never_shortens_an_existing_objects_lock(self, retention_class: str) -> None:
        name = new_name()
        original = self.store.put_once(name, b"v1", retention_class)
        redeployed = self.make_store(retention_days={retention_class: 1})  # a much shorter default
        with pytest.raises(ArtifactExists):
            redeployed.put_once(name, b"v2", retention_class)
        found = redeployed.stat(name, retention_class)
        assert found is not None and found.locked_until == original.locked_until
        assert redeployed.read(name) == b"v1"

    @pytest.mark.parametrize("days", [1, 9000])
    def test_a_new_default_applies_only_to_objects_written_after_it(self, days: int) -> None:
        old_name, new = new_name(), new_name()
        original = self.store.put_once(old_name, b"old", "regulatory-in-formc")
        redeployed = self.make_store(retention_days={"regulatory-in-formc": days})
        before = datetime.now(timezone.utc)
        fresh = redeployed.put_once(new, b"new", "regulatory-in-formc")
        assert fresh.locked_until is not None
        assert before + timedelta(days=days) - timedelta(seconds=1) <= fresh.locked_until
        assert fresh.locked_until <= datetime.now(timezone.utc) + timedelta(days=days) + timedelta(seconds=1)
        found = redeployed.stat(old_name)
        assert found is not None and found.locked_until == original.locked_until


def _essentials(obj: StoredObject) -> tuple[Any, ...]:
    return (obj.uri, obj.generation, obj.sha256, obj.size_bytes, obj.retention_class, obj.locked_until,
            obj.encryption)
