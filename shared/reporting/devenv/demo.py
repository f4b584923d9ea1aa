"""`make demo`: three residencies (three local deployments), one hotel each, yesterday's reports end to end.

Each residency gets its own database, warehouse and artifact folder, because a
deployment refuses tenants of another residency (SPEC §4). Every operational platform
template is rendered for each hotel in English and in the hotel's own languages
(Kabul: Dari and Pashto; Jaipur: Hindi; Riyadh: Arabic), as PDF, CSV and HTML.
Everything runs as reporting_app through the same use cases, the local bus and the
render consumer the cloud's function calls. Safe to run twice: requests are idempotent.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from reporting.adapters.postgres.connection import ConnInfo, local_connection_factory
from reporting.bootstrap import Services
from reporting.config import Settings
from reporting.catalog.platform import platform_templates
from reporting.db.migrate import migrate
from reporting.devenv import postgres as pg
from reporting.devenv.synthetic_hotels import DEMO_HOTELS, HotelSpec, generate, load_into
from reporting.domain.report_run import RunOrigin
from reporting.domain.tenant import Property, Residency, Tenant
from reporting.domain.artifact import artifact_name
from reporting.service_layer.commands import RequestReportRun, RerenderReportRun
from reporting.service_layer.ports import business_yesterday
from reporting.service_layer.report_runs import request_report_run, rerender_report_run
from reporting.service_layer.tenants import sync_property, sync_tenant

RESIDENCY_OF_COUNTRY = {"AF": Residency.AF, "IN": Residency.IN, "SA": Residency.KSA}
LOCALE_OF_COUNTRY = {"AF": "fa-AF", "IN": "hi", "SA": "ar"}  # the property's own locale
OWN_LANGUAGES = {"AF": ("fa-AF", "ps"), "IN": ("hi",), "SA": ("ar",)}  # rendered beside English


def _say(step: str, detail: str = "") -> None:
    print(f"  {step:<44} {detail}", file=sys.stderr, flush=True)


@dataclass
class DemoRow:
    tenant: str
    residency: str
    template: str
    state: str
    artifact: str
    ms: int


def _services_for(spec: HotelSpec, app: ConnInfo, home: Path, out: Path,
                  extra_env: dict[str, str] | None = None) -> Services:
    residency = RESIDENCY_OF_COUNTRY[spec.country]
    settings = Settings.from_env({
        **(extra_env or {}),
        "REPORTING_RESIDENCY": residency.value, "REPORTING_DATABASE_URL": app.url(),
        "REPORTING_REGION": f"local-{residency.value.lower()}",
        "REPORTING_ARTIFACT_DIR": str(out / residency.value.lower()),
        "REPORTING_WAREHOUSE_PATH": str(home / f"warehouse-{residency.value.lower()}.duckdb"),
        "REPORTING_DEAD_LETTER_DIR": str(home / "dead-letters" / residency.value.lower()),
    })
    return Services(settings, conn_factory=local_connection_factory(app))


def _latest(services: Services, tenant_id: str, run_id: str):
    """Follow re-renders: the run that currently stands for the one first requested."""
    with services.uow(tenant_id) as uow:
        run = uow.runs.get(run_id)
        while run is not None and run.superseded_by:
            run = uow.runs.get(run.superseded_by)
    assert run is not None
    return run


def _request(services: Services, spec: HotelSpec, template_key: str, locale: str, yesterday, out: Path) -> str:
    """Request one report of yesterday (idempotent); re-render it if out/ was cleaned since the last demo."""
    outcome = request_report_run(RequestReportRun(
        tenant_id=spec.tenant_id, property_id=spec.property_id, requested_by="demo", origin=RunOrigin.USER,
        template_key=template_key, run_date=yesterday, locale=locale, formats=("pdf", "csv", "html"),
        idempotency_key=f"demo-{template_key}-{locale}-{yesterday.isoformat()}"), services.deps)
    if outcome.created:
        return outcome.run.run_id
    run = _latest(services, spec.tenant_id, outcome.run.run_id)
    if _artifacts_missing(services, spec.tenant_id, run.run_id):
        # out/ was cleaned since the last demo: re-render (plan §5) rather than point at missing files.
        run = rerender_report_run(RerenderReportRun(
            tenant_id=spec.tenant_id, run_id=run.run_id, requested_by="demo",
            idempotency_key=f"demo-rerender-{run.run_id}"), services.deps).run
    return run.run_id


def _artifacts_missing(services: Services, tenant_id: str, run_id: str) -> bool:
    with services.uow(tenant_id) as uow:
        run = uow.runs.get(run_id)
        artifacts = uow.artifacts.for_run(run_id)
    if run is None or str(run.state) != "succeeded":
        return False
    store = services.artifact_store
    return not artifacts or any(store.stat(artifact_name(tenant_id, run_id, a.format)) is None for a in artifacts)


def _one_residency(spec: HotelSpec, admin: ConnInfo, home: Path, out: Path, days: int) -> list[DemoRow]:
    residency = RESIDENCY_OF_COUNTRY[spec.country]
    tag = f"[{residency.value}]"
    owner, app = pg.create_database(admin, f"reporting_demo_{residency.value.lower()}", exist_ok=True)
    report = migrate(local_connection_factory(owner), log=lambda event: None)
    _say(f"{tag} database migrated as reporting_owner",
         f"{len(report.applied)} applied, {len(report.reapplied)} re-applied, {report.skipped} already there")

    services = _services_for(spec, app, home, out)
    try:
        now = services.clock.now()
        yesterday = business_yesterday(now, spec.timezone)
        warehouse = services.deps.warehouse()
        counts = load_into(warehouse, generate(spec, yesterday - timedelta(days=days - 1), yesterday))  # type: ignore[arg-type]
        _say(f"{tag} warehouse: {days} days of {spec.name}", f"{counts.get('room_nights', 0)} room nights")

        sync_tenant(Tenant(tenant_id=spec.tenant_id, name=f"{spec.name} group", residency=residency,
                           stored_region=services.settings.region, default_locale=LOCALE_OF_COUNTRY[spec.country],
                           features={"reporting_v1": True}), services.deps)
        sync_property(Property(property_id=spec.property_id, tenant_id=spec.tenant_id, name=spec.name,
                               timezone=spec.timezone, currency=spec.currency, country=spec.country,
                               locale=LOCALE_OF_COUNTRY[spec.country], room_count=spec.room_count,
                               settings={"deduct_out_of_order": spec.deduct_out_of_order}), services.deps)

        started = time.perf_counter()
        requested = []
        templates = [t for t in platform_templates() if t.category == "operational"]
        for template in templates:
            for locale in ("en", *OWN_LANGUAGES[spec.country]):
                if locale in template.locales:
                    requested.append((template.key, locale, _request(services, spec, template.key, locale,
                                                                     yesterday, out)))
        _say(f"{tag} runs requested", f"{len(requested)}: {len(templates)} templates x en + "
                                      f"{', '.join(OWN_LANGUAGES[spec.country])}")
        drained = services.relay.sweep()
        _say(f"{tag} bus drained", f"{drained.published} delivered, {drained.retried} retried, {drained.dead} dead")

        rows = []
        for key, locale, run_id in requested:
            with services.uow(spec.tenant_id) as uow:
                run = uow.runs.get(run_id)
                artifacts = uow.artifacts.for_run(run_id)
            assert run is not None
            pdf = next((a for a in artifacts if a.format == "pdf"), None)
            path = Path(pdf.object_uri.removeprefix("file://")) if pdf else None
            shown = str(path.relative_to(Path.cwd())) if path and path.is_relative_to(Path.cwd()) else str(path or "-")
            rows.append(DemoRow(spec.name, residency.value, f"{key} [{locale}]", str(run.state), shown,
                                int((time.perf_counter() - started) * 1000)))
        if spec.country == "SA":  # the hotel is its own ZATCA e-invoicing unit: file yesterday's invoices
            from reporting.devenv.zatca_demo import file_day

            _say(f"{tag} ZATCA (local simulator)",
                 str(file_day(services, spec.tenant_id, spec.property_id, yesterday, out / "ksa" / "zatca")))
        return rows
    finally:
        services.close()


def _table(rows: list[DemoRow]) -> str:
    headers = ("tenant", "residency", "template", "state", "artifact (pdf)", "ms")
    data = [(r.tenant, r.residency, r.template, r.state, r.artifact, str(r.ms)) for r in rows]
    widths = [max(len(h), *(len(d[i]) for d in data)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(d, widths)) for d in data]
    return "\n".join(out)


def run_demo(home: Path, out: Path, days: int = 90) -> int:
    from reporting.logs import configure

    configure(level="WARNING")  # the demo narrates; JSON logs only for what goes wrong
    home.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    print("reporting-service demo: AF, IN and KSA, one hotel each", file=sys.stderr)
    server = pg.provide_server(home, use_machine_server=False)
    _say("postgres", f"{server.origin} at {server.admin.url()}")
    rows: list[DemoRow] = []
    try:
        for spec in DEMO_HOTELS:
            rows.extend(_one_residency(spec, server.admin, home, out, days))
    finally:
        server.stop()
    print(_table(rows))
    failed = [r for r in rows if r.state != "succeeded"]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} succeeded in {time.perf_counter() - t0:.1f} s; "
          f"artifacts under {out}/", file=sys.stderr)
    return 1 if failed else 0
