"""Locales, their Babel names and text direction, and the translation catalog hash of SPEC §3."""
from __future__ import annotations

import hashlib
from importlib.resources import files
from typing import Iterable

# Our locale tags → CLDR/Babel locales (numbers, dates, currency placement).
BABEL_LOCALE = {"en": "en", "ps": "ps", "fa-AF": "fa_AF", "ar": "ar_SA", "hi": "hi_IN"}
RTL_LOCALES = frozenset({"ps", "fa-AF", "ar"})


def direction(locale: str) -> str:
    return "rtl" if locale in RTL_LOCALES else "ltr"


def catalog_hash(locales: Iterable[str]) -> str:
    """sha256 over the bundled translation catalogs of these locales: part of every snapshot hash."""
    digest = hashlib.sha256()
    root = files("reporting.catalog").joinpath("locales")
    for locale in sorted(set(locales)):
        if locale not in BABEL_LOCALE:
            raise ValueError(f"unsupported locale {locale!r}")
        digest.update(locale.encode() + b"\0")
        catalog = root.joinpath(f"{locale}.json")
        digest.update(catalog.read_bytes() if catalog.is_file() else b"")
        digest.update(b"\0")
    return digest.hexdigest()
