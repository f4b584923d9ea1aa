"""request and render as separate functions-framework processes, wired by push subscriptions on the real
Pub/Sub emulator as Eventarc would: an HTTP request for a run ends with its artifacts stored."""
from __future__ import annotations

import base64
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from reporting.adapters.postgres.connection import local_connection_factory
from reporting.adapters.pubsub.provision import provision
from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.bootstrap import Services
from reporting.config import Settings
from reporting.devenv.pubsub_emulator import free_port
from reporting.devenv.synthetic_hotels import DEMO_HOTELS, generate, load_into
from reporting.domain.tenant import Property, Residency, Tenant
from reporting.events.wiring import dead_letter_hold_subscription, topic_name
from reporting.service_layer.ports import business_yesterday
from reporting.service_layer.tenants import sync_property, sync_tenant
from tests.conftest import API_AUDIENCE
from tests.integration.helpers import outbox
from tests.integration.pubsub_helpers import new_project, pull

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("pubsub")]
REPO = Path(__file__).resolve().parents[2]
REQUESTED = "report_run.requested.v1"


@dataclass
class Stack:
    project: str
    api: str
    services: Services  # the test's own view of the same database, as reporting_app
    tenant_id: str
    property_id: str
    token: str
    logs: dict[str, Path]
    artifact_dir: Path


def start_function(name: str, signature: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "functions_framework", "--target", name, "--signature-type", signature,
               "--source", str(REPO / "functions" / name / "main.py"), "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=REPO)


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"function exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"function not listening on {port}")


@pytest.fixture
def stack(migrated, oidc_env, idp, pubsub, tmp_path):
    spec = replace(DEMO_HOTELS[0], tenant_id=str(uuid.uuid4()), property_id=str(uuid.uuid4()))
    project = new_project()
    env = {**os.environ, "REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": migrated.app.url(),
           "REPORTING_EVENT_BUS": "pubsub", "REPORTING_PUBSUB_PROJECT": project,
           "PUBSUB_EMULATOR_HOST": pubsub.host, "REPORTING_ARTIFACT_DIR": str(tmp_path / "artifacts"),
           "REPORTING_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"), "LOG_LEVEL": "INFO", **oidc_env}
    settings = Settings.from_env(env)
    services = Services(settings, conn_factory=local_connection_factory(migrated.app))
    yesterday = business_yesterday(services.clock.now(), spec.timezone)
    with DuckDBWarehouse(tmp_path / "warehouse.duckdb") as warehouse:
        load_into(warehouse, generate(spec, yesterday - timedelta(days=3), yesterday))
    sync_tenant(Tenant(spec.tenant_id, "E2E group", Residency.AF, "local-af", features={"reporting_v1": True}),
                services.deps)
    sync_property(Property(spec.property_id, spec.tenant_id, spec.name, spec.timezone, spec.currency, spec.country,
                           "en", spec.room_count), services.deps)

    ports = {"request": free_port(), "render": free_port()}
    provision(project, push_endpoints={"render": f"http://127.0.0.1:{ports['render']}/"})
    logs = {name: tmp_path / f"{name}.log" for name in ports}
    processes = {"request": start_function("request", "http", ports["request"], env, logs["request"]),
                 "render": start_function("render", "cloudevent", ports["render"], env, logs["render"])}
    try:
        for name, process in processes.items():
            wait_for_port(ports[name], process, logs[name])
        yield Stack(project, f"http://127.0.0.1:{ports['request']}/api/v1/reports", services, spec.tenant_id,
                    spec.property_id, idp.provider.issue(spec.tenant_id, ["operator"], audience=API_AUDIENCE),
                    logs, tmp_path / "artifacts")
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=10)
        services.close()


def http(stack: Stack, method: str, path: str, body: dict | None = None, key: str | None = None):
    headers = {"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack.api + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if response.headers["Content-Type"] == "application/json"
                                     else raw)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def request_run(stack: Stack, key: str) -> dict:
    status, run = http(stack, "POST", "/runs", {"property_id": stack.property_id, "template_key": "daily_occupancy",
                                                "formats": ["pdf", "csv"]}, key=key)
    assert status == 202, run
    return run


def wait_for_state(stack: Stack, run_id: str, state: str = "succeeded", timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, run = http(stack, "GET", f"/runs/{run_id}")
        assert status == 200, run
        if run["state"] == state:
            return run
        assert run["state"] in ("requested", "rendering"), run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} not {state}; render log: {stack.logs['render'].read_text()[-3000:]}")


def consumed(stack: Stack, event_id: str) -> list[str]:
    """Statuses the render function logged for one event id (one JSON object per line)."""
    out = []
    for line in stack.logs["render"].read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("message") == "event consumed" and entry.get("event_id") == event_id:
            out.append(entry["status"])
    return out


def wait_for(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_http_request_ends_with_stored_artifacts(stack):
    run = request_run(stack, "first")
    done = wait_for_state(stack, run["run_id"])
    assert sorted(a["format"] for a in done["artifacts"]) == ["csv", "pdf"]
    status, pdf = http(stack, "GET", f"/runs/{run['run_id']}/artifacts/pdf")
    assert status == 200 and pdf.startswith(b"%PDF-")
    stored = stack.artifact_dir / "tenants" / stack.tenant_id / "runs" / run["run_id"] / "report.pdf"
    assert stored.read_bytes() == pdf


def test_every_event_delivered_three_times_out_of_order_has_one_effect(stack):
    runs = [request_run(stack, f"k{i}") for i in range(3)]
    finished = {r["run_id"]: wait_for_state(stack, r["run_id"]) for r in runs}
    envelopes = [row["envelope"] for row in outbox(stack.services, stack.tenant_id, REQUESTED)]
    assert len(envelopes) == 3

    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(stack.project, topic_name(REQUESTED))
    redeliveries = [e for e in envelopes for _ in range(2)]  # + the original = three each
    random.Random(7).shuffle(redeliveries)
    for envelope in redeliveries:
        data = json.dumps(envelope).encode()
        attributes = {"event_type": REQUESTED, "event_id": envelope["event_id"], "tenant_id": stack.tenant_id}
        publisher.publish(topic, data, **attributes).result(timeout=10)
    for envelope in envelopes:
        wait_for(lambda e=envelope: len(consumed(stack, e["event_id"])) >= 3, what="three deliveries")
        assert sorted(consumed(stack, envelope["event_id"])) == ["duplicate", "duplicate", "processed"]

    for run_id, before in finished.items():
        status, after = http(stack, "GET", f"/runs/{run_id}")
        assert after["state"] == "succeeded" and after["finished_at"] == before["finished_at"]
        assert after["attempts"] == before["attempts"] and len(after["artifacts"]) == 2
    completed = outbox(stack.services, stack.tenant_id, "report_run.completed.v1")
    assert sorted(r["envelope"]["data"]["run_id"] for r in completed) == sorted(finished)


def test_a_malformed_message_is_dead_lettered_with_its_reason_and_the_next_good_one_completes(stack):
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(stack.project, topic_name(REQUESTED))
    publisher.publish(topic, b"\x00 not an event", event_id="malformed-1").result(timeout=10)
    run = request_run(stack, "after-the-bad-one")
    wait_for_state(stack, run["run_id"])

    hold = f"projects/{stack.project}/subscriptions/{dead_letter_hold_subscription('render')}"
    [parked] = pull(hold, expect=1, timeout=30)
    assert parked.data == b"\x00 not an event"
    assert parked.attributes["reason"].startswith("undecodable") and parked.attributes["event_id"] == "malformed-1"
    assert base64.b64encode(parked.data)  # kept byte for byte for replay
