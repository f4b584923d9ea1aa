"""The renderer adapter: sandboxed Jinja2 → HTML, xhtml2pdf → PDF, and CSV straight from the rows."""
from __future__ import annotations

import csv
import io
import logging
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from reporting.adapters.renderers.formatting import filters
from reporting.adapters.renderers.pdf_fonts import bundled_font, font_css, font_family, pdf_environment
from reporting.catalog.i18n import direction, translations
from reporting.domain.errors import RenderFailed
from reporting.logs import get_logger
from reporting.service_layer.ports import RenderRequest, Renderer

log = get_logger(__name__)
# xhtml2pdf logs every CSS quirk at WARNING; our logs stay about our reports.
logging.getLogger("xhtml2pdf").setLevel(logging.ERROR)

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


def _environment(locale: str) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                                        lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    # Old-style gettext: `_()` returns the plain translation (autoescape still escapes it), so a
    # msgid with a literal % cannot break a render; {% trans %} and ngettext use the CLDR plural rules.
    env.install_gettext_translations(translations(locale), newstyle=False)  # type: ignore[attr-defined]
    env.globals["dir"] = direction(locale)
    env.globals["lang"] = locale
    env.globals["font_family"] = font_family(locale)
    env.filters.update(filters(locale))
    return env


@lru_cache(maxsize=16)
def _env_for(locale: str) -> ImmutableSandboxedEnvironment:
    return _environment(locale)


def _with_fonts(html: str, locale: str, *, embed: bool) -> str:
    """`html` with the locale's font style first in its head, so a layout needs no font-family of its own."""
    style = f'<style type="text/css">\n{font_css(locale, embed=embed)}\n</style>\n'
    head = _HEAD.search(html)
    if head is None:
        return style + html
    return html[:head.end()] + "\n" + style + html[head.end():]


def _safe_link(uri: str, rel: str) -> str:
    """Fetch nothing but our own bundled fonts: no network, no other file (PDF renderers are a classic SSRF path)."""
    path = bundled_font(uri)
    if path is not None:
        return path
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
        return _with_fonts(self._layout(request), request.locale, embed=False)

    @staticmethod
    def _layout(request: RenderRequest) -> str:
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
        if request.fmt == "html":
            return self.html(request).encode("utf-8")
        if request.fmt == "pdf":
            html = _with_fonts(self._layout(request), request.locale, embed=True)
            with pdf_environment():
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

