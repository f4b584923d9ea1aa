"""A local identity provider: real RSA keys, real signed ID tokens and a JWKS served over HTTP.

Used by `make serve` and the tests so the request function verifies exactly as in the cloud.
Keys live in memory only; never point a deployed verifier at it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Mapping

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

_ALG = "RS256"


@dataclass(frozen=True)
class _SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    public_jwk: dict[str, Any]


def _new_key() -> _SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    # RFC 7638 thumbprint, shortened: stable for the key, distinct across keys.
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")[:16]
    return _SigningKey(kid, private_key, {**jwk, "kid": kid, "alg": _ALG, "use": "sig"})


class DevIdentityProvider:
    """Signs ID tokens with in-memory keys; `serve()` publishes the keys like a real IdP."""

    def __init__(self, issuer: str | None = None) -> None:
        self.issuer = issuer  # set by serve() from the bound port when not given
        self._keys = [_new_key()]
        self._lock = threading.Lock()

    @property
    def kid(self) -> str:
        """The kid tokens are signed with now."""
        return self._keys[-1].kid

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [dict(k.public_jwk) for k in self._keys]}

    def rotate(self) -> str:
        """Add a key and sign with it from now on; the old key stays published. Returns the new kid."""
        key = _new_key()
        with self._lock:
            self._keys.append(key)
        return key.kid

    def issue(self, tenant_id: str, roles: Iterable[str], *, audience: str,
              property_ids: Iterable[str] | None = None, subject: str = "dev-user", email: str | None = None,
              ttl_seconds: int = 3600, now: float | None = None, extra_claims: Mapping[str, Any] | None = None,
              kid: str | None = None, headers: Mapping[str, Any] | None = None) -> str:
        """A user ID token as the platform IdP would issue it; `extra_claims` override or add claims."""
        claims: dict[str, Any] = {"tenant_id": tenant_id, "roles": [str(r) for r in roles]}
        if property_ids is not None:
            claims["property_ids"] = list(property_ids)
        if email is not None:
            claims["email"] = email
        return self._sign(subject, audience, claims, ttl_seconds, now, extra_claims, kid, headers)

    def issue_scheduler(self, email: str, audience: str, *, email_verified: bool = True, ttl_seconds: int = 3600,
                        now: float | None = None, extra_claims: Mapping[str, Any] | None = None,
                        kid: str | None = None, headers: Mapping[str, Any] | None = None) -> str:
        """A token shaped like Google's for a Cloud Scheduler service account."""
        subject = str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16))  # Google's subs are numeric
        claims = {"email": email, "email_verified": email_verified, "azp": subject}
        return self._sign(subject, audience, claims, ttl_seconds, now, extra_claims, kid, headers)

    def sign(self, payload: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        """Sign an arbitrary payload with the current key (tests forging tokens issue() would not make)."""
        key = self._keys[-1]
        return jwt.encode(dict(payload), key.private_key, algorithm=_ALG, headers={"kid": key.kid, **(headers or {})})

    def sign_bytes(self, data: bytes) -> bytes:
        """A raw RS256 signature over `data`, for hand-built tokens with misleading headers."""
        return self._keys[-1].private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> JwksServer:
        """Start serving discovery and JWKS on a daemon thread."""
        return JwksServer(self, host, port)

    def _sign(self, subject: str, audience: str, claims: dict[str, Any], ttl_seconds: int, now: float | None,
              extra_claims: Mapping[str, Any] | None, kid: str | None, headers: Mapping[str, Any] | None) -> str:
        if self.issuer is None:
            raise RuntimeError("give the provider an issuer or call serve() before issuing tokens")
        issued_at = int(time.time() if now is None else now)
        payload: dict[str, Any] = {"iss": self.issuer, "sub": subject, "aud": audience, "iat": issued_at,
                                   "nbf": issued_at, "exp": issued_at + ttl_seconds, **claims, **(extra_claims or {})}
        return self.sign(payload, headers={**({"kid": kid} if kid else {}), **(headers or {})})


class JwksServer:
    """`/.well-known/openid-configuration` and `/jwks.json` on localhost; use as a context manager."""

    def __init__(self, provider: DevIdentityProvider, host: str, port: int) -> None:
        self.provider = provider
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(provider, self))
        self._httpd.daemon_threads = True
        bound_host, bound_port = self._httpd.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        if provider.issuer is None:
            provider.issuer = self.url
        self.issuer: str = provider.issuer
        self.jwks_uri = f"{self.url}/jwks.json"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="dev-jwks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> JwksServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(provider: DevIdentityProvider, server: JwksServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": server.issuer, "jwks_uri": server.jwks_uri,
                        "id_token_signing_alg_values_supported": [_ALG],
                        "response_types_supported": ["id_token"], "subject_types_supported": ["public"]}
            elif self.path == "/jwks.json":
                body = provider.jwks()
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test and `make serve` output free of access lines

    return Handler
