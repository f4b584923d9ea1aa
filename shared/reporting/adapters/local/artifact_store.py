"""Local filesystem artifact store for `make demo` and development: write-once, like the GCS bucket."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from reporting.domain.artifact import ArtifactCorrupted, StoredObject, locked_until, retention_days
from reporting.domain.errors import ArtifactExists, NotFound, ValidationFailed
from reporting.service_layer.ports import ArtifactStore


class LocalArtifactStore(ArtifactStore):
    """Objects under `root/<name>`, metadata beside them in `<name>.meta.json`.

    `retention_days` overrides the class defaults for objects written from now on; an object's lock
    is recorded when it is written and never recomputed."""

    def __init__(self, root: Path, region: str = "local", *,
                 retention_days: Mapping[str, int] | None = None) -> None:
        self._root = Path(root).resolve()
        self._region = region
        self._retention_days = dict(retention_days or {})

    @property
    def region(self) -> str:
        return self._region

    def path_for(self, name: str) -> Path:
        path = (self._root / name).resolve()
        if self._root not in path.parents or name.endswith(".meta.json"):
            raise ValidationFailed("artifact name escapes the store", name=name)
        return path

    def put_once(self, name: str, data: bytes, retention_class: str, *,
                 metadata: Mapping[str, str] | None = None) -> StoredObject:
        path = self.path_for(name)
        retention_days(retention_class, self._retention_days)  # refuse an unknown class before any write
        now = datetime.now(timezone.utc)
        digest = hashlib.sha256(data).hexdigest()
        meta: dict[str, Any] = {"sha256": digest, "size_bytes": len(data), "retention_class": retention_class,
                                "locked_until": locked_until(retention_class, now, self._retention_days).isoformat(),
                                "stored_at": now.isoformat(), "metadata": dict(metadata or {})}
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a temp file, then hard-link it into place: link() fails if the name
        # exists, so exactly one writer wins even when two race, and no reader ever
        # sees a half-written file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ArtifactExists("artifact already stored under this name", name=name) from None
            # Only the winner writes metadata, so it always describes the stored bytes.
            Path(str(path) + ".meta.json").write_text(json.dumps(meta), encoding="utf-8")
        finally:
            os.unlink(tmp)
        os.chmod(path, 0o444)
        return self._stored(path, meta)

    def _stored(self, path: Path, meta: dict[str, Any]) -> StoredObject:
        extra = {str(k): str(v) for k, v in (meta.get("metadata") or {}).items()}
        return StoredObject(uri=path.as_uri(), generation=path.stat().st_mtime_ns, sha256=meta["sha256"],
                            size_bytes=meta["size_bytes"], retention_class=meta["retention_class"],
                            locked_until=datetime.fromisoformat(meta["locked_until"]),
                            encryption=extra.get("encryption", "none"), metadata=extra)

    def stat(self, name: str, retention_class: str | None = None) -> StoredObject | None:
        path = self.path_for(name)
        meta_path = Path(str(path) + ".meta.json")
        if not path.exists():
            return None
        if meta_path.exists():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        else:  # metadata lost (crash between link and meta write): rebuild it from the object
            data = path.read_bytes()
            # The crash happened right after the write, so its time is the best guess for the lock's start.
            written = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            klass = retention_class or "operational"
            meta = {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data), "retention_class": klass,
                    "locked_until": locked_until(klass, written, self._retention_days).isoformat()}
        return self._stored(path, meta)

    def read(self, name: str, retention_class: str | None = None) -> bytes:
        path = self.path_for(name)
        if not path.exists():
            raise NotFound("artifact not found")
        data = path.read_bytes()
        meta_path = Path(str(path) + ".meta.json")
        if meta_path.exists():
            expected = json.loads(meta_path.read_text(encoding="utf-8"))["sha256"]
            if hashlib.sha256(data).hexdigest() != expected:
                raise ArtifactCorrupted("stored artifact does not match its sha256", name=name)
        return data
