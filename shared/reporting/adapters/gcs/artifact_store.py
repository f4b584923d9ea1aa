"""GcsArtifactStore: write-once artifacts in the residency's buckets (SPEC §7), with the real storage client.

- Retention class → bucket: `operational` in the operational bucket (deleted by its lifecycle rule after the
  class's days), `regulatory-*` in the regulatory bucket (locked bucket retention policy). Objects are named
  `<retention class>/<artifact name>`, the prefix the buckets' lifecycle rules match (terraform storage.tf).
- Regulatory objects also carry object retention, mode Locked, retain-until = locked_until: fixed at write
  time from the class, so changing a default later never shortens an existing object's lock (Locked
  retention can only grow, and this adapter never patches retention at all).
- Write-once: `if_generation_match=0`; a 412 is ArtifactExists. CRC32C is sent with every upload (the
  service refuses a mismatch) and checked on every download; sha256 is recorded and checked as well.
- Signed URLs: V4, GET only, at most MAX_SIGNED_URL_TTL, pinned to the object's generation; never for a
  sealed (envelope-encrypted) object, whose bytes only the API can open.
"""
from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from reporting.domain.artifact import (RETENTION_DAYS, ArtifactCorrupted, ArtifactIntegrityError, StoredObject,
                                       is_regulatory, locked_until, retention_days)
from reporting.domain.errors import ArtifactExists, NotFound, ValidationFailed
from reporting.logs import get_logger
from reporting.service_layer.ports import ArtifactStore, Clock, SystemClock

log = get_logger(__name__)

MAX_SIGNED_URL_TTL = timedelta(minutes=15)
OBJECT_RETENTION_MODE = "Locked"
# Object metadata keys this adapter owns (x-goog-meta-*); caller metadata may not shadow them.
SHA256, RETENTION_CLASS, LOCKED_UNTIL = "sha256", "retention_class", "locked_until"
OWN_KEYS = frozenset({SHA256, RETENTION_CLASS, LOCKED_UNTIL})
CONTENT_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}


def object_key(name: str, retention_class: str) -> str:
    """Where an artifact lives inside its bucket: the class first, for the lifecycle rules."""
    return f"{retention_class}/{name}"


def _check_name(name: str) -> None:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) \
            or any(ord(c) < 32 for c in name) or len(name.encode("utf-8")) > 900:
        raise ValidationFailed("artifact name is not a plain relative object name", name=name)


class GcsArtifactStore(ArtifactStore):
    """One residency's buckets. The storage client is created on first use (cold start), once."""

    def __init__(self, *, operational_bucket: str, regulatory_bucket: str, region: str,
                 project: str | None = None, client_factory: Callable[[], Any] | None = None,
                 retention_days: Mapping[str, int] | None = None, clock: Clock | None = None,
                 signing_credentials: Any = None, signed_url_endpoint: str | None = None) -> None:
        self._buckets = {"operational": operational_bucket, "regulatory": regulatory_bucket}
        self._region = region
        self._project = project
        self._client_factory = client_factory
        self._retention_days = dict(retention_days or {})
        self._clock = clock or SystemClock()
        self._signing_credentials = signing_credentials
        self._signed_url_endpoint = signed_url_endpoint
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def region(self) -> str:
        return self._region

    def _storage(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    if self._client_factory is not None:
                        self._client = self._client_factory()
                    else:
                        from google.cloud import storage

                        self._client = storage.Client(project=self._project)
        return self._client

    def bucket_name(self, retention_class: str) -> str:
        """The bucket a class lives in."""
        return self._buckets["regulatory" if is_regulatory(retention_class) else "operational"]

    def _bucket(self, retention_class: str) -> Any:
        return self._storage().bucket(self.bucket_name(retention_class))

    # ---- write ----

    def put_once(self, name: str, data: bytes, retention_class: str, *,
                 metadata: Mapping[str, str] | None = None) -> StoredObject:
        from google.api_core.exceptions import PreconditionFailed

        _check_name(name)
        retention_days(retention_class, self._retention_days)  # an unknown class is refused before any I/O
        extra = {str(k): str(v) for k, v in (metadata or {}).items()}
        if OWN_KEYS & extra.keys():
            raise ValidationFailed("metadata keys reserved by the store", keys=sorted(OWN_KEYS & extra.keys()))
        until = locked_until(retention_class, self._clock.now(), self._retention_days)
        blob = self._bucket(retention_class).blob(object_key(name, retention_class))
        blob.metadata = {**extra, SHA256: hashlib.sha256(data).hexdigest(), RETENTION_CLASS: retention_class,
                         LOCKED_UNTIL: until.isoformat()}
        if is_regulatory(retention_class):
            # Set at creation, in the same request as the bytes: the object never exists unlocked.
            retention = blob.retention
            retention.mode = OBJECT_RETENTION_MODE
            retention.retain_until_time = until
        sealed = extra.get("encryption") == "envelope"
        content_type = "application/octet-stream" if sealed else \
            CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
        try:
            blob.upload_from_string(data, content_type=content_type, if_generation_match=0, checksum="crc32c")
        except PreconditionFailed:
            raise ArtifactExists("artifact already stored under this name", name=name) from None
        return self._stored(blob)

    # ---- read ----

    def _stored(self, blob: Any) -> StoredObject:
        meta = dict(blob.metadata or {})
        if SHA256 not in meta or RETENTION_CLASS not in meta:
            raise ArtifactIntegrityError("stored object lacks the metadata this store writes", name=blob.name)
        retention_class = meta.pop(RETENTION_CLASS)
        sha256 = meta.pop(SHA256)
        recorded = meta.pop(LOCKED_UNTIL, None)
        # The object's own retention is the lock that binds; the metadata copy stands in where there is none.
        retain_until = blob.retention.retain_until_time
        until = retain_until or (datetime.fromisoformat(recorded) if recorded else None)
        return StoredObject(uri=f"gs://{blob.bucket.name}/{blob.name}", generation=int(blob.generation),
                            sha256=sha256, size_bytes=int(blob.size), retention_class=retention_class,
                            locked_until=until, encryption=meta.get("encryption", "none"), metadata=meta)

    def _find(self, name: str, retention_class: str | None) -> Any:
        """The object's blob with its metadata, or None; one lookup with a class hint, else each class in turn."""
        _check_name(name)
        classes = [retention_class] if retention_class is not None else list(RETENTION_DAYS)
        for klass in classes:
            retention_days(klass, self._retention_days)
            blob = self._bucket(klass).get_blob(object_key(name, klass))
            if blob is not None:
                return blob
        return None

    def stat(self, name: str, retention_class: str | None = None) -> StoredObject | None:
        blob = self._find(name, retention_class)
        return self._stored(blob) if blob is not None else None

    def read(self, name: str, retention_class: str | None = None) -> bytes:
        from google.api_core.exceptions import NotFound as GcsNotFound
        from google.api_core.exceptions import PreconditionFailed
        from google.cloud.storage.exceptions import DataCorruption

        blob = self._find(name, retention_class)
        if blob is None:
            raise NotFound("artifact not found")
        expected = self._stored(blob).sha256
        try:
            # Pinned to the generation whose metadata we hold: bytes and checksums describe one object.
            data = blob.download_as_bytes(checksum="crc32c", if_generation_match=blob.generation)
        except DataCorruption:
            log.warning("artifact failed its CRC32C on download", extra={"artifact": name})
            raise ArtifactCorrupted("artifact bytes failed their CRC32C check", name=name) from None
        except GcsNotFound:
            raise NotFound("artifact not found") from None
        except PreconditionFailed:
            raise ArtifactCorrupted("artifact changed while it was read", name=name) from None
        if hashlib.sha256(data).hexdigest() != expected:
            log.warning("artifact failed its sha256 on download", extra={"artifact": name})
            raise ArtifactCorrupted("artifact bytes do not match their recorded sha256", name=name)
        return data

    # ---- signed URLs ----

    def signed_url(self, name: str, ttl: timedelta, retention_class: str | None = None) -> str | None:
        blob = self._find(name, retention_class)
        if blob is None:
            raise NotFound("artifact not found")
        if (blob.metadata or {}).get("encryption") == "envelope":
            return None
        ttl = min(ttl, MAX_SIGNED_URL_TTL)
        if ttl <= timedelta(0):
            raise ValidationFailed("a signed URL needs a positive lifetime")
        signing = self._signing_kwargs()
        if signing is None:
            return None
        filename = name.rsplit("/", 1)[-1]
        return blob.generate_signed_url(version="v4", expiration=ttl, method="GET", generation=blob.generation,
                                        response_disposition=f'attachment; filename="{filename}"',
                                        api_access_endpoint=self._signed_url_endpoint, **signing)

    def _signing_kwargs(self) -> dict[str, Any] | None:
        """How to sign: a key we hold, else IAM signBlob as the runtime's service account, else not at all."""
        from google.auth import credentials as auth_credentials

        creds = self._signing_credentials or getattr(self._storage(), "_credentials", None)
        if isinstance(creds, auth_credentials.Signing):
            return {"credentials": creds}
        if creds is None or isinstance(creds, auth_credentials.AnonymousCredentials) \
                or not hasattr(creds, "service_account_email"):
            log.warning("cannot sign URLs with these credentials; downloads stream through the API")
            return None
        # Cloud Functions' metadata-server credentials hold no private key: sign through the IAM API
        # (needs roles/iam.serviceAccountTokenCreator on the function's own service account). Refresh
        # first: until then their service_account_email is the placeholder "default".
        if not creds.valid:
            from google.auth.transport.requests import Request

            creds.refresh(Request())
        return {"service_account_email": creds.service_account_email, "access_token": creds.token}
