"""DocumentRenderer (SPEC §7): sandboxed Jinja2, no fetching, safe CSV, real PDFs."""
from __future__ import annotations

import builtins
import csv
import io
import logging
import pathlib
import socket
import urllib.request
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from reporting.adapters.renderers.document import DocumentRenderer
from reporting.catalog.platform import platform_templates
from reporting.domain.errors import RenderFailed
from reporting.service_layer.ports import RenderRequest

RENDERER_LOGGER = "reporting.adapters.renderers.document"


@pytest.fixture
def renderer() -> DocumentRenderer:
    return DocumentRenderer()


def render(renderer: DocumentRenderer, layout: str, fmt: str = "html", rows: list[dict[str, Any]] | None = None,
           locale: str = "en", **context: Any) -> bytes:
    return renderer.render(RenderRequest(layout=layout, fmt=fmt, locale=locale, rows=rows or [], context=context))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- sandbox -----------------------------------------------------------------


@pytest.mark.parametrize("layout", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ rows.__class__.__base__ }}",
])
@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_layout_reaching_for_python_internals_fails_to_render(renderer: DocumentRenderer, layout: str,
                                                              fmt: str) -> None:
    with pytest.raises(RenderFailed, match="must not"):
        render(renderer, layout, fmt)


def test_layout_cannot_mutate_the_rows_it_is_given(renderer: DocumentRenderer) -> None:
    rows = [{"a": 1}]
    with pytest.raises(RenderFailed):
        render(renderer, "{{ rows.append({'a': 2}) }}", rows=rows)
    assert rows == [{"a": 1}]


def test_missing_variable_fails_to_render(renderer: DocumentRenderer) -> None:
    with pytest.raises(RenderFailed) as err:
        render(renderer, "<p>{{ property.name }}</p>")
    assert err.value.details["reason"] == "UndefinedError"


def test_missing_attribute_of_a_row_fails_to_render(renderer: DocumentRenderer) -> None:
    with pytest.raises(RenderFailed):
        render(renderer, "{% for r in rows %}{{ r.nope }}{% endfor %}", rows=[{"a": 1}])


def test_syntax_error_fails_to_render(renderer: DocumentRenderer) -> None:
    with pytest.raises(RenderFailed):
        render(renderer, "{% for r in rows %}")


def test_compile_rejects_a_broken_layout_and_accepts_a_good_one(renderer: DocumentRenderer) -> None:
    renderer.compile("{% for r in rows %}{{ r.a }}{% endfor %}")
    with pytest.raises(RenderFailed, match="does not compile"):
        renderer.compile("{% if %}")


def test_unknown_format_fails(renderer: DocumentRenderer) -> None:
    with pytest.raises(RenderFailed, match="format"):
        render(renderer, "<p>x</p>", "docx")


# --- escaping ------------------------------------------------------------------


def test_autoescape_escapes_script_in_row_data(renderer: DocumentRenderer) -> None:
    rows = [{"guest": "<script>alert(1)</script>", "note": "Tom & \"Jerry\""}]
    html = render(renderer, "{% for r in rows %}<td>{{ r.guest }}</td><td>{{ r.note }}</td>{% endfor %}",
                  rows=rows).decode()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Tom &amp; &#34;Jerry&#34;" in html


def test_autoescape_escapes_context_values_too(renderer: DocumentRenderer) -> None:
    html = render(renderer, "<h1>{{ property.name }}</h1>", property={"name": "<img src=x onerror=alert(1)>"})
    assert b"<img" not in html and b"&lt;img" in html


# --- no fetching ---------------------------------------------------------------


@pytest.fixture
def no_fetching(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail loudly (and remember) on any network connect, urlopen or read of the forbidden local file."""
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def _refuse(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what} {args[1:] if what == 'connect' else args}")
            raise AssertionError(f"renderer tried to {what}: {args!r}")
        return _refuse

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))

    real_open, real_read_bytes = builtins.open, pathlib.Path.read_bytes

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if "passwd" in str(file):
            attempts.append(f"open {file}")
            raise AssertionError(f"renderer tried to open {file}")
        return real_open(file, *args, **kwargs)

    def guarded_read_bytes(self: pathlib.Path) -> bytes:
        if "passwd" in str(self):
            attempts.append(f"read_bytes {self}")
            raise AssertionError(f"renderer tried to read {self}")
        return real_read_bytes(self)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(pathlib.Path, "read_bytes", guarded_read_bytes)
    return attempts


@pytest.mark.parametrize(("src", "scheme"), [
    ("http://169.254.169.254/latest/meta-data", "http"),
    ("file:///etc/passwd", "file"),
])
def test_external_image_is_not_fetched_and_pdf_still_renders(renderer: DocumentRenderer, no_fetching: list[str],
                                                              caplog: pytest.LogCaptureFixture, src: str,
                                                              scheme: str) -> None:
    caplog.set_level(logging.WARNING, logger=RENDERER_LOGGER)
    layout = f'<html><body><p>SSRF-CHECK</p><img src="{src}"></body></html>'
    pdf = render(renderer, layout, "pdf")
    assert no_fetching == []
    assert pdf.startswith(b"%PDF-")
    assert "SSRF-CHECK" in pdf_text(pdf)
    refused = [r for r in caplog.records if r.name == RENDERER_LOGGER and r.levelno == logging.WARNING]
    assert refused, "the refused resource must be logged"
    assert getattr(refused[0], "scheme") == scheme
    assert "169.254" not in refused[0].getMessage() and "passwd" not in refused[0].getMessage()


def test_no_fetching_guard_itself_catches_a_fetch(no_fetching: list[str]) -> None:
    """The guard above would notice a renderer that did fetch."""
    with pytest.raises(AssertionError):
        urllib.request.urlopen("http://169.254.169.254/latest/meta-data")
    with pytest.raises(AssertionError):
        pathlib.Path("/etc/passwd").read_bytes()
    assert len(no_fetching) == 2


# --- CSV -----------------------------------------------------------------------


def test_csv_starts_with_utf8_bom_and_has_a_header_row(renderer: DocumentRenderer) -> None:
    rows = [{"room_type": "Deluxe", "rooms_sold": 6}, {"room_type": "اتاق", "rooms_sold": 2}]
    data = render(renderer, "", "csv", rows)
    assert data.startswith(b"\xef\xbb\xbf")
    assert not data[3:].startswith(b"\xef\xbb\xbf")
    assert parse_csv(data) == [["room_type", "rooms_sold"], ["Deluxe", "6"], ["اتاق", "2"]]
    assert data.endswith(b"\r\n")


def test_csv_of_no_rows_is_just_the_bom(renderer: DocumentRenderer) -> None:
    assert render(renderer, "", "csv", []) == b"\xef\xbb\xbf"


@pytest.mark.parametrize("payload", [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(A1)",
    "-2+3",
    "=HYPERLINK(\"http://evil\",\"x\")",
    "\t=1+1",
])
def test_csv_neutralises_formula_cells_with_a_leading_quote(renderer: DocumentRenderer, payload: str) -> None:
    [_, [cell]] = parse_csv(render(renderer, "", "csv", [{"note": payload}]))
    assert cell == "'" + payload


@pytest.mark.parametrize(("value", "expected"), [
    (-12.5, "-12.5"),
    ("-12.5", "-12.5"),
    (Decimal("-3.10"), "-3.10"),
    (-7, "-7"),
    ("+4", "+4"),
])
def test_csv_leaves_signed_numbers_as_numbers(renderer: DocumentRenderer, value: Any, expected: str) -> None:
    [_, [cell]] = parse_csv(render(renderer, "", "csv", [{"amount": value}]))
    assert cell == expected


def test_csv_serialises_decimal_dates_and_none_plainly(renderer: DocumentRenderer) -> None:
    rows = [{"revenue": Decimal("1234.50"), "big": Decimal("1E+3"), "day": date(2026, 11, 23),
             "at": datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc), "missing": None}]
    [_, cells] = parse_csv(render(renderer, "", "csv", rows))
    assert cells == ["1234.50", "1000", "2026-11-23", "2026-11-24T06:00:00+00:00", ""]


def test_csv_quotes_commas_and_newlines(renderer: DocumentRenderer) -> None:
    rows = [{"a": "one, two", "b": "line1\nline2"}]
    assert parse_csv(render(renderer, "", "csv", rows))[1] == ["one, two", "line1\nline2"]


# --- PDF -----------------------------------------------------------------------


def test_pdf_is_a_real_pdf_with_the_layout_text(renderer: DocumentRenderer) -> None:
    rows = [{"name": "Suite"}, {"name": "Twin"}]
    pdf = render(renderer, "<html><body><h1>MARKER-7Q</h1>{% for r in rows %}<p>{{ r.name }}</p>{% endfor %}"
                           "</body></html>", "pdf", rows)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "MARKER-7Q" in text and "Suite" in text and "Twin" in text


def test_html_output_is_the_rendered_layout_after_the_locale_font_style(renderer: DocumentRenderer) -> None:
    html = render(renderer, "<p>{{ rows | length }} {{ lang }} {{ dir }}</p>", rows=[{}, {}], locale="fa-AF")
    style, _, body = html.decode().partition("</style>\n")
    assert body == "<p>2 fa-AF rtl</p>"
    assert "font-family: NotoNaskhArabic, NotoSans, NotoSansDevanagari;" in style
    assert "@font-face" not in style  # the bundled files are for the PDF, not for a browser


def _daily_occupancy_rows() -> list[dict[str, Any]]:
    common = dict(rooms_total=10, rooms_out_of_order=1, rooms_available=9, rooms_sold=6, complimentary_rooms=1,
                  house_use_rooms=0, occupancy=6 / 9, rooms_revenue=Decimal("720.00"), adr=Decimal("120.00"),
                  revpar=Decimal("80.00"))
    return [{"room_type": "Deluxe King", "is_total": False, **common},
            {"room_type": None, "is_total": True, **common}]


def test_platform_daily_occupancy_renders_to_a_one_page_pdf(renderer: DocumentRenderer) -> None:
    template = next(t for t in platform_templates() if t.key == "daily_occupancy")
    context = {
        "property": {"name": "Kabul Garden Hotel", "timezone": "Asia/Kabul", "currency": "AFN"},
        "run": {"run_date": date(2026, 11, 23)},
        "template": {"key": template.key, "version": template.version},
        "generated_at": datetime(2026, 11, 24, 10, 30, tzinfo=timezone.utc),
        "locale": "en",
    }
    pdf = renderer.render(RenderRequest(layout=template.layout, fmt="pdf", locale="en",
                                        rows=_daily_occupancy_rows(), context=context))
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    assert "Kabul Garden Hotel" in text
    assert "Occupancy" in text
    assert "Page 1 of 1" in text
    assert "Deluxe King" in text and "All rooms" in text
    assert "66.7%" in text


def test_platform_daily_occupancy_without_property_fails_to_render(renderer: DocumentRenderer) -> None:
    template = next(t for t in platform_templates() if t.key == "daily_occupancy")
    with pytest.raises(RenderFailed):
        renderer.render(RenderRequest(layout=template.layout, fmt="pdf", locale="en",
                                      rows=_daily_occupancy_rows(), context={}))
