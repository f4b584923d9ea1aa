"""CloudKmsKeyWrapper with the real google-cloud-kms client, against a local fake of the KMS API that
honestly encrypts (tests/storage/fake_kms.py; no KMS emulator exists). The request shapes are checked
too: key name, associated data and the CRC32C fields Google's integrity guidance asks for."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest

from reporting.adapters.crypto import envelope
from reporting.adapters.crypto.sealed_store import SealedArtifactStore
from reporting.adapters.kms.key_wrapper import CloudKmsKeyWrapper, crc32c
from reporting.adapters.local.artifact_store import LocalArtifactStore
from reporting.domain.artifact import ArtifactKeyUnavailable, ArtifactUnsealFailed
from reporting.domain.errors import ValidationFailed
from reporting.service_layer.ports import ArtifactStore, WrappedKey
from tests.storage.contract import REGION, ArtifactStoreContract, RetentionContract, WriteOnceContract, new_name
from tests.storage.fake_kms import FakeKmsServer

KEY = "projects/melmastoon-af/locations/europe-west3/keyRings/reporting/cryptoKeys/artifact-kek"
CONTEXT = envelope.key_context("tenants/t/runs/r/report.pdf")


@pytest.fixture
def kms_server() -> Iterator[FakeKmsServer]:
    server = FakeKmsServer()
    server.kms.create_key(KEY)
    yield server
    server.stop()


@pytest.fixture
def wrapper(kms_server: FakeKmsServer) -> CloudKmsKeyWrapper:
    return CloudKmsKeyWrapper(KEY, client_factory=kms_server.client, timeout_seconds=2)


def test_a_wrapped_key_unwraps_to_the_same_key_and_is_not_the_key(wrapper: CloudKmsKeyWrapper) -> None:
    data_key = os.urandom(32)
    wrapped = wrapper.wrap(data_key, CONTEXT)
    assert data_key not in wrapped.ciphertext
    assert wrapper.unwrap(wrapped, CONTEXT) == data_key


def test_requests_carry_the_key_the_associated_data_and_their_crc32c(wrapper: CloudKmsKeyWrapper,
                                                                     kms_server: FakeKmsServer) -> None:
    data_key = os.urandom(32)
    wrapped = wrapper.wrap(data_key, CONTEXT)
    wrapper.unwrap(wrapped, CONTEXT)
    (op1, encrypt), (op2, decrypt) = kms_server.kms.requests
    assert (op1, op2) == ("Encrypt", "Decrypt")
    assert encrypt.name == decrypt.name == KEY  # the key, never a version: KMS reads that from the ciphertext
    assert encrypt.plaintext == data_key and encrypt.plaintext_crc32c == crc32c(data_key)
    assert encrypt.additional_authenticated_data == decrypt.additional_authenticated_data == CONTEXT
    assert encrypt.additional_authenticated_data_crc32c == decrypt.additional_authenticated_data_crc32c \
        == crc32c(CONTEXT)
    assert decrypt.ciphertext == wrapped.ciphertext and decrypt.ciphertext_crc32c == crc32c(wrapped.ciphertext)


def test_the_key_version_that_wrapped_is_recorded_and_rotation_keeps_old_keys_readable(
        wrapper: CloudKmsKeyWrapper, kms_server: FakeKmsServer) -> None:
    before = wrapper.wrap(b"a" * 32, CONTEXT)
    kms_server.kms.rotate(KEY)
    after = wrapper.wrap(b"b" * 32, CONTEXT)
    assert (before.key_name, before.key_version) == (KEY, f"{KEY}/cryptoKeyVersions/1")
    assert after.key_version == f"{KEY}/cryptoKeyVersions/2"
    assert wrapper.unwrap(before, CONTEXT) == b"a" * 32 and wrapper.unwrap(after, CONTEXT) == b"b" * 32


def test_another_objects_context_does_not_unwrap(wrapper: CloudKmsKeyWrapper) -> None:
    wrapped = wrapper.wrap(os.urandom(32), CONTEXT)
    with pytest.raises(ArtifactUnsealFailed):
        wrapper.unwrap(wrapped, envelope.key_context("tenants/other/runs/r/report.pdf"))


def test_a_tampered_wrapped_key_does_not_unwrap(wrapper: CloudKmsKeyWrapper) -> None:
    wrapped = wrapper.wrap(os.urandom(32), CONTEXT)
    flipped = bytearray(wrapped.ciphertext)
    flipped[-1] ^= 0x01
    with pytest.raises(ArtifactUnsealFailed):
        wrapper.unwrap(WrappedKey(KEY, wrapped.key_version, bytes(flipped)), CONTEXT)


def test_a_key_wrapped_under_another_kms_key_is_refused_without_asking_kms(wrapper: CloudKmsKeyWrapper,
                                                                           kms_server: FakeKmsServer) -> None:
    other = KEY.replace("artifact-kek", "someone-elses-key")
    with pytest.raises(ArtifactUnsealFailed, match="another key"):
        wrapper.unwrap(WrappedKey(other, None, b"x" * 60), CONTEXT)
    assert kms_server.kms.requests == []


@pytest.mark.parametrize("operation", ["wrap", "unwrap"])
def test_an_answer_corrupted_on_the_way_is_caught_by_its_crc32c(wrapper: CloudKmsKeyWrapper,
                                                                kms_server: FakeKmsServer, operation: str) -> None:
    wrapped = wrapper.wrap(os.urandom(32), CONTEXT)
    kms_server.kms.corrupt_next_response = True
    with pytest.raises(ArtifactKeyUnavailable, match="checksum"):
        if operation == "wrap":
            wrapper.wrap(os.urandom(32), CONTEXT)
        else:
            wrapper.unwrap(wrapped, CONTEXT)


def test_an_unknown_key_is_a_key_unavailable_error(kms_server: FakeKmsServer) -> None:
    wrapper = CloudKmsKeyWrapper(KEY.replace("artifact-kek", "missing"), client_factory=kms_server.client)
    with pytest.raises(ArtifactKeyUnavailable) as caught:
        wrapper.wrap(os.urandom(32), CONTEXT)
    assert caught.value.details["status"] == "NotFound" and not caught.value.permanent


def test_a_kms_outage_fails_within_the_timeout(kms_server: FakeKmsServer) -> None:
    wrapper = CloudKmsKeyWrapper(KEY, client_factory=kms_server.client, timeout_seconds=1)
    kms_server.stop()
    with pytest.raises(ArtifactKeyUnavailable):
        wrapper.wrap(os.urandom(32), CONTEXT)


def test_the_kms_client_is_built_on_first_use_only(kms_server: FakeKmsServer) -> None:
    built: list[int] = []

    def factory() -> Any:
        built.append(1)
        return kms_server.client()

    wrapper = CloudKmsKeyWrapper(KEY, client_factory=factory)
    assert wrapper.key_name == KEY and built == []
    wrapper.unwrap(wrapper.wrap(os.urandom(32), CONTEXT), CONTEXT)
    assert built == [1]


@pytest.mark.parametrize("name", ["artifact-kek", f"{KEY}/cryptoKeyVersions/1", "projects/p/keyRings/r"])
def test_a_key_name_that_is_not_a_crypto_key_is_refused(name: str) -> None:
    with pytest.raises(ValidationFailed):
        CloudKmsKeyWrapper(name)


class TestSealedLocalStoreUnderCloudKms(ArtifactStoreContract, WriteOnceContract, RetentionContract):
    """The whole contract with data keys wrapped through the KMS API (fake server, real client)."""

    expected_encryption = {"operational": "envelope"}

    def setup_backing(self, request: pytest.FixtureRequest) -> None:
        self.root: Path = request.getfixturevalue("tmp_path") / "artifacts"
        self.kms_server: FakeKmsServer = request.getfixturevalue("kms_server")

    def make_store(self, retention_days: Mapping[str, int] | None = None) -> ArtifactStore:
        return SealedArtifactStore(LocalArtifactStore(self.root, region=REGION, retention_days=retention_days),
                                   CloudKmsKeyWrapper(KEY, client_factory=self.kms_server.client))

    def test_sealed_objects_name_the_kms_key_version(self) -> None:
        name = new_name()
        self.store.put_once(name, b"%PDF", "operational")
        header = envelope.read_header(self.store.inner.read(name))  # type: ignore[attr-defined]
        assert header.wrapped_key.key_version == f"{KEY}/cryptoKeyVersions/1"
