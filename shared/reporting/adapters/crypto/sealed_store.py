"""SealedArtifactStore: envelope encryption around any ArtifactStore (plan phase 4).

Operational artifacts are sealed (adapters/crypto/envelope.py) before the inner store sees them;
regulatory ones pass through as they are (CMEK at rest), because they are handed to authorities and may
be downloaded through signed URLs. What callers see is always the plaintext's view: sha256 and size
of the plaintext (users compare downloads with it), `encryption="envelope"`.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Mapping

from reporting.adapters.crypto import envelope
from reporting.domain.artifact import SEALED_CLASSES, ArtifactUnsealFailed, StoredObject
from reporting.domain.errors import ValidationFailed
from reporting.logs import get_logger
from reporting.service_layer.ports import ArtifactStore, KeyWrapper

log = get_logger(__name__)

# Object metadata the sealing store writes through the inner store (with the object, not in the database).
ENCRYPTION = "encryption"
KEK = "kek"
KEK_VERSION = "kek_version"
PLAINTEXT_SHA256 = "plaintext_sha256"
PLAINTEXT_SIZE = "plaintext_size"
OWN_KEYS = frozenset({ENCRYPTION, KEK, KEK_VERSION, PLAINTEXT_SHA256, PLAINTEXT_SIZE})


class SealedArtifactStore(ArtifactStore):
    """Seals `sealed_classes` (operational by default) with a per-object data key wrapped by `wrapper`."""

    def __init__(self, inner: ArtifactStore, wrapper: KeyWrapper, *,
                 sealed_classes: frozenset[str] = SEALED_CLASSES) -> None:
        self._inner = inner
        self._wrapper = wrapper
        self._sealed_classes = sealed_classes

    @property
    def region(self) -> str:
        return self._inner.region

    @property
    def inner(self) -> ArtifactStore:
        """The store holding the sealed bytes (for operations and tests)."""
        return self._inner

    def put_once(self, name: str, data: bytes, retention_class: str, *,
                 metadata: Mapping[str, str] | None = None) -> StoredObject:
        extra = dict(metadata or {})
        if OWN_KEYS & extra.keys():
            raise ValidationFailed("metadata keys reserved for sealing", keys=sorted(OWN_KEYS & extra.keys()))
        if retention_class not in self._sealed_classes:
            return self._inner.put_once(name, data, retention_class, metadata=extra)
        sealed = envelope.seal(name, data, self._wrapper)
        wrapped = envelope.read_header(sealed).wrapped_key
        extra.update({ENCRYPTION: "envelope", KEK: wrapped.key_name, KEK_VERSION: wrapped.key_version or "",
                      PLAINTEXT_SHA256: hashlib.sha256(data).hexdigest(), PLAINTEXT_SIZE: str(len(data))})
        return self._outer(self._inner.put_once(name, sealed, retention_class, metadata=extra))

    @staticmethod
    def _outer(stored: StoredObject) -> StoredObject:
        """The plaintext's view of what the inner store holds."""
        meta = stored.metadata
        if meta.get(ENCRYPTION) != "envelope":
            return stored
        return replace(stored, sha256=meta[PLAINTEXT_SHA256], size_bytes=int(meta[PLAINTEXT_SIZE]),
                       encryption="envelope")

    def stat(self, name: str, retention_class: str | None = None) -> StoredObject | None:
        stored = self._inner.stat(name, retention_class)
        if stored is None:
            return None
        if stored.metadata.get(ENCRYPTION) != "envelope" and stored.retention_class in self._sealed_classes:
            # Metadata lost (a local crash between write and metadata): the object itself says if it is sealed.
            data = self._inner.read(name, retention_class)
            if envelope.is_sealed(data):
                plain = envelope.unseal(name, data, self._wrapper)
                return replace(stored, sha256=hashlib.sha256(plain).hexdigest(), size_bytes=len(plain),
                               encryption="envelope")
        return self._outer(stored)

    def read(self, name: str, retention_class: str | None = None) -> bytes:
        data = self._inner.read(name, retention_class)
        if not envelope.is_sealed(data):
            # Plain: a regulatory artifact, or an operational one stored before sealing was switched on.
            return data
        # The GCM tag authenticates content, header and name: nothing unverified is ever returned.
        try:
            return envelope.unseal(name, data, self._wrapper)
        except ArtifactUnsealFailed as exc:
            log.warning("sealed artifact refused", extra={"artifact": name, "reason": exc.message})
            raise

    def signed_url(self, name: str, ttl: timedelta, retention_class: str | None = None) -> str | None:
        if retention_class is not None and retention_class in self._sealed_classes:
            return None  # sealed bytes are useless to a browser: they stream, decrypted, through the API
        stored = self._inner.stat(name, retention_class)
        if stored is None or stored.metadata.get(ENCRYPTION) == "envelope":
            return None
        return self._inner.signed_url(name, ttl, stored.retention_class)
