"""HarfBuzz shaping for the Arabic-script and Devanagari text of our PDFs.

ReportLab shapes with uharfbuzz in its own Paragraph (a `shapable` TTFont and a style with
`shaping=1`), but xhtml2pdf lays text out with its own copy of Paragraph that never calls it,
and its Arabic support is arabic_reshaper's presentation forms — which Unicode does not have
for Pashto's own letters (ټ ډ ړ ږ ښ ګ ڼ ځ څ …), so Pashto came out unjoined, and Devanagari
came out unshaped (no conjuncts, ि after its consonant).

So each run is shaped here, with the uharfbuzz Face ReportLab builds for the font, into a
string of characters that each stand for one shaped glyph: the run's own character where the
glyph is that character's, otherwise a code point of ours mapped to the glyph in this font.
Those code points keep the bidi class the run needs — Arabic Letter for Arabic-script glyphs,
so xhtml2pdf's bidi still lays the word right to left, and the Private Use Area (L) for
Devanagari — and the PDF's ToUnicode map sends them back to the text they came from, so the
PDF's text can still be searched and copied. GPOS mark offsets are not carried (xhtml2pdf
draws each character at its advance), so marks sit where the font puts them by default.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

from reportlab.pdfbase.ttfonts import TTFont

# Arabic letters and marks (not the digits or punctuation, whose bidi classes must stay),
# with the joiners that steer joining (ZWNJ is how Dari writes اتاق‌ها).
_ARABIC = ("\u0610-\u061a\u0620-\u065f\u066e-\u06d3\u06d5-\u06dc\u06df-\u06e8\u06ea-\u06ef\u06fa-\u06ff"
           "\u0750-\u077f\u0870-\u088e\u0890-\u08ff\ufb50-\ufd3d\ufd50-\ufdff\ufe70-\ufefe")
_DEVANAGARI = "\u0900-\u097f\ua8e0-\ua8ff\u1cd0-\u1cff"
_JOINERS = "\u200c\u200d"
_RUN = re.compile(f"(?P<arabic>[{_ARABIC}][{_ARABIC}{_JOINERS}]*)|(?P<deva>[{_DEVANAGARI}][{_DEVANAGARI}{_JOINERS}]*)")
_IGNORABLE = frozenset(_JOINERS + "\u200b\u2060\ufeff")


def _al_pool() -> tuple[int, ...]:
    """Code points of bidi class AL that no report text uses: Arabic mathematical letters and Siyaq numbers."""
    pool = []
    for start, end in ((0x1EE00, 0x1EEFF), (0x1EC70, 0x1ECBF), (0x1ED00, 0x1ED4F)):
        # Unassigned code points in these blocks default to AL (DerivedBidiClass.txt).
        pool += [cp for cp in range(start, end + 1) if (unicodedata.bidirectional(chr(cp)) or "AL") == "AL"]
    return tuple(pool)


_AL_POOL = _al_pool()
_PUA = range(0xE000, 0xF900)
_CACHE_LIMIT = 8192


class ShapingTTFont(TTFont):
    """A TrueType font that turns its complex-script runs into shaped glyph strings."""

    def __init__(self, name: str, filename: str) -> None:
        # shapable=False: ReportLab must not shape these strings a second time.
        super().__init__(name, filename, shapable=False)
        self._own_cmap = dict(self.face.charToGlyph)
        self._glyph_char: dict[int, int] = {}
        self._texts: dict[int, str] = {}
        self._al_free = iter(cp for cp in _AL_POOL if cp not in self._own_cmap)
        self._pua_free = iter(cp for cp in _PUA if cp not in self._own_cmap)
        self._shaped: dict[str, str] = {}
        self._hb: Any = None

    def needs_shaping(self, text: str) -> bool:
        """Whether `text` has a run this font shapes."""
        return _RUN.search(text) is not None

    def shape(self, text: str) -> str:
        """`text` with every Arabic-script and Devanagari run replaced by its shaped glyph string."""
        cached = self._shaped.get(text)
        if cached is None:
            cached = _RUN.sub(lambda m: self._shape_run(m.group(0), rtl=m.lastgroup == "arabic"), text)
            if len(self._shaped) >= _CACHE_LIMIT:
                self._shaped.clear()
            self._shaped[text] = cached
        return cached

    def source_text(self, codepoint: int) -> str | None:
        """The text a glyph code point of ours stands for (None for the font's own characters)."""
        return self._texts.get(codepoint)

    def _hb_font(self) -> Any:
        if self._hb is None:
            import uharfbuzz as hb

            self._hb = hb.Font(self.hbFace)  # unscaled: advances in font units
        return self._hb

    def _shape_run(self, run: str, *, rtl: bool) -> str:
        import uharfbuzz as hb

        font = self._hb_font()
        buf = hb.Buffer()
        buf.add_str(run)
        buf.guess_segment_properties()
        # Monotone clusters: a reordered i-matra shares its syllable's cluster, so logical order holds.
        buf.cluster_level = hb.BufferClusterLevel.MONOTONE_CHARACTERS
        hb.shape(font, buf, {"kern": True, "liga": True})
        glyphs = list(zip((info.codepoint for info in buf.glyph_infos), (info.cluster for info in buf.glyph_infos)))
        if rtl:
            # HarfBuzz answers in visual order; xhtml2pdf's bidi wants logical order and reverses it itself.
            glyphs.reverse()
        ends = sorted({cluster for _, cluster in glyphs}) + [len(run)]
        out: list[str] = []
        claimed: set[int] = set()  # clusters whose text a glyph of ours already stands for
        for gid, cluster in glyphs:
            text = run[cluster:ends[ends.index(cluster) + 1]]
            char = self._natural(gid, text)
            if char is None:
                siblings = {g for g, c in glyphs if c == cluster and g != gid}
                # What this glyph reads as: its cluster's text less what its siblings draw as themselves.
                rest = "" if cluster in claimed else "".join(
                    c for c in text if self._own_cmap.get(ord(c)) not in siblings)
                claimed.add(cluster)
                char = self._ours(gid, rest, rtl=rtl)
                if char is None:
                    return run  # out of code points: unshaped beats wrong
            out.append(char)
        return "".join(out)

    def _natural(self, gid: int, text: str) -> str | None:
        """The cluster's own character that this glyph is, if it is one."""
        for char in text:
            if self._own_cmap.get(ord(char)) == gid:
                return char
        if gid == 0 and all(char in _IGNORABLE for char in text):
            return ""  # a joiner the font has no glyph for: it did its work in the shaping
        return None

    def _ours(self, gid: int, text: str, *, rtl: bool) -> str | None:
        """Our code point for glyph `gid`, mapped into this font on first use."""
        codepoint = self._glyph_char.get(gid)
        if codepoint is None:
            codepoint = next(self._al_free if rtl else self._pua_free, None)
            if codepoint is None:
                return None
            self._glyph_char[gid] = codepoint
            self._texts[codepoint] = text
            self.face.charToGlyph[codepoint] = gid
            self.face.glyphToChar.setdefault(gid, []).append(codepoint)
            self.face.charWidths[codepoint] = self.face._pdfScale(self.face.hmetrics[gid][0])
        return chr(codepoint)

    def addObjects(self, doc: Any) -> None:
        """Embed the font as ReportLab does, then give our glyph code points their source text in ToUnicode."""
        state = self.state.get(doc)
        subsets = [list(s) for s in state.subsets] if state is not None else []
        names = [(b"".join((_subset_tag(n), b"+", self.face.name, self.face.subfontNameX))).decode("pdfdoc")
                 for n in range(len(subsets))]
        super().addObjects(doc)
        for base_name, subset in zip(names, subsets):
            if not any(cp in self._texts for cp in subset):
                continue
            stream = doc.idToObject.get("toUnicodeCMap:" + base_name)
            if stream is not None:
                stream.content = to_unicode_cmap(base_name, subset, self._texts)


def _subset_tag(n: int) -> bytes:
    from reportlab.pdfbase.ttfonts import SUBSETN

    return SUBSETN(n)


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def to_unicode_cmap(font_name: str, subset: list[int], texts: dict[int, str]) -> str:
    """A ToUnicode CMap for one subset: each code to its character, or to the text our glyph code point stands for."""
    entries = []
    for code, codepoint in enumerate(subset):
        text = texts.get(codepoint, chr(codepoint))
        entries.append(f"<{code:02X}> <{_utf16_hex(text)}>")
    return "\n".join([
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap", "/CIDSystemInfo",
        f"<< /Registry ({font_name})", f"/Ordering ({font_name})", "/Supplement 0", ">> def",
        f"/CMapName /{font_name} def", "/CMapType 2 def", "1 begincodespacerange",
        f"<00> <{len(subset) - 1:02X}>", "endcodespacerange", f"{len(subset)} beginbfchar", *entries,
        "endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end",
    ])
