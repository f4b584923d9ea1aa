"""Every operational template's output, in English, Pashto and Dari (daily occupancy also in Arabic and Hindi),
matches its reviewed golden snapshot: normalised HTML, PDF text per page and page count."""
from __future__ import annotations

import json

import pytest

from tests.goldens.snapshots import Case, cases, normalise_html, render

CACHE: dict = {}


@pytest.mark.parametrize("case", cases(), ids=lambda c: f"{c.template_key}-{c.locale}")
def test_the_report_matches_its_golden_snapshot(case: Case) -> None:
    html_file, pdf_file = case.stem.with_suffix(".html"), case.stem.with_suffix(".pdf.json")
    assert html_file.is_file() and pdf_file.is_file(), f"no golden for {case}: run `make goldens` and review it"
    rendered = render(case, CACHE)
    golden = json.loads(pdf_file.read_text(encoding="utf-8"))
    assert normalise_html(rendered["html"]) == html_file.read_text(encoding="utf-8").strip(), \
        f"{case}: the HTML changed; if on purpose, `make goldens` and review the pages"
    assert rendered["pages"] == golden["pages"]
    assert rendered["pdf_text"] == golden["text"], f"{case}: the PDF text changed"


def test_there_is_a_golden_for_every_case_and_no_stale_one() -> None:
    from tests.goldens.snapshots import HERE

    expected = {c.stem.with_suffix(".html") for c in cases()}
    present = set(HERE.glob("*/*.html"))
    assert present == expected
