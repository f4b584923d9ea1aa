"""Local dead-letter sink: one JSON line per parked event, kept (nothing is lost), with its reason."""
from __future__ import annotations

import base64
import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from reporting.logs import get_logger
from reporting.service_layer.ports import DeadLetterSink

log = get_logger(__name__)


class FileDeadLetterSink(DeadLetterSink):
    def __init__(self, directory: Path) -> None:
        self._dir = Path(directory)
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._dir / "dead-letters.jsonl"

    def publish(self, consumer: str, raw: bytes, attributes: Mapping[str, str], reason: str) -> None:
        entry = {"at": datetime.now(timezone.utc).isoformat(), "consumer": consumer, "reason": reason,
                 "attributes": dict(attributes), "data_base64": base64.b64encode(raw).decode("ascii")}
        with self._lock:
            self._dir.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
        log.warning("event dead-lettered", extra={"consumer": consumer, "reason": reason,
                                                  "event_id": attributes.get("event_id")})

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
