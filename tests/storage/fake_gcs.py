"""An honest fake of Cloud Storage for the two things gcp-storage-emulator ignores: generation
preconditions and retention (object retention, bucket retention policies, holds).

It is the real google-cloud-storage Client/Bucket/Blob classes with only their network calls replaced:
every property the adapter reads (generation, metadata, retention, crc32c …) is parsed by the real
library from the same JSON resource shape the service returns, and the upload sends exactly what the
real client would (`Blob._get_writable_metadata()`). The server side enforces what Cloud Storage does:
- `if_generation_match` on insert and download (412 PreconditionFailed);
- an object under retention or a hold cannot be replaced or deleted (403 Forbidden);
- object retention needs a bucket with object retention enabled (400), and a Locked retention can be
  extended but never shortened, removed or unlocked (403);
- the client's CRC32C is checked on upload (400) and the stored CRC32C is served on download.
The same emulator-backed contract cases run against it (tests/storage/test_gcs_store.py), and the raw
behaviours both implement are compared in tests/storage/test_fake_gcs.py, so it cannot drift.
"""
from __future__ import annotations

import base64
import copy
import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import google_crc32c
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage.exceptions import DataCorruption

UNROUTABLE = "http://127.0.0.1:9"  # any call the fake does not override fails at once instead of going out


PRECONDITION_FAILED = "At least one of the pre-conditions you specified did not hold."


def _crc32c_b64(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode("ascii")


def _rfc3339(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    return {k: _plain(v) for k, v in value.items()} if isinstance(value, dict) else value


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class _Object:
    resource: dict[str, Any]
    data: bytes


@dataclass
class _Bucket:
    name: str
    object_retention: bool = False
    retention_period: timedelta | None = None
    objects: dict[str, _Object] = field(default_factory=dict)


class FakeGcsServer:
    """The service side: buckets and objects, with Cloud Storage's rules enforced under one lock."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.now = now or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._generations = itertools.count(1_700_000_000_000_001)
        self.corrupt_next_upload = False  # flip a byte "on the wire": the service must refuse the upload

    def create_bucket(self, name: str, *, object_retention: bool = False,
                      retention_period: timedelta | None = None) -> None:
        with self._lock:
            if name in self._buckets:
                raise exceptions.Conflict(f"bucket {name} already exists")
            self._buckets[name] = _Bucket(name, object_retention, retention_period)

    def _bucket(self, name: str) -> _Bucket:
        if name not in self._buckets:
            raise exceptions.NotFound(f"bucket {name} not found")
        return self._buckets[name]

    def _protected_until(self, bucket: _Bucket, obj: _Object) -> datetime | None:
        """Until when the object may be neither replaced nor deleted (None: it may)."""
        now = self.now()
        if obj.resource.get("temporaryHold") or obj.resource.get("eventBasedHold"):
            return datetime.max.replace(tzinfo=timezone.utc)
        until: list[datetime] = []
        retention = obj.resource.get("retention") or {}
        if retention.get("retainUntilTime"):
            until.append(_parse(retention["retainUntilTime"]))
        if bucket.retention_period is not None:
            until.append(_parse(obj.resource["timeCreated"]) + bucket.retention_period)
        latest = max(until) if until else None
        return latest if latest is not None and latest > now else None

    def insert(self, bucket_name: str, key: str, data: bytes, sent: dict[str, Any], *,
               if_generation_match: int | None, client_crc32c: str | None) -> dict[str, Any]:
        with self._lock:
            bucket = self._bucket(bucket_name)
            received = bytearray(data)
            if self.corrupt_next_upload and received:
                received[0] ^= 0x01
                self.corrupt_next_upload = False
            received = bytes(received)
            if client_crc32c is not None and client_crc32c != _crc32c_b64(received):
                raise exceptions.BadRequest("Provided CRC32C doesn't match calculated CRC32C")
            existing = bucket.objects.get(key)
            if if_generation_match is not None:
                current = int(existing.resource["generation"]) if existing else 0
                if current != if_generation_match:
                    raise exceptions.PreconditionFailed(PRECONDITION_FAILED)
            if existing is not None and self._protected_until(bucket, existing) is not None:
                raise exceptions.Forbidden(f"Object '{key}' is under active retention or a hold and cannot be replaced")
            retention = sent.get("retention")
            if retention and (retention.get("mode") or retention.get("retainUntilTime")):
                if not bucket.object_retention:
                    raise exceptions.BadRequest("Object retention is not enabled for this bucket")
                if retention.get("mode") not in ("Locked", "Unlocked") or not retention.get("retainUntilTime"):
                    raise exceptions.BadRequest("Object retention needs a mode and a retain-until time")
            now = _rfc3339(self.now())
            resource = {
                "kind": "storage#object", "bucket": bucket_name, "name": key, "id": f"{bucket_name}/{key}",
                "generation": str(next(self._generations)), "metageneration": "1",
                "contentType": sent.get("contentType") or "application/octet-stream",
                "size": str(len(received)), "crc32c": _crc32c_b64(received),
                "timeCreated": now, "updated": now, "metadata": dict(sent.get("metadata") or {}),
            }
            if retention and retention.get("mode"):
                resource["retention"] = {"mode": retention["mode"], "retainUntilTime": retention["retainUntilTime"]}
            bucket.objects[key] = _Object(resource, received)
            return copy.deepcopy(resource)

    def get(self, bucket_name: str, key: str) -> tuple[dict[str, Any], bytes] | None:
        with self._lock:
            obj = self._bucket(bucket_name).objects.get(key)
            return (copy.deepcopy(obj.resource), obj.data) if obj else None

    def delete(self, bucket_name: str, key: str) -> None:
        with self._lock:
            bucket = self._bucket(bucket_name)
            obj = bucket.objects.get(key)
            if obj is None:
                raise exceptions.NotFound(f"No such object: {bucket_name}/{key}")
            if self._protected_until(bucket, obj) is not None:
                raise exceptions.Forbidden(f"Object '{key}' is under active retention or a hold and cannot be deleted")
            del bucket.objects[key]

    def patch(self, bucket_name: str, key: str, changes: dict[str, Any], *,
              override_unlocked_retention: bool = False) -> dict[str, Any]:
        """Metadata updates as the service applies them; the retention rules are the point."""
        with self._lock:
            bucket = self._bucket(bucket_name)
            obj = bucket.objects.get(key)
            if obj is None:
                raise exceptions.NotFound(f"No such object: {bucket_name}/{key}")
            if "retention" in changes:
                self._check_retention_change(bucket, obj.resource.get("retention") or {},
                                             changes["retention"] or {}, override_unlocked_retention)
            for name in ("metadata", "retention", "temporaryHold", "eventBasedHold"):
                if name in changes:
                    obj.resource[name] = copy.deepcopy(changes[name])
            obj.resource["metageneration"] = str(int(obj.resource["metageneration"]) + 1)
            return copy.deepcopy(obj.resource)

    @staticmethod
    def _check_retention_change(bucket: _Bucket, old: dict[str, Any], new: dict[str, Any],
                                override_unlocked: bool) -> None:
        if not bucket.object_retention:
            raise exceptions.BadRequest("Object retention is not enabled for this bucket")
        old_until = _parse(old["retainUntilTime"]) if old.get("retainUntilTime") else None
        new_until = _parse(new["retainUntilTime"]) if new.get("retainUntilTime") else None
        if old.get("mode") == "Locked":
            if new.get("mode") != "Locked" or new_until is None or (old_until and new_until < old_until):
                raise exceptions.Forbidden("A Locked retention can only be extended, never shortened or removed")
        elif old_until is not None and (new_until is None or new_until < old_until) and not override_unlocked:
            raise exceptions.Forbidden("Shortening an Unlocked retention needs override_unlocked_retention")

    def corrupt_at_rest(self, bucket_name: str, key: str) -> None:
        """Flip one stored byte but keep the recorded CRC32C (bit rot, or tampering behind the API's back)."""
        with self._lock:
            obj = self._bucket(bucket_name).objects[key]
            flipped = bytearray(obj.data)
            flipped[len(flipped) // 2] ^= 0x01
            obj.data = bytes(flipped)


class FakeBlob(storage.Blob):
    """The real Blob; only the calls that would go to the service are answered by FakeGcsServer."""

    @property
    def _server(self) -> FakeGcsServer:
        return self.bucket.client.server

    def upload_from_string(self, data: bytes | str, content_type: str = "text/plain", *,
                           if_generation_match: int | None = None, checksum: str | None = "auto",
                           **_: Any) -> None:
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self.content_type = content_type
        sent = self._get_writable_metadata()  # exactly the object resource the real client would send
        crc = _crc32c_b64(payload) if checksum in ("crc32c", "auto") else None
        resource = self._server.insert(self.bucket.name, self.name, payload, sent,
                                       if_generation_match=if_generation_match, client_crc32c=crc)
        self._set_properties(resource)

    def download_as_bytes(self, *, if_generation_match: int | None = None, checksum: str | None = "auto",
                          **_: Any) -> bytes:
        found = self._server.get(self.bucket.name, self.name)
        if found is None:
            raise exceptions.NotFound(f"No such object: {self.bucket.name}/{self.name}")
        resource, data = found
        if if_generation_match is not None and int(resource["generation"]) != if_generation_match:
            raise exceptions.PreconditionFailed(PRECONDITION_FAILED)
        if checksum in ("crc32c", "auto") and _crc32c_b64(data) != resource["crc32c"]:
            raise DataCorruption(None, "Checksum mismatch while downloading: the CRC32C differs")
        return data

    def reload(self, **_: Any) -> None:
        found = self._server.get(self.bucket.name, self.name)
        if found is None:
            raise exceptions.NotFound(f"No such object: {self.bucket.name}/{self.name}")
        self._set_properties(found[0])

    def delete(self, **_: Any) -> None:
        self._server.delete(self.bucket.name, self.name)

    def patch(self, *, override_unlocked_retention: bool = False, **_: Any) -> None:
        # Plain dicts: the client's Retention mapping holds a reference back to this blob.
        changes = {name: _plain(self._properties.get(name)) for name in self._changes}
        resource = self._server.patch(self.bucket.name, self.name, changes,
                                      override_unlocked_retention=override_unlocked_retention)
        self._set_properties(resource)


class FakeBucket(storage.Bucket):
    def blob(self, blob_name: str, *_: Any, **__: Any) -> FakeBlob:
        return FakeBlob(blob_name, bucket=self)

    def get_blob(self, blob_name: str, *_: Any, **__: Any) -> FakeBlob | None:
        found = self.client.server.get(self.name, blob_name)
        if found is None:
            return None
        blob = FakeBlob(blob_name, bucket=self)
        blob._set_properties(found[0])
        return blob


class FakeClient(storage.Client):
    """A real storage.Client (anonymous, pointed nowhere) whose buckets talk to a FakeGcsServer."""

    def __init__(self, server: FakeGcsServer) -> None:
        super().__init__(project="fake-project", credentials=AnonymousCredentials(),
                         client_options={"api_endpoint": UNROUTABLE})
        self.server = server

    def bucket(self, bucket_name: str, *_: Any, **__: Any) -> FakeBucket:
        return FakeBucket(self, name=bucket_name)

    def create_bucket(self, bucket_or_name: str, *_: Any, enable_object_retention: bool = False,
                      retention_period: timedelta | None = None, **__: Any) -> FakeBucket:
        self.server.create_bucket(str(bucket_or_name), object_retention=enable_object_retention,
                                  retention_period=retention_period)
        return self.bucket(str(bucket_or_name))
