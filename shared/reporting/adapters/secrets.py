"""Adapter credentials (police API tokens, ZATCA keys): Secret Manager in the cloud, the environment locally.

A `Secret` is read when first needed and kept for a few minutes, so a rotated secret is
picked up without a deploy and a burst of filings does not call Secret Manager each time.
The value never reaches a log or an error message.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

TTL_SECONDS = 300.0


class Secret:
    def __init__(self, *, secret_version: str | None = None, value: str | None = None,
                 client_factory: Callable[[], Any] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if (secret_version is None) == (value is None):
            raise ValueError("a secret is either a Secret Manager version name or a literal value (local only)")
        if secret_version is not None and not secret_version.startswith("projects/"):
            raise ValueError("a Secret Manager name is projects/P/secrets/S/versions/V")
        self._name = secret_version
        self._value = value
        self._client_factory = client_factory
        self._clock = clock
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> str:
        if self._name is None:
            assert self._value is not None
            return self._value
        with self._lock:
            if self._value is None or self._clock() - self._read_at > TTL_SECONDS:
                client = self._client_factory() if self._client_factory else _client()
                response = client.access_secret_version(request={"name": self._name})
                self._value = response.payload.data.decode("utf-8")
                self._read_at = self._clock()
            return self._value

    def __repr__(self) -> str:  # never the value
        return f"Secret({self._name or 'literal'})"


def _client() -> Any:
    from google.cloud import secretmanager  # only the submit path pays for it

    return secretmanager.SecretManagerServiceClient()
