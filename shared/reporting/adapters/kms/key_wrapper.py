"""CloudKmsKeyWrapper: data keys wrapped by the residency's Cloud KMS key (REPORTING_ARTIFACT_KEK).

Every call carries CRC32C checksums both ways and checks KMS's answers, as Google's samples do: a bit
flipped on the wire is caught instead of sealing an artifact nobody can open again. The wrapped key is
bound to its object through KMS's additional authenticated data.
"""
from __future__ import annotations

import re
import threading
from typing import Any, Callable

import google_crc32c

from reporting.domain.artifact import ArtifactKeyUnavailable, ArtifactUnsealFailed
from reporting.domain.errors import ValidationFailed
from reporting.service_layer.ports import KeyWrapper, WrappedKey

KEY_NAME = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
TIMEOUT_SECONDS = 10.0


def crc32c(data: bytes) -> int:
    """CRC32C as KMS's *_crc32c fields carry it."""
    return int(google_crc32c.value(data))


class CloudKmsKeyWrapper(KeyWrapper):
    """Wrap with the key's primary version; unwrap with whichever version wrapped (KMS reads it from the ciphertext)."""

    def __init__(self, key_name: str, *, client_factory: Callable[[], Any] | None = None,
                 timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        if not KEY_NAME.match(key_name):
            raise ValidationFailed("REPORTING_ARTIFACT_KEK must be projects/…/locations/…/keyRings/…/cryptoKeys/…",
                                   key_name=key_name)
        self._key_name = key_name
        self._client_factory = client_factory
        self._timeout = timeout_seconds
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def key_name(self) -> str:
        return self._key_name

    def _kms(self) -> Any:
        if self._client is None:  # built on first use: the request path pays for it only on a download
            with self._lock:
                if self._client is None:
                    if self._client_factory is not None:
                        self._client = self._client_factory()
                    else:
                        from google.cloud import kms

                        self._client = kms.KeyManagementServiceClient()
        return self._client

    def _call_options(self) -> dict[str, Any]:
        """Bounded: a KMS outage fails a download within the timeout instead of the client's 60 s default."""
        from google.api_core import exceptions, retry

        return {"timeout": self._timeout, "retry": retry.Retry(
            predicate=retry.if_exception_type(exceptions.ServiceUnavailable, exceptions.DeadlineExceeded),
            initial=0.1, maximum=1.0, multiplier=2.0, timeout=self._timeout)}

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        from google.api_core import exceptions

        try:
            response = self._kms().encrypt(request={
                "name": self._key_name, "plaintext": data_key, "plaintext_crc32c": crc32c(data_key),
                "additional_authenticated_data": context,
                "additional_authenticated_data_crc32c": crc32c(context)}, **self._call_options())
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as exc:
            raise ArtifactKeyUnavailable("Cloud KMS refused to wrap a data key", status=type(exc).__name__) from None
        if not response.verified_plaintext_crc32c or not response.verified_additional_authenticated_data_crc32c:
            raise ArtifactKeyUnavailable("Cloud KMS did not verify the request's checksums (corrupted on the way)")
        if response.ciphertext_crc32c != crc32c(response.ciphertext):
            raise ArtifactKeyUnavailable("Cloud KMS response failed its checksum (corrupted on the way)")
        # response.name is the key version that wrapped: recorded so rotations stay traceable.
        return WrappedKey(key_name=self._key_name, key_version=response.name or None,
                          ciphertext=bytes(response.ciphertext))

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        from google.api_core import exceptions

        if wrapped.key_name != self._key_name:
            raise ArtifactUnsealFailed("artifact was sealed under another key", sealed_under=wrapped.key_name,
                                       this_key=self._key_name)
        try:
            response = self._kms().decrypt(request={
                "name": self._key_name, "ciphertext": wrapped.ciphertext,
                "ciphertext_crc32c": crc32c(wrapped.ciphertext), "additional_authenticated_data": context,
                "additional_authenticated_data_crc32c": crc32c(context)}, **self._call_options())
        except exceptions.InvalidArgument:
            # KMS answers INVALID_ARGUMENT when the ciphertext or its associated data do not authenticate.
            raise ArtifactUnsealFailed("Cloud KMS could not unwrap the data key (tampered, or another object's)") \
                from None
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as exc:
            raise ArtifactKeyUnavailable("Cloud KMS refused to unwrap a data key", status=type(exc).__name__) \
                from None
        if response.plaintext_crc32c != crc32c(response.plaintext):
            raise ArtifactKeyUnavailable("Cloud KMS response failed its checksum (corrupted on the way)")
        return bytes(response.plaintext)
