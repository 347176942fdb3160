"""Change log between builds (issue 8): scripts/publication/domains/changes.py and modified_after in the API.

The integration test builds a copy of data/ several times into one output file with known edits in between,
exactly as publishing does (`python -m scripts.build_database --data DIR --out DB --today YYYY-MM-DD`).
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.publication.domains import changes
from scripts.site import ROOT

DATA = ROOT / "data"
EDITED_SERVICE = "the-havens"
NEW_DESCRIPTION = "Description edited by tests/test_changes.py."
ADDED_SERVICE = "test-change-log-added-service"


# --- pure functions --------------------------------------------------------------------------------------------


def test_diff_reports_added_removed_and_each_changed_field():
    old = {"a": {"id": "a", "name": "A", "x": "1"}, "b": {"id": "b", "name": "B", "x": "2"}}
    new = {"b": {"id": "b", "name": "B2", "x": None}, "c": {"id": "c", "name": "C", "x": "3"}}
    rows = changes.diff("service", "name", old, new)
    assert [(r["entity_id"], r["change"], r["field"], r["old_value"], r["new_value"]) for r in rows] == [
        ("a", "removed", None, None, None),
        ("b", "changed", "name", "B", "B2"),
        ("b", "changed", "x", "2", None),
        ("c", "added", None, None, None),
    ]
    assert rows[0]["entity_name"] == "A" and rows[1]["entity_name"] == "B2"


def test_diff_of_identical_snapshots_is_empty_and_new_columns_are_not_changes():
    same = {"a": {"id": "a", "name": "A"}}
    assert changes.diff("service", "name", same, same) == []
    assert changes.diff("service", "name", same, {"a": {"id": "a", "name": "A", "new_column": "x"}}) == []


@pytest.mark.parametrize("value,expected", [(None, None), (1500.0, "1500"), (1500.5, "1500.5"), (3, "3"), ("x", "x")])
def test_values_compare_as_text(value, expected):
    assert changes.as_text(value) == expected


# --- builds ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("changes")
    shutil.copytree(DATA, root / "data")  # whole: other domains check crime against LCPF years
    return root


def build(data: Path, out: Path, today: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.build_database", "--data", str(data), "--out", str(out), "--today", today],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr


def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def change_rows(db: Path, build_date: str | None = None) -> list[tuple]:
    conn = sqlite3.connect(db)
    sql = "SELECT change_id, build_date, entity, entity_id, entity_name, change, field, old_value, new_value "
    sql += "FROM changes"
    if build_date:
        return conn.execute(sql + " WHERE build_date = ? ORDER BY change_id", (build_date,)).fetchall()
    return conn.execute(sql + " ORDER BY change_id").fetchall()


@pytest.fixture(scope="module")
def builds(workspace) -> dict:
    """Four builds into one file: base; an edit, an added service and an edited opportunity; the added service
    removed; nothing changed. Returns copies of the database after each build."""
    data, out = workspace / "data", workspace / "published" / "commissioning.db"
    services_csv = data / "services" / "services.csv"
    opportunities_csv = data / "mopac" / "funding_opportunities.csv"
    header, services = read_rows(services_csv)
    opp_header, opportunities = read_rows(opportunities_csv)
    copies = {}

    def snapshot(name: str, today: str) -> None:
        build(data, out, today)
        copies[name] = workspace / name / "commissioning.db"
        copies[name].parent.mkdir()
        shutil.copyfile(out, copies[name])

    snapshot("first", "2026-11-25")
    edited = [dict(r, description=NEW_DESCRIPTION) if r["service_id"] == EDITED_SERVICE else r for r in services]
    template = next(r for r in services if r["coverage"] == "london-wide")
    added = dict(template, service_id=ADDED_SERVICE, name="Service added by the change-log test",
                 funding_record_ids="", decision_refs="")
    write_rows(services_csv, header, [*edited, added])
    first_opportunity = opportunities[0]
    write_rows(opportunities_csv, opp_header,
               [dict(first_opportunity, title=first_opportunity["title"] + " (retitled)"), *opportunities[1:]])
    snapshot("second", "2026-12-01")
    write_rows(services_csv, header, edited)
    snapshot("third", "2026-12-08")
    snapshot("fourth", "2026-12-09")
    return {"copies": copies, "services": services, "opportunity": first_opportunity}


def test_first_build_records_everything_as_added(builds):
    db = builds["copies"]["first"]
    conn = sqlite3.connect(db)
    rows = change_rows(db)
    (services,) = conn.execute("SELECT count(*) FROM services").fetchone()
    (opportunities,) = conn.execute("SELECT count(*) FROM funding_opportunities").fetchone()
    assert len(rows) == services + opportunities
    assert {(r[1], r[5], r[6]) for r in rows} == {("2026-11-25", "added", None)}
    assert {r[3] for r in rows if r[2] == "service"} == {s["service_id"] for s in builds["services"]}
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))


def test_second_build_records_the_edit_the_addition_and_keeps_history(builds):
    first, second = builds["copies"]["first"], builds["copies"]["second"]
    history = change_rows(first)
    assert change_rows(second)[: len(history)] == history
    new = [r[2:] for r in change_rows(second, "2026-12-01")]
    old_description = next(s["description"] for s in builds["services"] if s["service_id"] == EDITED_SERVICE)
    old_title = builds["opportunity"]["title"]
    reference = builds["opportunity"]["reference"]
    assert sorted(new, key=str) == sorted([
        ("service", EDITED_SERVICE, "The Havens (London Sexual Assault Referral Centres)", "changed", "description",
         old_description, NEW_DESCRIPTION),
        ("service", ADDED_SERVICE, "Service added by the change-log test", "added", None, None, None),
        ("opportunity", reference, old_title + " (retitled)", "changed", "title", old_title, old_title + " (retitled)"),
    ], key=str)


def test_third_build_records_the_removal_and_fourth_records_nothing(builds):
    third, fourth = builds["copies"]["third"], builds["copies"]["fourth"]
    assert [r[2:7] for r in change_rows(third, "2026-12-08")] == [
        ("service", ADDED_SERVICE, "Service added by the change-log test", "removed", None)
    ]
    assert change_rows(fourth, "2026-12-09") == []
    assert change_rows(fourth) == change_rows(third)


@pytest.mark.asyncio(loop_scope="session")
async def test_modified_after_returns_exactly_the_services_changed_since(builds):
    from scripts.site import make_datasette

    datasette = make_datasette([builds["copies"]["second"]])
    await datasette.invoke_startup()

    async def ids(query: str) -> set[str]:
        response = await datasette.client.get(f"/openreferral/services?per_page=500&{query}")
        assert response.status_code == 200, response.text
        return {item["x_commissioning"]["service_id"] for item in response.json()["contents"]}

    everything = {s["service_id"] for s in builds["services"]} | {ADDED_SERVICE}
    assert await ids("modified_after=2026-12-01") == {EDITED_SERVICE, ADDED_SERVICE}
    assert await ids("modified_after=2026-11-30T23:59:59Z") == {EDITED_SERVICE, ADDED_SERVICE}
    assert await ids("modified_after=2026-12-01T00:00:01Z") == set()
    assert await ids("modified_after=2026-11-25") == everything
    assert await ids("") == everything
    detail = (await datasette.client.get(f"/openreferral/services/{EDITED_SERVICE}")).json()
    assert detail["last_modified"] == "2026-12-01T00:00:00Z"
    assert detail["description"] == NEW_DESCRIPTION
    other = next(s for s in sorted(everything) if s not in (EDITED_SERVICE, ADDED_SERVICE))
    assert (await datasette.client.get(f"/openreferral/services/{other}")).json()["last_modified"] == (
        "2026-11-25T00:00:00Z"
    )


def test_a_database_from_before_the_change_log_counts_as_a_first_build(builds, tmp_path):
    out = tmp_path / "commissioning.db"
    shutil.copyfile(builds["copies"]["fourth"], out)
    conn = sqlite3.connect(out)
    conn.execute("DROP TABLE changes")
    conn.commit()
    conn.close()
    build(ROOT / "data", out, "2026-12-10")
    rows = change_rows(out)
    assert rows and {(r[1], r[5]) for r in rows} == {("2026-12-10", "added")}


def test_check_finds_published_rows_without_an_added_entry():
    import sqlite_utils

    db = sqlite_utils.Database(memory=True)
    db["services"].insert_all([{"service_id": "a"}, {"service_id": "b"}], pk="service_id")
    db["changes"].create(changes.COLUMNS, pk="change_id")
    db["changes"].insert_all([
        {"change_id": 1, "build_date": "2026-11-25", "entity": "service", "entity_id": "a", "change": "added"},
        {"change_id": 2, "build_date": "2026-11-25", "entity": "service", "entity_id": "b", "change": "added"},
        {"change_id": 3, "build_date": "2026-12-01", "entity": "service", "entity_id": "b", "change": "removed"},
        {"change_id": 4, "build_date": "2026-12-01", "entity": "service", "entity_id": "a", "change": "changed"},
    ])
    problems = changes.check(db)
    assert [p.reason for p in problems] == [
        "malformed change-log row",  # change_id 4: changed without a field
        "service b has no 'added' entry",
    ]
