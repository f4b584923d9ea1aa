"""Long PDFs in linear time: the main grid table rendered in page groups, merged, numbered across the whole.

xhtml2pdf lays one long table out in worse than linear time (every page split re-measures
the rows left), and `<pdf:pagecount>` makes it lay the whole document out twice. So a
document with a long `<table class="grid">` is cut, with a real HTML parser, at its tbody
rows into groups of a few pages; each group is a complete document (same head, CSS and
static frames, the thead repeated, the summary above the table only in the first group,
whatever follows the table only in the last) rendered in one pass with its page-number
footer left empty. The pages are merged with pypdf, and the footers are drawn afterwards
by xhtml2pdf itself from the very same footer HTML in a document of exactly as many empty
pages, stamped over the merged pages: "Page x of y" is right across the whole document and
comes out exactly as a one-pass render draws it (the layout's fonts, direction, numerals).

A group ends on a page that is usually only partly filled. Each group's first table cells
are outline entries (a CSS rule appended to the group's head), so pypdf can tell on which
page every row landed: the rows of that last page are carried over to the next group
instead, and a report reads as one continuous table. When that signal is not clean (a
first cell with two paragraphs, an empty one), the group keeps its last page: nothing is
lost or repeated, a page is just shorter.

Documents without a grid table, short ones, and those using features that need the whole
document at once (named pages, a table of contents, frames on some pages only) render in
one pass, as before. Every document is bounded in size (`PdfLimits`): past a limit the
render stops with a permanent RenderFailed that states the limit.
"""
from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from reporting.adapters.renderers.document import _safe_link
from reporting.domain.errors import RenderFailed
from reporting.logs import get_logger

log = get_logger(__name__)

LinkCallback = Callable[[str, str], str]

_COUNTER_TAGS = frozenset({"pdf:pagenumber", "pdf:pagecount"})
# Tags whose meaning depends on the whole document being laid out at once.
_WHOLE_DOCUMENT_TAGS = frozenset({"pdf:toc", "pdf:nexttemplate", "pdf:resetpagenumber", "pdf:insertpdf"})
# CSS (not HTML) scanned for the ids of static-frame contents and for page features groups cannot honour.
_FRAME_CONTENT = re.compile(r"-pdf-frame-content\s*:\s*([A-Za-z_][\w-]*)")
_WHOLE_DOCUMENT_CSS = re.compile(r"-pdf-frame-pages|@page\s+[A-Za-z_][\w-]*\s*\{")
# Every grid row's first cell becomes an outline entry, and nothing else does: pypdf then says on
# which page each row landed. Outlines are not copied into the merged document.
_ROW_MARKERS = (
    "<style>\n"
    "h1, h2, h3, h4, h5, h6 { -pdf-outline: false !important; }\n"
    "table.grid > tbody > tr > td:first-child, table.grid > tbody > tr > th:first-child"
    " { -pdf-outline: true !important; }\n"
    "</style>\n"
)
# A frame-only page needs one flowable to exist (ReportLab halts after 10 empty pages).
_EMPTY_PAGE = '<pdf:spacer height="1pt" />'
_NEXT_PAGE = "<pdf:nextpage />"
# Stamped over the merged pages: a background here would hide the page underneath. xhtml2pdf paints
# "transparent" as white, so the body's background is made fully transparent instead.
_TRANSPARENT = "<style>html, body { background-color: rgba(255, 255, 255, 0); }</style>\n"


@dataclass(frozen=True)
class PdfLimits:
    """Size bounds and grouping of a PDF render; past a bound the render stops with RenderFailed."""

    max_pages: int = 2_000
    max_rows: int = 60_000
    max_html_chars: int = 60_000_000
    # Grids with at most this many rows render in one pass, exactly as before.
    single_pass_rows: int = 120
    # The first group's size; later groups are sized from the rows per page seen so far.
    first_group_rows: int = 240
    pages_per_group: int = 8
    max_group_rows: int = 2_000


DEFAULT_LIMITS = PdfLimits()


@dataclass
class _Element:
    """An element's offsets in the source: [start, content_start) start tag, [content_end, end) end tag."""

    start: int
    content_start: int
    content_end: int = -1
    end: int = -1
    counters: int = 0


@dataclass
class _Layout:
    """Where the parts a group document is made of sit in the rendered HTML."""

    head_open_end: int = -1
    head_close: int = -1
    body_open_start: int = -1
    body_open_end: int = -1
    body_close: int = -1
    table_start: int = -1
    tbody_open_end: int = -1
    first_row: int = -1
    tbody_close: int = -1
    tbody_close_end: int = -1
    table_end: int = -1
    rows: list[int] = field(default_factory=list)
    frames: list[_Element] = field(default_factory=list)
    counters_outside_frames: int = 0
    whole_document: bool = False
    styles: list[str] = field(default_factory=list)


class _Scanner(HTMLParser):
    """Offsets of the grid table, its rows, the static-frame contents and the body (html.parser, not regexes)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=False)
        self.html = html
        self.layout = _Layout()
        # getpos() counts lines by "\n" alone (not str.splitlines' other breaks).
        self._line_starts = [0]
        at = html.find("\n")
        while at >= 0:
            self._line_starts.append(at + 1)
            at = html.find("\n", at + 1)
        self._frame_ids: set[str] = set()
        self._table_depth = 0
        self._grid_depth = 0  # the table depth of the grid table while inside it
        self._in_tbody = False
        self._grid_done = False
        self._in_style = False
        self._open_frame: tuple[_Element, str, int] | None = None  # element, tag, nesting of that tag

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _tag_end(self, start: int) -> int:
        # getpos() is where the tag starts; an end tag has no quoted '>' inside it.
        return self.html.index(">", start) + 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self._offset(), self._offset() + len(self.get_starttag_text() or ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        self._start(tag, attrs, start, start + len(self.get_starttag_text() or ""), void=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], start: int, end: int,
               void: bool = False) -> None:
        lay = self.layout
        if tag in _COUNTER_TAGS:
            if self._open_frame is not None:
                self._open_frame[0].counters += 1
            else:
                lay.counters_outside_frames += 1
        if tag in _WHOLE_DOCUMENT_TAGS:
            lay.whole_document = True
        if tag == "style":
            self._in_style = True
        elif tag == "head" and lay.head_open_end < 0:
            lay.head_open_end = end
        elif tag == "body" and lay.body_open_end < 0:
            lay.body_open_start, lay.body_open_end = start, end
        if self._open_frame is not None:
            element, frame_tag, nesting = self._open_frame
            if tag == frame_tag and not void:
                self._open_frame = (element, frame_tag, nesting + 1)
        else:
            ident = dict(attrs).get("id")
            if ident and ident in self._frame_ids and self._grid_depth == 0:
                element = _Element(start, end)
                if void:
                    element.content_end = element.end = end
                else:
                    self._open_frame = (element, tag, 1)
                lay.frames.append(element)
        if tag == "table":
            self._table_depth += 1
            classes = (dict(attrs).get("class") or "").split()
            if "grid" in classes and not self._grid_done and self._grid_depth == 0:
                self._grid_depth = self._table_depth
                lay.table_start = start
        elif self._grid_depth and self._table_depth == self._grid_depth:
            if tag == "tbody" and lay.tbody_open_end < 0:
                self._in_tbody = True
                lay.tbody_open_end = end
            elif tag == "tr" and self._in_tbody:
                lay.rows.append(start)

    def handle_endtag(self, tag: str) -> None:
        lay = self.layout
        start = self._offset()
        if tag == "style":
            self._in_style = False
        elif tag == "head" and lay.head_close < 0:
            lay.head_close = start
        elif tag == "body":
            lay.body_close = start
        if self._open_frame is not None:
            element, frame_tag, nesting = self._open_frame
            if tag == frame_tag:
                if nesting == 1:
                    element.content_end, element.end = start, self._tag_end(start)
                    self._open_frame = None
                else:
                    self._open_frame = (element, frame_tag, nesting - 1)
        if self._grid_depth and self._table_depth == self._grid_depth:
            if tag == "tbody" and self._in_tbody:
                self._in_tbody = False
                lay.tbody_close, lay.tbody_close_end = start, self._tag_end(start)
            elif tag == "table":
                lay.table_end = self._tag_end(start)
                self._grid_depth = 0
                self._grid_done = True
        if tag == "table" and self._table_depth:
            self._table_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.layout.styles.append(data)
            self._frame_ids.update(_FRAME_CONTENT.findall(data))


def _scan(html: str) -> _Layout:
    scanner = _Scanner(html)
    scanner.feed(html)
    scanner.close()
    lay = scanner.layout
    css = "".join(lay.styles)
    if _WHOLE_DOCUMENT_CSS.search(css):
        lay.whole_document = True
    lay.frames = [f for f in lay.frames if f.end >= 0]
    if lay.rows:
        lay.first_row = lay.rows[0]
    return lay


def _is_groupable(lay: _Layout) -> bool:
    """A grid with a tbody of rows inside a body, and nothing that needs the whole document at once."""
    ordered = (0 <= lay.body_open_end <= lay.table_start < lay.tbody_open_end <= lay.first_row
               < lay.tbody_close < lay.tbody_close_end <= lay.table_end
               and (lay.body_close < 0 or lay.body_close >= lay.table_end))
    return (ordered and not lay.whole_document and lay.counters_outside_frames == 0
            and all(f.end <= lay.table_start or f.start >= lay.table_end for f in lay.frames))


class _Pieces:
    """The rendered HTML cut into what every group document is assembled from."""

    def __init__(self, html: str, lay: _Layout, extra_css: str) -> None:
        self.html = html
        self.lay = lay
        self.rows = lay.rows
        # extra_css at the top of the head (the layout's own styles win); our rules at its end (ours win).
        head_open = max(lay.head_open_end, 0)
        head_close = lay.head_close if lay.head_close >= head_open else lay.body_open_start
        self.head_start = html[:head_open] + _style(extra_css)
        self.head_rest = html[head_open:head_close]
        self.body_open = html[head_close:lay.body_open_end]
        counters = [f for f in lay.frames if f.counters]
        self.blank_frames = "".join(
            html[f.start:f.content_start] + html[f.content_end:f.end] if f.counters else html[f.start:f.end]
            for f in lay.frames) + "\n"
        self.counter_frames = "".join(html[f.start:f.end] for f in counters) + "\n"
        self.has_counters = bool(counters)
        frames = [(f.start, f.end) for f in lay.frames]
        self.intro = _without(html, lay.body_open_end, lay.table_start, frames)
        self.table_open = html[lay.table_start:lay.first_row]
        self.tail_mid = html[lay.tbody_close:lay.tbody_close_end] + "</table>\n"
        self.tail_last = html[lay.tbody_close:lay.table_end]
        body_close = lay.body_close if lay.body_close >= lay.table_end else len(html)
        self.after = _without(html, lay.table_end, body_close, frames)
        self.closing = html[body_close:]

    def row_span(self, first: int, stop: int) -> str:
        end = self.rows[stop] if stop < len(self.rows) else self.lay.tbody_close
        return self.html[self.rows[first]:end]

    def group(self, first: int, stop: int, *, with_intro: bool) -> str:
        """A complete document for rows [first, stop)."""
        last = stop >= len(self.rows)
        return "".join((
            self.head_start, self.head_rest, _ROW_MARKERS, self.body_open, self.blank_frames,
            self.intro if with_intro else "", self.table_open, self.row_span(first, stop),
            self.tail_last + self.after if last else self.tail_mid, self.closing))

    def footers(self, pages: int) -> str:
        """Only the page-number frames, on `pages` otherwise empty pages."""
        return "".join((self.head_start, self.head_rest, _TRANSPARENT, self.body_open, self.counter_frames,
                        (_EMPTY_PAGE + _NEXT_PAGE) * (pages - 1), _EMPTY_PAGE, self.closing))


def _without(html: str, start: int, end: int, cuts: Iterable[tuple[int, int]]) -> str:
    out, at = [], start
    for a, b in sorted(c for c in cuts if start <= c[0] and c[1] <= end):
        out.append(html[at:a])
        at = b
    out.append(html[at:end])
    return "".join(out)


def _style(css: str) -> str:
    return f"<style>\n{css}\n</style>\n" if css else ""


def _with_css(html: str, lay: _Layout, extra_css: str) -> str:
    if not extra_css:
        return html
    at = max(lay.head_open_end, 0)
    return html[:at] + _style(extra_css) + html[at:]


def _pisa(html: str, link_callback: LinkCallback) -> bytes:
    from reportlab.platypus.doctemplate import LayoutError
    from xhtml2pdf import pisa  # heavy (ReportLab): only the render path pays for it

    out = io.BytesIO()
    try:
        result = pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=link_callback)
    except LayoutError:
        # Something can never fit on a page (a row taller than a page): permanent. ReportLab's message
        # quotes the flowable, which may be guest data, so it is not passed on.
        raise RenderFailed("PDF layout failed: an element does not fit on a page") from None
    if result.err:
        raise RenderFailed("PDF conversion failed", errors=int(result.err))
    return out.getvalue()


def _too_many_pages(pages: int, limits: PdfLimits) -> RenderFailed:
    return RenderFailed(f"report too large: more than {limits.max_pages} PDF pages (the limit)",
                        limit_pages=limits.max_pages, pages_so_far=pages)


def _flatten_entries(outline: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in outline:
        if isinstance(item, list):
            out.extend(_flatten_entries(item))
        else:
            out.append(item)
    return out


def _render_groups(pieces: _Pieces, limits: PdfLimits, link_callback: LinkCallback) -> tuple[Any, int]:
    """Render the groups into one pypdf writer; returns it and the number of groups rendered."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    total_rows = len(pieces.rows)
    first, size, groups, pages = 0, min(limits.first_group_rows, limits.max_group_rows), 0, 0
    while first < total_rows:
        stop = min(first + size, total_rows)
        with_intro = groups == 0
        reader = PdfReader(io.BytesIO(_pisa(pieces.group(first, stop, with_intro=with_intro), link_callback)))
        count = len(reader.pages)
        keep, next_first = count, stop
        if stop < total_rows:
            if count == 1 and size < limits.max_group_rows:
                size = min(size * 2, limits.max_group_rows)  # a group must span pages to be cut at one
                continue
            on = _row_pages(reader, stop - first) if count > 1 else None
            if on is not None and on[-1] == count - 1:
                carried = on.index(count - 1)
                # Carry only when a page stays behind: the first group's may hold just its summary.
                if carried > 0 or with_intro:
                    keep, next_first = count - 1, first + carried
        if groups == 0:
            if reader.metadata:
                writer.add_metadata({k: v for k, v in reader.metadata.items() if isinstance(v, str)})
            lang = reader.trailer["/Root"].get("/Lang")
            if lang is not None:  # what screen readers take the language from
                from pypdf.generic import NameObject

                writer.root_object[NameObject("/Lang")] = lang
        for index in range(keep):
            writer.add_page(reader.pages[index])
        pages += keep
        groups += 1
        if pages > limits.max_pages:
            raise _too_many_pages(pages, limits)
        rows_done = next_first - first
        if keep and rows_done > 0:
            # Size the next group from the rows a page took: a few full pages and a row or two more,
            # so the partly filled last page that is carried (rendered again) holds as little as possible.
            per_page = rows_done / keep
            size = max(8, min(limits.max_group_rows, round(per_page * limits.pages_per_group) + 2))
        first = next_first
    return writer, groups


def _row_pages(reader: Any, rows: int) -> list[int] | None:
    """The page of each of the group's rows, from their outline entries, or None if they cannot be trusted."""
    entries = _flatten_entries(reader.outline)
    if len(entries) != rows:
        return None
    try:
        pages = [reader.get_destination_page_number(e) for e in entries]
    except Exception:  # a malformed destination: keep the page instead
        return None
    if any(p < 0 for p in pages) or pages != sorted(pages):
        return None
    return pages


def _stamp_footers(writer: Any, pieces: _Pieces, link_callback: LinkCallback) -> None:
    from pypdf import PdfReader

    pages = len(writer.pages)
    overlay = PdfReader(io.BytesIO(_pisa(pieces.footers(pages), link_callback)))
    if len(overlay.pages) != pages:
        raise RenderFailed("PDF page footers could not be laid out", pages=pages, footer_pages=len(overlay.pages))
    for page, footer in zip(writer.pages, overlay.pages):
        page.merge_page(footer)


def render_pdf(html: str, *, link_callback: LinkCallback = _safe_link, extra_css: str = "",
               limits: PdfLimits = DEFAULT_LIMITS) -> bytes:
    """The PDF of a rendered layout: long grid tables in page groups, everything else in one pass.

    `extra_css` is added at the top of the head (before the layout's own styles); `link_callback`
    is xhtml2pdf's resource resolver. Raises RenderFailed (permanent) past a bound of `limits`."""
    if len(html) > limits.max_html_chars:
        raise RenderFailed(f"report too large: its HTML exceeds {limits.max_html_chars} characters (the limit)",
                           limit_html_chars=limits.max_html_chars)
    started = time.perf_counter()
    lay = _scan(html)
    rows = len(lay.rows)
    if rows > limits.max_rows:
        raise RenderFailed(f"report too large: {rows} table rows, more than {limits.max_rows} (the limit)",
                           limit_rows=limits.max_rows, rows=rows)
    if rows <= limits.single_pass_rows or not _is_groupable(lay):
        pdf = _pisa(_with_css(html, lay, extra_css), link_callback)
        pages = _page_count(pdf)
        if pages > limits.max_pages:
            raise _too_many_pages(pages, limits)
        return pdf
    pieces = _Pieces(html, lay, extra_css)
    writer, groups = _render_groups(pieces, limits, link_callback)
    if pieces.has_counters:
        _stamp_footers(writer, pieces, link_callback)
    out = io.BytesIO()
    writer.write(out)
    log.info("paged PDF rendered", extra={"rows": rows, "groups": groups, "pages": len(writer.pages),
                                          "render_ms": int((time.perf_counter() - started) * 1000)})
    return out.getvalue()


def _page_count(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)
