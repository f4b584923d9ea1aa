"""OIDC ID-token verification against trusted issuers' JWKS (SPEC §6).

Every failure is an AuthnRequired (401) with a short fixed reason: never the token, a claim value
or a library message, because the reason reaches the client and the logs.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Literal, Mapping, Sequence

import jwt

from reporting.domain.errors import AuthnRequired
from reporting.domain.principal import Principal, Role
from reporting.logs import get_logger

log = get_logger(__name__)

IssuerKind = Literal["user", "scheduler"]
Fetch = Callable[[str], dict]

# Asymmetric algorithms only, each with the key type (and curve) it must be verified with: pinning the
# pair is what stops algorithm confusion (`none`, or HS256 keyed with a published RSA key).
_KEY_TYPE_FOR_ALG: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None), "RS384": ("RSA", None), "RS512": ("RSA", None),
    "PS256": ("RSA", None), "PS384": ("RSA", None), "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", "Ed25519"),
}
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_MAX_TOKEN_CHARS = 16 * 1024  # real ID tokens are 1-2 KiB; refuse to parse anything far larger
_MAX_JWKS_BYTES = 1024 * 1024
_FETCH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class TrustedIssuer:
    """One issuer we accept tokens from, and what its tokens must carry."""

    issuer: str
    jwks_uri: str
    audiences: tuple[str, ...]
    kind: IssuerKind = "user"
    allowed_emails: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.issuer or not self.audiences or not all(isinstance(a, str) and a for a in self.audiences):
            raise ValueError("a trusted issuer needs an issuer and at least one non-empty audience")
        if self.kind not in ("user", "scheduler"):
            raise ValueError(f"unknown issuer kind {self.kind!r}")
        if self.kind == "scheduler" and not self.allowed_emails:
            raise ValueError(f"scheduler issuer {self.issuer} lists no allowed_emails")
        if self.kind == "user" and self.allowed_emails:
            raise ValueError(f"allowed_emails only applies to scheduler issuers ({self.issuer})")
        uri = urllib.parse.urlsplit(self.jwks_uri)
        # Keys fetched over plain HTTP could be swapped in transit; only the local dev IdP may use it.
        if uri.scheme != "https" and not (uri.scheme == "http" and uri.hostname in _LOOPBACK):
            raise ValueError(f"jwks_uri must be https: {self.jwks_uri}")


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims checked out; `principal` is set for user tokens only."""

    kind: IssuerKind
    issuer: str
    subject: str
    claims: dict[str, Any] = field(hash=False, compare=False)
    principal: Principal | None = None
    email: str | None = None


def issuers_from_json(text: str) -> list[TrustedIssuer]:
    """Parse `REPORTING_OIDC_ISSUERS`: a JSON list of objects with TrustedIssuer's field names."""
    raw = json.loads(text)
    if not isinstance(raw, list):
        raise ValueError("REPORTING_OIDC_ISSUERS must be a JSON list")
    known = {f.name for f in fields(TrustedIssuer)}
    issuers: list[TrustedIssuer] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError("each trusted issuer must be a JSON object")
        unknown = set(item) - known
        if unknown:
            raise ValueError(f"unknown trusted issuer fields: {sorted(unknown)}")
        for name in ("audiences", "allowed_emails"):
            value = item.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name} must be a list of strings")
        issuers.append(TrustedIssuer(
            issuer=item["issuer"], jwks_uri=item["jwks_uri"], audiences=tuple(item.get("audiences", [])),
            kind=item.get("kind", "user"), allowed_emails=tuple(item.get("allowed_emails", [])),
        ))
    if len({i.issuer for i in issuers}) != len(issuers):
        raise ValueError("an issuer is listed twice")
    return issuers


def fetch_json(url: str) -> dict:
    """GET a JSON document with a short timeout (the default JWKS fetch)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=_FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 (https checked)
        body = response.read(_MAX_JWKS_BYTES + 1)
    if len(body) > _MAX_JWKS_BYTES:
        raise ValueError("JWKS document too large")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("JWKS document is not an object")
    return document


class _JwksCache:
    """One issuer's keys by kid. Refetches on TTL or an unknown kid, never more often than the floor."""

    def __init__(self, issuer: TrustedIssuer, fetch: Fetch, clock: Callable[[], float],
                 ttl_seconds: float, min_refresh_interval_seconds: float) -> None:
        self._issuer = issuer
        self._fetch = fetch
        self._clock = clock
        self._ttl = ttl_seconds
        self._floor = min_refresh_interval_seconds
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None   # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        # Held during the fetch on purpose: concurrent requests wait for one refresh instead of each fetching.
        self._lock = threading.Lock()

    def keys_for(self, kid: str | None) -> list[dict[str, Any]]:
        """The JWKs that may have signed a token naming `kid` (all keys when it names none)."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
            unknown = kid is not None and kid not in self._keys
            if (stale or unknown) and self._may_attempt(now):
                self._refresh(now)
            if kid is None:
                return list(self._keys.values())
            return [self._keys[kid]] if kid in self._keys else []

    def _may_attempt(self, now: float) -> bool:
        # The floor also throttles retries after a failed fetch, so a down IdP is not hammered either.
        return self._attempted_at is None or now - self._attempted_at >= self._floor

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            document = self._fetch(self._issuer.jwks_uri)
            keys = _signing_keys(document)
        except Exception as exc:  # noqa: BLE001 (any fetch failure means: keep what we have)
            # Keep serving cached keys (a short IdP outage must not log everyone out); with none cached
            # the caller fails closed. Only the exception type: its text can carry response bodies.
            log.warning("JWKS fetch failed; keeping %d cached keys", len(self._keys),
                        extra={"issuer": self._issuer.issuer, "jwks_uri": self._issuer.jwks_uri,
                               "error_type": type(exc).__name__})
            return
        self._keys = keys
        self._fetched_at = now


def _signing_keys(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Verification keys by kid; encryption keys and symmetric keys are dropped."""
    raw = document.get("keys")
    if not isinstance(raw, list):
        raise ValueError("JWKS has no keys list")
    keys: dict[str, dict[str, Any]] = {}
    for position, jwk in enumerate(raw):
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        if jwk.get("kty") not in {"RSA", "EC", "OKP"}:
            continue  # an "oct" key in a public JWKS would be a secret we must never verify with
        kid = jwk.get("kid")
        keys[kid if isinstance(kid, str) else f"#{position}"] = jwk
    return keys


class OidcVerifier:
    """Verifies OIDC ID tokens from the configured issuers; one per process, safe across threads."""

    def __init__(self, issuers: Sequence[TrustedIssuer], *, algorithms: Sequence[str] = ("RS256", "ES256"),
                 leeway_seconds: float = 30, clock: Callable[[], float] = time.time,
                 fetch: Fetch | None = None, min_refresh_interval_seconds: float = 60,
                 jwks_ttl_seconds: float = 3600) -> None:
        refused = [a for a in algorithms if a not in _KEY_TYPE_FOR_ALG]
        if refused or not algorithms:
            raise ValueError(f"only asymmetric signature algorithms may be pinned, not {refused}")
        self._algorithms = tuple(algorithms)
        self._leeway = leeway_seconds
        self._clock = clock
        self._issuers = {i.issuer: i for i in issuers}
        self._caches = {i.issuer: _JwksCache(i, fetch or fetch_json, clock, jwks_ttl_seconds,
                                             min_refresh_interval_seconds) for i in issuers}
        # token → (claims, result, verified at): a front end sends the same ID token for up to an
        # hour, and pyjwt's decode costs ~0.4 ms a call. A hit re-checks the time claims; an entry
        # lives at most VERIFIED_TTL_SECONDS, well under the JWKS cache's own hour.
        self._verified: dict[str, tuple[Mapping[str, Any], VerifiedToken, float]] = {}

    VERIFIED_TTL_SECONDS = 300
    VERIFIED_MAX_ENTRIES = 4096

    def verify(self, token: str) -> VerifiedToken:
        """Return the verified token or raise AuthnRequired with a short reason."""
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_CHARS:
            raise AuthnRequired("malformed token")
        hit = self._verified.get(token)
        if hit is not None and self._clock() - hit[2] < self.VERIFIED_TTL_SECONDS:
            self._check_times(hit[0])
            return hit[1]
        claims, result = self._verify_signed(token)
        if len(self._verified) >= self.VERIFIED_MAX_ENTRIES:
            self._verified.clear()  # crude but bounded; refilling costs one decode per live token
        self._verified[token] = (claims, result, self._clock())
        return result

    def _verify_signed(self, token: str) -> tuple[Mapping[str, Any], VerifiedToken]:
        header, issuer = self._inspect_unverified(token)
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise AuthnRequired("algorithm not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthnRequired("malformed token")
        published = self._caches[issuer.issuer].keys_for(kid)
        if not published:
            raise AuthnRequired("signing key not found")
        candidates = [k for k in published if _key_fits(k, alg)]
        if not candidates:
            raise AuthnRequired("algorithm does not match key")
        if kid is None and len(candidates) > 1:
            raise AuthnRequired("token names no signing key")  # guessing among keys would weaken rotation
        claims = self._decode(token, candidates[0], alg, issuer)
        self._check_times(claims)
        if issuer.kind == "scheduler":
            return claims, _scheduler_token(issuer, claims)
        return claims, _user_token(issuer, claims)

    def _inspect_unverified(self, token: str) -> tuple[dict[str, Any], TrustedIssuer]:
        # Read unverified only to choose the issuer and key; nothing here is trusted until the signature checks.
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthnRequired("malformed token") from None
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthnRequired("untrusted issuer")
        return header, issuer

    def _decode(self, token: str, jwk: dict[str, Any], alg: str, issuer: TrustedIssuer) -> dict[str, Any]:
        required = ["iss", "aud", "exp", "iat", "sub"]
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            return jwt.decode(
                token, key=key, algorithms=[alg], audience=list(issuer.audiences), issuer=issuer.issuer,
                # Time claims are checked below against the injected clock.
                options={"require": required, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "verify_aud": True, "verify_iss": True, "verify_signature": True},
            )
        except jwt.InvalidSignatureError:
            raise AuthnRequired("signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthnRequired(f"missing claim {exc.claim}") from None
        except jwt.InvalidAudienceError:
            raise AuthnRequired("audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthnRequired("untrusted issuer") from None
        except jwt.InvalidAlgorithmError:
            raise AuthnRequired("algorithm not allowed") from None
        except (jwt.InvalidKeyError, jwt.PyJWKError):
            raise AuthnRequired("signing key unusable") from None
        except jwt.DecodeError:
            raise AuthnRequired("malformed token") from None
        except jwt.PyJWTError:
            raise AuthnRequired("token rejected") from None

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._clock()
        exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf")
        for value in (exp, iat) + ((nbf,) if nbf is not None else ()):
            if not _is_number(value):
                raise AuthnRequired("malformed time claim")
        if exp <= now - self._leeway:
            raise AuthnRequired("token expired")
        if nbf is not None and nbf > now + self._leeway:
            raise AuthnRequired("token not yet valid")
        if iat > now + self._leeway:
            raise AuthnRequired("token issued in the future")


def _key_fits(jwk: Mapping[str, Any], alg: str) -> bool:
    """The key may verify `alg`: same key type and curve, and the key's own `alg`, if it pins one, agrees."""
    kty, crv = _KEY_TYPE_FOR_ALG[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv", crv) != crv):
        return False
    return jwk.get("alg") in (None, alg)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scheduler_token(issuer: TrustedIssuer, claims: dict[str, Any]) -> VerifiedToken:
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise AuthnRequired("missing claim email")
    if claims.get("email_verified") is not True:
        raise AuthnRequired("email not verified")
    if email.lower() not in {e.lower() for e in issuer.allowed_emails}:
        raise AuthnRequired("scheduler identity not allowed")
    return VerifiedToken(kind="scheduler", issuer=issuer.issuer, subject=str(claims["sub"]), claims=claims,
                         email=email)


def _user_token(issuer: TrustedIssuer, claims: dict[str, Any]) -> VerifiedToken:
    if "tenant_id" not in claims:
        raise AuthnRequired("missing claim tenant_id")
    tenant_id = _canonical_uuid(claims["tenant_id"])
    if tenant_id is None:
        raise AuthnRequired("tenant_id is not a uuid")
    principal = Principal(
        subject=str(claims["sub"]), tenant_id=tenant_id, roles=_roles(claims),
        property_ids=_property_ids(claims), issuer=issuer.issuer,
        email=claims["email"] if isinstance(claims.get("email"), str) else None,
    )
    return VerifiedToken(kind="user", issuer=issuer.issuer, subject=principal.subject, claims=claims,
                         principal=principal, email=principal.email)


def _roles(claims: Mapping[str, Any]) -> frozenset[Role]:
    if "roles" not in claims:
        raise AuthnRequired("missing claim roles")
    raw = claims["roles"]
    if not isinstance(raw, list) or not raw or not all(isinstance(r, str) for r in raw):
        raise AuthnRequired("roles must be a non-empty list")
    try:
        return frozenset(Role(r) for r in raw)
    except ValueError:
        raise AuthnRequired("roles names an unknown role") from None


def _property_ids(claims: Mapping[str, Any]) -> frozenset[str] | None:
    if "property_ids" not in claims:
        return None  # no restriction: every hotel of the tenant
    raw = claims["property_ids"]
    ids = [_canonical_uuid(p) for p in raw] if isinstance(raw, list) else [None]
    if any(p is None for p in ids):
        raise AuthnRequired("property_ids must be a list of uuids")
    # An empty list means no hotel at all, not all of them: fail closed.
    return frozenset(p for p in ids if p is not None)


def _canonical_uuid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class RefuseAll:
    """The verifier of a deployment with no trusted issuer configured: it fails closed."""

    def verify(self, token: str) -> VerifiedToken:
        raise AuthnRequired("no trusted token issuer is configured for this deployment")
