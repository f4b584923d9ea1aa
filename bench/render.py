"""Benchmark: rendering speed per template and format, long-list scaling, and the render use case's overhead.

    .venv/bin/python bench/render.py [--repeat 3] [--small-rows 80] [--large-rows 1900] [--pipeline-runs 3]

Every figure is printed beside a baseline measured in the same run:
1. per platform template and format (synthetic hotel in DuckDB, the seeded template version):
   DocumentRenderer vs. its bare engine (pdf: one xhtml2pdf pass over the same HTML; html: the same
   layout in a plain, non-sandboxed Jinja2 environment; csv: csv.writer over the same rows);
2. scaling, each case in a fresh child process (time after warm-up; peak memory = the child's
   peak resident memory (/proc/self/status VmHWM, else ru_maxrss), the whole process: interpreter,
   imports and render):
   a ~5-page and a ~100-page in-house list through render_pdf, and the same ~100 pages in one
   naive xhtml2pdf pass;
3. pipeline overhead: consume("render") of a multi-page tenant report end to end (claim, DuckDB
   dataset, Jinja2, PDF, put_once, completion) vs. the time spent inside the renderer.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_SCALING = 0.80
TARGET_SPEEDUP = 3.0
TARGET_PEAK_MIB = 256
TARGET_OVERHEAD = 0.10

# A tenant report that runs to many pages: every room night of the last three weeks.
NIGHTS_SQL = """
SELECT rn.stay_date, rn.room_id, rn.reservation_id, rn.room_revenue, rn.currency
FROM dw.room_nights AS rn
WHERE rn.tenant_id = @tenant_id
  AND rn.property_id = @property_id
  AND rn.stay_date BETWEEN DATE_SUB(@run_date, INTERVAL 20 DAY) AND @run_date
ORDER BY rn.stay_date, rn.room_id
"""
NIGHTS_LAYOUT = """<!DOCTYPE html>
<html lang="{{ lang }}" dir="{{ dir }}"><head><meta charset="utf-8"><title>Room nights</title>
<style>
  @page { size: a4; margin: 1.6cm 1.4cm 2cm 1.4cm;
    @frame footer { -pdf-frame-content: page-footer; bottom: 0.8cm; margin-left: 1.4cm; margin-right: 1.4cm; height: 1cm; } }
  body { font-family: Helvetica; font-size: 9pt; }
  table.grid { width: 100%; }
  table.grid th { background-color: #0b3d5c; color: #ffffff; padding: 3pt; text-align: left; }
  table.grid td { padding: 2pt 3pt; border-bottom: 0.5pt solid #d8e0e7; }
  #page-footer { font-size: 7.5pt; color: #6b7886; }
</style></head>
<body>
<div id="page-footer">{{ property.name }} · {{ run.run_date.isoformat() }} · {{ template.key }} v{{ template.version }} ·
  Page <pdf:pagenumber> of <pdf:pagecount></div>
<h1>{{ property.name }} — room nights</h1>
<table class="grid" repeat="1">
<thead><tr><th>Night</th><th>Room</th><th>Reservation</th><th>Revenue</th></tr></thead>
<tbody>
{% for row in rows %}<tr><td>{{ row.stay_date.isoformat() }}</td><td>{{ row.room_id }}</td>
<td>{{ row.reservation_id }}</td><td>{{ row.room_revenue | number(2) }} {{ row.currency }}</td></tr>
{% endfor %}
</tbody></table>
</body></html>
"""


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    """Median seconds of `repeat` calls after one warm-up call, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def pdf_pages(data: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


# --- 2. scaling: one case per child process ----------------------------------------------------


def child(case: str, rows: int) -> None:
    from xhtml2pdf import pisa

    from reporting.adapters.renderers.document import _safe_link
    from reporting.adapters.renderers.paged_pdf import render_pdf
    from tests.unit.test_paged_pdf import in_house_html

    render_pdf(in_house_html(30))  # warm-up: imports, fonts, caches
    html = in_house_html(rows)
    t0 = time.perf_counter()
    if case == "paged":
        data = render_pdf(html)
    else:
        out = io.BytesIO()
        pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=_safe_link)
        data = out.getvalue()
    seconds = time.perf_counter() - t0
    print(json.dumps({"pages": pdf_pages(data), "seconds": seconds, "peak_mib": peak_mib()}))


def peak_mib() -> float:
    """This process's peak resident memory: VmHWM (reset by exec), else ru_maxrss.

    ru_maxrss survives exec on Linux, so a child started from a big parent would report the
    parent's size; VmHWM belongs to the child's own address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_child(case: str, rows: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", case, "--rows", str(rows)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaling(small_rows: int, large_rows: int) -> None:
    small = run_child("paged", small_rows)
    large = run_child("paged", large_rows)
    naive = run_child("naive", large_rows)
    rate = {k: v["pages"] / v["seconds"] for k, v in (("small", small), ("large", large), ("naive", naive))}
    print("\nscaling: in-house list, A4, each case in a fresh child process "
          "(peak = child's VmHWM, whole process)")
    print(f"{'':<44}{'pages':>7}{'s':>9}{'pages/s':>9}{'peak MiB':>10}")
    for label, key, fig in ((f"render_pdf, {small_rows} rows", "small", small),
                            (f"render_pdf, {large_rows} rows", "large", large),
                            (f"baseline: naive xhtml2pdf, {large_rows} rows", "naive", naive)):
        print(f"{label:<44}{fig['pages']:>7}{fig['seconds']:>9.2f}{rate[key]:>9.2f}{fig['peak_mib']:>10.0f}")
    ratio = rate["large"] / rate["small"]
    speedup = rate["large"] / rate["naive"]
    print(f"100-page pages/s vs 5-page: {ratio:.0%} (target >= {TARGET_SCALING:.0%}) "
          f"{'MET' if ratio >= TARGET_SCALING else 'NOT MET'}")
    print(f"100 pages vs naive single pass: {speedup:.2f}x faster (target >= {TARGET_SPEEDUP:.0f}x) "
          f"{'MET' if speedup >= TARGET_SPEEDUP else 'NOT MET'}")
    print(f"peak memory, 100 pages: {large['peak_mib']:.0f} MiB (naive {naive['peak_mib']:.0f} MiB; "
          f"target <= {TARGET_PEAK_MIB} MiB) {'MET' if large['peak_mib'] <= TARGET_PEAK_MIB else 'NOT MET'}")


# --- 1 and 3: a migrated database, a synthetic hotel, real use cases ---------------------------


class TimedRenderer:
    """DocumentRenderer that adds up the time spent inside it (the pipeline's render share)."""

    def __init__(self) -> None:
        from reporting.adapters.renderers.document import DocumentRenderer

        self.inner = DocumentRenderer()
        self.seconds = 0.0
        self.last = b""

    def render(self, request: Any) -> bytes:
        t0 = time.perf_counter()
        try:
            self.last = self.inner.render(request)
            return self.last
        finally:
            self.seconds += time.perf_counter() - t0

    def compile(self, layout: str, locale: str = "en") -> None:
        self.inner.compile(layout, locale)


def per_template(services: Any, spec: Any, yesterday: Any, warehouse: Any, repeat: int) -> None:
    import jinja2
    from xhtml2pdf import pisa

    from reporting.adapters.renderers.document import DocumentRenderer, _env_for, _safe_link
    from reporting.catalog.platform import platform_templates
    from reporting.domain.errors import DomainError
    from reporting.service_layer.commands import RequestReportRun
    from reporting.service_layer.ports import RenderRequest
    from reporting.service_layer.render_report_run import dataset_params, render_context
    from reporting.service_layer.report_runs import request_report_run

    renderer = DocumentRenderer()
    print(f"\nper template and format: {spec.name} ({spec.country}), business date {yesterday}, "
          f"median of {repeat} after a warm-up")
    print(f"{'template':<30}{'fmt':<5}{'rows':>6}{'pages':>6}{'ms':>9}{'pages/s':>9}"
          f"{'baseline ms':>13}{'ratio':>7}  baseline")
    templates = platform_templates()
    while True:
        try:
            template = next(templates)
        except StopIteration:
            break
        except OSError as exc:  # a catalog folder still being written (no layout yet): stop listing
            print(f"catalog incomplete, listing stopped: {exc}")
            break
        try:
            run = request_report_run(RequestReportRun(
                tenant_id=spec.tenant_id, property_id=spec.property_id, requested_by="bench",
                template_key=template.key, run_date=yesterday, idempotency_key=f"t-{template.key}",
                formats=tuple(template.formats)), services.deps).run
            with services.uow(spec.tenant_id) as uow:
                run_obj = uow.runs.get(run.run_id)
                version = uow.templates.get_version(run_obj.template_version_id)
                prop = uow.properties.get(spec.property_id)
            rows = warehouse.query(version.dataset_sql, dataset_params(run_obj, prop))
            context = render_context(run_obj, version, prop, services.clock.now())
        except DomainError as exc:
            print(f"{template.key:<30}skipped: {exc.code} {exc.message}")
            continue
        for fmt in version.formats:
            request = RenderRequest(version.layout, fmt, run_obj.locale, rows, context)
            seconds, data = timed(lambda: renderer.render(request), repeat)
            pages = pdf_pages(data) if fmt == "pdf" else 1
            if fmt == "pdf":
                html = renderer.html(request)
                base_label = "one xhtml2pdf pass"
                base, _ = timed(lambda: pisa.CreatePDF(html, dest=io.BytesIO(), encoding="utf-8",
                                                       link_callback=_safe_link), repeat)
            elif fmt == "html":
                sandboxed = _env_for(run_obj.locale)
                plain = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                           lstrip_blocks=True)
                plain.globals.update(sandboxed.globals)
                plain.filters.update(sandboxed.filters)
                base_label = "plain Jinja2 (no sandbox)"
                base, _ = timed(lambda: plain.from_string(version.layout).render(rows=rows, **context), repeat)
            else:
                def bare_csv() -> str:
                    buf = io.StringIO()
                    writer = csv.writer(buf)
                    writer.writerows([list(r.values()) for r in rows])
                    return buf.getvalue()

                base_label = "bare csv.writer"
                base, _ = timed(bare_csv, repeat)
            print(f"{template.key:<30}{fmt:<5}{len(rows):>6}{pages:>6}{seconds * 1000:>9.1f}"
                  f"{pages / seconds:>9.1f}{base * 1000:>13.1f}{seconds / base:>6.2f}x  {base_label}")


def pipeline_overhead(services: Any, spec: Any, yesterday: Any, timed_renderer: TimedRenderer, runs: int) -> None:
    from reporting.entrypoints.consumers import consume
    from reporting.service_layer.commands import PublishTemplateVersion, RequestReportRun
    from reporting.service_layer.report_runs import request_report_run
    from reporting.service_layer.templates import publish_template_version
    from tests.integration.helpers import requested_cloud_event

    publish_template_version(PublishTemplateVersion(
        tenant_id=spec.tenant_id, template_key="bench_room_nights", name="Room nights (bench)",
        layout=NIGHTS_LAYOUT, dataset_sql=NIGHTS_SQL, params_schema={"type": "object"},
        published_by="bench"), services.deps)
    totals, renders, pages = [], [], 0
    for i in range(runs + 1):
        run = request_report_run(RequestReportRun(
            tenant_id=spec.tenant_id, property_id=spec.property_id, requested_by="bench",
            template_key="bench_room_nights", run_date=yesterday - timedelta(days=i), idempotency_key=f"p{i}",
            formats=("pdf",)), services.deps).run
        event = requested_cloud_event(services, spec.tenant_id, run.run_id)
        timed_renderer.seconds = 0.0
        t0 = time.perf_counter()
        consume("render", event, services)
        total = time.perf_counter() - t0
        if i == 0:  # warm-up: imports, first connections, compiled template
            continue
        totals.append(total)
        renders.append(timed_renderer.seconds)
        pages = pdf_pages(timed_renderer.last)
    total, render = statistics.median(totals), statistics.median(renders)
    overhead = total - render
    print(f"\npipeline overhead: consume('render') of a tenant room-nights report ({pages} pages, pdf), "
          f"median of {runs}")
    print(f"{'render use case (claim, dataset, render, store, complete)':<60}{total * 1000:>10.0f} ms")
    print(f"{'baseline: time inside DocumentRenderer.render':<60}{render * 1000:>10.0f} ms")
    print(f"overhead {overhead * 1000:.0f} ms = {overhead / render:.1%} of render time "
          f"(target <= {TARGET_OVERHEAD:.0%}) {'MET' if overhead / render <= TARGET_OVERHEAD else 'NOT MET'}")


def with_database(repeat: int, pipeline_runs: int) -> None:
    from reporting.adapters.postgres.connection import local_connection_factory
    from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
    from reporting.bootstrap import Services
    from reporting.config import Settings
    from reporting.devenv import postgres as pg
    from reporting.devenv.synthetic_hotels import DEMO_HOTELS, generate, load_into
    from reporting.domain.tenant import Property, Residency, Tenant
    from reporting.service_layer.ports import business_yesterday
    from reporting.service_layer.tenants import sync_property, sync_tenant

    scratch = pg.scratch_database("bench-render-")
    work, app = scratch.work, scratch.app
    try:
        settings = Settings.from_env({"REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": app.url(),
                                      "REPORTING_ARTIFACT_DIR": str(work / "artifacts"),
                                      "REPORTING_DEAD_LETTER_DIR": str(work / "dlq")})
        warehouse = DuckDBWarehouse(None)
        timed_renderer = TimedRenderer()
        services = Services(settings, conn_factory=local_connection_factory(app), warehouse=warehouse,
                            renderer=timed_renderer)  # type: ignore[arg-type]
        spec = dataclasses.replace(DEMO_HOTELS[0], tenant_id=str(uuid.uuid4()), property_id=str(uuid.uuid4()))
        yesterday = business_yesterday(services.clock.now(), spec.timezone)
        load_into(warehouse, generate(spec, yesterday - timedelta(days=89), yesterday))
        sync_tenant(Tenant(spec.tenant_id, "bench", Residency.AF, "local-af", features={"reporting_v1": True}),
                    services.deps)
        sync_property(Property(spec.property_id, spec.tenant_id, spec.name, spec.timezone, spec.currency,
                               spec.country, "en", spec.room_count), services.deps)
        per_template(services, spec, yesterday, warehouse, repeat)
        try:
            pipeline_overhead(services, spec, yesterday, timed_renderer, pipeline_runs)
        except Exception as exc:  # the catalog is edited concurrently: say so, keep the other figures
            print(f"\npipeline overhead: skipped ({type(exc).__name__}: {exc})")
        services.close()
    finally:
        scratch.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small-rows", type=int, default=80, help="about 5 pages of the in-house list")
    parser.add_argument("--large-rows", type=int, default=1900, help="about 100 pages of the in-house list")
    parser.add_argument("--pipeline-runs", type=int, default=3)
    parser.add_argument("--skip", choices=["templates", "scaling"], action="append", default=[])
    parser.add_argument("--child", choices=["paged", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows)
        return 0
    if "scaling" not in args.skip:  # first, while this process is small and the machine quiet
        scaling(args.small_rows, args.large_rows)
    if "templates" not in args.skip:
        with_database(args.repeat, args.pipeline_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
