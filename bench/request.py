"""Benchmark: the request function's POST /runs vs. a bare functions-framework handler doing one INSERT + COMMIT.

    .venv/bin/python bench/request.py [--requests 300] [--concurrency 4]

Both run as `functions-framework` processes on this machine against the same
local Postgres, called through the same HTTP client (a new connection per call,
as a browser behind a load balancer would often look). The request function does
what it does in the cloud: OIDC verification (RS256, JWKS served on localhost),
flag/residency/lock gate, rate limit, JSON Schema validation, idempotency lookup,
run + outbox insert under RLS in one transaction. Cold start = process start →
first answer, each beside the bare function's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reporting.adapters.postgres.connection import local_connection_factory  # noqa: E402
from reporting.bootstrap import Services  # noqa: E402
from reporting.config import Settings  # noqa: E402
from reporting.devenv import postgres as pg  # noqa: E402
from reporting.devenv.pubsub_emulator import free_port  # noqa: E402
from reporting.devenv.synthetic_hotels import DEMO_HOTELS  # noqa: E402
from reporting.devenv.tokens import DevIdentityProvider  # noqa: E402
from reporting.domain.tenant import Property, Residency, Tenant  # noqa: E402
from reporting.service_layer.tenants import sync_property, sync_tenant  # noqa: E402

BARE = '''
import os
import threading

import functions_framework
import pg8000.native

_local = threading.local()  # one connection per server thread, like a pool


@functions_framework.http
def bare(request):
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = pg8000.native.Connection(
            user=os.environ["B_USER"], host="127.0.0.1", port=int(os.environ["B_PORT"]),
            database=os.environ["B_DB"], password=os.environ.get("B_PASSWORD") or None)
    conn.run("START TRANSACTION")
    conn.run("INSERT INTO bench_bare (id, body) VALUES (:i, :b)", i=os.urandom(8).hex(), b=request.get_data().decode())
    conn.run("COMMIT")
    return "ok", 200
'''


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def start(target: str, source: Path, env: dict[str, str], port: int) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "functions_framework", "--target", target, "--source",
                                str(source), "--host", "127.0.0.1", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    return process, started


def call(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (ConnectionError, urllib.error.URLError):
        return 0


def first_answer(url: str, make: callable, started: float, ok: set[int]) -> float:
    while True:
        body, headers = make()
        if call(url, body, headers) in ok:
            return time.perf_counter() - started
        time.sleep(0.005)


def measure(url: str, make: callable, n: int, concurrency: int, ok: set[int]) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(n))

    def worker() -> None:
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            body, headers = make()
            t = time.perf_counter()
            status = call(url, body, headers)
            elapsed = time.perf_counter() - t
            assert status in ok, status
            with lock:
                latencies.append(elapsed * 1000)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, n / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    scratch = pg.scratch_database("bench-request-")
    work, owner, app = scratch.work, scratch.owner, scratch.app
    idp = DevIdentityProvider()
    jwks = idp.serve()
    processes: list[subprocess.Popen] = []
    try:
        conn = local_connection_factory(owner)()
        from reporting.adapters.postgres.connection import execute

        execute(conn, "CREATE TABLE IF NOT EXISTS public.bench_bare (id text PRIMARY KEY, body text)", {})
        execute(conn, "GRANT INSERT ON public.bench_bare TO reporting_app", {})
        conn.commit()
        conn.close()

        spec = DEMO_HOTELS[0]
        env = {**os.environ, "REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": app.url(),
               "REPORTING_ARTIFACT_DIR": str(work / "a"), "LOG_LEVEL": "WARNING",
               "REPORTING_RATE_LIMIT_PER_MINUTE": "100000", "REPORTING_MAX_RUNS_IN_FLIGHT": "100000",
               "REPORTING_OIDC_ISSUERS": json.dumps([{"issuer": jwks.issuer, "jwks_uri": jwks.jwks_uri,
                                                      "audiences": ["reporting-api"]}]),
               "B_USER": app.user, "B_PORT": str(app.port), "B_DB": app.database, "B_PASSWORD": app.password or ""}
        services = Services(Settings.from_env(env), conn_factory=local_connection_factory(app))
        sync_tenant(Tenant(spec.tenant_id, "bench", Residency.AF, "local-af", features={"reporting_v1": True}),
                    services.deps)
        sync_property(Property(spec.property_id, spec.tenant_id, spec.name, spec.timezone, spec.currency,
                               spec.country, "en", spec.room_count), services.deps)
        services.close()
        token = idp.issue(spec.tenant_id, ["operator"], audience="reporting-api", ttl_seconds=3600)
        body = json.dumps({"property_id": spec.property_id, "template_key": "daily_occupancy",
                           "formats": ["pdf"]}).encode()

        def run_request() -> tuple[bytes, dict[str, str]]:
            return body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                          "Idempotency-Key": uuid.uuid4().hex}

        def bare_request() -> tuple[bytes, dict[str, str]]:
            return body, {"Content-Type": "application/json"}

        bare_source = work / "bare.py"
        bare_source.write_text(BARE, encoding="utf-8")
        results = {}
        for label, target, source, make, ok in (
                ("bare (INSERT + COMMIT)", "bare", bare_source, bare_request, {200}),
                ("request function POST /runs", "request", REPO / "functions" / "request" / "main.py", run_request,
                 {202})):
            port = free_port()
            process, started = start(target, source, env, port)
            processes.append(process)
            url = f"http://127.0.0.1:{port}/api/v1/reports/runs"
            cold = first_answer(url, make, started, ok)
            measure(url, make, 20, 1, ok)  # warm-up
            serial, _ = measure(url, make, args.requests, 1, ok)
            _, rps = measure(url, make, args.requests, args.concurrency, ok)
            results[label] = (cold, serial, rps)
            process.terminate()
            process.wait(timeout=10)

        print(f"requests: {args.requests} serial + {args.requests} at concurrency {args.concurrency}; "
              "local Postgres; one functions-framework process each")
        print(f"{'':32}{'cold start ms':>14}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>8}")
        for label, (cold, serial, rps) in results.items():
            print(f"{label:32}{cold * 1000:>14.0f}{statistics.median(serial):>9.2f}{pct(serial, 0.99):>9.2f}"
                  f"{rps:>8.0f}")
        (b_cold, b_serial, b_rps), (r_cold, r_serial, r_rps) = results.values()
        print(f"ratios request/bare: p50 {statistics.median(r_serial) / statistics.median(b_serial):.2f}x "
              f"(target <= 2x), cold start {r_cold / b_cold:.2f}x (target <= 2x), throughput {r_rps / b_rps:.2f}x")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        jwks.stop()
        scratch.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
