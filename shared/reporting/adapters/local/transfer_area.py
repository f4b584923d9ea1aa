"""Local transfer area: a directory standing in for the target residency's transfer bucket."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reporting.domain.errors import NotFound, ValidationFailed
from reporting.service_layer.transfer import TransferArea


class LocalTransferArea(TransferArea):
    def __init__(self, root: Path) -> None:
        self._root = Path(root).resolve()

    def _path(self, name: str) -> Path:
        path = (self._root / name).resolve()
        if self._root not in path.parents:
            raise ValidationFailed("transfer file name escapes the transfer area", name=name)
        return path

    def write(self, name: str, data: bytes) -> str:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Temp file + rename: a crash never leaves a half-written file under the real name.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        return path.as_uri()

    def read(self, name: str) -> bytes:
        path = self._path(name)
        if not path.is_file():
            raise NotFound("transfer file not found", name=name)
        return path.read_bytes()

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()
