"""Envelope encryption (plan phase 4): what the sealing store writes at rest and what it refuses to open."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from reporting.adapters.crypto import envelope
from reporting.adapters.crypto.local_key_file import LocalKeyFileWrapper
from reporting.adapters.crypto.sealed_store import SealedArtifactStore
from reporting.adapters.local.artifact_store import LocalArtifactStore
from reporting.domain.artifact import ArtifactCorrupted, ArtifactKeyUnavailable, ArtifactUnsealFailed
from reporting.domain.errors import ValidationFailed
from tests.storage.contract import new_name

PDF = b"%PDF-1.7 occupancy 87.5% ADR 4,250 AFN " * 50


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "home" / "keys" / "artifact-kek"


@pytest.fixture
def inner(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts", region="local-af")


@pytest.fixture
def store(inner: LocalArtifactStore, key_file: Path) -> SealedArtifactStore:
    return SealedArtifactStore(inner, LocalKeyFileWrapper(key_file))


def _rewrite(inner: LocalArtifactStore, name: str, data: bytes, *, fix_checksum: bool = True) -> None:
    """Tamper with the bytes at rest behind the store's back; by default also forge the recorded sha256,
    so the sealing layer (not the local store's own check) is what has to notice."""
    path = inner.path_for(name)
    os.chmod(path, 0o644)
    path.write_bytes(data)
    if fix_checksum:
        meta_path = Path(str(path) + ".meta.json")
        meta = json.loads(meta_path.read_text())
        meta.update(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))
        meta_path.write_text(json.dumps(meta))


def test_tampering_that_leaves_the_recorded_sha256_is_caught_by_the_store_first(
        store: SealedArtifactStore, inner: LocalArtifactStore) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    sealed = bytearray(inner.read(name))
    sealed[-1] ^= 0x01
    _rewrite(inner, name, bytes(sealed), fix_checksum=False)
    with pytest.raises(ArtifactCorrupted):
        store.read(name)


def test_operational_bytes_at_rest_are_ciphertext_and_the_plaintext_view_is_reported(
        store: SealedArtifactStore, inner: LocalArtifactStore) -> None:
    name = new_name()
    stored = store.put_once(name, PDF, "operational")
    at_rest = inner.read(name)
    assert envelope.is_sealed(at_rest) and b"occupancy" not in at_rest and b"%PDF" not in at_rest
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest() != hashlib.sha256(at_rest).hexdigest()
    assert (stored.size_bytes, stored.encryption) == (len(PDF), "envelope")
    assert store.read(name) == PDF


def test_every_object_gets_its_own_data_key_and_nonce(store: SealedArtifactStore, inner: LocalArtifactStore) -> None:
    first, second = new_name(), new_name()
    store.put_once(first, PDF, "operational")
    store.put_once(second, PDF, "operational")
    a, b = envelope.read_header(inner.read(first)), envelope.read_header(inner.read(second))
    assert a.wrapped_key.ciphertext != b.wrapped_key.ciphertext and a.nonce != b.nonce
    assert inner.read(first)[-len(PDF):] != inner.read(second)[-len(PDF):]
    assert len(a.nonce) * 8 == 96 and a.algorithm == "AES-256-GCM" and a.version == envelope.FORMAT_VERSION


def test_the_key_name_and_version_are_recorded_with_the_sealed_object(store: SealedArtifactStore,
                                                                      inner: LocalArtifactStore,
                                                                      key_file: Path) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    key_name = LocalKeyFileWrapper(key_file).key_name
    assert envelope.read_header(inner.read(name)).wrapped_key.key_name == key_name
    assert inner.stat(name).metadata["kek"] == key_name  # type: ignore[union-attr]


@pytest.mark.parametrize("retention_class", ["regulatory-af-police", "regulatory-ksa-vat", "regulatory-in-formc"])
def test_regulatory_artifacts_are_stored_as_they_are(store: SealedArtifactStore, inner: LocalArtifactStore,
                                                     retention_class: str) -> None:
    name = new_name("html")
    stored = store.put_once(name, PDF, retention_class)
    assert inner.read(name) == PDF and stored.encryption == "none"
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()


@pytest.mark.parametrize("where", ["first ciphertext byte", "tag", "nonce", "header"])
def test_tampered_bytes_are_refused_never_returned(store: SealedArtifactStore, inner: LocalArtifactStore,
                                                   where: str) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    sealed = bytearray(inner.read(name))
    header_len = struct.unpack_from(">I", sealed, len(envelope.MAGIC) + 1)[0]
    body = len(envelope.MAGIC) + 5
    index = {"first ciphertext byte": body + header_len + envelope.NONCE_BYTES, "tag": len(sealed) - 1,
             "nonce": body + header_len, "header": body + header_len - 3}[where]
    sealed[index] ^= 0x01
    _rewrite(inner, name, bytes(sealed))
    with pytest.raises(ArtifactUnsealFailed):
        store.read(name)


def _with_header(sealed: bytes, **changes: object) -> bytes:
    """The sealed bytes with header fields replaced (a forger who knows the format)."""
    at = len(envelope.MAGIC)
    version, length = struct.unpack_from(">BI", sealed, at)
    body = at + struct.calcsize(">BI")
    fields = {**json.loads(sealed[body:body + length]), **changes}
    header = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return envelope.MAGIC + struct.pack(">BI", version, len(header)) + header + sealed[body + length:]


def test_a_header_pointing_at_another_key_is_refused(store: SealedArtifactStore, inner: LocalArtifactStore) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    _rewrite(inner, name, _with_header(inner.read(name), kek="local-key:0000000000000000"))
    with pytest.raises(ArtifactUnsealFailed, match="another key"):
        store.read(name)


def test_a_header_with_an_edited_field_fails_authentication(store: SealedArtifactStore,
                                                            inner: LocalArtifactStore) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    _rewrite(inner, name, _with_header(inner.read(name), kek_version="forged"))
    with pytest.raises(ArtifactUnsealFailed, match="authentication"):
        store.read(name)


def test_a_header_with_another_algorithm_is_refused(store: SealedArtifactStore, inner: LocalArtifactStore) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    _rewrite(inner, name, _with_header(inner.read(name), alg="NONE"))
    with pytest.raises(ArtifactUnsealFailed, match="algorithm"):
        store.read(name)


def test_sealed_bytes_copied_under_another_name_do_not_open(store: SealedArtifactStore,
                                                           inner: LocalArtifactStore) -> None:
    """Another tenant's report moved into my run's place: the name is bound into both AEAD layers."""
    theirs, mine = new_name(), new_name()
    store.put_once(theirs, PDF, "operational")
    inner.put_once(mine, inner.read(theirs), "operational")
    with pytest.raises(ArtifactUnsealFailed):
        store.read(mine)


def test_a_wrong_key_file_gives_a_clear_error(inner: LocalArtifactStore, key_file: Path, tmp_path: Path) -> None:
    name = new_name()
    SealedArtifactStore(inner, LocalKeyFileWrapper(key_file)).put_once(name, PDF, "operational")
    other = SealedArtifactStore(inner, LocalKeyFileWrapper(tmp_path / "another-kek"))
    with pytest.raises(ArtifactUnsealFailed, match="sealed under another key") as caught:
        other.read(name)
    assert caught.value.details["sealed_under"].startswith("local-key:")


@pytest.mark.parametrize("cut", ["inside the prefix", "inside the header", "one byte of the tag", "the whole tag"])
def test_a_truncated_sealed_object_is_refused(store: SealedArtifactStore, inner: LocalArtifactStore, cut: str) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    sealed = inner.read(name)
    keep = {"inside the prefix": len(envelope.MAGIC) + 2, "inside the header": len(envelope.MAGIC) + 15,
            "one byte of the tag": len(sealed) - 1, "the whole tag": len(sealed) - envelope.TAG_BYTES}[cut]
    _rewrite(inner, name, sealed[:keep])
    with pytest.raises(ArtifactUnsealFailed):
        store.read(name)


def test_an_unknown_format_version_is_refused(store: SealedArtifactStore, inner: LocalArtifactStore) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    sealed = bytearray(inner.read(name))
    sealed[len(envelope.MAGIC)] = 9
    _rewrite(inner, name, bytes(sealed))
    with pytest.raises(ArtifactUnsealFailed, match="version"):
        store.read(name)


def test_stat_after_a_restart_reports_the_plaintext_sha256(inner: LocalArtifactStore, key_file: Path) -> None:
    name = new_name()
    SealedArtifactStore(inner, LocalKeyFileWrapper(key_file)).put_once(name, PDF, "operational")
    again = SealedArtifactStore(inner, LocalKeyFileWrapper(key_file)).stat(name)
    assert again is not None and again.sha256 == hashlib.sha256(PDF).hexdigest() and again.encryption == "envelope"


def test_stat_with_lost_metadata_rebuilds_the_plaintext_view(store: SealedArtifactStore,
                                                             inner: LocalArtifactStore) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    Path(str(inner.path_for(name)) + ".meta.json").unlink()
    found = store.stat(name)
    assert found is not None and (found.sha256, found.size_bytes) == (hashlib.sha256(PDF).hexdigest(), len(PDF))


def test_a_plain_operational_object_from_before_sealing_is_still_readable(store: SealedArtifactStore,
                                                                          inner: LocalArtifactStore) -> None:
    name = new_name()
    inner.put_once(name, PDF, "operational")
    assert store.read(name) == PDF and store.stat(name).encryption == "none"  # type: ignore[union-attr]


def test_sealed_objects_have_no_signed_url(store: SealedArtifactStore) -> None:
    name = new_name()
    store.put_once(name, PDF, "operational")
    assert store.signed_url(name, timedelta(minutes=5)) is None


def test_reserved_metadata_keys_are_refused(store: SealedArtifactStore) -> None:
    with pytest.raises(ValidationFailed):
        store.put_once(new_name(), PDF, "operational", metadata={"plaintext_sha256": "0" * 64})


# ---- the local key file ----

def test_the_key_file_is_created_0600_on_first_use_not_before(key_file: Path) -> None:
    wrapper = LocalKeyFileWrapper(key_file)
    assert not key_file.exists()
    wrapper.wrap(os.urandom(32), b"context")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) == 32
    assert stat.S_IMODE(key_file.parent.stat().st_mode) & 0o077 == 0


def test_the_key_file_is_reused_by_the_next_process(key_file: Path) -> None:
    wrapped = LocalKeyFileWrapper(key_file).wrap(b"k" * 32, b"ctx")
    assert LocalKeyFileWrapper(key_file).unwrap(wrapped, b"ctx") == b"k" * 32


def test_a_wrapped_key_does_not_unwrap_under_another_context(key_file: Path) -> None:
    wrapper = LocalKeyFileWrapper(key_file)
    wrapped = wrapper.wrap(b"k" * 32, envelope.key_context("tenants/a/runs/1/report.pdf"))
    with pytest.raises(ArtifactUnsealFailed):
        wrapper.unwrap(wrapped, envelope.key_context("tenants/b/runs/2/report.pdf"))


def test_racing_first_uses_end_up_with_one_key(key_file: Path) -> None:
    names: list[str] = []
    barrier = threading.Barrier(6)

    def first_use() -> None:
        barrier.wait()
        names.append(LocalKeyFileWrapper(key_file).key_name)

    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(names) == 6 and len(set(names)) == 1
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]


def test_a_key_file_readable_by_others_is_refused(key_file: Path) -> None:
    LocalKeyFileWrapper(key_file).wrap(b"k" * 32, b"ctx")
    os.chmod(key_file, 0o644)
    with pytest.raises(ArtifactKeyUnavailable, match="readable by others"):
        LocalKeyFileWrapper(key_file).wrap(b"k" * 32, b"ctx")
