"""The local calendar shown beside the Gregorian date: Solar Hijri in Afghanistan, Umm al-Qura in Saudi Arabia."""
from __future__ import annotations

from datetime import date

# Afghanistan names the Solar Hijri months after the zodiac, not as Iran does (Farvardin …).
SOLAR_HIJRI_MONTHS = {
    "fa-AF": ("حمل", "ثور", "جوزا", "سرطان", "اسد", "سنبله", "میزان", "عقرب", "قوس", "جدی", "دلو", "حوت"),
    "ps": ("وری", "غویی", "غبرګولی", "چنګاښ", "زمری", "وږی", "تله", "لړم", "لیندۍ", "مرغومی", "سلواغه", "کب"),
    "en": ("Hamal", "Sawr", "Jawza", "Saratan", "Asad", "Sunbula", "Mizan", "Aqrab", "Qaws", "Jadi", "Dalw", "Hut"),
}
# Which month names each report locale reads: its own, else the nearest one it can read.
_SOLAR_NAMES = {"fa-AF": "fa-AF", "ps": "ps", "ar": "fa-AF", "en": "en", "hi": "en"}
_HIJRI_LANGUAGE = {"ar": "ar", "ps": "ar", "fa-AF": "ar", "en": "en", "hi": "en"}
_HIJRI_ERA = {"ar": "هـ", "en": "AH"}
CALENDAR_BY_COUNTRY = {"AF": "solar_hijri", "SA": "umm_al_qura"}


def solar_hijri(day: date) -> tuple[int, int, int]:
    """(year, month, day) of `day` in the Solar Hijri calendar (month 1 = Hamal, from Nowruz)."""
    import jdatetime

    local = jdatetime.date.fromgregorian(date=day)
    return local.year, local.month, local.day


def umm_al_qura(day: date) -> tuple[int, int, int] | None:
    """(year, month, day) of `day` in the Umm al-Qura calendar, or None outside its table (1924–2077)."""
    from hijridate import Gregorian

    try:
        hijri = Gregorian(day.year, day.month, day.day).to_hijri()
    except OverflowError:
        return None
    return hijri.year, hijri.month, hijri.day


def local_date(day: date, country: str | None, locale: str) -> str | None:
    """`day` in the calendar of `country`, worded for `locale` ("3 Qaws 1405"); None where there is none (IN)."""
    calendar = CALENDAR_BY_COUNTRY.get((country or "").upper())
    if calendar == "solar_hijri":
        year, month, dom = solar_hijri(day)
        return f"{dom} {SOLAR_HIJRI_MONTHS[_SOLAR_NAMES.get(locale, 'en')][month - 1]} {year}"
    if calendar == "umm_al_qura":
        found = umm_al_qura(day)
        if found is None:
            return None
        from hijridate import Hijri

        year, month, dom = found
        language = _HIJRI_LANGUAGE.get(locale, "en")
        return f"{dom} {Hijri(year, month, dom).month_name(language)} {year} {_HIJRI_ERA[language]}"
    return None
