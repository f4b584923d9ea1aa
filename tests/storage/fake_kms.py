"""A local fake of Cloud KMS's Encrypt/Decrypt that honestly encrypts, served over real gRPC.

No KMS emulator exists, so this speaks the real wire protocol (google.cloud.kms.v1.KeyManagementService,
the messages of the installed google-cloud-kms) on 127.0.0.1, and the real client talks to it over an
insecure channel. Like the service it: encrypts with AES-256-GCM under the key's primary version and
embeds the version in the ciphertext (so rotations keep old ciphertexts decryptable); binds the
additional authenticated data; checks every *_crc32c the client sends and fills the verified_* and
*_crc32c fields of its answers; answers NOT_FOUND for an unknown key and INVALID_ARGUMENT when a
ciphertext does not authenticate. It records each request so tests can check their shape.
"""
from __future__ import annotations

import os
import struct
import threading
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import google_crc32c
import grpc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.cloud import kms
from google.cloud.kms_v1.services.key_management_service.transports import KeyManagementServiceGrpcTransport

SERVICE = "google.cloud.kms.v1.KeyManagementService"
_VERSION = struct.Struct(">I")


def _crc(data: bytes) -> int:
    return int(google_crc32c.value(data))


@dataclass
class FakeKms:
    keys: dict[str, list[bytes]] = field(default_factory=dict)
    requests: list[tuple[str, Any]] = field(default_factory=list)
    corrupt_next_response: bool = False  # flip a ciphertext/plaintext byte "on the wire", checksum unchanged
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create_key(self, name: str) -> None:
        self.keys[name] = [AESGCM.generate_key(bit_length=256)]

    def rotate(self, name: str) -> None:
        self.keys[name].append(AESGCM.generate_key(bit_length=256))

    def _flip(self, data: bytes) -> bytes:
        if self.corrupt_next_response and data:
            self.corrupt_next_response = False
            return bytes([data[0] ^ 0x01]) + data[1:]
        return data

    def encrypt(self, raw: bytes, context: grpc.ServicerContext) -> bytes:
        request = kms.EncryptRequest.deserialize(raw)
        with self._lock:
            self.requests.append(("Encrypt", request))
            versions = self.keys.get(request.name)
        if versions is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"CryptoKey {request.name} not found.")
        if request.plaintext_crc32c is not None and request.plaintext_crc32c != _crc(request.plaintext):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "plaintext_crc32c did not match plaintext")
        aad = request.additional_authenticated_data
        if request.additional_authenticated_data_crc32c is not None \
                and request.additional_authenticated_data_crc32c != _crc(aad):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "additional_authenticated_data_crc32c mismatch")
        version = len(versions)
        nonce = os.urandom(12)
        ciphertext = _VERSION.pack(version) + nonce + AESGCM(versions[-1]).encrypt(nonce, request.plaintext, aad)
        response = kms.EncryptResponse(
            name=f"{request.name}/cryptoKeyVersions/{version}", ciphertext=self._flip(ciphertext),
            ciphertext_crc32c=_crc(ciphertext),
            verified_plaintext_crc32c=request.plaintext_crc32c is not None,
            verified_additional_authenticated_data_crc32c=request.additional_authenticated_data_crc32c is not None,
            protection_level=kms.ProtectionLevel.SOFTWARE)
        return kms.EncryptResponse.serialize(response)

    def decrypt(self, raw: bytes, context: grpc.ServicerContext) -> bytes:
        request = kms.DecryptRequest.deserialize(raw)
        with self._lock:
            self.requests.append(("Decrypt", request))
            versions = self.keys.get(request.name)
        if versions is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"CryptoKey {request.name} not found.")
        ciphertext, aad = request.ciphertext, request.additional_authenticated_data
        if request.ciphertext_crc32c is not None and request.ciphertext_crc32c != _crc(ciphertext):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "ciphertext_crc32c did not match ciphertext")
        try:
            (version,) = _VERSION.unpack_from(ciphertext)
            key = versions[version - 1] if 1 <= version <= len(versions) else None
            if key is None:
                raise ValueError
            plaintext = AESGCM(key).decrypt(ciphertext[4:16], ciphertext[16:], aad)
        except (InvalidTag, ValueError, struct.error):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Decryption failed: the ciphertext is invalid.")
        response = kms.DecryptResponse(plaintext=self._flip(plaintext), plaintext_crc32c=_crc(plaintext),
                                       used_primary=version == len(versions),
                                       protection_level=kms.ProtectionLevel.SOFTWARE)
        return kms.DecryptResponse.serialize(response)


class FakeKmsServer:
    """FakeKms on a free localhost port; `client()` is the real KeyManagementServiceClient pointed at it."""

    def __init__(self) -> None:
        self.kms = FakeKms()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "Encrypt": grpc.unary_unary_rpc_method_handler(self.kms.encrypt),
            "Decrypt": grpc.unary_unary_rpc_method_handler(self.kms.decrypt)})
        self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    def client(self) -> kms.KeyManagementServiceClient:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        return kms.KeyManagementServiceClient(transport=KeyManagementServiceGrpcTransport(channel=channel))

    def stop(self) -> None:
        self._server.stop(grace=None).wait()
