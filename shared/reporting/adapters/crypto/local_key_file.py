"""A key-encryption key in a local file, for development and the demo (Cloud KMS stands in the cloud)."""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from reporting.domain.artifact import ArtifactKeyUnavailable, ArtifactUnsealFailed
from reporting.service_layer.ports import KeyWrapper, WrappedKey

KEY_BYTES = 32
NONCE_BYTES = 12


class LocalKeyFileWrapper(KeyWrapper):
    """AES-256-GCM key wrapping with 32 random bytes kept in `path`: created 0600 on first use, never before.

    The key's name is a fingerprint of the key, so an object sealed under another key file is told apart
    ("sealed under local-key:…, this store holds local-key:…") instead of failing as tampered."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._key: bytes | None = None
        self._lock = threading.Lock()

    @property
    def key_name(self) -> str:
        return "local-key:" + hashlib.sha256(b"reporting-kek-fingerprint\x00" + self._load()).hexdigest()[:16]

    def _load(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = self._read_or_create()
        return self._key

    def _read_or_create(self) -> bytes:
        if not self._path.exists():
            self._create()
        mode = self._path.stat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            # Like ssh with a private key: a key others can read is not a secret any more.
            raise ArtifactKeyUnavailable("local key file is readable by others (chmod 600 it)", path=str(self._path))
        key = self._path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ArtifactKeyUnavailable("local key file does not hold a 32-byte key", path=str(self._path))
        return key

    def _create(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Write a private temp file, then link it into place: two processes creating the key at once
        # end up sharing one key (link() fails for the loser), and nobody reads a half-written file.
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".kek-")  # mkstemp creates 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(KEY_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self._path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        nonce = os.urandom(NONCE_BYTES)
        return WrappedKey(key_name=self.key_name, key_version=None,
                          ciphertext=nonce + AESGCM(self._load()).encrypt(nonce, data_key, context))

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        if wrapped.key_name != self.key_name:
            raise ArtifactUnsealFailed("artifact was sealed under another key", sealed_under=wrapped.key_name,
                                       this_key=self.key_name)
        nonce, ciphertext = wrapped.ciphertext[:NONCE_BYTES], wrapped.ciphertext[NONCE_BYTES:]
        try:
            return AESGCM(self._load()).decrypt(nonce, ciphertext, context)
        except (InvalidTag, ValueError):
            raise ArtifactUnsealFailed("wrapped data key failed authentication (tampered, or another object's)") \
                from None
