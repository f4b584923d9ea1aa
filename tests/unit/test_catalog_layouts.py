"""The ten new catalog layouts rendered for real (xhtml2pdf PDF, CSV, HTML) from the synthetic hotels' data."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timezone
from html.parser import HTMLParser
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from pypdf import PdfReader

from reporting.adapters.renderers.document import DocumentRenderer
from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.catalog.i18n import RTL_LOCALES
from reporting.catalog.platform import PlatformTemplate, platform_templates
from reporting.devenv.synthetic_hotels import DEMO_HOTELS, HotelSpec, generate, load_into
from reporting.service_layer.ports import RenderRequest

START = date(2025, 3, 1)
RUN_DATE = date(2025, 3, 14)
END = date(2025, 3, 15)
KABUL, JAIPUR, RIYADH = DEMO_HOTELS
OPERATIONAL = ("arrivals", "departures", "in_house_guests", "housekeeping_status", "revenue_by_segment",
               "cashier_shift", "no_shows_cancellations")
REGULATORY = {  # key: (hotel, locales, retention class, adapter)
    "af_police_guest_register": (KABUL, ["en", "ps", "fa-AF"], "regulatory-af-police", "af_police"),
    "ksa_vat_invoices": (RIYADH, ["en", "ar"], "regulatory-ksa-vat", "ksa_zatca"),
    "in_form_c": (JAIPUR, ["en", "hi"], "regulatory-in-formc", "in_form_c"),
}
KEYS = (*OPERATIONAL, *REGULATORY)
# A column whose first-row value identifies that row in the PDF's text.
KNOWN_VALUE = {
    "arrivals": "confirmation_number", "departures": "confirmation_number", "in_house_guests": "confirmation_number",
    "housekeeping_status": "room_number", "revenue_by_segment": "rooms_sold_mtd", "cashier_shift": "cashier_id",
    "no_shows_cancellations": "confirmation_number", "af_police_guest_register": "document_number",
    "ksa_vat_invoices": "invoice_number", "in_form_c": "passport_number",
}
EMPTY_MESSAGE = {
    "arrivals": "No arrivals on this date.", "departures": "No departures on this date.",
    "in_house_guests": "No guests in house on this date.", "housekeeping_status": "No rooms.",
    "revenue_by_segment": "No revenue this month.", "cashier_shift": "No payments on this date.",
    "no_shows_cancellations": "No no-shows or cancellations on this date.",
    "af_police_guest_register": "No guest check-ins or check-outs on this date.",
    "ksa_vat_invoices": "No invoices issued on this date.", "in_form_c": "No foreign guests arrived on this date.",
}
TEMPLATES = {t.key: t for t in platform_templates()}


def hotel_for(key: str) -> HotelSpec:
    """The demo hotel a template is for (operational ones: Kabul)."""
    return REGULATORY[key][0] if key in REGULATORY else KABUL


@pytest.fixture(scope="module")
def warehouse() -> Iterator[DuckDBWarehouse]:
    """Two weeks of the three demo hotels."""
    wh = DuckDBWarehouse()
    for spec in DEMO_HOTELS:
        load_into(wh, generate(spec, START, END))
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def renderer() -> DocumentRenderer:
    return DocumentRenderer()


def dataset_rows(wh: DuckDBWarehouse, key: str, spec: HotelSpec, run_date: date = RUN_DATE) -> list[dict[str, Any]]:
    return wh.query(TEMPLATES[key].dataset_sql, {
        "tenant_id": spec.tenant_id, "property_id": spec.property_id, "run_date": run_date,
        "deduct_out_of_order": spec.deduct_out_of_order})


def context(template: PlatformTemplate, spec: HotelSpec, locale: str, run_date: date = RUN_DATE) -> dict[str, Any]:
    """What the render use case passes a layout (service_layer/render_report_run.py _context)."""
    return {
        "property": {"id": spec.property_id, "name": spec.name, "timezone": spec.timezone,
                     "currency": spec.currency, "country": spec.country},
        "run": {"id": "run-1", "run_date": run_date, "origin": "user", "params": {}},
        "template": {"key": template.key, "version": template.version, "snapshot_hash": "0" * 64},
        "generated_at": datetime(2025, 3, 15, 4, 30, tzinfo=timezone.utc).astimezone(ZoneInfo(spec.timezone)),
        "locale": locale,
    }


def render(renderer: DocumentRenderer, key: str, rows: list[dict[str, Any]], fmt: str, locale: str = "en",
           run_date: date = RUN_DATE) -> bytes:
    template = TEMPLATES[key]
    return renderer.render(RenderRequest(layout=template.layout, fmt=fmt, locale=locale, rows=rows,
                                         context=context(template, hotel_for(key), locale, run_date)))


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def text_positions(pdf: bytes) -> list[tuple[float, float, str]]:
    """(x, y, text) of every text run on the first page, in page space."""
    out: list[tuple[float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: Any) -> None:
        if text.strip():
            out.append((tm[4] * cm[0] + tm[5] * cm[2] + cm[4], tm[4] * cm[1] + tm[5] * cm[3] + cm[5], text.strip()))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return out


class GridScan(HTMLParser):
    """The structure the page-group renderer relies on: grid tables, their thead/tbody and body rows."""

    def __init__(self) -> None:
        super().__init__()
        self.grids: list[dict[str, Any]] = []
        self.stack: list[str] = []
        self.in_grid = False
        self.section: str | None = None
        self.html_dir: str | None = None
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_dir = a.get("dir")
        for name in ("src", "href"):
            if a.get(name):
                self.resources.append(a[name] or "")
        if tag == "table" and "grid" in (a.get("class") or "").split():
            self.grids.append({"repeat": a.get("repeat"), "thead": 0, "tbody": 0, "rows": [], "head_rows": 0})
            self.in_grid = True
        elif self.in_grid and tag in ("thead", "tbody"):
            self.grids[-1][tag] += 1
            self.section = tag
        elif self.in_grid and tag == "tr":
            if self.section == "tbody":
                self.grids[-1]["rows"].append((a.get("class") or "").split())
            elif self.section == "thead":
                self.grids[-1]["head_rows"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.in_grid = False
        elif tag in ("thead", "tbody"):
            self.section = None


def scan(html: bytes) -> GridScan:
    parser = GridScan()
    parser.feed(html.decode("utf-8"))
    return parser


# -- the manifests --------------------------------------------------------------------------------


def test_catalog_holds_daily_occupancy_and_the_ten_new_templates() -> None:
    assert sorted(TEMPLATES) == sorted(("daily_occupancy", *KEYS))


@pytest.mark.parametrize("key", KEYS)
def test_manifest_declares_formats_locales_retention_and_a_closed_params_schema(key: str) -> None:
    """pdf/csv/html; the authority's language plus English for regulatory ones; additionalProperties false."""
    template = TEMPLATES[key]
    meta = json.loads(resources.files("reporting.catalog").joinpath(f"{key}/template.json").read_text("utf-8"))
    assert meta["key"] == key and template.version == 1
    assert template.formats == ["pdf", "csv", "html"]
    if key in REGULATORY:
        _, locales, retention, adapter = REGULATORY[key]
        assert (template.category, template.locales, template.retention_class, template.regulatory_adapter) == (
            "regulatory", locales, retention, adapter)
    else:
        assert (template.category, template.locales, template.retention_class, template.regulatory_adapter) == (
            "operational", ["en", "ps", "fa-AF", "ar", "hi"], "operational", None)
    schema = template.params_schema
    assert schema["additionalProperties"] is False
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"colour": "red"}, schema)


# -- the layout sources ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_layout_source_keeps_the_page_contract(key: str) -> None:
    """A4 with the footer frame, no font-family (the renderer injects it), no external resources."""
    layout = TEMPLATES[key].layout
    assert "size: a4" in layout and "-pdf-frame-content: page-footer" in layout
    assert '<div id="page-footer">' in layout
    for required in ("run.run_date | longdate", "generated_at | datetime", "property.timezone", "template.key",
                     "template.version", "<pdf:pagenumber>", "<pdf:pagecount>", "property.name"):
        assert required in layout.split('<div id="page-footer">', 1)[1].split("</div>", 1)[0], required
    code = re.sub(r"\{#.*?#\}", "", layout, flags=re.S)
    [style] = re.findall(r"<style>(.*?)</style>", code, flags=re.S)
    assert "font-family" not in style
    assert not re.search(r"(src|href)\s*=|url\(|@import|https?:|file:", code, re.I)
    assert layout.count('<table class="grid" repeat="1">') == 1


@pytest.mark.parametrize("key", KEYS)
def test_every_visible_word_goes_through_the_translation_function(key: str) -> None:
    """Strip comments, Jinja, CSS and tags from the layout: no letters may be left outside _()."""
    text = TEMPLATES[key].layout
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
    text = re.sub(r"<style>.*?</style>", "", text, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", text, flags=re.S)
    text = re.sub(r"<[^>]*>", "", text)
    assert not re.findall(r"[^\W\d_]{2,}", text), f"untranslated text in {key}: {text.strip()[:200]}"
    # Translated strings must survive newstyle gettext's %-formatting: no bare % in a msgid.
    assert not re.findall(r'_\("[^"]*%[^"]*"\)', TEMPLATES[key].layout)


# -- real renders ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_pdf_shows_the_property_a_known_row_and_numbered_pages(
    warehouse: DuckDBWarehouse, renderer: DocumentRenderer, key: str
) -> None:
    """A real PDF: property name, business date, the first row's identifying value, "Page x of n" on every page."""
    spec = hotel_for(key)
    rows = dataset_rows(warehouse, key, spec)
    assert rows
    pdf = render(renderer, key, rows, "pdf")
    assert pdf.startswith(b"%PDF-")
    pages = pages_text(pdf)
    known = rows[0][KNOWN_VALUE[key]]
    known = f"{known:,}" if isinstance(known, int) else str(known)
    assert known in "\n".join(pages)
    for number, text in enumerate(pages, start=1):
        flat = " ".join(text.split())
        assert spec.name in flat and key in flat
        assert f"Page {number} of {len(pages)}" in flat
        assert "14 March 2025" in flat  # the business date, long form, in the footer


@pytest.mark.parametrize("key", KEYS)
def test_csv_is_utf8_with_bom_and_the_dataset_columns_as_header(
    warehouse: DuckDBWarehouse, renderer: DocumentRenderer, key: str
) -> None:
    spec = hotel_for(key)
    rows = dataset_rows(warehouse, key, spec)
    data = render(renderer, key, rows, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == list(rows[0])
    assert len(table) == len(rows) + 1
    column = list(rows[0]).index(KNOWN_VALUE[key])
    assert table[1][column] == str(rows[0][KNOWN_VALUE[key]])


@pytest.mark.parametrize("key", KEYS)
def test_html_has_one_grid_table_with_a_repeated_head_and_the_rows_in_its_body(
    warehouse: DuckDBWarehouse, renderer: DocumentRenderer, key: str
) -> None:
    """In every offered locale: one table.grid repeat=1, one thead, one tbody with the data rows, totals last."""
    template = TEMPLATES[key]
    rows = dataset_rows(warehouse, key, hotel_for(key))
    for locale in template.locales:
        page = scan(render(renderer, key, rows, "html", locale))
        assert page.html_dir == ("rtl" if locale in RTL_LOCALES else "ltr")
        assert page.resources == []
        [grid] = page.grids
        assert (grid["repeat"], grid["thead"], grid["tbody"], grid["head_rows"]) == ("1", 1, 1, 1)
        body = grid["rows"]
        if key == "cashier_shift":  # per-method totals sit in the summary above the table
            assert len(body) == len([r for r in rows if r["row_kind"] != "method_total"])
        elif key == "ksa_vat_invoices":  # the layout adds the total of the day's invoices
            assert len(body) == len(rows) + 1
        else:
            assert len(body) == len(rows)
        totals = [i for i, classes in enumerate(body) if "total" in classes]
        if key in ("revenue_by_segment", "cashier_shift", "no_shows_cancellations", "ksa_vat_invoices"):
            assert totals == [len(body) - 1]
        else:
            assert totals == []


@pytest.mark.parametrize("key", KEYS)
def test_no_rows_render_a_one_page_pdf_saying_so(warehouse: DuckDBWarehouse, renderer: DocumentRenderer,
                                                 key: str) -> None:
    """An empty day (the dataset's own empty result) renders cleanly with the layout's message."""
    with DuckDBWarehouse() as empty:
        rows = dataset_rows(empty, key, hotel_for(key))
    pdf = render(renderer, key, rows, "pdf")
    [text] = pages_text(pdf)
    assert EMPTY_MESSAGE[key] in " ".join(text.split())
    assert "Page 1 of 1" in " ".join(text.split())


def test_long_list_repeats_its_header_and_footer_on_every_page(
    warehouse: DuckDBWarehouse, renderer: DocumentRenderer
) -> None:
    """Riyadh's 120 rooms span pages: each has the column header, the footer and its page number."""
    rows = dataset_rows(warehouse, "housekeeping_status", RIYADH)
    template = TEMPLATES["housekeeping_status"]
    pdf = renderer.render(RenderRequest(layout=template.layout, fmt="pdf", locale="en", rows=rows,
                                        context=context(template, RIYADH, "en")))
    pages = pages_text(pdf)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        flat = " ".join(text.split())
        assert "Housekeeping Service Movement" in flat
        assert f"Page {number} of {len(pages)}" in flat and RIYADH.name in flat
    room_numbers = {r["room_number"] for r in rows}
    assert all(n in "\n".join(pages) for n in room_numbers)


def _x_of(pdf: bytes, value: str) -> float:
    """x of the table cell showing `value` on the first page (RTL lines come as several runs of one cell)."""
    cells: dict[tuple[float, float], list[str]] = {}
    for x, y, text in text_positions(pdf):
        cells.setdefault((round(x, 1), round(y, 1)), []).append(text)
    [x] = [x for (x, _), texts in cells.items() if "".join(texts).replace(" ", "") == value.replace(" ", "")]
    return x


@pytest.mark.parametrize(("key", "rtl_locale", "earlier", "later"), [
    ("arrivals", "ps", "confirmation_number", "guest_name"),
    ("arrivals", "ar", "confirmation_number", "guest_name"),
    ("ksa_vat_invoices", "ar", "invoice_number", "invoice_uuid"),
])
def test_right_to_left_pages_read_their_columns_from_the_right(
    warehouse: DuckDBWarehouse, renderer: DocumentRenderer, key: str, rtl_locale: str, earlier: str, later: str
) -> None:
    """An earlier column sits left of a later one in English and right of it in Pashto and Arabic."""
    rows = dataset_rows(warehouse, key, hotel_for(key))
    ltr, rtl = (render(renderer, key, rows, "pdf", locale) for locale in ("en", rtl_locale))
    assert _x_of(ltr, rows[0][earlier]) < _x_of(ltr, rows[0][later])
    assert _x_of(rtl, rows[0][earlier]) > _x_of(rtl, rows[0][later])


def test_ksa_layout_totals_the_days_invoices(warehouse: DuckDBWarehouse, renderer: DocumentRenderer) -> None:
    """The total row the layout adds sums net, VAT and total of the rows it was given."""
    rows = dataset_rows(warehouse, "ksa_vat_invoices", RIYADH)
    text = " ".join(pages_text(render(renderer, "ksa_vat_invoices", rows, "pdf"))[-1].split())
    vat = sum(r["vat_amount"] for r in rows)
    total = sum(r["total_amount"] for r in rows)
    assert f"Total {sum(r['net_amount'] for r in rows):,.2f} {vat:,.2f} {total:,.2f}" in text
