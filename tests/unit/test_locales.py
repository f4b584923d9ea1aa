"""Locales (SPEC §7): gettext catalogs, CLDR plurals, the catalog hash, extraction, formatting, calendars, RTL."""
from __future__ import annotations

import io
import re
import shutil
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import Translations
from pypdf import PdfReader

from reporting.adapters.renderers.calendars import local_date, solar_hijri, umm_al_qura
from reporting.adapters.renderers.document import DocumentRenderer
from reporting.catalog import i18n
from reporting.catalog.platform import platform_templates
from reporting.cli import main
from reporting.service_layer.ports import RenderRequest

TRANSLATED = ("ps", "fa-AF", "ar", "hi")
CHROME = ("Page", "of", "Business date", "Generated", "Template", "version")


def daily_occupancy() -> Any:
    return next(t for t in platform_templates() if t.key == "daily_occupancy")


def render(layout: str, lang: str, fmt: str = "html", rows: list[dict[str, Any]] | None = None,
           **context: Any) -> bytes:
    return DocumentRenderer().render(RenderRequest(layout=layout, fmt=fmt, locale=lang, rows=rows or [],
                                                   context=context))


# --- catalogs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "Daily occupancy"), ("ps", "د خونو ورځنی ډکوالی"), ("fa-AF", "اشغال روزانه اتاق‌ها"),
    ("ar", "الإشغال اليومي"), ("hi", "दैनिक अधिभोग"),
])
def test_catalog_of_each_locale_loads_and_translates(locale: str, expected: str) -> None:
    assert i18n.translations(locale).gettext("Daily occupancy") == expected


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_msgid_of_daily_occupancy_and_the_page_chrome_is_translated(locale: str) -> None:
    catalog = i18n.load_catalog(locale)
    msgids = {item.msgid for item in i18n.extract_layout(daily_occupancy().layout, "daily_occupancy")}
    assert set(CHROME) <= msgids
    untranslated = sorted(m for m in msgids if not (catalog.get(m) and catalog.get(m).string))
    assert untranslated == []


def test_dari_uses_afghan_words_not_iranian_ones() -> None:
    dari = " ".join(str(m.string) for m in i18n.load_catalog("fa-AF") if m.id)
    assert "فیصدی" in dari and "عواید" in dari and "اوسط" in dari
    for iranian in ("درصد", "درآمد", "میانگین", "رایگان"):
        assert iranian not in dari


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_catalog_declares_the_cldr_plural_rule(locale: str) -> None:
    assert i18n.load_catalog(locale).plural_forms == i18n.cldr_plural_forms(locale)


def _translations_with(locale: str, forms: tuple[str, ...]) -> Translations:
    catalog = Catalog(locale=i18n.BABEL_LOCALE[locale])
    catalog.mime_headers = [("Plural-Forms", i18n.cldr_plural_forms(locale))]
    catalog.add(("%(num)s room", "%(num)s rooms"), string=forms)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def test_arabic_plurals_follow_cldr_zero_one_two_few_many_other() -> None:
    forms = ("zero", "one", "two", "few", "many", "other")
    tr = _translations_with("ar", forms)
    picked = {n: tr.ngettext("%(num)s room", "%(num)s rooms", n) for n in (0, 1, 2, 3, 10, 11, 99, 100, 102, 103)}
    assert picked == {0: "zero", 1: "one", 2: "two", 3: "few", 10: "few", 11: "many", 99: "many",
                      100: "other", 102: "other", 103: "few"}


def test_dari_and_hindi_plurals_treat_zero_as_one_per_cldr() -> None:
    for locale in ("fa-AF", "hi"):
        tr = _translations_with(locale, ("one", "other"))
        assert [tr.ngettext("%(num)s room", "%(num)s rooms", n) for n in (0, 1, 2)] == ["one", "one", "other"]


def test_trans_block_pluralises_with_the_catalog_in_a_layout() -> None:
    layout = ("{% trans count=n %}{{ count }} room{% pluralize %}{{ count }} rooms{% endtrans %}"
              "|{{ ngettext('x', 'xs', 2) }}")
    assert render(layout, "en", n=1).decode().endswith("1 room|xs")
    assert render(layout, "en", n=3).decode().endswith("3 rooms|xs")


def test_gettext_output_is_still_autoescaped() -> None:
    html = render("{{ _('<b>not bold</b>') }}", "ps").decode()
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html


# --- catalog hash --------------------------------------------------------------------------


def _catalog(**translations: str) -> Catalog:
    catalog = Catalog(locale="ps")
    catalog.mime_headers = [("Plural-Forms", i18n.cldr_plural_forms("ps"))]
    for msgid, text in translations.items():
        catalog.add(msgid, string=text, locations=[("a/layout.html.j2", 1)])
    return catalog


def test_catalog_digest_changes_with_a_translation_but_not_with_dates_locations_or_empty_entries() -> None:
    base = i18n.catalog_digest("ps", _catalog(Page="مخ"))
    assert i18n.catalog_digest("ps", _catalog(Page="پاڼه")) != base
    moved = _catalog(Page="مخ")
    moved.creation_date = datetime(2020, 1, 1, tzinfo=timezone.utc)
    moved.get("Page").locations = [("b/layout.html.j2", 99)]
    moved.add("Not yet translated", string="")
    assert i18n.catalog_digest("ps", moved) == base


def test_catalog_hash_covers_the_locales_asked_for() -> None:
    assert i18n.catalog_hash(["en", "ps"]) == i18n.catalog_hash(["ps", "en", "ps"])
    assert i18n.catalog_hash(["en", "ps"]) != i18n.catalog_hash(["en"])
    with pytest.raises(ValueError):
        i18n.catalog_hash(["de"])


def test_daily_occupancy_snapshot_covers_its_five_catalogs() -> None:
    template = daily_occupancy()
    assert template.version == 2
    assert template.locales == ["en", "ps", "fa-AF", "ar", "hi"]
    assert template.catalog_hash == i18n.catalog_hash(i18n.LOCALES)


# --- extraction ---------------------------------------------------------------------------


LAYOUT = """<p>{{ _("Arrivals") }} {{ gettext("Departures") }}</p>
{{ ngettext("%(num)s guest", "%(num)s guests", 3) }}
{% trans %}Page footer{% endtrans %}
"""


def test_extractor_finds_underscore_gettext_ngettext_and_trans_blocks() -> None:
    found = {item.msgid for item in i18n.extract_layout(LAYOUT, "demo")}
    assert found == {"Arrivals", "Departures", ("%(num)s guest", "%(num)s guests"), "Page footer"}


def test_update_adds_new_msgids_empty_keeps_translations_and_is_idempotent(tmp_path: Path) -> None:
    found = i18n.extract_layout(LAYOUT, "demo")
    changed = i18n.update_catalogs(tmp_path, found)
    assert i18n.pot_path(tmp_path) in changed and len(changed) == 1 + len(i18n.LOCALES)
    ps = i18n.po_path("ps", tmp_path)
    text = ps.read_text(encoding="utf-8")
    assert 'msgid "Arrivals"\nmsgstr ""' in text and "#: demo/layout.html.j2:1" in text
    ps.write_text(text.replace('msgid "Arrivals"\nmsgstr ""', 'msgid "Arrivals"\nmsgstr "راتلل"'), encoding="utf-8")
    assert i18n.update_catalogs(tmp_path, found) == []
    more = found + i18n.extract_layout('{{ _("Room") }}', "other")
    assert i18n.update_catalogs(tmp_path, more, write=False) != []
    assert i18n.update_catalogs(tmp_path, more) != []
    after = ps.read_text(encoding="utf-8")
    assert 'msgstr "راتلل"' in after and 'msgid "Room"\nmsgstr ""' in after


def test_a_removed_msgid_stays_in_the_po_as_obsolete(tmp_path: Path) -> None:
    i18n.update_catalogs(tmp_path, i18n.extract_layout(LAYOUT, "demo"))
    i18n.update_catalogs(tmp_path, i18n.extract_layout('{{ _("Arrivals") }}', "demo"))
    assert '#~ msgid "Departures"' in i18n.po_path("fa-AF", tmp_path).read_text(encoding="utf-8")


def test_committed_catalogs_hold_every_daily_occupancy_msgid() -> None:
    found = [item for item in i18n.extract_platform() if item.template_key == "daily_occupancy"]
    pot = i18n.pot_path().read_text(encoding="utf-8")
    for item in found:
        assert f'msgid "{item.msgid}"' in pot


def test_extract_check_names_every_missing_translation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "locales"
    shutil.copytree(i18n.pot_path().parent, root)
    ps = i18n.po_path("ps", root)
    ps.write_text(ps.read_text(encoding="utf-8").replace('msgstr "پلورل شوې خونې"', 'msgstr ""'), encoding="utf-8")
    assert main(["catalog", "extract", "--check", "--locales", str(root)]) == 1
    err = capsys.readouterr().err
    assert "missing translation: daily_occupancy: ps: 'Rooms sold'" in err
    assert "daily_occupancy: fa-AF" not in err


def test_package_catalogs_leave_no_daily_occupancy_msgid_untranslated() -> None:
    assert [line for line in i18n.missing_translations() if line.startswith("daily_occupancy:")] == []


# --- numbers, currency, dates ----------------------------------------------------------------


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "1,234,567.5|66.7%|AFN1,234,568"),
    ("ps", "1.234.567,5|66,7%|؋ 1.234.568"),
    ("fa-AF", "1,234,567.5|66.7%|\u200e؋ 1,234,568"),
    ("ar", "1,234,567.5|66.7%|\u200f1,234,568 AFN"),
    ("hi", "12,34,567.5|66.7%|AFN12,34,568"),
])
def test_numbers_use_latin_digits_with_each_locales_separators(locale: str, expected: str) -> None:
    html = render("{{ 1234567.5 | number(1) }}|{{ 0.6667 | percent }}|{{ 1234567.5 | money('AFN') }}", locale)
    assert html.decode().split("</style>\n")[-1].replace("\xa0", " ") == expected


def test_money_places_the_riyal_and_rupee_as_cldr_says() -> None:
    assert "ر.س." in render("{{ 720 | money('SAR') }}", "ar").decode()
    assert "₹7,20,000.00" in render("{{ 720000 | money('INR') }}", "hi").decode()


PROPERTY = {"AF": {"country": "AF"}, "SA": {"country": "SA"}, "IN": {"country": "IN"}}


@pytest.mark.parametrize(("locale", "country", "expected"), [
    ("en", "AF", "24 November 2026 (3 Qaws 1405)"),
    ("fa-AF", "AF", "24 نومبر 2026 (3 قوس 1405)"),
    ("ps", "AF", "2026 نومبر 24 (3 لیندۍ 1405)"),
    ("ar", "SA", "24 نوفمبر 2026 (14 جمادى الآخرة 1448 هـ)"),
    ("en", "SA", "24 November 2026 (14 Jumada al-Akhirah 1448 AH)"),
    ("hi", "IN", "24 नवंबर 2026"),
    ("en", "IN", "24 November 2026"),
])
def test_longdate_adds_the_propertys_local_calendar(locale: str, country: str, expected: str) -> None:
    html = render("{{ day | longdate }}", locale, day=date(2026, 11, 24), property=PROPERTY[country])
    assert html.decode().split("</style>\n")[-1] == expected


def test_longdate_without_a_property_is_just_gregorian() -> None:
    assert render("{{ day | longdate }}", "en", day=date(2026, 11, 24)).decode().endswith("24 November 2026")


# --- calendars ----------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 3, 21), (1405, 1, 1)),     # Nowruz: 1 Hamal 1405
    (date(2026, 3, 20), (1404, 12, 29)),   # last of Hut in a common year
    (date(2025, 3, 20), (1403, 12, 30)),   # 1403 is a leap year: Hut has 30 days
    (date(2026, 11, 24), (1405, 9, 3)),    # 3 Qaws 1405
])
def test_solar_hijri_known_conversions(day: date, expected: tuple[int, int, int]) -> None:
    assert solar_hijri(day) == expected


@pytest.mark.parametrize(("day", "expected"), [
    (date(1982, 12, 2), (1403, 2, 17)),    # hijridate's documented example
    (date(2025, 3, 1), (1446, 9, 1)),      # 1 Ramadan 1446 in Saudi Arabia
    (date(2026, 2, 18), (1447, 9, 1)),     # 1 Ramadan 1447
])
def test_umm_al_qura_known_conversions(day: date, expected: tuple[int, int, int]) -> None:
    assert umm_al_qura(day) == expected


def test_umm_al_qura_outside_its_table_shows_no_local_date() -> None:
    assert umm_al_qura(date(1900, 1, 1)) is None
    assert local_date(date(1900, 1, 1), "SA", "ar") is None


def test_afghan_month_names_are_afghan_in_dari_and_pashto() -> None:
    assert local_date(date(2026, 3, 21), "AF", "fa-AF") == "1 حمل 1405"
    assert local_date(date(2026, 3, 21), "AF", "ps") == "1 وری 1405"
    assert local_date(date(2026, 3, 21), "AF", "en") == "1 Hamal 1405"
    assert local_date(date(2026, 3, 21), "IN", "hi") is None


# --- every locale renders daily occupancy ---------------------------------------------------


def _rows() -> list[dict[str, Any]]:
    room = dict(room_type="Deluxe King", is_total=False, rooms_total=40, rooms_out_of_order=1, rooms_available=39,
                rooms_sold=35, complimentary_rooms=1, house_use_rooms=0, occupancy=35 / 39,
                rooms_revenue=Decimal("4200.00"), adr=Decimal("120.00"), revpar=Decimal("107.69"))
    return [room, {**room, "room_type": None, "is_total": True}]


def render_daily_occupancy(locale: str, country: str = "AF") -> bytes:
    template = daily_occupancy()
    context = {
        "property": {"name": "Kabul Garden Hotel", "timezone": "Asia/Kabul", "currency": "AFN", "country": country},
        "run": {"run_date": date(2026, 11, 24)},
        "template": {"key": template.key, "version": template.version},
        "generated_at": datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc),
        "locale": locale,
    }
    return render(template.layout, locale, "pdf", _rows(), **context)


@pytest.mark.parametrize(("locale", "country", "expected"), [
    ("en", "AF", ["Daily occupancy", "Rooms sold", "Page 1 of 1", "3 Qaws 1405"]),
    ("ps", "AF", ["ورځنی ډکوالی", "پلورل شوې خونې", "کاري نېټه", "لیندۍ", "ټولې خونې"]),
    ("fa-AF", "AF", ["اشغال روزانه", "تاریخ کاری", "عواید اتاق‌ها", "قوس", "همه اتاق‌ها"]),
    ("ar", "SA", ["الإشغال اليومي", "تاريخ العمل", "الغرف المباعة", "جمادى الآخرة", "جميع الغرف"]),
    ("hi", "IN", ["पृष्ठ 1 / 1", "संस्करण", "टेम्पलेट", "कुल कमरे", "सभी कमरे"]),
])
def test_every_locale_renders_daily_occupancy_with_its_translations(locale: str, country: str,
                                                                      expected: list[str]) -> None:
    pdf = render_daily_occupancy(locale, country)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for phrase in expected:
        assert phrase in text, phrase


def _x_of(pdf: bytes, *cells: str) -> dict[str, float]:
    """Where on the page (x) the first cell whose text, less currency signs and marks, is each of `cells`."""
    found: dict[str, float] = {}

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        key = re.sub(r"[^0-9A-Za-z ]|AFN", "", text).strip()
        if key in cells and key not in found:
            found[key] = cm[4] + tm[4]

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


def test_rtl_table_columns_run_right_to_left() -> None:
    # First column (room type), second (total rooms, 40), last (RevPAR, AFN 108).
    ltr = _x_of(render_daily_occupancy("en"), "Deluxe King", "40", "108")
    rtl = _x_of(render_daily_occupancy("fa-AF"), "Deluxe King", "40", "108")
    assert ltr["Deluxe King"] < ltr["40"] < ltr["108"]
    assert rtl["Deluxe King"] > rtl["40"] > rtl["108"]


def test_long_rtl_header_wraps_first_words_first() -> None:
    # "اتاق‌های فروخته‌شده" (rooms sold) wraps in its column: its first word is on the upper line.
    text = PdfReader(io.BytesIO(render_daily_occupancy("fa-AF"))).pages[0].extract_text()
    assert "اتاق‌های\nفروخته‌شده" in text
