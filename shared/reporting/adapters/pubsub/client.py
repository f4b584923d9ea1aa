"""Pub/Sub clients, created on first use (cold start matters; importing the library alone costs ~0.3 s).

`PUBSUB_EMULATOR_HOST` is honoured by the client library itself: tests and local
runs point it at the emulator, the cloud leaves it unset.
"""
from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_publishers: dict[bool, Any] = {}


def publisher_client(*, ordered: bool = True) -> Any:
    """One PublisherClient per process (it batches and holds a gRPC channel); ordering on for relays."""
    with _lock:
        if ordered not in _publishers:
            from google.cloud import pubsub_v1

            options = pubsub_v1.types.PublisherOptions(enable_message_ordering=ordered)
            _publishers[ordered] = pubsub_v1.PublisherClient(publisher_options=options)
        return _publishers[ordered]


def reset_clients() -> None:
    """Forget cached clients (tests that restart the emulator; a forked worker)."""
    with _lock:
        _publishers.clear()
