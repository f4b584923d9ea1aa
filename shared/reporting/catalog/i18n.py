"""Locales, their Babel names and text direction, the gettext catalogs and their hash (SPEC §3, §7).

The catalogs are the `.po` files under locales/<locale>/LC_MESSAGES/messages.po — the one source
of truth, read at run time with Babel (no compiled `.mo` to drift from them). English is the
source language: its msgids are the English text, so an empty English msgstr is not missing.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:  # Babel is imported where it is used: the request path does not need it.
    from babel.messages.catalog import Catalog
    from babel.support import Translations

# Our locale tags → CLDR/Babel locales (numbers, dates, currency placement, plural rules).
# English is en_GB: "24 November 2026" reads the same in Kabul, Delhi and Riyadh; en_US's
# "November 24, 2026" does not.
BABEL_LOCALE = {"en": "en_GB", "ps": "ps", "fa-AF": "fa_AF", "ar": "ar_SA", "hi": "hi_IN"}
LOCALES = tuple(BABEL_LOCALE)
SOURCE_LOCALE = "en"
RTL_LOCALES = frozenset({"ps", "fa-AF", "ar"})
DOMAIN = "messages"
LAYOUT_FILE = "layout.html.j2"
# The layouts are rendered with these options; the extractor must parse them the same way.
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true",
                 "silent": "false"}


def direction(locale: str) -> str:
    """"rtl" for the Arabic-script locales, else "ltr"."""
    return "rtl" if locale in RTL_LOCALES else "ltr"


def _check(locale: str) -> str:
    if locale not in BABEL_LOCALE:
        raise ValueError(f"unsupported locale {locale!r}")
    return locale


def po_path(locale: str, root: Path | None = None) -> Path:
    """Where the catalog of `locale` lives (in the package, or under `root` for the extract tool)."""
    base = root if root is not None else Path(str(files("reporting.catalog").joinpath("locales")))
    return base / _check(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"


def pot_path(root: Path | None = None) -> Path:
    """The extracted template of every msgid (messages.pot)."""
    base = root if root is not None else Path(str(files("reporting.catalog").joinpath("locales")))
    return base / f"{DOMAIN}.pot"


def _read(path: Path, locale: str) -> "Catalog":
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        return read_po(fh, locale=BABEL_LOCALE[locale], domain=DOMAIN)


@lru_cache(maxsize=len(BABEL_LOCALE))
def load_catalog(locale: str) -> "Catalog":
    """The parsed `.po` of `locale` (cached: package files do not change under a running process)."""
    path = po_path(locale)
    if not path.is_file():
        # Loud, not English: a bundle that lost its catalogs must not pass for translated.
        raise FileNotFoundError(f"no message catalog for {locale!r} (is **/*.po package data?)")
    return _read(path, locale)


@lru_cache(maxsize=len(BABEL_LOCALE))
def translations(locale: str) -> "Translations":
    """gettext translations of `locale` for Jinja2's i18n extension (plural rules from the catalog's CLDR header)."""
    from babel.messages.mofile import write_mo
    from babel.support import Translations

    buf = io.BytesIO()
    write_mo(buf, load_catalog(_check(locale)), use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def _translated(catalog: "Catalog") -> Iterator[tuple[str, str]]:
    """(key, translation) of every entry a render would use: translated, not fuzzy, not obsolete."""
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not any(strings):
            continue  # untranslated renders as the msgid, exactly as if the entry were absent
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        key = "\x04".join(filter(None, [message.context or "", *ids]))
        yield key, "\x00".join(s or "" for s in strings)


def catalog_digest(locale: str, catalog: "Catalog") -> bytes:
    """What one catalog translates, as bytes to hash: translations and plural rule only.

    Header dates, comments and source locations (which `catalog extract` rewrites) do not
    change a rendered page, and neither does an untranslated entry, so none of them count.
    """
    out = [locale.encode(), (catalog.plural_forms or "").encode()]
    out += [key.encode() + b"\x01" + text.encode() for key, text in sorted(_translated(catalog))]
    return b"\x02".join(out) + b"\x03"


def catalog_hash(locales: Iterable[str]) -> str:
    """sha256 over what the catalogs of these locales translate: part of every snapshot hash."""
    digest = hashlib.sha256()
    for locale in sorted({_check(loc) for loc in locales}):
        digest.update(catalog_digest(locale, load_catalog(locale)))
    return digest.hexdigest()


# --- extraction (the `reporting catalog extract` tool) -------------------------------------


@dataclass(frozen=True)
class Extracted:
    """One msgid found in a platform layout."""

    msgid: str | tuple[str, ...]
    context: str | None
    template_key: str
    lineno: int


def extract_layout(layout: str, template_key: str) -> list[Extracted]:
    """Every gettext call in one layout (`_`, gettext, ngettext, {% trans %}), via Jinja2's Babel extractor."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract
    from jinja2.ext import babel_extract

    found = extract(babel_extract, io.BytesIO(layout.encode("utf-8")), keywords=DEFAULT_KEYWORDS,
                    options=JINJA_OPTIONS, strip_comment_tags=True)
    return [Extracted(msgid=message, context=context, template_key=template_key, lineno=lineno)
            for lineno, message, _comments, context in found]


def extract_platform() -> list[Extracted]:
    """The msgids of every platform layout, in template order."""
    from reporting.catalog.platform import platform_templates

    out: list[Extracted] = []
    for template in platform_templates():
        out += extract_layout(template.layout, template.key)
    return out


def build_pot(found: Iterable[Extracted], creation_date: datetime | None = None) -> "Catalog":
    """The messages.pot catalog of these msgids, located by template."""
    from babel.messages.catalog import Catalog

    pot = Catalog(project="reporting-service", version="platform", copyright_holder="Melmastoon",
                  charset="utf-8", creation_date=creation_date or datetime.now(timezone.utc),
                  fuzzy=False)
    for item in found:
        pot.add(item.msgid, string=("", "") if isinstance(item.msgid, tuple) else "",
                locations=[(f"{item.template_key}/{LAYOUT_FILE}", item.lineno)], context=item.context)
    return pot


def _serialise_po(catalog: "Catalog", *, pot: bool) -> bytes:
    from babel.messages.pofile import write_po

    buf = io.BytesIO()
    write_po(buf, catalog, width=100, sort_output=True, ignore_obsolete=pot, include_previous=False,
             omit_header=False)
    return buf.getvalue()


def cldr_plural_forms(locale: str) -> str:
    """The gettext Plural-Forms of `locale` from CLDR's plural rule (Babel's own table differs for fa, hi, ar)."""
    from babel import Locale
    from babel.plural import to_gettext

    return to_gettext(Locale.parse(BABEL_LOCALE[_check(locale)]).plural_form)


def _content(catalog: "Catalog") -> list[tuple[object, ...]]:
    """A catalog's messages and plural rule as comparable data (header dates left out)."""
    rows: list[tuple[object, ...]] = [("plural-forms", catalog.plural_forms)]
    rows += [(m.id, m.context, m.string, sorted(m.locations), m.fuzzy) for m in catalog if m.id]
    rows += [(m.id, m.context, m.string, "obsolete") for m in catalog.obsolete.values()]
    return sorted(rows, key=repr)


def update_catalogs(root: Path, found: list[Extracted], *, write: bool = True) -> list[Path]:
    """Write messages.pot and merge it into every locale's .po (new msgids empty); return the files changed.

    A file is rewritten only when its messages change, so running it twice changes nothing;
    with write=False nothing is written and the files that would change are returned.
    Removed msgids stay in the .po as obsolete (#~) entries: a renamed msgid keeps its translation there.
    """
    from babel.messages.catalog import Catalog

    changed: list[Path] = []
    target = pot_path(root)
    old_pot = _read(target, SOURCE_LOCALE) if target.is_file() else None
    pot = build_pot(found, creation_date=old_pot.creation_date if old_pot else None)
    if old_pot is None or _content(old_pot) != _content(pot):
        if write:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_serialise_po(pot, pot=True))
        changed.append(target)
    for locale in LOCALES:
        path = po_path(locale, root)
        if path.is_file():
            catalog = _read(path, locale)
        else:
            catalog = Catalog(locale=BABEL_LOCALE[locale], domain=DOMAIN, project=pot.project,
                              version=pot.version, copyright_holder=pot.copyright_holder, charset="utf-8",
                              creation_date=pot.creation_date, revision_date=pot.creation_date, fuzzy=False)
        before = _content(catalog)
        catalog.mime_headers = [("Plural-Forms", cldr_plural_forms(locale))]
        catalog.update(pot, no_fuzzy_matching=True, update_header_comment=False, update_creation_date=False)
        if not path.is_file() or _content(catalog) != before:
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_serialise_po(catalog, pot=False))
            changed.append(path)
    return changed


def missing_translations(root: Path | None = None) -> list[str]:
    """One line per msgid a platform template uses with no translation in a locale it offers (English excepted)."""
    from reporting.catalog.platform import platform_templates

    problems: dict[tuple[str, str, str], str] = {}
    for template in platform_templates():
        msgids = extract_layout(template.layout, template.key)
        for locale in template.locales:
            if locale == SOURCE_LOCALE:
                continue
            path = po_path(locale, root)
            catalog = _read(path, locale) if path.is_file() else None
            for item in msgids:
                key = item.msgid[0] if isinstance(item.msgid, tuple) else item.msgid
                message = catalog.get(key, context=item.context) if catalog is not None else None
                strings = () if message is None else (
                    message.string if isinstance(message.string, tuple) else (message.string,))
                if message is None or message.fuzzy or not strings or not all(strings):
                    problems.setdefault((template.key, locale, key),
                                        f"{template.key}: {locale}: {key!r} (line {item.lineno})")
    return [problems[k] for k in sorted(problems)]
