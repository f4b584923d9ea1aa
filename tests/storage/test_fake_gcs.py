"""The fake Cloud Storage answers like gcp-storage-emulator wherever the emulator implements the call
(the same checks run against both), and enforces what the emulator ignores (checked here, fake only)."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import google_crc32c
import pytest
from google.api_core import exceptions

from tests.storage.conftest import Buckets


@pytest.fixture(params=["emulator_buckets", "fake_buckets"])
def buckets(request: pytest.FixtureRequest) -> Buckets:
    return request.getfixturevalue(request.param)


def test_upload_then_get_blob_reports_size_crc32c_generation_metadata_and_type(buckets: Buckets) -> None:
    bucket = buckets.client_factory().bucket(buckets.operational)
    blob = bucket.blob("operational/tenants/t/runs/r/report.pdf")
    blob.metadata = {"sha256": "ab" * 32, "retention_class": "operational"}
    blob.upload_from_string(b"%PDF-1.7 bytes", content_type="application/pdf", checksum="crc32c")
    found = bucket.get_blob("operational/tenants/t/runs/r/report.pdf")
    assert found is not None
    assert found.size == len(b"%PDF-1.7 bytes")
    assert found.crc32c == base64.b64encode(google_crc32c.Checksum(b"%PDF-1.7 bytes").digest()).decode()
    assert isinstance(found.generation, int) and found.generation == blob.generation > 0
    assert found.metadata == {"sha256": "ab" * 32, "retention_class": "operational"}
    assert found.content_type == "application/pdf"
    assert found.bucket.name == buckets.operational


def test_download_pinned_to_the_current_generation_returns_the_bytes(buckets: Buckets) -> None:
    bucket = buckets.client_factory().bucket(buckets.operational)
    bucket.blob("a/b").upload_from_string(b"\x00\x01payload\xff", checksum="crc32c")
    found = bucket.get_blob("a/b")
    assert found.download_as_bytes(checksum="crc32c", if_generation_match=found.generation) == b"\x00\x01payload\xff"


def test_a_missing_object_is_none_on_get_and_not_found_on_download(buckets: Buckets) -> None:
    bucket = buckets.client_factory().bucket(buckets.operational)
    assert bucket.get_blob("nothing/here") is None
    with pytest.raises(exceptions.NotFound):
        bucket.blob("nothing/here").download_as_bytes(checksum="crc32c")


def test_each_write_gets_a_new_generation(buckets: Buckets) -> None:
    bucket = buckets.client_factory().bucket(buckets.operational)
    first, second = bucket.blob("g/1"), bucket.blob("g/2")
    first.upload_from_string(b"1")
    second.upload_from_string(b"2")
    assert first.generation != second.generation


def test_object_retention_is_refused_where_the_bucket_does_not_enable_it(fake_buckets: Buckets) -> None:
    blob = fake_buckets.client_factory().bucket(fake_buckets.operational).blob("x")
    blob.retention.mode = "Locked"
    blob.retention.retain_until_time = datetime.now(timezone.utc) + timedelta(days=1)
    with pytest.raises(exceptions.BadRequest):
        blob.upload_from_string(b"x")


def test_the_fake_enforces_if_generation_match(fake_buckets: Buckets) -> None:
    bucket = fake_buckets.client_factory().bucket(fake_buckets.operational)
    bucket.blob("w").upload_from_string(b"first", if_generation_match=0)
    with pytest.raises(exceptions.PreconditionFailed):
        bucket.blob("w").upload_from_string(b"second", if_generation_match=0)
    found = bucket.get_blob("w")
    with pytest.raises(exceptions.PreconditionFailed):
        found.download_as_bytes(if_generation_match=found.generation + 1)
    assert found.download_as_bytes() == b"first"


def test_an_object_under_retention_cannot_be_replaced_even_without_a_precondition(fake_buckets: Buckets) -> None:
    bucket = fake_buckets.client_factory().bucket(fake_buckets.regulatory)
    blob = bucket.blob("locked")
    blob.retention.mode = "Locked"
    blob.retention.retain_until_time = datetime.now(timezone.utc) + timedelta(days=30)
    blob.upload_from_string(b"kept")
    with pytest.raises(exceptions.Forbidden):
        bucket.blob("locked").upload_from_string(b"replacement")
    assert bucket.get_blob("locked").download_as_bytes() == b"kept"


def test_a_locked_retention_may_be_extended_but_not_unlocked(fake_buckets: Buckets) -> None:
    bucket = fake_buckets.client_factory().bucket(fake_buckets.regulatory)
    blob = bucket.blob("extend")
    until = datetime.now(timezone.utc) + timedelta(days=30)
    blob.retention.mode = "Locked"
    blob.retention.retain_until_time = until
    blob.upload_from_string(b"x")
    found = bucket.get_blob("extend")
    found.retention.retain_until_time = until + timedelta(days=365)
    found.patch()  # a legal hold's extension is allowed
    found = bucket.get_blob("extend")
    found.retention.mode = "Unlocked"
    with pytest.raises(exceptions.Forbidden):
        found.patch(override_unlocked_retention=True)
    assert bucket.get_blob("extend").retention.retain_until_time == until + timedelta(days=365)


def test_a_temporary_hold_blocks_delete_until_released(fake_buckets: Buckets) -> None:
    bucket = fake_buckets.client_factory().bucket(fake_buckets.operational)
    bucket.blob("held").upload_from_string(b"x")
    found = bucket.get_blob("held")
    found.temporary_hold = True
    found.patch()
    with pytest.raises(exceptions.Forbidden):
        found.delete()
    found.temporary_hold = False
    found.patch()
    found.delete()
    assert bucket.get_blob("held") is None


def test_a_bucket_retention_policy_blocks_delete_of_young_objects(fake_buckets: Buckets) -> None:
    client = fake_buckets.client_factory()
    client.create_bucket("policy-bucket", retention_period=timedelta(days=365))
    bucket = client.bucket("policy-bucket")
    bucket.blob("young").upload_from_string(b"x")
    with pytest.raises(exceptions.Forbidden):
        bucket.get_blob("young").delete()
