"""Locale formatting for layouts (Babel/CLDR): numbers, percentages, money, dates, and the local calendar.

Digits are Latin (0–9) in every locale. CLDR's default for ps and fa-AF is Extended
Arabic-Indic (۱۲۳) and for ar_SA Arabic-Indic (١٢٣), but xhtml2pdf writes page numbers and
page counts in Latin digits only, and one page mixing two digit systems reads worse than
either; Latin digits are also what the hotels' own systems, the CSV exports and the
regulators' electronic formats (ZATCA XML) use. hi_IN's CLDR default is Latin anyway. The
grouping and decimal symbols, sign and currency placement stay the locale's own (ps with
Latin digits groups with "." and decimals with ","), and Babel's bidi marks keep a number
in order inside right-to-left text. One constant flips it back to CLDR's native digits.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Callable

from jinja2 import pass_context
from jinja2.runtime import Context

from reporting.adapters.renderers.calendars import local_date
from reporting.catalog.i18n import BABEL_LOCALE

NUMBERING_SYSTEM = "latn"  # "default" would give CLDR's native digits (see the module docstring)
MISSING = "—"


_NUMBER = re.compile(r"[#,]*0(\.[0#]+)?")


def fixed_fraction(pattern: str, digits: int) -> str:
    """A CLDR number pattern with exactly `digits` decimals, its grouping (hi_IN's lakhs) and affixes kept."""
    positive = pattern.split(";")[0]
    return _NUMBER.sub(lambda m: m.group(0).split(".")[0] + ("." + "0" * digits if digits else ""), positive, count=1)


def babel_locale(locale: str) -> str:
    """The Babel locale of one of our locale tags (English for an unknown one)."""
    return BABEL_LOCALE.get(locale, BABEL_LOCALE["en"])


def _country(prop: Any) -> str | None:
    if isinstance(prop, Mapping):
        value = prop.get("country")
    else:
        value = getattr(prop, "country", None)
    return value if isinstance(value, str) else None


def filters(locale: str) -> dict[str, Callable[..., Any]]:
    """The number, percent, money, longdate and datetime filters of `locale`."""
    from babel import Locale
    from babel.dates import format_date, format_datetime
    from babel.numbers import format_currency, format_decimal, format_percent

    loc = babel_locale(locale)
    cldr = Locale.parse(loc)
    decimal_pattern = cldr.decimal_formats[None].pattern
    percent_pattern = fixed_fraction(cldr.percent_formats[None].pattern, 1)

    def number(value: Any, digits: int = 0) -> str:
        if value is None:
            return MISSING
        return format_decimal(value, format=fixed_fraction(decimal_pattern, digits), locale=loc,
                              numbering_system=NUMBERING_SYSTEM)

    def percent(value: Any) -> str:
        if value is None:
            return MISSING
        return format_percent(value, format=percent_pattern, locale=loc, numbering_system=NUMBERING_SYSTEM)

    def money(value: Any, currency: str) -> str:
        if value is None:
            return MISSING
        return format_currency(value, currency, locale=loc, numbering_system=NUMBERING_SYSTEM)

    @pass_context
    def longdate(context: Context, value: date) -> str:
        """The long Gregorian date, with the property's local calendar beside it (AF, SA)."""
        text = format_date(value, format="long", locale=loc)
        day = value.date() if isinstance(value, datetime) else value
        local = local_date(day, _country(context.get("property")), locale)
        return f"{text} ({local})" if local else text

    def datetime_(value: datetime) -> str:
        return format_datetime(value, format="medium", locale=loc)

    return {"number": number, "percent": percent, "money": money, "longdate": longdate, "datetime": datetime_}
