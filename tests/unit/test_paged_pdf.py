"""Long PDFs in page groups (paged_pdf): footers, headers, row order, summary/total placement, RTL, size bounds."""
from __future__ import annotations

import io
import re
from datetime import date, datetime, timezone
from typing import Any

import pytest
from pypdf import PdfReader

from reporting.adapters.renderers.document import DocumentRenderer, _safe_link
from reporting.adapters.renderers.paged_pdf import PdfLimits, render_pdf
from reporting.domain.errors import RenderFailed
from reporting.service_layer.ports import RenderRequest

# An in-house guest list as the platform layouts are written: A4, a page-number footer frame,
# summary blocks above exactly one `table.grid` with a thead, data rows and a total row last.
IN_HOUSE_LAYOUT = """<!DOCTYPE html>
<html lang="{{ lang }}" dir="{{ dir }}">
<head>
<meta charset="utf-8">
<title>In-house guests · {{ property.name }}</title>
<style>
  @page {
    size: a4;
    margin: 1.6cm 1.4cm 2cm 1.4cm;
    @frame footer { -pdf-frame-content: page-footer; bottom: 0.8cm; margin-left: 1.4cm; margin-right: 1.4cm; height: 1cm; }
  }
  body { font-family: Helvetica; font-size: 9pt; color: #1d2733; }
  h1 { font-size: 16pt; color: #0b3d5c; }
  .summary td { padding: 4pt 8pt; border: 0.5pt solid #c7d2dc; background-color: #f2f6f9; }
  table.grid { width: 100%; margin-top: 10pt; }
  table.grid th { background-color: #0b3d5c; color: #ffffff; padding: 3pt; text-align: left; }
  table.grid td { padding: 2pt 3pt; border-bottom: 0.5pt solid #d8e0e7; }
  table.grid tr.total td { font-weight: bold; border-top: 1pt solid #0b3d5c; }
  #page-footer { font-size: 7.5pt; color: #6b7886; }
</style>
</head>
<body>
{#- Words in English whatever the locale: the assertions read them back; dir alone makes it RTL. -#}
<div id="page-footer">
  {{ property.name }} · Business date {{ run.run_date.isoformat() }} ·
  Template {{ template.key }} v{{ template.version }} ·
  Page <pdf:pagenumber> of <pdf:pagecount>
</div>
<h1>{{ property.name }} — In-house guests</h1>
<table class="summary"><tr>
  <td>In-house summary: {{ rows | length - 1 }} stays</td><td>Adults {{ rows | sum(attribute="adults") }}</td>
</tr></table>
{% set cols = ["room", "guest", "nationality", "arrival", "departure", "adults", "balance"] %}
{% set heads = {"room": "Room no", "guest": "Guest name", "nationality": "Nationality", "arrival": "Arrival",
                "departure": "Departure", "adults": "Adults", "balance": "Balance"} %}
{% if dir == "rtl" %}{% set cols = cols | reverse | list %}{% endif %}
<table class="grid" repeat="1">
  <thead>
    <tr>{% for c in cols %}<th>{{ heads[c] }}</th>{% endfor %}</tr>
  </thead>
  <tbody>
  {% for row in rows %}
    <tr{% if row.is_total %} class="total"{% endif %}>{% for c in cols %}<td>{{ row[c] }}</td>{% endfor %}</tr>
  {% endfor %}
  </tbody>
</table>
<p>End of list note</p>
</body>
</html>
"""

ROW_ID = re.compile(r"R(\d{5})")
FOOTER = re.compile(r"Page (\d+) of (\d+)")


def in_house_rows(count: int) -> list[dict[str, Any]]:
    """`count` stays (every 7th with a name long enough to wrap, so rows differ in height) and a total row."""
    rows: list[dict[str, Any]] = []
    for i in range(1, count + 1):
        name = f"Guest {i} " + ("Abdulrahman Mohammed Al-Qahtani Family Group" if i % 7 == 0 else "Example")
        rows.append({"room": f"R{i:05d}", "guest": name, "nationality": "DE", "arrival": "2026-11-20",
                     "departure": "2026-11-27", "adults": 1 + i % 3, "balance": f"{i * 10:,}.00",
                     "is_total": False})
    rows.append({"room": "TOTALS", "guest": "All guests total", "nationality": "", "arrival": "",
                 "departure": "", "adults": sum(r["adults"] for r in rows), "balance": "", "is_total": True})
    return rows


def context() -> dict[str, Any]:
    return {"property": {"id": "p1", "name": "Bagh-e-Bala Hotel", "timezone": "Asia/Kabul", "currency": "AFN",
                         "country": "AF"},
            "run": {"id": "r1", "run_date": date(2026, 11, 23), "origin": "user", "params": {}},
            "template": {"key": "in_house_guests", "version": 1, "snapshot_hash": "x"},
            "generated_at": datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc), "locale": "en"}


def in_house_html(count: int, locale: str = "en") -> str:
    return DocumentRenderer().html(RenderRequest(IN_HOUSE_LAYOUT, "pdf", locale, in_house_rows(count), context()))


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def row_ids(text: str) -> list[int]:
    return [int(n) for n in ROW_ID.findall(text)]


def one_pass(html: str) -> bytes:
    """The same document as one xhtml2pdf pass: what the paged render must read like."""
    return render_pdf(html, limits=PdfLimits(single_pass_rows=10**6))


ROWS = 320


@pytest.fixture(scope="module")
def long_list() -> list[str]:
    pdf = DocumentRenderer().render(RenderRequest(IN_HOUSE_LAYOUT, "pdf", "en", in_house_rows(ROWS), context()))
    return pages_text(pdf)


@pytest.fixture(scope="module")
def long_list_one_pass() -> list[str]:
    return pages_text(one_pass(in_house_html(ROWS)))


def test_long_list_every_footer_reads_page_i_of_n(long_list: list[str]) -> None:
    assert len(long_list) > 10
    footers = [FOOTER.findall(text) for text in long_list]
    assert footers == [[(str(i), str(len(long_list)))] for i in range(1, len(long_list) + 1)]
    assert all("Bagh-e-Bala Hotel · Business date 2026-11-23" in text for text in long_list)


def test_long_list_paginates_exactly_like_one_document(long_list: list[str],
                                                       long_list_one_pass: list[str]) -> None:
    # Same page count and the same first/last row on every page: group seams leave no short pages.
    assert len(long_list) == len(long_list_one_pass)
    assert [(ids[0], ids[-1]) for ids in map(row_ids, long_list)] == \
        [(ids[0], ids[-1]) for ids in map(row_ids, long_list_one_pass)]


def test_many_small_groups_paginate_exactly_like_one_document(long_list_one_pass: list[str]) -> None:
    pages = pages_text(render_pdf(in_house_html(ROWS), limits=PdfLimits(first_group_rows=30, pages_per_group=1)))
    assert [(ids[0], ids[-1]) for ids in map(row_ids, pages)] == \
        [(ids[0], ids[-1]) for ids in map(row_ids, long_list_one_pass)]
    assert [FOOTER.findall(t) for t in pages] == [[(str(i), str(len(pages)))] for i in range(1, len(pages) + 1)]


def test_long_list_header_row_is_repeated_on_every_page(long_list: list[str]) -> None:
    for text in long_list:
        assert "Room no" in text and "Guest name" in text and "Balance" in text


def test_long_list_rows_are_in_order_none_lost_or_duplicated(long_list: list[str]) -> None:
    seen = [n for text in long_list for n in row_ids(text)]
    assert seen == list(range(1, ROWS + 1))
    assert all(row_ids(text) for text in long_list)  # no page without rows


def test_summary_only_on_first_page_total_and_trailing_note_only_on_last(long_list: list[str]) -> None:
    assert ["In-house summary" in text for text in long_list] == [True] + [False] * (len(long_list) - 1)
    assert ["All guests total" in text for text in long_list] == [False] * (len(long_list) - 1) + [True]
    assert ["End of list note" in text for text in long_list] == [False] * (len(long_list) - 1) + [True]


def test_rtl_document_keeps_footers_headers_and_row_order() -> None:
    html = in_house_html(260, locale="ar")
    assert 'dir="rtl"' in html
    pages = pages_text(render_pdf(html, limits=PdfLimits(single_pass_rows=50, first_group_rows=60)))
    assert len(pages) > 5
    assert [FOOTER.findall(t) for t in pages] == [[(str(i), str(len(pages)))] for i in range(1, len(pages) + 1)]
    assert [n for t in pages for n in row_ids(t)] == list(range(1, 261))
    assert all("Room no" in t for t in pages)
    assert "All guests total" in pages[-1]


def test_rows_whose_first_cell_cannot_be_located_are_still_all_there_once() -> None:
    # Empty first cells give pypdf nothing to find: groups then keep their short last page.
    rows = in_house_rows(200)
    for row in rows[::9]:
        row["room"] = ""
    html = DocumentRenderer().html(RenderRequest(IN_HOUSE_LAYOUT, "pdf", "en", rows, context()))
    pages = pages_text(render_pdf(html, limits=PdfLimits(single_pass_rows=50, first_group_rows=60)))
    expected = [n for n in range(1, 201) if (n - 1) % 9]
    assert [n for t in pages for n in row_ids(t)] == expected
    assert [FOOTER.findall(t) for t in pages] == [[(str(i), str(len(pages)))] for i in range(1, len(pages) + 1)]


def test_too_many_rows_is_refused_before_rendering_with_the_limit_stated() -> None:
    with pytest.raises(RenderFailed, match="more than 150 \\(the limit\\)") as caught:
        render_pdf(in_house_html(200), limits=PdfLimits(max_rows=150))
    assert caught.value.permanent
    assert caught.value.details["limit_rows"] == 150


def test_too_many_pages_stops_the_render_with_the_limit_stated() -> None:
    with pytest.raises(RenderFailed, match="more than 4 PDF pages \\(the limit\\)") as caught:
        render_pdf(in_house_html(400), limits=PdfLimits(max_pages=4, single_pass_rows=50, first_group_rows=60))
    assert caught.value.permanent
    assert caught.value.details["limit_pages"] == 4


def test_a_short_single_pass_document_is_also_bounded_in_pages() -> None:
    with pytest.raises(RenderFailed, match="more than 2 PDF pages"):
        render_pdf(in_house_html(100), limits=PdfLimits(max_pages=2))


def test_oversized_html_is_refused_with_the_limit_stated() -> None:
    with pytest.raises(RenderFailed, match="exceeds 1000 characters"):
        render_pdf(in_house_html(30), limits=PdfLimits(max_html_chars=1000))


def test_short_document_renders_in_one_pass_as_before() -> None:
    from xhtml2pdf import pisa

    html = in_house_html(40)
    out = io.BytesIO()
    pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=_safe_link)
    ours = PdfReader(io.BytesIO(render_pdf(html)))
    before = PdfReader(io.BytesIO(out.getvalue()))
    assert [p.extract_text() for p in ours.pages] == [p.extract_text() for p in before.pages]
    # One pass keeps xhtml2pdf's own outline (the h1); page groups do not carry it.
    assert [e.title for e in ours.outline] == [e.title for e in before.outline] != []


def test_document_without_a_grid_table_renders_in_one_pass() -> None:
    html = in_house_html(150).replace('class="grid"', 'class="plain"')
    pages = pages_text(render_pdf(html, limits=PdfLimits(single_pass_rows=10)))
    assert [n for t in pages for n in row_ids(t)] == list(range(1, 151))
    assert FOOTER.findall(pages[-1]) == [(str(len(pages)), str(len(pages)))]


def test_extra_css_reaches_every_group() -> None:
    html = in_house_html(150)
    limits = PdfLimits(single_pass_rows=50, first_group_rows=60)
    plain = pages_text(render_pdf(html, limits=limits))
    bigger = pages_text(render_pdf(html, extra_css="table.grid td { font-size: 14pt; }", limits=limits))
    assert len(bigger) > len(plain)
    assert [n for t in bigger for n in row_ids(t)] == list(range(1, 151))


def _opaque_fills_over_content(page: Any) -> int:
    """Fills covering most of the page drawn after the first text: they would hide what is under them."""
    from pypdf.generic import ContentStream

    states = page["/Resources"].get("/ExtGState", {})
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    alpha, stack, seen_text, big_rect, found = 1.0, [], False, False, 0
    for operands, operator in ContentStream(page.get_contents(), page.pdf).operations:
        if operator == b"q":
            stack.append(alpha)
        elif operator == b"Q" and stack:
            alpha = stack.pop()
        elif operator == b"gs":
            alpha = float(states[operands[0]].get_object().get("/ca", 1))
        elif operator in (b"Tj", b"TJ", b"'", b'"'):
            seen_text = True
        elif operator == b"re":
            big_rect = float(operands[2]) * float(operands[3]) > 0.8 * width * height
        elif operator in (b"f", b"f*", b"F", b"B", b"B*") and big_rect and seen_text and alpha > 0:
            found += 1
    return found


@pytest.mark.parametrize("background", ["", "body { background-color: #fdf6e3; }"])
def test_stamped_footers_hide_nothing_of_the_page(background: str) -> None:
    html = in_house_html(150).replace("</style>", background + "</style>", 1)
    reader = PdfReader(io.BytesIO(render_pdf(html, limits=PdfLimits(single_pass_rows=50, first_group_rows=60))))
    assert len(reader.pages) > 3
    assert [_opaque_fills_over_content(page) for page in reader.pages] == [0] * len(reader.pages)
