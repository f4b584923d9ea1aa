"""The sealed-artifact format: AES-256-GCM under a per-object data key, the key wrapped by a KeyWrapper.

Layout, version 1:

    MAGIC (8) | version (1) | header length (4, big-endian) | header (JSON, UTF-8) | nonce (12) | ciphertext+tag

The header names the key-encryption key (and version) and carries the wrapped data key. The associated
data of the content cipher is a domain label, the object name and every byte before the nonce, so a
sealed object copied under another name, or with an edited header, fails to open. The data key is
wrapped with the object name as its own associated data, so it cannot be lifted into another object.
"""
from __future__ import annotations

import base64
import json
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from reporting.domain.artifact import ArtifactUnsealFailed
from reporting.service_layer.ports import KeyWrapper, WrappedKey

# A first byte that is not text (like PNG's): no PDF, CSV or HTML starts with it.
MAGIC = b"\x89RSEAL\r\n"
FORMAT_VERSION = 1
ALGORITHM = "AES-256-GCM"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, GCM's native nonce size; a fresh key per object makes reuse impossible anyway
TAG_BYTES = 16
MAX_HEADER_BYTES = 64 * 1024
_PREFIX = struct.Struct(">BI")
_CONTENT_LABEL = b"reporting-artifact/content"
_KEY_LABEL = b"reporting-artifact/data-key"


@dataclass(frozen=True)
class SealedHeader:
    """What a sealed object says about itself (readable without any key)."""

    version: int
    algorithm: str
    wrapped_key: WrappedKey
    nonce: bytes


def is_sealed(blob: bytes) -> bool:
    """True if the bytes are in the sealed format (any version)."""
    return blob.startswith(MAGIC)


def key_context(name: str, version: int = FORMAT_VERSION) -> bytes:
    """Associated data binding a wrapped data key to one object name and format version."""
    return b"\x00".join((_KEY_LABEL, str(version).encode(), name.encode("utf-8")))


def _content_aad(name: str, prefix: bytes) -> bytes:
    return b"\x00".join((_CONTENT_LABEL, name.encode("utf-8"), prefix))


def seal(name: str, plaintext: bytes, wrapper: KeyWrapper) -> bytes:
    """Encrypt `plaintext` for object `name` under a new random data key wrapped by `wrapper`."""
    data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    wrapped = wrapper.wrap(data_key, key_context(name))
    header = json.dumps({"alg": ALGORITHM, "kek": wrapped.key_name, "kek_version": wrapped.key_version,
                         "wrapped_key": base64.b64encode(wrapped.ciphertext).decode("ascii")},
                        separators=(",", ":"), sort_keys=True).encode("utf-8")
    prefix = MAGIC + _PREFIX.pack(FORMAT_VERSION, len(header)) + header
    nonce = os.urandom(NONCE_BYTES)
    return prefix + nonce + AESGCM(data_key).encrypt(nonce, plaintext, _content_aad(name, prefix))


def _split(blob: bytes) -> tuple[SealedHeader, bytes, bytes]:
    """(header, the authenticated prefix, ciphertext+tag); ArtifactUnsealFailed for anything malformed."""
    if not is_sealed(blob):
        raise ArtifactUnsealFailed("not a sealed artifact")
    start = len(MAGIC)
    if len(blob) < start + _PREFIX.size:
        raise ArtifactUnsealFailed("sealed artifact is truncated")
    version, header_len = _PREFIX.unpack_from(blob, start)
    if version != FORMAT_VERSION:
        raise ArtifactUnsealFailed("unsupported sealed format version", version=version)
    body = start + _PREFIX.size
    if header_len > MAX_HEADER_BYTES or len(blob) < body + header_len + NONCE_BYTES + TAG_BYTES:
        raise ArtifactUnsealFailed("sealed artifact is truncated")
    try:
        fields = json.loads(blob[body:body + header_len].decode("utf-8"))
        wrapped = WrappedKey(key_name=str(fields["kek"]), key_version=fields.get("kek_version"),
                             ciphertext=base64.b64decode(fields["wrapped_key"], validate=True))
        algorithm = str(fields["alg"])
    except (ValueError, KeyError, TypeError):
        raise ArtifactUnsealFailed("sealed artifact header is unreadable") from None
    if algorithm != ALGORITHM:
        raise ArtifactUnsealFailed("unsupported sealing algorithm", algorithm=algorithm)
    nonce_at = body + header_len
    nonce = blob[nonce_at:nonce_at + NONCE_BYTES]
    return SealedHeader(version, algorithm, wrapped, nonce), blob[:nonce_at], blob[nonce_at + NONCE_BYTES:]


def read_header(blob: bytes) -> SealedHeader:
    """The header of a sealed object, without opening it."""
    return _split(blob)[0]


def unseal(name: str, blob: bytes, wrapper: KeyWrapper) -> bytes:
    """The plaintext, only after the GCM tag verified; ArtifactUnsealFailed otherwise (never partial bytes)."""
    header, prefix, ciphertext = _split(blob)
    data_key = wrapper.unwrap(header.wrapped_key, key_context(name, header.version))
    if len(data_key) != KEY_BYTES:
        raise ArtifactUnsealFailed("unwrapped data key has the wrong length")
    try:
        return AESGCM(data_key).decrypt(header.nonce, ciphertext, _content_aad(name, prefix))
    except InvalidTag:
        raise ArtifactUnsealFailed("sealed artifact failed authentication (tampered, or another object's bytes)",
                                   name=name) from None
