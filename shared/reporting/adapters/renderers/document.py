"""The renderer adapter: sandboxed Jinja2 → HTML, xhtml2pdf → PDF, and CSV straight from the rows."""
from __future__ import annotations

import csv
import io
import json
import logging
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from reporting.catalog.i18n import BABEL_LOCALE, direction
from reporting.domain.errors import RenderFailed
from reporting.logs import get_logger
from reporting.service_layer.ports import RenderRequest, Renderer

log = get_logger(__name__)
# xhtml2pdf logs every CSS quirk at WARNING; our logs stay about our reports.
logging.getLogger("xhtml2pdf").setLevel(logging.ERROR)

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@lru_cache(maxsize=8)
def _messages(locale: str) -> dict[str, str]:
    entry = files("reporting.catalog").joinpath("locales", f"{locale}.json")
    return json.loads(entry.read_text(encoding="utf-8")) if entry.is_file() else {}


def _babel(locale: str) -> str:
    return BABEL_LOCALE.get(locale, "en")


def _environment(locale: str) -> ImmutableSandboxedEnvironment:
    from babel.dates import format_date, format_datetime
    from babel.numbers import format_currency, format_decimal, format_percent

    env = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                                        lstrip_blocks=True)
    loc = _babel(locale)
    messages = _messages(locale)
    env.globals["_"] = lambda text: messages.get(text, text)
    env.globals["dir"] = direction(locale)
    env.globals["lang"] = locale
    env.filters["number"] = lambda v, digits=0: "—" if v is None else format_decimal(
        v, format="#,##0" + ("." + "0" * digits if digits else ""), locale=loc)
    env.filters["percent"] = lambda v: "—" if v is None else format_percent(v, format="#,##0.0%", locale=loc)
    env.filters["money"] = lambda v, currency: "—" if v is None else format_currency(v, currency, locale=loc)
    env.filters["longdate"] = lambda v: format_date(v, format="long", locale=loc)
    env.filters["datetime"] = lambda v: format_datetime(v, format="medium", locale=loc)
    return env


@lru_cache(maxsize=16)
def _env_for(locale: str) -> ImmutableSandboxedEnvironment:
    return _environment(locale)


def _safe_link(uri: str, rel: str) -> str:
    """Fetch nothing: no network, no file system (PDF renderers are a classic SSRF path)."""
    log.warning("renderer refused an external resource", extra={"scheme": uri.split(":", 1)[0][:10]})
    return ""


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, (date, datetime)):
        text = value.isoformat()
    else:
        text = str(value)
    # Spreadsheets execute cells that start like a formula: neutralise them (OWASP CSV injection).
    if text.startswith(_FORMULA_PREFIXES) and not _is_number(text):
        text = "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
        return True
    except Exception:
        return False


class DocumentRenderer(Renderer):
    """PDF, HTML and CSV from one layout and one row set."""

    def compile(self, layout: str, locale: str = "en") -> None:
        """Check a tenant layout at publish time: it must parse in the sandbox."""
        try:
            _env_for(locale).from_string(layout)
        except TemplateError as exc:
            raise RenderFailed("template does not compile", reason=type(exc).__name__, line=getattr(exc, "lineno", None))

    def html(self, request: RenderRequest) -> str:
        env = _env_for(request.locale)
        try:
            template = env.from_string(request.layout)
            return template.render(rows=request.rows, **request.context)
        except SecurityError as exc:
            raise RenderFailed("template reached for something it must not", reason=str(exc)[:200]) from None
        except TemplateError as exc:
            raise RenderFailed("template failed to render", reason=type(exc).__name__,
                               line=getattr(exc, "lineno", None)) from None

    def render(self, request: RenderRequest) -> bytes:
        if request.fmt == "csv":
            return self._csv(request.rows)
        html = self.html(request)
        if request.fmt == "html":
            return html.encode("utf-8")
        if request.fmt == "pdf":
            return self._pdf(html)
        raise RenderFailed("unknown format", fmt=request.fmt)

    @staticmethod
    def _pdf(html: str) -> bytes:
        # Long grid tables render in page groups (linear time, bounded size); the rest in one pass.
        from reporting.adapters.renderers.paged_pdf import render_pdf

        return render_pdf(html, link_callback=_safe_link)

    @staticmethod
    def _csv(rows: list[dict[str, Any]]) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        if rows:
            writer.writerow(list(rows[0].keys()))
            for row in rows:
                writer.writerow([_csv_cell(v) for v in row.values()])
        # UTF-8 with BOM: Excel otherwise guesses a legacy code page and garbles Arabic script.
        return ("\ufeff" + buf.getvalue()).encode("utf-8")

