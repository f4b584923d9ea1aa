"""Bundled fonts, the font allow-list, Arabic-script and Devanagari shaping (SPEC §7)."""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import unicodedata
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from reporting.adapters.renderers.document import DocumentRenderer, _safe_link
from reporting.adapters.renderers.pdf_fonts import (
    FAMILIES,
    URI_PREFIX,
    bundled_font,
    font_css,
    font_dir,
    font_family,
    register,
)
from reporting.adapters.renderers.shaping import ShapingTTFont
from reporting.service_layer.ports import RenderRequest

RENDERER_LOGGER = "reporting.adapters.renderers.document"
DEVANAGARI = font_dir() / "NotoSansDevanagari-Regular.ttf"
NASKH = font_dir() / "NotoNaskhArabic-Regular.ttf"


def pdf(layout: str, locale: str) -> bytes:
    return DocumentRenderer().render(RenderRequest(layout=layout, fmt="pdf", locale=locale, rows=[], context={}))


def embedded_fonts(data: bytes) -> dict[str, Any]:
    """BaseFont name → font dictionary of every font the PDF's pages use."""
    out: dict[str, Any] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            out[str(font["/BaseFont"])] = font
    return out


# --- package data --------------------------------------------------------------------------


def test_every_bundled_font_is_package_data_with_its_licence() -> None:
    root = files("reporting.catalog").joinpath("fonts")
    for family in FAMILIES:
        for name in (family.regular, family.bold):
            data = root.joinpath(name).read_bytes()
            assert data[:4] == b"\x00\x01\x00\x00", name  # a TrueType file, not a Git LFS pointer
    assert "SIL OPEN FONT LICENSE Version 1.1" in root.joinpath("OFL.txt").read_text(encoding="utf-8")
    readme = root.joinpath("README.md").read_text(encoding="utf-8")
    assert "fonts-noto-core" in readme and all(f.regular in readme and f.bold in readme for f in FAMILIES)


def test_each_locale_lists_its_own_script_first_and_a_latin_fallback() -> None:
    assert font_family("ps") == font_family("fa-AF") == font_family("ar") == \
        "NotoNaskhArabic, NotoSans, NotoSansDevanagari"
    assert font_family("en") == "NotoSans, NotoSansDevanagari, NotoNaskhArabic"
    assert font_family("hi").startswith("NotoSans, NotoSansDevanagari")
    assert '"' not in font_css("ps", embed=True) and "'" not in font_css("ps", embed=True)


def test_font_family_is_a_jinja_global() -> None:
    html = DocumentRenderer().html(RenderRequest(layout="<p style='font-family: {{ font_family }}'>x</p>",
                                                 fmt="html", locale="ar", rows=[], context={}))
    assert "font-family: NotoNaskhArabic, NotoSans, NotoSansDevanagari'" in html


# --- the allow-list --------------------------------------------------------------------------


def test_link_callback_hands_out_exactly_the_bundled_fonts() -> None:
    for family in FAMILIES:
        for name in (family.regular, family.bold):
            assert _safe_link(URI_PREFIX + name, "") == str(font_dir() / name)
            assert Path(bundled_font(URI_PREFIX + name) or "").is_file()


@pytest.mark.parametrize("uri", [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "file:///usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "NotoSans-Regular.ttf",
    f"{URI_PREFIX}../i18n.py",
    f"{URI_PREFIX}OFL.txt",
    "http://169.254.169.254/latest/meta-data",
])
def test_link_callback_refuses_anything_else_and_logs_it(uri: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RENDERER_LOGGER)
    assert _safe_link(uri, "") == ""
    refused = [r for r in caplog.records if r.name == RENDERER_LOGGER]
    assert refused and refused[0].getMessage() == "renderer refused an external resource"


def test_a_layout_asking_for_an_os_font_is_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RENDERER_LOGGER)
    layout = ("<html><head><style>@font-face { font-family: Dejavu; "
              "src: url(/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf); } p { font-family: Dejavu; }</style>"
              "</head><body><p>OS-FONT-CHECK</p></body></html>")
    data = pdf(layout, "en")
    assert "OS-FONT-CHECK" in PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert not any("DejaVu" in name for name in embedded_fonts(data))
    assert any(r.name == RENDERER_LOGGER and r.levelno == logging.WARNING for r in caplog.records)


_AUDIT = """
import json, sys
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        opened.append(args[0] if isinstance(args[0], str) else args[0].decode(errors="replace"))
from reporting.adapters.renderers.document import DocumentRenderer
from reporting.service_layer.ports import RenderRequest
sys.addaudithook(hook)
layout = ('<html><head><style>@font-face { font-family: Os; '
          'src: url(/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf); }</style></head>'
          '<body><p>Hotel هوټل होटल <b>ښه</b></p></body></html>')
for locale in ("ps", "hi", "en"):
    DocumentRenderer().render(RenderRequest(layout=layout, fmt="pdf", locale=locale, rows=[], context={}))
print(json.dumps(opened))
"""


def test_a_render_opens_no_font_file_but_the_bundled_ones() -> None:
    """A fresh interpreter, so registration happens inside the audited window; every open() is seen."""
    result = subprocess.run([sys.executable, "-c", _AUDIT], capture_output=True, text=True, timeout=120, check=True)
    opened = [Path(p) for p in json.loads(result.stdout.strip().splitlines()[-1])]
    fonts = {p for p in opened if p.suffix.lower() in {".ttf", ".otf", ".ttc", ".pfb", ".afm", ".woff", ".woff2"}}
    root = font_dir().resolve()
    assert fonts, "the audit saw no font file at all: it would not see an OS one either"
    assert all(p.resolve().parent == root for p in fonts), sorted(map(str, fonts))
    assert not any(str(p).startswith(("/usr/share/fonts", "/etc/fonts")) for p in opened)
    assert {p.name for p in fonts} >= {"NotoSans-Regular.ttf", "NotoNaskhArabic-Regular.ttf",
                                       "NotoSansDevanagari-Regular.ttf", "NotoNaskhArabic-Bold.ttf"}


def test_every_font_a_pdf_embeds_is_a_bundled_one() -> None:
    data = pdf("<html><body><p>Hotel هوټل होटल</p><b>Bold بولد</b></body></html>", "ps")
    embedded = {name.split("+", 1)[1] for name, font in embedded_fonts(data).items()
                if "+" in name and "/FontDescriptor" in font}
    assert embedded >= {"NotoNaskhArabic-Regular", "NotoSans-Regular", "NotoSansDevanagari-Regular"}
    assert embedded <= {Path(n).stem for f in FAMILIES for n in (f.regular, f.bold)}


# --- shaping -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def devanagari() -> ShapingTTFont:
    return ShapingTTFont("test_devanagari", str(DEVANAGARI))


@pytest.fixture(scope="module")
def naskh() -> ShapingTTFont:
    return ShapingTTFont("test_naskh", str(NASKH))


@pytest.mark.parametrize(("word", "glyph_text"), [("क्षेत्र", "क्ष"), ("प्रति", "प्र"), ("दिल्ली", "ल्")])
def test_devanagari_conjuncts_become_one_glyph_standing_for_their_letters(devanagari: ShapingTTFont, word: str,
                                                                         glyph_text: str) -> None:
    shaped = devanagari.shape(word)
    assert len(shaped) < len(word)
    assert glyph_text in [devanagari.source_text(ord(c)) for c in shaped]


def test_devanagari_i_matra_is_drawn_before_its_consonant(devanagari: ShapingTTFont) -> None:
    shaped = devanagari.shape("कि")
    assert devanagari.source_text(ord(shaped[0])) == "ि" and shaped[1] == "क"


def test_pashto_letters_join_and_read_back_as_written(naskh: ShapingTTFont) -> None:
    word = "ښځې"  # none of the three has a Unicode presentation form: arabic_reshaper leaves them apart
    shaped = naskh.shape(word)
    assert shaped != word
    assert "".join(naskh.source_text(ord(c)) or c for c in shaped) == word
    # Still Arabic letters to the bidi algorithm, so the word is laid out right to left.
    assert {unicodedata.bidirectional(c) or "AL" for c in shaped} == {"AL"}


def test_shaping_leaves_latin_digits_and_punctuation_alone(naskh: ShapingTTFont) -> None:
    assert naskh.shape("AFN 1,234 (3) · ") == "AFN 1,234 (3) · "


def _to_unicode(data: bytes, font_stem: str) -> str:
    for name, font in embedded_fonts(data).items():
        if name.endswith(font_stem):
            return font["/ToUnicode"].get_object().get_data().decode("latin-1")
    raise AssertionError(f"{font_stem} not in the PDF")


def test_hindi_pdf_draws_shaped_glyphs_not_the_letters_one_by_one() -> None:
    data = pdf("<html><body><p>क्षेत्र कि प्रति</p></body></html>", "hi")
    cmap = _to_unicode(data, "NotoSansDevanagari-Regular")
    # One glyph code each for the conjuncts (their ToUnicode is the letters they stand for)…
    assert "<0915094D0937>" in cmap  # क्ष
    assert "<092A094D0930>" in cmap  # प्र
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    # …and the i-matra comes before its consonant in the drawn order: "कि" is drawn "िक".
    assert "िक" in text
    assert "क्ष" in text


def test_shaping_hook_is_what_forms_the_conjunct(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unshaped, the same text gives no conjunct glyph: the test above can fail."""
    register()
    monkeypatch.setattr(ShapingTTFont, "needs_shaping", lambda self, text: False)
    data = pdf("<html><body><p>क्षेत्र</p></body></html>", "hi")
    assert "<0915094D0937>" not in _to_unicode(data, "NotoSansDevanagari-Regular")
