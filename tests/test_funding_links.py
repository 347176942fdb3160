"""The links behind the record pages (issue 17): financial years read from the stated text, references split as
written, and the build rule that a decision naming a known organisation as its recipient must link it by identifier
(scripts/publication/domains/funding_links.py)."""

from __future__ import annotations

import csv
import re
import sqlite3
from types import SimpleNamespace

import pytest

from scripts.common.funding import (
    cited_identifiers,
    name_key,
    parse_financial_years,
    record_ids,
    split_references,
    year_group,
)
from scripts.publication.domains import DOMAINS, funding_links
from tests.build_helpers import append_row, copy_data, digest, run_build


@pytest.mark.parametrize("text,expected", [
    ("2020/21", (2020, 2020)),
    ("2020/21 (1 Nov 2020 - 31 Mar 2021)", (2020, 2020)),
    ("2019/20-2021/22", (2019, 2021)),
    ("2023/24-2025/26 (1 July 2023 to 31 March 2025, extended)", (2023, 2025)),
    ("2020/21 (2019/20 Mayoral budget reprofiled)", (2020, 2020)),  # only the leading years are read
    ("1999/00", (1999, 1999)),
    ("2023/25", None),  # not a financial year
    ("2021/22-2019/20", None),  # backwards
    ("three years to 2021/22", None),
    ("Apr 2020 - Sep 2021", None),
    ("2024-2029", None),
    ("", None),
    (None, None),
])
def test_financial_years_are_read_only_from_a_leading_yyyy_yy(text, expected):
    assert parse_financial_years(text) == expected


def test_a_span_is_labelled_as_a_span_never_divided():
    assert year_group((2019, 2021)) == "2019/20 to 2021/22"
    assert year_group((2020, 2020)) == "2020/21"
    assert year_group(None) is None


def test_references_split_outside_brackets_and_identifiers_match_whole_words():
    text = "MOPAC RJ (OCDS ocds-h6vhtk-0437b5; Find a Tender 009732-2025); MOPAC 946; MOPAC 946"
    refs = split_references(text)
    assert refs == ["MOPAC RJ (OCDS ocds-h6vhtk-0437b5; Find a Tender 009732-2025)", "MOPAC 946"]
    assert "ocds-h6vhtk-0437b5" in cited_identifiers(refs[0])
    assert "ocds-h6vhtk-0437" not in cited_identifiers(refs[0])  # never a part of a word
    assert cited_identifiers("MOPAC 946") == {"MOPAC 946"}
    assert record_ids("28; 29;28;x;") == [28, 29]
    assert name_key("  London Borough of Enfield ") == name_key("london borough of ENFIELD")


class Table:
    """A stand-in for a ValidatedTable: select() yields (row number, values) with the header as row 1."""

    def __init__(self, path: str, rows: list[dict]):
        self.resource = SimpleNamespace(display_path=path)
        self.rows_ = rows
        self.readable = True
        self.absent = frozenset()

    def select(self, *names):
        return [(i + 2, *(row.get(n) for n in names)) for i, row in enumerate(self.rows_)]


ORGS = Table("data/services/organizations.csv", [
    {"organization_id": "victim-support", "name": "Victim Support"},
    {"organization_id": "london-borough-of-enfield", "name": "London Borough of Enfield"},
])


def test_a_known_recipient_must_be_linked_by_identifier():
    decisions = Table("data/mopac/funding_decisions.csv", [
        {"recipient": "Victim Support", "recipient_organization_id": "victim-support"},  # linked: fine
        {"recipient": "  london borough of enfield ", "recipient_organization_id": None},  # trimmed, any case
        {"recipient": "Victim Support", "recipient_organization_id": "london-borough-of-enfield"},  # the wrong one
        {"recipient": "Various (Annex 1, not visible)", "recipient_organization_id": None},  # not an organisation
        {"recipient": None, "recipient_organization_id": None},
        {"recipient": "Victim Support (with partners)", "recipient_organization_id": None},  # not exactly the name
    ])
    problems = funding_links.check_recipients_linked({"funding_decisions": decisions, "organizations": ORGS})
    assert [(p.path, p.row, p.column) for p in problems] == [
        ("data/mopac/funding_decisions.csv", 3, "recipient_organization_id"),
        ("data/mopac/funding_decisions.csv", 4, "recipient_organization_id"),
    ]
    assert "'london-borough-of-enfield'" in problems[0].reason and "is empty" in problems[0].reason
    assert "'victim-support'" in problems[1].reason and "is 'london-borough-of-enfield'" in problems[1].reason


def test_the_rule_is_registered():
    assert funding_links.check_recipients_linked in funding_links.RULES


def test_the_module_runs_after_the_rows_it_links_and_before_the_synthetic_excerpts_are_written():
    names = [d.__name__.rsplit(".", 1)[-1] for d in DOMAINS]
    assert names.index("funding_links") > names.index("services")
    assert names.index("funding_links") > names.index("opportunities")
    assert names.index("funding_links") < names.index("provenance")


def link_known_recipients(data) -> None:
    """Make a copied data package pass the rule as it stands (a curator may not have linked every row yet), so that
    the test below sees only the row it adds."""
    with (data / "services" / "organizations.csv").open(encoding="utf-8-sig", newline="") as handle:
        known = {name_key(r["name"]): r["organization_id"] for r in csv.DictReader(handle)}
    path = data / "mopac" / "funding_decisions.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    for row in rows:
        if name_key(row["recipient"]) in known:
            row["recipient_organization_id"] = known[name_key(row["recipient"])]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def test_the_build_refuses_an_unlinked_known_recipient_and_publishes_nothing(tmp_path):
    data = copy_data(tmp_path / "data", cut_crime_to_rows=50)
    link_known_recipients(data)
    out = tmp_path / "published.db"
    first = run_build(data, out)
    assert first.returncode == 0, first.stderr[-3000:]
    before = digest(out)
    path = data / "mopac" / "funding_decisions.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        ids = [int(r["record_id"]) for r in csv.DictReader(handle)]
    row = append_row(path, {
        "record_id": max(ids) + 1, "reference": "PCD 9999", "organisation": "MOPAC", "item": "Test grant",
        "theme": "Victims", "programme": "Test", "recipient": " VICTIM SUPPORT", "amount_gbp": "250000",
        "description": "A grant to a known organisation, not linked.", "source_title": "Test",
        "source_url": "https://example.org/test", "source_excerpt": "MOPAC agreed a grant of £250,000.",
    })
    result = run_build(data, out)
    assert result.returncode == 1
    assert re.search(rf"data/mopac/funding_decisions\.csv:{row}:recipient_organization_id: recipient 'VICTIM "
                     r"SUPPORT' is the organisation 'victim-support'", result.stderr), result.stderr[-3000:]
    assert digest(out) == before

    # Linked by identifier, the same row builds, and the derived columns and link tables are there.
    with path.open(encoding="utf-8", newline="") as handle:
        text = handle.read()
    path.write_text(text.replace(" VICTIM SUPPORT,,", " VICTIM SUPPORT,victim-support,"), encoding="utf-8")
    again = run_build(data, out)
    assert again.returncode == 0, again.stderr[-3000:]
    db = sqlite3.connect(out)
    assert db.execute("select recipient_organization_id from funding_decisions where record_id = ?",
                      [max(ids) + 1]).fetchone() == ("victim-support",)
    assert {"financial_year", "financial_year_start", "financial_years_count"} <= {
        r[1] for r in db.execute("pragma table_info(funding_decisions)")}
    assert db.execute("select count(*) from service_funding").fetchone()[0] > 0


@pytest.mark.parametrize("name", ["commissioning.db", "synthetic_demo.db"])
def test_built_years_agree_with_the_stated_text(name):
    from scripts.site import BUILD

    db = sqlite3.connect(BUILD / name)
    sql = "select financial_years, financial_year, financial_year_start, financial_years_count from funding_decisions"
    for stated, label, start, count in db.execute(sql):
        years = parse_financial_years(stated)
        assert label == year_group(years)
        assert (start, count) == ((years[0], years[1] - years[0] + 1) if years else (None, None))


def test_service_funding_holds_exactly_the_rows_and_references_each_service_cites(real_db_path):
    db = sqlite3.connect(real_db_path)
    rows = {r[0]: r[1] for r in db.execute("select record_id, reference from funding_decisions")}
    references = set(rows.values())
    expected = set()
    for service_id, refs, ids in db.execute("select service_id, decision_refs, funding_record_ids from services"):
        cited = [int(i) for i in (ids or "").split(";") if i.strip().isdigit() and int(i) in rows]
        expected |= {(service_id, rows[i], i, "record") for i in cited}
        by_row = {rows[i] for i in cited}
        expected |= {(service_id, r, None, "reference") for r in split_references(refs)
                     if r in references and r not in by_row}
    assert set(db.execute("select service_id, reference, record_id, cited_as from service_funding")) == expected
    assert expected


def test_synthetic_decisions_are_linked_to_real_synthetic_providers(synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    linked, total = db.execute(
        "select count(recipient_organization_id), count(*) from funding_decisions").fetchone()
    assert 0 < linked < total
    assert db.execute("""select count(*) from funding_decisions d join organizations o
        on o.organization_id = d.recipient_organization_id where o.name != d.recipient""").fetchone() == (0,)
    assert db.execute("select count(*) from service_partners where role = 'partner'").fetchone()[0] > 0
    assert db.execute("select count(*) from service_notices").fetchone()[0] > 0
