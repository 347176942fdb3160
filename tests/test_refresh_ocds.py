"""make refresh (scripts/refresh_ocds.py, scripts/publication/ocds.py) and make accept (scripts/accept_inbox.py).

The fixtures in tests/fixtures/ocds/ are OCDS in Find a Tender's layout, written from what the public records say
about MOPAC notices (see the README beside them). Every test works on a copy of data/ in a temporary folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import accept_inbox, refresh_ocds
from scripts.publication import ocds
from scripts.publication.figures import figure_stated
from scripts.site import ROOT
from tests.build_helpers import DATA, run_build

FIXTURES = ROOT / "tests" / "fixtures" / "ocds"
GOOD = [FIXTURES / "fts_release_package.json", FIXTURES / "fts_record_package.json", FIXTURES / "releases.jsonl"]
TODAY = "2026-11-25"
# Notices in the fixtures that data/ does not hold yet (rows about them are removed from the copy, so that the test
# does not depend on whether a curator has added them since).
NEW = {"ocds-h6vhtk-06aa85", "ocds-h6vhtk-069b1a", "ocds-h6vhtk-05840d"}


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def _write(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _drop(path: Path, test) -> None:
    fields, rows = _rows(path)
    _write(path, fields, [r for r in rows if not test(r)])


@pytest.fixture
def data(tmp_path) -> Path:
    """A copy of data/ without any rows about the NEW notices (and without an inbox)."""
    copy = tmp_path / "data"
    import shutil

    shutil.copytree(DATA, copy, ignore=shutil.ignore_patterns("inbox"))
    _drop(copy / "mopac/funding_opportunities.csv", lambda r: r["ocid"] in NEW or r["reference"] in NEW)
    _drop(copy / "services/services.csv", lambda r: any(o in r["decision_refs"] for o in NEW))
    return copy


def _published(data: Path) -> dict[str, str]:
    return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(data.rglob("*")) if p.is_file() and "inbox" not in p.relative_to(data).parts}


def _refresh(data: Path, *sources, extra=()) -> int:
    return refresh_ocds.main([*map(str, sources or GOOD), "--data", str(data), "--today", TODAY, *extra])


def _inbox(data: Path, target: str) -> list[dict]:
    path = data / "inbox" / f"{target}.csv"
    return _rows(path)[1] if path.exists() else []


def _mark(data: Path, target: str, ocid: str, review: str) -> None:
    path = data / "inbox" / f"{target}.csv"
    fields, rows = _rows(path)
    for row in rows:
        if row["ocid"] == ocid:
            row["review"] = review
    _write(path, fields, rows)


# --- make refresh ---------------------------------------------------------------------------------------------


def test_refresh_proposes_exactly_the_mopac_service_notices(data):
    assert _refresh(data) == 0
    opportunities = {r["ocid"]: r for r in _inbox(data, "funding_opportunities")}
    assert set(opportunities) == {"ocds-h6vhtk-06aa85", "ocds-h6vhtk-069b1a"}
    assert {r["proposed_action"] for r in opportunities.values()} == {"add"}
    services = _inbox(data, "services")
    assert [r["ocid"] for r in services] == ["ocds-h6vhtk-05840d"]
    # The award's decision is already in data/ (record 167: same ocid, recipient and amount): nothing to propose.
    assert _inbox(data, "funding_decisions") == []
    # Left out: the operational notice (vehicles CPV) is listed; the other buyer's notice appears nowhere.
    left_out = _rows(data / "inbox" / "left_out.csv")[1]
    assert [(r["ocid"], r["cpv"]) for r in left_out] == [("ocds-h6vhtk-06a4a2", "34144000")]
    everything = "".join(p.read_text(encoding="utf-8") for p in (data / "inbox").glob("*.csv"))
    assert "ocds-h6vhtk-06abfc" not in everything and "Hart District Council" not in everything

    learning = opportunities["ocds-h6vhtk-069b1a"]
    assert (learning["funder"], learning["service_area"], learning["opportunity_type"]) == ("VRU", "vawg", "tender")
    assert (learning["value_max_gbp"], learning["closing_date"], learning["contract_start_date"]) == (
        "140000", "2026-06-17", "2026-09-28")
    assert figure_stated(140000, learning["source_excerpt"])
    assert learning["release_id"] == "ocds-h6vhtk-069b1a-tender" and learning["review"] == ""
    workforce = opportunities["ocds-h6vhtk-06aa85"]
    assert workforce["funder"] == "VRU"  # the buyer's contact is the VRU's procurement mailbox
    assert workforce["buyer_or_funder"] == "Mayor's Office for Policing & Crime"
    assert workforce["type_as_stated"] == "Tender notice; Open procedure (light touch regime)"
    service = services[0]
    assert (service["organization_id"], service["total_value_gbp"], service["start_date"], service["end_date"]) == (
        "protection-approaches", "150000", "2026-01-05", "2028-01-04")
    assert service["source_url"] == "https://www.find-tender.service.gov.uk/Notice/017262-2026"
    assert figure_stated(150000, service["source_excerpt"])


def test_refresh_changes_nothing_published(data):
    before = _published(data)
    assert _refresh(data) == 0
    assert _published(data) == before
    assert (data / "inbox" / "funding_opportunities.csv").exists()


def test_refresh_proposes_the_changed_facts_of_a_known_notice(data):
    path = data / "mopac/funding_opportunities.csv"
    fields, rows = _rows(path)
    (existing,) = [r for r in rows if r["ocid"] == "ocds-h6vhtk-05ffcc"]
    existing["closing_date"] = "2026-06-30"
    _write(path, fields, rows)
    assert _refresh(data) == 0
    (update,) = [r for r in _inbox(data, "funding_opportunities") if r["ocid"] == "ocds-h6vhtk-05ffcc"]
    assert update["proposed_action"] == "update"
    assert "closing_date: 2026-06-30 -> 2026-07-06" in update["reason"]
    assert update["closing_date"] == "2026-07-06"
    assert update["description"] == existing["description"]  # the curator's wording is kept


def test_refresh_proposes_a_missing_award_as_a_funding_decision(data):
    _drop(data / "mopac/funding_decisions.csv", lambda r: "ocds-h6vhtk-05840d" in r["reference"] + r["source_url"])
    assert _refresh(data) == 0
    (decision,) = _inbox(data, "funding_decisions")
    assert decision["proposed_action"] == "add" and decision["record_id"] == ""
    assert (decision["recipient"], decision["recipient_organization_id"], decision["amount_gbp"]) == (
        "Protection Approaches", "protection-approaches", "150000")
    assert decision["programme"] == "" and "programme" in decision["reason"]
    assert figure_stated(150000, decision["source_excerpt"])


def test_refresh_follows_links_next_pages(data, tmp_path):
    package = json.loads((FIXTURES / "fts_release_package.json").read_text(encoding="utf-8"))
    first, second = dict(package), dict(package)
    first["releases"] = [r for r in package["releases"] if r["ocid"] == "ocds-h6vhtk-069b1a"]
    second["releases"] = [r for r in package["releases"] if r["ocid"] == "ocds-h6vhtk-06aa85"]
    (tmp_path / "page2.json").write_text(json.dumps(second), encoding="utf-8")
    first["links"] = {"next": (tmp_path / "page2.json").as_uri()}
    (tmp_path / "page1.json").write_text(json.dumps(first), encoding="utf-8")
    assert _refresh(data, (tmp_path / "page1.json").as_uri()) == 0
    assert {r["ocid"] for r in _inbox(data, "funding_opportunities")} == {"ocds-h6vhtk-069b1a", "ocds-h6vhtk-06aa85"}


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad_not_json.txt", "bad_not_json.txt:1:1: not JSON"),
        ("bad_not_ocds.json", "bad_not_ocds.json: not OCDS"),
        ("bad_release_without_ocid.json", "bad_release_without_ocid.json.releases[0]: release has no ocid"),
    ],
)
def test_bad_ocds_input_is_refused_and_nothing_is_written(data, fixture, message):
    before = _published(data)
    result = subprocess.run(
        [sys.executable, "-m", "scripts.refresh_ocds", str(GOOD[0]), str(FIXTURES / fixture), "--data", str(data)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert "nothing was written" in result.stderr
    assert not (data / "inbox").exists()  # not even the good file's proposals
    assert _published(data) == before


def test_release_schema_errors_refuse_the_input(data, tmp_path):
    schema = {"type": "object", "required": ["ocid", "language"],
              "properties": {"ocid": {"type": "string"}, "language": {"type": "string"}}}
    (tmp_path / "release-schema.json").write_text(json.dumps(schema), encoding="utf-8")
    assert _refresh(data, extra=("--release-schema", str(tmp_path / "release-schema.json"))) == 1
    assert not (data / "inbox").exists()
    schema["required"] = ["ocid"]
    (tmp_path / "release-schema.json").write_text(json.dumps(schema), encoding="utf-8")
    assert _refresh(data, extra=("--release-schema", str(tmp_path / "release-schema.json"))) == 0
    assert (data / "inbox" / "funding_opportunities.csv").exists()


def test_make_refresh_passes_the_source_and_schema():
    # Addresses keep their query strings whole (an unquoted & would end the shell command).
    url = "https://www.find-tender.service.gov.uk/api/1.0/ocdsReleasePackages?updatedFrom=2026-11-16T00:00:00&limit=100"
    result = subprocess.run(["make", "-n", "refresh", f"OCDS={url} notices.json", "RELEASE_SCHEMA=schema.json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"scripts.refresh_ocds '{url}' 'notices.json' --release-schema 'schema.json'" in result.stdout
    result = subprocess.run(["make", "-n", "accept"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "scripts.accept_inbox" in result.stdout


# --- make accept ----------------------------------------------------------------------------------------------


def test_accept_moves_a_marked_row_into_data_and_the_build_passes(data, tmp_path):
    assert _refresh(data) == 0
    _mark(data, "funding_opportunities", "ocds-h6vhtk-069b1a", "accept")
    target = data / "mopac/funding_opportunities.csv"
    original = target.read_bytes()
    assert accept_inbox.main(["--data", str(data), "--today", TODAY]) == 0
    fields, rows = _rows(target)
    (added,) = [r for r in rows if r["ocid"] == "ocds-h6vhtk-069b1a"]
    assert added["value_max_gbp"] == "140000" and added["reference"] == "ocds-h6vhtk-069b1a"
    if "last_verified" in fields:
        # verified today; due three months on or at the closing date, whichever is sooner (here: three months)
        assert (added["last_verified"], added["review_due"]) == (TODAY, "2027-02-25")
    assert target.read_bytes().startswith(original)  # every other line as it was
    assert [r["ocid"] for r in _inbox(data, "funding_opportunities")] == ["ocds-h6vhtk-06aa85"]
    result = run_build(data, tmp_path / "check.db")
    assert result.returncode == 0, result.stderr
    # A second refresh does not propose it again.
    assert _refresh(data) == 0
    assert "ocds-h6vhtk-069b1a" not in {r["ocid"] for r in _inbox(data, "funding_opportunities")}


def test_accept_refuses_an_invalid_row_and_changes_nothing(data, capsys):
    _drop(data / "mopac/funding_decisions.csv", lambda r: "ocds-h6vhtk-05840d" in r["reference"] + r["source_url"])
    assert _refresh(data) == 0
    _mark(data, "funding_decisions", "ocds-h6vhtk-05840d", "accept")  # programme and theme still empty
    _mark(data, "funding_opportunities", "ocds-h6vhtk-069b1a", "accept")  # valid, but refused with it
    before = _published(data)
    inbox_before = {p.name: p.read_bytes() for p in (data / "inbox").iterdir()}
    assert accept_inbox.main(["--data", str(data), "--today", TODAY]) == 1
    err = capsys.readouterr().err
    assert "inbox/funding_decisions.csv:2:programme: " in err
    assert "(as data/mopac/funding_decisions.csv:" in err
    assert "data/ and the inbox were not changed" in err
    assert _published(data) == before
    assert {p.name: p.read_bytes() for p in (data / "inbox").iterdir()} == inbox_before


def test_accept_assigns_the_next_record_id_to_a_completed_decision(data):
    _drop(data / "mopac/funding_decisions.csv", lambda r: "ocds-h6vhtk-05840d" in r["reference"] + r["source_url"])
    assert _refresh(data) == 0
    path = data / "inbox" / "funding_decisions.csv"
    fields, rows = _rows(path)
    rows[0].update(theme="Victims", programme="London Hate Crime Stakeholder Reference Group", review="accept")
    _write(path, fields, rows)
    ids = [int(r["record_id"]) for r in _rows(data / "mopac/funding_decisions.csv")[1]]
    assert accept_inbox.main(["--data", str(data), "--today", TODAY]) == 0
    (added,) = [r for r in _rows(data / "mopac/funding_decisions.csv")[1] if r["reference"] == "ocds-h6vhtk-05840d"]
    assert int(added["record_id"]) == max(ids) + 1
    assert not path.exists()  # the inbox file is removed once empty


def test_rejected_proposals_are_not_proposed_again(data):
    assert _refresh(data) == 0
    _mark(data, "funding_opportunities", "ocds-h6vhtk-06aa85", "reject")
    assert accept_inbox.main(["--data", str(data), "--today", TODAY]) == 0
    rejected = _rows(data / "inbox" / "rejected.csv")[1]
    assert [(r["target"], r["ocid"]) for r in rejected] == [("funding_opportunities", "ocds-h6vhtk-06aa85")]
    assert _refresh(data) == 0
    assert {r["ocid"] for r in _inbox(data, "funding_opportunities")} == {"ocds-h6vhtk-069b1a"}


def test_a_review_mark_survives_a_refresh_of_the_same_release_only():
    proposal = ocds.Proposal("funding_opportunities", "add", {"title": "New"}, "ocds-x-1", "r2", "new", "ocds-x-1")
    marked = {"ocid": "ocds-x-1", "release_id": "r1", "review": "accept", "reason": "old"}
    rows, replaced = refresh_ocds.merge_inbox([marked], [proposal], lambda r: r["ocid"])
    assert replaced == 1 and rows[0]["review"] == "" and "marked 'accept': review again" in rows[0]["reason"]
    same = {**marked, "release_id": "r2"}
    rows, replaced = refresh_ocds.merge_inbox([same], [proposal], lambda r: r["ocid"])
    assert replaced == 0 and rows == [same]
    # A row nobody marked, about a notice data/ now holds as it says, leaves the inbox; a marked one stays.
    unmarked = {**marked, "review": ""}
    assert refresh_ocds.merge_inbox([unmarked], [], lambda r: r["ocid"], frozenset({"ocds-x-1"}))[0] == []
    assert refresh_ocds.merge_inbox([marked], [], lambda r: r["ocid"], frozenset({"ocds-x-1"}))[0] == [marked]


# --- the rules, one by one ------------------------------------------------------------------------------------


def _notice(buyer_name="Mayor's Office for Policing and Crime", buyer_id="", cpv=("85000000",), category="services",
            title="Support service", description="A service.") -> ocds.Notice:
    tender = {"title": title, "description": description, "mainProcurementCategory": category,
              "items": [{"id": "1", "additionalClassifications": [{"scheme": "CPV", "id": c} for c in cpv]}]}
    compiled = {"ocid": "ocds-test-1", "buyer": {"id": buyer_id, "name": buyer_name}, "tender": tender}
    release = {**compiled, "id": "1", "date": "2026-01-01T00:00:00Z", "tag": ["tender"], "initiationType": "tender"}
    return ocds.Notice("ocds-test-1", [release], compiled)


@pytest.mark.parametrize(
    ("notice", "keep", "why"),
    [
        (_notice(buyer_id=ocds.MOPAC_BUYER_ID, buyer_name="X"), True, "buyer GB-PPON-PTMT-7816-YCQG"),
        (_notice(buyer_name="Mayors Office for Police & Crime"), True, "buyer named"),
        (_notice(buyer_name="London Violence Reduction Unit"), True, "buyer named"),
        (_notice(buyer_name="Greater London Authority", description="Commissioned on behalf of MOPAC."), True,
         "on behalf of MOPAC/VRU"),
        (_notice(buyer_name="Greater London Authority"), False, "not MOPAC or the VRU"),
        (_notice(buyer_name="Royal Borough of Greenwich"), False, "not MOPAC or the VRU"),
        (_notice(category="goods", cpv=("85000000",)), False, "mainProcurementCategory is 'goods'"),
        (_notice(category="works", cpv=()), False, "mainProcurementCategory is 'works'"),
        (_notice(cpv=("34114000",)), False, "CPV 34114000 is operational"),
        (_notice(cpv=("72000000",)), False, "CPV 72000000 is operational"),
        (_notice(cpv=("79600000", "80600000")), False, "CPV 79600000 is operational"),  # police recruitment
        (_notice(cpv=("50110000", "85000000")), False, "CPV 50110000 is operational"),  # vehicle repair first
        (_notice(cpv=("85312000",)), True, "CPV 85312000 is a commissioned service"),
        (_notice(cpv=("98000000",)), True, "commissioned service"),
        (_notice(cpv=()), True, "no CPV code"),
    ],
)
def test_select_keeps_mopac_and_vru_services_only(notice, keep, why):
    selection = ocds.select(notice)
    assert selection.keep is keep
    assert why in selection.reason


def test_funder_and_service_area_rules():
    assert ocds.select(_notice(description="The VRU is seeking a provider.")).funder == "VRU"
    assert ocds.select(_notice(description="Grant administration for MOPAC and the VRU.")).funder == "MOPAC and VRU"
    assert ocds.select(_notice()).funder == "MOPAC"
    assert ocds.service_area_of(_notice(description="Support for victims of crime.").compiled) == "victims"
    # two areas' words: the rule cannot tell, so the column stays empty
    assert ocds.service_area_of(_notice(description="Youth workers and domestic abuse advocates.").compiled) == ""


def test_json_lines_errors_name_the_line():
    with pytest.raises(ocds.OCDSError) as error:
        ocds.parse_documents(b'{"ocid": "a", "id": "1", "date": "2026-01-01T00:00:00Z", "tag": ["tender"]}\n{"oc\n',
                             "notices.jsonl")
    assert error.value.problems[0].startswith("notices.jsonl:2:")


def test_structural_checks_of_packages_and_releases():
    package = json.loads((FIXTURES / "fts_release_package.json").read_text(encoding="utf-8"))
    del package["publishedDate"]
    package["releases"][0]["tag"] = ["notATag"]
    package["releases"][1]["initiationType"] = "other"
    (document,) = ocds.parse_documents(json.dumps(package).encode(), "p.json")
    problems = ocds.check_document(document)
    assert "p.json: release package has no publishedDate (required by the OCDS package schema)" in problems
    assert "p.json.releases[0]: release tag notATag is not in the OCDS releaseTag codelist" in problems
    assert "p.json.releases[1]: initiationType 'other' is not 'tender' (the only code)" in problems


def test_releases_are_compiled_with_ocdsmerge():
    documents = ocds.parse_documents((FIXTURES / "fts_release_package.json").read_bytes(), "p.json")
    (notice,) = [n for n in ocds.compile_notices(documents) if n.ocid == "ocds-h6vhtk-05840d"]
    assert [r["id"] for r in notice.releases] == ["076609-2025", "017262-2026"]
    assert notice.compiled["tag"] == ["compiled"]
    assert notice.compiled["id"] == "ocds-h6vhtk-05840d-2026-02-26T12:17:03Z"  # ocid-date, as OCDS 1.1.4+ compiles
    assert notice.compiled["contracts"][0]["dateSigned"] == "2025-12-22T00:00:00+00:00"  # from the later release


def test_accept_review_dates():
    today = dt.date(2026, 11, 25)
    assert accept_inbox.review_due("services", {}, today) == "2027-05-25"
    assert accept_inbox.review_due("funding_opportunities", {"closing_date": "2026-12-10"}, today) == "2026-12-10"
    assert accept_inbox.review_due("funding_opportunities", {"closing_date": "2026-01-10"}, today) == "2027-02-25"
