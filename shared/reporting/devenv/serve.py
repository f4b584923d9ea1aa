"""`make serve`: the request function's API on localhost over one residency's demo data, with dev tokens.

Everything is local and real: the demo's Postgres cluster (RLS as reporting_app),
a dev OIDC provider serving its JWKS on localhost (the API verifies tokens exactly
as in the cloud), and the local bus rendering requested runs in the background.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from reporting.devenv import postgres as pg
from reporting.devenv.demo import RESIDENCY_OF_COUNTRY, _one_residency, _services_for
from reporting.devenv.synthetic_hotels import DEMO_HOTELS
from reporting.devenv.tokens import DevIdentityProvider

AUDIENCE = "reporting-api"


def _bus_loop(services, stop: threading.Event) -> None:
    """Render what the API requests: the local bus, swept every second."""
    while not stop.is_set():
        try:
            services.relay.sweep()
        except Exception as exc:  # keep serving; the next sweep retries
            print(f"bus: {type(exc).__name__}: {exc}", file=sys.stderr)
        stop.wait(1.0)


def serve(*, residency: str, host: str, port: int, home: Path, out: Path) -> int:
    import json

    from werkzeug.serving import run_simple

    from reporting.entrypoints.http import wsgi_app
    from reporting.logs import configure

    configure(level=os.environ.get("LOG_LEVEL", "WARNING"))
    spec = next(h for h in DEMO_HOTELS if RESIDENCY_OF_COUNTRY[h.country].value == residency)
    home.mkdir(parents=True, exist_ok=True)
    server = pg.provide_server(home, use_machine_server=False)
    jwks = None
    stop = threading.Event()
    try:
        _one_residency(spec, server.admin, home, out, days=90)  # the demo's data, idempotently
        _, app_conn = pg.create_database(server.admin, f"reporting_demo_{residency.lower()}", exist_ok=True)
        provider = DevIdentityProvider()
        jwks = provider.serve()
        issuers = json.dumps([{"issuer": jwks.issuer, "jwks_uri": jwks.jwks_uri, "audiences": [AUDIENCE]}])
        services = _services_for(spec, app_conn, home, out, extra_env={"REPORTING_OIDC_ISSUERS": issuers})
        threading.Thread(target=_bus_loop, args=(services, stop), daemon=True).start()

        app = wsgi_app(services)

        tokens = {role: provider.issue(spec.tenant_id, [role], audience=AUDIENCE, ttl_seconds=12 * 3600,
                                       subject=f"dev-{role}") for role in ("viewer", "operator", "admin")}
        base_url = f"http://{host}:{port}/api/v1/reports"
        print(f"\nreporting-service API ({residency}, {spec.name}) on {base_url}", file=sys.stderr)
        print(f"  tenant   {spec.tenant_id}\n  property {spec.property_id}", file=sys.stderr)
        for role, token in tokens.items():
            print(f"  {role:8} token: {token}", file=sys.stderr)
        print(f"""
try:
  export TOKEN={tokens['operator']}
  curl -s -X POST {base_url}/runs -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: try-1' \\
       -H 'Content-Type: application/json' \\
       -d '{{"property_id": "{spec.property_id}", "template_key": "daily_occupancy", "formats": ["pdf"]}}'
  curl -s {base_url}/runs -H "Authorization: Bearer $TOKEN"
  curl -s {base_url}/openapi.json | head
(Ctrl-C stops the API, the bus and the database)
""", file=sys.stderr)
        run_simple(host, port, app, threaded=True, use_reloader=False)
        return 0
    finally:
        stop.set()
        time.sleep(0.1)
        if jwks is not None:
            jwks.stop()
        server.stop()

