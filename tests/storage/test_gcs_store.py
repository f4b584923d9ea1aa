"""GcsArtifactStore with the real google-cloud-storage client.

Split (EMULATORS.md): every contract case gcp-storage-emulator implements runs against the emulator;
the write-once and retention cases, which it ignores, run against the honest fake — and the fake runs
the emulator's cases too, so it cannot drift. Plain and sealed (envelope) variants of each.
"""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import google_crc32c
from google.auth import credentials as auth_credentials
import pytest
from google.api_core import exceptions

from reporting.adapters.crypto.local_key_file import LocalKeyFileWrapper
from reporting.adapters.crypto.sealed_store import SealedArtifactStore
from reporting.adapters.gcs.artifact_store import MAX_SIGNED_URL_TTL, GcsArtifactStore, object_key
from reporting.devenv.gcs_emulator import GcsEmulator
from reporting.domain.artifact import RETENTION_DAYS, ArtifactCorrupted, ArtifactIntegrityError
from reporting.domain.errors import NotFound, ValidationFailed
from reporting.service_layer.ports import ArtifactStore
from tests.storage.conftest import Buckets
from tests.storage.contract import REGION, ArtifactStoreContract, RetentionContract, WriteOnceContract, new_name
from tests.storage.signing import signing_credentials


def gcs_store(buckets: Buckets, retention_days: Mapping[str, int] | None = None, **kw: object) -> GcsArtifactStore:
    return GcsArtifactStore(operational_bucket=buckets.operational, regulatory_bucket=buckets.regulatory,
                            region=REGION, client_factory=buckets.client_factory, retention_days=retention_days,
                            **kw)  # type: ignore[arg-type]


class _OnGcs:
    buckets_fixture = ""
    sealed = False

    def setup_backing(self, request: pytest.FixtureRequest) -> None:
        self.buckets: Buckets = request.getfixturevalue(self.buckets_fixture)
        if self.sealed:
            self.key_file = request.getfixturevalue("tmp_path") / "keys" / "artifact-kek"

    def make_store(self, retention_days: Mapping[str, int] | None = None) -> ArtifactStore:
        store = gcs_store(self.buckets, retention_days)
        return SealedArtifactStore(store, LocalKeyFileWrapper(self.key_file)) if self.sealed else store


class TestGcsStoreOnEmulator(_OnGcs, ArtifactStoreContract):
    buckets_fixture = "emulator_buckets"


class TestGcsStoreOnFake(_OnGcs, ArtifactStoreContract, WriteOnceContract, RetentionContract):
    buckets_fixture = "fake_buckets"


class TestSealedGcsStoreOnEmulator(_OnGcs, ArtifactStoreContract):
    buckets_fixture = "emulator_buckets"
    sealed = True
    expected_encryption = {"operational": "envelope"}


class TestSealedGcsStoreOnFake(_OnGcs, ArtifactStoreContract, WriteOnceContract, RetentionContract):
    buckets_fixture = "fake_buckets"
    sealed = True
    expected_encryption = {"operational": "envelope"}


# ---- GCS specifics on the emulator ----

@pytest.mark.parametrize("retention_class", sorted(RETENTION_DAYS))
def test_each_class_goes_to_its_bucket_under_its_class_prefix(emulator_buckets: Buckets,
                                                               retention_class: str) -> None:
    store, name = gcs_store(emulator_buckets), new_name()
    stored = store.put_once(name, b"x", retention_class)
    bucket = emulator_buckets.regulatory if retention_class.startswith("regulatory-") else emulator_buckets.operational
    other = emulator_buckets.operational if bucket == emulator_buckets.regulatory else emulator_buckets.regulatory
    client = emulator_buckets.client_factory()
    blob = client.bucket(bucket).get_blob(object_key(name, retention_class))
    assert blob is not None and client.bucket(other).get_blob(object_key(name, retention_class)) is None
    assert stored.uri == f"gs://{bucket}/{retention_class}/{name}"
    assert stored.generation == blob.generation


def test_the_object_carries_sha256_class_and_lock_as_metadata_and_a_crc32c(emulator_buckets: Buckets) -> None:
    store, name, data = gcs_store(emulator_buckets), new_name(), b"%PDF-1.7 body"
    stored = store.put_once(name, data, "regulatory-ksa-vat")
    blob = emulator_buckets.client_factory().bucket(emulator_buckets.regulatory).get_blob(
        object_key(name, "regulatory-ksa-vat"))
    assert blob.metadata == {"sha256": hashlib.sha256(data).hexdigest(), "retention_class": "regulatory-ksa-vat",
                             "locked_until": stored.locked_until.isoformat()}
    assert blob.crc32c == base64.b64encode(google_crc32c.Checksum(data).digest()).decode()
    assert blob.content_type == "application/pdf"


def test_bytes_replaced_behind_the_stores_back_are_refused_on_read(emulator_buckets: Buckets) -> None:
    """The emulator lets a raw client overwrite (no preconditions): the recorded sha256 catches it."""
    store, name = gcs_store(emulator_buckets), new_name()
    store.put_once(name, b"the real report", "operational")
    bucket = emulator_buckets.client_factory().bucket(emulator_buckets.operational)
    original = bucket.get_blob(object_key(name, "operational"))
    forged = bucket.blob(object_key(name, "operational"))
    forged.metadata = original.metadata  # the attacker keeps the metadata, sha256 included
    forged.upload_from_string(b"a forged report")
    with pytest.raises(ArtifactCorrupted):
        store.read(name)


def test_names_that_are_not_plain_relative_object_names_are_refused(emulator_buckets: Buckets) -> None:
    store = gcs_store(emulator_buckets)
    for name in ("", "/abs", "a/../b", "a//b", "./a", "a\nb"):
        with pytest.raises(ValidationFailed):
            store.put_once(name, b"x", "operational")
        with pytest.raises(ValidationFailed):
            store.stat(name)


def test_caller_metadata_cannot_shadow_the_stores_own_keys(emulator_buckets: Buckets) -> None:
    with pytest.raises(ValidationFailed):
        gcs_store(emulator_buckets).put_once(new_name(), b"x", "operational", metadata={"sha256": "0" * 64})


def test_the_storage_client_is_built_on_first_use_only(emulator_buckets: Buckets) -> None:
    built: list[int] = []

    def factory() -> Any:
        built.append(1)
        return emulator_buckets.client_factory()

    store = GcsArtifactStore(operational_bucket=emulator_buckets.operational,
                             regulatory_bucket=emulator_buckets.regulatory, region=REGION, client_factory=factory)
    assert store.region == REGION and built == []
    store.put_once(new_name(), b"x", "operational")
    store.stat(new_name())
    assert built == [1]


def test_a_signed_url_is_v4_get_only_short_lived_and_serves_the_object(emulator_buckets: Buckets,
                                                                       gcs: GcsEmulator) -> None:
    store = gcs_store(emulator_buckets, signing_credentials=signing_credentials(), signed_url_endpoint=gcs.host)
    name, data = new_name(), b"%PDF-1.7 regulatory register"
    store.put_once(name, data, "regulatory-af-police")
    url = store.signed_url(name, timedelta(minutes=5), "regulatory-af-police")
    assert url is not None
    assert "X-Goog-Algorithm=GOOG4-RSA-SHA256" in url and "X-Goog-Expires=300&" in url
    assert "X-Goog-Signature=" in url and "generation=" in url
    with urllib.request.urlopen(url) as response:
        assert response.read() == data
    # Asked for a day, it still lives at most MAX_SIGNED_URL_TTL.
    longest = store.signed_url(name, timedelta(days=1))
    assert f"X-Goog-Expires={int(MAX_SIGNED_URL_TTL.total_seconds())}&" in longest


def test_a_sealed_object_never_gets_a_signed_url(emulator_buckets: Buckets, tmp_path: Path) -> None:
    inner = gcs_store(emulator_buckets, signing_credentials=signing_credentials())
    store = SealedArtifactStore(inner, LocalKeyFileWrapper(tmp_path / "kek"))
    name = new_name()
    store.put_once(name, b"%PDF operational", "operational")
    assert store.signed_url(name, timedelta(minutes=5)) is None
    assert store.signed_url(name, timedelta(minutes=5), "operational") is None
    assert inner.signed_url(name, timedelta(minutes=5)) is None  # the GCS adapter itself refuses too


def test_without_signing_credentials_there_is_no_signed_url(emulator_buckets: Buckets) -> None:
    store, name = gcs_store(emulator_buckets), new_name()  # anonymous emulator credentials cannot sign
    store.put_once(name, b"x", "regulatory-in-formc")
    assert store.signed_url(name, timedelta(minutes=5)) is None


def test_a_signed_url_for_a_missing_object_is_not_found(emulator_buckets: Buckets) -> None:
    with pytest.raises(NotFound):
        gcs_store(emulator_buckets, signing_credentials=signing_credentials()).signed_url(
            new_name(), timedelta(minutes=5))


# ---- GCS specifics only the fake can show (retention, preconditions, corruption) ----

def test_regulatory_objects_are_locked_until_their_class_lock(fake_buckets: Buckets) -> None:
    store, name = gcs_store(fake_buckets), new_name()
    stored = store.put_once(name, b"register", "regulatory-af-police")
    blob = fake_buckets.client_factory().bucket(fake_buckets.regulatory).get_blob(
        object_key(name, "regulatory-af-police"))
    assert blob.retention.mode == "Locked"
    assert blob.retention.retain_until_time == stored.locked_until
    with pytest.raises(exceptions.Forbidden):
        blob.delete()


def test_operational_objects_carry_no_object_retention(fake_buckets: Buckets) -> None:
    """The operational bucket has no object retention (its lifecycle rule deletes after 400 days)."""
    store, name = gcs_store(fake_buckets), new_name()
    store.put_once(name, b"occupancy", "operational")
    blob = fake_buckets.client_factory().bucket(fake_buckets.operational).get_blob(object_key(name, "operational"))
    assert blob.retention.mode is None and blob.metadata["locked_until"]


def test_nobody_can_shorten_a_regulatory_lock_afterwards_even_with_the_client(fake_buckets: Buckets) -> None:
    store, name = gcs_store(fake_buckets), new_name()
    stored = store.put_once(name, b"register", "regulatory-ksa-vat")
    blob = fake_buckets.client_factory().bucket(fake_buckets.regulatory).get_blob(
        object_key(name, "regulatory-ksa-vat"))
    blob.retention.retain_until_time = datetime.now(timezone.utc) + timedelta(days=1)
    with pytest.raises(exceptions.Forbidden):
        blob.patch(override_unlocked_retention=True)
    assert store.stat(name).locked_until == stored.locked_until


def test_a_lock_ends_when_its_time_has_passed(fake_buckets: Buckets) -> None:
    """The fake is honest both ways: past retain-until, a delete is allowed again."""
    store, name = gcs_store(fake_buckets, {"regulatory-in-formc": 1}), new_name()
    store.put_once(name, b"form c", "regulatory-in-formc")
    blob = fake_buckets.client_factory().bucket(fake_buckets.regulatory).get_blob(
        object_key(name, "regulatory-in-formc"))
    with pytest.raises(exceptions.Forbidden):
        blob.delete()
    assert fake_buckets.server is not None
    fake_buckets.server.now = lambda: datetime.now(timezone.utc) + timedelta(days=2)
    blob.delete()
    assert store.stat(name) is None


def test_bytes_that_rot_at_rest_fail_the_crc32c_on_read(fake_buckets: Buckets) -> None:
    store, name = gcs_store(fake_buckets), new_name()
    store.put_once(name, b"%PDF-1.7 " * 100, "operational")
    assert fake_buckets.server is not None
    fake_buckets.server.corrupt_at_rest(fake_buckets.operational, object_key(name, "operational"))
    with pytest.raises(ArtifactCorrupted):
        store.read(name)


def test_an_upload_corrupted_on_the_way_is_refused_and_nothing_is_stored(fake_buckets: Buckets) -> None:
    store, name = gcs_store(fake_buckets), new_name()
    assert fake_buckets.server is not None
    fake_buckets.server.corrupt_next_upload = True
    with pytest.raises(exceptions.BadRequest):
        store.put_once(name, b"%PDF-1.7 body", "operational")
    assert store.stat(name) is None
    store.put_once(name, b"%PDF-1.7 body", "operational")  # the retry stores it
    assert store.read(name) == b"%PDF-1.7 body"


def test_an_object_without_the_stores_metadata_is_refused(fake_buckets: Buckets) -> None:
    name = new_name()
    fake_buckets.client_factory().bucket(fake_buckets.operational).blob(
        object_key(name, "operational")).upload_from_string(b"dropped in by hand")
    with pytest.raises(ArtifactIntegrityError):
        gcs_store(fake_buckets).stat(name)


class MetadataServerCredentials(auth_credentials.Credentials):
    """Like Cloud Functions' compute credentials: no private key, and the email is known after a refresh."""

    def __init__(self) -> None:
        super().__init__()
        self.service_account_email = "default"
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = "ya29.test-token"
        self.service_account_email = "reporting-request@melmastoon-af.iam.gserviceaccount.com"


def test_keyless_runtime_credentials_sign_through_iam_as_the_refreshed_service_account(
        emulator_buckets: Buckets) -> None:
    """The shape handed to the client's IAM signBlob path (no network here to call IAM itself)."""
    creds = MetadataServerCredentials()
    store = gcs_store(emulator_buckets, signing_credentials=creds)
    assert store._signing_kwargs() == {
        "service_account_email": "reporting-request@melmastoon-af.iam.gserviceaccount.com",
        "access_token": "ya29.test-token"}
    assert creds.refreshes == 1
