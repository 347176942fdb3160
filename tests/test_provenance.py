"""Each transcribed figure stands in its row's source excerpt (issue 13): the matcher and the build rule."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import pytest

from scripts.publication.figures import figure_stated, stated_numbers
from scripts.publication.package import load_package
from tests.build_helpers import DATA, append_row, copy_data, digest, run_build


@pytest.mark.parametrize("value, text", [
    (1_500_000, "MOPAC will award £1.5m over two years."),
    (1_500_000, "a grant of £1.5 million"),
    (1_500_000, "worth 1.5m in total"),
    (1_500_000, "£1,500,000 was agreed"),
    (1_500_000, "1500000 in 2019/20"),
    (150_000, "up to £150k for each borough"),
    (990_324.28, "MOPAC had been successful in applying for £990,324.28 in funding"),
    (502_992, "£502,992.00 to Lewisham"),
    (14_800_000, "£14.8m total VRU budget 2019/20"),
    (2_000_000_000, "a £2bn programme"),
    (800, "nearly 800 young people engaged with A&E youth workers"),
    (41_860_000, "the total contract value of PS41,860,000."),  # a stored page's rendering of the pound sign
    (4_292_000, "Total value PS4,292000.00(2 year contract )"),  # the source's own misplaced comma
    (170_000, "a contract worth £170 000 over two years"),  # thousands spaces, as tender notices print them
    (450_000, "Value excluding VAT: 450 000.00 GBP"),
    (80, "more than 80% reduced or exited"),
])
def test_a_figure_written_in_a_usual_form_is_found(value, text):
    assert figure_stated(value, text)


@pytest.mark.parametrize("value, text", [
    (1_512_000, "MOPAC will award £1.5m over two years."),  # never rounded
    (150_000, "£1,500,000 was agreed"),
    (500, "PCD 1500 approved the grant"),
    (990_324, "£990,324.28"),
    (2_024_500, "in 2024 500 people were seen"),  # a year then a number is not one number
])
def test_a_figure_the_excerpt_does_not_state_is_not_found(value, text):
    assert not figure_stated(value, text)


def test_numbers_inside_words_and_references_are_not_amounts():
    assert Decimal(1560) in stated_numbers("PCD 1560")
    assert Decimal(5) not in stated_numbers("Round5 of the fund")
    assert stated_numbers("") == set()


def opted_in():
    return {name: r.schema["x-figures-in-excerpt"] for name, r in load_package(DATA).resources.items()
            if r.schema.get("x-figures-in-excerpt")}


def test_every_transcribed_table_opts_in():
    tables = opted_in()
    for name in ("funding_decisions", "services", "funding_opportunities", "vru_reach", "vru_kpis",
                 "lcpf_allocations"):
        assert name in tables, name
        assert tables[name]["excerpt"] == "source_excerpt"


def test_a_row_whose_amount_is_not_in_its_excerpt_fails_the_build_and_publishes_nothing(tmp_path):
    data = copy_data(tmp_path / "data", cut_crime_to_rows=50)
    out = tmp_path / "published.db"
    assert run_build(data, out).returncode == 0, "the copied data builds"
    before = digest(out)
    path = data / "mopac" / "funding_decisions.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        ids = [int(r["record_id"]) for r in csv.DictReader(handle)]
    row = append_row(path, {
        "record_id": max(ids) + 1, "reference": "PCD 9999", "organisation": "MOPAC", "item": "Test grant",
        "theme": "Victims", "programme": "Test", "recipient": "A test recipient", "amount_gbp": "250000",
        "description": "A row whose amount is not in its excerpt.", "source_title": "Test",
        "source_url": "https://example.org/test", "source_excerpt": "MOPAC agreed a grant of £205,000.",
    })
    result = run_build(data, out)
    assert result.returncode == 1
    assert f"data/mopac/funding_decisions.csv:{row}:amount_gbp: 250,000 or £250k is not stated in source_excerpt" \
        in result.stderr
    assert digest(out) == before


def test_the_same_row_with_its_figure_in_the_excerpt_builds(tmp_path):
    data = copy_data(tmp_path / "data", cut_crime_to_rows=50)
    path = data / "mopac" / "funding_decisions.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        ids = [int(r["record_id"]) for r in csv.DictReader(handle)]
    append_row(path, {
        "record_id": max(ids) + 1, "reference": "PCD 9999", "organisation": "MOPAC", "item": "Test grant",
        "theme": "Victims", "programme": "Test", "recipient": "A test recipient", "amount_gbp": "250000",
        "description": "A row whose amount is in its excerpt.", "source_title": "Test",
        "source_url": "https://example.org/test", "source_excerpt": "MOPAC agreed a grant of £250k.",
    })
    result = run_build(data, tmp_path / "published.db")
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_extension_names_real_columns():
    for name, setting in opted_in().items():
        resource = load_package(DATA).resources[name]
        for column in [setting["excerpt"], *setting["figures"]]:
            assert column in resource.field_names, f"{name}.{column}"
    assert json.dumps(opted_in())  # plain JSON settings
