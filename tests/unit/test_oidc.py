"""OIDC ID-token verification with real keys and a real localhost JWKS server (SPEC §6)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from reporting.adapters.auth.oidc import (OidcVerifier, TrustedIssuer, VerifiedToken, fetch_json,
                                          issuers_from_json)
from reporting.devenv.tokens import DevIdentityProvider, JwksServer
from reporting.domain.errors import AuthnRequired, AuthzDenied
from reporting.domain.principal import Principal, Role

AUDIENCE = "https://reporting.example.test/api"
SCHEDULER_EMAIL = "scheduler@melmastoon-af.iam.gserviceaccount.com"
TENANT = str(uuid.uuid4())
HOTEL_A, HOTEL_B = str(uuid.uuid4()), str(uuid.uuid4())


class Clock:
    """A settable clock shared by the verifier (cache timing, exp) and the token issuer."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingFetch:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> dict:
        self.urls.append(url)
        return fetch_json(url)


@pytest.fixture(scope="module")
def idp_server() -> Iterator[tuple[DevIdentityProvider, JwksServer]]:
    idp = DevIdentityProvider()
    with idp.serve() as server:
        yield idp, server


@pytest.fixture
def idp(idp_server: tuple[DevIdentityProvider, JwksServer]) -> DevIdentityProvider:
    return idp_server[0]


@pytest.fixture
def trusted(idp_server: tuple[DevIdentityProvider, JwksServer]) -> TrustedIssuer:
    server = idp_server[1]
    return TrustedIssuer(issuer=server.issuer, jwks_uri=server.jwks_uri, audiences=(AUDIENCE, "other-audience"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fetch() -> CountingFetch:
    return CountingFetch()


@pytest.fixture
def verifier(trusted: TrustedIssuer, clock: Clock, fetch: CountingFetch) -> OidcVerifier:
    return OidcVerifier([trusted], clock=clock, fetch=fetch)


def user_token(idp: DevIdentityProvider, clock: Clock, **overrides: Any) -> str:
    kwargs: dict[str, Any] = dict(tenant_id=TENANT, roles=["operator"], audience=AUDIENCE, now=clock.now)
    kwargs.update(overrides)
    return idp.issue(**kwargs)


def rejected(verifier: OidcVerifier, token: str) -> AuthnRequired:
    with pytest.raises(AuthnRequired) as caught:
        verifier.verify(token)
    error = caught.value
    assert error.http_status == 401 and error.code == "MELMASTOON.IAM.AUTHN_REQUIRED"
    _assert_no_token_material(error, token)
    return error


def _assert_no_token_material(error: AuthnRequired, token: str) -> None:
    text = f"{error} {error.message} {error.details}"
    for part in token.split("."):
        if len(part) >= 8:
            assert part not in text
    assert TENANT not in text and SCHEDULER_EMAIL not in text and "@" not in text
    # No chained library exception either: its text could quote the token or a claim.
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def handmade(header: dict[str, Any], payload: dict[str, Any], sign: Any = None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{b64(signature)}"


# --- the happy paths ---------------------------------------------------------------------------------------

def test_valid_user_token_yields_a_principal_with_roles_and_properties(idp, clock, verifier, trusted):
    token = user_token(idp, clock, roles=["viewer", "operator"], property_ids=[HOTEL_A.upper(), HOTEL_B],
                       subject="user-42", email="night.auditor@hotel.example")

    verified = verifier.verify(token)

    assert isinstance(verified, VerifiedToken) and verified.kind == "user"
    principal = verified.principal
    assert principal == Principal(subject="user-42", tenant_id=TENANT, roles=frozenset({Role.VIEWER, Role.OPERATOR}),
                                  property_ids=frozenset({HOTEL_A, HOTEL_B}), issuer=trusted.issuer,
                                  email="night.auditor@hotel.example")
    assert principal.may_access_property(HOTEL_A) and not principal.may_access_property(str(uuid.uuid4()))


def test_a_token_without_property_ids_reaches_every_hotel(idp, clock, verifier):
    principal = verifier.verify(user_token(idp, clock)).principal
    assert principal is not None and principal.property_ids is None
    assert principal.may_access_property(str(uuid.uuid4()))


def test_an_empty_property_list_reaches_no_hotel(idp, clock, verifier):
    principal = verifier.verify(user_token(idp, clock, property_ids=[])).principal
    assert principal is not None and not principal.may_access_property(HOTEL_A)


def test_any_of_the_issuers_audiences_is_accepted(idp, clock, verifier):
    assert verifier.verify(user_token(idp, clock, audience="other-audience")).kind == "user"


def test_leeway_tolerates_small_clock_skew(idp, clock, verifier):
    token = user_token(idp, clock, ttl_seconds=60)
    clock.advance(60 + 20)
    assert verifier.verify(token).kind == "user"


# --- time, audience, issuer ---------------------------------------------------------------------------------

def test_expired_token_is_rejected(idp, clock, verifier):
    token = user_token(idp, clock, ttl_seconds=60)
    clock.advance(60 + 31)
    assert rejected(verifier, token).message == "token expired"


def test_a_token_verified_once_is_still_refused_once_it_expires(idp, clock, verifier):
    token = user_token(idp, clock, ttl_seconds=60)
    assert verifier.verify(token).kind == "user"  # now cached
    clock.advance(60 + 31)
    assert rejected(verifier, token).message == "token expired"


def test_a_repeated_token_is_verified_once_then_again_after_the_cache_ttl(idp, clock, verifier, monkeypatch):
    decodes = []
    real_decode = verifier._decode
    monkeypatch.setattr(verifier, "_decode", lambda *a: decodes.append(1) or real_decode(*a))
    token = user_token(idp, clock, ttl_seconds=3600)
    first = verifier.verify(token)
    assert verifier.verify(token) == first and len(decodes) == 1
    clock.advance(OidcVerifier.VERIFIED_TTL_SECONDS)
    assert verifier.verify(token) == first and len(decodes) == 2  # signature and keys checked afresh


def test_a_tampered_copy_of_a_cached_token_is_not_a_cache_hit(idp, clock, verifier):
    token = user_token(idp, clock)
    verifier.verify(token)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    assert rejected(verifier, f"{header}.{b64(json.dumps(claims).encode())}.{signature}").message == \
        "signature does not verify"


def test_token_not_yet_valid_is_rejected(idp, clock, verifier):
    token = user_token(idp, clock, extra_claims={"nbf": clock.now + 600})
    assert rejected(verifier, token).message == "token not yet valid"


def test_token_issued_in_the_future_is_rejected(idp, clock, verifier):
    token = user_token(idp, clock, now=clock.now + 600)
    assert rejected(verifier, token).message in {"token not yet valid", "token issued in the future"}


def test_wrong_audience_is_rejected(idp, clock, verifier):
    token = user_token(idp, clock, audience="https://someone-else.example/api")
    assert rejected(verifier, token).message == "audience not accepted"


def test_missing_exp_is_rejected(idp, clock, verifier):
    token = handmade_signed(idp, {"iss": idp.issuer, "sub": "u", "aud": AUDIENCE, "iat": int(clock.now),
                                  "tenant_id": TENANT, "roles": ["viewer"]})
    assert rejected(verifier, token).message == "missing claim exp"


def handmade_signed(idp: DevIdentityProvider, payload: dict[str, Any]) -> str:
    """A token signed with the IdP's real key but with a payload issue() would not produce."""
    return idp.sign(payload)


def test_unknown_issuer_is_rejected_without_fetching(idp, clock, verifier, fetch):
    token = user_token(idp, clock, extra_claims={"iss": "https://evil.example"})
    assert rejected(verifier, token).message == "untrusted issuer"
    assert fetch.urls == []


def test_an_untrusted_key_claiming_the_trusted_issuer_fails_the_signature(idp, clock, verifier):
    impostor = DevIdentityProvider(issuer=idp.issuer)
    # Same kid as the real IdP, so the verifier picks the real key: only the signature can tell.
    forged = impostor.issue(TENANT, ["admin"], audience=AUDIENCE, now=clock.now, kid=idp.kid)
    assert rejected(verifier, forged).message == "signature does not verify"
    # With its own kid the key is simply not published by the trusted issuer.
    assert rejected(verifier, impostor.issue(TENANT, ["admin"], audience=AUDIENCE, now=clock.now)).message \
        == "signing key not found"


def test_tampered_payload_is_rejected(idp, clock, verifier):
    header, payload, signature = user_token(idp, clock, roles=["viewer"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    tampered = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert rejected(verifier, tampered).message == "signature does not verify"


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "x" * 20000])
def test_garbage_is_rejected_as_malformed(verifier, garbage):
    assert rejected(verifier, garbage).message == "malformed token"


# --- algorithm confusion -------------------------------------------------------------------------------------

def test_alg_none_is_rejected(idp, clock, verifier):
    payload = jwt.decode(user_token(idp, clock), options={"verify_signature": False})
    token = handmade({"alg": "none", "typ": "JWT", "kid": idp.kid}, payload)
    assert rejected(verifier, token).message == "algorithm not allowed"


def test_hs256_keyed_with_the_published_public_key_is_rejected(idp, clock, verifier):
    jwk = idp.jwks()["keys"][-1]
    public_pem = jwt.PyJWK(jwk).key.public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    payload = jwt.decode(user_token(idp, clock, roles=["admin"]), options={"verify_signature": False})
    token = handmade({"alg": "HS256", "typ": "JWT", "kid": idp.kid}, payload,
                     sign=lambda data: hmac.new(public_pem, data, hashlib.sha256).digest())
    assert rejected(verifier, token).message == "algorithm not allowed"


def test_an_allowed_alg_that_does_not_match_the_key_type_is_rejected(idp, clock, verifier):
    # ES256 is pinned, but the published key under this kid is RSA.
    payload = jwt.decode(user_token(idp, clock), options={"verify_signature": False})
    token = handmade({"alg": "ES256", "typ": "JWT", "kid": idp.kid}, payload,
                     sign=idp.sign_bytes)
    assert rejected(verifier, token).message == "algorithm does not match key"


@pytest.mark.parametrize("algorithms", [("none",), ("HS256",), ("RS256", "HS512"), ()])
def test_symmetric_or_none_algorithms_cannot_be_pinned(trusted, algorithms):
    with pytest.raises(ValueError):
        OidcVerifier([trusted], algorithms=algorithms)


# --- required claims ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("claims, reason", [
    ({"tenant_id": None}, "missing claim tenant_id"),
    ({"roles": None}, "missing claim roles"),
    ({"roles": ["viewer", "superuser"]}, "roles names an unknown role"),
    ({"roles": []}, "roles must be a non-empty list"),
    ({"roles": "admin"}, "roles must be a non-empty list"),
    ({"tenant_id": "tenant-1"}, "tenant_id is not a uuid"),
    ({"property_ids": ["hotel-1"]}, "property_ids must be a list of uuids"),
])
def test_user_claims_are_required_and_checked(idp, clock, verifier, claims, reason):
    base = jwt.decode(user_token(idp, clock), options={"verify_signature": False})
    for name, value in claims.items():
        if value is None:
            base.pop(name)
        else:
            base[name] = value
    assert rejected(verifier, handmade_signed(idp, base)).message == reason


# --- the JWKS cache ----------------------------------------------------------------------------------------------

def test_keys_are_fetched_once_and_cached(idp, clock, verifier, fetch):
    for _ in range(5):
        verifier.verify(user_token(idp, clock))
    assert len(fetch.urls) == 1


def test_keys_are_refetched_after_the_ttl(idp, clock, verifier, fetch):
    verifier.verify(user_token(idp, clock))
    clock.advance(3600)
    verifier.verify(user_token(idp, clock))
    assert len(fetch.urls) == 2


def test_a_rotated_key_is_fetched_once_and_accepted(clock, fetch):
    idp = DevIdentityProvider()
    with idp.serve() as server:
        issuer = TrustedIssuer(issuer=server.issuer, jwks_uri=server.jwks_uri, audiences=(AUDIENCE,))
        verifier = OidcVerifier([issuer], clock=clock, fetch=fetch)
        verifier.verify(user_token(idp, clock))
        assert len(fetch.urls) == 1

        new_kid = idp.rotate()
        clock.advance(61)
        rotated = user_token(idp, clock)
        assert jwt.get_unverified_header(rotated)["kid"] == new_kid
        assert verifier.verify(rotated).kind == "user"
        assert verifier.verify(user_token(idp, clock)).kind == "user"
        assert len(fetch.urls) == 2


def test_a_flood_of_unknown_kids_fetches_at_most_once_per_interval(idp, clock, verifier, fetch):
    verifier.verify(user_token(idp, clock))
    for _ in range(50):
        token = user_token(idp, clock, kid=uuid.uuid4().hex)
        assert rejected(verifier, token).message == "signing key not found"
        clock.advance(0.5)
    assert len(fetch.urls) == 1  # 25 s of flood, inside one 60 s interval
    clock.advance(60)
    for _ in range(20):
        rejected(verifier, user_token(idp, clock, kid=uuid.uuid4().hex))
    assert len(fetch.urls) == 2


def test_concurrent_first_requests_share_one_fetch(idp, clock, verifier, fetch):
    tokens = [user_token(idp, clock) for _ in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        kinds = list(pool.map(lambda t: verifier.verify(t).kind, tokens))
    assert kinds == ["user"] * 16 and len(fetch.urls) == 1


def test_jwks_server_down_with_nothing_cached_fails_closed(clock, caplog):
    idp = DevIdentityProvider()
    server = idp.serve()
    issuer = TrustedIssuer(issuer=server.issuer, jwks_uri=server.jwks_uri, audiences=(AUDIENCE,))
    server.stop()
    verifier = OidcVerifier([issuer], clock=clock)

    with caplog.at_level(logging.WARNING, logger="reporting.adapters.auth.oidc"):
        assert rejected(verifier, user_token(idp, clock)).message == "signing key not found"
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert getattr(caplog.records[0], "issuer") == issuer.issuer


def test_jwks_outage_keeps_serving_cached_keys(idp, clock, verifier, trusted):
    failing = {"on": False}

    def flaky(url: str) -> dict:
        if failing["on"]:
            raise OSError("connection refused")
        return fetch_json(url)

    verifier = OidcVerifier([trusted], clock=clock, fetch=flaky)
    verifier.verify(user_token(idp, clock))
    failing["on"] = True
    clock.advance(3600)
    assert verifier.verify(user_token(idp, clock)).kind == "user"


# --- the scheduler ---------------------------------------------------------------------------------------------

@pytest.fixture
def scheduler_verifier(idp_server, clock) -> OidcVerifier:
    server = idp_server[1]
    issuer = TrustedIssuer(issuer=server.issuer, jwks_uri=server.jwks_uri, audiences=(AUDIENCE,),
                           kind="scheduler", allowed_emails=(SCHEDULER_EMAIL,))
    return OidcVerifier([issuer], clock=clock)


def test_scheduler_token_from_the_allowed_service_account_is_accepted(idp, clock, scheduler_verifier):
    verified = scheduler_verifier.verify(idp.issue_scheduler(SCHEDULER_EMAIL, AUDIENCE, now=clock.now))
    assert verified.kind == "scheduler" and verified.principal is None and verified.email == SCHEDULER_EMAIL


def test_scheduler_token_from_another_service_account_is_rejected(idp, clock, scheduler_verifier):
    token = idp.issue_scheduler("intruder@other-project.iam.gserviceaccount.com", AUDIENCE, now=clock.now)
    assert rejected(scheduler_verifier, token).message == "scheduler identity not allowed"


def test_scheduler_token_with_unverified_email_is_rejected(idp, clock, scheduler_verifier):
    token = idp.issue_scheduler(SCHEDULER_EMAIL, AUDIENCE, email_verified=False, now=clock.now)
    assert rejected(scheduler_verifier, token).message == "email not verified"


# --- configuration ---------------------------------------------------------------------------------------------

def test_issuers_are_read_from_json():
    issuers = issuers_from_json(json.dumps([
        {"issuer": "https://id.melmastoon.example", "jwks_uri": "https://id.melmastoon.example/jwks.json",
         "audiences": ["reporting"]},
        {"issuer": "https://accounts.google.com", "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
         "audiences": ["https://reporting.example/internal/tick"], "kind": "scheduler",
         "allowed_emails": [SCHEDULER_EMAIL]},
    ]))
    assert [i.kind for i in issuers] == ["user", "scheduler"]
    assert issuers[1].allowed_emails == (SCHEDULER_EMAIL,) and issuers[0].audiences == ("reporting",)


@pytest.mark.parametrize("config", [
    {"issuer": "https://a", "jwks_uri": "http://a.example/jwks", "audiences": ["x"]},       # plain http
    {"issuer": "https://a", "jwks_uri": "https://a/jwks", "audiences": []},                 # no audience
    {"issuer": "https://a", "jwks_uri": "https://a/jwks", "audiences": ["x"], "kind": "scheduler"},
    {"issuer": "https://a", "jwks_uri": "https://a/jwks", "audiences": ["x"], "surprise": 1},
])
def test_bad_issuer_configuration_is_refused(config):
    with pytest.raises(ValueError):
        issuers_from_json(json.dumps([config]))


# --- roles -------------------------------------------------------------------------------------------------------

def principal(*roles: Role) -> Principal:
    return Principal(subject="u", tenant_id=TENANT, roles=frozenset(roles), property_ids=None,
                     issuer="https://id.example", email="someone@hotel.example")


def test_a_viewer_cannot_operate():
    viewer = principal(Role.VIEWER)
    viewer.require(Role.VIEWER)
    with pytest.raises(AuthzDenied) as caught:
        viewer.require(Role.OPERATOR)
    assert caught.value.http_status == 403 and "someone@hotel.example" not in str(caught.value)


def test_an_admin_can_do_everything():
    admin = principal(Role.ADMIN)
    for role in Role:
        admin.require(role)


def test_a_property_outside_the_list_is_denied():
    restricted = Principal(subject="u", tenant_id=TENANT, roles=frozenset({Role.OPERATOR}),
                           property_ids=frozenset({HOTEL_A}), issuer="https://id.example")
    restricted.require_property(HOTEL_A)
    with pytest.raises(AuthzDenied):
        restricted.require_property(HOTEL_B)
