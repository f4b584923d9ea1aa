"""The AF police HTTPS adapter against a local stand-in of the police system, the Form C adapter, and secrets."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Iterator

import pytest

from reporting.adapters.local.artifact_store import LocalArtifactStore
from reporting.adapters.regulatory.af_police import PAYLOAD_VERSION, AfPoliceAdapter, HttpAnswer, interpret
from reporting.adapters.regulatory.form_c import AWAITING, FormCAdapter, form_c_file_name
from reporting.adapters.secrets import Secret
from reporting.service_layer.regulatory import FilingRequest, Outcome

GUEST = {"line_number": "1", "movement": "check_in", "family_name": "Testname", "document_number": "P1234567",
         "nationality": "DE", "internal_note": "never sent"}


def request(**overrides) -> FilingRequest:
    values = dict(submission_id="11111111-1111-4111-8111-111111111111", tenant_id="t", property_id="p",
                  adapter="af_police", subject_kind="business_date", subject_ref="2026-11-23",
                  cutoff_at=datetime(2026, 11, 24, 5, 30, tzinfo=timezone.utc), attempt=1, rows=(GUEST,),
                  property_ids={"police_branch_code": "KBL-07"})
    values.update(overrides)
    return FilingRequest(**values)


class PoliceStandIn(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict]] = []
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status, answer = type(self).answers.pop(0)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def police() -> Iterator[str]:
    PoliceStandIn.answers, PoliceStandIn.seen = [], []
    server = HTTPServer(("127.0.0.1", 0), PoliceStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_an_accepted_register_carries_the_versioned_payload_token_and_idempotency_key(police):
    PoliceStandIn.answers = [(201, {"reference": "KBL-2026-000123"})]
    result = AfPoliceAdapter(police, Secret(value="token-xyz")).file(request())
    assert (result.outcome, result.reference) == (Outcome.ACCEPTED, "KBL-2026-000123")
    sent = PoliceStandIn.seen[0]
    assert sent["path"] == "/v1/guest-registers"
    assert sent["headers"]["Authorization"] == "Bearer token-xyz"
    assert sent["headers"]["Idempotency-Key"] == request().submission_id
    body = sent["body"]
    assert (body["schema"], body["business_date"], body["police_branch_code"]) == (PAYLOAD_VERSION, "2026-11-23",
                                                                                    "KBL-07")
    assert body["movements"][0]["document_number"] == "P1234567" and "internal_note" not in body["movements"][0]


@pytest.mark.parametrize("status, answer, outcome, code", [
    (422, {"error": {"code": "MISSING_VISA", "message": "guest Testname has no visa"}}, Outcome.REJECTED,
     "POLICE_MISSING_VISA"),
    (401, {}, Outcome.TRANSIENT, "AUTH_REFUSED"),
    (503, {}, Outcome.TRANSIENT, "HTTP_503"),
    (200, {}, Outcome.TRANSIENT, "NO_REFERENCE"),
])
def test_answers_map_to_outcomes_and_never_carry_the_authoritys_text(status, answer, outcome, code):
    result = interpret(HttpAnswer(status, json.dumps(answer).encode()))
    assert (result.outcome, result.code) == (outcome, code)
    assert "Testname" not in result.message


def test_an_unreachable_police_system_is_transient():
    def down(url, body, headers, timeout):
        raise TimeoutError("timed out")

    result = AfPoliceAdapter("https://police.example.af", Secret(value="t"), transport=down).file(request())
    assert (result.outcome, result.code) == (Outcome.TRANSIENT, "UNREACHABLE")


def test_plain_http_is_refused_except_for_a_local_stand_in():
    with pytest.raises(ValueError):
        AfPoliceAdapter("http://police.example.af", Secret(value="t"))


def test_form_c_files_the_particulars_once_and_awaits_the_operator(tmp_path):
    store = LocalArtifactStore(tmp_path)
    adapter = FormCAdapter(store)
    req = request(adapter="in_form_c", subject_kind="guest_stay", subject_ref="r-1",
                  rows=({"reservation_id": "r-1", "family_name": "Testname", "passport_number": "X9"},))
    first, second = adapter.file(req), adapter.file(req)
    assert first.outcome is Outcome.TRANSIENT and first.code == AWAITING and second.code == AWAITING
    data = store.read(form_c_file_name("t", req.submission_id)).decode("utf-8-sig")
    assert data.splitlines()[0].startswith("reservation_id,") and "Testname" in data and "X9" in data
    assert store.stat(form_c_file_name("t", req.submission_id)).retention_class == "regulatory-in-formc"


class FakeSecretManager:
    def __init__(self) -> None:
        self.calls = 0
        self.value = b"first"

    def access_secret_version(self, request):
        self.calls += 1
        payload = type("P", (), {"data": self.value})()
        return type("R", (), {"payload": payload})()


def test_secrets_are_read_when_needed_cached_briefly_and_never_shown():
    now = [0.0]
    client = FakeSecretManager()
    secret = Secret(secret_version="projects/p/secrets/police/versions/latest", client_factory=lambda: client,
                    clock=lambda: now[0])
    assert secret() == "first" and secret() == "first" and client.calls == 1
    client.value = b"rotated"
    now[0] += timedelta(minutes=6).total_seconds()
    assert secret() == "rotated" and client.calls == 2
    assert "rotated" not in repr(secret) and "first" not in repr(secret)
    with pytest.raises(ValueError):
        Secret(secret_version="police-token")
