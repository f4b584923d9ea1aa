"""The fonts our PDFs are drawn with: bundled package data, never the OS's.

Each locale gets a CSS family list, its own script first and the others after it, because
xhtml2pdf draws a character with the first family that has it (Noto Naskh Arabic alone has no
Latin letters, and Noto Sans no Arabic). The faces are registered with ReportLab once per
process as `ShapingTTFont`s under the names xhtml2pdf gives @font-face faces, so the
@font-face rules every document carries resolve to them; the link callback lets a document
read exactly these files and nothing else, and the resource policy confines reads to their
directory and the network to nothing.

`_pdf` in document.py runs inside `pdf_environment()` (DocumentRenderer.render sets it up);
anything else that calls pisa must do the same and pass `link_callback=document._safe_link`.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterator

from reporting.catalog.i18n import RTL_LOCALES

URI_PREFIX = "reporting-fonts/"


@dataclass(frozen=True)
class Family:
    """One bundled font family: its CSS name (unquoted: autoescape would turn quotes into &#34;) and files."""

    css: str
    regular: str
    bold: str

    def face_name(self, bold: bool) -> str:
        """The ReportLab name xhtml2pdf gives this face when @font-face declares it."""
        return f"{self.css.lower()}_{int(bold)}0"


LATIN = Family("NotoSans", "NotoSans-Regular.ttf", "NotoSans-Bold.ttf")
ARABIC = Family("NotoNaskhArabic", "NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf")
DEVANAGARI = Family("NotoSansDevanagari", "NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf")
FAMILIES = (LATIN, ARABIC, DEVANAGARI)


def font_dir() -> Path:
    """The package directory the bundled fonts live in."""
    return Path(str(files("reporting.catalog").joinpath("fonts")))


def families(locale: str) -> tuple[Family, ...]:
    """The families of `locale`'s documents, first choice first (every document can draw all three scripts)."""
    if locale in RTL_LOCALES:
        # Naskh first: Arabic punctuation and spacing come from the Arabic face.
        return (ARABIC, LATIN, DEVANAGARI)
    return (LATIN, DEVANAGARI, ARABIC)


def font_family(locale: str) -> str:
    """The CSS font-family value for `locale` (the Jinja global `font_family`)."""
    return ", ".join(family.css for family in families(locale))


def font_css(locale: str, *, embed: bool) -> str:
    """The style every document gets: @font-face rules (PDF only) and the locale's family list."""
    rules = []
    if embed:
        for family in families(locale):
            # Bold first, regular last: xhtml2pdf points every weight/style a face has not declared
            # at the face declared last, so italic falls back to regular rather than bold.
            rules.append(f"@font-face {{ font-family: {family.css}; font-weight: bold; "
                         f"src: url({URI_PREFIX}{family.bold}); }}")
            rules.append(f"@font-face {{ font-family: {family.css}; src: url({URI_PREFIX}{family.regular}); }}")
    rules.append(f"html, body {{ font-family: {font_family(locale)}; }}")
    return "\n".join(rules)


@lru_cache(maxsize=1)
def _bundled() -> dict[str, str]:
    root = font_dir()
    return {f"{URI_PREFIX}{name}": str(root / name)
            for family in FAMILIES for name in (family.regular, family.bold)}


def bundled_font(uri: str) -> str | None:
    """The absolute path of a bundled font named exactly by `uri`, else None."""
    return _bundled().get(uri)


_lock = threading.Lock()
_ready = False
_faces: dict[str, Any] = {}  # ReportLab name → ShapingTTFont, filled by register()


def register() -> None:
    """Register every bundled face with ReportLab (once per process) and hook shaping into xhtml2pdf."""
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        from reportlab.pdfbase import pdfmetrics

        from reporting.adapters.renderers.shaping import ShapingTTFont

        for family in FAMILIES:
            for bold, name in ((False, family.regular), (True, family.bold)):
                face = ShapingTTFont(family.face_name(bold), bundled_font(URI_PREFIX + name) or "")
                pdfmetrics.registerFont(face)
                _faces[face.fontName] = face
        _install_xhtml2pdf_hooks()
        _ready = True


def _shaping_font(name: Any) -> Any:
    """Our registered face of this name, else None (never a font lookup that could search the OS)."""
    return _faces.get(name) if isinstance(name, str) else None


def _install_xhtml2pdf_hooks() -> None:
    """Shape our fonts' runs where xhtml2pdf builds its fragments (it has no hook of its own for it).

    Two of xhtml2pdf's functions are wrapped, process-wide and only for our fonts: its
    arabic_reshaper step is skipped for text in a ShapingTTFont (HarfBuzz does it better), and each
    fragment its font-family split gives to one of our faces is shaped by that face.
    """
    from xhtml2pdf import context as pisa_context

    by_coverage = pisa_context.pisaContext._byCoverage
    if getattr(by_coverage, "_reporting_shaping", False):
        return
    reshape = pisa_context.shape_frag_text

    def shape_frag_text(frag_text: str, font_name: str | None = None) -> str | None:
        if _shaping_font(font_name) is not None:
            return None
        return reshape(frag_text, font_name)

    def shaped_by_coverage(self: Any, frag: Any) -> list[Any]:
        parts = by_coverage(self, frag)
        for part in parts:
            text = getattr(part, "text", None)
            if isinstance(text, str) and text:
                font = _shaping_font(getattr(part, "fontName", None))
                if font is not None and font.needs_shaping(text):
                    part.text = font.shape(text)
        return parts

    shaped_by_coverage._reporting_shaping = True  # type: ignore[attr-defined]
    pisa_context.shape_frag_text = shape_frag_text
    pisa_context.pisaContext._byCoverage = shaped_by_coverage


def resource_policy() -> Any:
    """What a render may read: the bundled font directory, nothing remote, nothing else local."""
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    return ResourceAccessPolicy(allow_remote=False, base_dir=font_dir())


@contextmanager
def pdf_environment() -> Iterator[None]:
    """Fonts registered, shaping hooked, and the resource policy in force for the pisa calls inside."""
    from xhtml2pdf.config.resources import use_policy

    register()
    with use_policy(resource_policy()):
        yield
