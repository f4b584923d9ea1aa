"""Golden snapshots (plan §8) of the operational platform templates: normalised HTML, PDF text and page count.

The 8 operational templates in English, Pashto and Dari (the Kabul demo hotel), and the daily
occupancy in Arabic (Riyadh) and Hindi (Jaipur), rendered from the deterministic synthetic
hotels for a fixed business date and a fixed generation time, through the render use case's own
inputs (dataset_params, render_context) and the real renderer. Regenerate on purpose with
`make goldens` — after looking at the pages as a reader would (`pdftoppm -png`), since a golden
only proves the output did not change, not that it was right.
"""
from __future__ import annotations

import io
import json
import re
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN_DATE = date(2026, 11, 20)
GENERATED_AT = datetime(2026, 11, 21, 4, 30, tzinfo=timezone.utc)
HISTORY_DAYS = 30
COUNTRY_OF = {"en": "AF", "ps": "AF", "fa-AF": "AF", "ar": "SA", "hi": "IN"}


@dataclass(frozen=True)
class Case:
    template_key: str
    locale: str

    @property
    def stem(self) -> Path:
        return HERE / self.template_key / self.locale


def cases() -> list[Case]:
    from reporting.catalog.platform import platform_templates

    operational = sorted(t.key for t in platform_templates() if t.category == "operational")
    found = [Case(k, loc) for k in operational for loc in ("en", "ps", "fa-AF")]
    return found + [Case("daily_occupancy", "ar"), Case("daily_occupancy", "hi")]


def normalise_html(html: str) -> str:
    return re.sub(r"\s+", " ", html).strip()


def normalise_text(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


def render(case: Case, warehouse_cache: dict | None = None) -> dict:
    """html, pdf (bytes), pdf_text (per page), pages."""
    from pypdf import PdfReader

    from reporting.adapters.renderers.document import DocumentRenderer
    from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
    from reporting.catalog.platform import platform_templates
    from reporting.devenv.synthetic_hotels import DEMO_HOTELS, generate, load_into
    from reporting.domain.report_run import ReportRun, RunOrigin
    from reporting.domain.template import TemplateVersion, VersionStatus
    from reporting.domain.tenant import Property
    from reporting.service_layer.ports import RenderRequest
    from reporting.service_layer.render_report_run import dataset_params, render_context

    spec = next(h for h in DEMO_HOTELS if h.country == COUNTRY_OF[case.locale])
    cache = warehouse_cache if warehouse_cache is not None else {}
    if spec.country not in cache:
        warehouse = DuckDBWarehouse(None)
        load_into(warehouse, generate(spec, RUN_DATE - timedelta(days=HISTORY_DAYS - 1), RUN_DATE))
        cache[spec.country] = warehouse
    warehouse = cache[spec.country]
    t = next(t for t in platform_templates() if t.key == case.template_key)
    version = TemplateVersion(
        template_version_id=t.template_version_id, template_id=t.template_id, tenant_id=None, version=t.version,
        status=VersionStatus.PUBLISHED, layout=t.layout, dataset_sql=t.dataset_sql, params_schema=t.params_schema,
        formats=t.formats, locales=t.locales, retention_class=t.retention_class, catalog_hash=t.catalog_hash,
        regulatory_adapter=t.regulatory_adapter, snapshot_hash=t.snapshot_hash, template_key=t.key)
    prop = Property(property_id=spec.property_id, tenant_id=spec.tenant_id, name=spec.name, timezone=spec.timezone,
                    currency=spec.currency, country=spec.country, locale=case.locale, room_count=spec.room_count,
                    settings={"deduct_out_of_order": spec.deduct_out_of_order})
    run = ReportRun.request(
        run_id="00000000-0000-4000-8000-00000000f00d", tenant_id=spec.tenant_id, property_id=spec.property_id,
        template_version_id=t.template_version_id, snapshot_hash=t.snapshot_hash, params={}, locale=case.locale,
        formats=["pdf", "html"], run_date=RUN_DATE, origin=RunOrigin.SCHEDULE, idempotency_key="golden",
        request_hash="0" * 64, requested_by="goldens", correlation_id="00000000-0000-4000-8000-00000000c0de",
        now=GENERATED_AT)
    rows = warehouse.query(t.dataset_sql, dataset_params(run, prop))
    context = render_context(run, version, prop, GENERATED_AT)
    renderer = DocumentRenderer()
    html = renderer.render(RenderRequest(layout=t.layout, fmt="html", locale=case.locale, rows=rows,
                                         context=context)).decode("utf-8")
    pdf = renderer.render(RenderRequest(layout=t.layout, fmt="pdf", locale=case.locale, rows=rows, context=context))
    reader = PdfReader(io.BytesIO(pdf))
    return {"html": html, "pdf": pdf, "pages": len(reader.pages),
            "pdf_text": [normalise_text(p.extract_text()) for p in reader.pages]}


def write(case: Case, rendered: dict, *, with_pdf: bool = False) -> None:
    case.stem.parent.mkdir(parents=True, exist_ok=True)
    case.stem.with_suffix(".html").write_text(normalise_html(rendered["html"]) + "\n", encoding="utf-8")
    case.stem.with_suffix(".pdf.json").write_text(json.dumps(
        {"pages": rendered["pages"], "text": rendered["pdf_text"]}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8")
    if with_pdf:
        case.stem.with_suffix(".pdf").write_bytes(rendered["pdf"])


def main(argv: list[str]) -> int:
    """`make goldens`: regenerate every snapshot (and, with --pdf DIR, keep the PDFs there to look at)."""
    pdf_dir = Path(argv[argv.index("--pdf") + 1]) if "--pdf" in argv else None
    cache: dict = {}
    for case in cases():
        rendered = render(case, cache)
        write(case, rendered)
        if pdf_dir:
            target = pdf_dir / case.template_key / f"{case.locale}.pdf"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(rendered["pdf"])
        print(f"{case.template_key:24} {case.locale:6} {rendered['pages']} page(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
