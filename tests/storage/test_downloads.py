"""Downloads through the request function (issue 3 item 1): envelope-encrypted artifacts stream, decrypted
and verified, through the authenticated route; plain ones answer 302 to a short-lived V4 signed URL where
the store can sign (GCS), and stream locally. Real Postgres, real render, real OIDC tokens."""
from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import flask
import pytest

from reporting.adapters.crypto.local_key_file import LocalKeyFileWrapper
from reporting.adapters.crypto.sealed_store import SealedArtifactStore
from reporting.adapters.gcs.artifact_store import GcsArtifactStore
from reporting.adapters.local.artifact_store import LocalArtifactStore
from reporting.adapters.postgres.connection import local_connection_factory
from reporting.bootstrap import Services
from reporting.config import Settings
from reporting.domain.artifact import artifact_name
from reporting.entrypoints.http import handle
from reporting.service_layer.ports import ArtifactStore
from tests.conftest import API_AUDIENCE
from tests.storage.conftest import Buckets
from tests.storage.signing import signing_credentials

APP = flask.Flask("download-tests")


@pytest.fixture
def services_with(migrated_for, warehouse, clock, tmp_path: Path, oidc_env) -> Iterator[Callable[..., Services]]:
    """Services over the session's Postgres with a given artifact store (what bootstrap will wire)."""
    built: list[Services] = []

    def build(store: ArtifactStore) -> Services:
        migrated = migrated_for("AF")
        settings = Settings.from_env({
            "REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": migrated.app.url(),
            "REPORTING_ARTIFACT_DIR": str(tmp_path / "unused"), "REPORTING_DEAD_LETTER_DIR": str(tmp_path / "dl"),
            **oidc_env})
        services = Services(settings, clock=clock, conn_factory=local_connection_factory(migrated.app),
                            warehouse=warehouse, artifact_store=store)
        built.append(services)
        return services

    yield build
    for services in built:
        services.close()


def call(services: Services, path: str, token: str) -> tuple[int, Any, dict[str, str]]:
    with APP.test_request_context(path, method="GET", headers={"Authorization": f"Bearer {token}"}):
        body, status, headers = handle(flask.request, services)
    return status, (json.loads(body) if headers.get("Content-Type") == "application/json" else body), headers


def rendered_run(services: Services, make_hotel, idp) -> tuple[Any, str, dict[str, Any]]:
    """A hotel, a rendered daily occupancy PDF, a viewer token and the run as the API shows it."""
    hotel = make_hotel(services)
    operator = idp.provider.issue(hotel.tenant_id, ["operator"], audience=API_AUDIENCE)
    with APP.test_request_context("/api/v1/reports/runs", method="POST", headers={
            "Authorization": f"Bearer {operator}", "Idempotency-Key": "dl-1"},
            data=json.dumps({"property_id": hotel.property_id, "template_key": "daily_occupancy",
                             "formats": ["pdf"]}), content_type="application/json"):
        body, status, _ = handle(flask.request, services)
    assert status == 202, body
    services.relay.sweep()
    viewer = idp.provider.issue(hotel.tenant_id, ["viewer"], audience=API_AUDIENCE)
    status, run, _ = call(services, f"/api/v1/reports/runs/{json.loads(body)['run_id']}", viewer)
    assert status == 200 and run["state"] == "succeeded", run
    return hotel, viewer, run


def test_an_envelope_encrypted_artifact_streams_decrypted_and_matches_its_sha256(
        services_with, make_hotel, idp, tmp_path: Path) -> None:
    inner = LocalArtifactStore(tmp_path / "artifacts", region="local-af")
    services = services_with(SealedArtifactStore(inner, LocalKeyFileWrapper(tmp_path / "keys" / "kek")))
    hotel, viewer, run = rendered_run(services, make_hotel, idp)
    [artifact] = run["artifacts"]
    name = artifact_name(hotel.tenant_id, run["run_id"], "pdf")
    assert not inner.read(name).startswith(b"%PDF")  # ciphertext at rest
    status, body, headers = call(services, artifact["download_url"], viewer)
    assert status == 200 and body.startswith(b"%PDF-") and headers["Content-Type"] == "application/pdf"
    assert hashlib.sha256(body).hexdigest() == artifact["sha256"] and headers["ETag"] == f'"{artifact["sha256"]}"'


def test_a_tampered_sealed_artifact_is_a_typed_error_and_no_bytes(services_with, make_hotel, idp,
                                                                  tmp_path: Path) -> None:
    inner = LocalArtifactStore(tmp_path / "artifacts", region="local-af")
    services = services_with(SealedArtifactStore(inner, LocalKeyFileWrapper(tmp_path / "keys" / "kek")))
    hotel, viewer, run = rendered_run(services, make_hotel, idp)
    path = inner.path_for(artifact_name(hotel.tenant_id, run["run_id"], "pdf"))
    sealed = bytearray(path.read_bytes())
    sealed[-20] ^= 0x01
    os.chmod(path, 0o644)
    path.write_bytes(bytes(sealed))
    meta_path = Path(str(path) + ".meta.json")  # the forger fixes the store's own checksum too
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()),
                                     "sha256": hashlib.sha256(sealed).hexdigest()}))
    status, body, _ = call(services, run["artifacts"][0]["download_url"], viewer)
    assert status == 500 and body["error"]["code"] == "MELMASTOON.REPORTING.ARTIFACT_INTEGRITY_FAILED"
    assert "authentication" in body["error"]["message"]


def test_a_download_under_the_wrong_key_says_so(services_with, make_hotel, idp, tmp_path: Path) -> None:
    inner = LocalArtifactStore(tmp_path / "artifacts", region="local-af")
    services = services_with(SealedArtifactStore(inner, LocalKeyFileWrapper(tmp_path / "keys" / "kek")))
    _, viewer, run = rendered_run(services, make_hotel, idp)
    other = services_with(SealedArtifactStore(inner, LocalKeyFileWrapper(tmp_path / "keys" / "another")))
    status, body, _ = call(other, run["artifacts"][0]["download_url"], viewer)
    assert status == 500 and body["error"]["code"] == "MELMASTOON.REPORTING.ARTIFACT_INTEGRITY_FAILED"
    assert body["error"]["message"] == "artifact was sealed under another key"


def test_a_substituted_plain_artifact_is_refused_against_the_runs_sha256(services_with, make_hotel, idp,
                                                                        tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts", region="local-af")
    services = services_with(store)
    hotel, viewer, run = rendered_run(services, make_hotel, idp)
    path = store.path_for(artifact_name(hotel.tenant_id, run["run_id"], "pdf"))
    forged = b"%PDF-1.4 a different report"
    os.chmod(path, 0o644)
    path.write_bytes(forged)
    meta_path = Path(str(path) + ".meta.json")
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()),
                                     "sha256": hashlib.sha256(forged).hexdigest(), "size_bytes": len(forged)}))
    status, body, _ = call(services, run["artifacts"][0]["download_url"], viewer)
    assert status == 500 and body["error"]["code"] == "MELMASTOON.REPORTING.ARTIFACT_INTEGRITY_FAILED"


def test_a_plain_artifact_in_gcs_answers_302_to_a_short_lived_signed_url(services_with, make_hotel, idp,
                                                                         emulator_buckets: Buckets, gcs) -> None:
    store = GcsArtifactStore(operational_bucket=emulator_buckets.operational,
                             regulatory_bucket=emulator_buckets.regulatory, region="local-af",
                             client_factory=emulator_buckets.client_factory,
                             signing_credentials=signing_credentials(), signed_url_endpoint=gcs.host)
    services = services_with(store)
    _, viewer, run = rendered_run(services, make_hotel, idp)
    [artifact] = run["artifacts"]
    status, body, headers = call(services, artifact["download_url"], viewer)
    assert status == 302 and body == b""
    assert "X-Goog-Expires=300&" in headers["Location"] and headers["Cache-Control"] == "private, no-store"
    with urllib.request.urlopen(headers["Location"]) as response:
        assert hashlib.sha256(response.read()).hexdigest() == artifact["sha256"]


def test_a_sealed_artifact_in_gcs_streams_even_though_the_store_can_sign(services_with, make_hotel, idp,
                                                                         emulator_buckets: Buckets, gcs,
                                                                         tmp_path: Path) -> None:
    inner = GcsArtifactStore(operational_bucket=emulator_buckets.operational,
                             regulatory_bucket=emulator_buckets.regulatory, region="local-af",
                             client_factory=emulator_buckets.client_factory,
                             signing_credentials=signing_credentials(), signed_url_endpoint=gcs.host)
    services = services_with(SealedArtifactStore(inner, LocalKeyFileWrapper(tmp_path / "kek")))
    _, viewer, run = rendered_run(services, make_hotel, idp)
    [artifact] = run["artifacts"]
    status, body, _ = call(services, artifact["download_url"], viewer)
    assert status == 200 and body.startswith(b"%PDF-")
    assert hashlib.sha256(body).hexdigest() == artifact["sha256"]
